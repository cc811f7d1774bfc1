"""Fixtures for the end-to-end tests: `ssp` driven against the PowerSchool sandbox in a temp folder.

* `plugin_zips` (session): the DATA and UI zips built once from the demo configuration.
* `sandbox`: a fresh sandbox per test with those zips, in the demo's time zone.
* `ws`: a `Workspace` (e2e_helpers.py): ssp.toml pointing at the sandbox and its feed folders,
  SSP_CLIENT_ID / SSP_CLIENT_SECRET in the environment, `ws.ssp(...)` running `ssp.cli.main`
  with stdout, stderr and the exit code captured.
* `sftp_server`: a real OpenSSH server on 127.0.0.1 (sftp_server.py) for the sftp feed tests;
  skipped with a message where /usr/sbin/sshd is missing, a failure under CI (CI set).

Long variants are marked `slow` and skipped unless selected (tests/conftest.py):
`python -m pytest -m slow tests/e2e` (or SSP_SLOW=1).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from e2e_helpers import TIMEZONE, Workspace, reset_logging
from sftp_server import OpenSshServer, sshd_available

from foundation.config import demo_config_text, parse_config_text
from sandbox import Sandbox

@pytest.fixture
def restore_signals() -> Iterator[None]:
    """`ssp sync schedule` installs SIGTERM/SIGINT handlers in its process: put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture(scope="session")
def plugin_zips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from plugin.build import build_plugins

    base = tmp_path_factory.mktemp("e2e-plugins")
    config = parse_config_text(demo_config_text(), source="demo_ssp.toml", base_dir=base)
    return build_plugins(config, base / "dist")


@pytest.fixture
def today() -> dt.date:
    """The district's day, as the engine computes it."""
    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


@pytest.fixture
def sandbox(plugin_zips: tuple[Path, Path]) -> Iterator[Sandbox]:
    with Sandbox(plugins=list(plugin_zips), students=120, seed=7, timezone=TIMEZONE) as sb:
        yield sb


@pytest.fixture
def ws(
    tmp_path: Path,
    sandbox: Sandbox,
    today: dt.date,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Workspace]:
    monkeypatch.setenv("SSP_CLIENT_ID", sandbox.client_id)
    monkeypatch.setenv("SSP_CLIENT_SECRET", sandbox.client_secret)
    for name in ("SSP_CLIENT_ID_FILE", "SSP_CLIENT_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with reset_logging():
        yield Workspace(tmp_path, sandbox, today, capsys)


@pytest.fixture
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSshServer]:
    if not sshd_available():
        message = (
            "OpenSSH server not installed (/usr/sbin/sshd): `apt-get install openssh-server` "
            "or run .ci/install-system"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with OpenSshServer(tmp_path_factory.mktemp("sshd")) as server:
        yield server

"""docs/operations.md, followed as written: the guide's marked blocks (folders, ssp.toml, the
environment file, the secret files, the check, the dry run, the systemd unit) are read from the
file the reader reads and run against the sandbox, with every absolute path moved under tmp_path.
A guide that drifts from the product (a relative state dir, a folder the unit cannot write, a
command that no longer works) fails here."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sandbox_process import reap

from foundation.config import load_config, parse_config_text
from sandbox import Sandbox

ROOT = Path(__file__).parents[2]
GUIDE = ROOT / "docs" / "operations.md"
EXAMPLE = ROOT / "examples" / "linux" / "ssp.toml"
SSP = Path(sys.executable).with_name("ssp")
SERVER_ROOTS = ("/opt/ssp", "/etc/ssp", "/var/lib/ssp", "/srv/ssp")
MARKED = re.compile(r"<!-- walkthrough: (?P<name>[\w.-]+) -->\n```\w*\n(?P<body>.*?)```", re.S)

pytestmark = pytest.mark.skipif(not SSP.exists(), reason="the ssp console script is not installed")


def guide_blocks() -> dict[str, str]:
    blocks = {m["name"]: m["body"] for m in MARKED.finditer(GUIDE.read_text(encoding="utf-8"))}
    expected = {"folders", "ssp.toml", "ssp.env", "secrets", "check", "dry-run", "unit"}
    assert expected <= set(blocks), f"docs/operations.md lacks marked blocks: {expected - set(blocks)}"
    return blocks


def unit_settings(unit: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))


class Server:
    """The guide's server inside tmp_path: /etc/ssp -> tmp/etc/ssp and so on."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def local(self, text: str) -> str:
        text = text.replace("/opt/ssp/venv/bin/ssp", str(SSP))
        for prefix in SERVER_ROOTS:
            text = text.replace(prefix, f"{self.root}{prefix}")
        return text

    def path(self, server_path: str) -> Path:
        return Path(self.local(server_path))

    def shell(self, block: str, *, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run a block as root would, minus what needs a real root: sudo and the owner options
        (the test user owns everything; the modes are kept and checked)."""
        script = self.local(block)
        script = re.sub(r"\bsudo -u \S+ ", "", script)
        script = re.sub(r"\bsudo ", "", script)
        script = re.sub(r" -o \S+ -g \S+", "", script)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSP_")}
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script], input=stdin, text=True,
                              capture_output=True, env=env, timeout=300)


    def service_starts_and_stops(self, unit: dict[str, str]) -> bool:
        """Start ExecStart with EnvironmentFile as systemd would, wait for its first log line,
        check it is still running a moment later, stop it with KillSignal (SIGTERM)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSP_")}
        script = self.local(f"set -a; . {unit['EnvironmentFile']}; exec {unit['ExecStart']}")
        proc = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=self.path(unit["WorkingDirectory"]))
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
        try:
            try:
                lines.get(timeout=60)  # started (or failed) far enough to log
            except queue.Empty:
                pass
            time.sleep(1.0)
            if proc.poll() is not None:
                logged = "".join(lines.get() for _ in range(lines.qsize()))
                raise AssertionError(f"the daemon exited {proc.returncode}: {logged}")
            proc.send_signal(signal.SIGTERM)
            return proc.wait(timeout=60) == 0
        finally:
            reap(proc)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_guide_config_is_the_example_and_every_path_is_writable_under_the_unit() -> None:
    blocks = guide_blocks()
    assert blocks["ssp.toml"] == EXAMPLE.read_text(encoding="utf-8")
    config = parse_config_text(blocks["ssp.toml"], source="/etc/ssp/ssp.toml", base_dir=Path("/etc/ssp"))
    unit = unit_settings(blocks["unit"])
    writable = [Path(p) for p in unit["ReadWritePaths"].split()]
    assert unit["ProtectSystem"] == "strict" and unit["User"] == "ssp"
    folders = [config.state_dir] + [f for p in config.partners for f in (p.feed.inbox, p.feed.outbox)]
    for folder in folders:
        assert folder.is_absolute(), f"{folder}: relative paths resolve under /etc/ssp (read-only)"
        # the walkthrough test moves only these roots under tmp_path: never write elsewhere
        assert any(str(folder).startswith(f"{root}/") for root in SERVER_ROOTS), folder
        assert any(w == folder or w in folder.parents for w in writable), f"{folder} not in ReadWritePaths"
    exec_start = shlex.split(unit["ExecStart"])
    assert exec_start[0] == "/opt/ssp/venv/bin/ssp" and exec_start[1:3] == ["sync", "schedule"]
    config_path = exec_start[exec_start.index("--config") + 1]
    for step in ("check", "dry-run"):
        assert f". {unit['EnvironmentFile']};" in blocks[step] and f"--config {config_path}" in blocks[step]
    env_names = dict(line.split("=", 1) for line in blocks["ssp.env"].split())
    assert set(env_names) == {"SSP_CLIENT_ID_FILE", "SSP_CLIENT_SECRET_FILE"}
    for secret in env_names.values():
        assert secret in blocks["secrets"] and "0600" in blocks["secrets"]


def test_walkthrough_from_bare_server_to_first_run_against_the_sandbox(tmp_path: Path) -> None:
    from plugin.build import build_plugins
    from ssp.rehearsal import seed_demo

    blocks = guide_blocks()
    server = Server(tmp_path / "server")
    server.root.mkdir()

    done = server.shell(blocks["folders"])
    assert done.returncode == 0, done.stderr
    assert _mode(server.path("/var/lib/ssp/state")) == 0o700
    assert _mode(server.path("/etc/ssp/secrets")) == 0o700

    guide_config = parse_config_text(blocks["ssp.toml"], source="guide", base_dir=tmp_path)
    plugins = build_plugins(guide_config, tmp_path / "dist")  # the plugins built from this config
    with Sandbox(plugins=list(plugins), students=150, timezone=guide_config.schedule.timezone) as sb:
        text = blocks["ssp.toml"].replace(guide_config.powerschool.base_url, sb.base_url)
        server.path("/etc/ssp/ssp.toml").write_text(server.local(text), encoding="utf-8")
        server.path("/etc/ssp/ssp.env").write_text(server.local(blocks["ssp.env"]), encoding="utf-8")
        done = server.shell(blocks["secrets"], stdin=f"{sb.client_id}\n{sb.client_secret}\n")
        assert done.returncode == 0, done.stderr
        for name in ("client_id", "client_secret"):
            assert _mode(server.path(f"/etc/ssp/secrets/{name}")) == 0o600
        assert server.path("/etc/ssp/secrets/client_secret").read_text().strip() == sb.client_secret

        config = load_config(server.path("/etc/ssp/ssp.toml"))
        for partner in config.partners:  # the folder loop covers every partner of the config
            assert partner.feed.inbox.is_dir() and partner.feed.outbox.is_dir(), partner.id
        seed_demo(sb, config, dt.datetime.now(ZoneInfo(config.schedule.timezone)).date())

        check = server.shell(blocks["check"])
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["ok"] is True

        dry = server.shell(blocks["dry-run"])
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert json.loads(dry.stdout)["dry_run"] is True
        assert not any(any(p.feed.outbox.iterdir()) for p in config.partners)  # a dry run writes nothing

        # The unit's first scheduled run: its ExecStart with its EnvironmentFile, one run now.
        unit = unit_settings(blocks["unit"])
        run = unit["ExecStart"].replace("sync schedule", "sync run")
        first = server.shell(f"set -a; . {unit['EnvironmentFile']}; exec {run}")
        assert first.returncode == 0, first.stdout + first.stderr
        assert json.loads(first.stdout)["status"] == "ok"

        # `systemctl enable --now`: the unit's own ExecStart stays up until SIGTERM, then exits 0.
        assert server.service_starts_and_stops(unit), "the unit's daemon did not stay up"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_guide_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """Every key of the unit is one systemd knows, with a valid value (a typo is only a warning
    in the journal, and the protection it was meant to give silently missing)."""
    unit = tmp_path / "ssp-sync.service"
    unit.write_text(guide_blocks()["unit"].replace("/opt/ssp/venv/bin/ssp", str(SSP)), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True,
                          timeout=120)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    assert not complaints, "\n".join(complaints)

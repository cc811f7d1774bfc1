"""`ssp sandbox`: run the local PowerSchool emulator until Ctrl-C or SIGTERM.

Without `--plugin`, the DATA and UI plugins are built from `--config` (default: the packaged demo
configuration) into a temporary folder and installed, so `ssp sandbox` alone gives a working
PowerSchool and `ssp sandbox --config ssp.toml` one with the district's own query namespace and
dropdowns, in its time zone. `--seed-demo` enters consents, referrals and visits as staff would;
`--rehearsal-dir DIR` writes DIR/ssp.toml pointed at the sandbox (ssp/rehearsal.py), so `ssp check`,
`ssp sync run`, `ssp report` and `ssp disclosures` can be rehearsed before go-live.
The printed client id and secret are throwaway credentials of this sandbox only.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from foundation.config import SSPConfig
from foundation.errors import ConfigError
from sandbox.sandbox import Sandbox

__all__ = ["command", "DEFAULT_STUDENTS"]

DEFAULT_STUDENTS = 200
DATABASE = "powerschool.sqlite"


def _load(args: argparse.Namespace, scratch: Path) -> SSPConfig:
    """The district's configuration from --config, else the packaged demo configuration."""
    from foundation.config import demo_config_text, load_config, parse_config_text

    if getattr(args, "config", None):
        return load_config(args.config)
    return parse_config_text(demo_config_text(), source="demo configuration", base_dir=scratch)


def _timezone(args: argparse.Namespace, config: SSPConfig) -> str:
    name = getattr(args, "timezone", None) or config.schedule.timezone
    try:
        ZoneInfo(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(f"unknown time zone '{name}' (use an IANA name such as America/New_York)",
                          key="--timezone") from None
    return name


def _build_plugins(config: SSPConfig, out_dir: Path) -> list[Path]:
    """The configuration's DATA and UI zips (the plugin generator owns the format)."""
    from plugin.build import build_plugins

    return list(build_plugins(config, out_dir))


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM, installed before "Press Ctrl-C" is printed: a supervisor
    that stops the sandbox as soon as it reads that line still gets a clean exit 0."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_rehearsal(sandbox: Sandbox, config_path: Path | None, left_out: list[str]) -> None:
    """How to point `ssp` at this sandbox from another terminal."""
    from ssp.rehearsal import referred_student

    print()
    print("To rehearse, in another terminal (POSIX shell):")
    print("  unset SSP_CLIENT_ID_FILE SSP_CLIENT_SECRET_FILE")
    print(f"  export SSP_CLIENT_ID='{sandbox.client_id}'")
    print(f"  export SSP_CLIENT_SECRET='{sandbox.client_secret}'")
    print("PowerShell:")
    print("  Remove-Item Env:SSP_CLIENT_ID_FILE, Env:SSP_CLIENT_SECRET_FILE -ErrorAction Ignore")
    print(f"  $env:SSP_CLIENT_ID = '{sandbox.client_id}'")
    print(f"  $env:SSP_CLIENT_SECRET = '{sandbox.client_secret}'")
    if config_path is None:
        print(f"then run ssp with a configuration whose [powerschool] base_url is {sandbox.base_url}")
        print("(or start the sandbox with --config FILE --rehearsal-dir DIR to have one written).")
        return
    print("then:")
    for step in ("check", "sync run --dry-run", "sync run", "sync status"):
        print(f"  ssp {step} --config {config_path}")
    print(f"  ssp report --config {config_path} --out {config_path.parent / 'report.html'}")
    student = referred_student(sandbox)
    if student:
        print(f"  ssp disclosures --config {config_path} --student {student}   "
              "(a referred student; after the sync run)")
    else:
        print(f"  ssp disclosures --config {config_path} --student N   (a referred student's number)")
    for note in left_out:
        print(f"left out of the rehearsal: {note}")


def command(args: argparse.Namespace) -> int:
    """Start, print the base URL and credentials, serve until interrupted, exit 0."""
    from ssp.rehearsal import seed_demo, seed_summary, write_rehearsal_config

    students = args.students if getattr(args, "students", None) is not None else DEFAULT_STUDENTS
    rehearsal_dir: Path | None = getattr(args, "rehearsal_dir", None)
    if rehearsal_dir is not None and not getattr(args, "config", None):
        raise ConfigError("--rehearsal-dir needs --config FILE (the ssp.toml to rehearse)",
                          key="--rehearsal-dir")
    with tempfile.TemporaryDirectory(prefix="ssp-sandbox-") as tmp:
        config = _load(args, Path(tmp))
        timezone = _timezone(args, config)
        plugins = list(args.plugin or []) or _build_plugins(config, Path(tmp))
        if rehearsal_dir is not None:
            rehearsal_dir.mkdir(parents=True, exist_ok=True)
        sandbox = Sandbox(
            plugins=plugins,
            port=args.port or 0,
            latency_ms=args.latency_ms or 0,
            faults=args.faults or "",
            students=students,
            timezone=timezone,
            db_path=rehearsal_dir / DATABASE if rehearsal_dir is not None else None,
        )
        try:
            sandbox.start()
        except OSError as exc:
            sandbox.close()
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror})", key="--port"
            ) from None
        try:
            side = None
            if getattr(args, "seed_demo", False):
                side = seed_demo(sandbox, config, dt.datetime.now(ZoneInfo(timezone)).date())
            rehearsal = (write_rehearsal_config(config, sandbox.base_url, rehearsal_dir)
                         if rehearsal_dir is not None else None)
            print(f"PowerSchool sandbox running at {sandbox.base_url}")
            # Throw-away credentials of this local emulator (issue 3 asks to print them), never a
            # district's: real secrets come only from SSP_CLIENT_SECRET and are never printed.
            print(f"client id:     {sandbox.client_id}")
            print(f"client secret: {sandbox.client_secret}")
            print(f"plugins:       {', '.join(p.name for p in sandbox.plugins)}")
            print(f"configuration: {config.source} (query namespace {config.district.query_namespace})")
            print(f"time zone:     {timezone}")
            print(f"students:      {len(sandbox.students())}; PowerQueries: {len(sandbox.queries)}")
            if getattr(args, "seed_demo", False):
                print(f"seeded:        {seed_summary(side) if side else 'kept from the rehearsal folder'}")
            if rehearsal is not None:
                print(f"rehearsal:     {rehearsal.config_path} (state and feed folders beside it; "
                      "the sandbox's data persists there between starts)")
            _print_rehearsal(sandbox, rehearsal.config_path if rehearsal else None,
                             rehearsal.left_out if rehearsal else [])
            with _stop_signals() as stop:
                print("Press Ctrl-C to stop.", flush=True)
                while not stop.wait(0.5):
                    pass
        finally:
            sandbox.close()
    print("sandbox stopped", file=sys.stderr)
    return 0

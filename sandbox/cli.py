"""`ssp sandbox`: run the local PowerSchool emulator until Ctrl-C or SIGTERM.

Without `--plugin`, the default DATA and UI plugins are built from the packaged demo configuration
into a temporary folder and installed, so `ssp sandbox` alone gives a working PowerSchool.
The printed client id and secret are throwaway credentials of this sandbox only.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from foundation.errors import ConfigError
from sandbox.sandbox import Sandbox

__all__ = ["command", "DEFAULT_STUDENTS"]

DEFAULT_STUDENTS = 200


def _default_plugins(out_dir: Path) -> list[Path]:
    """Build the demo configuration's DATA and UI zips (the plugin generator owns the format)."""
    from foundation.config import demo_config_text, parse_config_text
    from plugin.build import build_plugins

    config = parse_config_text(demo_config_text(), source="demo configuration", base_dir=out_dir)
    return list(build_plugins(config, out_dir))


def _wait_for_stop() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def command(args: argparse.Namespace) -> int:
    """Start, print the base URL and credentials, serve until interrupted, exit 0."""
    students = args.students if getattr(args, "students", None) is not None else DEFAULT_STUDENTS
    with tempfile.TemporaryDirectory(prefix="ssp-sandbox-") as tmp:
        plugins = list(args.plugin or []) or _default_plugins(Path(tmp))
        sandbox = Sandbox(
            plugins=plugins,
            port=args.port or 0,
            latency_ms=args.latency_ms or 0,
            faults=args.faults or "",
            students=students,
        )
        try:
            sandbox.start()
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror})", key="--port"
            ) from None
        with sandbox:
            print(f"PowerSchool sandbox running at {sandbox.base_url}")
            # Throw-away credentials of this local emulator (issue 3 asks to print them), never a
            # district's: real secrets come only from SSP_CLIENT_SECRET and are never printed.
            print(f"client id:     {sandbox.client_id}")
            print(f"client secret: {sandbox.client_secret}")
            print(f"plugins:       {', '.join(p.name for p in sandbox.plugins)}")
            print(f"students:      {students}; PowerQueries: {len(sandbox.queries)}")
            print("Press Ctrl-C to stop.", flush=True)
            _wait_for_stop()
    print("sandbox stopped", file=sys.stderr)
    return 0

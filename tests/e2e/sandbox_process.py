"""`ssp sandbox` in its own process, as district IT starts it in a second terminal: its printed
lines parsed (URL, throw-away credentials, rehearsal config) and a clean SIGTERM at the end."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

READY = "Press Ctrl-C to stop."


@dataclass
class SandboxProcess:
    lines: list[str]
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.lines[0].split()[-1]

    @property
    def client_id(self) -> str:
        return self.fields["client id"]

    @property
    def client_secret(self) -> str:
        return self.fields["client secret"]

    @property
    def rehearsal_config(self) -> Path:
        return Path(self.fields["rehearsal"].split(" (")[0])

    @property
    def text(self) -> str:
        return "".join(self.lines)


@contextlib.contextmanager
def sandbox_process(*args: str, timeout: float = 90) -> Iterator[SandboxProcess]:
    """Start `ssp sandbox ARGS`, wait for its ready line, yield what it printed, stop it (exit 0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSP_")}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "ssp.cli", "sandbox", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    found: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            found.put(line)
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    lines: list[str] = []
    try:
        while not lines or lines[-1].strip() != READY:
            line = found.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"ssp sandbox ended early (exit {proc.wait()}): "
                                     f"{''.join(lines)}{proc.stderr.read()}")  # type: ignore[union-attr]
            lines.append(line)
        printed = SandboxProcess(lines)
        for line in lines:
            key, sep, value = line.partition(":")
            if sep and not line.startswith(" ") and value.strip():
                printed.fields.setdefault(key.strip(), value.strip())
        yield printed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        reap(proc)


def reap(proc: subprocess.Popen[str]) -> None:
    """Make sure a process a test started is gone and its pipes are closed (a test that failed
    half-way must not leave a daemon or open files behind)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()

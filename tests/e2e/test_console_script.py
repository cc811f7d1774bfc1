"""The installed `ssp` console script in its own process, as a scheduler or systemd starts it."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest
from e2e_helpers import Workspace

from connector.locks import partner_lock

SSP = shutil.which("ssp", path=str(Path(sys.executable).parent)) or shutil.which("ssp")
pytestmark = pytest.mark.skipif(SSP is None, reason="the ssp console script is not installed")


def _env(ws: Workspace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSP_")}
    env.update(
        SSP_CLIENT_ID=ws.sandbox.client_id,
        SSP_CLIENT_SECRET=ws.sandbox.client_secret,
        PYTHONUNBUFFERED="1",
    )
    return env


def _lines(stream: IO[str]) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            found.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return found


def _wait_for(lines: queue.Queue[str], text: str, timeout: float) -> list[str]:
    seen = []
    while True:
        line = lines.get(timeout=timeout)  # queue.Empty fails the test if it never comes
        seen.append(line)
        if text in line:
            return seen


def _run(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    assert SSP is not None
    return subprocess.run(
        [SSP, *args, "--config", str(ws.path)],
        env=_env(ws),
        cwd=ws.root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_console_script_runs_a_sync_and_prints_the_summary(ws: Workspace) -> None:
    side = ws.seed(referrals=3)
    done = _run(ws, "sync", "run")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["partners"]["cgc"]["referrals_sent"] == len(side.sent["cgc"])
    assert all(json.loads(line) for line in done.stderr.splitlines())  # JSON lines off a terminal


def test_console_script_refuses_a_second_sync_of_a_locked_partner(ws: Workspace) -> None:
    ws.seed(referrals=3)
    with partner_lock(ws.state_dir, "cgc"):
        busy = _run(ws, "sync", "run")
    assert busy.returncode == 1
    assert "a sync of partner cgc is already running in another process" in busy.stderr
    assert json.loads(busy.stdout)["status"] == "failed"


def _start_scheduler(
    ws: Workspace,
) -> tuple[subprocess.Popen[str], queue.Queue[str], queue.Queue[str]]:
    assert SSP is not None
    proc = subprocess.Popen(
        [SSP, "sync", "schedule", "--config", str(ws.path)],
        env=_env(ws),
        cwd=ws.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    return proc, _lines(proc.stdout), _lines(proc.stderr)


def _stop(proc: subprocess.Popen[str], errors: queue.Queue[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    _wait_for(errors, "scheduler stopped", timeout=5)


def test_scheduler_process_stops_cleanly_on_sigterm(ws: Workspace) -> None:
    proc, _, errors = _start_scheduler(ws)
    try:
        started = _wait_for(errors, "scheduler started", timeout=30)
        entry = json.loads(started[-1])
        assert entry["cron"] == "15 4 * * *" and entry["timezone"] == "America/New_York"
    finally:
        _stop(proc, errors)
    for partner in ("cgc", "bhcare"):
        with partner_lock(ws.state_dir, partner):
            pass


@pytest.mark.slow
def test_scheduler_process_runs_on_its_cron_then_stops_on_sigterm(ws: Workspace) -> None:
    ws.write_config(replace=[('cron = "15 4 * * *"', 'cron = "* * * * *"')])
    side = ws.seed(referrals=3)
    proc, out, errors = _start_scheduler(ws)
    try:
        summary = json.loads(out.get(timeout=90))  # the next minute boundary
        assert summary["status"] == "ok"
        assert summary["partners"]["cgc"]["referrals_sent"] == len(side.sent["cgc"])
    finally:
        _stop(proc, errors)
    for partner in ("cgc", "bhcare"):
        with partner_lock(ws.state_dir, partner):
            pass

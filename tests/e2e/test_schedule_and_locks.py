"""`ssp sync schedule` and the partner locks: scheduled runs, a clean stop on SIGTERM, and two syncs
of one partner never at once."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from e2e_helpers import SspResult, Workspace

import connector.cli
import connector.schedule
from connector.locks import LockBusyError, partner_lock
from connector.writer import PowerSchoolWriter




def _fire_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The configured cron trigger, except that its first run is due at once."""
    real = connector.schedule.build_scheduler

    def build(config, job):  # noqa: ANN001, ANN202 - the real signature
        scheduler = real(config, job)
        [scheduled] = scheduler.get_jobs()
        scheduled.modify(next_run_time=dt.datetime.now(ZoneInfo(config.schedule.timezone)))
        return scheduler

    monkeypatch.setattr(connector.schedule, "build_scheduler", build)


def _sigterm_after_first_run(monkeypatch: pytest.MonkeyPatch) -> list:
    """Keep each run's summary; after the first, SIGTERM this process (systemd stopping it)."""
    summaries = []
    real = connector.cli.run_sync

    def run_sync(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        summaries.append(real(*args, **kwargs))
        os.kill(os.getpid(), signal.SIGTERM)
        return summaries[-1]

    monkeypatch.setattr(connector.cli, "run_sync", run_sync)
    return summaries


def test_scheduler_runs_the_sync_and_stops_cleanly_on_sigterm(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, restore_signals: None
) -> None:
    side = ws.seed(referrals=3)
    _fire_now(monkeypatch)
    summaries = _sigterm_after_first_run(monkeypatch)

    result = ws.ssp("sync", "schedule")

    assert result.code == 0
    assert len(summaries) == 1 and summaries[0].status == "ok"
    printed = json.loads(result.stdout.splitlines()[0])
    assert printed["partners"]["cgc"]["referrals_sent"] == len(side.sent["cgc"])
    messages = [line["msg"] for line in result.log_lines()]
    assert "scheduler started" in messages and "scheduler stopped" in messages
    for partner in ("cgc", "bhcare"):  # no lock is left behind
        with partner_lock(ws.state_dir, partner):
            pass
    assert ws.ssp("sync", "status").json["runs"][0]["status"] == "ok"


def test_stop_requested_mid_run_ends_between_records_and_the_next_run_finishes(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.seed(referrals=6)
    stop = threading.Event()
    real_update = PowerSchoolWriter.update

    def update_then_stop(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        real_update(self, *args, **kwargs)
        stop.set()  # SIGTERM arrives while the first record is being written

    with monkeypatch.context() as patched:
        patched.setattr(PowerSchoolWriter, "update", update_then_stop)
        summary = connector.cli.run_sync(ws.config, stop=stop, credentials=ws.credentials)
    assert summary.status == "stopped"
    assert ws.ssp("sync", "status").json["runs"][0]["status"] == "stopped"
    with partner_lock(ws.state_dir, "cgc"):
        pass

    finished = ws.sync()
    assert finished["status"] == "ok"
    assert ws.sync()["partners"]["cgc"]["referrals_sent"] == 0
    referrals = [r for r in ws.sandbox.rows("U_SSP_REFERRALS") if r["PARTNER_ID"]]
    assert sorted(r["STATUS"] for r in referrals).count("sent") == 6
    assert len(ws.sandbox.rows("U_SSP_DISCLOSURES")) == 6
    assert sorted(r["referral_id"] for r in ws.outbox_rows("cgc")) == sorted(
        r["SSP_UID"] for r in referrals if r["PARTNER_ID"] == "cgc" and r["STATUS"] == "sent"
    )


def test_second_sync_of_a_partner_being_synced_fails_fast_with_the_lock_message(
    ws: Workspace,
) -> None:
    ws.seed(referrals=3)
    with partner_lock(ws.state_dir, "cgc"):  # another process is syncing cgc
        result = ws.ssp("sync", "run", "--partner", "cgc")
        assert result.code == 1
        assert "a sync of partner cgc is already running in another process" in result.stderr
        assert result.json["status"] == "failed"
        assert ws.outbox_files("cgc") == []

        other = ws.ssp("sync", "run", "--partner", "bhcare")  # other partners are not blocked
        assert other.code == 0 and other.json["partners"]["bhcare"]["referrals_sent"] == 1
    assert ws.sync("--partner", "cgc")["partners"]["cgc"]["referrals_sent"] == 2


def test_lock_is_free_again_after_a_failed_run(ws: Workspace) -> None:
    ws.write_config(powerschool_extra="retry_deadline_seconds = 0.5")
    ws.sandbox.stop()
    assert ws.ssp("sync", "run").code == 1
    for partner in ("cgc", "bhcare"):
        with partner_lock(ws.state_dir, partner):
            pass
    with pytest.raises(LockBusyError):
        with partner_lock(ws.state_dir, "cgc"), partner_lock(ws.state_dir, "cgc"):
            pass


def test_sigterm_while_the_scheduler_is_starting_still_stops_it(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, restore_signals: None
) -> None:
    real_next = connector.schedule.next_fire_time

    def next_fire_then_sigterm(config, now=None):  # noqa: ANN001, ANN202 - called just before start()
        signal.raise_signal(signal.SIGTERM)
        return real_next(config, now)

    monkeypatch.setattr(connector.schedule, "next_fire_time", next_fire_then_sigterm)
    result, hung = _schedule_until_stopped(ws, monkeypatch)
    assert not hung, "SIGTERM during start-up was lost: the scheduler kept running"
    assert result.code == 0


def test_sigterm_the_kernel_hands_to_another_thread_still_stops_the_scheduler(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, restore_signals: None
) -> None:
    """A process-directed signal may be delivered to any thread; CPython then runs the handler
    only when the main thread next runs bytecode. A main thread blocked in one long wait never
    did (seen in CI as a daemon that ignored SIGTERM)."""

    def sigterm_to_this_thread(built: list) -> None:
        deadline = time.monotonic() + 10
        while not (built and built[0].running) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the main thread is waiting by now
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # to this thread, not main

    result, hung = _schedule_until_stopped(ws, monkeypatch, sigterm_to_this_thread)
    assert not hung, "a SIGTERM delivered to another thread was lost"
    assert result.code == 0
    assert any(line.get("msg") == "stop requested" and line.get("signal") == "SIGTERM"
               for line in result.log_lines()), result.stderr[-1500:]


def _schedule_until_stopped(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[list], object] | None = None
) -> tuple[SspResult, bool]:
    """`ssp sync schedule` in this process, `meanwhile(schedulers built)` run on a helper thread.
    If no signal stops it within 15 s the helper shuts the scheduler down instead of letting the
    test hang: (result, whether it had to)."""
    built: list = []
    real_build = connector.schedule.build_scheduler

    def build(config, job):  # noqa: ANN001, ANN202 - the real signature
        built.append(real_build(config, job))
        return built[-1]

    monkeypatch.setattr(connector.schedule, "build_scheduler", build)
    stopped, hung = threading.Event(), threading.Event()

    def helper() -> None:
        if meanwhile is not None:
            meanwhile(built)
        if not stopped.wait(15):
            hung.set()
            built[0].shutdown(wait=False)

    threading.Thread(target=helper, daemon=True).start()
    try:
        result = ws.ssp("sync", "schedule")
    finally:
        stopped.set()
    return result, hung.is_set()


# -- interrupted and killed runs -------------------------------------------------------------------


def test_ctrl_c_mid_run_is_recorded_interrupted_says_a_rerun_is_safe_and_the_rerun_loses_nothing(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.seed(referrals=6)
    real_update = PowerSchoolWriter.update
    calls = []

    def update_then_ctrl_c(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        real_update(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # what Python raises when Ctrl-C arrives

    with monkeypatch.context() as patched:
        patched.setattr(PowerSchoolWriter, "update", update_then_ctrl_c)
        result = ws.ssp("sync", "run")
    assert result.code == 130
    assert "running the same command again is safe" in result.stderr
    assert "Traceback" not in result.stderr
    [run] = ws.ssp("sync", "status").json["runs"]
    assert run["status"] == "interrupted" and run["finished_at"]
    assert "nothing is lost" in run["note"]

    ws.sync()
    referrals = [r for r in ws.sandbox.rows("U_SSP_REFERRALS") if r["PARTNER_ID"]]
    assert sorted(r["STATUS"] for r in referrals).count("sent") == 6
    assert len(ws.sandbox.rows("U_SSP_DISCLOSURES")) == 6
    sent = [r["referral_id"] for r in ws.outbox_rows("cgc")]
    assert len(sent) == len(set(sent))  # nothing sent twice


def test_sigterm_ends_a_sync_run_as_interrupted(ws: Workspace, monkeypatch) -> None:
    ws.seed(referrals=3)
    real_update = PowerSchoolWriter.update

    def update_then_sigterm(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        real_update(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # systemd stopping the unit, or `kill <pid>`

    with monkeypatch.context() as patched:
        patched.setattr(PowerSchoolWriter, "update", update_then_sigterm)
        result = ws.ssp("sync", "run")
    assert result.code == 130 and "safe" in result.stderr
    assert ws.ssp("sync", "status").json["runs"][0]["status"] == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is not None  # the handler was put back
    assert ws.sync()["status"] == "ok"


def test_a_killed_run_is_never_shown_running(ws: Workspace) -> None:
    """kill -9 leaves no chance to record anything: the run's process is gone, so it shows
    `interrupted`; the next run marks it so for good and finishes the work."""
    import subprocess
    import sys
    import time

    ws.seed(referrals=3)
    ws.sandbox.set_latency(400)  # a slow PowerSchool, so the run is surely mid-way when killed
    env = {**os.environ, "SSP_CLIENT_ID": ws.sandbox.client_id,
           "SSP_CLIENT_SECRET": ws.sandbox.client_secret}
    proc = subprocess.Popen([sys.executable, "-m", "ssp", "sync", "run", "--config", str(ws.path)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the run is recorded as started
        if '"sync started"' in line:
            break
    time.sleep(0.5)
    proc.kill()
    proc.wait()
    ws.sandbox.set_latency(0)

    [run] = ws.ssp("sync", "status").json["runs"]
    assert run["status"] == "interrupted" and run["finished_at"] is None
    ws.sync()
    statuses = [r["status"] for r in ws.ssp("sync", "status").json["runs"]]
    assert statuses == ["ok", "interrupted"]

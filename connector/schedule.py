"""`ssp sync schedule`: the nightly sync as an APScheduler 3.11 daemon.

One job on a cron trigger in the district's time zone; `coalesce` folds missed runs into one,
`max_instances=1` never overlaps runs inside the process, the partner file locks keep other
processes out, and a misfire grace time lets a run that was due while the machine slept still
happen. SIGTERM or Ctrl-C sets a stop flag that the engine checks between records, then the
scheduler shuts down once the current record is done.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import threading
from typing import Callable, TextIO
from zoneinfo import ZoneInfo

from foundation.config import SSPConfig
from foundation.errors import ConfigError

__all__ = ["run_scheduler", "dst_warning", "build_scheduler", "next_fire_time", "next_run_words"]

log = logging.getLogger("ssp.schedule")
JOB_ID = "ssp-sync"


def dst_warning(cron: str, timezone: str) -> str | None:
    """Warn when the cron hour falls in the 01:00-03:00 window where DST skips or repeats times."""
    hour = cron.split()[1]
    hours: set[int] = set()
    for part in hour.split(","):
        if part.isdigit():
            hours.add(int(part))
        elif "-" in part and all(p.isdigit() for p in part.split("-", 1)):
            lo, hi = (int(p) for p in part.split("-", 1))
            hours.update(range(lo, hi + 1))
    if hours & {1, 2}:
        return (f"schedule '{cron}' runs between 01:00 and 03:00 {timezone}: daylight-saving changes "
                "can skip or repeat that hour; 15 4 * * * is safer")
    return None


def cron_trigger(config: SSPConfig):  # -> CronTrigger
    """The configured cron trigger; a bad expression is a ConfigError naming the file and key
    (checked here, not when the file is loaded, so other commands never import APScheduler)."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab(config.schedule.cron, timezone=ZoneInfo(config.schedule.timezone))
    except ValueError as exc:
        raise ConfigError(f"not a valid cron expression: {exc}", file=config.source,
                          key="schedule.cron") from None


def build_scheduler(config: SSPConfig, job: Callable[[], None]):  # -> BackgroundScheduler
    from apscheduler.schedulers.background import BackgroundScheduler

    tz = ZoneInfo(config.schedule.timezone)
    scheduler = BackgroundScheduler(timezone=tz)
    trigger = cron_trigger(config)
    scheduler.add_job(
        job, trigger, id=JOB_ID, name="partner sync", replace_existing=True,
        coalesce=True, max_instances=1, misfire_grace_time=config.schedule.misfire_grace_seconds,
    )
    return scheduler


def run_scheduler(config: SSPConfig, run_once: Callable[[threading.Event], object],
                  *, announce: TextIO | None = None) -> int:
    """Block until SIGTERM/SIGINT, running `run_once(stop_event)` on the cron schedule.

    `announce`: a terminal to tell, in words, when the next run is (at start and after each run);
    by default stderr when it is a terminal (a service has the JSON log line instead)."""
    if announce is None and sys.stderr.isatty():
        announce = sys.stderr
    stop = threading.Event()

    def job() -> None:
        if stop.is_set():
            return
        try:
            run_once(stop)
        except Exception:  # one failed run must not kill the daemon; it is logged and recorded
            log.exception("scheduled sync failed")
        if announce and not stop.is_set():
            print(f"{next_run_words(next_fire_time(config))}.", file=announce, flush=True)

    scheduler = build_scheduler(config, job)
    warning = dst_warning(config.schedule.cron, config.schedule.timezone)
    if warning:
        log.warning(warning)

    received: list[int] = []

    def handle_signal(signum: int, _frame: object) -> None:
        """Runs in the main thread between two bytecodes, maybe in the middle of a log write:
        it only records the signal (logging here could raise on a reentrant write)."""
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle_signal)
    signal.signal(signal.SIGINT, handle_signal)
    next_run = next_fire_time(config)
    log.info("scheduler started", extra={"cron": config.schedule.cron, "timezone": config.schedule.timezone,
                                          "next_run": next_run.isoformat()})
    if announce:
        print(f"The preflight check passed. {next_run_words(next_run)}. Stop with Ctrl-C.",
              file=announce, flush=True)
    scheduler.start()  # jobs run on the scheduler's own threads
    # The main thread waits in short steps, never in one long wait: CPython runs a signal's
    # handler only in the main thread, and a signal the kernel hands to another thread does not
    # wake a main thread blocked in a lock wait (a SIGTERM was lost that way, 1 stop in 8).
    while not stop.wait(0.5) and scheduler.running:
        pass
    if received:
        log.info("stop requested", extra={"signal": signal.Signals(received[0]).name})
    stop.set()
    if scheduler.running:
        scheduler.shutdown(wait=True)  # the running job finishes its current record, saves state
    log.info("scheduler stopped")
    return 0


def next_run_words(when: dt.datetime, now: dt.datetime | None = None) -> str:
    """'Next sync run: Monday 7 December 2026 at 04:15 America/New_York (in 16 h 48 min)'."""
    now = now or dt.datetime.now(when.tzinfo)
    minutes = max(int((when - now).total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    zone = getattr(when.tzinfo, "key", None) or when.strftime("%Z")
    return (f"Next sync run: {when.strftime('%A')} {when.day} {when.strftime('%B %Y')} at "
            f"{when.strftime('%H:%M')} {zone} (in {' '.join(p for p in parts if p)})")


def next_fire_time(config: SSPConfig, now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(ZoneInfo(config.schedule.timezone))
    fire = cron_trigger(config).get_next_fire_time(None, now)
    assert fire is not None
    return fire

from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.locks import LockBusyError, partner_lock
from connector.schedule import build_scheduler, dst_warning, next_fire_time
from foundation.config import demo_config_text, parse_config_text


@pytest.fixture
def config(tmp_path: Path):
    return parse_config_text(demo_config_text(), source="ssp.toml", base_dir=tmp_path)


def test_next_run_follows_cron_in_district_time_zone(config):
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("America/New_York"))
    fire = next_fire_time(config, now)
    assert (fire.date(), fire.hour, fire.minute) == (dt.date(2026, 11, 29), 4, 15)
    assert fire.utcoffset() == dt.timedelta(hours=-5)


def test_job_never_overlaps_and_missed_runs_coalesce(config):
    scheduler = build_scheduler(config, lambda: None)
    job = scheduler.get_jobs()[0]
    assert job.max_instances == 1
    assert job.coalesce is True
    assert job.misfire_grace_time == config.schedule.misfire_grace_seconds


@pytest.mark.parametrize("cron,warns", [("30 2 * * *", True), ("0 1-3 * * *", True), ("15 4 * * *", False)])
def test_schedule_in_daylight_saving_window_is_warned(cron, warns):
    assert (dst_warning(cron, "America/New_York") is not None) == warns


def _hold_lock(state_dir: str, ready, release) -> None:
    with partner_lock(Path(state_dir), "cgc"):
        ready.set()
        release.wait(10)


def test_second_process_cannot_sync_the_same_partner(tmp_path: Path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(LockBusyError, match="partner cgc"):
            with partner_lock(tmp_path, "cgc"):
                pass
        with partner_lock(tmp_path, "bhcare"):  # other partners are not blocked
            pass
    finally:
        release.set()
        proc.join(20)
    with partner_lock(tmp_path, "cgc"):  # released when the holder ends
        pass


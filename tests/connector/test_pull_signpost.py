"""Incremental reads: rows sharing an old timestamp are not re-read on every run, while a row
committed late within the lookback window still is (connector/pull.py, the signpost)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connector.engine import SyncRun
from connector.pull import SIGNPOST_MARGIN, pull_streams
from connector.state import DB_FILENAME, StateStore
from foundation.config import SSPConfig, demo_config_text, parse_config_text

ZONE = "America/Chicago"
STAMP = "%Y-%m-%d %H:%M:%S"


def _local(delta: dt.timedelta) -> str:
    return (dt.datetime.now(ZoneInfo(ZONE)) + delta).strftime(STAMP)


class FakePowerSchool:
    """Returns each stream's rows modified at or after `since`, and records every `since`."""

    def __init__(self, district_timezone: str | None = ZONE) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {"consents": [], "referrals": [], "visits": []}
        self.reads: list[tuple[str, str, int]] = []
        self.zone = district_timezone
        self.request_count = 0

    def metadata(self) -> dict[str, Any]:
        return {"district_timezone": self.zone} if self.zone else {}

    def iter_query(self, name: str, args: dict[str, Any]) -> Iterator[dict[str, Any]]:
        stream = name.split(".")[-2]
        found = [r for r in self.rows[stream] if r["whenmodified"] >= args["since"]]
        self.reads.append((stream, args["since"], len(found)))
        return iter(found)


def _referral(n: int, when: str) -> dict[str, Any]:
    return {"id": str(n), "ssp_uid": f"ref-{n}", "status": "sent", "partner_id": "cgc",
            "studentsdcid": "100001", "whenmodified": when}


@pytest.fixture
def config(tmp_path: Path) -> SSPConfig:
    return parse_config_text(demo_config_text(), source="demo", base_dir=tmp_path)


def _pull(config: SSPConfig, client: FakePowerSchool, path: Path) -> None:
    with StateStore.open(path / DB_FILENAME) as state:
        pull_streams(SyncRun(config, client, state, {}).ctx)


def _referral_reads(client: FakePowerSchool) -> list[int]:
    return [count for stream, _, count in client.reads if stream == "referrals"]


def test_rows_sharing_an_old_timestamp_are_read_once_not_on_every_run(
    config: SSPConfig, tmp_path: Path
) -> None:
    client = FakePowerSchool()
    two_days_ago = _local(-dt.timedelta(days=2))
    client.rows["referrals"] = [_referral(n, two_days_ago) for n in range(300)]

    for _ in range(3):
        _pull(config, client, tmp_path)

    assert _referral_reads(client) == [300, 0, 0]


def test_a_row_committed_late_inside_the_lookback_window_is_still_read(
    config: SSPConfig, tmp_path: Path
) -> None:
    client = FakePowerSchool()
    client.rows["referrals"] = [_referral(1, _local(-dt.timedelta(days=2)))]
    _pull(config, client, tmp_path)
    # committed after the first read, stamped a little before the signpost it left
    late = _local(-SIGNPOST_MARGIN - dt.timedelta(minutes=10))
    client.rows["referrals"].append(_referral(2, late))

    _pull(config, client, tmp_path)

    assert _referral_reads(client) == [1, 1]


def test_without_the_district_timezone_the_newest_row_stays_the_watermark(
    config: SSPConfig, tmp_path: Path
) -> None:
    client = FakePowerSchool(district_timezone=None)
    two_days_ago = _local(-dt.timedelta(days=2))
    client.rows["referrals"] = [_referral(n, two_days_ago) for n in range(3)]

    _pull(config, client, tmp_path)
    _pull(config, client, tmp_path)

    assert _referral_reads(client) == [3, 3]  # re-read within the lookback, as before

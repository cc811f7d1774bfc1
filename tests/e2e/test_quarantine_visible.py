"""Quarantine in plain sight: the summary names the quarantine files written and counts the
refused rows per kind of reason (a dry run counts them too), and an inbox file that matches no
pattern of the mapping (`random_notes.txt`) is named once, not ignored and not on every run."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import Workspace, status_row

from ssp.demo_scenario import SchoolSide


@pytest.fixture
def sent(ws: Workspace) -> SchoolSide:
    side = ws.seed(referrals=6)
    ws.sync()
    return side


def _bad_file(ws: Workspace, sent: SchoolSide) -> None:
    ws.write_inbox("cgc", "status_updates_1.csv", [
        status_row("no-such-referral-1", "received", ws.day(0)),
        status_row("no-such-referral-2", "received", ws.day(0)),
        status_row(sent.sent["cgc"][0], "on_holiday", ws.day(0)),
        status_row(sent.sent["cgc"][1], "received", ws.day(0)),
    ])


def test_summary_names_the_quarantine_file_and_counts_per_reason(
    ws: Workspace, sent: SchoolSide
) -> None:
    _bad_file(ws, sent)
    dry = ws.sync("--dry-run")["partners"]["cgc"]
    reasons = {"referral_id: unknown referral": 2}
    assert dry["quarantined"] == 3
    assert {k: v for k, v in dry["quarantined_by_reason"].items() if k in reasons} == reasons
    assert sum(dry["quarantined_by_reason"].values()) == 3
    assert dry["quarantine_files"] == []  # a dry run writes nothing

    real = ws.sync()["partners"]["cgc"]
    assert real["quarantined_by_reason"] == dry["quarantined_by_reason"]
    [path] = real["quarantine_files"]
    assert Path(path).is_file() and Path(path).is_relative_to(ws.state_dir)
    assert {r["_file"] for r in ws.quarantined("cgc")} == {Path(path).name}
    for key in ("referrals_sent", "referrals_held", "status_updates_applied", "visits_created",
                "duplicates_skipped", "quarantined", "disclosures_recorded", "http_requests"):
        assert key in real  # the documented keys stay
    assert "on_holiday" not in str(real["quarantined_by_reason"])  # the partner's values stay out


def test_an_unexpected_inbox_file_is_reported_once_per_content(
    ws: Workspace, sent: SchoolSide
) -> None:
    notes = ws.inbox("cgc") / "random_notes.txt"
    notes.write_text("call the school back\n", encoding="utf-8")

    dry = ws.sync("--dry-run")["partners"]["cgc"]
    assert dry["unexpected_files"] == ["random_notes.txt"]
    first = ws.ssp("sync", "run")
    assert first.json["partners"]["cgc"]["unexpected_files"] == ["random_notes.txt"]
    warned = [line for line in first.log_lines() if line.get("file") == "random_notes.txt"]
    assert warned and "matches no file pattern" in warned[0]["msg"]
    assert warned[0]["partner"] == "cgc"

    assert ws.sync()["partners"]["cgc"]["unexpected_files"] == []  # said once
    assert notes.exists()  # left where it is: not archived, not deleted

    notes.write_text("call the school back\nand the clinic\n", encoding="utf-8")
    assert ws.sync()["partners"]["cgc"]["unexpected_files"] == ["random_notes.txt"]
    (ws.inbox("cgc") / "status_update_typo.csv").write_text("referral_id\n", encoding="utf-8")
    assert ws.sync()["partners"]["cgc"]["unexpected_files"] == ["status_update_typo.csv"]

"""`ssp disclosures --student N` answers from PowerSchool's U_SSP_DISCLOSURES (the district's record
of truth) merged with the local ledger (issue 10, case 10): a rebuilt server, a wrong --config, an
unknown student and an unreachable PowerSchool each get a plain, correct answer, never `[]`."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import sqlite3

import pytest
from e2e_helpers import Workspace

from connector.disclosure_record import (
    ENTRY_COLUMNS,
    IN_BOTH,
    LOCAL_ONLY_MISSING,
    LOCAL_ONLY_PENDING,
    POWERSCHOOL_ONLY,
)

BHCARE_NAME = "Bridgeport Behavioral Health Care"


@pytest.fixture
def synced(ws: Workspace):
    """One sync: bhcare's first referral's student has one disclosure, in both places."""
    side = ws.seed(referrals=9)
    ws.sync()
    uid = side.sent["bhcare"][0]
    number = str(ws.student(side.student_of[uid])["STUDENT_NUMBER"])
    return side, uid, number


def _messages(stderr: str) -> list[str]:
    """What `ssp` says to the user (the JSON log lines left out)."""
    return [line for line in stderr.splitlines() if line.startswith("ssp: ")]


def _one_entry(record: dict) -> dict:
    assert record["record_kept_under"] == "34 CFR 99.32"
    [entry] = record["disclosures"]
    assert list(entry) == list(ENTRY_COLUMNS)
    return entry


def test_known_student_lists_each_disclosure_once_with_the_partner_named(
    ws: Workspace, synced
) -> None:
    side, uid, number = synced
    result = ws.ssp("disclosures", "--student", number)
    assert result.code == 0, result.stderr
    record = result.json
    assert record["student_in_powerschool"] is True and record["complete"] is True
    assert record["sources"] == {"powerschool": "read", "local_ledger": "read"}
    entry = _one_entry(record)
    assert (entry["referral_uid"], entry["partner_id"], entry["partner_name"]) == (
        uid,
        "bhcare",
        BHCARE_NAME,
    )
    assert entry["recorded_in"] == IN_BOTH and entry["student_number"] == number


def test_rebuilt_server_with_empty_local_state_answers_from_powerschool(
    ws: Workspace, synced
) -> None:
    side, uid, number = synced
    shutil.rmtree(ws.state_dir)
    result = ws.ssp("disclosures", "--student", number)
    assert result.code == 0, result.stderr
    entry = _one_entry(result.json)
    assert entry["referral_uid"] == uid and entry["recorded_in"] == POWERSCHOOL_ONLY
    assert entry["partner_name"] == BHCARE_NAME
    assert "no local state" in result.json["sources"]["local_ledger"]
    assert "ssp: note: no local state" in result.stderr


def test_wrong_config_with_another_state_dir_still_reads_powerschool(
    ws: Workspace, synced, tmp_path_factory: pytest.TempPathFactory
) -> None:
    side, uid, number = synced
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "ssp.toml"
    elsewhere.write_text(ws.path.read_text(encoding="utf-8"), encoding="utf-8")
    result = ws.ssp("disclosures", "--student", number, "--config", str(elsewhere))
    assert result.code == 0, result.stderr
    assert _one_entry(result.json)["referral_uid"] == uid

    missing = ws.ssp("disclosures", "--student", number, "--config", str(elsewhere) + ".typo")
    assert missing.code == 2 and "file not found" in missing.stderr and missing.stdout == ""


def test_unknown_student_is_said_plainly_with_a_non_zero_exit(ws: Workspace, synced) -> None:
    result = ws.ssp("disclosures", "--student", "424242")
    assert result.code == 2
    assert result.stdout == ""
    assert _messages(result.stderr) == [
        "ssp: error: --student: no student with student number 424242 in PowerSchool at "
        f"{ws.sandbox.base_url} (check the number)"
    ]


def test_known_student_without_disclosures_is_an_empty_record_exit_0(
    ws: Workspace, synced
) -> None:
    side, uid, number = synced
    sent = {side.student_of[u] for us in side.sent.values() for u in us}
    other = next(s for s in ws.sandbox.students() if s["DCID"] not in sent)
    result = ws.ssp("disclosures", "--student", str(other["STUDENT_NUMBER"]))
    assert result.code == 0
    assert result.json["student_in_powerschool"] is True and result.json["disclosures"] == []


def test_unreachable_powerschool_prints_the_local_ledger_marked_incomplete_exit_1(
    ws: Workspace, synced
) -> None:
    side, uid, number = synced
    ws.write_config(powerschool_extra="retry_deadline_seconds = 0.5")
    ws.sandbox.stop()
    result = ws.ssp("disclosures", "--student", number)
    assert result.code == 1
    record = result.json
    assert record["complete"] is False and record["student_in_powerschool"] is None
    assert "not reachable" in record["sources"]["powerschool"]
    entry = _one_entry(record)
    assert entry["referral_uid"] == uid and entry["partner_name"] == BHCARE_NAME
    assert entry["recorded_in"] == LOCAL_ONLY_PENDING  # PowerSchool could not confirm it
    assert "may be incomplete" in result.stderr


def test_neither_powerschool_nor_local_state_is_a_plain_exit_1(ws: Workspace, synced) -> None:
    side, uid, number = synced
    ws.write_config(powerschool_extra="retry_deadline_seconds = 0.5")
    shutil.rmtree(ws.state_dir)
    ws.sandbox.stop()
    result = ws.ssp("disclosures", "--student", number)
    assert result.code == 1 and result.stdout == ""
    [line] = _messages(result.stderr)
    assert line.startswith(f"ssp: error: cannot read any record of disclosures for student {number}")
    assert "not reachable" in line and "no local state" in line


def test_entries_found_in_only_one_place_are_marked(ws: Workspace, synced) -> None:
    side, uid, number = synced
    [row] = [r for r in ws.sandbox.rows("U_SSP_DISCLOSURES") if r["REFERRAL_UID"] == uid]
    ws.sandbox.delete_row("U_SSP_DISCLOSURES", row["ID"])
    result = ws.ssp("disclosures", "--student", number)
    assert result.code == 0
    assert _one_entry(result.json)["recorded_in"] == LOCAL_ONLY_MISSING

    db = ws.state_dir / "state.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE disclosures SET pushed = 0, push_started = 0 WHERE referral_uid = ?", (uid,))
    assert _one_entry(ws.ssp("disclosures", "--student", number).json)["recorded_in"] == (
        LOCAL_ONLY_PENDING
    )


def test_partner_missing_from_the_configuration_is_named_from_the_directory_and_csv_is_safe(
    ws: Workspace, synced
) -> None:
    side, uid, number = synced
    dcid = side.student_of[uid]
    ws.sandbox.insert_row(
        "U_SSP_PARTNERS",
        {"SSP_UID": "p-old", "PARTNER_ID": "oldclinic", "NAME": "Old Clinic (MOU ended)"},
    )
    ws.sandbox.insert_row(
        "U_SSP_DISCLOSURES",
        {
            "SSP_UID": "d-old",
            "DISCLOSED_AT": "2020-01-02 03:04:05",
            "PARTNER_ID": "oldclinic",
            "DIRECTION": "to_partner",
            "DATA_CATEGORIES": "identity",
            "PURPOSE": '=HYPERLINK("http://evil.example","x")',
            "LEGAL_BASIS": "consent:c-old",
            "REFERRAL_UID": "r-old",
            "RUN_ID": "run-old",
        },
        student_dcid=dcid,
    )
    record = ws.ssp("disclosures", "--student", number).json
    old, new = record["disclosures"]  # oldest first
    assert (old["ssp_uid"], old["partner_name"], old["recorded_in"]) == (
        "d-old",
        "Old Clinic (MOU ended)",
        POWERSCHOOL_ONLY,
    )
    assert new["referral_uid"] == uid

    result = ws.ssp("disclosures", "--student", number, "--format", "csv")
    assert result.code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["ssp_uid"] for r in rows] == ["d-old", new["ssp_uid"]]
    assert rows[0]["purpose"].startswith("'=HYPERLINK")
    assert rows[0]["partner_name"] == "Old Clinic (MOU ended)"

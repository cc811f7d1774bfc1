"""Partner clinicians' visits stored in U_SSP_VISITS: never twice for one partner_visit_id, and only
under a consent and an MOU that cover visit summaries (SPEC 5 and 7)."""

from __future__ import annotations

import pytest
from e2e_helpers import Workspace, visit_row

from ssp.demo_scenario import SchoolSide


@pytest.fixture
def sent(ws: Workspace) -> SchoolSide:
    side = ws.seed(referrals=3)  # cgc: demo-ref-000, demo-ref-001; bhcare: demo-ref-002
    ws.sync()
    return side


def _number(ws: Workspace, side: SchoolSide, uid: str) -> str:
    return str(ws.student(side.student_of[uid])["STUDENT_NUMBER"])


def _partner_visits(ws: Workspace, visit_id: str | None = None) -> list[dict]:
    rows = [
        v for v in ws.sandbox.rows("U_SSP_VISITS") if (v["SOURCE"] or "").startswith("partner:")
    ]
    return [v for v in rows if visit_id in (None, v["PARTNER_VISIT_ID"])]


def test_partner_visit_is_stored_with_its_source_and_codes(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][0]
    ws.write_inbox(
        "cgc",
        "visits_1.csv",
        [
            visit_row(
                "CGC-1",
                _number(ws, sent, uid),
                ws.day(-1),
                uid,
                time_in="13:05",
                time_out="13:55",
                service_codes="individual_counseling,safety_planning",
                purpose_code="crisis",
                clinician_name="CGC clinician",
            )
        ],
    )
    assert ws.sync()["partners"]["cgc"]["visits_created"] == 1
    [row] = _partner_visits(ws)
    assert len(row["SSP_UID"]) == 36
    assert {
        k: row[k]
        for k in (
            "STUDENTSDCID",
            "VISIT_DATE",
            "TIME_IN",
            "TIME_OUT",
            "STAFF_NAME",
            "STAFF_ROLE",
            "PURPOSE",
            "SERVICES",
            "SOURCE",
            "PARTNER_VISIT_ID",
            "NOTES",
        )
    } == {
        "STUDENTSDCID": sent.student_of[uid],
        "VISIT_DATE": ws.day(-1),
        "TIME_IN": "13:05",
        "TIME_OUT": "13:55",
        "STAFF_NAME": "CGC clinician",
        "STAFF_ROLE": "partner_clinician",
        "PURPOSE": "crisis",
        "SERVICES": "individual_counseling,safety_planning",
        "SOURCE": "partner:cgc",
        "PARTNER_VISIT_ID": "CGC-1",
        "NOTES": None,
    }


def test_same_visit_id_twice_in_one_file_creates_one_row(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][0]
    row = visit_row("CGC-2", _number(ws, sent, uid), ws.day(0), uid)
    ws.write_inbox("cgc", "visits_1.csv", [row, dict(row), {**row, "time_in": "09:00"}])
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["duplicates_skipped"]) == (1, 2)
    assert len(_partner_visits(ws, "CGC-2")) == 1


def test_same_visit_id_in_another_file_and_another_run_creates_no_second_row(
    ws: Workspace, sent: SchoolSide
) -> None:
    uid = sent.sent["cgc"][0]
    number = _number(ws, sent, uid)
    ws.write_inbox("cgc", "visits_1.csv", [visit_row("CGC-3", number, ws.day(-1), uid)])
    ws.write_inbox(
        "cgc", "visits_2.csv", [visit_row("CGC-3", number, ws.day(-1), uid, time_out="11:00")]
    )
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["duplicates_skipped"]) == (1, 1)

    ws.write_inbox(
        "cgc", "visits_3.csv", [visit_row("CGC-3", number, ws.day(0), uid, purpose_code="crisis")]
    )
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["duplicates_skipped"]) == (0, 1)
    [row] = _partner_visits(ws, "CGC-3")
    assert (row["VISIT_DATE"], row["TIME_OUT"], row["PURPOSE"]) == (
        ws.day(-1),
        "10:45",
        "follow_up",
    )


def test_same_visit_id_from_two_partners_are_two_visits(ws: Workspace, sent: SchoolSide) -> None:
    ws.write_config(
        replace=[
            ('to_school = ["referral_status"]', 'to_school = ["referral_status", "visit_summary"]')
        ]
    )
    cgc, bh = sent.sent["cgc"][0], sent.sent["bhcare"][0]
    bh_consent = next(
        r for r in ws.sandbox.rows("U_SSP_CONSENTS") if r["SSP_UID"] == sent.consents[bh]
    )
    ws.sandbox.update_row(
        "U_SSP_CONSENTS",
        bh_consent["ID"],
        {"DATA_CATEGORIES": "identity,referral,referral_status,visit_summary"},
    )
    ws.write_inbox(
        "cgc", "visits_1.csv", [visit_row("V-1", _number(ws, sent, cgc), ws.day(0), cgc)]
    )
    us = ws.today.strftime("%m/%d/%Y")
    ws.write_inbox(
        "bhcare",
        "BHC_ENCOUNTERS_1.csv",
        [
            {
                "EncounterID": "V-1",
                "StudentID": _number(ws, sent, bh),
                "ClientRefNo": bh,
                "EncounterDt": us,
                "StartTime": "01:15 PM",
                "EndTime": "02:00 PM",
                "SvcCodes": "IND;CM",
                "VisitReason": "SCHOOL",
                "Clinician": "BHcare clinician",
            }
        ],
    )
    partners = ws.sync()["partners"]
    assert partners["cgc"]["visits_created"] == partners["bhcare"]["visits_created"] == 1
    rows = {v["SOURCE"]: v for v in _partner_visits(ws, "V-1")}
    assert set(rows) == {"partner:cgc", "partner:bhcare"}
    bhrow = rows["partner:bhcare"]
    assert (
        bhrow["TIME_IN"],
        bhrow["TIME_OUT"],
        bhrow["SERVICES"],
        bhrow["PURPOSE"],
        bhrow["VISIT_DATE"],
    ) == ("13:15", "14:00", "individual_counseling,case_management", "staff_referral", ws.day(0))


def test_visit_for_an_unknown_student_is_quarantined(ws: Workspace, sent: SchoolSide) -> None:
    ws.write_inbox("cgc", "visits_1.csv", [visit_row("CGC-4", "999999", ws.day(0))])
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["quarantined"]) == (0, 1)
    [row] = ws.quarantined("cgc")
    assert (row["partner_visit_id"], row["reason"]) == ("CGC-4", "student_number: no such student")
    assert _partner_visits(ws) == []


def test_visit_linked_to_another_students_referral_is_quarantined(
    ws: Workspace, sent: SchoolSide
) -> None:
    a, b = sent.sent["cgc"]
    ws.write_inbox("cgc", "visits_1.csv", [visit_row("CGC-5", _number(ws, sent, a), ws.day(0), b)])
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["quarantined"]) == (0, 1)
    assert (
        ws.quarantined("cgc")[0]["reason"]
        == "referral_id: not this partner's referral for this student"
    )


def test_visit_without_a_consent_covering_visit_summaries_is_quarantined(
    ws: Workspace, sent: SchoolSide
) -> None:
    uid = sent.sent["cgc"][0]
    consent = next(
        r for r in ws.sandbox.rows("U_SSP_CONSENTS") if r["SSP_UID"] == sent.consents[uid]
    )
    ws.sandbox.update_row(
        "U_SSP_CONSENTS",
        consent["ID"],
        {"DATA_CATEGORIES": "identity,enrollment,guardian_contact,referral,referral_status"},
    )
    ws.write_inbox(
        "cgc", "visits_1.csv", [visit_row("CGC-6", _number(ws, sent, uid), ws.day(0), uid)]
    )
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["quarantined"]) == (0, 1)
    assert ws.quarantined("cgc")[0]["reason"] == "consent: consent does not cover visit_summary"


def test_bhcare_visits_are_quarantined_because_its_mou_excludes_visit_summaries(
    ws: Workspace,
) -> None:
    side = ws.seed(referrals=6)
    ws.sync()
    ws.reply(side)
    counts = ws.sync()["partners"]["bhcare"]
    assert counts["visits_created"] == 0
    visits = [q for q in ws.quarantined("bhcare") if "_visit_" in q["_file"]]
    assert [(q["EncounterID"], q["reason"]) for q in visits] == [
        (f"BHC-E-{i:04d}", "consent: MOU does not allow visit_summary from the partner")
        for i in range(2)
    ]
    assert [v for v in ws.sandbox.rows("U_SSP_VISITS") if v["SOURCE"] == "partner:bhcare"] == []


def test_bad_visit_rows_are_quarantined_and_good_rows_proceed(
    ws: Workspace, sent: SchoolSide
) -> None:
    uid = sent.sent["cgc"][0]
    number = _number(ws, sent, uid)
    ws.write_inbox(
        "cgc",
        "visits_1.csv",
        [
            visit_row("CGC-7", number, ws.day(0), uid, time_in="25:00"),
            visit_row("CGC-8", number, ws.day(0), uid, service_codes="juggling"),
            visit_row("CGC-9", number, ws.day(0), uid),
        ],
    )
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["quarantined"]) == (1, 2)
    assert [v["PARTNER_VISIT_ID"] for v in _partner_visits(ws)] == ["CGC-9"]
    reasons = {q["partner_visit_id"]: q["reason"] for q in ws.quarantined("cgc")}
    assert set(reasons) == {"CGC-7", "CGC-8"}
    assert reasons["CGC-7"].startswith("time_in") and reasons["CGC-8"].startswith("service_codes")


def test_visit_for_a_student_who_turned_18_needs_the_students_own_consent(ws: Workspace) -> None:
    import datetime as dt

    def turned_18(student: dict) -> bool:
        dob = dt.date.fromisoformat(student["DOB"])
        return student["GRADE_LEVEL"] == 12 and dob.replace(year=dob.year + 18) < ws.today

    adult = next(s for s in ws.sandbox.students() if turned_18(s))  # no referral: looked up by number
    ws.add_consent(adult["DCID"], "con-parent", SIGNED_DATE=ws.day(-400), EFFECTIVE_DATE=ws.day(-400))
    number = str(adult["STUDENT_NUMBER"])
    ws.write_inbox("cgc", "visits_a.csv", [visit_row("CGC-A1", number, ws.day(-1), "")])
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["visits_created"], counts["quarantined"]) == (0, 1)
    assert ws.quarantined("cgc")[0]["reason"] == "consent: student is 18: needs the student's own consent"

    ws.add_consent(adult["DCID"], "con-self", SIGNER_TYPE="eligible_student")
    ws.write_inbox("cgc", "visits_b.csv", [visit_row("CGC-A2", number, ws.day(-1), "")])
    assert ws.sync()["partners"]["cgc"]["visits_created"] == 1
    assert _partner_visits(ws, "CGC-A2")[0]["STUDENTSDCID"] == adult["DCID"]

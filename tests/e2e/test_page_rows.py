"""Rows staff created on the page without its script (no SSP_UID, no STATUS): the connector gives
them their identity and status, then handles them like any other."""

from __future__ import annotations

import uuid

from e2e_helpers import Workspace


def _student(ws: Workspace, n: int = 0) -> dict:
    return [s for s in ws.sandbox.students() if 3 <= s["GRADE_LEVEL"] <= 11][n]


def _bare_referral(ws: Workspace, dcid: int) -> int:
    return ws.sandbox.insert_row(
        "U_SSP_REFERRALS",
        {
            "REFERRAL_DATE": ws.day(-1),
            "REFERRED_BY": "M. Chen, social worker",
            "REFERRAL_TYPE": "community",
            "PARTNER_ID": "cgc",
            "REASON": "grief",
            "URGENCY": "routine",
        },
        student_dcid=dcid,
    )


def test_row_without_uid_or_status_gets_them_and_is_sent(ws: Workspace) -> None:
    student = _student(ws)
    consent_id = ws.add_consent(student["DCID"], "")
    referral_id = _bare_referral(ws, student["DCID"])
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_sent"] == 1

    consent = ws.sandbox.row("U_SSP_CONSENTS", consent_id)
    referral = ws.sandbox.row("U_SSP_REFERRALS", referral_id)
    assert consent and referral
    for uid in (consent["SSP_UID"], referral["SSP_UID"]):
        assert str(uuid.UUID(uid)) == uid
    assert (referral["STATUS"], referral["ACCESS_RESULT"]) == ("sent", "pending")
    [row] = ws.outbox_rows("cgc")
    assert (row["referral_id"], row["consent_id"]) == (referral["SSP_UID"], consent["SSP_UID"])
    [disclosure] = ws.sandbox.rows("U_SSP_DISCLOSURES")
    assert disclosure["LEGAL_BASIS"] == f"consent:{consent['SSP_UID']}"

    ws.sandbox.reset_log()
    again = ws.sync()
    assert again["partners"]["cgc"]["referrals_sent"] == 0
    assert [e for e in ws.sandbox.request_log if e.method == "PUT"] == []
    assert ws.sandbox.row("U_SSP_REFERRALS", referral_id)["SSP_UID"] == referral["SSP_UID"]


def test_row_without_uid_or_status_and_no_consent_is_held_as_new(ws: Workspace) -> None:
    referral_id = _bare_referral(ws, _student(ws, 1)["DCID"])
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_held"]["by_reason"] == {"awaiting_consent": 1}
    referral = ws.sandbox.row("U_SSP_REFERRALS", referral_id)
    assert len(referral["SSP_UID"]) == 36
    assert (referral["STATUS"], referral["STATUS_REASON"]) == ("new", "awaiting consent")


def test_visit_entered_without_uid_gets_one(ws: Workspace) -> None:
    visit_id = ws.sandbox.insert_row(
        "U_SSP_VISITS",
        {
            "VISIT_DATE": ws.day(0),
            "TIME_IN": "09:00",
            "TIME_OUT": "09:30",
            "STAFF_ROLE": "counselor",
            "PURPOSE": "check_in",
            "SOURCE": "school",
        },
        student_dcid=_student(ws)["DCID"],
    )
    ws.sync()
    uid = ws.sandbox.row("U_SSP_VISITS", visit_id)["SSP_UID"]
    assert str(uuid.UUID(uid)) == uid

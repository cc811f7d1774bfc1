"""Partner status updates applied to PowerSchool with the status machine (SPEC 5,
connector/status.py): progressions, regressions, stale and repeated updates, foreign ids."""

from __future__ import annotations

import pytest
from e2e_helpers import Workspace, status_row, write_csv

from ssp.demo_scenario import SchoolSide


@pytest.fixture
def sent(ws: Workspace) -> SchoolSide:
    side = ws.seed(referrals=3)  # cgc: demo-ref-000, demo-ref-001; bhcare: demo-ref-002
    ws.sync()
    return side


def _state(ws: Workspace, uid: str) -> tuple:
    row = ws.referral(uid)
    return row["STATUS"], row["STATUS_DATE"], row["ACCESS_RESULT"], row["FIRST_SERVICE_DATE"]


def _send(ws: Workspace, name: str, *rows: dict[str, str], partner: str = "cgc") -> dict:
    ws.write_inbox(partner, name, list(rows))
    return ws.sync()["partners"][partner]


def test_status_progresses_run_by_run_to_attended_with_access(
    ws: Workspace, sent: SchoolSide
) -> None:
    uid = sent.sent["cgc"][0]
    steps = [("received", -3, "pending"), ("accepted", -2, "pending"), ("scheduled", -1, "pending")]
    for n, (status, offset, access) in enumerate(steps):
        counts = _send(ws, f"status_updates_{n}.csv", status_row(uid, status, ws.day(offset)))
        assert counts["status_updates_applied"] == 1
        assert _state(ws, uid) == (status, ws.day(offset), access, None)
    counts = _send(
        ws, "status_updates_3.csv", status_row(uid, "attended", ws.day(0), first_service=ws.day(0))
    )
    assert counts["status_updates_applied"] == 1
    assert _state(ws, uid) == ("attended", ws.day(0), "yes", ws.day(0))
    assert ws.inbox("cgc").exists() and list(ws.inbox("cgc").iterdir()) == []  # all archived
    assert len(ws.archived("cgc")) == 4


def test_status_progression_within_one_file_applies_in_order(
    ws: Workspace, sent: SchoolSide
) -> None:
    uid = sent.sent["cgc"][0]
    day = ws.day(-1)
    counts = _send(
        ws,
        "status_updates_a.csv",
        *[status_row(uid, s, day) for s in ("received", "accepted", "scheduled")],
        status_row(uid, "attended", day),
    )
    assert counts["status_updates_applied"] == 4
    # attended without a first_service_date: the status date is the first day of service
    assert _state(ws, uid) == ("attended", day, "yes", day)


def test_same_day_regression_is_ignored_as_out_of_order(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][0]
    _send(ws, "status_updates_a.csv", status_row(uid, "scheduled", ws.day(0)))
    counts = _send(ws, "status_updates_b.csv", status_row(uid, "accepted", ws.day(0)))
    assert (counts["status_updates_applied"], counts["stale_skipped"], counts["quarantined"]) == (
        0,
        1,
        0,
    )
    assert _state(ws, uid)[0] == "scheduled"


def test_later_dated_regression_is_quarantined_as_invalid(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][0]
    _send(ws, "status_updates_a.csv", status_row(uid, "attended", ws.day(-2)))
    counts = _send(ws, "status_updates_b.csv", status_row(uid, "accepted", ws.day(0)))
    assert (counts["status_updates_applied"], counts["quarantined"]) == (0, 1)
    assert _state(ws, uid) == ("attended", ws.day(-2), "yes", ws.day(-2))
    [row] = ws.quarantined("cgc")
    assert (row["referral_id"], row["status"], row["reason"]) == (
        uid,
        "accepted",
        "status: status cannot move from attended to accepted",
    )


def test_update_older_than_the_stored_status_is_ignored(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][0]
    _send(ws, "status_updates_a.csv", status_row(uid, "accepted", ws.day(0)))
    counts = _send(ws, "status_updates_b.csv", status_row(uid, "scheduled", ws.day(-3)))
    assert (counts["status_updates_applied"], counts["stale_skipped"]) == (0, 1)
    assert _state(ws, uid) == ("accepted", ws.day(0), "pending", None)


def test_declined_sets_no_access_and_is_final(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][1]
    _send(
        ws,
        "status_updates_a.csv",
        status_row(uid, "declined", ws.day(-1), reason="Family chose another provider"),
    )
    row = ws.referral(uid)
    assert (row["STATUS"], row["ACCESS_RESULT"], row["STATUS_REASON"]) == (
        "declined",
        "no",
        "Family chose another provider",
    )
    counts = _send(ws, "status_updates_b.csv", status_row(uid, "accepted", ws.day(0)))
    assert counts["quarantined"] == 1
    assert (
        ws.quarantined("cgc")[0]["reason"] == "status: status cannot move from declined to accepted"
    )


def test_same_file_dropped_again_is_processed_once(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][0]
    rows = [status_row(uid, "received", ws.day(-1))]
    assert _send(ws, "status_updates_a.csv", *rows)["status_updates_applied"] == 1
    for name in ("status_updates_a.csv", "status_updates_copy.csv"):  # same bytes, same or new name
        ws.sandbox.reset_log()
        counts = _send(ws, name, *rows)
        assert (counts["status_updates_applied"], counts["duplicates_skipped"]) == (0, 1)
        assert [e for e in ws.sandbox.request_log if e.method == "PUT"] == []
        assert list(ws.inbox("cgc").iterdir()) == []  # archived, never deleted
    assert _state(ws, uid)[0] == "received"
    assert len(ws.archived("cgc")) >= 1


def test_another_partners_referral_id_is_quarantined(ws: Workspace, sent: SchoolSide) -> None:
    theirs = sent.sent["bhcare"][0]
    counts = _send(ws, "status_updates_a.csv", status_row(theirs, "received", ws.day(0)))
    assert (counts["status_updates_applied"], counts["quarantined"]) == (0, 1)
    assert ws.referral(theirs)["STATUS"] == "sent"
    assert ws.quarantined("cgc")[0]["reason"] == "referral_id: not a referral sent to this partner"


def test_unknown_referral_id_is_quarantined(ws: Workspace, sent: SchoolSide) -> None:
    counts = _send(
        ws,
        "status_updates_a.csv",
        status_row("no-such-referral", "received", ws.day(0)),
        status_row(sent.sent["cgc"][0], "received", ws.day(0)),
    )
    assert (counts["status_updates_applied"], counts["quarantined"]) == (1, 1)
    [row] = ws.quarantined("cgc")
    assert (row["referral_id"], row["reason"], row["source_row"]) == (
        "no-such-referral",
        "referral_id: unknown referral",
        "1",
    )


def test_referral_never_sent_to_the_partner_takes_no_status(
    ws: Workspace, sent: SchoolSide
) -> None:
    """A held referral was never disclosed: a status for it cannot be about our referral."""
    held = "demo-held-consent_wrong_direction"  # its consent allows inbound, not outbound
    counts = _send(ws, "status_updates_a.csv", status_row(held, "received", ws.day(0)))
    assert (counts["status_updates_applied"], counts["quarantined"]) == (0, 1)
    assert ws.referral(held)["STATUS"] == "new"
    assert ws.quarantined("cgc")[0]["reason"] == "referral_id: not a referral sent to this partner"


def test_bhcare_status_codes_and_us_dates_are_translated(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["bhcare"][0]
    us = ws.today.strftime("%m/%d/%Y")

    def bh(code: str, first: str = "") -> dict[str, str]:
        return {
            "ClientRefNo": uid,
            "StatusCode": code,
            "StatusDt": us,
            "FirstApptDate": first,
            "Notes/Reason": "",
        }

    counts = _send(
        ws,
        "BHC_STATUS_1.csv",
        bh("RCVD"),
        bh("ACPT"),
        bh("SCHD"),
        bh("SEEN", us),
        bh("BOGUS"),
        partner="bhcare",
    )
    assert (counts["status_updates_applied"], counts["quarantined"]) == (4, 1)
    assert _state(ws, uid) == ("attended", ws.day(0), "yes", ws.day(0))
    [row] = ws.quarantined("bhcare")
    assert row["StatusCode"] == "BOGUS" and "status" in row["reason"]


def test_demo_partner_replies_end_in_the_expected_states(ws: Workspace) -> None:
    side = ws.seed(referrals=9)
    ws.sync()
    ws.reply(side)
    summary = ws.sync()["partners"]
    day = ws.day(0)
    expected = {
        0: ("attended", "yes", day),
        1: ("in_service", "yes", day),
        2: ("declined", "no", None),
        3: ("accepted", "pending", None),
        4: ("unable_to_contact", "no", None),
    }
    for i, uid in enumerate(side.sent["cgc"]):
        row = ws.referral(uid)
        assert (row["STATUS"], row["ACCESS_RESULT"], row["FIRST_SERVICE_DATE"]) == expected[
            i % 5
        ], uid
    for i, uid in enumerate(side.sent["bhcare"]):
        row = ws.referral(uid)
        want = ("attended", "yes", day) if i % 3 else ("declined", "no", None)
        assert (row["STATUS"], row["ACCESS_RESULT"], row["FIRST_SERVICE_DATE"]) == want, uid
    reasons = sorted(
        q["reason"]
        for q in ws.quarantined("cgc")
        if q["_file"].split("_", 1)[1].startswith("status")
    )
    assert reasons == sorted(
        [
            "referral_id: unknown referral",
            "status_date: '2026-13-45' is not a date (expected YYYY-MM-DD)",
            "status: status cannot move from declined to attended",
            "referral_id: not a referral sent to this partner",
        ]
    ), reasons
    assert summary["cgc"]["status_updates_applied"] == sum(
        {0: 4, 1: 5, 2: 2, 3: 2, 4: 2}[i % 5] for i in range(len(side.sent["cgc"]))
    )


def test_partial_upload_is_left_for_the_next_run(ws: Workspace, sent: SchoolSide) -> None:
    uid = sent.sent["cgc"][0]
    part = ws.inbox("cgc") / "status_updates_b.csv.part"
    write_csv(part, [status_row(uid, "received", ws.day(0))])
    counts = ws.sync()["partners"]["cgc"]
    assert counts["status_updates_applied"] == 0 and part.exists()
    part.rename(part.with_suffix(""))
    assert ws.sync()["partners"]["cgc"]["status_updates_applied"] == 1


def test_status_for_a_student_who_turned_18_needs_the_students_own_consent(ws: Workspace) -> None:
    import datetime as dt

    adult = next(
        s
        for s in ws.sandbox.students()
        if s["GRADE_LEVEL"] == 12
        and dt.date.fromisoformat(s["DOB"]).replace(year=dt.date.fromisoformat(s["DOB"]).year + 18)
        < ws.today
    )
    ws.add_consent(
        adult["DCID"], "con-parent", SIGNED_DATE=ws.day(-400), EFFECTIVE_DATE=ws.day(-400)
    )
    ws.sandbox.insert_row(
        "U_SSP_REFERRALS",
        {  # sent before the 18th birthday
            "SSP_UID": "ref-before-18",
            "REFERRAL_DATE": ws.day(-300),
            "REFERRAL_TYPE": "community",
            "PARTNER_ID": "cgc",
            "REASON": "anxiety",
            "URGENCY": "routine",
            "STATUS": "sent",
            "STATUS_DATE": ws.day(-300),
        },
        student_dcid=adult["DCID"],
    )
    counts = _send(ws, "status_updates_a.csv", status_row("ref-before-18", "received", ws.day(0)))
    assert (counts["status_updates_applied"], counts["quarantined"]) == (0, 1)
    assert (
        ws.quarantined("cgc")[0]["reason"]
        == "consent: student is 18: needs the student's own consent"
    )

    ws.add_consent(adult["DCID"], "con-self", SIGNER_TYPE="eligible_student")
    counts = _send(ws, "status_updates_b.csv", status_row("ref-before-18", "accepted", ws.day(0)))
    assert counts["status_updates_applied"] == 1
    assert _state(ws, "ref-before-18")[0] == "accepted"

"""Every disclosure is decided on what PowerSchool says at that moment (issue 10, cases 1-3, 5, 6, 8).

The world changes under the connector: a registrar corrects a date of birth, a custody change
removes a guardian, a parent revokes or narrows a consent, a consent row is deleted, a referral is
copied on the page. Several changes here land at the worst moment, after the streams were read and
just before the decision (`sandbox.on_request` applies them when the snapshot request arrives).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from e2e_helpers import Workspace, status_row, visit_row

SNAPSHOT = "referrals.snapshot"


def _consent_row(ws: Workspace, uid: str) -> dict[str, Any]:
    return next(r for r in ws.sandbox.rows("U_SSP_CONSENTS") if r["SSP_UID"] == uid)


def _years_ago(ws: Workspace, years: int, days: int = 0) -> str:
    return (ws.today.replace(year=ws.today.year - years) - dt.timedelta(days=days)).isoformat()


def _sent_ids(ws: Workspace, partner: str = "cgc") -> list[str]:
    return [r["referral_id"] for r in ws.outbox_rows(partner)]


def _disclosed(ws: Workspace, uid: str) -> list[dict[str, Any]]:
    return [r for r in ws.sandbox.rows("U_SSP_DISCLOSURES") if r["REFERRAL_UID"] == uid]


# ---------------------------------------------------------------- case 1: stale student data


def test_held_referral_is_decided_on_the_corrected_date_of_birth_not_the_mirrored_one(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-dob")
    first = ws.sync()
    assert ws.referral("ref-dob")["STATUS_REASON"] == "awaiting consent"
    assert first["partners"]["cgc"]["referrals_held"]["by_reason"] == {"awaiting_consent": 1}
    # The registrar corrects the DOB (the student is 19); the referral row does not change, so
    # no stream carries it. Then a parent signs.
    ws.sandbox.update_row("STUDENTS", student["DCID"], {"DOB": _years_ago(ws, 19)})
    ws.add_consent(student["DCID"], "con-parent")
    second = ws.sync()
    row = ws.referral("ref-dob")
    assert (row["STATUS"], row["STATUS_REASON"]) == ("new", "student is 18: needs the student's own consent")
    assert second["partners"]["cgc"]["referrals_held"]["by_reason"] == {"student_is_18": 1}
    assert _sent_ids(ws) == [] and _disclosed(ws, "ref-dob") == []
    # The student signs their own consent: it goes, under that consent.
    ws.add_consent(student["DCID"], "con-self", SIGNER_TYPE="eligible_student")
    ws.sync()
    assert _sent_ids(ws) == ["ref-dob"]
    assert [d["LEGAL_BASIS"] for d in _disclosed(ws, "ref-dob")] == ["consent:con-self"]


def test_custody_change_after_the_stream_read_reaches_the_partner_file(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-custody")
    ws.add_consent(student["DCID"], "con-custody")
    ws.sandbox.on_request("POST", SNAPSHOT, lambda: ws.sandbox.update_row(
        "STUDENTS", student["DCID"],
        {"MOTHER": "", "FATHER": "Sam Guardian", "HOME_PHONE": "555-555-0199"}))
    ws.sync()
    assert ws.sandbox.pending_hooks() == 0, "the change was never applied"
    [sent] = ws.outbox_rows("cgc")
    assert (sent["guardian_name"], sent["guardian_phone"]) == ("Sam Guardian", "555-555-0199")
    assert student["MOTHER"] not in sent.values()


def test_student_turning_adult_by_a_correction_made_just_before_the_send_is_held(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-late-dob")
    ws.add_consent(student["DCID"], "con-late-dob")
    ws.sandbox.on_request("POST", SNAPSHOT, lambda: ws.sandbox.update_row(
        "STUDENTS", student["DCID"], {"DOB": _years_ago(ws, 18, days=3)}))
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_held"]["by_reason"] == {"student_is_18": 1}
    assert _sent_ids(ws) == [] and ws.sandbox.rows("U_SSP_DISCLOSURES") == []


# ---------------------------------------------------------------- case 2: consent changed late


def test_consent_revoked_after_the_stream_read_stops_the_send_in_that_run(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-rev")
    consent_id = ws.add_consent(student["DCID"], "con-rev")
    ws.sandbox.on_request("POST", SNAPSHOT, lambda: ws.sandbox.update_row(
        "U_SSP_CONSENTS", consent_id, {"REVOKED_DATE": ws.day(0)}))
    summary = ws.sync()
    assert ws.sandbox.pending_hooks() == 0
    assert summary["partners"]["cgc"]["referrals_sent"] == 0
    assert ws.referral("ref-rev")["STATUS_REASON"] == "consent revoked"
    assert _sent_ids(ws) == [] and ws.sandbox.rows("U_SSP_DISCLOSURES") == []
    assert ws.state_rows("disclosures") == []


def test_consent_narrowed_after_the_stream_read_sends_only_what_it_still_covers(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-narrow")
    consent_id = ws.add_consent(student["DCID"], "con-narrow")
    ws.sandbox.on_request("POST", SNAPSHOT, lambda: ws.sandbox.update_row(
        "U_SSP_CONSENTS", consent_id, {"DATA_CATEGORIES": "identity,referral"}))
    ws.sync()
    [sent] = ws.outbox_rows("cgc")
    assert sent["first_name"] == student["FIRST_NAME"]
    assert (sent["guardian_name"], sent["guardian_phone"], sent["school_name"], sent["grade"]) == ("",) * 4
    [disclosure] = _disclosed(ws, "ref-narrow")
    assert disclosure["DATA_CATEGORIES"] == "identity,referral"


def test_consent_narrowed_below_the_referral_itself_holds_it(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-narrower")
    consent_id = ws.add_consent(student["DCID"], "con-narrower")
    ws.sandbox.on_request("POST", SNAPSHOT, lambda: ws.sandbox.update_row(
        "U_SSP_CONSENTS", consent_id, {"DATA_CATEGORIES": "identity"}))
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_held"]["by_reason"] == {"consent_categories": 1}
    assert ws.referral("ref-narrower")["STATUS_REASON"] == "consent does not cover referral"
    assert _sent_ids(ws) == []


def test_consent_deleted_after_the_stream_read_holds_the_referral(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-gone")
    consent_id = ws.add_consent(student["DCID"], "con-gone")
    ws.sandbox.on_request("POST", SNAPSHOT,
                          lambda: ws.sandbox.delete_row("U_SSP_CONSENTS", consent_id))
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_held"]["by_reason"] == {"awaiting_consent": 1}
    assert _sent_ids(ws) == []


# ---------------------------------------------------------------- case 3: inbound on fresh consents


def _sent_referral(ws: Workspace, uid: str) -> tuple[dict[str, Any], int]:
    student = ws.minor()
    ws.add_referral(student["DCID"], uid)
    consent_id = ws.add_consent(student["DCID"], f"con-{uid}")
    ws.sync()
    assert ws.referral(uid)["STATUS"] == "sent"
    return student, consent_id


def test_consent_deleted_on_the_page_stops_inbound_status_updates_and_visits(ws: Workspace) -> None:
    student, consent_id = _sent_referral(ws, "ref-in")
    ws.sandbox.delete_row("U_SSP_CONSENTS", consent_id)  # no stream shows a deletion
    ws.write_inbox("cgc", "status_updates_1.csv", [status_row("ref-in", "accepted", ws.day(0))])
    ws.write_inbox("cgc", "visits_1.csv", [visit_row("V-1", str(student["STUDENT_NUMBER"]), ws.day(0), "ref-in")])
    summary = ws.sync()
    stats = summary["partners"]["cgc"]
    assert (stats["status_updates_applied"], stats["visits_created"], stats["quarantined"]) == (0, 0, 2)
    assert ws.referral("ref-in")["STATUS"] == "sent"
    assert ws.sandbox.rows("U_SSP_VISITS") == []
    reasons = sorted(q["reason"] for q in ws.quarantined("cgc"))
    assert reasons == ["consent: no consent on file for this partner"] * 2


def test_consent_revoked_after_the_stream_read_stops_inbound_in_that_run(ws: Workspace) -> None:
    student, consent_id = _sent_referral(ws, "ref-in-rev")
    ws.write_inbox("cgc", "status_updates_1.csv", [status_row("ref-in-rev", "accepted", ws.day(0))])
    ws.sandbox.on_request("POST", SNAPSHOT, lambda: ws.sandbox.update_row(
        "U_SSP_CONSENTS", consent_id, {"REVOKED_DATE": ws.day(0)}))
    summary = ws.sync()
    assert summary["partners"]["cgc"]["status_updates_applied"] == 0
    assert [q["reason"] for q in ws.quarantined("cgc")] == ["consent: consent revoked"]


# ---------------------------------------------------------------- case 5: one SSP_UID, two rows


def test_two_referral_rows_with_one_ssp_uid_are_both_held_naming_each_other(ws: Workspace) -> None:
    student = ws.minor()
    first = ws.add_referral(student["DCID"], "ref-twice")
    second = ws.add_referral(student["DCID"], "ref-twice")  # a copy-paste on the page
    ws.add_consent(student["DCID"], "con-twice")
    summary = ws.sync()
    rows = {r["ID"]: r for r in ws.sandbox.rows("U_SSP_REFERRALS") if r["SSP_UID"] == "ref-twice"}
    assert {i: (r["STATUS"], r["STATUS_REASON"]) for i, r in rows.items()} == {
        first: ("new", f"duplicate: referral row ID {second} has the same SSP_UID; delete or correct the copy on the page"),
        second: ("new", f"duplicate: referral row ID {first} has the same SSP_UID; delete or correct the copy on the page"),
    }
    assert summary["partners"]["cgc"]["referrals_held"]["by_reason"] == {"duplicate_referral_id": 2}
    assert _sent_ids(ws) == [] and ws.sandbox.rows("U_SSP_DISCLOSURES") == []
    # Staff delete the copy: the referral goes out once, from the row that is left.
    ws.sandbox.delete_row("U_SSP_REFERRALS", second)
    ws.sync()
    assert _sent_ids(ws) == ["ref-twice"]
    assert ws.sandbox.row("U_SSP_REFERRALS", first)["STATUS"] == "sent"


def test_a_copy_of_a_sent_referral_makes_partner_updates_for_it_ambiguous(ws: Workspace) -> None:
    student, _ = _sent_referral(ws, "ref-copied")
    original = ws.referral("ref-copied")
    copy = {k: v for k, v in original.items() if k not in ("ID", "WHOCREATED", "WHENCREATED",
                                                          "WHOMODIFIED", "WHENMODIFIED")}
    copy_id = ws.sandbox.insert_row("U_SSP_REFERRALS", copy)
    ws.write_inbox("cgc", "status_updates_1.csv", [status_row("ref-copied", "accepted", ws.day(0))])
    summary = ws.sync()
    assert summary["partners"]["cgc"]["status_updates_applied"] == 0
    assert [q["reason"] for q in ws.quarantined("cgc")] == [
        "referral_id: ambiguous: more than one referral row in PowerSchool has this id"]
    assert ws.sandbox.row("U_SSP_REFERRALS", original["ID"])["STATUS"] == "sent"
    assert ws.sandbox.row("U_SSP_REFERRALS", copy_id)["STATUS"] == "sent"
    held = {ws.sandbox.row("U_SSP_REFERRALS", i)["STATUS_REASON"] for i in (original["ID"], copy_id)}
    assert held == {f"duplicate: referral row ID {copy_id} has the same SSP_UID; delete or correct the copy on the page",
                    f"duplicate: referral row ID {original['ID']} has the same SSP_UID; delete or correct the copy on the page"}
    assert summary["partners"]["cgc"]["referrals_held"]["by_reason"] == {"duplicate_referral_id": 2}


# ---------------------------------------------------------------- case 6: impossible DOB


def test_a_date_of_birth_in_the_future_or_before_1900_holds_the_referral(ws: Workspace) -> None:
    future, ancient = ws.minor(0), ws.minor(1)
    ws.sandbox.update_row("STUDENTS", future["DCID"], {"DOB": ws.day(30)})
    ws.sandbox.update_row("STUDENTS", ancient["DCID"], {"DOB": "1850-01-01"})
    for student, uid in ((future, "ref-future"), (ancient, "ref-1850")):
        ws.add_referral(student["DCID"], uid)
        ws.add_consent(student["DCID"], f"con-{uid}")
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_held"]["by_reason"] == {"student_dob_invalid": 2}
    reason = ("student date of birth is impossible (unreadable, in the future or before 1900): "
              "correct it in PowerSchool")
    assert ws.referral("ref-future")["STATUS_REASON"] == reason
    assert ws.referral("ref-1850")["STATUS_REASON"] == reason
    assert _sent_ids(ws) == []


def test_a_corrected_date_of_birth_releases_the_held_referral_at_the_first_run_of_the_next_day(
    ws: Workspace,
) -> None:
    from zoneinfo import ZoneInfo

    from e2e_helpers import TIMEZONE

    student = ws.minor()
    ws.sandbox.update_row("STUDENTS", student["DCID"], {"DOB": ws.day(30)})  # a typo: the future
    ws.add_referral(student["DCID"], "ref-typo")
    ws.add_consent(student["DCID"], "con-typo")
    ws.sync()
    held = ws.referral("ref-typo")
    assert held["STATUS_REASON"].startswith("student date of birth is impossible")
    # Held since last week: its row is outside the streams' lookback window.
    ws.sandbox.update_row("U_SSP_REFERRALS", held["ID"], {}, when=ws.day(-7))
    ws.sync()
    # The registrar corrects the DOB: the STUDENTS row changes, the referral row does not, so no
    # stream carries the change. A later run the same day does not read the held referral again
    # (a run with nothing new stays cheap) ...
    ws.sandbox.update_row("STUDENTS", student["DCID"], {"DOB": _years_ago(ws, 12)})
    ws.sandbox.reset_log()
    ws.sync()
    assert not any(SNAPSHOT in e.path for e in ws.sandbox.request_log)
    assert ws.referral("ref-typo")["STATUS"] == "new" and _sent_ids(ws) == []
    # ... the first run of the next district day reads every held referral on a fresh snapshot.
    ws.sync_at(dt.datetime.combine(ws.today + dt.timedelta(days=1), dt.time(4, 15),
                                  ZoneInfo(TIMEZONE)))
    row = ws.referral("ref-typo")
    assert (row["STATUS"], _sent_ids(ws)) == ("sent", ["ref-typo"])
    assert [d["LEGAL_BASIS"] for d in _disclosed(ws, "ref-typo")] == ["consent:con-typo"]


# ---------------------------------------------------------------- case 8: consent_expires


def test_consent_expires_sent_is_the_earlier_of_the_consent_and_the_mou(ws: Workspace) -> None:
    student_a, student_b = ws.minor(0), ws.minor(1)
    ws.add_referral(student_a["DCID"], "ref-mou-first")
    ws.add_consent(student_a["DCID"], "con-long", EXPIRATION_DATE=ws.day(400))
    ws.add_referral(student_b["DCID"], "ref-consent-first")
    ws.add_consent(student_b["DCID"], "con-short", EXPIRATION_DATE=ws.day(30))
    ws.sync()
    expires = {r["referral_id"]: r["consent_expires"] for r in ws.outbox_rows("cgc")}
    mou_end = ws.config.partner("cgc").mou.expires.isoformat()
    assert expires == {"ref-mou-first": mou_end, "ref-consent-first": ws.day(30)}

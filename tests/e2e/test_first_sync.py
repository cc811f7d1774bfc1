"""A first sync against a fresh PowerSchool: what goes out, what PowerSchool records, what is
kept locally."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from e2e_helpers import STAMP, Workspace

from connector.records import OUTBOUND_REFERRAL_COLUMNS, REDISCLOSURE_NOTICE
from ssp.demo_scenario import HELD_CASES

CGC_CATEGORIES = "enrollment,guardian_contact,identity,referral"
BHCARE_CATEGORIES = "identity,referral"


@pytest.fixture
def first(ws: Workspace):
    side = ws.seed(referrals=9)
    summary = ws.sync()
    return side, summary


def _us(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%m/%d/%Y")


def test_first_sync_summary_counts_sent_held_and_disclosed(ws: Workspace, first) -> None:
    side, summary = first
    cgc, bhcare = summary["partners"]["cgc"], summary["partners"]["bhcare"]
    assert summary["dry_run"] is False
    assert cgc["referrals_sent"] == len(side.sent["cgc"]) == 6
    assert bhcare["referrals_sent"] == len(side.sent["bhcare"]) == 3
    assert cgc["disclosures_recorded"] == 6 and bhcare["disclosures_recorded"] == 3
    assert cgc["referrals_held"] == {
        "total": len(HELD_CASES),
        "by_reason": {case: 1 for case in HELD_CASES},
    }
    assert bhcare["referrals_held"] == {"total": 0, "by_reason": {}}
    for key in ("run_id", "started_at", "finished_at"):
        assert summary[key]


def test_generic_partner_gets_every_category_its_mou_and_consent_allow(
    ws: Workspace, first
) -> None:
    side, summary = first
    rows = ws.outbox_rows("cgc")
    assert [r["referral_id"] for r in rows] == side.sent["cgc"]
    referrals = {r["SSP_UID"]: r for r in ws.sandbox.rows("U_SSP_REFERRALS")}
    schools = {s["SCHOOL_NUMBER"]: s["NAME"] for s in ws.sandbox.schools()}
    for row in rows:
        assert list(row) == list(OUTBOUND_REFERRAL_COLUMNS)
        uid = row["referral_id"]
        student = ws.student(side.student_of[uid])
        referral = referrals[uid]
        assert row == {
            "referral_id": uid,
            "referral_date": referral["REFERRAL_DATE"],
            "partner_id": "cgc",
            "student_number": str(student["STUDENT_NUMBER"]),
            "first_name": student["FIRST_NAME"],
            "last_name": student["LAST_NAME"],
            "date_of_birth": student["DOB"],
            "school_name": schools[student["SCHOOLID"]],
            "grade": str(student["GRADE_LEVEL"]),
            "guardian_name": student["MOTHER"] or student["FATHER"],
            "guardian_phone": student["HOME_PHONE"],
            "reason_codes": referral["REASON"],
            "urgency": referral["URGENCY"],
            "referred_by": referral["REFERRED_BY"],
            "consent_id": side.consents[uid],
            # the consent runs to day 345 but cgc's MOU ends on day 245: the earlier one
            "consent_expires": ws.day(245),
        }


def test_bhcare_gets_only_identity_and_referral_in_its_own_format(ws: Workspace, first) -> None:
    side, _ = first
    rows = ws.outbox_rows("bhcare")
    assert [r["ClientRefNo"] for r in rows] == side.sent["bhcare"]
    reason_codes = {
        "anxiety": "ANX",
        "depression": "DEP",
        "behavior": "BEH",
        "trauma": "TRA",
        "family_stress": "FAM",
        "grief": "GRF",
        "attendance": "ATT",
        "social_skills": "SOC",
    }
    for row in rows:
        uid = row["ClientRefNo"]
        student = ws.student(side.student_of[uid])
        referral = ws.referral(uid)
        assert row == {
            "ClientRefNo": uid,
            "ReferralDt": _us(referral["REFERRAL_DATE"]),
            "AgencyCode": "bhcare",
            "StudentID": str(student["STUDENT_NUMBER"]),
            "FirstName": student["FIRST_NAME"],
            "LastName": student["LAST_NAME"],
            "DOB": _us(student["DOB"]),
            # the bhcare MOU lists neither enrollment nor guardian_contact: those stay empty
            "School": "",
            "Grade": "",
            "GuardianName": "",
            "GuardianPhone": "",
            "PresentingProblems": ";".join(reason_codes[c] for c in referral["REASON"].split(",")),
            "Priority": {"routine": "ROUTINE", "urgent": "URGENT"}[referral["URGENCY"]],
            "ReferredBy": referral["REFERRED_BY"],
            "ReleaseID": side.consents[uid],
            "ReleaseExpDt": _us(ws.day(345)),
        }


def test_each_outbound_file_comes_with_its_redisclosure_notice(ws: Workspace, first) -> None:
    _, summary = first
    run_id = summary["run_id"]
    for partner in ("cgc", "bhcare"):
        assert ws.outbox_files(partner) == [f"NOTICE_{run_id}.txt", f"referrals_{run_id}.csv"]
        notice = (ws.outbox(partner) / f"NOTICE_{run_id}.txt").read_text(encoding="utf-8")
        assert REDISCLOSURE_NOTICE in notice and run_id in notice
        text = (ws.outbox(partner) / f"referrals_{run_id}.csv").read_text(encoding="utf-8")
        assert "Private note" not in text  # NOTES never leave the district


def test_sent_referrals_are_marked_sent_and_held_ones_say_why(ws: Workspace, first) -> None:
    side, summary = first
    for uid in side.sent["cgc"] + side.sent["bhcare"]:
        row = ws.referral(uid)
        assert (row["STATUS"], row["STATUS_REASON"] or "", row["ACCESS_RESULT"]) == (
            "sent",
            "",
            "pending",
        )
        assert re.match(STAMP, row["LAST_SENT"])
        assert row["STATUS_DATE"] == ws.day(0)
    reasons = {
        "consent_expired": "consent expired",
        "consent_revoked": "consent revoked",
        "consent_wrong_direction": "consent direction does not allow sending",
        "consent_categories": "consent does not cover referral",
        "awaiting_consent": "awaiting consent",
        "student_is_18": "student is 18: needs the student's own consent",
    }
    for uid, case in side.held.items():
        row = ws.referral(uid)
        assert (row["STATUS"], row["STATUS_REASON"], row["LAST_SENT"]) == (
            "new",
            reasons[case],
            None,
        )
    for uid in side.school_based:  # no partner: served in school, never sent, never held
        row = ws.referral(uid)
        assert (row["STATUS"], row["STATUS_REASON"], row["LAST_SENT"]) == ("new", None, None)


def test_one_disclosure_row_and_one_local_entry_per_record_sent(ws: Workspace, first) -> None:
    side, summary = first
    sent = {uid: p for p in ("cgc", "bhcare") for uid in side.sent[p]}
    rows = ws.sandbox.rows("U_SSP_DISCLOSURES")
    assert sorted(r["REFERRAL_UID"] for r in rows) == sorted(sent)
    local = {d["ssp_uid"]: d for d in ws.state_rows("disclosures")}
    assert len(local) == len(rows)
    for row in rows:
        uid = row["REFERRAL_UID"]
        referral = ws.referral(uid)
        assert row["STUDENTSDCID"] == side.student_of[uid]
        assert (row["PARTNER_ID"], row["DIRECTION"], row["LEGAL_BASIS"], row["RUN_ID"]) == (
            sent[uid],
            "to_partner",
            f"consent:{side.consents[uid]}",
            summary["run_id"],
        )
        assert row["DATA_CATEGORIES"] == (
            CGC_CATEGORIES if sent[uid] == "cgc" else BHCARE_CATEGORIES
        )
        assert row["DISCLOSED_AT"] == referral["LAST_SENT"]
        assert row["PURPOSE"]
        entry = local[row["SSP_UID"]]
        assert (
            entry["referral_uid"],
            entry["partner_id"],
            entry["disclosed_at"],
            entry["pushed"],
        ) == (uid, sent[uid], row["DISCLOSED_AT"], 1)


def test_disclosures_command_prints_the_students_record_as_json_and_csv(
    ws: Workspace, first
) -> None:
    side, summary = first
    uid = side.sent["bhcare"][0]
    number = str(ws.student(side.student_of[uid])["STUDENT_NUMBER"])
    result = ws.ssp("disclosures", "--student", number, "--format", "json")
    assert result.code == 0
    record = result.json
    assert record["student_number"] == number
    [entry] = record["disclosures"]
    assert (
        entry["partner_id"],
        entry["referral_uid"],
        entry["direction"],
        entry["legal_basis"],
    ) == ("bhcare", uid, "to_partner", f"consent:{side.consents[uid]}")
    assert entry["data_categories"] == BHCARE_CATEGORIES
    assert entry["run_id"] == summary["run_id"]

    result = ws.ssp("disclosures", "--student", number, "--format", "csv")
    assert result.code == 0
    header, line, *rest = result.stdout.splitlines()
    assert rest == []
    assert header.split(",")[:2] == ["ssp_uid", "student_number"]
    assert uid in line and "bhcare" in line and f"consent:{side.consents[uid]}" in line

    nobody = ws.ssp("disclosures", "--student", "424242", "--format", "json")
    assert nobody.code == 2 and "no student with student number 424242" in nobody.stderr


def test_partner_directory_matches_the_configuration(ws: Workspace, first) -> None:
    rows = sorted(ws.sandbox.rows("U_SSP_PARTNERS"), key=lambda r: r["PARTNER_ID"])
    config = {p.id: p for p in ws.config.partners}
    assert [r["PARTNER_ID"] for r in rows] == sorted(config)
    for row in rows:
        partner = config[row["PARTNER_ID"]]
        assert (
            row["NAME"],
            row["SERVICES"],
            row["MOU_EFFECTIVE"],
            row["MOU_EXPIRES"],
            row["ACTIVE"],
        ) == (
            partner.name,
            partner.services,
            partner.mou.effective.isoformat(),
            partner.mou.expires.isoformat(),
            1,
        )
        assert len(row["SSP_UID"]) == 36


def test_sent_status_date_is_the_district_day_when_utc_is_already_tomorrow(ws: Workspace) -> None:
    from zoneinfo import ZoneInfo

    from e2e_helpers import TIMEZONE

    side = ws.seed(referrals=3)
    late = dt.datetime.combine(ws.today, dt.time(23, 30), ZoneInfo(TIMEZONE))  # 04:30 UTC next day
    ws.sync_at(late)
    row = ws.referral(side.sent["cgc"][0])
    assert row["LAST_SENT"] == late.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert row["STATUS_DATE"] == ws.day(0)

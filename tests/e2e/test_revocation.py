"""A consent revoked after its referral went out: the partner is told once, and nothing more is
accepted or sent under it (SPEC 5 and 7)."""

from __future__ import annotations

from e2e_helpers import Workspace, status_row, visit_row

from connector.records import REDISCLOSURE_NOTICE
from ssp.demo_scenario import revoke_one_consent


def test_revoked_consent_sends_a_revocation_notice_once(ws: Workspace) -> None:
    side = ws.seed(referrals=3)
    ws.sync()
    uid = revoke_one_consent(ws.sandbox, side, ws.today)

    summary = ws.sync()
    run_id = summary["run_id"]
    assert summary["partners"]["cgc"]["revocations_sent"] == 1
    assert f"revocations_{run_id}.csv" in ws.outbox_files("cgc")
    assert REDISCLOSURE_NOTICE in (ws.outbox("cgc") / f"NOTICE_{run_id}.txt").read_text(
        encoding="utf-8"
    )
    [row] = ws.outbox_rows("cgc", "revocations_")
    assert {k: v for k, v in row.items() if k != "instruction"} == {
        "referral_id": uid,
        "partner_id": "cgc",
        "consent_id": side.consents[uid],
        "revoked_date": ws.day(0),
    }
    assert row["instruction"]
    assert ws.referral(uid)["STATUS"] == "sent"  # already sent: the referral itself is unchanged

    files = ws.outbox_files("cgc")
    for _ in range(2):
        again = ws.sync()
        assert again["partners"]["cgc"]["revocations_sent"] == 0
    assert ws.outbox_files("cgc") == files


def test_revocation_notice_uses_the_partners_format(ws: Workspace) -> None:
    side = ws.seed(referrals=3)
    ws.sync()
    uid = side.sent["bhcare"][0]
    consent = next(
        r for r in ws.sandbox.rows("U_SSP_CONSENTS") if r["SSP_UID"] == side.consents[uid]
    )
    ws.sandbox.update_row("U_SSP_CONSENTS", consent["ID"], {"REVOKED_DATE": ws.day(0)})

    assert ws.sync()["partners"]["bhcare"]["revocations_sent"] == 1
    [row] = ws.outbox_rows("bhcare", "revocations_")
    assert (row["ClientRefNo"], row["AgencyCode"], row["ReleaseID"], row["RevokedDt"]) == (
        uid,
        "bhcare",
        side.consents[uid],
        ws.today.strftime("%m/%d/%Y"),
    )


def test_revocation_dated_in_the_future_waits_for_its_day(ws: Workspace) -> None:
    side = ws.seed(referrals=3)
    ws.sync()
    uid = side.sent["cgc"][0]
    consent = next(
        r for r in ws.sandbox.rows("U_SSP_CONSENTS") if r["SSP_UID"] == side.consents[uid]
    )
    ws.sandbox.update_row("U_SSP_CONSENTS", consent["ID"], {"REVOKED_DATE": ws.day(3)})
    assert ws.sync()["partners"]["cgc"]["revocations_sent"] == 0
    assert ws.outbox_rows("cgc", "revocations_") == []


def test_inbound_data_under_a_revoked_consent_is_quarantined(ws: Workspace) -> None:
    side = ws.seed(referrals=3)
    ws.sync()
    uid = revoke_one_consent(ws.sandbox, side, ws.today)
    ws.sync()
    number = str(ws.student(side.student_of[uid])["STUDENT_NUMBER"])
    ws.write_inbox("cgc", "status_updates_late.csv", [status_row(uid, "received", ws.day(0))])
    ws.write_inbox("cgc", "visits_late.csv", [visit_row("CGC-LATE", number, ws.day(0), uid)])

    summary = ws.sync()["partners"]["cgc"]
    assert (
        summary["status_updates_applied"],
        summary["visits_created"],
        summary["quarantined"],
    ) == (0, 0, 2)
    assert ws.referral(uid)["STATUS"] == "sent"
    assert not [v for v in ws.sandbox.rows("U_SSP_VISITS") if v["PARTNER_VISIT_ID"] == "CGC-LATE"]
    reasons = sorted((q["_file"].split("_", 1)[1], q["reason"]) for q in ws.quarantined("cgc"))
    assert reasons == [
        ("status_update_status_updates_late.csv", "consent: consent revoked"),
        ("visit_visits_late.csv", "consent: consent revoked"),
    ]


def test_referral_of_a_revoked_consent_is_not_sent_again_after_staff_reset_it(
    ws: Workspace,
) -> None:
    side = ws.seed(referrals=3)
    ws.sync()
    uid = revoke_one_consent(ws.sandbox, side, ws.today)
    ws.sandbox.update_row(
        "U_SSP_REFERRALS", ws.referral(uid)["ID"], {"STATUS": "new", "URGENCY": "urgent"}
    )
    summary = ws.sync()["partners"]["cgc"]
    assert summary["referrals_sent"] == 0
    assert summary["referrals_held"]["by_reason"]["consent_revoked"] == 2  # this one and the demo's
    assert ws.referral(uid)["STATUS_REASON"] == "consent revoked"
    assert [r["referral_id"] for r in ws.outbox_rows("cgc")].count(uid) == 1

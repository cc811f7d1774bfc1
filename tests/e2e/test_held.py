"""Referrals the consent and MOU rules hold back: they stay `new` with the reason, and go out on a
later run once the rule is met (SPEC 7)."""

from __future__ import annotations

import datetime as dt

from e2e_helpers import Workspace


def _adult(ws: Workspace) -> dict:
    for student in ws.sandbox.students():
        dob = dt.date.fromisoformat(student["DOB"])
        if student["GRADE_LEVEL"] == 12 and dob.replace(
            year=dob.year + 18
        ) <= ws.today - dt.timedelta(days=1):
            return student
    raise AssertionError("the sandbox seeds no adult student")


def _held(
    ws: Workspace, summary: dict, uid: str, code: str, reason: str, partner: str = "cgc"
) -> None:
    row = ws.referral(uid)
    assert (row["STATUS"], row["STATUS_REASON"], row["LAST_SENT"]) == ("new", reason, None)
    assert summary["partners"][partner]["referrals_held"]["by_reason"].get(code, 0) >= 1
    assert uid not in [
        r.get("referral_id") or r.get("ClientRefNo") for r in ws.outbox_rows(partner)
    ]
    assert uid not in [r["REFERRAL_UID"] for r in ws.sandbox.rows("U_SSP_DISCLOSURES")]


def _sent(ws: Workspace, summary: dict, uid: str, consent_uid: str, partner: str = "cgc") -> None:
    row = ws.referral(uid)
    assert row["STATUS"] == "sent" and not row["STATUS_REASON"] and row["LAST_SENT"]
    assert summary["partners"][partner]["referrals_sent"] == 1
    assert [r["referral_id"] for r in ws.outbox_rows(partner)].count(uid) == 1
    [disclosure] = [r for r in ws.sandbox.rows("U_SSP_DISCLOSURES") if r["REFERRAL_UID"] == uid]
    assert disclosure["LEGAL_BASIS"] == f"consent:{consent_uid}"


def test_referral_without_consent_waits_and_goes_once_a_valid_consent_is_signed(
    ws: Workspace,
) -> None:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-wait")
    _held(ws, ws.sync(), "ref-wait", "awaiting_consent", "awaiting consent")

    ws.add_consent(student["DCID"], "con-late")
    _sent(ws, ws.sync(), "ref-wait", "con-late")


def test_expired_consent_holds_until_a_new_one_is_signed(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(
        student["DCID"],
        "con-old",
        SIGNED_DATE=ws.day(-400),
        EFFECTIVE_DATE=ws.day(-400),
        EXPIRATION_DATE=ws.day(-1),
    )
    ws.add_referral(student["DCID"], "ref-exp")
    _held(ws, ws.sync(), "ref-exp", "consent_expired", "consent expired")

    ws.add_consent(student["DCID"], "con-renewed")
    _sent(ws, ws.sync(), "ref-exp", "con-renewed")


def test_consent_revoked_before_sending_holds_the_referral(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-rev", REVOKED_DATE=ws.day(0))
    ws.add_referral(student["DCID"], "ref-rev")
    _held(ws, ws.sync(), "ref-rev", "consent_revoked", "consent revoked")
    assert ws.outbox_files("cgc") == []


def test_consent_for_the_other_direction_only_holds_the_referral(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-in", DIRECTION="from_partner")
    ws.add_referral(student["DCID"], "ref-dir")
    _held(
        ws,
        ws.sync(),
        "ref-dir",
        "consent_wrong_direction",
        "consent direction does not allow sending",
    )


def test_consent_not_covering_the_referral_category_holds_the_referral(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-narrow", DATA_CATEGORIES="identity,referral_status")
    ws.add_referral(student["DCID"], "ref-cat")
    _held(ws, ws.sync(), "ref-cat", "consent_categories", "consent does not cover referral")


def test_consent_for_another_partner_does_not_release_the_referral(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-bh", partner="bhcare")
    ws.add_referral(student["DCID"], "ref-other")
    _held(ws, ws.sync(), "ref-other", "awaiting_consent", "awaiting consent")


def test_student_who_turned_18_needs_their_own_consent(ws: Workspace) -> None:
    student = _adult(ws)
    ws.add_consent(
        student["DCID"], "con-parent", SIGNED_DATE=ws.day(-400), EFFECTIVE_DATE=ws.day(-400)
    )
    ws.add_referral(student["DCID"], "ref-adult")
    _held(
        ws,
        ws.sync(),
        "ref-adult",
        "student_is_18",
        "student is 18: needs the student's own consent",
    )

    ws.add_consent(student["DCID"], "con-self", SIGNER_TYPE="eligible_student")
    _sent(ws, ws.sync(), "ref-adult", "con-self")


def test_minor_own_consent_cannot_release_school_records(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-minor", SIGNER_TYPE="minor_self")
    ws.add_referral(student["DCID"], "ref-minor")
    _held(
        ws,
        ws.sync(),
        "ref-minor",
        "minor_self_outbound",
        "a minor's own consent cannot release school records",
    )


def test_expired_mou_holds_every_referral_to_that_partner(ws: Workspace) -> None:
    ws.write_config(mou_days={"cgc": (-400, -1)})
    side = ws.seed(referrals=9)
    summary = ws.sync()
    cgc = summary["partners"]["cgc"]
    expected = len(side.sent["cgc"]) + len(side.held)
    assert cgc["referrals_sent"] == 0
    assert cgc["referrals_held"] == {"total": expected, "by_reason": {"mou_expired": expected}}
    for uid in side.sent["cgc"]:
        _held(ws, summary, uid, "mou_expired", "MOU expired")
    assert ws.outbox_files("cgc") == []
    assert summary["partners"]["bhcare"]["referrals_sent"] == len(side.sent["bhcare"])
    active = {r["PARTNER_ID"]: r["ACTIVE"] for r in ws.sandbox.rows("U_SSP_PARTNERS")}
    assert active == {"cgc": 0, "bhcare": 1}


def test_mou_not_yet_in_force_holds_until_it_starts(ws: Workspace) -> None:
    ws.write_config(mou_days={"cgc": (5, 300)})
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-ok")
    ws.add_referral(student["DCID"], "ref-early")
    _held(ws, ws.sync(), "ref-early", "mou_not_in_force", "MOU not yet in force")

    ws.write_config(mou_days={"cgc": (0, 300)})  # the MOU is signed into force today
    _sent(ws, ws.sync(), "ref-early", "con-ok")
    assert {r["PARTNER_ID"]: r["ACTIVE"] for r in ws.sandbox.rows("U_SSP_PARTNERS")}["cgc"] == 1


def test_mou_not_listing_the_referral_category_holds_the_referral(ws: Workspace) -> None:
    ws.write_config(
        replace=[('to_partner = ["identity", "referral"]', 'to_partner = ["identity"]')]
    )
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-bh", partner="bhcare")
    ws.add_referral(student["DCID"], "ref-bh", partner="bhcare")
    _held(
        ws, ws.sync(), "ref-bh", "mou_categories", "MOU does not allow referral", partner="bhcare"
    )


def test_referral_to_a_partner_not_in_the_configuration_is_held_with_a_reason(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-typo", partner="cgcc")
    ws.add_referral(student["DCID"], "ref-typo", partner="cgcc")
    summary = ws.sync()
    row = ws.referral("ref-typo")
    assert (row["STATUS"], row["LAST_SENT"]) == ("new", None)
    assert row["STATUS_REASON"] == "partner is not configured in ssp.toml [[partners]]: not sent"
    assert summary["referrals_held_unknown_partner"] == 1
    assert not ws.sandbox.rows("U_SSP_DISCLOSURES")
    assert ws.sync("--partner", "cgc")["referrals_held_unknown_partner"] == 0  # only on full runs

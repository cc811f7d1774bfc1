"""`ssp check` against the installed plugins, and a district code a partner's format lacks."""

from __future__ import annotations

from e2e_helpers import Workspace


def test_check_passes_against_the_installed_plugins(ws: Workspace) -> None:
    result = ws.ssp("check")
    assert result.code == 0, result.stdout
    assert result.json["ok"] is True and result.json["missing"] == []


def test_check_names_a_field_the_administrator_did_not_grant(ws: Workspace) -> None:
    ws.sandbox.revoke("U_SSP_REFERRALS", "LAST_SENT")
    result = ws.ssp("check")
    assert result.code == 1
    assert any("U_SSP_REFERRALS" in line and "LAST_SENT" in line for line in result.json["missing"])


def test_referral_with_a_code_the_partner_format_lacks_is_held_with_the_reason(ws: Workspace) -> None:
    ws.write_config(
        replace=[
            (
                "[choices.purpose]",
                '[choices.referral_reason]\nadd = [{ code = "vaping", label = "Vaping" }]\n\n'
                "[choices.purpose]",
            )
        ]
    )
    student = [s for s in ws.sandbox.students() if 3 <= s["GRADE_LEVEL"] <= 11][0]
    ws.add_consent(student["DCID"], "con-bh", partner="bhcare")
    ws.sandbox.insert_row(
        "U_SSP_REFERRALS",
        {
            "SSP_UID": "ref-vaping",
            "REFERRAL_DATE": ws.day(-1),
            "REFERRAL_TYPE": "community",
            "PARTNER_ID": "bhcare",
            "REASON": "anxiety,vaping",
            "URGENCY": "routine",
            "STATUS": "new",
        },
        student_dcid=student["DCID"],
    )
    summary = ws.sync()["partners"]["bhcare"]
    assert summary["referrals_held"]["by_reason"] == {"partner_format": 1}
    row = ws.referral("ref-vaping")
    assert row["STATUS"] == "new"
    assert row["STATUS_REASON"].startswith("cannot be written in the partner's format: reason_codes")
    assert ws.outbox_files("bhcare") == []

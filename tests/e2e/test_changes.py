"""Changes between runs: rows committed late, referrals staff edit and send again, partners added
to or removed from the configuration."""

from __future__ import annotations

import datetime as dt

from e2e_helpers import Workspace


def test_row_committed_late_with_an_earlier_timestamp_is_still_picked_up(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-1")
    ws.sync()
    watermark = ws.ssp("sync", "status").json["watermarks"]["consents"]
    # a transaction that began before the last run committed after it: WHENMODIFIED is earlier
    # than the watermark, inside the lookback window
    late = dt.datetime.strptime(watermark, "%Y-%m-%d %H:%M:%S") - dt.timedelta(minutes=5)
    ws.add_referral(student["DCID"], "ref-late", when=late.strftime("%Y-%m-%d %H:%M:%S"))
    assert ws.sync()["partners"]["cgc"]["referrals_sent"] == 1
    assert ws.referral("ref-late")["STATUS"] == "sent"


def test_referral_changed_and_set_back_to_new_is_sent_again_as_a_new_record(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-1")
    row_id = ws.add_referral(student["DCID"], "ref-edit")
    ws.sync()
    ws.sandbox.update_row("U_SSP_REFERRALS", row_id, {"STATUS": "new", "URGENCY": "urgent"})
    summary = ws.sync()["partners"]["cgc"]
    assert (summary["referrals_sent"], summary["disclosures_recorded"]) == (1, 1)
    rows = ws.outbox_rows("cgc")
    assert sorted((r["referral_id"], r["urgency"]) for r in rows) == [
        ("ref-edit", "routine"),
        ("ref-edit", "urgent"),
    ]
    assert len(ws.sandbox.rows("U_SSP_DISCLOSURES")) == 2
    assert ws.referral("ref-edit")["STATUS"] == "sent"


def test_referral_edited_while_sent_is_not_sent_again(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-1")
    row_id = ws.add_referral(student["DCID"], "ref-sent")
    ws.sync()
    ws.sandbox.update_row("U_SSP_REFERRALS", row_id, {"URGENCY": "urgent"})
    assert ws.sync()["partners"]["cgc"]["referrals_sent"] == 0
    assert len(ws.outbox_rows("cgc")) == 1


def test_partner_removed_from_the_configuration_is_marked_inactive(ws: Workspace) -> None:
    ws.sync()
    text = ws.path.read_text(encoding="utf-8")
    bhcare = text.index('[[partners]]\nid = "bhcare"')
    ws.path.write_text(text[:bhcare], encoding="utf-8")
    summary = ws.sync()
    assert set(summary["partners"]) == {"cgc"}
    active = {r["PARTNER_ID"]: r["ACTIVE"] for r in ws.sandbox.rows("U_SSP_PARTNERS")}
    assert active == {"cgc": 1, "bhcare": 0}


def test_partner_renamed_in_the_configuration_is_renamed_in_the_directory(ws: Workspace) -> None:
    ws.sync()
    ws.write_config(
        replace=[('name = "Child Guidance Center"', 'name = "Child & Family Guidance Center"')]
    )
    ws.sync()
    names = {r["PARTNER_ID"]: r["NAME"] for r in ws.sandbox.rows("U_SSP_PARTNERS")}
    assert names == {
        "cgc": "Child & Family Guidance Center",
        "bhcare": "Bridgeport Behavioral Health Care",
    }
    assert len(ws.sandbox.rows("U_SSP_PARTNERS")) == 2


def test_unchanged_referral_set_back_to_new_is_not_resent_and_says_why(ws: Workspace) -> None:
    student = ws.minor()
    ws.add_consent(student["DCID"], "con-1")
    row_id = ws.add_referral(student["DCID"], "ref-again")
    ws.sync()
    ws.sandbox.update_row("U_SSP_REFERRALS", row_id, {"STATUS": "new"})
    summary = ws.sync()["partners"]["cgc"]
    assert (summary["referrals_sent"], summary["duplicates_skipped"]) == (0, 1)
    row = ws.referral("ref-again")
    assert row["STATUS"] == "new"
    assert row["STATUS_REASON"] == (
        f"already sent unchanged on {ws.state_rows('outbound')[0]['written_at'][:10]}: "
        "change the referral to send it again"
    )
    assert len(ws.outbox_rows("cgc")) == 1 and len(ws.sandbox.rows("U_SSP_DISCLOSURES")) == 1

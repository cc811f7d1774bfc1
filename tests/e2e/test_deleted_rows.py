"""Rows staff delete on the page: the connector must not act on its stale copy of them."""

from __future__ import annotations

from e2e_helpers import Workspace


def test_deleted_consent_no_longer_releases_referrals(ws: Workspace) -> None:
    student = ws.minor()
    consent_id = ws.add_consent(student["DCID"], "con-mistake")
    ws.sync()  # the consent is now known to the connector
    ws.sandbox.delete_row("U_SSP_CONSENTS", consent_id)  # entered for the wrong student: deleted
    ws.add_referral(student["DCID"], "ref-after-delete")
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_sent"] == 0
    assert ws.outbox_rows("cgc") == []
    assert ws.referral("ref-after-delete")["STATUS"] == "new"


def test_deleted_held_referral_is_not_sent_when_a_consent_arrives(ws: Workspace) -> None:
    student = ws.minor(1)
    row_id = ws.add_referral(student["DCID"], "ref-deleted")
    ws.sync()  # held: awaiting consent
    ws.sandbox.delete_row("U_SSP_REFERRALS", row_id)
    ws.add_consent(student["DCID"], "con-new")
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_sent"] == 0
    assert ws.outbox_rows("cgc") == []
    assert ws.sandbox.rows("U_SSP_DISCLOSURES") == []


def test_status_update_for_a_referral_deleted_after_sending_is_quarantined(ws: Workspace) -> None:
    side = ws.seed(referrals=3)
    ws.sync()
    gone, kept = side.sent["cgc"]
    ws.sandbox.delete_row("U_SSP_REFERRALS", ws.referral(gone)["ID"])
    ws.write_inbox(
        "cgc",
        "status_updates_1.csv",
        [
            {
                "referral_id": gone,
                "status": "received",
                "status_date": ws.day(0),
                "first_service_date": "",
                "status_reason": "",
            },
            {
                "referral_id": kept,
                "status": "received",
                "status_date": ws.day(0),
                "first_service_date": "",
                "status_reason": "",
            },
        ],
    )
    counts = ws.sync()["partners"]["cgc"]
    assert (counts["status_updates_applied"], counts["quarantined"]) == (1, 1)
    assert ws.referral(kept)["STATUS"] == "received"
    [row] = ws.quarantined("cgc")
    assert row["referral_id"] == gone and "no longer in PowerSchool" in row["reason"]
    assert ws.sync()["status"] == "ok"


def test_referral_deleted_between_sending_and_recording_does_not_block_later_runs(
    ws: Workspace, monkeypatch
) -> None:
    import connector.send

    side = ws.seed(referrals=3)
    uid = side.sent["cgc"][0]
    real = connector.send._record_sent
    calls = []

    def crash_before_recording(ctx, partner_id, entries):  # noqa: ANN001, ANN202
        calls.append(partner_id)
        if len(calls) == 2:  # cgc's files are written; the run dies before PowerSchool is told
            raise KeyboardInterrupt
        return real(ctx, partner_id, entries)

    monkeypatch.setattr(connector.send, "_record_sent", crash_before_recording)
    assert ws.ssp("sync", "run").code == 130
    monkeypatch.setattr(connector.send, "_record_sent", real)
    ws.sandbox.delete_row("U_SSP_REFERRALS", ws.referral(uid)["ID"])
    summary = ws.sync()
    assert summary["status"] == "ok"
    assert sorted(r["REFERRAL_UID"] for r in ws.sandbox.rows("U_SSP_DISCLOSURES")) == sorted(
        side.sent["cgc"] + side.sent["bhcare"]
    )
    assert ws.sync()["status"] == "ok"

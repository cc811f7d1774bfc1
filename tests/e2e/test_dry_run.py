"""`ssp sync run --dry-run`: changes nothing anywhere, and says what a real run would do."""

from __future__ import annotations

from typing import Any

from e2e_helpers import SSP_TABLES, Workspace, status_row, tree_digest, visit_row

from ssp.demo_scenario import revoke_one_consent

COUNTS = (
    "referrals_sent",
    "referrals_held",
    "revocations_sent",
    "status_updates_applied",
    "visits_created",
    "duplicates_skipped",
    "stale_skipped",
    "quarantined",
    "disclosures_recorded",
)


def _snapshot(ws: Workspace) -> dict[str, Any]:
    return {
        "powerschool": {t: ws.sandbox.rows(t) for t in SSP_TABLES},
        "files": {
            k: v
            for k, v in tree_digest(ws.root).items()
            if not k.startswith("var/ssp/state.sqlite3")
        },
        "state": ws.db_dump(),
    }


def _counts(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p: {k: c[k] for k in COUNTS} for p, c in summary["partners"].items()}


def _dry_then_real(ws: Workspace) -> tuple[dict, dict]:
    before = _snapshot(ws)
    ws.sandbox.reset_log()
    result = ws.ssp("sync", "run", "--dry-run")
    assert result.code == 0, result.stderr[-2000:]
    dry = result.json
    assert dry["dry_run"] is True and dry["status"] == "ok"
    assert [
        e
        for e in ws.sandbox.request_log
        if e.method not in ("GET", "POST")
        or (e.method == "POST" and e.path.startswith("/ws/schema/table/"))
    ] == []
    after = _snapshot(ws)
    assert after["powerschool"] == before["powerschool"]
    # no outbox, archive or quarantine file; the inbox untouched
    assert after["files"] == before["files"]
    assert after["state"] == before["state"]
    real = ws.sync()
    return dry, real


def test_dry_run_of_a_first_sync_changes_nothing_and_predicts_it(ws: Workspace) -> None:
    ws.seed(referrals=9)
    dry, real = _dry_then_real(ws)
    assert _counts(dry) == _counts(real)
    assert real["partners"]["cgc"]["referrals_sent"] == 6


def test_dry_run_with_partner_replies_and_a_revocation_predicts_the_real_run(ws: Workspace) -> None:
    side = ws.seed(referrals=9)
    ws.sync()
    ws.reply(side)
    revoke_one_consent(ws.sandbox, side, ws.today)
    uid = side.sent["cgc"][3]
    number = str(ws.student(side.student_of[uid])["STUDENT_NUMBER"])
    # a second file in the same run touching what the first one did
    ws.write_inbox(
        "cgc",
        "status_updates_zz.csv",
        [status_row(uid, "accepted", ws.day(0)), status_row(uid, "scheduled", ws.day(0))],
    )
    ws.write_inbox(
        "cgc",
        "visits_zz.csv",
        [visit_row("CGC-0001", number, ws.day(0)), visit_row("CGC-NEW", number, ws.day(0))],
    )
    dry, real = _dry_then_real(ws)
    assert _counts(dry)["cgc"] == _counts(real)["cgc"]
    assert _counts(dry) == _counts(real)
    assert real["partners"]["cgc"]["revocations_sent"] == 1


def test_dry_run_before_any_sync_leaves_no_state_behind(ws: Workspace) -> None:
    ws.seed(referrals=3)
    result = ws.ssp("sync", "run", "--dry-run")
    assert result.code == 0
    assert not ws.state_dir.exists() or not any(p.is_file() for p in ws.state_dir.rglob("*"))
    assert ws.outbox_files("cgc") == [] and ws.outbox_files("bhcare") == []
    status = ws.ssp("sync", "status")
    assert status.code == 0 and status.json["runs"] == []

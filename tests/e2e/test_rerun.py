"""A sync in which nothing changed: no effect anywhere, and few requests (TARGETS.md)."""

from __future__ import annotations

from collections import Counter

from e2e_helpers import SSP_TABLES, Workspace, tree_digest

STREAM_PATHS = {
    "partners": "/ws/schema/table/u_ssp_partners",
    "consents": "/ws/schema/query/org.bridgeport.ssp.consents.changed_since",
    "referrals": "/ws/schema/query/org.bridgeport.ssp.referrals.changed_since",
    "visits": "/ws/schema/query/org.bridgeport.ssp.visits.changed_since",
}
OVERHEAD_PATHS = {"/oauth/access_token", "/ws/v1/metadata"}


def _stream_of(path: str) -> str:
    for stream, prefix in STREAM_PATHS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return stream
    assert path in OVERHEAD_PATHS, f"unexpected request {path}"
    return "overhead"


def _settled(ws: Workspace) -> None:
    """A first sync, the partners' replies, a second sync: then nothing is left to do."""
    side = ws.seed(referrals=9)
    ws.sync()
    ws.reply(side)
    ws.sync()


def test_no_change_rerun_has_no_effects(ws: Workspace) -> None:
    _settled(ws)
    rows = {t: ws.sandbox.rows(t) for t in SSP_TABLES}
    feeds, state = tree_digest(ws.root / "feeds"), tree_digest(ws.state_dir / "partners")
    disclosures = ws.state_rows("disclosures")
    ws.sandbox.reset_log()

    summary = ws.sync()

    methods = Counter((e.method, _stream_of(e.path)) for e in ws.sandbox.request_log)
    writes = [
        e
        for e in ws.sandbox.request_log
        if e.method in ("PUT", "DELETE", "PATCH")
        or (e.method == "POST" and e.path.startswith("/ws/schema/table/"))
    ]
    assert writes == []
    assert {t: ws.sandbox.rows(t) for t in SSP_TABLES} == rows
    assert tree_digest(ws.root / "feeds") == feeds  # no outbox file, inbox untouched
    assert tree_digest(ws.state_dir / "partners") == state  # no archive or quarantine file
    assert ws.state_rows("disclosures") == disclosures
    for partner, counts in summary["partners"].items():
        assert {
            k: v for k, v in counts.items() if k not in ("referrals_held", "http_requests")
        } == {
            "referrals_sent": 0,
            "revocations_sent": 0,
            "status_updates_applied": 0,
            "visits_created": 0,
            "duplicates_skipped": 0,
            "stale_skipped": 0,
            "quarantined": 0,
            "disclosures_recorded": 0,
            "quarantined_by_reason": {},
            "quarantine_files": [],
            "unexpected_files": [],
        }, partner
        assert counts["http_requests"] == 0, partner
    assert methods, "the rerun made no request at all"


def test_no_change_rerun_makes_at_most_three_requests_per_stream(ws: Workspace) -> None:
    _settled(ws)
    ws.sandbox.reset_log()
    ws.sync()
    per_stream = Counter(_stream_of(e.path) for e in ws.sandbox.request_log)
    assert set(per_stream) - {"overhead"} == set(STREAM_PATHS)
    for stream in STREAM_PATHS:
        assert per_stream[stream] <= 3, (stream, per_stream)
    assert per_stream["overhead"] <= 2, per_stream  # one token, one metadata call for the run


def test_held_referrals_are_reconsidered_without_rewriting_their_reason(ws: Workspace) -> None:
    side = ws.seed(referrals=3)
    first = ws.sync()
    ws.sandbox.reset_log()
    again = ws.sync()
    assert again["partners"]["cgc"]["referrals_held"] == first["partners"]["cgc"]["referrals_held"]
    assert [e for e in ws.sandbox.request_log if e.method == "PUT"] == []
    for uid in side.held:
        assert ws.referral(uid)["STATUS"] == "new"

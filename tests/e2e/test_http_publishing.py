"""Write-ahead disclosure through a partner HTTP API (issue 10): the POST of a plan carries one
Idempotency-Key across reruns, a crash after the partner got it never loses the disclosure, and
a POST the partner refuses outright withdraws the plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from e2e_helpers import Workspace, config_text

from connector.feeds.files import PartnerFiles

API = "https://api.cgc.example/ssp/v1"
CSV_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'
HTTP_FEED = f'feed = {{ kind = "http", base_url = "{API}", token_env = "CGC_SSP_TOKEN" }}'


class Crash(BaseException):
    """The process dies here (not an Exception: no handler tidies up)."""


@pytest.fixture
def api(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    monkeypatch.setenv("CGC_SSP_TOKEN", "partner-token-for-tests")
    ws.path.write_text(config_text(ws.sandbox.base_url, ws.today, replace=[(CSV_FEED, HTTP_FEED)]),
                       encoding="utf-8")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(ws.sandbox.base_url)
        for path in ("/status_updates", "/visits"):
            rsps.get(API + path, json={"items": [], "next_cursor": None, "has_more": False})
        rsps.post(API + "/revocations", json={"ok": True})
        yield rsps


def _posts(rsps: responses.RequestsMock) -> list[tuple[str, list[str]]]:
    """(Idempotency-Key, referral ids) of every POST /referrals."""
    return [(c.request.headers["Idempotency-Key"], [i["referral_id"] for i in json.loads(c.request.body)["items"]])
            for c in rsps.calls if c.request.method == "POST" and c.request.url.endswith("/referrals")]


def _one_referral(ws: Workspace) -> str:
    student = ws.minor()
    ws.add_referral(student["DCID"], "ref-api")
    ws.add_consent(student["DCID"], "con-api")
    return "ref-api"


def _disclosures(ws: Workspace) -> tuple[list[Any], list[Any]]:
    return ([r["REFERRAL_UID"] for r in ws.sandbox.rows("U_SSP_DISCLOSURES")],
            [d["referral_uid"] for d in ws.state_rows("disclosures")])


def test_a_crash_after_the_partner_got_the_post_resends_it_with_the_same_key_and_discloses_once(
    ws: Workspace, api: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = _one_referral(ws)
    api.post(API + "/referrals", json={"ok": True})
    real = PartnerFiles.write_receipt

    def crash_once(self: PartnerFiles, *args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(PartnerFiles, "write_receipt", real)
        raise Crash("killed after the POST was answered, before its receipt")

    monkeypatch.setattr(PartnerFiles, "write_receipt", crash_once)
    with pytest.raises(Crash):
        ws.ssp("sync", "run")
    assert ws.referral(uid)["STATUS"] == "new"
    assert _disclosures(ws) == ([], [uid])  # recorded locally before the POST
    ws.sync()
    (first_key, first_ids), (second_key, second_ids) = _posts(api)
    assert first_key == second_key and first_ids == second_ids == [uid]
    assert _disclosures(ws) == ([uid], [uid])
    assert ws.referral(uid)["STATUS"] == "sent"
    ws.sync()
    assert len(_posts(api)) == 2, "a settled plan is never posted again"


def test_a_post_the_partner_refuses_withdraws_the_plan_and_the_next_run_sends_it(
    ws: Workspace, api: responses.RequestsMock
) -> None:
    uid = _one_referral(ws)
    api.post(API + "/referrals", status=422, json={"error": "unknown school"})
    failed = ws.ssp("sync", "run")
    assert failed.code == 1 and "answered HTTP 422: the items were refused" in failed.stderr
    assert _disclosures(ws) == ([], [])  # nothing reached the partner: nothing disclosed
    assert [e["state"] for e in ws.state_rows("outbound")] == []
    api.replace(responses.POST, API + "/referrals", json={"ok": True})
    ws.sync()
    (refused_key, _), (sent_key, sent_ids) = _posts(api)
    assert refused_key != sent_key and sent_ids == [uid]
    assert _disclosures(ws) == ([uid], [uid])

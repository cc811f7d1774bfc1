"""A run killed at any point of sending to a FHIR partner, then a rerun (issue 13): one Task, one
ServiceRequest and one Consent per referral on the partner's server, one disclosure each, every
referral `sent`. Each effect boundary of the publishing phase (the write-ahead plan, each Bundle
POST, the receipt, the PowerSchool writes, the state transactions) is a crash point, as in
test_crash.py; a Bundle POST is a boundary twice: before it leaves and after the server applied it
(the connection dropped before the answer was read)."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import Workspace, config_text
from test_crash import PUBLISHING_FIRST, PUBLISHING_LAST, Harness, InjectedCrash, Injector, _workspace

from connector.cli import run_sync
from connector.feeds.fhir_feed import FhirFeed
from sandbox.fhir_partner import FhirPartner

CSV_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'
DISTRICT_BASE = "https://district.example.org/fhir"
REFERRALS = ("ref-fc-0", "ref-fc-1", "ref-fc-2")


def _install(injector: Injector, patched: pytest.MonkeyPatch) -> None:
    injector.install(patched)
    post = FhirFeed._post

    def applied_then(self: FhirFeed, bundle: dict[str, Any]) -> None:
        post(self, bundle)
        injector.wrap("FhirFeed._post.answered", lambda: None)()

    patched.setattr(FhirFeed, "_post", injector.wrap("FhirFeed._post", applied_then))


def _scenario(ws: Workspace, server: FhirPartner, patched: pytest.MonkeyPatch) -> None:
    patched.setenv("CGC_FHIR_TOKEN", server.token)
    feed = f'feed = {{ kind = "fhir", base_url = "{server.base_url}", token_env = "CGC_FHIR_TOKEN" }}'
    ws.path.write_text(config_text(ws.sandbox.base_url, ws.today, replace=[
        (CSV_FEED, feed), ('mapping = "generic"', 'mapping = "fhir"')]), encoding="utf-8")
    for n, uid in enumerate(REFERRALS):
        student = ws.minor(n)
        ws.add_referral(student["DCID"], uid)
        ws.add_consent(student["DCID"], f"con-{uid}")


def _problems(ws: Workspace, server: FhirPartner) -> list[str]:
    tasks = Counter(i["value"] for t in server.resources("Task") for i in t["identifier"])
    requests = Counter(i["value"] for t in server.resources("ServiceRequest") for i in t["identifier"])
    consents = len(server.resources("Consent"))
    disclosed = Counter(r["REFERRAL_UID"] for r in ws.sandbox.rows("U_SSP_DISCLOSURES"))
    local = Counter(d["referral_uid"] for d in ws.state_rows("disclosures") if d["pushed"])
    problems = [] if consents == len(REFERRALS) else [f"{consents} Consents"]
    for uid in REFERRALS:
        counts = (tasks[uid], requests[uid], disclosed[uid], local[uid])
        if counts != (1, 1, 1, 1):
            problems.append(f"{uid}: Tasks, ServiceRequests, disclosures, local entries = {counts}")
        if ws.referral(uid)["STATUS"] != "sent":
            problems.append(f"{uid}: STATUS {ws.referral(uid)['STATUS']}")
    return problems


@pytest.fixture
def harness(tmp_path: Path, plugin_zips: Any, today: Any, capsys: Any,
            monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(tmp_path, plugin_zips, today, capsys, monkeypatch)


def test_a_kill_at_every_point_of_sending_to_a_fhir_partner_then_a_rerun_duplicates_nothing(
    harness: Harness,
) -> None:
    counter = Injector()
    with _workspace(harness.tmp_path / "count", harness.zips, harness.today, harness.capsys) as ws, \
            FhirPartner(district_base=DISTRICT_BASE) as server, harness.monkeypatch.context() as patched:
        _scenario(ws, server, patched)
        _install(counter, patched)
        run_sync(ws.config, credentials=ws.credentials)
        assert _problems(ws, server) == []
    first = counter.calls.index(PUBLISHING_FIRST)
    last = len(counter.calls) - 1 - counter.calls[::-1].index(PUBLISHING_LAST)
    assert {"FhirFeed._post", "FhirFeed._post.answered", "PartnerFiles.write_receipt"} <= \
        set(counter.calls[first:last + 1])
    assert last - first >= 12, counter.calls[first:last + 1]  # 3 Bundles, each POST twice, ...
    problems = []
    for n in range(first, last + 1):
        injector = Injector(crash_at=n)
        with _workspace(harness.tmp_path / f"kill-{n}", harness.zips, harness.today,
                        harness.capsys) as ws, FhirPartner(district_base=DISTRICT_BASE) as server, \
                harness.monkeypatch.context() as patched:
            _scenario(ws, server, patched)
            with harness.monkeypatch.context() as faulty:
                _install(injector, faulty)
                with contextlib.suppress(InjectedCrash):
                    run_sync(ws.config, credentials=ws.credentials)
            assert injector.fired, f"crash point {n} never reached"
            assert run_sync(ws.config, credentials=ws.credentials).status == "ok"
            problems += [f"{injector.fired}: {p}" for p in _problems(ws, server)]
    assert problems == []

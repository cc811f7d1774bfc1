"""A partner on FHIR R4 (issue 13): `ssp sync run` against the sandbox and a FHIR partner server
(sandbox/fhir_partner.py) through the whole referral life: sent as a transaction Bundle, accepted,
scheduled, attended with a Procedure (a visit in PowerSchool), completed, rejected, revoked; a
rerun after a crash during the Bundle POST; hostile resources quarantined."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import Workspace, config_text

from connector.fhir.validate import bundle_problems
from sandbox.fhir_partner import FhirPartner

CSV_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'
DISTRICT_BASE = "https://district.example.org/fhir"  # from the demo's contact e-mail domain
REFERRAL_ID = f"{DISTRICT_BASE}/sid/referral-id"


class Crash(BaseException):
    """The process dies here (not an Exception: no handler tidies up)."""


@pytest.fixture
def partner(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[FhirPartner]:
    with FhirPartner(district_base=DISTRICT_BASE) as server:
        monkeypatch.setenv("CGC_FHIR_TOKEN", server.token)
        feed = f'feed = {{ kind = "fhir", base_url = "{server.base_url}", token_env = "CGC_FHIR_TOKEN" }}'
        ws.path.write_text(
            config_text(ws.sandbox.base_url, ws.today,
                        replace=[(CSV_FEED, feed), ('mapping = "generic"', 'mapping = "fhir"')]),
            encoding="utf-8")
        yield server


def _referral(ws: Workspace, uid: str, n: int = 0) -> dict[str, Any]:
    student = ws.minor(n)
    ws.add_referral(student["DCID"], uid)
    ws.add_consent(student["DCID"], f"con-{uid}")
    return student


def _disclosures(ws: Workspace, uid: str) -> tuple[int, int]:
    """(rows in U_SSP_DISCLOSURES, local entries) for the referral."""
    return (sum(r["REFERRAL_UID"] == uid for r in ws.sandbox.rows("U_SSP_DISCLOSURES")),
            sum(d["referral_uid"] == uid for d in ws.state_rows("disclosures")))


def _tasks(partner: FhirPartner, uid: str) -> list[dict[str, Any]]:
    return [t for t in partner.resources("Task")
            if any(i.get("system") == REFERRAL_ID and i.get("value") == uid for i in t["identifier"])]


def _instant(ws: Workspace, hour: int) -> str:
    return f"{ws.day(0)}T{hour:02d}:00:00-05:00"


def test_a_referral_goes_out_as_one_bundle_and_its_life_comes_back_from_the_task(
    ws: Workspace, partner: FhirPartner
) -> None:
    student = _referral(ws, "ref-life")
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_sent"] == 1
    [task] = _tasks(partner, "ref-life")
    assert task["status"] == "requested" and task["intent"] == "order"
    [consent] = partner.resources("Consent")
    assert consent["status"] == "active" and consent["provision"]["period"]["start"] == ws.day(-1)
    [patient] = partner.resources("Patient")
    assert patient["identifier"][0]["value"] == str(student["STUDENT_NUMBER"])
    assert ws.referral("ref-life")["STATUS"] == "sent"
    assert _disclosures(ws, "ref-life") == (1, 1)

    partner.accept("ref-life")
    ws.sync()
    assert ws.referral("ref-life")["STATUS"] == "accepted"

    partner.schedule("ref-life")
    ws.sync()
    assert ws.referral("ref-life")["STATUS"] == "scheduled"

    partner.attend("ref-life", visit_id="v-1", start=_instant(ws, 9), end=_instant(ws, 10),
                   service_code="90832")
    summary = ws.sync()
    assert ws.referral("ref-life")["STATUS"] == "attended"
    [visit] = ws.sandbox.rows("U_SSP_VISITS")
    assert visit["PARTNER_VISIT_ID"] == "v-1" and str(visit["VISIT_DATE"]).startswith(ws.day(0))
    assert visit["SERVICES"] == "individual_counseling"  # CPT 90832 through the fhir mapping
    assert (visit["TIME_IN"], visit["TIME_OUT"]) == ("09:00", "10:00")

    partner.complete("ref-life")
    summary = ws.sync()
    row = ws.referral("ref-life")
    assert row["STATUS"] == "completed" and row["ACCESS_RESULT"] == "yes"
    assert summary["partners"]["cgc"]["quarantined"] == 0
    assert len(_tasks(partner, "ref-life")) == 1 and _disclosures(ws, "ref-life") == (1, 1)

    again = ws.sync()  # nothing changed at the partner: nothing applied, nothing sent
    assert again["partners"]["cgc"]["status_updates_applied"] == 0
    assert again["partners"]["cgc"]["referrals_sent"] == 0


def test_a_rejected_task_declines_the_referral_with_the_partners_reason(
    ws: Workspace, partner: FhirPartner
) -> None:
    _referral(ws, "ref-no")
    ws.sync()
    partner.reject("ref-no", "outside our service area")
    ws.sync()
    row = ws.referral("ref-no")
    assert row["STATUS"] == "declined" and row["STATUS_REASON"] == "outside our service area"


def test_a_revoked_consent_cancels_the_task_and_makes_the_consent_inactive(
    ws: Workspace, partner: FhirPartner
) -> None:
    _referral(ws, "ref-rev")
    ws.sync()
    partner.accept("ref-rev")
    ws.sync()
    consent = next(c for c in ws.sandbox.rows("U_SSP_CONSENTS") if c["SSP_UID"] == "con-ref-rev")
    ws.sandbox.update_row("U_SSP_CONSENTS", consent["ID"], {"REVOKED_DATE": ws.day(0)})
    summary = ws.sync()
    assert summary["partners"]["cgc"]["revocations_sent"] == 1
    [task] = _tasks(partner, "ref-rev")
    assert task["status"] == "cancelled" and task["statusReason"]["text"] == "consent revoked"
    [fhir_consent] = partner.resources("Consent")
    assert fhir_consent["status"] == "inactive"
    assert fhir_consent["provision"]["period"]["end"] == ws.day(0)
    [request] = partner.resources("ServiceRequest")
    assert request["status"] == "revoked"
    after = ws.sync()  # our own cancellation is not read back as the partner's status update
    assert after["partners"]["cgc"]["quarantined"] == 0
    assert after["partners"]["cgc"]["revocations_sent"] == 0
    assert ws.referral("ref-rev")["STATUS"] == "accepted"


def test_a_connection_dropped_after_the_bundle_was_applied_creates_nothing_twice(
    ws: Workspace, partner: FhirPartner
) -> None:
    _referral(ws, "ref-drop")
    partner.fail_next("POST", "/", "reset_after_write")
    ws.sync()
    posts = [r for r in partner.requests if r[0] == "POST"]
    assert [status for _, _, status in posts] == [0, 200]  # applied, dropped, sent again
    assert len(_tasks(partner, "ref-drop")) == 1
    assert len(partner.resources("Patient")) == len(partner.resources("Consent")) == 1
    assert _disclosures(ws, "ref-drop") == (1, 1)


def test_a_run_killed_during_the_bundle_post_is_republished_once_and_discloses_once(
    ws: Workspace, partner: FhirPartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.feeds.fhir_feed import FhirFeed

    _referral(ws, "ref-kill")
    real = FhirFeed._post

    def killed(self: FhirFeed, bundle: dict[str, Any]) -> None:
        real(self, bundle)  # the server applied it ...
        raise Crash("killed before the answer was read")  # ... and the process died

    monkeypatch.setattr(FhirFeed, "_post", killed)
    with pytest.raises(Crash):
        ws.ssp("sync", "run")
    assert ws.referral("ref-kill")["STATUS"] == "new"
    assert _disclosures(ws, "ref-kill") == (0, 1)  # written ahead, before the POST
    monkeypatch.setattr(FhirFeed, "_post", real)
    ws.sync()
    assert len(_tasks(partner, "ref-kill")) == 1
    assert len(partner.resources("ServiceRequest")) == 1
    assert ws.referral("ref-kill")["STATUS"] == "sent"
    assert _disclosures(ws, "ref-kill") == (1, 1)
    ws.sync()
    assert [r for r in partner.requests if r[0] == "POST"].__len__() == 2


def _hostile(partner: FhirPartner, resource: dict[str, Any], kind: str = "Task") -> None:
    with partner._lock:  # the partner's server holds what it holds: store it as is
        partner._store[kind][f"h{len(partner._store[kind])}"] = {
            **resource, "id": f"h{len(partner._store[kind])}",
            "meta": {"versionId": "1", "lastUpdated": partner._tick()}}


def test_hostile_resources_are_quarantined_with_the_reason_and_the_run_goes_on(
    ws: Workspace, partner: FhirPartner
) -> None:
    _referral(ws, "ref-ok")
    ws.add_referral(ws.minor(1)["DCID"], "ref-bh", partner="bhcare")
    ws.sync()
    task = partner.task_for("ref-ok")
    base = {k: v for k, v in task.items() if k not in ("id", "meta")}
    _hostile(partner, {**base, "resourceType": "Patient"})
    _hostile(partner, {**base, "status": "teleported"})
    _hostile(partner, {**base, "status": "accepted",
                       "identifier": [{"system": REFERRAL_ID, "value": "ref-bh"}]})
    _hostile(partner, {**base, "status": "accepted", "lastModified": "2026-13-45"})
    _hostile(partner, {**base, "status": "accepted", "businessStatus": {"coding": [
        {"system": f"{DISTRICT_BASE}/CodeSystem/referral-business-status", "code": "teleported"}]}})
    _hostile(partner, {**base, "status": "accepted", "identifier": [],
                       "focus": {"reference": "ServiceRequest/999"}})
    _hostile(partner, {"resourceType": "Procedure", "status": "completed", "subject": task["for"],
                       "code": {"text": "x"}, "performedDateTime": "yesterday"}, kind="Procedure")
    partner.accept("ref-ok")
    summary = ws.sync()
    stats = summary["partners"]["cgc"]
    assert ws.referral("ref-ok")["STATUS"] == "accepted"  # the good Task still applied
    assert stats["quarantined"] == 7, stats
    rows = ws.quarantined("cgc")
    assert sorted(r["reason"] for r in rows) == sorted([
        "expected a Task, got 'Patient'",
        "Task.status 'teleported' is not in the referral status value set",
        "referral_id: not a referral sent to this partner",  # another partner's referral
        "invalid Task at lastModified: Value error, DateTime value string does not match spec regex.",
        "Task.businessStatus 'teleported' is not one we agreed",
        "the Task names no referral of ours (identifier or focus ServiceRequest)",
        "invalid Procedure at performedDateTime: Value error, DateTime value string does not match "
        "spec regex.",
    ])
    assert all(r["fhir_resource"].startswith("{") for r in rows)  # the raw JSON is kept
    assert ws.sync()["partners"]["cgc"]["quarantined"] == 0  # quarantined once, not every run


def test_every_bundle_sent_fills_the_sdohcc_must_support_elements(
    ws: Workspace, partner: FhirPartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.fhir.client import FhirClient

    sent: list[dict[str, Any]] = []
    real = FhirClient.request

    def spy(self: FhirClient, method: str, path: str, **kwargs: Any) -> Any:
        if method == "POST":
            sent.append(kwargs["body"])
        return real(self, method, path, **kwargs)

    monkeypatch.setattr(FhirClient, "request", spy)
    for n in range(3):
        _referral(ws, f"ref-ms{n}", n)
    ws.sync()
    assert len(sent) == 3
    for bundle in sent:
        assert bundle_problems(bundle) == []
        kinds = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
        task, request = kinds["Task"], kinds["ServiceRequest"]
        for element in ("status", "intent", "code", "focus", "for", "authoredOn", "requester", "owner"):
            assert task.get(element), element
        for element in ("status", "intent", "category", "code", "subject", "authoredOn",
                        "requester", "performer", "supportingInfo"):
            assert request.get(element), element
        for element in ("status", "scope", "category", "patient", "dateTime", "policy", "provision"):
            assert kinds["Consent"].get(element), element
        assert all(e["request"]["ifNoneExist"].startswith("identifier=") for e in bundle["entry"])
    assert dt.date.fromisoformat(sent[0]["entry"][-1]["resource"]["authoredOn"])


def test_ssp_check_reports_the_fhir_server_its_version_conditional_create_and_the_token(
    ws: Workspace, partner: FhirPartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = ws.ssp("check")
    assert ok.code == 0, ok.stdout
    cgc = ok.json["partners"]["cgc"]
    assert cgc["ok"] and cgc["reachable"] and cgc["authenticated"] and cgc["conditional_create"]
    assert cgc["fhir_version"] == "4.0.1"
    assert "bhcare" not in ok.json["partners"]  # csv folders are not probed

    monkeypatch.setenv("CGC_FHIR_TOKEN", "not-the-partners-token")
    refused = ws.ssp("check")
    assert refused.code == 1
    assert refused.json["partners"]["cgc"]["authenticated"] is False
    assert any("refused the token (HTTP 401)" in line and "token_env" in line
               for line in refused.json["missing"]), refused.json["missing"]


def test_a_referral_that_cannot_make_a_valid_bundle_is_held_with_the_reason_and_not_disclosed(
    ws: Workspace, partner: FhirPartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connector.feeds.fhir_feed as fhir_feed

    _referral(ws, "ref-bad")
    real = fhir_feed.bundle_problems
    broken = [True]
    monkeypatch.setattr(fhir_feed, "bundle_problems", lambda bundle: (
        ["Task.owner is required by the profile and missing"] if broken[0] else real(bundle)))
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_sent"] == 0
    row = ws.referral("ref-bad")
    assert row["STATUS"] == "new"
    assert row["STATUS_REASON"] == ("cannot be written in the partner's format: Task.owner is "
                                    "required by the profile and missing")
    assert partner.resources("Task") == [] and _disclosures(ws, "ref-bad") == (0, 0)
    broken[0] = False
    ws.sync()  # the Bundle is valid again: sent, the hold reason cleared
    assert ws.referral("ref-bad")["STATUS"] == "sent" and len(_tasks(partner, "ref-bad")) == 1


def test_a_dry_run_posts_nothing_and_leaves_the_cursor_where_it_was(
    ws: Workspace, partner: FhirPartner
) -> None:
    _referral(ws, "ref-dry")
    ws.sync()
    partner.accept("ref-dry")
    partner.requests.clear()
    dry = ws.sync("--dry-run")
    assert dry["partners"]["cgc"]["status_updates_applied"] == 1
    assert {method for method, _, _ in partner.requests} == {"GET"}
    assert ws.referral("ref-dry")["STATUS"] == "sent"
    ws.sync()
    assert ws.referral("ref-dry")["STATUS"] == "accepted"

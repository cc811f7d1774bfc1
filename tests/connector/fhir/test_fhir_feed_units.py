"""The fhir feed (connector/feeds/fhir_feed.py): configuration, OAuth2, revocation updates with
If-Match, the stored cursor, and paging; HTTP units with `responses`, the rest against the FHIR
partner server of sandbox/fhir_partner.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import responses

from connector.feeds.base import PublishRefused
from connector.feeds.fhir_feed import FhirFeed, parties_for, require_canonical
from connector.fhir.client import FhirClient, OAuthClientCredentials
from connector.mapping import load_mapping
from connector.retry import RetryPolicy
from foundation.config import demo_config_text, parse_config_text
from foundation.errors import ConfigError, RunError
from sandbox.fhir_partner import FhirPartner

DISTRICT = "https://district.example.org/fhir"
FHIR = load_mapping("fhir", base_dir=Path("."))
RUN = "2f1c7a7e-5d1b-4a8e-9c7e-0d6c1b2a3f40"
POLICY = RetryPolicy(sleep=lambda _s: None, max_attempts=3, base_delay=0.0)
ROW = {
    "referral_id": "r-1", "referral_date": "2026-10-01", "partner_id": "cgc",
    "student_number": "12345", "first_name": "Ana", "last_name": "Diaz",
    "date_of_birth": "2012-03-04", "school_name": "", "grade": "", "guardian_name": "",
    "guardian_phone": "", "reason_codes": "anxiety", "urgency": "routine",
    "referred_by": "J. Smith", "consent_id": "c-1", "consent_expires": "2027-06-30",
}
DETAIL = {"consent": {"consent_id": "c-1", "signed": "2026-09-01", "effective": "2026-09-01",
                      "expires": "2027-06-30", "signer_type": "parent_guardian",
                      "direction": "both", "categories": ["identity", "referral"],
                      "form_version": "2026.1"}}


def feed_for(server_url: str, tmp_path: Path, *, token: str | None = "tok",
             oauth: OAuthClientCredentials | None = None) -> FhirFeed:
    client = FhirClient("cgc", server_url, token=token, oauth=oauth, policy=POLICY)
    parties = parties_for(DISTRICT, "org.bridgeport.ssp", "Bridgeport", "cgc", "CGC", None)
    return FhirFeed("cgc", FHIR, client=client, parties=parties, state_dir=tmp_path / "state",
                    tz=ZoneInfo("America/New_York"), today=lambda: dt.date(2026, 10, 2))


@pytest.fixture
def server() -> Any:
    with FhirPartner(district_base=DISTRICT, page_size=2) as partner:
        yield partner


def _config(feed: str) -> str:
    return demo_config_text().replace(
        'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }', feed)


@pytest.mark.parametrize(("feed", "message"), [
    ('feed = { kind = "fhir", base_url = "http://fhir.partner.example/r4", token_env = "T" }',
     "partners[cgc].feed.base_url: https is required"),
    ('feed = { kind = "fhir", base_url = "https://fhir.partner.example/r4" }',
     "name token_env (a bearer token) or token_url"),
    ('feed = { kind = "fhir", base_url = "https://fhir.partner.example/r4", token_url = "https://a/t" }',
     "need token_url, client_id_env and client_secret_env together"),
    ('feed = { kind = "fhir", base_url = "https://fhir.partner.example/r4", token_env = "T", '
     'token_url = "https://a/t", client_id_env = "I", client_secret_env = "S" }', "not both"),
    ('feed = { kind = "fhir", base_url = "https://fhir.partner.example/r4", token_env = "bad name" }',
     "the name of an environment variable"),
])
def test_a_wrong_fhir_feed_is_a_plain_configuration_error(feed: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config_text(_config(feed), source="ssp.toml", base_dir=Path("."))
    assert message in str(caught.value) and str(caught.value).startswith("ssp.toml: ")


def test_the_identifier_base_defaults_to_the_district_email_domain() -> None:
    config = parse_config_text(_config(
        'feed = { kind = "fhir", base_url = "https://fhir.partner.example/r4", token_env = "T", '
        'service_request_code = { system = "http://snomed.info/sct", code = "306206005", '
        'display = "Referral to service" } }'), source="ssp.toml", base_dir=Path("."))
    feed = config.partner("cgc").feed
    assert feed.systems_base(config.district) == "https://district.example.org/fhir"
    assert feed.service_request_code is not None and feed.service_request_code.code == "306206005"


def test_a_mapping_that_renames_outbound_columns_cannot_serve_a_fhir_feed() -> None:
    with pytest.raises(ConfigError, match="canonical"):
        require_canonical(load_mapping("bhcare", base_dir=Path(".")), "cgc")
    require_canonical(load_mapping("generic", base_dir=Path(".")), "cgc")


@responses.activate
def test_oauth_client_credentials_fetch_a_token_and_renew_it_once_on_401(tmp_path: Path) -> None:
    base = "https://fhir.partner.example/r4"
    token_url = "https://auth.partner.example/token"
    tokens = iter(["first", "second"])

    def issue(request: Any) -> tuple[int, dict[str, str], str]:
        assert "grant_type=client_credentials" in request.body
        return 200, {}, json.dumps({"access_token": next(tokens), "expires_in": 3600})

    responses.add_callback(responses.POST, token_url, callback=issue)
    seen: list[str] = []

    def search(request: Any) -> tuple[int, dict[str, str], str]:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer first":
            return 401, {}, "{}"
        return 200, {}, json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []})

    responses.add_callback(responses.GET, f"{base}/Task", callback=search)
    feed = feed_for(base, tmp_path, token=None,
                    oauth=OAuthClientCredentials(token_url, "client", "s3cret"))
    assert list(feed.inbound("status_update")) == []
    assert seen == ["Bearer first", "Bearer second"]
    assert "s3cret" not in repr(feed.client) and "second" not in repr(feed)


@responses.activate
def test_a_short_lived_token_is_kept_for_half_its_life_not_fetched_per_request() -> None:
    """A partner that issues 30-second tokens: renewing "a minute before expiry" would fetch a
    token for every request; it is kept for 15 s and renewed after."""
    from connector.fhir.client import FhirClient

    base, token_url = "https://fhir.partner.example/r4", "https://auth.partner.example/token"
    issued = iter(["t1", "t2"])
    responses.add_callback(responses.POST, token_url, callback=lambda request: (
        200, {}, json.dumps({"access_token": next(issued), "expires_in": 30})))
    client = FhirClient("cgc", base, oauth=OAuthClientCredentials(token_url, "client", "s3cret"))
    now = [1000.0]
    with mock.patch("connector.fhir.client.time.monotonic", lambda: now[0]):
        first = [client._bearer() for _ in range(5)]
        now[0] += 14
        still = client._bearer()
        now[0] += 2
        renewed = client._bearer()
    assert first == ["t1"] * 5 and still == "t1" and renewed == "t2"


def test_referrals_go_as_one_transaction_each_and_a_repeat_creates_nothing(
    server: FhirPartner, tmp_path: Path
) -> None:
    feed = feed_for(server.base_url, tmp_path, token=server.token)
    rows = [ROW, {**ROW, "referral_id": "r-2"}]
    name = feed.write_outbound("referrals", RUN, rows, details=[DETAIL, DETAIL])
    assert feed.outbound_exists(name)
    assert len(server.resources("Task")) == 2 and len(server.resources("Patient")) == 1
    feed.write_outbound("referrals", RUN, rows, details=[DETAIL, DETAIL])
    assert len(server.resources("Task")) == 2 and len(server.resources("Consent")) == 1


def test_a_bundle_the_server_refuses_withdraws_the_write(server: FhirPartner, tmp_path: Path) -> None:
    feed = feed_for(server.base_url, tmp_path, token=server.token)
    server.fail_next("POST", "/", "422")
    with pytest.raises(PublishRefused, match="HTTP 422"):
        feed.write_outbound("referrals", RUN, [ROW], details=[DETAIL])
    assert not feed.outbound_exists(feed.outbound_name("referrals", RUN))


def test_a_referral_without_its_consent_facts_is_refused_before_anything_is_sent(
    server: FhirPartner, tmp_path: Path
) -> None:
    feed = feed_for(server.base_url, tmp_path, token=server.token)
    assert "no consent facts" in feed.referral_problem(ROW, {})
    with pytest.raises(PublishRefused):
        feed.write_outbound("referrals", RUN, [ROW], details=[{}])
    assert server.requests == []


def test_a_revocation_retries_once_when_the_partner_changed_the_task_meanwhile(
    server: FhirPartner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = feed_for(server.base_url, tmp_path, token=server.token)
    feed.write_outbound("referrals", RUN, [ROW], details=[DETAIL])
    real = feed.client.find_one
    raced = [False]

    def find_then_partner_edits(kind: str, identifier: str) -> Any:
        found = real(kind, identifier)
        if kind == "Task" and not raced[0]:
            raced[0] = True
            server.accept("r-1")  # the partner saves between our read and our PUT
        return found

    monkeypatch.setattr(feed.client, "find_one", find_then_partner_edits)
    feed.write_outbound("revocations", RUN, [{"referral_id": "r-1", "partner_id": "cgc",
                                               "consent_id": "c-1", "revoked_date": "2026-10-05"}])
    puts = [status for method, path, status in server.requests if method == "PUT"]
    assert 412 in puts
    task = server.task_for("r-1")
    assert task["status"] == "cancelled"
    [consent] = server.resources("Consent")
    assert consent["status"] == "inactive" and consent["provision"]["period"]["end"] == "2026-10-05"


def test_the_cursor_moves_only_when_a_page_is_archived_and_skips_what_was_applied(
    server: FhirPartner, tmp_path: Path
) -> None:
    feed = feed_for(server.base_url, tmp_path, token=server.token)
    rows = [{**ROW, "referral_id": f"r-{n}"} for n in range(5)]
    feed.write_outbound("referrals", RUN, rows, details=[DETAIL] * 5)
    for n in range(5):
        server.accept(f"r-{n}")
    pages = list(feed.inbound("status_update"))
    assert len(pages) == 3  # page size 2, `next` links followed
    assert [r.values["referral_id"] for p in pages for r in p.rows()] == [f"r-{n}" for n in range(5)]
    assert len(list(feed.inbound("status_update"))) == 3, "nothing archived: read again"
    for page in pages:
        feed.archive(page)
    assert [r for p in feed.inbound("status_update") for r in p.rows()] == []
    server.reject("r-2")
    [again] = [r for p in feed.inbound("status_update") for r in p.rows()]
    assert again.values["referral_id"] == "r-2" and again.values["status"] == "declined"


def test_a_next_link_to_another_server_is_refused(tmp_path: Path) -> None:
    base = "https://fhir.partner.example/r4"
    with responses.RequestsMock() as rsps:
        rsps.get(f"{base}/Task", json={"resourceType": "Bundle", "type": "searchset", "entry": [],
                                       "link": [{"relation": "next", "url": "https://evil.example/Task"}]})
        feed = feed_for(base, tmp_path)
        with pytest.raises(RunError, match="outside its base URL"):
            list(feed.inbound("status_update"))


def test_open_feed_reads_the_oauth_client_credentials_from_the_environment(tmp_path: Path) -> None:
    from connector.feeds.factory import open_feed

    text = _config(
        'feed = { kind = "fhir", base_url = "https://fhir.partner.example/r4", '
        'token_url = "https://auth.partner.example/token", client_id_env = "CGC_ID", '
        'client_secret_env = "CGC_SECRET", identifier_base = "https://sis.bridgeport.example/fhir" }')
    config = parse_config_text(text, source="ssp.toml", base_dir=tmp_path)
    partner = config.partner("cgc")
    with pytest.raises(ConfigError, match="partners\\[cgc\\].feed.client_secret_env: environment "
                                          "variable CGC_SECRET is not set"):
        open_feed(partner, config, env={"CGC_ID": "district"})
    feed = open_feed(partner, config, env={"CGC_ID": "district", "CGC_SECRET": "s3cret"})
    assert isinstance(feed, FhirFeed)
    assert feed.systems.referral_id == "https://sis.bridgeport.example/fhir/sid/referral-id"
    assert "s3cret" not in repr(feed) and "s3cret" not in repr(feed.client)

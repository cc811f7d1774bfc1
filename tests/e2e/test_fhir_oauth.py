"""A FHIR partner that issues OAuth2 client-credentials tokens (RFC 6749 section 4.4): `ssp sync run`
and `ssp check` against the FHIR partner server's token endpoint, not a mocked one. One token per
run, one renewal when the partner ends the token during the run, a plain refusal (with the settings
to check and no secret) when the client credentials are wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_helpers import Workspace, config_text

from sandbox.fhir_partner import FhirPartner

CSV_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'
DISTRICT_BASE = "https://district.example.org/fhir"
CLIENT_ID, CLIENT_SECRET = "district-ssp", "s3cret-client-credential-9f2c"


@pytest.fixture
def partner(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[FhirPartner]:
    with FhirPartner(district_base=DISTRICT_BASE, client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET) as server:
        monkeypatch.setenv("CGC_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("CGC_CLIENT_SECRET", CLIENT_SECRET)
        feed = (f'feed = {{ kind = "fhir", base_url = "{server.base_url}", '
                f'token_url = "{server.token_url}", client_id_env = "CGC_CLIENT_ID", '
                'client_secret_env = "CGC_CLIENT_SECRET" }')
        ws.path.write_text(
            config_text(ws.sandbox.base_url, ws.today,
                        replace=[(CSV_FEED, feed), ('mapping = "generic"', 'mapping = "fhir"')]),
            encoding="utf-8")
        yield server


def _token_requests(partner: FhirPartner) -> list[int]:
    """The HTTP status of every token request so far."""
    return [status for method, path, status in partner.requests if path == "/oauth/token"]


def _refused(partner: FhirPartner) -> int:
    return sum(status == 401 for _, path, status in partner.requests if path != "/oauth/token")


def _referral(ws: Workspace, uid: str, n: int = 0) -> None:
    student = ws.minor(n)
    ws.add_referral(student["DCID"], uid)
    ws.add_consent(student["DCID"], f"con-{uid}")


def test_a_run_fetches_one_token_and_sends_the_referral_with_it(
    ws: Workspace, partner: FhirPartner
) -> None:
    _referral(ws, "ref-oauth")
    result = ws.ssp("sync", "run", verbose=True)
    assert result.code == 0, result.stderr[-2000:]
    assert result.json["partners"]["cgc"]["referrals_sent"] == 1
    assert len(partner.resources("Task")) == 1
    assert _token_requests(partner) == [200] and _refused(partner) == 0
    assert CLIENT_SECRET not in result.stdout + result.stderr

    ws.sync()  # a new run (a new process in production) asks for its own token
    assert _token_requests(partner) == [200, 200]


def test_a_token_the_partner_ends_during_the_run_is_renewed_once_and_the_run_goes_on(
    ws: Workspace, partner: FhirPartner
) -> None:
    _referral(ws, "ref-a", 0)
    _referral(ws, "ref-b", 1)
    partner.fail_next("POST", "/", "revoke_tokens")  # ended just before the first Bundle
    summary = ws.sync()
    assert summary["partners"]["cgc"]["referrals_sent"] == 2
    assert len(partner.resources("Task")) == 2
    # both Bundles may have been in flight with the ended token (max_workers): each is refused
    # once and sent again, and the token is renewed once, not once per refusal
    assert _token_requests(partner) == [200, 200] and 1 <= _refused(partner) <= 2


def test_wrong_client_credentials_stop_the_partner_with_the_settings_to_check(
    ws: Workspace, partner: FhirPartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    _referral(ws, "ref-refused")
    monkeypatch.setenv("CGC_CLIENT_SECRET", "an-old-secret-from-last-year")
    result = ws.ssp("sync", "run")
    assert result.code == 1
    text = result.stdout + result.stderr
    assert "refused the client credentials (HTTP 401)" in text
    assert "partners[cgc].feed.client_id_env / client_secret_env" in text
    assert "an-old-secret-from-last-year" not in text and CLIENT_SECRET not in text
    assert partner.resources("Task") == []
    assert ws.referral("ref-refused")["STATUS"] == "new"  # nothing disclosed
    assert not any(r["REFERRAL_UID"] == "ref-refused"
                   for r in ws.sandbox.rows("U_SSP_DISCLOSURES"))

    checked = ws.ssp("check")
    assert checked.code == 1
    assert checked.json["partners"]["cgc"]["authenticated"] is False

    monkeypatch.setenv("CGC_CLIENT_SECRET", CLIENT_SECRET)
    assert ws.ssp("check").code == 0
    assert ws.sync()["partners"]["cgc"]["referrals_sent"] == 1

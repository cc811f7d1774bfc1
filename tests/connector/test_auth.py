"""connector/auth.py: one token per client, cached until shortly before expiry, refreshed once."""

from __future__ import annotations

import base64
import threading
import urllib.parse

import pytest
import requests
import responses
from client_fakes import BASE, CREDS, SECRET, TOKEN_URL, FakeClock

from connector.auth import TokenManager
from connector.retry import RetryPolicy
from foundation.errors import ConfigError, PowerSchoolError


def manager(clock: FakeClock, **kw) -> TokenManager:
    policy = RetryPolicy(sleep=clock.sleep, clock=clock)
    return TokenManager(BASE, CREDS, session=requests.Session(), policy=policy, timeout=5.0, **kw)


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_token_request_is_basic_auth_with_form_body(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1", "expires_in": "1814654"})
    assert manager(FakeClock()).token() == "tok-1"
    request = rsps.calls[0].request
    expected = base64.b64encode(f"{CREDS.client_id}:{SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert urllib.parse.parse_qs(request.body) == {"grant_type": ["client_credentials"]}


@pytest.mark.parametrize("expires_in", ["3600", 3600, " 3600 ", 3600.0])
def test_token_is_cached_until_shortly_before_expiry(rsps, expires_in):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1", "expires_in": expires_in})
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-2", "expires_in": expires_in})
    clock = FakeClock()
    tokens = manager(clock)
    assert [tokens.token() for _ in range(5)] == ["tok-1"] * 5
    clock.now += 3600 - 300 - 1  # inside the 300 s safety margin: still cached
    assert tokens.token() == "tok-1"
    clock.now += 2
    assert tokens.token() == "tok-2"
    assert len(rsps.calls) == 2


def test_missing_expires_in_still_caches(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1"})
    tokens = manager(FakeClock())
    tokens.token(), tokens.token()
    assert len(rsps.calls) == 1


def test_invalidate_forgets_only_the_failed_token(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1", "expires_in": "9999"})
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-2", "expires_in": "9999"})
    tokens = manager(FakeClock())
    old = tokens.token()
    tokens.invalidate(old)
    assert tokens.token() == "tok-2"
    tokens.invalidate(old)  # a late 401 for the old token must not throw the new one away
    assert tokens.token() == "tok-2" and len(rsps.calls) == 2


def test_concurrent_callers_share_one_token_request(rsps):
    gate = threading.Event()

    def slow_token(request):
        gate.wait(5)
        return 200, {}, '{"access_token": "tok-1", "expires_in": "1814654"}'

    rsps.add_callback(responses.POST, TOKEN_URL, callback=slow_token)
    tokens = manager(FakeClock())
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(tokens.token())) for _ in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert results == ["tok-1"] * 8 and len(rsps.calls) == 1


@pytest.mark.parametrize("status", [400, 401])
def test_invalid_client_is_a_config_error_without_the_secret(rsps, status):
    rsps.add(responses.POST, TOKEN_URL, status=status, json={"error": "invalid_client"})
    with pytest.raises(ConfigError) as info:
        manager(FakeClock()).token()
    assert "invalid_client" in str(info.value) and "SSP_CLIENT_SECRET" in str(info.value)
    assert SECRET not in str(info.value) and info.value.exit_code == 2


def test_error_body_on_200_is_a_config_error(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"error": "invalid_client"})
    with pytest.raises(ConfigError):
        manager(FakeClock()).token()


def test_token_endpoint_throttling_is_retried(rsps):
    rsps.add(responses.POST, TOKEN_URL, status=429, headers={"Retry-After": "2"})
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1", "expires_in": "60"})
    clock = FakeClock()
    assert manager(clock).token() == "tok-1"
    assert clock.waits == [2.0]


def test_token_response_without_token_is_an_error(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"token_type": "Bearer"})
    with pytest.raises(PowerSchoolError, match="no access_token"):
        manager(FakeClock()).token()


def test_on_attempt_counts_token_requests(rsps):
    rsps.add(responses.POST, TOKEN_URL, status=503)
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1"})
    seen = []
    manager(FakeClock(), on_attempt=lambda: seen.append(1)).token()
    assert len(seen) == 2


def test_repr_shows_no_secret_or_token(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-abcdef", "expires_in": "60"})
    tokens = manager(FakeClock())
    tokens.token()
    assert SECRET not in repr(tokens) and "tok-abcdef" not in repr(tokens)

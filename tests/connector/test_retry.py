"""connector/retry.py: which failures are retried, how long it waits, when it gives up."""

from __future__ import annotations

import email.utils
import logging
import random

import pytest
import requests
import responses
from client_fakes import OUTAGE_HTML, FakeClock
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import MaxRetryError, NewConnectionError

from connector.retry import (
    AmbiguousRequestError,
    RetriesExhaustedError,
    RetryPolicy,
    UnreachableError,
    endpoint_name,
    json_body,
    parse_retry_after,
    send,
)

URL = "https://api.example.org/feed/items"
WALL = 1_700_000_000.0


def policy(clock: FakeClock, **kw) -> RetryPolicy:
    return RetryPolicy(
        sleep=clock.sleep, clock=clock, wallclock=lambda: WALL, rng=random.Random(7), **kw
    )


def refused() -> requests.ConnectionError:
    return requests.ConnectionError(MaxRetryError(None, URL, NewConnectionError(None, "refused")))


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retriable_status_is_retried_until_success(rsps, clock, status):
    rsps.add(responses.GET, URL, status=status)
    rsps.add(responses.GET, URL, json={"ok": True})
    response = send(requests.Session(), "GET", URL, policy(clock))
    assert response.status_code == 200 and json_body(response) == {"ok": True}
    assert len(rsps.calls) == 2 and len(clock.waits) == 1


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("reset"),
        ConnectionResetError(104, "reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("cut"),
    ],
)
def test_transport_errors_are_retried(rsps, clock, error):
    rsps.add(responses.GET, URL, body=error)
    rsps.add(responses.GET, URL, json=[])
    assert send(requests.Session(), "GET", URL, policy(clock)).status_code == 200
    assert len(rsps.calls) == 2


def test_retry_after_seconds_is_honoured(rsps, clock):
    rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "7"})
    rsps.add(responses.GET, URL, json={})
    send(requests.Session(), "GET", URL, policy(clock))
    assert clock.waits == [7.0]


def test_retry_after_http_date_is_honoured(rsps, clock):
    when = email.utils.formatdate(WALL + 12, usegmt=True)
    rsps.add(responses.GET, URL, status=503, headers={"Retry-After": when})
    rsps.add(responses.GET, URL, json={})
    send(requests.Session(), "GET", URL, policy(clock))
    assert clock.waits == [12.0]


def test_retry_after_is_capped_per_wait(rsps, clock):
    rsps.add(responses.GET, URL, status=429, headers={"Retry-After": "3600"})
    rsps.add(responses.GET, URL, json={})
    send(requests.Session(), "GET", URL, policy(clock, max_delay=20.0))
    assert clock.waits == [20.0]


def test_backoff_grows_and_is_jittered_within_the_cap(rsps, clock):
    for _ in range(6):
        rsps.add(responses.GET, URL, status=503)
    rsps.add(responses.GET, URL, json={})
    send(requests.Session(), "GET", URL, policy(clock, base_delay=1.0, max_delay=8.0))
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert len(clock.waits) == 6
    assert all(0.0 <= w <= c for w, c in zip(clock.waits, ceilings, strict=True))


def test_deadline_exhausted_names_the_endpoint_without_query(rsps, clock):
    rsps.add(responses.GET, URL, status=503, headers={"Retry-After": "10"})
    with pytest.raises(RetriesExhaustedError) as info:
        send(requests.Session(), "GET", URL + "?token=abc", policy(clock, deadline=35.0))
    assert info.value.endpoint == "GET /feed/items"
    assert "GET /feed/items" in str(info.value) and "token=abc" not in str(info.value)
    assert "HTTP 503" in str(info.value)
    assert sum(clock.waits) <= 35.0 and len(rsps.calls) == 4


def test_max_attempts_limits_retries(rsps, clock):
    rsps.add(responses.GET, URL, status=500)
    with pytest.raises(RetriesExhaustedError):
        send(requests.Session(), "GET", URL, policy(clock, max_attempts=3))
    assert len(rsps.calls) == 3


def test_html_200_outage_page_is_retried_like_503(rsps, clock):
    rsps.add(responses.GET, URL, body=OUTAGE_HTML, content_type="text/html")
    rsps.add(responses.GET, URL, json={"fine": 1})
    assert json_body(send(requests.Session(), "GET", URL, policy(clock))) == {"fine": 1}
    assert len(rsps.calls) == 2


def test_empty_2xx_body_is_accepted(rsps, clock):
    rsps.add(responses.DELETE, URL, status=204)
    response = send(requests.Session(), "DELETE", URL, policy(clock))
    assert response.status_code == 204 and json_body(response) is None


def test_non_json_body_accepted_when_json_not_expected(rsps, clock):
    rsps.add(responses.GET, URL, body="a,b\n1,2\n", content_type="text/csv")
    response = send(requests.Session(), "GET", URL, policy(clock, expect_json=False))
    assert response.text.startswith("a,b") and len(rsps.calls) == 1


def test_redirect_to_outage_host_is_retried_not_followed(rsps, clock):
    rsps.add(
        responses.GET,
        URL,
        status=302,
        headers={"Location": "https://message.powerschool.com/?server=ps.example.org"},
    )
    rsps.add(responses.GET, URL, json={})
    assert send(requests.Session(), "GET", URL, policy(clock)).status_code == 200
    assert [c.request.url for c in rsps.calls] == [URL, URL]


def test_other_redirects_are_returned_not_followed(rsps, clock):
    rsps.add(
        responses.GET, URL, status=302, headers={"Location": "https://elsewhere.example/login"}
    )
    response = send(requests.Session(), "GET", URL, policy(clock))
    assert response.status_code == 302 and len(rsps.calls) == 1


def test_non_retriable_4xx_is_returned_at_once(rsps, clock):
    rsps.add(responses.GET, URL, status=400, json={"message": "Validation Failed"})
    assert send(requests.Session(), "GET", URL, policy(clock)).status_code == 400
    assert clock.waits == []


def test_tls_errors_are_not_retried(rsps, clock):
    rsps.add(responses.GET, URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(UnreachableError, match="TLS certificate not trusted"):
        send(requests.Session(), "GET", URL, policy(clock))
    assert len(rsps.calls) == 1


# -- writes that are not idempotent ---------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection aborted: reset by peer")},
        {"status": 500},
        {"status": 502},
        {"status": 503},
        {"status": 504},
        {"body": OUTAGE_HTML, "content_type": "text/html"},
    ],
)
def test_post_is_not_resent_after_an_ambiguous_failure(rsps, clock, failure):
    rsps.add(responses.POST, URL, **failure)
    rsps.add(responses.POST, URL, json={"created": True})
    with pytest.raises(AmbiguousRequestError) as info:
        send(requests.Session(), "POST", URL, policy(clock), json={"a": "1"})
    assert len(rsps.calls) == 1
    assert info.value.endpoint == "POST /feed/items"


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"body": refused()},
        {"body": requests.exceptions.ConnectTimeout("connect timed out")},
        {"status": 302, "headers": {"Location": "https://message.powerschool.com/?server=x"}},
    ],
)
def test_post_is_resent_when_it_certainly_did_not_arrive(rsps, clock, failure):
    rsps.add(responses.POST, URL, **failure)
    rsps.add(responses.POST, URL, json={"created": True})
    assert send(requests.Session(), "POST", URL, policy(clock), json={}).status_code == 200
    assert len(rsps.calls) == 2


def test_post_marked_idempotent_is_retried_like_a_read(rsps, clock):
    rsps.add(responses.POST, URL, status=503)
    rsps.add(responses.POST, URL, json={})
    send(requests.Session(), "POST", URL, policy(clock), idempotent=True, json={})
    assert len(rsps.calls) == 2


def test_put_and_delete_are_retried(rsps, clock):
    rsps.add(responses.PUT, URL, body=requests.exceptions.ReadTimeout())
    rsps.add(responses.PUT, URL, json={})
    rsps.add(responses.DELETE, URL, status=500)
    rsps.add(responses.DELETE, URL, status=204)
    send(requests.Session(), "PUT", URL, policy(clock), json={})
    send(requests.Session(), "DELETE", URL, policy(clock))
    assert len(rsps.calls) == 4


def test_budget_is_shared_across_calls(rsps, clock):
    rsps.add(responses.GET, URL, status=503, headers={"Retry-After": "20"})
    p = policy(clock, deadline=50.0)
    budget = p.budget()
    rsps.add(responses.GET, URL, json={})
    send(requests.Session(), "GET", URL, p, budget=budget)
    rsps.replace(responses.GET, URL, status=503, headers={"Retry-After": "20"})
    with pytest.raises(RetriesExhaustedError):
        send(requests.Session(), "GET", URL, p, budget=budget)
    assert sum(clock.waits) <= 50.0 and budget.attempts == 4


def test_on_attempt_counts_every_attempt(rsps, clock):
    rsps.add(responses.GET, URL, status=503)
    rsps.add(responses.GET, URL, body=requests.exceptions.ReadTimeout())
    rsps.add(responses.GET, URL, json={})
    seen = []
    send(requests.Session(), "GET", URL, policy(clock), on_attempt=lambda: seen.append(1))
    assert len(seen) == 3


def test_debug_log_has_method_path_status_attempt_but_no_query_or_body(rsps, clock, caplog):
    rsps.add(responses.POST, URL, status=503)
    rsps.add(responses.POST, URL, json={"secret_row": "Jane Doe"})
    caplog.set_level(logging.DEBUG, logger="connector.http")
    send(
        requests.Session(),
        "POST",
        URL + "?q=ssp_uid==abc",
        policy(clock),
        idempotent=True,
        json={"name": "Jane Doe"},
        headers={"Authorization": "Bearer tok-xyz"},
    )
    text = caplog.text
    assert (
        "POST /feed/items -> 503 (attempt 1" in text
        and "POST /feed/items -> 200 (attempt 2" in text
    )
    assert "Jane" not in text and "tok-xyz" not in text and "ssp_uid" not in text


# -- pure functions -------------------------------------------------------------------------------


def test_parse_retry_after_forms():
    assert parse_retry_after("5", WALL) == 5.0
    assert parse_retry_after(" 2.5 ", WALL) == 2.5
    assert parse_retry_after("-3", WALL) == 0.0
    assert parse_retry_after(email.utils.formatdate(WALL + 90, usegmt=True), WALL) == 90.0
    assert parse_retry_after(email.utils.formatdate(WALL - 90, usegmt=True), WALL) == 0.0
    assert parse_retry_after("soon", WALL) is None
    assert parse_retry_after(None, WALL) is None and parse_retry_after("", WALL) is None


def test_endpoint_name_drops_query_and_host():
    assert endpoint_name("get", "https://h.example/ws/x?q=a==b") == "GET /ws/x"


@given(
    attempt=st.integers(min_value=1, max_value=60), base=st.floats(0.01, 5), cap=st.floats(0.1, 120)
)
def test_backoff_never_exceeds_cap_or_exponential_ceiling(attempt, base, cap):
    p = RetryPolicy(base_delay=base, max_delay=cap, rng=random.Random(attempt))
    delay = p.backoff(attempt)
    assert 0.0 <= delay <= min(cap, base * 2 ** (attempt - 1)) + 1e-9

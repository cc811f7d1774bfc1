"""PowerSchoolClient under faults: 401 refresh, 429/5xx, resets, time-outs, outage pages, 4xx."""

from __future__ import annotations

import email.utils
import json
import time

import pytest
import requests
import responses
from client_fakes import (
    OUTAGE_HTML,
    TABLE,
    TABLE_URL,
    TOKEN_URL,
    FakeClock,
    PagedTable,
    add_metadata,
    add_token,
    calls_to,
    make_client,
)
from responses import matchers

from foundation.errors import (
    AccessDeniedError,
    NotFoundError,
    PowerSchoolError,
    RunError,
)

COUNT_URL = TABLE_URL + "/count"


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def bearer(token: str) -> list:
    return [matchers.header_matcher({"Authorization": f"Bearer {token}"})]


def test_401_refreshes_the_token_once_and_retries(rsps):
    add_token(rsps, "tok-1")
    add_token(rsps, "tok-2")
    rsps.add(
        responses.GET,
        COUNT_URL,
        status=401,
        match=bearer("tok-1"),
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
    rsps.add(responses.GET, COUNT_URL, json={"count": 4}, match=bearer("tok-2"))
    with make_client() as ps:
        assert ps.table_count(TABLE) == 4
        assert ps.table_count(TABLE) == 4
    assert len(calls_to(rsps, TOKEN_URL)) == 2 and len(calls_to(rsps, COUNT_URL)) == 3


def test_the_same_token_refused_after_a_refresh_is_an_error_naming_the_endpoint(rsps):
    """PowerSchool hands out the same token while it is valid: a plugin that may not read the
    table is refused it twice, and the call fails after one refresh."""
    add_token(rsps, "tok-1")
    rsps.add(responses.GET, COUNT_URL, status=401)
    with make_client() as ps, pytest.raises(PowerSchoolError) as info:
        ps.table_count(TABLE)
    assert info.value.status == 401 and "GET /ws/schema/table/u_ssp_partners/count" in str(
        info.value
    )
    assert len(calls_to(rsps, TOKEN_URL)) == 2 and len(calls_to(rsps, COUNT_URL)) == 2


def test_new_tokens_refused_three_times_are_an_error(rsps):
    for n in (1, 2, 3, 4):
        add_token(rsps, f"tok-{n}")
    rsps.add(responses.GET, COUNT_URL, status=401)
    with make_client() as ps, pytest.raises(PowerSchoolError) as info:
        ps.table_count(TABLE)
    assert info.value.status == 401
    assert len(calls_to(rsps, TOKEN_URL)) == 3 and len(calls_to(rsps, COUNT_URL)) == 3


def test_a_token_another_thread_fetched_and_that_is_refused_too_is_refreshed_again(rsps):
    """Thread A is refused with tok-1; meanwhile thread B had refreshed to tok-2, which the server
    ended too (found by the fault-mix reliability test): A tries tok-2, then tok-3."""
    add_token(rsps, "tok-1")
    add_token(rsps, "tok-3")
    with make_client() as ps:

        def refused_while_another_thread_refreshes(request):
            ps._auth._token = "tok-2"  # what thread B's refresh left in the cache
            return 401, {}, "{}"

        rsps.add_callback(responses.GET, COUNT_URL, callback=refused_while_another_thread_refreshes,
                          match=bearer("tok-1"))
        rsps.add(responses.GET, COUNT_URL, status=401, match=bearer("tok-2"))
        rsps.add(responses.GET, COUNT_URL, json={"count": 5}, match=bearer("tok-3"))
        assert ps.table_count(TABLE) == 5
    assert len(calls_to(rsps, TOKEN_URL)) == 2 and len(calls_to(rsps, COUNT_URL)) == 3


def test_burst_of_401s_from_concurrent_pages_costs_one_refresh(rsps):
    add_token(rsps, "tok-1")
    add_token(rsps, "tok-2")
    add_token(rsps, "tok-3")  # would only be fetched by a token storm
    add_metadata(rsps, page_size=1)
    rsps.add(responses.GET, COUNT_URL, json={"count": 8})
    rsps.add(responses.GET, TABLE_URL, status=401, match=bearer("tok-1"))
    table = PagedTable(8)
    rsps.add_callback(responses.GET, TABLE_URL, callback=table._page, match=bearer("tok-2"))
    with make_client(max_workers=4) as ps:
        assert [r["id"] for r in ps.table_rows(TABLE)] == [str(i) for i in range(1, 9)]
    assert len(calls_to(rsps, TOKEN_URL)) == 2


def test_token_expiring_mid_run_is_refreshed_before_use(rsps):
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-1", "expires_in": "600"})
    rsps.add(responses.POST, TOKEN_URL, json={"access_token": "tok-2", "expires_in": 600})
    rsps.add(responses.GET, COUNT_URL, json={"count": 1}, match=bearer("tok-1"))
    rsps.add(responses.GET, COUNT_URL, json={"count": 2}, match=bearer("tok-2"))
    clock = FakeClock()
    with make_client(clock) as ps:
        assert ps.table_count(TABLE) == 1
        clock.now += 600
        assert ps.table_count(TABLE) == 2


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_statuses_are_ridden_out(rsps, status):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, status=status)
    rsps.add(responses.GET, COUNT_URL, status=status)
    rsps.add(responses.GET, COUNT_URL, json={"count": 3})
    clock = FakeClock()
    with make_client(clock) as ps:
        assert ps.table_count(TABLE) == 3
        assert ps.request_count == 4  # token + 3 attempts
    assert len(clock.waits) == 2


def test_429_retry_after_seconds_is_waited_exactly(rsps):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, status=429, headers={"Retry-After": "9"})
    rsps.add(responses.GET, COUNT_URL, json={"count": 3})
    clock = FakeClock()
    with make_client(clock) as ps:
        ps.table_count(TABLE)
    assert clock.waits == [9.0]


def test_429_retry_after_http_date_is_waited(rsps):
    add_token(rsps)
    when = email.utils.formatdate(time.time() + 25, usegmt=True)  # whole seconds: wait in (24, 25]
    rsps.add(responses.GET, COUNT_URL, status=429, headers={"Retry-After": when})
    rsps.add(responses.GET, COUNT_URL, json={"count": 3})
    clock = FakeClock()
    with make_client(clock) as ps:
        ps.table_count(TABLE)
    [wait] = clock.waits
    assert 20.0 < wait <= 25.0


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("Connection aborted: reset by peer"),
        ConnectionResetError(104, "Connection reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
)
def test_connection_errors_and_read_timeouts_are_retried(rsps, error):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, body=error)
    rsps.add(responses.GET, COUNT_URL, json={"count": 3})
    with make_client() as ps:
        assert ps.table_count(TABLE) == 3


def test_html_outage_page_on_200_is_retried(rsps):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, body=OUTAGE_HTML, content_type="text/html")
    rsps.add(responses.GET, COUNT_URL, json={"count": 3})
    with make_client() as ps:
        assert ps.table_count(TABLE) == 3


def test_redirect_to_outage_host_is_retried_and_never_followed(rsps):
    add_token(rsps)
    rsps.add(
        responses.GET,
        COUNT_URL,
        status=302,
        headers={"Location": "https://message.powerschool.com/?server=ps.example.org"},
    )
    rsps.add(responses.GET, COUNT_URL, json={"count": 3})
    with make_client() as ps:
        assert ps.table_count(TABLE) == 3
    assert not [c for c in rsps.calls if "message.powerschool.com" in c.request.url]


def test_redirect_elsewhere_is_an_error_not_followed(rsps):
    add_token(rsps)
    rsps.add(
        responses.GET, COUNT_URL, status=302, headers={"Location": "https://sso.example.org/login"}
    )
    with (
        make_client() as ps,
        pytest.raises(PowerSchoolError, match="redirected to sso.example.org"),
    ):
        ps.table_count(TABLE)
    assert len(calls_to(rsps, COUNT_URL)) == 1


def test_deadline_exhausted_is_a_run_error_naming_the_endpoint(rsps):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, status=503)
    clock = FakeClock()
    with make_client(clock, retry_deadline=60.0) as ps, pytest.raises(RunError) as info:
        ps.table_count(TABLE, q="ssp_uid==abc")
    assert isinstance(info.value, PowerSchoolError)
    message = str(info.value)
    assert "GET /ws/schema/table/u_ssp_partners/count" in message and "HTTP 503" in message
    assert "ssp_uid" not in message
    assert sum(clock.waits) <= 60.0


def test_deadline_covers_token_request_too(rsps):
    rsps.add(responses.POST, TOKEN_URL, status=503)
    with (
        make_client(retry_deadline=30.0) as ps,
        pytest.raises(PowerSchoolError, match="/oauth/access_token"),
    ):
        ps.table_count(TABLE)


def test_400_carries_powerschool_message_and_errors(rsps):
    add_token(rsps)
    rsps.add(
        responses.POST,
        TABLE_URL.replace("table/u_ssp_partners", "query/q.x") + "/count",
        status=400,
        json={
            "message": "Validation Failed",
            "errors": [{"resource": "q.x", "field": "since", "code": "invalid"}],
        },
    )
    with make_client() as ps, pytest.raises(PowerSchoolError) as info:
        ps.query_count("q.x", {"since": "yesterday"})
    text = str(info.value)
    assert "POST /ws/schema/query/q.x/count -> HTTP 400" in text
    assert "Validation Failed" in text and "field=since" in text and "code=invalid" in text
    assert "yesterday" not in text
    assert len(rsps.calls) == 2  # not retried


def test_403_is_access_denied(rsps):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, status=403, json={"message": "Forbidden"})
    with make_client() as ps, pytest.raises(AccessDeniedError, match="access_request"):
        ps.table_count(TABLE)


def test_404_is_not_found(rsps):
    add_token(rsps)
    rsps.add(responses.GET, TABLE_URL + "/99", status=404)
    with (
        make_client() as ps,
        pytest.raises(NotFoundError, match="GET /ws/schema/table/u_ssp_partners/99"),
    ):
        ps.get_row(TABLE, 99)


def test_tls_failure_is_not_retried_and_is_clear(rsps):
    add_token(rsps)
    rsps.add(
        responses.GET, COUNT_URL, body=requests.exceptions.SSLError("certificate verify failed")
    )
    with make_client() as ps, pytest.raises(PowerSchoolError, match="TLS"):
        ps.table_count(TABLE)
    assert len(calls_to(rsps, COUNT_URL)) == 1


def test_paged_read_survives_mixed_faults(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=5)
    table = PagedTable(23)
    rsps.add(responses.GET, COUNT_URL, json={"count": 23})
    faults = iter([(503, ""), (429, ""), (200, OUTAGE_HTML)])

    def flaky(request):
        fault = next(faults, None)
        if fault is not None:
            return fault[0], {"Retry-After": "1"}, fault[1]
        return table._page(request)

    rsps.add_callback(responses.GET, TABLE_URL, callback=flaky)
    with make_client(max_workers=3) as ps:
        rows = ps.table_rows(TABLE)
        assert ps.request_count == 3 + 5 + 3  # token, metadata, count, 5 pages, 3 retries
    assert [r["id"] for r in rows] == [str(i) for i in range(1, 24)]


def test_non_json_error_body_is_handled(rsps):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, status=400, body="<html>bad</html>")
    with make_client() as ps, pytest.raises(PowerSchoolError, match="HTTP 400: request refused"):
        ps.table_count(TABLE)


def test_count_with_nonsense_body_is_a_shape_error(rsps):
    add_token(rsps)
    rsps.add(responses.GET, COUNT_URL, body=json.dumps({"total": 5}))
    with make_client() as ps, pytest.raises(PowerSchoolError, match="unexpected response shape"):
        ps.table_count(TABLE)

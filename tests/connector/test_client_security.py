"""PowerSchoolClient transport safety: https only, TLS on, no secret or row data in logs/errors."""

from __future__ import annotations

import io
import logging

import pytest
import requests
import responses
from client_fakes import (
    CREDS,
    SECRET,
    TABLE,
    TABLE_URL,
    TOKEN_URL,
    FakeClock,
    PagedTable,
    add_metadata,
    add_token,
    make_client,
)

from connector.client import PowerSchoolClient
from foundation.errors import ConfigError, PowerSchoolError
from foundation.logs import JsonFormatter, SecretMaskFilter


@pytest.mark.parametrize(
    "url", ["http://ps.example.org", "http://10.0.0.5", "ftp://ps.example.org", "ps.example.org"]
)
def test_plain_http_is_refused_for_remote_hosts(url):
    with pytest.raises(ConfigError):
        PowerSchoolClient(url, CREDS)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765", "http://localhost:8000/", "http://[::1]:9000"]
)
def test_plain_http_is_allowed_for_loopback(url):
    with PowerSchoolClient(url, CREDS) as ps:
        assert ps.base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["https://user:pw@ps.example.org", "https://ps.example.org/?a=b"])
def test_urls_with_credentials_or_query_are_refused(url):
    with pytest.raises(ConfigError):
        PowerSchoolClient(url, CREDS)


def test_tls_verification_cannot_be_switched_off():
    session = requests.Session()
    session.verify = False
    with pytest.raises(ConfigError, match="TLS"):
        PowerSchoolClient("https://ps.example.org", CREDS, session=session)


def test_secret_absent_from_repr_and_str():
    with make_client() as ps:
        assert SECRET not in repr(ps) and SECRET not in str(ps)
        assert CREDS.client_id in repr(ps)


def test_secret_token_and_rows_absent_from_logs_at_debug(caplog):
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_token(rsps, token="tok-very-secret-1234")
        add_metadata(rsps, page_size=2)
        table = PagedTable(3)
        table.rows[0]["name"] = "Jane Q. Student"
        table.install(rsps)
        rsps.add(responses.GET, TABLE_URL + "/9", status=503)
        with make_client(retry_deadline=5.0) as ps:
            ps.table_rows(TABLE, q="partner_id==p1")
            with pytest.raises(PowerSchoolError) as info:
                ps.get_row(TABLE, 9)
    text = caplog.text + str(info.value) + repr(info.value)
    assert "GET /ws/schema/table/u_ssp_partners -> 200" in caplog.text  # requests are logged...
    for forbidden in (SECRET, "tok-very-secret-1234", "Jane", "partner_id==p1", "Authorization"):
        assert forbidden not in text  # ...but never secrets, tokens, bodies or query strings


def test_registered_secret_is_masked_even_if_it_reaches_a_message():
    with make_client():
        pass
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(SecretMaskFilter())
    logger = logging.getLogger("test.mask")
    logger.addHandler(handler)
    try:
        logger.error("oops %s", SECRET)
    finally:
        logger.removeHandler(handler)
    assert SECRET not in stream.getvalue() and "**********" in stream.getvalue()


def test_bad_credentials_error_carries_no_secret():
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN_URL, status=401, json={"error": "invalid_client"})
        with make_client() as ps, pytest.raises(ConfigError) as info:
            ps.table_count(TABLE)
    assert SECRET not in str(info.value) and info.value.__cause__ is None


def test_request_count_is_exposed_and_counts_retries():
    clock = FakeClock()
    with responses.RequestsMock() as rsps:
        add_token(rsps)
        rsps.add(responses.GET, TABLE_URL + "/count", body=requests.exceptions.ReadTimeout())
        rsps.add(responses.GET, TABLE_URL + "/count", json={"count": 0})
        with make_client(clock) as ps:
            assert ps.request_count == 0
            ps.table_count(TABLE)
            assert ps.request_count == 3

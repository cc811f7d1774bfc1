"""Network failures named with the host and the cause, at once when retrying cannot heal them.

Real sockets on 127.0.0.1 only: a port nothing listens on, a `.invalid` name (never resolvable, no
network needed), and a local TLS server with a self-signed certificate. The figures (time to the
error) are in bench/bench_unreachable.py; here: the words, and how many attempts were made.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from pydantic import SecretStr

from connector.client import PowerSchoolClient
from connector.feeds.http_feed import HttpFeed
from connector.mapping import load_mapping
from connector.retry import RetryPolicy, UnreachableError, network_failure, send
from foundation.config import Credentials
from foundation.errors import PowerSchoolError, RunError
from sandbox.tls import self_signed_server

CREDENTIALS = Credentials("plugin-id", SecretStr("plugin-secret-0123"))


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """https://127.0.0.1:<port> served with a self-signed certificate (made with openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    server, url = self_signed_server(tmp_path_factory.mktemp("tls"))
    yield url
    server.shutdown()
    server.server_close()


def powerschool_error(base_url: str) -> tuple[str, int]:
    with PowerSchoolClient(base_url, CREDENTIALS, retry_deadline=300.0) as ps:
        with pytest.raises(PowerSchoolError) as info:
            ps.metadata()
        return str(info.value), ps.request_count


def test_refused_connection_at_first_contact_is_named_and_not_retried() -> None:
    port = closed_port()
    message, attempts = powerschool_error(f"http://127.0.0.1:{port}")
    assert f"cannot reach 127.0.0.1:{port}: connection refused" in message
    assert f"port {port}" in message
    assert attempts == 1


def test_unresolvable_host_name_is_named_and_not_retried() -> None:
    message, attempts = powerschool_error("https://powerschool.district.invalid")
    assert "cannot reach powerschool.district.invalid: name not resolved" in message
    assert "DNS" in message
    assert attempts == 1


def test_untrusted_tls_certificate_is_named_and_not_retried(tls_url: str) -> None:
    message, attempts = powerschool_error(tls_url)
    host = tls_url.removeprefix("https://")
    assert f"cannot reach {host}: TLS certificate not trusted (self-signed certificate)" in message
    assert "REQUESTS_CA_BUNDLE" in message
    assert attempts == 1


def test_a_host_that_answered_before_is_retried_when_it_refuses(monkeypatch) -> None:
    """A restart mid-run refuses connections for a moment: that heals, so it is retried."""
    url = "https://ps.example.org/ws/v1/metadata"
    refused = requests.ConnectionError(ConnectionRefusedError(111, "Connection refused"))
    policy = RetryPolicy(sleep=lambda _s: None)
    session = requests.Session()
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, url, json={})
        rsps.add(responses.GET, url, body=refused)
        rsps.add(responses.GET, url, json={"ok": 1})
        send(session, "GET", url, policy)
        assert send(session, "GET", url, policy).json() == {"ok": 1}
        assert len(rsps.calls) == 3
    with responses.RequestsMock() as rsps:  # a new session: first contact, refused -> at once
        rsps.add(responses.GET, url, body=refused)
        with pytest.raises(UnreachableError, match="connection refused"):
            send(requests.Session(), "GET", url, policy)
        assert len(rsps.calls) == 1


def test_transient_failures_keep_their_retries_and_name_the_host() -> None:
    url = "https://ps.example.org/ws/v1/metadata"
    policy = RetryPolicy(sleep=lambda _s: None, max_attempts=3)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, url, body=requests.exceptions.ReadTimeout("read timed out"))
        with pytest.raises(RunError) as info:
            send(requests.Session(), "GET", url, policy, timeout=30)
        assert len(rsps.calls) == 3
    assert "gave up after 3 attempt(s)" in str(info.value)
    assert "no answer within 30 s (timed out) (ps.example.org)" in str(info.value)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")), "reset"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "connect_timeout"),
        (requests.exceptions.SSLError("certificate verify failed"), "tls"),
        (requests.ConnectionError(socket.gaierror(-2, "Name or service not known")), "dns"),
    ],
)
def test_each_failure_gets_its_kind(error: Exception, kind: str) -> None:
    assert network_failure(error, "https://h.example:8443/x").kind == kind
    assert network_failure(error, "https://h.example:8443/x").host == "h.example:8443"


def test_an_unreachable_partner_api_is_named_with_the_partner_and_host(tmp_path: Path) -> None:
    port = closed_port()
    feed = HttpFeed(
        "cgc", load_mapping("generic", base_dir=tmp_path), base_url=f"http://127.0.0.1:{port}", token=None,
        state_dir=tmp_path,
    )
    with pytest.raises(RunError) as info:
        list(feed.inbound("visit"))
    assert str(info.value).startswith(
        f"partner 'cgc' API GET /visits: cannot reach 127.0.0.1:{port}: connection refused"
    )


def test_a_partner_api_refusing_the_token_is_said_at_once(tmp_path: Path) -> None:
    feed = HttpFeed(
        "cgc", load_mapping("generic", base_dir=tmp_path), base_url="https://api.partner.example",
        token="stale-token-0123", state_dir=tmp_path,
    )
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, "https://api.partner.example/visits", status=401,
                 json={"error": "invalid_token"})
        with pytest.raises(RunError) as info:
            list(feed.inbound("visit"))
        assert len(rsps.calls) == 1
    assert "refused the API token (HTTP 401)" in str(info.value)
    assert "partners[cgc].feed.token_env" in str(info.value)
    assert "stale-token-0123" not in str(info.value)

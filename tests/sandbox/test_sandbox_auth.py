"""OAuth client credentials, bearer checks and metadata, shaped like PowerSchool's."""

from __future__ import annotations

import requests
from sandbox_helpers import token

from sandbox import Sandbox


def ask_token(
    sb: Sandbox,
    auth: tuple[str, str] | None = None,
    *,
    path: str = "/oauth/access_token",
    grant: str = "client_credentials",
) -> requests.Response:
    return requests.post(
        sb.base_url + path,
        auth=auth or (sb.client_id, sb.client_secret),
        data={"grant_type": grant},
        timeout=5,
    )


def test_token_response_has_string_expires_in(sandbox: Sandbox) -> None:
    reply = ask_token(sandbox)
    body = reply.json()
    assert reply.status_code == 200 and body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], str) and int(body["expires_in"]) > 29 * 24 * 3600
    assert body["access_token"]


def test_token_endpoint_also_answers_with_a_trailing_slash(sandbox: Sandbox) -> None:
    assert ask_token(sandbox, path="/oauth/access_token/").status_code == 200


def test_asking_again_returns_the_same_token_until_it_expires(sandbox: Sandbox) -> None:
    first = token(sandbox)
    assert token(sandbox) == first
    sandbox.expire_tokens()
    assert token(sandbox) != first


def test_wrong_secret_is_invalid_client(sandbox: Sandbox) -> None:
    reply = ask_token(sandbox, (sandbox.client_id, "wrong"))
    assert (reply.status_code, reply.json()) == (401, {"error": "invalid_client"})
    no_auth = requests.post(
        sandbox.base_url + "/oauth/access_token",
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert no_auth.status_code == 401


def test_other_grant_types_are_refused(sandbox: Sandbox) -> None:
    reply = ask_token(sandbox, grant="password")
    assert (reply.status_code, reply.json()) == (400, {"error": "unsupported_grant_type"})


def test_schema_calls_need_a_bearer_token(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/ws/schema/table/u_ssp_partners?projection=*"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        reply = requests.get(url, headers=headers, timeout=5)
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_expired_token_gets_401_and_a_new_token_works(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    url = f"{sandbox.base_url}/ws/schema/table/u_ssp_partners/count"
    assert ps.get(url, timeout=5).status_code == 200
    sandbox.expire_tokens()
    assert ps.get(url, timeout=5).status_code == 401
    ps.headers["Authorization"] = f"Bearer {token(sandbox)}"
    assert ps.get(url, timeout=5).status_code == 200


def test_metadata_reports_page_size_and_plugin_only_when_authorised(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    meta = ps.get(f"{sandbox.base_url}/ws/v1/metadata", timeout=5).json()["metadata"]
    assert meta["schema_table_query_max_page_size"] == 100
    assert meta["district_timezone"] == "America/Chicago" and meta["powerschool_version"]
    assert isinstance(meta["plugin_id"], int)
    anonymous = requests.get(f"{sandbox.base_url}/ws/v1/metadata", timeout=5).json()["metadata"]
    assert "plugin_id" not in anonymous and anonymous["schema_table_query_max_page_size"] == 100


def test_credentials_are_not_in_the_repr(sandbox: Sandbox) -> None:
    assert sandbox.client_secret not in repr(sandbox) and sandbox.client_secret not in repr(
        sandbox.auth
    )

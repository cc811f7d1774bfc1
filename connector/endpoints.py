"""PowerSchool plugin API paths, names and status mapping, kept apart from the client's logic.

Names that go into URL paths are validated (a table or query name is never a path traversal);
error messages name the endpoint and PowerSchool's own words (field names and codes only), never
row values, tokens or the query string.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from connector.normalise import as_list, cast_value
from connector.retry import json_body
from foundation.config import is_loopback_url
from foundation.errors import AccessDeniedError, ConfigError, NotFoundError, PowerSchoolError

__all__ = [
    "METADATA_PATH",
    "TABLE_PATH",
    "QUERY_PATH",
    "TABLE_NAME",
    "FIQL_VALUE",
    "raise_for_status",
    "powerschool_message",
    "checked_base_url",
    "new_session",
    "table_path",
    "query_path",
    "checked_row_id",
    "query_body",
    "drop_none",
]

METADATA_PATH = "/ws/v1/metadata"
TABLE_PATH = "/ws/schema/table/"
QUERY_PATH = "/ws/schema/query/"
TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
QUERY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.]{0,199}$")
ROW_ID = re.compile(r"^[0-9]{1,19}$")
FIQL_VALUE = re.compile(r"^[A-Za-z0-9_.:@+-]{1,100}$")


def raise_for_status(response: requests.Response, endpoint: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    said = powerschool_message(response)
    suffix = f": {said}" if said else ""
    if 300 <= status < 400:
        host = urlsplit(response.headers.get("Location", "")).hostname or "an unknown host"
        raise PowerSchoolError(
            f"redirected to {host}; not followed", endpoint=endpoint, status=status
        )
    if status == 401:
        raise PowerSchoolError(
            "not authorised even with a fresh token: is the plugin enabled?" + suffix,
            endpoint=endpoint,
            status=status,
        )
    if status == 403:
        raise AccessDeniedError(
            "access denied: the plugin's approved access_request does not cover this" + suffix,
            endpoint=endpoint,
            status=status,
        )
    if status == 404:
        raise NotFoundError("not found" + suffix, endpoint=endpoint, status=status)
    raise PowerSchoolError(said or "request refused", endpoint=endpoint, status=status)


def powerschool_message(response: requests.Response) -> str:
    """PowerSchool's `message` / `errors` (field names and codes), bounded in length."""
    try:
        body = json_body(response)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k])[:200] for k in ("message", "error", "error_description") if body.get(k)]
    for item in as_list(body.get("errors"))[:10]:
        if isinstance(item, dict):
            keys = ("resource", "field", "code", "error_code", "message", "description")
            parts.append(", ".join(f"{k}={str(item[k])[:100]}" for k in keys if item.get(k)))
        else:
            parts.append(str(item)[:200])
    return "; ".join(p for p in parts if p)[:600]


def checked_base_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"PowerSchool URL {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_url(url):
        raise ConfigError("PowerSchool URL must use https (plain http only for loopback hosts)")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("PowerSchool URL must not carry credentials, a query or a fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def new_session(max_workers: int, base_url: str | None = None) -> requests.Session:
    """A pooled session. Given `base_url`, the environment (HTTPS_PROXY/NO_PROXY,
    REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE) is read once here instead of on every request: with
    `trust_env` requests re-scans os.environ and stats ~/.netrc per call, a fifth of the client's
    CPU on a 100,000-row read (docs/performance.md). The token goes in a header, so .netrc never
    applied anyway."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, max_workers + 2), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if base_url is not None:
        session.proxies.update(requests.utils.get_environ_proxies(base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        session.trust_env = False
    return session


def table_path(table: str) -> str:
    if not TABLE_NAME.match(table):
        raise ValueError(f"not a PowerSchool table name: {table!r}")
    return TABLE_PATH + table.lower()


def query_path(name: str) -> str:
    if not QUERY_NAME.match(name):
        raise ValueError(f"not a PowerQuery name: {name!r}")
    return QUERY_PATH + name


def checked_row_id(row_id: int | str) -> str:
    text = str(row_id).strip()
    if not ROW_ID.match(text):
        raise ValueError("row id must be a non-negative integer")
    return text


def query_body(args: Mapping[str, Any] | None) -> dict[str, Any]:
    """PowerQuery arguments as strings; lists/tuples stay arrays (of strings)."""
    body: dict[str, Any] = {}
    for key, value in (args or {}).items():
        if isinstance(value, (list, tuple)):
            body[key] = [cast_value(item) for item in value]
        else:
            body[key] = cast_value(value)
    return body


def drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}

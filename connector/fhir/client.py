"""HTTP to a partner's FHIR R4 server: bearer token or OAuth2 client credentials, retries, reads.

Every request goes through `connector.retry.send` (the same retry discipline as the PowerSchool
client and the http feed). Tokens are registered with the log masker and never shown in a repr.
An OAuth2 token is fetched on first use, renewed a minute before it expires and once more when
the server answers 401 (a token revoked early); a second 401 is a configuration problem.
Reads of referenced resources are cached for the life of the client (one sync run).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import requests

from connector.retry import (
    RetriesExhaustedError,
    RetryPolicy,
    UnreachableError,
    endpoint_name,
    send,
)
from foundation.config import require_https
from foundation.errors import RunError
from foundation.logs import register_secret

__all__ = ["FhirClient", "OAuthClientCredentials", "FhirResponse", "MAX_PAGES"]

FHIR_JSON = "application/fhir+json"
MAX_PAGES = 100_000
MAX_BODY_BYTES = 64 << 20


@dataclass(frozen=True)
class OAuthClientCredentials:
    token_url: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"OAuthClientCredentials({self.token_url!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class FhirResponse:
    status: int
    body: bytes
    data: Any
    etag: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class FhirClient:
    """One partner's FHIR server. `token` or `oauth` (or neither, loopback only)."""

    def __init__(
        self,
        partner_id: str,
        base_url: str,
        *,
        token: str | None = None,
        oauth: OAuthClientCredentials | None = None,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        require_https(base_url, key=f"partners[{partner_id}].feed.base_url")
        self.partner_id = partner_id
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.requests = 0
        self._oauth = oauth
        self._token = token
        self._expires = float("inf") if token else 0.0
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, Any] | None] = {}
        if token:
            register_secret(token)
        if oauth:
            register_secret(oauth.client_secret)

    def __repr__(self) -> str:  # never the token
        return f"FhirClient({self.partner_id!r}, {self.base_url!r})"

    # ------------------------------------------------------------------ auth
    def _bearer(self, *, refused: str | None = None) -> str | None:
        """The token to send; a new one when it is about to expire or the server refused
        `refused` (unless another thread has renewed it meanwhile: one renewal per refusal)."""
        if self._oauth is None:
            return self._token
        with self._lock:
            renew = refused is not None and refused == self._token
            if renew or self._token is None or time.monotonic() > self._expires:
                self._token, lifetime = self._fetch_token(self._oauth)
                register_secret(self._token)
                # renewed a minute early, or halfway through a token that lives under 2 minutes
                self._expires = time.monotonic() + lifetime - min(60.0, lifetime / 2)
            return self._token

    def _fetch_token(self, oauth: OAuthClientCredentials) -> tuple[str, float]:
        response = self._send(
            "POST",
            oauth.token_url,
            idempotent=True,
            data={"grant_type": "client_credentials"},
            auth=(oauth.client_id, oauth.client_secret),
            headers={"Accept": "application/json"},
        )
        if response.status_code in (400, 401, 403):
            raise RunError(
                f"partner '{self.partner_id}' token endpoint {endpoint_name('POST', oauth.token_url)} "
                f"refused the client credentials (HTTP {response.status_code}): check the variables "
                f"named by partners[{self.partner_id}].feed.client_id_env / client_secret_env"
            )
        try:
            data = response.json()
            token = str(data["access_token"])
            lifetime = float(data.get("expires_in") or 300)
        except (ValueError, KeyError, TypeError):
            raise RunError(
                f"partner '{self.partner_id}' token endpoint answered HTTP {response.status_code} "
                "without an access_token"
            ) from None
        return token, lifetime

    def _headers(self, token: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": FHIR_JSON, "User-Agent": "ssp-connector"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return {**headers, **(extra or {})}

    # ------------------------------------------------------------------ requests
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """`retry.send`, with a failure that names this partner."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            self.requests += 1
            return send(self.session, method, url, self.policy, **kwargs)
        except (UnreachableError, RetriesExhaustedError) as exc:
            raise RunError(
                f"partner '{self.partner_id}' FHIR server {endpoint_name(method, url)}: {exc.detail}"
            ) from None

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        authenticated: bool = True,
    ) -> FhirResponse:
        """One request (retried as `retry.send` allows); 401/403 after a renewal is a RunError."""
        url = self.url(path_or_url)
        data = None
        extra = dict(headers or {})
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            extra["Content-Type"] = FHIR_JSON
        token = None
        for attempt in range(2):
            token = self._bearer(refused=token if attempt == 1 else None) if authenticated else None
            response = self._send(
                method,
                url,
                idempotent=True,  # conditional creates and If-Match updates are safe to repeat
                params=params or {},
                data=data,
                headers=self._headers(token, extra),
            )
            if response.status_code == 401 and self._oauth is not None and attempt == 0:
                continue
            break
        if response.status_code in (401, 403) and authenticated:
            where = (
                f"partners[{self.partner_id}].feed.client_id_env / client_secret_env"
                if self._oauth
                else f"the variable named by partners[{self.partner_id}].feed.token_env"
            )
            raise RunError(
                f"partner '{self.partner_id}' FHIR server {endpoint_name(method, url)} refused the "
                f"token (HTTP {response.status_code}): check {where} with the partner"
            )
        if len(response.content) > MAX_BODY_BYTES:
            raise RunError(f"{endpoint_name(method, url)}: answer larger than {MAX_BODY_BYTES} bytes")
        try:
            parsed = json.loads(response.content) if response.content else None
        except ValueError:
            parsed = None
        return FhirResponse(response.status_code, response.content, parsed,
                            response.headers.get("ETag", ""))

    def url(self, path_or_url: str) -> str:
        """An absolute URL on this server; a URL elsewhere is refused (no token leaves)."""
        if "://" not in path_or_url:
            return f"{self.base_url}/{path_or_url.lstrip('/')}"
        if not (path_or_url == self.base_url or path_or_url.startswith(self.base_url + "/")
                or path_or_url.startswith(self.base_url + "?")):
            raise RunError(
                f"partner '{self.partner_id}' FHIR server pointed outside its base URL: "
                f"{endpoint_name('GET', path_or_url)}"
            )
        return path_or_url

    def fail(self, response: FhirResponse, method: str, path: str) -> RunError:
        return RunError(
            f"partner '{self.partner_id}' FHIR server {endpoint_name(method, self.url(path))} "
            f"answered HTTP {response.status}{_diagnostics(response.data)}"
        )

    # ------------------------------------------------------------------ reads and searches
    def read(self, reference: str) -> dict[str, Any] | None:
        """A referenced resource ("ServiceRequest/12" or an absolute URL on this server), cached.
        None when it is not there or not on this server."""
        key = reference.split("/_history/")[0]
        if key in self._cache:
            return self._cache[key]
        if key.startswith("#") or key.startswith("urn:"):
            return None
        try:
            response = self.request("GET", key)
        except RunError:
            if "://" in key:  # a reference to another server: not ours to follow
                self._cache[key] = None
                return None
            raise
        if response.status >= 500:
            raise self.fail(response, "GET", key.split("/")[0])
        # a 4xx (gone, not allowed, a malformed reference): the resource that refers to it is
        # quarantined for naming nothing of ours; the run goes on
        found = response.data if response.ok and isinstance(response.data, dict) else None
        self._cache[key] = found
        return found

    def search_pages(self, kind: str, params: dict[str, str]) -> Iterator[tuple[str, bytes, dict[str, Any]]]:
        """(source, page bytes, searchset Bundle) per page, following `next` links."""
        url, query, seen = f"{self.base_url}/{kind}", dict(params), set()
        for _ in range(MAX_PAGES):
            response = self.request("GET", url, params=query)
            if not response.ok or not isinstance(response.data, dict) \
                    or response.data.get("resourceType") != "Bundle":
                raise self.fail(response, "GET", kind)
            yield f"GET {kind}?{_show(query) if query else url.partition('?')[2][:120]}", \
                response.body, response.data
            next_url = next((link.get("url") for link in response.data.get("link") or []
                             if isinstance(link, dict) and link.get("relation") == "next"), None)
            if not next_url or next_url in seen:
                return
            seen.add(next_url)
            url, query = self.url(str(next_url)), {}

    def find_one(self, kind: str, identifier: str) -> dict[str, Any] | None:
        """The one resource with `identifier` (system|value), or None; several is a RunError."""
        response = self.request("GET", kind, params={"identifier": identifier})
        if not response.ok or not isinstance(response.data, dict):
            raise self.fail(response, "GET", kind)
        found = [e.get("resource") for e in response.data.get("entry") or []
                 if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                 and e["resource"].get("resourceType") == kind]
        if len(found) > 1:
            raise RunError(f"partner '{self.partner_id}' FHIR server holds {len(found)} {kind} "
                           "resources with one identifier of ours: review them with the partner")
        return found[0] if found else None


def _show(query: dict[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in query.items() if k != "identifier")[:120]


def _diagnostics(data: Any) -> str:
    """The first OperationOutcome issue's diagnostics, shortened (never a resource body)."""
    if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
        for issue in data.get("issue") or []:
            text = (issue or {}).get("diagnostics") or ((issue or {}).get("details") or {}).get("text")
            if text:
                return f": {str(text)[:160]}"
    return ""

"""The PowerSchool OAuth token: fetched once per client, cached until shortly before it expires.

PowerSchool issues client-credentials tokens that live up to 30 days and throttles the token
endpoint (429s reported when clients refetch per call), so one client holds one token and every
thread shares it: concurrent page workers never each fetch their own. A 401 on a data call
invalidates exactly the token that failed, so a burst of 401s from parallel pages costs one
refresh, not one per page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import requests

from connector.retry import RetriesExhaustedError, RetryPolicy, UnreachableError, json_body, send
from foundation.config import Credentials
from foundation.errors import ConfigError, PowerSchoolError
from foundation.logs import register_secret

__all__ = ["TokenManager", "TOKEN_PATH"]

log = logging.getLogger("connector.auth")

TOKEN_PATH = "/oauth/access_token"
_DEFAULT_LIFETIME = 3600.0  # when PowerSchool omits expires_in; a 401 still triggers a refresh
_MAX_MARGIN = 300.0


class TokenManager:
    """Thread-safe cache of one bearer token for one PowerSchool server and plugin."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        session: requests.Session,
        policy: RetryPolicy,
        timeout: float,
        on_attempt: Callable[[], None] | None = None,
    ) -> None:
        self._url = base_url.rstrip("/") + TOKEN_PATH
        self._credentials = credentials
        self._session = session
        self._policy = policy
        self._timeout = timeout
        self._on_attempt = on_attempt
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        register_secret(credentials.client_secret.get_secret_value())

    def __repr__(self) -> str:
        state = "cached" if self._token else "empty"
        return (
            f"TokenManager(url={self._url!r}, client_id={self._credentials.client_id!r}, {state})"
        )

    def token(self) -> str:
        """The cached token; fetched once, under a lock, when absent or nearly expired."""
        with self._lock:
            if self._token is None or self._policy.clock() >= self._refresh_at:
                self._token, self._refresh_at = self._fetch()
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` after a 401; a no-op when another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        """POST the client credentials; return (token, clock time to refresh at)."""
        started = self._policy.clock()
        response = self._post()
        body = self._parse(response)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise PowerSchoolError("token response has no access_token", endpoint=_ENDPOINT)
        register_secret(token)
        lifetime = _lifetime(body.get("expires_in"))
        margin = min(_MAX_MARGIN, lifetime / 10)
        log.info("obtained a PowerSchool access token valid for %d s", int(lifetime))
        return token, started + lifetime - margin

    def _post(self) -> requests.Response:
        secret = self._credentials.client_secret.get_secret_value()
        try:
            return send(
                self._session,
                "POST",
                self._url,
                self._policy,
                idempotent=True,  # asking again returns the same (or a new) token: no side effect
                on_attempt=self._on_attempt,
                auth=(self._credentials.client_id, secret),
                data={"grant_type": "client_credentials"},
                headers={
                    "Accept": "application/json",
                    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
                },
                timeout=self._timeout,
            )
        except (RetriesExhaustedError, UnreachableError) as exc:
            raise PowerSchoolError(exc.detail, endpoint=_ENDPOINT) from None
        except requests.RequestException as exc:
            raise PowerSchoolError(
                f"{type(exc).__name__} (TLS or URL problem)", endpoint=_ENDPOINT
            ) from None

    def _parse(self, response: requests.Response) -> dict:
        try:
            body = json_body(response)
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        status = response.status_code
        if status in (400, 401, 403) or body.get("error"):
            code = str(body.get("error") or f"HTTP {status}")
            raise ConfigError(
                f"PowerSchool rejected the plugin credentials ({code}) at {_ENDPOINT}: check "
                "SSP_CLIENT_ID / SSP_CLIENT_SECRET against the plugin's Data Provider "
                "Configuration, "
                "and that the plugin is enabled"
            )
        if status == 404:
            raise ConfigError(f"{_ENDPOINT} -> HTTP 404: is the PowerSchool URL right?")
        if not 200 <= status < 300:
            raise PowerSchoolError("token request failed", endpoint=_ENDPOINT, status=status)
        return body


_ENDPOINT = f"POST {TOKEN_PATH}"


def _lifetime(value: object) -> float:
    """`expires_in` arrives as a string ("1814654") or a number: parse with int(str(v))."""
    if value is None or value == "":
        return _DEFAULT_LIFETIME
    try:
        seconds = int(str(value).strip())
    except ValueError:
        try:
            seconds = int(float(str(value)))
        except ValueError:
            return _DEFAULT_LIFETIME
    return float(seconds) if seconds > 0 else _DEFAULT_LIFETIME

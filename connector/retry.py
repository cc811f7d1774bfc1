"""Retry and backoff over a `requests.Session`, shared by the PowerSchool client and partner feeds.

One call = one `RetryBudget` (attempt count + total deadline). `send()` retries what is worth
retrying (429, 500, 502, 503, 504, connection errors and resets, read time-outs, a redirect to an
outage host, a 2xx whose body is not JSON) with exponential backoff and full jitter, honouring
`Retry-After` as seconds or as an HTTP date, each wait capped at `max_delay`, and gives up with
`RetriesExhaustedError` rather than sleep past the deadline. Given a `Throttle`, a 429 also holds
every other request sharing it until the Retry-After has passed: a client with N workers backs off
as one instead of keeping N requests in flight into a server that asked for fewer.

Writes: a request that is not idempotent (POST insert) is only re-sent when it certainly did not
take effect (429, outage redirect, connection never made). Any other failure after the request may
have reached the server raises `AmbiguousRequestError` so the caller can look before it re-sends;
re-posting blindly could create a duplicate row.

Nothing here logs bodies, headers or query strings: bodies hold student data, headers the token.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from foundation.errors import RunError, TransientError

__all__ = [
    "RetryPolicy",
    "RetryBudget",
    "Throttle",
    "RetriesExhaustedError",
    "AmbiguousRequestError",
    "send",
    "json_body",
    "endpoint_name",
    "parse_retry_after",
    "RETRY_STATUSES",
    "OUTAGE_HOSTS",
]

log = logging.getLogger("connector.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
OUTAGE_HOSTS = ("message.powerschool.com",)
_RETRIABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    ConnectionError,  # builtin: resets and refusals that reach us unwrapped
    TimeoutError,
)
_NOT_RETRIED = (requests.exceptions.SSLError,)  # a certificate problem is not transient
_NON_IDEMPOTENT = frozenset({"POST", "PATCH"})
_JSON_ATTR = "ssp_json"


class RetriesExhaustedError(RunError):
    """The deadline (or attempt limit) ran out while the failure was still transient."""

    def __init__(self, endpoint: str, reason: str, attempts: int, elapsed: float) -> None:
        self.endpoint = endpoint
        self.reason = reason
        self.attempts = attempts
        self.elapsed = elapsed
        self.detail = (
            f"gave up after {attempts} attempt(s) in {elapsed:.1f} s; last failure: {reason}"
        )
        super().__init__(f"{endpoint}: {self.detail}")


class AmbiguousRequestError(TransientError):
    """A non-idempotent request failed after it may have reached the server: look, then resend."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"{endpoint}: outcome unknown after {reason}")


@dataclass(frozen=True)
class RetryPolicy:
    """How to retry. `sleep`, `clock` and `wallclock` are injectable so tests never really wait."""

    base_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float = 300.0
    max_attempts: int | None = None
    statuses: frozenset[int] = RETRY_STATUSES
    outage_hosts: tuple[str, ...] = OUTAGE_HOSTS
    expect_json: bool = True
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wallclock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def budget(self) -> RetryBudget:
        return RetryBudget(self)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**(attempt-1))]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        return self.rng.uniform(0.0, ceiling)


class RetryBudget:
    """Attempts and deadline of one logical call, shared across `send()` calls (insert + lookup)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.started = policy.clock()
        self.attempts = 0
        self.transient_failures = (
            0  # attempts that failed in a way an earlier one may have taken effect
        )

    def elapsed(self) -> float:
        return self.policy.clock() - self.started

    def wait(self, endpoint: str, reason: str, retry_after: float | None) -> None:
        """Sleep before the next attempt, or raise if that attempt would fall past the limits."""
        policy = self.policy
        if policy.max_attempts is not None and self.attempts >= policy.max_attempts:
            raise RetriesExhaustedError(endpoint, reason, self.attempts, self.elapsed())
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), policy.max_delay)
        else:
            delay = policy.backoff(self.attempts)
        if self.elapsed() + delay > policy.deadline:
            raise RetriesExhaustedError(endpoint, reason, self.attempts, self.elapsed())
        log.info(
            "retrying %s in %.2f s after %s (attempt %d)",
            endpoint,
            delay,
            reason,
            self.attempts,
            extra={"endpoint": endpoint, "delay_s": round(delay, 3), "reason": reason},
        )
        policy.sleep(delay)


class Throttle:
    """A pause shared by every request of one client: set by a 429's Retry-After, waited out
    before each attempt. Thread-safe; sleeps through the policy, so tests never really wait."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def hold(self, seconds: float) -> None:
        """No request may start before `seconds` from now (capped at the policy's max_delay)."""
        until = self.policy.clock() + min(max(seconds, 0.0), self.policy.max_delay)
        with self._lock:
            if until > self._resume_at:
                self._resume_at = until
                log.info("PowerSchool asked to slow down: requests pause %.2f s", seconds)

    def wait(self) -> None:
        with self._lock:
            remaining = self._resume_at - self.policy.clock()
        if remaining > 0:
            self.policy.sleep(remaining)


def endpoint_name(method: str, url: str) -> str:
    """`GET /ws/schema/table/u_ssp_partners`: method and path only, never the query string."""
    return f"{method.upper()} {urlsplit(url).path or '/'}"


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait per a Retry-After header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(when.timestamp() - now, 0.0)


def json_body(response: requests.Response) -> Any:
    """The parsed JSON body (cached by `send`), or None for an empty body."""
    if _JSON_ATTR in response.__dict__:
        return response.__dict__[_JSON_ATTR]
    content = response.content or b""
    parsed = json.loads(content) if content.strip() else None
    response.__dict__[_JSON_ATTR] = parsed
    return parsed


def send(
    session: requests.Session,
    method: str,
    url: str,
    policy: RetryPolicy,
    *,
    budget: RetryBudget | None = None,
    idempotent: bool | None = None,
    on_attempt: Callable[[], None] | None = None,
    throttle: Throttle | None = None,
    **kwargs: Any,
) -> requests.Response:
    """Send with retries; return the first response that is not transient (any status).

    Raises `RetriesExhaustedError` when the budget runs out and `AmbiguousRequestError` when a
    non-idempotent request (POST/PATCH unless `idempotent=True`) may have taken effect.
    Redirects are never followed: a redirect to an outage host is transient, others are returned.
    `throttle`: waited out before each attempt, and held by every 429 with a Retry-After.
    """
    budget = budget or policy.budget()
    method = method.upper()
    if idempotent is None:
        idempotent = method not in _NON_IDEMPOTENT
    endpoint = endpoint_name(method, url)
    kwargs["allow_redirects"] = False
    while True:
        if throttle is not None:
            throttle.wait()
        budget.attempts += 1
        outcome = _attempt(session, method, url, policy, budget, endpoint, kwargs)
        if on_attempt is not None:
            on_attempt()
        if isinstance(outcome, requests.Response):
            return outcome
        reason, retry_after, safe = outcome
        if throttle is not None and retry_after is not None and reason == "HTTP 429":
            throttle.hold(retry_after)
        budget.transient_failures += 1
        if not idempotent and not safe:
            raise AmbiguousRequestError(endpoint, reason)
        budget.wait(endpoint, reason, retry_after)


def _attempt(
    session: requests.Session,
    method: str,
    url: str,
    policy: RetryPolicy,
    budget: RetryBudget,
    endpoint: str,
    kwargs: dict[str, Any],
) -> requests.Response | tuple[str, float | None, bool]:
    """One request. Returns a final response, or (reason, retry_after, safe_to_resend)."""
    started = policy.clock()
    try:
        response = session.request(method, url, **kwargs)
    except _NOT_RETRIED:
        raise
    except _RETRIABLE_EXCEPTIONS as exc:
        reason = type(exc).__name__
        _log_attempt(endpoint, reason, budget.attempts, policy.clock() - started)
        return reason, None, _never_sent(exc)
    _log_attempt(endpoint, response.status_code, budget.attempts, policy.clock() - started)
    problem = _transient_problem(response, policy)
    if problem is None:
        return response
    reason, safe = problem
    retry_after = parse_retry_after(response.headers.get("Retry-After"), policy.wallclock())
    response.close()
    return reason, retry_after, safe


def _transient_problem(response: requests.Response, policy: RetryPolicy) -> tuple[str, bool] | None:
    """(reason, safe_to_resend_a_write) when the response is transient, else None."""
    status = response.status_code
    if status in policy.statuses:
        return f"HTTP {status}", status == 429
    if response.is_redirect and _is_outage_location(response.headers.get("Location", ""), policy):
        return f"HTTP {status} redirect to the outage page", True
    if policy.expect_json and 200 <= status < 300 and not _json_ok(response):
        return f"HTTP {status} with a non-JSON body (outage page)", False
    return None


def _is_outage_location(location: str, policy: RetryPolicy) -> bool:
    host = (urlsplit(location).hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in policy.outage_hosts)


def _json_ok(response: requests.Response) -> bool:
    try:
        json_body(response)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return False
    return True


def _never_sent(exc: BaseException) -> bool:
    """True when the connection was never made, so not even a POST can have reached the server."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, ConnectionRefusedError)):
        return True
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, MaxRetryError) and isinstance(arg.reason, ConnectTimeoutError):
            return True  # NewConnectionError and NameResolutionError subclass ConnectTimeoutError
        if isinstance(arg, ConnectTimeoutError):
            return True
    return False


def _log_attempt(endpoint: str, outcome: int | str, attempt: int, seconds: float) -> None:
    elapsed_ms = round(seconds * 1000)
    log.debug(
        "%s -> %s (attempt %d, %d ms)",
        endpoint,
        outcome,
        attempt,
        elapsed_ms,
        extra={
            "endpoint": endpoint,
            "outcome": outcome,
            "attempt": attempt,
            "elapsed_ms": elapsed_ms,
        },
    )

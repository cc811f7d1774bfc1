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

Network failures are named, with the host, in words district IT can act on (`network_failure`):
name not resolved, connection refused, TLS certificate not trusted, timed out, connection reset.
Those that retrying cannot heal raise `UnreachableError` at once instead of using up the retry
budget (minutes): a TLS failure always, a name that does not resolve or a refused connection when
the host has not answered this session yet (a wrong URL, a firewall, a server that is not there).
Once a host has answered, a refusal or a lookup failure is a restart or a blip: retried as before.

Nothing here logs bodies, headers or query strings: bodies hold student data, headers the token.
"""

from __future__ import annotations

import email.utils
import errno
import json
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)

from foundation.errors import RunError, TransientError

__all__ = [
    "RetryPolicy",
    "RetryBudget",
    "Throttle",
    "RetriesExhaustedError",
    "AmbiguousRequestError",
    "UnreachableError",
    "NetworkFailure",
    "network_failure",
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
_ANSWERED_ATTR = "ssp_answered_hosts"  # on the session: hosts that sent any response


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


class UnreachableError(RunError):
    """The host cannot be reached in a way that retrying will not heal: say so now, not in minutes."""

    def __init__(self, endpoint: str, failure: NetworkFailure) -> None:
        self.endpoint = endpoint
        self.failure = failure
        self.detail = f"cannot reach {failure.host}: {failure.cause}; {failure.hint}"
        super().__init__(f"{endpoint}: {self.detail}")


@dataclass(frozen=True)
class NetworkFailure:
    """A failed connection in words: `kind` for code, `cause` and `hint` for people."""

    kind: str  # dns | refused | tls | connect_timeout | read_timeout | reset | other
    host: str  # host[:port] as in the URL
    cause: str
    hint: str

    @property
    def reason(self) -> str:
        """The short text of a retry log line and of `RetriesExhaustedError`."""
        return f"{self.cause} ({self.host})"


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and everything it wraps: requests -> MaxRetryError.reason -> urllib3 -> OSError."""
    found: list[BaseException] = []
    stack: list[object] = [exc]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is f for f in found):
            continue
        found.append(item)
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        stack.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
    return found


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 443


def network_failure(exc: BaseException, url: str, timeout: object = None) -> NetworkFailure:
    """Name what went wrong on the way to `url`, from the exception chain requests raised."""
    host = _host_of(url)
    chain = _causes(exc)
    texts = " ".join(str(e) for e in chain).lower()
    # urllib3's own connection errors carry the socket's words; other texts are not evidence
    connect_texts = " ".join(str(e) for e in chain if isinstance(e, NewConnectionError)).lower()

    def has(*types: type[BaseException]) -> bool:
        return any(isinstance(e, types) for e in chain)

    if has(ssl.SSLError, requests.exceptions.SSLError):
        verify = next((e.verify_message for e in chain
                       if isinstance(e, ssl.SSLCertVerificationError) and e.verify_message), "")
        if verify:
            cause = f"TLS certificate not trusted ({verify})"
        elif "certificate" in texts:
            cause = "TLS certificate not trusted"
        else:
            cause = "TLS handshake failed"
        return NetworkFailure(
            "tls", host, cause,
            "the server's certificate must name this host and be signed by a certificate "
            "authority this machine trusts (a district CA: point REQUESTS_CA_BUNDLE at its PEM file)",
        )
    if has(socket.gaierror, NameResolutionError) or "name or service not known" in connect_texts \
            or "nodename nor servname" in connect_texts or "failed to resolve" in connect_texts:
        return NetworkFailure(
            "dns", host, "name not resolved",
            "check the host name in the URL, and that this machine's DNS can resolve it",
        )
    refused = any(isinstance(e, ConnectionRefusedError)
                  or (isinstance(e, OSError) and e.errno == errno.ECONNREFUSED) for e in chain)
    if refused or "connection refused" in connect_texts or "actively refused" in connect_texts:
        return NetworkFailure(
            "refused", host, "connection refused",
            f"nothing accepts connections on port {_port_of(url)}: check the port in the URL, "
            "that the server is running, and any firewall between",
        )
    seconds = f" within {timeout} s" if isinstance(timeout, (int, float)) else ""
    if has(requests.exceptions.ConnectTimeout) or (
        has(ConnectTimeoutError) and not has(NewConnectionError)
    ):
        return NetworkFailure(
            "connect_timeout", host, f"no connection{seconds} (timed out)",
            "a firewall may be dropping the traffic, or the host is down",
        )
    if has(requests.exceptions.ReadTimeout, ReadTimeoutError, socket.timeout, TimeoutError):
        return NetworkFailure(
            "read_timeout", host, f"no answer{seconds} (timed out)",
            "the server is slow or overloaded; the call is retried",
        )
    if has(ConnectionResetError) or "reset" in texts or "aborted" in texts:
        return NetworkFailure("reset", host, "connection reset", "the call is retried")
    if has(requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        return NetworkFailure("reset", host, "response cut off", "the call is retried")
    return NetworkFailure("other", host, f"connection failed ({type(exc).__name__})",
                          "the call is retried")


def _answered_hosts(session: requests.Session) -> set[str]:
    hosts = session.__dict__.get(_ANSWERED_ATTR)
    if hosts is None:
        hosts = session.__dict__[_ANSWERED_ATTR] = set()
    return hosts


def _cannot_heal(failure: NetworkFailure, session: requests.Session) -> bool:
    """TLS never heals by waiting; a wrong name or port neither, unless the host answered before."""
    if failure.kind == "tls":
        return True
    return failure.kind in ("dns", "refused") and failure.host not in _answered_hosts(session)


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
        try:
            outcome = _attempt(session, method, url, policy, budget, endpoint, kwargs)
        finally:  # an attempt that raised was still an attempt
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
    except _NOT_RETRIED as exc:
        failure = network_failure(exc, url, kwargs.get("timeout"))
        _log_attempt(endpoint, failure.reason, budget.attempts, policy.clock() - started)
        raise UnreachableError(endpoint, failure) from None
    except _RETRIABLE_EXCEPTIONS as exc:
        failure = network_failure(exc, url, kwargs.get("timeout"))
        _log_attempt(endpoint, failure.reason, budget.attempts, policy.clock() - started)
        if _cannot_heal(failure, session):
            raise UnreachableError(endpoint, failure) from None
        return failure.reason, None, _never_sent(exc) or failure.kind in ("dns", "refused")
    _answered_hosts(session).add(_host_of(url))
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

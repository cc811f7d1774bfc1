"""Talking to one PowerSchool server: URL checks, the shared session, token, retries, metadata.

`PowerSchoolTransport` is the base of `PowerSchoolClient` (connector/client.py): it owns the
construction contract, the request counter, the page worker pool and `_call()`, the one path every
API request takes (bearer token, retries from connector/retry.py, one token refresh on a 401,
status -> error from connector/endpoints.py). Errors name the endpoint (method and path, never the
query string) and PowerSchool's own message, never row values.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import requests

from connector.auth import TokenManager
from connector.endpoints import METADATA_PATH, checked_base_url, new_session, raise_for_status
from connector.normalise import ShapeError, as_dict
from connector.retry import (
    RetriesExhaustedError,
    RetryBudget,
    RetryPolicy,
    Throttle,
    UnreachableError,
    json_body,
    send,
)
from foundation.config import Credentials
from foundation.errors import ConfigError, PowerSchoolError

__all__ = ["PowerSchoolTransport", "InsertPathStyle", "DEFAULT_PAGE_SIZE"]

log = logging.getLogger("connector.client")

DEFAULT_PAGE_SIZE = 100  # PowerSchool's documented PowerQuery default, used when metadata is silent
InsertPathStyle = Literal["table", "table_id"]


class PowerSchoolTransport:
    """Thread-safe: one instance = one token, one session, one bounded page worker pool.

    `retry_deadline` bounds each logical call (a page, a count, an insert with its look-up),
    `max_delay` each wait between attempts. `sleep` and `clock` exist so tests never wait.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        max_workers: int = 4,
        timeout: float = 30.0,
        retry_deadline: float = 300.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_delay: float = 30.0,
        insert_path_style: InsertPathStyle = "table",
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if insert_path_style not in ("table", "table_id"):
            raise ValueError("insert_path_style must be 'table' or 'table_id'")
        self.base_url = checked_base_url(base_url)
        self.max_workers = max_workers
        self.timeout = timeout
        self.insert_path_style = insert_path_style
        self._own_session = session is None
        self._session = (
            session if session is not None else new_session(max_workers, self.base_url)
        )
        if self._session.verify is False:
            raise ConfigError("TLS certificate verification must stay on for PowerSchool")
        self._policy = RetryPolicy(
            deadline=retry_deadline, max_delay=max_delay, sleep=sleep, clock=clock
        )
        self._throttle = Throttle(self._policy)  # one 429 pauses every worker of this client
        self._client_id = credentials.client_id
        self._auth = TokenManager(
            self.base_url,
            credentials,
            session=self._session,
            policy=self._policy,
            timeout=timeout,
            on_attempt=self._counted,
        )
        self._lock = threading.Lock()
        self._meta_lock = threading.Lock()
        self._requests = 0
        self._executor: ThreadPoolExecutor | None = None
        self._metadata: dict[str, Any] | None = None
        self._page_size: int | None = None
        self.page_size_from_metadata = False
        """True once metadata said the page size (False: the documented default is a guess)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, client_id={self._client_id!r})"

    def __enter__(self) -> PowerSchoolTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the page workers and close the session (only if this client created it)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if self._own_session:
            self._session.close()

    @property
    def request_count(self) -> int:
        """HTTP attempts made so far (token, metadata, counts, pages, retries), for summaries."""
        with self._lock:
            return self._requests

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_workers, thread_name_prefix="ssp-page")
            return self._executor

    # -- metadata ------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """`/ws/v1/metadata` (fetched once per client; unwrapped from `{"metadata": ...}`)."""
        with self._meta_lock:
            if self._metadata is None:
                # a 401 is retried once with a fresh token like any call: a token that expired
                # just then must not cost the run its page size (a read with a page size above
                # the server's cap looks complete after the first, capped, page)
                response = self._call("GET", METADATA_PATH)
                body = self._json(response, f"GET {METADATA_PATH}")
                inner = body.get("metadata", body) if isinstance(body, dict) else None
                self._metadata = self._shape(as_dict, inner, f"GET {METADATA_PATH}")
            return dict(self._metadata)

    def max_page_size(self) -> int:
        """The plugin's `schema_table_query_max_page_size`, or 100 if metadata cannot tell."""
        with self._meta_lock:
            known = self._page_size
        if known is None:
            known = self._discover_page_size()
            with self._meta_lock:
                self._page_size = known
        return known

    def _discover_page_size(self) -> int:
        try:
            value = self.metadata().get("schema_table_query_max_page_size")
        except PowerSchoolError as exc:
            if exc.status not in (401, 403, 404):
                raise
            log.warning(
                "metadata unavailable (HTTP %s); using page size %d", exc.status, DEFAULT_PAGE_SIZE
            )
            return DEFAULT_PAGE_SIZE
        try:
            size = int(str(value).strip())
        except ValueError:
            size = 0
        if size <= 0:
            log.warning(
                "metadata has no usable schema_table_query_max_page_size; using %d",
                DEFAULT_PAGE_SIZE,
            )
            return DEFAULT_PAGE_SIZE
        self.page_size_from_metadata = True
        return size

    def _page_size_for(self, requested: int | None) -> int:
        limit = self.max_page_size()
        if requested is None:
            return limit
        if requested < 1:
            raise ValueError("page_size must be at least 1")
        return min(requested, limit)

    # -- every request -------------------------------------------------------------------------

    def _counted(self) -> None:
        with self._lock:
            self._requests += 1

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        budget: RetryBudget | None = None,
        idempotent: bool | None = None,
        refresh_on_401: bool = True,
    ) -> requests.Response:
        """One API call: bearer token, retries, a token refresh on 401, status -> error.

        A 401 is retried with the next token while each refused token is a new one, at most
        three attempts: PowerSchool hands out the same token while it is valid, so a plugin that
        is not allowed at all is refused the same token twice and fails at once, while a token
        ended between its fetch and its use (another request saw it expire) is simply replaced."""
        endpoint = f"{method} {path}"
        budget = budget or self._policy.budget()
        refused: set[str] = set()
        for attempt in range(3):
            token = self._auth.token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = send(
                    self._session,
                    method,
                    self.base_url + path,
                    self._policy,
                    budget=budget,
                    idempotent=idempotent,
                    on_attempt=self._counted,
                    throttle=self._throttle,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=self.timeout,
                )
            except (RetriesExhaustedError, UnreachableError) as exc:
                raise PowerSchoolError(exc.detail, endpoint=endpoint) from None
            except requests.RequestException as exc:
                raise PowerSchoolError(
                    f"{type(exc).__name__}: the request could not be made (TLS or URL problem)",
                    endpoint=endpoint,
                ) from None
            if response.status_code == 401 and refresh_on_401 and token not in refused and attempt < 2:
                log.info("%s -> HTTP 401; refreshing the token", endpoint)
                refused.add(token)
                self._auth.invalidate(token)
                continue
            raise_for_status(response, endpoint)
            return response
        raise AssertionError("unreachable")

    def _wait(self, budget: RetryBudget, endpoint: str, reason: str) -> None:
        try:
            budget.wait(endpoint, reason, None)
        except RetriesExhaustedError as exc:
            raise PowerSchoolError(exc.detail, endpoint=endpoint) from None

    @staticmethod
    def _json(response: requests.Response, endpoint: str) -> Any:
        try:
            return json_body(response)
        except ValueError:
            raise PowerSchoolError(
                "response body is not JSON", endpoint=endpoint, status=response.status_code
            ) from None

    @staticmethod
    def _shape(parse: Callable[[Any], Any], body: Any, endpoint: str) -> Any:
        try:
            return parse(body)
        except ShapeError as exc:
            raise PowerSchoolError(f"unexpected response shape: {exc}", endpoint=endpoint) from None

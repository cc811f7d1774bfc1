"""The `http` feed: a partner JSON API (contract in docs/partner-http-api.md).

    GET  {base_url}/status_updates?since=<cursor>
         -> {"items": [...], "next_cursor": "...", "has_more": false}
    GET  {base_url}/visits?since=<cursor>
    POST {base_url}/referrals    {"run_id", "kind", "notice", "items": [...]}
         with the header Idempotency-Key: <run_id>-referrals
    POST {base_url}/revocations

Every request goes through `connector.retry.send` (the PowerSchool client's retry discipline:
429 with Retry-After, 5xx, resets, time-outs, non-JSON 200s, with a deadline). POSTs carry an
Idempotency-Key, so a retried or re-run POST is applied once by a partner that honours the
contract; that is what makes them safe to retry. The bearer token comes from the environment
variable named by `token_env`, is registered with the log masker and never appears in a repr.
Each page is one batch; its `next_cursor` is for the engine to store once the page is applied.
Pages are archived as JSON under the state directory, like inbound files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from connector.feeds.base import InboundKind, InboundRow, OutboundKind, PublishRefused
from connector.feeds.files import PartnerFiles, QuarantineBook
from connector.feeds.safety import require_run_id
from connector.mapping import PartnerMapping
from connector.records import REDISCLOSURE_NOTICE, Provenance
from connector.retry import (
    RetriesExhaustedError,
    RetryPolicy,
    UnreachableError,
    endpoint_name,
    json_body,
    send,
)
from foundation.config import require_https
from foundation.errors import RunError
from foundation.logs import SHOWN_BY_PROGRESS, register_secret

__all__ = ["HttpFeed", "HttpBatch", "INBOUND_PATHS", "OUTBOUND_PATHS", "RAW_ITEM"]

log = logging.getLogger("ssp.feeds.http")
INBOUND_PATHS: dict[str, str] = {"status_update": "/status_updates", "visit": "/visits"}
OUTBOUND_PATHS: dict[str, str] = {"referrals": "/referrals", "revocations": "/revocations"}
RAW_ITEM = "raw_item"
MAX_PAGE_BYTES = 64 << 20
MAX_PAGES = 100_000


class HttpBatch:
    """One page of an inbound endpoint."""

    def __init__(
        self,
        partner_id: str,
        kind: InboundKind,
        source: str,
        body: bytes,
        items: list[Any],
        next_cursor: str | None,
        list_separator: str,
    ) -> None:
        self.partner_id = partner_id
        self.kind = kind
        self.source = source
        self.body = body
        self.content_hash = hashlib.sha256(body).hexdigest()
        self.next_cursor = next_cursor
        self.errors: list[str] = []
        self.notes: list[str] = []
        self._items = items
        self._separator = list_separator
        keys = dict.fromkeys(k for item in items if isinstance(item, dict) for k in item)
        self.columns: tuple[str, ...] = tuple(str(k) for k in keys)

    def rows(self) -> Iterator[InboundRow]:
        for number, item in enumerate(self._items, start=1):
            yield self._row(number, item)

    def _row(self, number: int, item: Any) -> InboundRow:
        if not isinstance(item, dict):
            return InboundRow(number, {RAW_ITEM: _json_text(item)}, "item is not a JSON object")
        values: dict[str, str] = {}
        problems = []
        for key, value in item.items():
            text, problem = _as_text(value, self._separator)
            values[str(key)] = text
            if problem:
                problems.append(f"{key}: {problem}")
        return InboundRow(number, values, "; ".join(problems) or None)

    def provenance(self, row: InboundRow) -> Provenance:
        return Provenance(self.partner_id, self.source, row.number, row.values)

    def __repr__(self) -> str:
        return f"HttpBatch({self.kind!r}, {self.source!r}, {len(self._items)} items)"


def _as_text(value: Any, separator: str) -> tuple[str, str | None]:
    """A JSON value as the text a CSV cell would hold, or a problem for nested structures."""
    if value is None:
        return "", None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, (str, int, float)):
        return str(value), None
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return separator.join(str(v) for v in value), None
    return _json_text(value), "a nested object or list is not allowed here"


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:4096]


class HttpFeed:
    """A partner's JSON API. `session` and `policy` are injectable for tests and the engine."""

    def __init__(
        self,
        partner_id: str,
        mapping: PartnerMapping,
        *,
        base_url: str,
        token: str | None,
        state_dir: Path,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        require_https(base_url, key=f"partners[{partner_id}].feed.base_url")
        self.partner_id = partner_id
        self.mapping = mapping
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.files = PartnerFiles(state_dir, partner_id, today=today)
        self._quarantine = QuarantineBook(self.files)
        self._headers = {"Accept": "application/json", "User-Agent": "ssp-connector"}
        if token:
            register_secret(token)
            self._headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:  # never the token
        return f"HttpFeed({self.partner_id!r}, {self.base_url!r})"

    # ------------------------------------------------------------------ inbound
    def inbound(self, kind: InboundKind, *, since: str | None = None) -> Iterator[HttpBatch]:
        """Pages since the stored cursor, until an empty page, has_more=false or a seen cursor."""
        cursor, seen = since, set()
        for _ in range(MAX_PAGES):
            body, data = self._get(INBOUND_PATHS[kind], cursor)
            items, next_cursor, has_more = _page(data, INBOUND_PATHS[kind])
            source = f"GET {INBOUND_PATHS[kind]} since {cursor or 'start'}"
            if items or (next_cursor and next_cursor != cursor):
                yield HttpBatch(
                    self.partner_id,
                    kind,
                    source,
                    body,
                    items,
                    next_cursor or cursor,
                    self.mapping.list_separator,
                )
            seen.add(cursor)
            if not has_more or not next_cursor or next_cursor in seen:
                if has_more and next_cursor in seen:
                    log.warning(
                        "partner API repeated a cursor; paging stopped",
                        extra={"partner": self.partner_id, "endpoint": INBOUND_PATHS[kind]},
                    )
                return
            cursor = next_cursor

    def _get(self, path: str, cursor: str | None) -> tuple[bytes, Any]:
        url = self.base_url + path
        params = {"since": cursor} if cursor else {}
        response = self._send(
            "GET",
            url,
            params=params,
            headers=self._headers,
            timeout=self.timeout,
        )
        self._check(response, url, "GET")
        if len(response.content) > MAX_PAGE_BYTES:
            raise RunError(f"{endpoint_name('GET', url)}: page larger than {MAX_PAGE_BYTES} bytes")
        return response.content, json_body(response)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """`retry.send`, with a failure that names this partner (the host and cause come from it)."""
        try:
            return send(self.session, method, url, self.policy, **kwargs)
        except (UnreachableError, RetriesExhaustedError) as exc:
            raise RunError(
                f"partner '{self.partner_id}' API {endpoint_name(method, url)}: {exc.detail}"
            ) from None

    def _check(self, response: requests.Response, url: str, method: str) -> None:
        status = response.status_code
        if status in (401, 403):  # never retried: a token does not heal by waiting
            raise RunError(
                f"partner '{self.partner_id}' API {endpoint_name(method, url)} refused the API "
                f"token (HTTP {status}): check the token in the variable named by "
                f"partners[{self.partner_id}].feed.token_env with the partner"
            )
        if method == "POST" and 400 <= status < 500 and status not in (408, 429):
            raise PublishRefused(
                f"partner '{self.partner_id}' API {endpoint_name(method, url)} answered "
                f"HTTP {status}: the items were refused"
            )
        if not 200 <= status < 300:
            raise RunError(
                f"partner '{self.partner_id}' API {endpoint_name(method, url)} answered "
                f"HTTP {response.status_code}"
            )

    def archive(self, batch: HttpBatch) -> None:
        """Keep the page's bytes under the state directory (nothing to move at the partner)."""
        self._quarantine.close(batch)
        self.files.archive_bytes(batch.body, batch.content_hash, f"{batch.kind}.json")

    def quarantine(
        self,
        batch: HttpBatch,
        row_number: int,
        raw_row: Mapping[str, str],
        reason: str,
        *,
        extra: Sequence[str] = (),
    ) -> None:
        self._quarantine.write(batch, row_number, raw_row, reason, extra)

    def quarantine_path(self, batch: HttpBatch) -> Path | None:
        """Where the page's refused items went (None if none was refused)."""
        return self._quarantine.path(batch)

    # ------------------------------------------------------------------ outbound
    def outbound_name(self, kind: OutboundKind, run_id: str) -> str:
        """The Idempotency-Key of the run's POST: also the name of its local receipt."""
        return f"{require_run_id(run_id)}-{kind}"

    def write_outbound(self, kind: OutboundKind, run_id: str, rows: list[dict[str, str]], *,
                       details: Sequence[Mapping[str, Any]] | None = None) -> str:
        """POST the rows with the notice; returns the Idempotency-Key. Safe to repeat."""
        key = self.outbound_name(kind, run_id)
        body = json.dumps(
            {"run_id": run_id, "kind": kind, "notice": REDISCLOSURE_NOTICE, "items": rows},
            ensure_ascii=False,
        ).encode("utf-8")
        url = self.base_url + OUTBOUND_PATHS[kind]
        headers = {**self._headers, "Content-Type": "application/json", "Idempotency-Key": key}
        response = self._send(
            "POST",
            url,
            idempotent=True,
            data=body,
            headers=headers,
            timeout=self.timeout,
        )
        self._check(response, url, "POST")
        self.files.write_receipt(key, hashlib.sha256(body).hexdigest(), len(rows))
        log.info(
            "outbound posted",
            extra={"partner": self.partner_id, "endpoint": OUTBOUND_PATHS[kind], "rows": len(rows),
                   SHOWN_BY_PROGRESS: True},
        )
        return key

    def outbound_exists(self, name: str) -> bool:
        """True if the POST named `name` was acknowledged (a local receipt exists)."""
        return self.files.has_receipt(name)

    def close(self) -> None:
        self._quarantine.close_all()


def _page(data: Any, path: str) -> tuple[list[Any], str | None, bool]:
    """(items, next_cursor, has_more) of a page; RunError when the contract is broken."""
    if not isinstance(data, dict):
        raise RunError(f"partner API {path}: expected a JSON object with 'items'")
    items = data.get("items", [])
    if isinstance(items, dict):  # one object instead of a list of one
        items = [items]
    if not isinstance(items, list):
        raise RunError(f"partner API {path}: 'items' is not a list")
    cursor = data.get("next_cursor")
    if cursor is not None and not isinstance(cursor, (str, int)):
        raise RunError(f"partner API {path}: 'next_cursor' is not a string")
    has_more = data.get("has_more")
    return (
        items,
        (str(cursor) if cursor is not None else None),
        bool(items) if has_more is None else bool(has_more),
    )

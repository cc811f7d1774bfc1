"""The one small interface every partner feed offers the sync engine.

    for batch in feed.inbound("status_update", since=cursor):   # one batch per file / API page
        if state.seen(batch.content_hash): feed.archive(batch); continue
        for row in batch.rows():                                 # streamed, never all in memory
            if row.problem:                                      # the feed itself refused the row
                feed.quarantine(batch, row.number, row.values, row.problem, extra=row.extra)
                continue
            try:
                update = mapping.parse_status_update(row.values, batch.provenance(row), today=day)
            except RecordError as exc:
                feed.quarantine(batch, row.number, row.values, exc.reason)
        feed.archive(batch)                                      # after every row is settled
        state.cursor = batch.next_cursor                         # http only; None for csv

    name = feed.write_outbound("referrals", run_id, rows)       # atomic; NOTICE file alongside
    feed.outbound_exists(name)                                   # crash reconciliation

Two refinements of the first sketch, both so that the engine stays in charge of every effect
(a dry run must change nothing, and the summary counts every quarantined row):
- `rows()` yields `InboundRow(number, values, problem, extra)`. Rows the feed cannot read (bad
  bytes, NUL, an over-long line, a wrong field count, a file-level problem such as a missing
  column) come through with `problem` set instead of being dropped or quarantined behind the
  engine's back. Data rows count from 1; row 0 (the header line) only comes through when the
  header itself is unreadable, so the quarantine shows what the file looked like.
- `quarantine()` takes the row's `extra` fields (beyond the header) so nothing is lost.
- `write_outbound(..., details=)`: each row's write-ahead plan detail, in row order (the consent
  facts a FHIR Consent resource needs); file and JSON feeds ignore it. The engine passes it to a
  feed that sets `takes_details = True`. A feed may also offer `referral_problem(row, detail)`:
  the reason it cannot write a referral ("" when it can), asked when the referral is decided, so
  the engine holds it with that reason before anything is planned or disclosed.

Archive a batch only once every row is applied or quarantined: the archive never deletes, but a
csv file that left the inbox is not read again. Rows are streamed; to stay within the memory
target on a million-row file, apply them in chunks rather than collecting them all first.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from connector.mapping import InboundKind, OutboundKind, PartnerMapping
from connector.records import Provenance
from foundation.errors import RunError

__all__ = [
    "PublishRefused",
    "InboundKind",
    "OutboundKind",
    "InboundRow",
    "InboundBatch",
    "Feed",
    "INBOUND_KINDS",
    "OUTBOUND_KINDS",
]

class PublishRefused(RunError):
    """The partner refused an outbound file or POST outright (HTTP 4xx other than 408/429): it
    certainly holds nothing of it, so the write-ahead plan and its disclosures are withdrawn."""


INBOUND_KINDS: tuple[InboundKind, ...] = ("status_update", "visit")
OUTBOUND_KINDS: tuple[OutboundKind, ...] = ("referrals", "revocations")


class InboundRow(NamedTuple):
    """One inbound row as read: partner column -> text, or a reason the feed refused it."""

    number: int
    values: dict[str, str]
    problem: str | None = None
    extra: tuple[str, ...] = ()

    def __repr__(self) -> str:  # values may hold names and notes: never in a log line
        return (
            f"InboundRow(number={self.number}, problem={self.problem!r}, fields={len(self.values)})"
        )


@runtime_checkable
class InboundBatch(Protocol):
    """One inbound file or API page."""

    partner_id: str
    kind: InboundKind
    source: str  # file name, or "GET /status_updates since <cursor>"
    content_hash: str  # sha256 hex of the bytes, known before rows() is called
    columns: tuple[str, ...]  # the header as read (the quarantine file's columns)
    errors: list[str]  # file-level problems: every row of the batch carries them as its problem
    notes: list[str]  # harmless observations (extra columns ignored, BOM, blank lines)
    next_cursor: str | None  # http: the cursor to store once the batch is applied; csv: None

    def rows(self) -> Iterator[InboundRow]: ...

    def provenance(self, row: InboundRow) -> Provenance: ...


@runtime_checkable
class Feed(Protocol):
    partner_id: str
    mapping: PartnerMapping

    def inbound(self, kind: InboundKind, *, since: str | None = None) -> Iterator[InboundBatch]: ...

    def archive(self, batch: InboundBatch) -> None: ...

    def quarantine(
        self,
        batch: InboundBatch,
        row_number: int,
        raw_row: Mapping[str, str],
        reason: str,
        *,
        extra: Sequence[str] = (),
    ) -> None: ...

    def write_outbound(
        self,
        kind: OutboundKind,
        run_id: str,
        rows: list[dict[str, str]],
        *,
        details: Sequence[Mapping[str, Any]] | None = None,
    ) -> str: ...

    def outbound_name(self, kind: OutboundKind, run_id: str) -> str: ...

    def outbound_exists(self, name: str) -> bool: ...

    def close(self) -> None: ...

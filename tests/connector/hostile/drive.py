"""What the sync engine does with a feed, reduced to the feed's part.

Read, parse, quarantine, archive.

Used by the hostile-input tests (and usable by bench/ for the 1,000,000-row measurement):
every row ends up in exactly one of `accepted` or `quarantined`, and every batch is archived.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from connector.feeds.base import Feed, InboundBatch, InboundKind
from foundation.errors import RecordError


@dataclass
class Outcome:
    accepted: list[tuple[str, int, object]] = field(default_factory=list)  # (source, row, record)
    quarantined: list[tuple[str, int, str]] = field(default_factory=list)  # (source, row, reason)
    batches: list[InboundBatch] = field(default_factory=list)
    accepted_count: int = 0

    def rows(self) -> list[tuple[int, str | None]]:
        """(row, None | reason) in reading order."""
        merged = [(s, r, None) for s, r, _ in self.accepted] + list(self.quarantined)
        order = {b.source: i for i, b in enumerate(self.batches)}
        return [(r, reason) for _, r, reason in sorted(merged, key=lambda x: (order[x[0]], x[1]))]


def drive(feed: Feed, kind: InboundKind, *, today: dt.date, keep_records: bool = True) -> Outcome:
    outcome = Outcome()
    for batch in feed.inbound(kind):
        outcome.batches.append(batch)
        for row in batch.rows():
            if row.problem:
                feed.quarantine(batch, row.number, row.values, row.problem, extra=row.extra)
                outcome.quarantined.append((batch.source, row.number, row.problem))
                continue
            try:
                record = feed.mapping.parse_inbound(
                    kind, row.values, batch.provenance(row), today=today
                )
            except RecordError as exc:
                feed.quarantine(batch, row.number, row.values, exc.reason)
                outcome.quarantined.append((batch.source, row.number, exc.reason))
                continue
            outcome.accepted_count += 1
            if keep_records:  # off for the memory measurements: nothing may grow with the file
                outcome.accepted.append((batch.source, row.number, record))
        feed.archive(batch)
    feed.close()
    return outcome

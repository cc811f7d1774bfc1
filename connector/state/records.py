"""Row types of the state store, and the small pure helpers the engine uses with them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RunRecord",
    "MirrorRow",
    "MirrorChanges",
    "OutboundEntry",
    "PlanResult",
    "Disclosure",
    "InboundFile",
    "InboundRow",
    "content_hash",
    "since_for",
    "TIMESTAMP_FORMAT",
]

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


def content_hash(row: Mapping[str, Any], ignore: Iterable[str] = ("whenmodified",)) -> str:
    """SHA-256 of a row, whatever its key order; `ignore` keys (a bumped timestamp) don't count."""
    skip = set(ignore)
    data = {k: row[k] for k in sorted(row) if k not in skip}
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def since_for(
    watermark: str | None, lookback: dt.timedelta, *, initial: str = "1900-01-01 00:00:00"
) -> str:
    """Where the next incremental read starts: the watermark minus the lookback window."""
    if watermark is None:
        return initial
    start = dt.datetime.strptime(watermark, TIMESTAMP_FORMAT) - lookback
    return max(start.strftime(TIMESTAMP_FORMAT), initial)


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    started_at: str
    finished_at: str | None
    dry_run: bool
    partner_filter: str | None
    status: str  # running | ok | failed | stopped | interrupted
    summary: dict[str, Any] | None
    host: str = ""
    pid: int | None = None


@dataclass(frozen=True)
class MirrorRow:
    kind: str
    ssp_uid: str
    ps_id: str
    student_dcid: str
    partner_id: str
    status: str
    partner_visit_id: str
    whenmodified: str
    content_hash: str
    row: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class MirrorChanges:
    new: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()  # (PowerSchool id, reason)

    @property
    def touched(self) -> tuple[str, ...]:
        """SSP_UIDs that are new or whose content changed: the ones that need work."""
        return self.new + self.changed


@dataclass(frozen=True)
class OutboundEntry:
    partner_id: str
    kind: str
    record_id: str
    content_hash: str
    state: str  # planned | written | recorded
    file_name: str
    run_id: str
    planned_at: str
    written_at: str | None
    recorded_at: str | None
    # engine-defined detail saved at plan time (the disclosure to record, the rows to write
    # again after a crash): personal data, so never in a repr
    detail_json: str = field(default="", repr=False)


@dataclass(frozen=True)
class PlanResult:
    planned: tuple[str, ...]  # record ids newly planned into this file
    already: dict[str, OutboundEntry]  # record ids in the ledger before: do not write them again


@dataclass(frozen=True)
class Disclosure:
    """A local 99.32 entry (mirrors a U_SSP_DISCLOSURES row)."""

    ssp_uid: str
    student_dcid: str
    student_number: str
    disclosed_at: str  # UTC 'YYYY-MM-DD HH:MM:SS'
    partner_id: str
    direction: str  # to_partner | from_partner
    data_categories: tuple[str, ...]
    purpose: str
    legal_basis: str  # e.g. consent:<uid>
    referral_uid: str
    run_id: str
    push_started: bool = False
    pushed: bool = False
    ps_id: str = ""

    def as_dict(self) -> dict[str, str]:
        """The entry as `ssp disclosures` prints it (categories comma-joined)."""
        keys = (
            "ssp_uid",
            "student_number",
            "disclosed_at",
            "partner_id",
            "direction",
            "purpose",
            "legal_basis",
            "referral_uid",
            "run_id",
        )
        out = {k: str(getattr(self, k)) for k in keys}
        out["data_categories"] = ",".join(self.data_categories)
        return out


@dataclass(frozen=True)
class InboundFile:
    partner_id: str
    sha256: str
    file_name: str
    state: str  # processing | done
    started_at: str
    processed_at: str | None
    rows_applied: int
    rows_quarantined: int

    @property
    def done(self) -> bool:
        return self.state == "done"


@dataclass(frozen=True)
class InboundRow:
    partner_id: str
    batch: str
    row_number: int
    natural_key: str
    row_hash: str
    outcome: str
    detail: str
    processed_at: str

"""The `ssp sync run` summary: one JSON object per run.

The documented keys (run_id, started_at, finished_at, dry_run, and per partner referrals_sent,
referrals_held, status_updates_applied, visits_created, duplicates_skipped, quarantined,
disclosures_recorded, http_requests) keep their names; later additions only add keys. Where to
look is part of the summary: the quarantine files written, the count of refused rows per kind of
reason, and inbox files that match no pattern of the partner's mapping (each named once).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PartnerSummary", "RunSummary", "reason_kind"]

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_SIZED = re.compile(r"\(a \d+-character value\)")
_NUMBER = re.compile(r"\b\d+\b")


def reason_kind(reason: str) -> str:
    """A quarantine reason without the row's own values, so equal problems count together and
    no partner value reaches the summary: "visit_date: '13/40/2026' is not a date (expected
    MM/DD/YYYY)" -> "visit_date: '…' is not a date (expected MM/DD/YYYY)"."""
    text = _SIZED.sub("(a value)", reason.strip())
    text = _QUOTED.sub("'…'", text)
    text = _NUMBER.sub("N", text)
    return text[:160]


@dataclass
class PartnerSummary:
    referrals_sent: int = 0
    referrals_held: Counter[str] = field(default_factory=Counter)
    revocations_sent: int = 0
    status_updates_applied: int = 0
    visits_created: int = 0
    duplicates_skipped: int = 0
    stale_skipped: int = 0
    quarantined: int = 0
    disclosures_recorded: int = 0
    http_requests: int = 0
    quarantined_by_reason: Counter[str] = field(default_factory=Counter)
    quarantine_files: list[str] = field(default_factory=list)
    unexpected_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "referrals_sent": self.referrals_sent,
            "referrals_held": {"total": sum(self.referrals_held.values()),
                               "by_reason": dict(sorted(self.referrals_held.items()))},
            "revocations_sent": self.revocations_sent,
            "status_updates_applied": self.status_updates_applied,
            "visits_created": self.visits_created,
            "duplicates_skipped": self.duplicates_skipped,
            "stale_skipped": self.stale_skipped,
            "quarantined": self.quarantined,
            "disclosures_recorded": self.disclosures_recorded,
            "http_requests": self.http_requests,
            "quarantined_by_reason": dict(self.quarantined_by_reason.most_common()),
            "quarantine_files": list(self.quarantine_files),
            "unexpected_files": list(self.unexpected_files),
        }


@dataclass
class RunSummary:
    run_id: str
    started_at: str
    dry_run: bool
    finished_at: str = ""
    status: str = "running"
    partners: dict[str, PartnerSummary] = field(default_factory=dict)
    powerschool_http_requests: int = 0
    streams: dict[str, int] = field(default_factory=dict)
    referrals_held_unknown_partner: int = 0
    error: str = ""

    def partner(self, partner_id: str) -> PartnerSummary:
        return self.partners.setdefault(partner_id, PartnerSummary())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "dry_run": self.dry_run,
            "status": self.status,
            "partners": {pid: s.as_dict() for pid, s in sorted(self.partners.items())},
            "referrals_held_unknown_partner": self.referrals_held_unknown_partner,
            "powerschool": {"http_requests": self.powerschool_http_requests,
                            "rows_read": dict(sorted(self.streams.items()))},
        }
        if self.error:
            out["error"] = self.error
        return out

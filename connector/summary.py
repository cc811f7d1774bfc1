"""The `ssp sync run` summary (SPEC section 8): one JSON object per run."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PartnerSummary", "RunSummary"]


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

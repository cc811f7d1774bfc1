"""The referral status machine and its derived fields (SPEC 5). Pure: no I/O, no clock.

School-side statuses: `new` (created on the page) and `sent` (the connector sent it). Partner
statuses arrive as inbound updates. The progress order

    received -> accepted -> scheduled -> attended -> in_service -> completed

is never walked backwards. `declined`, `unable_to_contact`, `cancelled` and `completed` are
terminal, as `rejected`, `failed`, `cancelled` and `completed` are in the FHIR Task referral state
machine (SDOHCC): a family re-engaged after a terminal outcome is a new referral. The full table is
`TRANSITIONS`; in short:

    new, sent   -> any partner status (a crash may leave a sent referral still marked `new`)
    received    -> accepted, scheduled, attended, in_service, completed, declined,
                   unable_to_contact, cancelled
    accepted    -> scheduled, attended, in_service, completed, declined, unable_to_contact,
                   cancelled
    scheduled   -> attended, in_service, completed, unable_to_contact, cancelled
    attended    -> in_service, completed, unable_to_contact, cancelled
    in_service  -> completed, unable_to_contact, cancelled
    terminal    -> nothing

`declined` is the partner refusing before acting, so it is allowed only up to `accepted`.

An update is, in this order:
  * invalid   an unknown or school-side status, a date in the future, a first_service_date after
              the status date or given with a status that implies no service yet, or a transition
              the table forbids (quarantined with the reason);
  * stale     dated before the stored STATUS_DATE, or dated the same day as it but earlier in the
              workflow (the two arrived out of order): ignored, not an error. STATUS_DATE of `new`
              and `sent` is the school's date, so updates on those are never stale;
  * duplicate the same status and nothing new to record: no write;
  * applied   the new state. The same status with a new reason or an earlier first service date
              updates those and keeps STATUS_DATE (the day the status was first reported).

ACCESS_RESULT is `yes` once service was reached (attended, in_service, completed, or a first
service date is known) and stays `yes`; otherwise `no` after declined, unable_to_contact or
cancelled, else `pending`. FIRST_SERVICE_DATE is the update's first_service_date, or the status
date when service is first reached; the earliest date wins, it never moves later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from connector.policy import parse_ps_date
from foundation.errors import RecordError

__all__ = [
    "STATUSES",
    "SCHOOL_STATUSES",
    "PARTNER_STATUSES",
    "PROGRESS",
    "SERVICE_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "FHIR_TASK_STATUS",
    "ReferralState",
    "Outcome",
    "apply_update",
    "access_result",
]

SCHOOL_STATUSES = ("new", "sent")
PROGRESS = ("received", "accepted", "scheduled", "attended", "in_service", "completed")
PARTNER_STATUSES = (*PROGRESS, "declined", "unable_to_contact", "cancelled")
STATUSES = (*SCHOOL_STATUSES, *PARTNER_STATUSES)
SERVICE_STATUSES = frozenset({"attended", "in_service", "completed"})
TERMINAL_STATUSES = frozenset({"declined", "unable_to_contact", "cancelled", "completed"})
_NO_ACCESS = frozenset({"declined", "unable_to_contact", "cancelled"})
_NO_SERVICE_YET = frozenset({"received", "accepted", "scheduled", "declined"})

_STOPS = frozenset({"unable_to_contact", "cancelled"})
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": frozenset(PARTNER_STATUSES),
    "sent": frozenset(PARTNER_STATUSES),
    "received": frozenset(PROGRESS[1:]) | _STOPS | {"declined"},
    "accepted": frozenset(PROGRESS[2:]) | _STOPS | {"declined"},
    "scheduled": frozenset(PROGRESS[3:]) | _STOPS,
    "attended": frozenset(PROGRESS[4:]) | _STOPS,
    "in_service": frozenset(PROGRESS[5:]) | _STOPS,
    "completed": frozenset(),
    "declined": frozenset(),
    "unable_to_contact": frozenset(),
    "cancelled": frozenset(),
}
"""Allowed status changes (from -> to). A same-status update is not a transition."""

FHIR_TASK_STATUS: Mapping[str, str] = {
    "new": "draft",
    "sent": "requested",
    "received": "requested",
    "accepted": "accepted",
    "declined": "rejected",
    "scheduled": "accepted",
    "attended": "in-progress",
    "in_service": "in-progress",
    "completed": "completed",
    "unable_to_contact": "failed",
    "cancelled": "cancelled",
}
"""SPEC 5's FHIR R4 Task.status for each status (for the planned FHIR feed)."""


def _reachable(start: str) -> frozenset[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in TRANSITIONS.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)


_LATER: Mapping[str, frozenset[str]] = {s: _reachable(s) for s in STATUSES}


def access_result(status: str, first_service_date: dt.date | None, served: bool = False) -> str:
    """ACCESS_RESULT for a state: yes once served, no after a stop without service, else pending."""
    if served or first_service_date is not None or status in SERVICE_STATUSES:
        return "yes"
    return "no" if status in _NO_ACCESS else "pending"


@dataclass(frozen=True)
class ReferralState:
    """The partner-synced fields of a U_SSP_REFERRALS row."""

    status: str
    status_date: dt.date | None = None
    status_reason: str = ""
    first_service_date: dt.date | None = None
    access_result: str = "pending"

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> ReferralState:
        """From a referrals-query row (lower-case keys); RecordError names referral and field."""
        name = f"referral {(row.get('ssp_uid') or row.get('id') or '?').strip()}"
        status = (row.get("status") or "").strip().lower() or "new"
        dates: dict[str, dt.date | None] = {}
        for key in ("status_date", "first_service_date"):
            try:
                dates[key] = parse_ps_date(row.get(key))
            except ValueError as exc:
                raise RecordError(f"{name}: {key} {exc}", field=key) from None
        return cls(
            status=status,
            status_date=dates["status_date"],
            status_reason=(row.get("status_reason") or "").strip(),
            first_service_date=dates["first_service_date"],
            access_result=(row.get("access_result") or "").strip().lower() or "pending",
        )

    @property
    def served(self) -> bool:
        """Service was reached at some point (the stored ACCESS_RESULT counts, too)."""
        return (
            self.status in SERVICE_STATUSES
            or self.first_service_date is not None
            or self.access_result == "yes"
        )

    def fields(self) -> dict[str, str]:
        """PowerSchool field values, as strings (empty for no date)."""
        return {
            "STATUS": self.status,
            "STATUS_DATE": self.status_date.isoformat() if self.status_date else "",
            "STATUS_REASON": self.status_reason,
            "FIRST_SERVICE_DATE": self.first_service_date.isoformat()
            if self.first_service_date
            else "",
            "ACCESS_RESULT": self.access_result,
        }

    def changed_fields(self, before: ReferralState) -> dict[str, str]:
        """Only the fields that differ from `before`: what to write to PowerSchool."""
        old = before.fields()
        return {k: v for k, v in self.fields().items() if old[k] != v}


OutcomeKind = Literal["applied", "stale", "duplicate", "invalid"]


@dataclass(frozen=True)
class Outcome:
    """What to do with an update: `state` is the new state if applied, else the current one."""

    kind: OutcomeKind
    state: ReferralState
    reason: str = ""

    @property
    def applied(self) -> bool:
        return self.kind == "applied"


def _validate(
    current: ReferralState, status: str, on: dt.date, fsd: dt.date | None, today: dt.date | None
) -> str:
    """Why the update itself is malformed, or ""."""
    if status in SCHOOL_STATUSES:
        return f"status {status} is set by the school, not by a partner"
    if status not in PARTNER_STATUSES:
        return f"unknown status '{status[:30]}'"
    if current.status not in TRANSITIONS:
        return f"stored status '{current.status[:30]}' is unknown"
    if today is not None and on > today:
        return "status_date is in the future"
    if fsd is not None and fsd > on:
        return "first_service_date is after status_date"
    if fsd is not None and status in _NO_SERVICE_YET:
        return f"first_service_date given with status {status} (no service yet)"
    return ""


def _is_stale(current: ReferralState, status: str, on: dt.date) -> bool:
    if current.status in SCHOOL_STATUSES or current.status_date is None:
        return False
    if on < current.status_date:
        return True
    # Same day, earlier in the workflow: the two updates simply arrived out of order.
    return (
        on == current.status_date and status != current.status and current.status in _LATER[status]
    )


def _first_service(
    current: ReferralState, status: str, on: dt.date, fsd: dt.date | None
) -> dt.date | None:
    candidate = fsd if fsd is not None else (on if status in SERVICE_STATUSES else None)
    if candidate is None:
        return current.first_service_date
    if current.first_service_date is None:
        return candidate
    return min(current.first_service_date, candidate)


def apply_update(
    current: ReferralState,
    update_status: str,
    update_date: dt.date,
    first_service_date: dt.date | None = None,
    reason: str = "",
    *,
    today: dt.date | None = None,
) -> Outcome:
    """Apply one partner status update to the stored state (see the module docstring)."""
    status, reason = update_status.strip().lower(), reason.strip()
    problem = _validate(current, status, update_date, first_service_date, today)
    if problem:
        return Outcome("invalid", current, problem)
    if _is_stale(current, status, update_date):
        return Outcome("stale", current, "update older than the stored status")
    fsd = _first_service(current, status, update_date, first_service_date)
    if status == current.status:
        new = replace(
            current,
            status_date=current.status_date or update_date,
            status_reason=reason or current.status_reason,
            first_service_date=fsd,
        )
    elif status in TRANSITIONS[current.status]:
        new = ReferralState(status, update_date, reason, fsd)
    else:
        return Outcome("invalid", current, f"status cannot move from {current.status} to {status}")
    new = replace(
        new, access_result=access_result(new.status, new.first_service_date, current.served)
    )
    if new == current:
        return Outcome("duplicate", current)
    return Outcome("applied", new)

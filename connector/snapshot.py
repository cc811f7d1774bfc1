"""Fresh reads a consent decision is made on: PowerSchool as it is now, one request per batch.

The mirror (connector/state) says which referrals to look at; it never says whether one may go.
Just before deciding, the engine reads, for a batch of referral SSP_UIDs, every referral row
carrying one of them (so a duplicate SSP_UID shows, and a row deleted on the page is missing),
the student's identity, enrollment and guardian fields as PowerSchool has them now, and every
consent of that student for the referral's partner (`referrals.snapshot`). Inbound visits read
students by number with their consents for the partner (`students.consent_snapshot`).

A batch is sized so its rows (referral x consents, estimated from what is known) fit one page,
so it costs one request; a fuller page simply costs another. The batches of one read go out
concurrently, within the run's bound on requests in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from connector.context import RunContext
from connector.parallel import run_bounded
from connector.policy import Consent
from plugin.queries import CONSENT_PREFIX
from foundation.errors import RecordError

__all__ = ["ReferralSnapshot", "StudentSnapshot", "read_referrals", "read_students", "batches"]

log = logging.getLogger("ssp.snapshot")

Row = dict[str, Any]


@dataclass
class ReferralSnapshot:
    """Everything PowerSchool holds now under one referral SSP_UID."""

    uid: str
    rows: list[Row] = field(default_factory=list)  # one per U_SSP_REFERRALS row (by ID)
    consents: dict[str, list[Consent]] = field(default_factory=dict)  # by referral row ID

    @property
    def row(self) -> Row | None:
        """The referral row when exactly one carries the SSP_UID (None: deleted or duplicated)."""
        return self.rows[0] if len(self.rows) == 1 else None

    @property
    def duplicated(self) -> bool:
        return len(self.rows) > 1

    def consents_of(self, row: Row) -> list[Consent]:
        return self.consents.get(str(row.get("id")), [])


@dataclass
class StudentSnapshot:
    student_dcid: str
    student_number: str
    dob: str
    consents: list[Consent] = field(default_factory=list)


def batches(
    keys: Iterable[str], limit: int, weight: Callable[[str], int] = lambda _k: 1
) -> Iterator[list[str]]:
    """`keys` in batches whose estimated rows stay below `limit` (a full page would cost a
    second request to learn it was the last)."""
    batch: list[str] = []
    rows = 0
    for key in keys:
        cost = max(1, weight(key))
        if batch and rows + cost >= limit:
            yield batch
            batch, rows = [], 0
        batch.append(key)
        rows += cost
    if batch:
        yield batch


def _split(row: Row) -> tuple[Row, Row | None]:
    """A joined row -> (its own columns, the consent columns without prefix, or None)."""
    own: Row = {}
    consent: Row = {}
    for key, value in row.items():
        if key.startswith(CONSENT_PREFIX):
            consent[key[len(CONSENT_PREFIX):]] = value
        else:
            own[key] = value
    has_consent = any(str(consent.get(k) or "").strip() for k in ("id", "ssp_uid"))
    return own, consent if has_consent else None


def _consent(row: Row) -> Consent | None:
    try:
        return Consent.from_row(row)
    except RecordError as exc:
        log.warning("consent unreadable, ignored", extra={"ssp_uid": str(row.get("ssp_uid") or ""),
                                                          "reason": exc.reason})
        return None


def _read_batches(ctx: RunContext, name: str, args: list[dict[str, Any]]) -> list[list[Row]]:
    """Every batch's rows, the batches read concurrently (the run's bound on requests in flight);
    the first failure goes up once all have ended."""
    results = run_bounded([lambda a=a: ctx.client.query_batch(name, a) for a in args],
                          ctx.config.powerschool.max_workers)
    for _, exc in results:
        if exc is not None:
            raise exc
    return [rows or [] for rows, _ in results]


def read_referrals(ctx: RunContext, uids: Iterable[str],
                   weight: Callable[[str], int] = lambda _u: 1) -> dict[str, ReferralSnapshot]:
    """Snapshots of the referrals under `uids` (a uid PowerSchool no longer has maps to an
    empty snapshot). `weight(uid)` estimates its rows (1 + its student's consents)."""
    wanted = sorted({u for u in uids if u})
    found = {uid: ReferralSnapshot(uid) for uid in wanted}
    if not wanted:
        return found
    query = ctx.query("referral_snapshot")
    limit = ctx.client.max_page_size()
    ctx.check_stop()
    args = [{"referral_uids": b} for b in batches(wanted, limit, weight)]
    for joined_rows in _read_batches(ctx, query.name, args):
        seen_consents: set[tuple[str, str]] = set()
        for joined in joined_rows:
            own, consent_row = _split(joined)
            snap = found.get(str(own.get("ssp_uid") or ""))
            if snap is None:
                continue
            row_id = str(own.get("id"))
            if all(str(r.get("id")) != row_id for r in snap.rows):
                snap.rows.append(own)
            consent_key = (row_id, str((consent_row or {}).get("id")))
            if consent_row is not None and consent_key not in seen_consents:
                seen_consents.add(consent_key)
                consent = _consent(consent_row)
                if consent is not None:
                    snap.consents.setdefault(row_id, []).append(consent)
    return found


def read_students(ctx: RunContext, numbers: Iterable[str], partner_id: str,
                  weight: Callable[[str], int] = lambda _n: 1) -> dict[str, StudentSnapshot]:
    """Students by number, each with every consent for `partner_id`, as PowerSchool has them now
    (a number PowerSchool does not know is absent)."""
    wanted = sorted({n for n in numbers if n})
    found: dict[str, StudentSnapshot] = {}
    if not wanted:
        return found
    query = ctx.query("student_consent_snapshot")
    limit = ctx.client.max_page_size()
    ctx.check_stop()
    args = [{"student_numbers": b, "partner_id": partner_id}
            for b in batches(wanted, limit, weight)]
    for joined_rows in _read_batches(ctx, query.name, args):
        seen: set[str] = set()
        for joined in joined_rows:
            own, consent_row = _split(joined)
            number = str(own.get("student_number") or "")
            snap = found.setdefault(number, StudentSnapshot(
                str(own.get("student_dcid") or ""), number, str(own.get("dob") or "")))
            if consent_row is not None and str(consent_row.get("id")) not in seen:
                seen.add(str(consent_row.get("id")))
                consent = _consent(consent_row)
                if consent is not None:
                    snap.consents.append(consent)
    return found

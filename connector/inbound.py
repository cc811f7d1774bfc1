"""Partner -> school: status updates and partner clinicians' visits, applied to PowerSchool.

Each inbound file (or API page) is processed once, keyed by its content hash. Rows are handled in
chunks: every row is decided first (mapping, referral lookup, consent, status machine) on what
PowerSchool says now (connector/snapshot.py: the chunk's referral rows, students and their
consents for the partner, read fresh once per batch, so a consent revoked or deleted on the page
stops the partner's updates and visits; a referral id on two rows is ambiguous and quarantined),
then the
PowerSchool writes of a chunk run concurrently (one worker per referral, so updates to the same
referral stay in file order), then the mirror and the row ledger are updated in one transaction
each, after the effects. The next chunk is decided while a chunk's writes are in flight (_Pipeline),
but its writes start only once the previous chunk is recorded. A crash mid-file resumes at the
first unrecorded row; a re-applied row is recognised as a duplicate. Bad rows are quarantined with
their reason, never dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from connector.context import RunContext
from connector.feeds.base import Feed, InboundBatch, InboundRow
from connector.feeds.safety import safe_component
from connector.outbound import record_hash, stable_uid
from connector.policy import Consent, decide_inbound
from connector.records import PartnerVisit, StatusUpdate
from connector.snapshot import ReferralSnapshot, StudentSnapshot, read_referrals, read_students
from connector.status import ReferralState, apply_update
from connector.summary import reason_kind
from foundation.config import Partner
from foundation.errors import NotFoundError, PowerSchoolError, RecordError, WriteRejectedError
from foundation.logs import SHOWN_BY_PROGRESS

__all__ = ["apply_inbound", "CHUNK_ROWS"]

log = logging.getLogger("ssp.inbound")
CHUNK_ROWS = 500
REFERRALS_TABLE = "U_SSP_REFERRALS"
VISITS_TABLE = "U_SSP_VISITS"


@dataclass
class _Planned:
    """What one row will do. `write` runs in a worker; `mirror` rows are stored after it."""

    row: InboundRow
    outcome: str  # applied | duplicate | stale | quarantined
    key: str = ""
    reason: str = ""
    write: Callable[[], None] | None = None
    group: str = ""
    mirror: tuple[str, dict[str, Any]] | None = None


@dataclass
class _Chunk:
    planned: list[_Planned] = field(default_factory=list)


def apply_inbound(ctx: RunContext, feed: Feed, partner: Partner) -> None:
    _report_unexpected_files(ctx, feed, partner)
    for kind in ("status_update", "visit"):
        for batch in feed.inbound(kind):  # type: ignore[arg-type]
            ctx.check_stop()
            _apply_batch(ctx, feed, partner, batch)


def _report_unexpected_files(ctx: RunContext, feed: Feed, partner: Partner) -> None:
    """Name each inbox file that matches no pattern of the mapping, once per name and content."""
    listing = getattr(feed, "unexpected_files", None)
    if listing is None:
        return  # an API feed has no folder
    stats = ctx.summary.partner(partner.id)
    for name, sha256 in listing():
        if not ctx.state.note_unexpected_file(partner.id, name, sha256, ctx.run_id):
            continue
        stats.unexpected_files.append(safe_component(name))
        log.warning(
            "inbox file matches no file pattern of the partner's mapping; left where it is",
            extra={"partner": partner.id, "file": safe_component(name),
                   "mapping": feed.mapping.source},
        )


def _apply_batch(ctx: RunContext, feed: Feed, partner: Partner, batch: InboundBatch) -> None:
    stats = ctx.summary.partner(partner.id)
    known = ctx.state.inbound_file(partner.id, batch.content_hash)
    if known is not None and known.done:
        stats.duplicates_skipped += 1
        log.info("inbound file already processed", extra={"partner": partner.id, "file": batch.source})
        if not ctx.dry_run:
            feed.archive(batch)
        return
    # State writes happen in a dry run too: its state is a private copy (engine.dry_run_state),
    # so a later file of the same run sees them and the dry run counts what a real run would.
    ctx.state.begin_inbound_file(partner.id, batch.source, batch.content_hash)
    done = ctx.state.inbound_rows(partner.id, batch.content_hash) if known else {}
    decide = _decide_status if batch.kind == "status_update" else _decide_visit
    session = _BatchSession(ctx, partner, batch, feed.mapping)
    with _Pipeline(ctx, feed, batch, session, decide) as pipeline:
        chunk: list[InboundRow] = []
        for row in batch.rows():
            if row.number in done:
                continue
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                pipeline.push(chunk)
                chunk = []
        if chunk:
            pipeline.push(chunk)
        pipeline.settle()
    applied, quarantined = pipeline.applied, pipeline.quarantined
    ctx.state.finish_inbound_file(partner.id, batch.content_hash, applied=applied, quarantined=quarantined)
    if not ctx.dry_run:
        feed.archive(batch)
    ctx.progress.done(partner.id, batch.kind, f"{batch.source}: {applied} applied, {quarantined} quarantined")
    log.info("inbound file processed", extra={"partner": partner.id, "file": batch.source,
                                              "applied": applied, "quarantined": quarantined,
                                              SHOWN_BY_PROGRESS: True})


class _BatchSession:
    """Per-batch state: the snapshots read so far (each referral and student read once per
    batch, fresh), the referral rows as this batch's own updates left them, visits seen."""

    def __init__(self, ctx: RunContext, partner: Partner, batch: InboundBatch, mapping: Any) -> None:
        self.ctx, self.partner, self.batch, self.mapping = ctx, partner, batch, mapping
        self.referrals: dict[str, dict[str, Any]] = {}  # uid -> row after this batch's updates
        self.visit_ids: set[str] = set()
        self.snapshots: dict[str, ReferralSnapshot] = {}
        self.students: dict[str, StudentSnapshot | None] = {}
        self._sent: set[str] | None = None

    def was_sent(self, uid: str) -> bool:
        """The referral went to this partner at some point (a disclosure was recorded for it)."""
        if self._sent is None:
            sent = self.ctx.state.sent_under_consents(self.partner.id).values()
            self._sent = {rid for ids in sent for rid in ids}
        return uid in self._sent

    def read_referrals(self, uids: set[str]) -> None:
        """Snapshots of the referrals not yet read in this batch (one request per page)."""
        missing = {u for u in uids if u and u not in self.snapshots}
        if missing:
            self.snapshots.update(read_referrals(self.ctx, missing))

    def read_students(self, numbers: set[str]) -> None:
        """Students (DCID, date of birth, consents for this partner) not yet read in this batch."""
        missing = {n for n in numbers if n and n not in self.students}
        if missing:
            found = read_students(self.ctx, missing, self.partner.id)
            self.students.update({n: found.get(n) for n in missing})


def _quarantined(row: InboundRow, reason: str, key: str = "") -> _Planned:
    return _Planned(row, "quarantined", key=key, reason=reason)


def _consent_refusal(session: _BatchSession, consents: list[Consent], category: str, dob: str) -> str:
    """Why the policy refuses this inbound category for the student ("" if it accepts), on the
    consents read fresh in this batch. With the date of birth known, an adult needs their own
    consent."""
    ctx, partner = session.ctx, session.partner
    decision = decide_inbound(partner_id=partner.id, mou=partner.mou, today=ctx.today, category=category,  # type: ignore[arg-type]
                              consents=consents, student_dob=dob)
    return "" if decision.accepted else decision.reason


def _referral_problem(session: _BatchSession, uid: str) -> str:
    """Why a referral id on a partner row cannot be used ("" when exactly one row carries it)."""
    snap = session.snapshots.get(uid)
    if snap is None or not snap.rows:
        if session.ctx.state.get("referrals", uid) is not None:
            return "referral_id: no longer in PowerSchool (deleted on the page)"
        return "referral_id: unknown referral"
    if snap.duplicated:
        return "referral_id: ambiguous: more than one referral row in PowerSchool has this id"
    return ""


def _dry_run_view(session: _BatchSession, fresh: dict[str, Any]) -> dict[str, Any]:
    """The referral row the status machine starts from: PowerSchool's, except in a dry run,
    whose own earlier updates (an earlier file of the same run) exist only in its private copy
    of the state, so the dry run counts what the real run will."""
    if not session.ctx.dry_run:
        return fresh
    mirrored = session.ctx.state.get("referrals", str(fresh.get("ssp_uid") or ""))
    if mirrored is None or mirrored.ps_id != str(fresh.get("id")):
        return fresh
    return {**fresh, **mirrored.row}


def _decide_status(session: _BatchSession, rows: list[InboundRow]) -> list[_Planned]:
    ctx, batch = session.ctx, session.batch
    parsed: list[tuple[InboundRow, StatusUpdate | None, str]] = []
    for row in rows:
        if row.problem:
            parsed.append((row, None, row.problem))
            continue
        try:
            parsed.append((row, session.mapping.parse_status_update(
                row.values, batch.provenance(row), today=ctx.today), ""))
        except RecordError as exc:
            parsed.append((row, None, exc.reason))
    session.read_referrals({u.referral_id for _, u, _ in parsed if u is not None})
    return [_quarantined(row, reason) if update is None else _decide_one_status(session, row, update)
            for row, update, reason in parsed]


def _decide_one_status(session: _BatchSession, row: InboundRow, update: StatusUpdate) -> _Planned:
    ctx, partner = session.ctx, session.partner
    key = f"status:{update.referral_id}"
    problem = _referral_problem(session, update.referral_id)
    if problem:
        return _quarantined(row, problem, key)
    snap = session.snapshots[update.referral_id]
    fresh = snap.row
    assert fresh is not None
    ps_id = str(fresh["id"])
    current_row = session.referrals.get(update.referral_id) or _dry_run_view(session, fresh)
    never_sent = str(current_row.get("status") or "new").strip().lower() == "new" and \
        not session.was_sent(update.referral_id)  # e.g. held for consent: the partner never had it
    if str(fresh.get("partner_id") or "").strip() != partner.id or never_sent:
        return _quarantined(row, "referral_id: not a referral sent to this partner", key)
    refusal = _consent_refusal(session, snap.consents_of(fresh), "referral_status", str(fresh.get("dob") or ""))
    if refusal:
        return _quarantined(row, f"consent: {refusal}", key)
    try:
        current = ReferralState.from_row(current_row)
    except RecordError as exc:
        return _quarantined(row, exc.reason, key)
    outcome = apply_update(current, update.status, update.status_date, update.first_service_date,
                           update.status_reason, today=ctx.today)
    if outcome.kind == "invalid":
        return _quarantined(row, f"status: {outcome.reason}", key)
    if outcome.kind != "applied":
        return _Planned(row, outcome.kind, key=key)
    changes = outcome.state.changed_fields(current)
    new_row = {**current_row, **{k.lower(): v for k, v in changes.items()}}
    session.referrals[update.referral_id] = new_row
    return _Planned(row, "applied", key=key, group=update.referral_id,
                    write=lambda: ctx.writer.update(REFERRALS_TABLE, ps_id, changes),
                    mirror=("referrals", new_row))


def _decide_visit(session: _BatchSession, rows: list[InboundRow]) -> list[_Planned]:
    ctx, batch = session.ctx, session.batch
    parsed: list[tuple[InboundRow, PartnerVisit | None, str]] = []
    for row in rows:
        if row.problem:
            parsed.append((row, None, row.problem))
            continue
        try:
            visit = session.mapping.parse_visit(row.values, batch.provenance(row), today=ctx.today)
            parsed.append((row, visit, ""))
        except RecordError as exc:
            parsed.append((row, None, exc.reason))
    session.read_students({v.student_number for _, v, _ in parsed if v is not None})
    session.read_referrals({v.referral_id for _, v, _ in parsed if v is not None and v.referral_id})
    return [_quarantined(row, reason) if visit is None else _decide_one_visit(session, row, visit)
            for row, visit, reason in parsed]


def _decide_one_visit(session: _BatchSession, row: InboundRow, visit: PartnerVisit) -> _Planned:
    ctx, partner = session.ctx, session.partner
    key = f"visit:{visit.partner_visit_id}"
    if visit.partner_visit_id in session.visit_ids or ctx.state.find_visit(partner.id, visit.partner_visit_id):
        return _Planned(row, "duplicate", key=key)
    student = session.students.get(visit.student_number)
    if student is None or not student.student_dcid:
        return _quarantined(row, "student_number: no such student", key)
    dcid = student.student_dcid
    if visit.referral_id:
        problem = _referral_problem(session, visit.referral_id)
        if problem:
            return _quarantined(row, problem, key)
        fresh = session.snapshots[visit.referral_id].row
        assert fresh is not None
        if str(fresh.get("partner_id") or "").strip() != partner.id or \
                str(fresh.get("studentsdcid") or fresh.get("student_dcid") or "") != dcid:
            return _quarantined(row, "referral_id: not this partner's referral for this student", key)
    refusal = _consent_refusal(session, student.consents, "visit_summary", student.dob)
    if refusal:
        return _quarantined(row, f"consent: {refusal}", key)
    session.visit_ids.add(visit.partner_visit_id)
    uid = stable_uid("visit", partner.id, visit.partner_visit_id)
    values = {
        "STUDENTSDCID": dcid, "SSP_UID": uid, "VISIT_DATE": visit.visit_date.isoformat(),
        "TIME_IN": visit.time_in, "TIME_OUT": visit.time_out, "STAFF_NAME": visit.clinician_name[:80],
        "STAFF_ROLE": "partner_clinician", "PURPOSE": visit.purpose_code,
        "SERVICES": ",".join(visit.service_codes), "SOURCE": f"partner:{partner.id}",
        "PARTNER_VISIT_ID": visit.partner_visit_id,
    }
    mirror_row = {k.lower(): v for k, v in values.items() if k != "STAFF_NAME"}
    mirror_row["student_dcid"] = dcid
    return _Planned(row, "applied", key=key, group=uid,
                    write=lambda: ctx.writer.insert(VISITS_TABLE, values, natural_key=("SSP_UID", uid)),
                    mirror=("visits", mirror_row))


class _Pipeline:
    """Chunks in order: while one chunk's PowerSchool writes are in flight, the next chunk is
    decided (mirror look-ups, consent policy, status machine), so the writes are not idle while
    the engine thinks. A chunk's writes start only after the previous chunk is recorded, and a
    chunk in flight is always waited for and recorded before a stop or an error goes up."""

    def __init__(self, ctx: RunContext, feed: Feed, batch: InboundBatch, session: _BatchSession,
                 decide: Callable[[_BatchSession, list[InboundRow]], list[_Planned]]) -> None:
        self.ctx, self.feed, self.batch, self.session, self.decide = ctx, feed, batch, session, decide
        self.applied = self.quarantined = 0
        workers = max(1, ctx.config.powerschool.max_workers)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="ssp-write") if workers > 1 else None
        self._in_flight: tuple[list[_Planned], list[Future[None]]] | None = None

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # after a failure the chunk's other writes still end

    def push(self, rows: list[InboundRow]) -> None:
        try:
            self.ctx.check_stop()
            planned = self.decide(self.session, rows)
        except BaseException:
            self.settle()  # what is already written gets recorded before the stop goes up
            raise
        self.settle()
        self._in_flight = (planned, self._start([p for p in planned if p.write is not None]))

    def settle(self) -> None:
        """Wait for the chunk in flight (the first failure stops the run) and record it."""
        if self._in_flight is None:
            return
        planned, futures = self._in_flight
        self._in_flight = None
        for future in futures:
            future.result()
        a, q = _record_chunk(self.ctx, self.feed, self.batch, self.session, planned)
        self.applied, self.quarantined = self.applied + a, self.quarantined + q
        self.ctx.progress.update(self.session.partner.id, self.batch.kind, self.applied + self.quarantined)

    def _start(self, planned: list[_Planned]) -> list[Future[None]]:
        """One task per referral/visit group (in order within it), at most max_workers at once."""
        groups: dict[str, list[_Planned]] = defaultdict(list)
        for p in planned:
            groups[p.group].append(p)
        if self._pool is None or len(groups) <= 1:
            for items in groups.values():
                _write_group(items)
            return []
        return [self._pool.submit(_write_group, items) for items in groups.values()]


def _record_chunk(ctx: RunContext, feed: Feed, batch: InboundBatch, session: _BatchSession,
                  planned: list[_Planned]) -> tuple[int, int]:
    """After its writes: counts, quarantine files, mirror and row ledger of one chunk."""
    stats = ctx.summary.partner(session.partner.id)
    applied = quarantined = 0
    for p in planned:
        if p.outcome == "quarantined":
            quarantined += 1
            stats.quarantined_by_reason[reason_kind(p.reason)] += 1
            if not ctx.dry_run:
                feed.quarantine(batch, p.row.number, p.row.values, p.reason, extra=p.row.extra)
                where = getattr(feed, "quarantine_path", lambda _b: None)(batch)
                if where is not None and str(where) not in stats.quarantine_files:
                    stats.quarantine_files.append(str(where))
        elif p.outcome == "applied":
            applied += 1
            if batch.kind == "status_update":
                stats.status_updates_applied += 1
            else:
                stats.visits_created += 1
        elif p.outcome == "duplicate":
            stats.duplicates_skipped += 1
        elif p.outcome == "stale":
            stats.stale_skipped += 1
    stats.quarantined += quarantined
    for kind in ("referrals", "visits"):  # in a dry run, into its private copy of the state
        mirrored = [p.mirror[1] for p in planned if p.mirror and p.mirror[0] == kind]
        if mirrored:
            ctx.state.upsert_mirror(kind, mirrored)
    ctx.state.record_inbound_rows(session.partner.id, batch.content_hash, [
        (p.row.number, p.outcome, p.key, record_hash(p.row.values), p.reason[:200]) for p in planned
    ])
    return applied, quarantined


def _write_group(items: list[_Planned]) -> None:
    """One referral's (or visit's) writes in file order; a row PowerSchool refuses is quarantined."""
    for item in items:
        assert item.write is not None
        try:
            item.write()
        except WriteRejectedError as exc:  # PowerSchool refused this one row: quarantine it
            item.outcome, item.reason, item.mirror = "quarantined", f"PowerSchool refused the write: {exc}", None
        except NotFoundError:  # the referral was deleted on the page since it was mirrored
            item.outcome, item.mirror = "quarantined", None
            item.reason = "referral_id: no longer in PowerSchool (deleted on the page)"
        except PowerSchoolError as exc:
            if exc.status != 400:
                raise
            item.outcome, item.reason, item.mirror = "quarantined", f"PowerSchool refused the write: {exc}", None

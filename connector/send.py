"""School -> partner: referrals and revocation notices, each disclosure recorded (34 CFR 99.32).

One rule: decide on a fresh snapshot, in batches. The mirror only says which referrals to look at
(STATUS new, or an SSP_UID seen on two rows); whether one may go is decided on what PowerSchool
says just before (connector/snapshot.py): the referral rows, the student now, every consent.

Per partner and file, a write-ahead protocol keeps the outbox and PowerSchool consistent across
crashes (connector/state/__init__.py explains the ledger side):

  1. reconcile plans a crashed run left behind: a plan `publishing` may be in the partner's hands,
     so it is disclosed (its local entries exist) and its file is written again if it is not
     found (same name, same rows; an HTTP feed re-POSTs with the same Idempotency-Key);
  2. finish records written but not yet reflected in PowerSchool (idempotent PUTs);
  3. decide each candidate on its snapshot; held ones get STATUS_REASON; allowed ones are
     planned as `publishing` together with their local disclosure entries, BEFORE the file
     becomes visible or the POST is made; then the file is written and the ledger says written;
  4. PowerSchool: STATUS=sent, LAST_SENT, U_SSP_DISCLOSURES rows, with bounded concurrency; then
     the ledger says recorded.

A record's ledger id is the referral's SSP_UID plus a hash of what is sent, so the same content is
never written to the outbox twice, while a referral staff changed (and set back to `new`) is sent
again as a new record.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from connector.context import RunContext
from connector.feeds.base import Feed, PublishRefused
from connector.outbound import build_outbound_referral, record_hash, stable_uid
from connector.parallel import CHUNK, run_bounded
from connector.policy import Consent, consent_expires, decide_outbound, revocations_due
from connector.records import Revocation
from connector.snapshot import ReferralSnapshot, read_referrals
from connector.state import Disclosure, OutboundEntry
from foundation.config import Partner
from foundation.errors import NotFoundError, RecordError

__all__ = ["send_referrals", "hold_unconfigured_partners", "send_revocations", "push_disclosures",
           "reconcile_partner"]

log = logging.getLogger("ssp.send")
REFERRALS_TABLE = "U_SSP_REFERRALS"
CONSENTS_TABLE = "U_SSP_CONSENTS"
DISCLOSURES_TABLE = "U_SSP_DISCLOSURES"
REFERRAL_PURPOSE = "Referral for school-linked behavioral health services"


def _disclosure(ctx: RunContext, partner_id: str, record_id: str, detail: dict[str, Any]) -> Disclosure:
    return Disclosure(
        ssp_uid=stable_uid("disclosure", partner_id, record_id),
        student_dcid=detail["student_dcid"],
        student_number=detail["student_number"],
        disclosed_at=detail["disclosed_at"],
        partner_id=partner_id,
        direction="to_partner",
        data_categories=tuple(detail["categories"]),
        purpose=detail["purpose"],
        legal_basis=f"consent:{detail['consent_uid']}",
        referral_uid=detail["referral_uid"],
        run_id=detail["run_id"],
    )


def _disclosures_of(ctx: RunContext, partner_id: str, entries: Iterable[OutboundEntry]) -> list[Disclosure]:
    return [_disclosure(ctx, partner_id, e.record_id, json.loads(e.detail_json))
            for e in entries if e.kind == "referrals" and e.detail_json]


def _republisher(ctx: RunContext, feed: Feed, partner: Partner) -> Callable[[str, list[OutboundEntry]], None]:
    """Write a `publishing` file again as planned (same run id, so the same file name or
    Idempotency-Key; the same rows in the same order), leaving out any referral that may no
    longer go on a fresh snapshot (a consent revoked meanwhile). Those stay disclosed: the
    partner may have collected the first file, and a revocation notice follows."""

    def republish(file_name: str, entries: list[OutboundEntry]) -> None:
        details = sorted((json.loads(e.detail_json) for e in entries if e.detail_json),
                         key=lambda d: d.get("n", 0))
        kind = entries[0].kind
        allowed = _still_allowed(ctx, feed, partner, [d["referral_uid"] for d in details]) \
            if kind == "referrals" else None
        kept = [d for d in details if "row" in d and (allowed is None or d["referral_uid"] in allowed)]
        rows = [d["row"] for d in kept]
        log.warning("outbound file of a crashed run written again", extra={
            "partner": partner.id, "file": file_name, "rows": len(rows), "left_out": len(details) - len(rows)})
        if rows:
            try:
                _write(feed, kind, entries[0].run_id, rows, kept)
            except PublishRefused:
                ctx.state.withdraw_publishing(partner.id, file_name, [
                    d.ssp_uid for d in _disclosures_of(ctx, partner.id, entries)])
                raise

    return republish


def _write(feed: Feed, kind: str, run_id: str, rows: list[dict[str, str]],
           details: list[dict[str, Any]]) -> None:
    """Write the rows; a feed that builds its records from the plan (FHIR: the consent facts of
    the Consent resource) also gets each row's stored detail, so a republish rebuilds the same."""
    if getattr(feed, "takes_details", False):
        feed.write_outbound(kind, run_id, rows, details=details)  # type: ignore[arg-type]
    else:
        feed.write_outbound(kind, run_id, rows)  # type: ignore[arg-type]


def _still_allowed(ctx: RunContext, feed: Feed, partner: Partner, uids: list[str]) -> set[str]:
    """The referrals of `uids` that may still go to the partner, on a fresh snapshot."""
    allowed = set()
    for uid, snap in read_referrals(ctx, uids).items():
        row = snap.row
        if row is not None and _evaluate(ctx, feed, partner, row, snap.consents_of(row)).send:
            allowed.add(uid)
    return allowed


def reconcile_partner(ctx: RunContext, feed: Feed, partner_id: str) -> None:
    """Settle files a crashed run planned, then finish what was written but not recorded."""
    if ctx.dry_run:
        return
    written, discarded = ctx.state.reconcile_outbound(
        partner_id, feed.outbound_exists, lambda entries: _disclosures_of(ctx, partner_id, entries),
        republish=_republisher(ctx, feed, ctx.config.partner(partner_id)),
    )
    for name in written + discarded:
        log.info("outbound plan reconciled", extra={"partner": partner_id, "file": name,
                                                    "outcome": "written" if name in written else "discarded"})
    pending = ctx.state.outbound_entries(partner_id, state="written")
    _record_sent(ctx, partner_id, [e for e in pending if e.kind == "referrals"])
    ctx.state.mark_recorded(partner_id, "revocations", [e.record_id for e in pending if e.kind == "revocations"])


def _raise_first(results: list[tuple[Any, Exception | None]]) -> None:
    for _, exc in results:
        if exc is not None:
            raise exc


def _record_sent(ctx: RunContext, partner_id: str, entries: list[OutboundEntry]) -> None:
    """Step 4: PowerSchool reflects the send (PUTs with bounded concurrency); then the mirror
    and the ledger say so, for the writes that succeeded, before any failure goes up."""
    workers = ctx.config.powerschool.max_workers
    for start in range(0, len(entries), CHUNK):
        ctx.check_stop()
        chunk = entries[start:start + CHUNK]
        ctx.progress.update(partner_id, "referrals marked sent in PowerSchool",
                            start + len(chunk), len(entries))
        jobs: list[tuple[OutboundEntry, Any, dict[str, str]]] = []
        done: list[str] = []
        for entry in chunk:
            detail = json.loads(entry.detail_json)
            mirrored = ctx.state.get("referrals", detail["referral_uid"])
            if mirrored is not None and mirrored.status in ("", "new"):
                # STATUS_DATE is a district-local date (LAST_SENT is UTC); ACCESS_RESULT is
                # pending until the partner reports service or its refusal (SPEC 5).
                sent = {"STATUS": "sent", "STATUS_DATE": detail.get("sent_on") or detail["disclosed_at"][:10],
                        "STATUS_REASON": "", "ACCESS_RESULT": "pending", "LAST_SENT": detail["disclosed_at"]}
                jobs.append((entry, mirrored, sent))
            else:
                done.append(entry.record_id)
        results = run_bounded(
            [lambda m=m, v=v: ctx.writer.update(REFERRALS_TABLE, m.ps_id, v) for _, m, v in jobs], workers)
        mirror_rows = []
        for (entry, mirrored, sent), (_, exc) in zip(jobs, results, strict=True):
            if exc is None:
                mirror_rows.append({**mirrored.row, **{k.lower(): v for k, v in sent.items()}})
                done.append(entry.record_id)
            elif isinstance(exc, NotFoundError):  # deleted on the page after it went out
                log.warning("sent referral no longer in PowerSchool", extra={"ssp_uid": mirrored.ssp_uid})
                ctx.state.delete_mirror("referrals", mirrored.ssp_uid)
                done.append(entry.record_id)
        if mirror_rows:
            ctx.state.upsert_mirror("referrals", mirror_rows)
        ctx.state.mark_recorded(partner_id, "referrals", done)
        _raise_first([(None, exc) for _, exc in results if not isinstance(exc, NotFoundError)])
    if entries:
        ctx.progress.done(partner_id, "referrals", f"{len(entries)} marked sent in PowerSchool")


def _hold(ctx: RunContext, row: dict[str, Any], reason: str, *, mirror: bool = True) -> None:
    """STATUS_REASON says why the referral row is not sent (written only when it changes)."""
    if (row.get("status_reason") or "") == reason:
        return
    ctx.writer.update(REFERRALS_TABLE, row["id"], {"STATUS_REASON": reason})
    if mirror:
        ctx.state.upsert_mirror("referrals", [{**row, "status_reason": reason}])


@dataclass(frozen=True)
class _Verdict:
    """What the policy says of one referral row on given data: hold (with reason) or send."""

    reason: str = ""
    code: str = ""
    record_id: str = ""
    partner_row: dict[str, str] | None = None
    detail: dict[str, Any] | None = None

    @property
    def send(self) -> bool:
        return self.partner_row is not None


def _evaluate(ctx: RunContext, feed: Feed, partner: Partner, row: dict[str, Any],
              consents: list[Consent], *, check_format: bool = True) -> _Verdict:
    """Decide one referral row on the student data and consents given (pure but for the
    partner mapping): the outbound row with only the allowed categories, or why not.
    `check_format`: also ask the feed whether it can write the record (a FHIR Bundle validated);
    skipped when the mirror only picks candidates, the snapshot's decision checks it."""
    decision = decide_outbound(partner_id=partner.id, mou=partner.mou, today=ctx.today,
                               student_dob=str(row.get("dob") or ""), consents=consents)
    if not decision.allowed:
        return _Verdict(decision.reason, decision.reason_code)
    consent = decision.consent
    assert consent is not None
    ends = consent_expires(consent, partner.mou)
    outbound = build_outbound_referral(
        row, categories=decision.categories, consent_id=consent.ssp_uid,
        consent_expires=ends.isoformat() if ends else "",
    )
    try:
        partner_row = feed.mapping.outbound_referral_row(outbound)
    except RecordError as exc:  # e.g. a district code the partner's mapping cannot translate
        return _Verdict(f"cannot be written in the partner's format: {exc.reason}"[:200], "partner_format")
    uid = str(row.get("ssp_uid") or "")
    detail = {
        "referral_uid": uid, "student_dcid": str(row.get("studentsdcid") or row.get("student_dcid") or ""),
        "student_number": str(row.get("student_number") or ""), "disclosed_at": ctx.stamp,
        "sent_on": ctx.today.isoformat(),
        "categories": sorted(decision.categories), "consent_uid": consent.ssp_uid,
        "purpose": consent.purpose or REFERRAL_PURPOSE, "run_id": ctx.run_id,
        # what the partner's record of the release needs (a FHIR Consent); no names, no document
        "consent": {
            "consent_id": consent.ssp_uid, "signer_type": consent.signer_type,
            "signed": _day(consent.signed_date or consent.starts),
            "effective": _day(consent.starts), "expires": ends.isoformat() if ends else "",
            "direction": consent.direction, "categories": sorted(consent.data_categories),
            "form_version": consent.form_version,
        },
    }
    check = getattr(feed, "referral_problem", None) if check_format else None
    problem = check(partner_row, detail) if check is not None else ""
    if problem:  # e.g. not a valid FHIR Bundle: held with the reason, nothing disclosed
        return _Verdict(f"cannot be written in the partner's format: {problem}"[:200], "partner_format")
    return _Verdict(record_id=f"{uid}:{record_hash(outbound.as_row())[:16]}", partner_row=partner_row,
                    detail=detail)


def _day(day: Any) -> str:
    return day.isoformat() if day else ""


def _mirrored_consents(ctx: RunContext, partner: Partner) -> dict[str, list[Consent]]:
    """The partner's consents in the mirror, by student DCID (unreadable ones skipped)."""
    found: dict[str, list[Consent]] = {}
    for mirrored in ctx.state.mirror_rows("consents", partner_id=partner.id):
        try:
            found.setdefault(mirrored.student_dcid, []).append(Consent.from_row(mirrored.row))
        except RecordError:
            continue
    return found


def _unchanged_hold(ctx: RunContext, partner: Partner, row: dict[str, Any], verdict: _Verdict) -> bool:
    """On the mirror's data the referral stays held for the reason its row already shows (or it
    is the record already sent unchanged): nothing it could be sent on changed in the streams."""
    reason = str(row.get("status_reason") or "")
    if not verdict.send:
        return verdict.reason == reason
    sent = ctx.state.get_outbound(partner.id, "referrals", verdict.record_id)
    return sent is not None and reason.startswith("already sent unchanged")


def _recheck_key(partner_id: str) -> str:
    """The state entry holding the district day of the partner's last daily recheck."""
    return f"held_recheck:{partner_id}"


def _daily_recheck_due(ctx: RunContext, partner: Partner) -> bool:
    """Whether this is the partner's first run of the district day: then every held referral is
    read again, since a STUDENTS change (a corrected date of birth, a new guardian) reaches no
    stream and could otherwise leave a referral held for good."""
    return ctx.state.get_watermark(_recheck_key(partner.id)) != ctx.today.isoformat()


def _candidates(ctx: RunContext, feed: Feed, partner: Partner) -> dict[str, str]:
    """Referral SSP_UIDs to read on a snapshot -> student DCID. The mirror narrows the work:
    a pending referral whose mirrored data says it may go, or whose hold reason would change,
    and any SSP_UID the stream saw on two rows; at the first run of each day, every pending
    referral. The decision itself is the snapshot's."""
    stats = ctx.summary.partner(partner.id)
    consents = _mirrored_consents(ctx, partner)
    found: dict[str, str] = {}
    recheck = _daily_recheck_due(ctx, partner)
    for mirrored in ctx.state.pending_referrals(partner.id):
        if recheck:
            found[mirrored.ssp_uid] = mirrored.student_dcid
            continue
        verdict = _evaluate(ctx, feed, partner, mirrored.row, consents.get(mirrored.student_dcid, []),
                            check_format=False)
        if not _unchanged_hold(ctx, partner, mirrored.row, verdict):
            found[mirrored.ssp_uid] = mirrored.student_dcid
        elif verdict.send:  # still held as the record already sent (counted as before)
            stats.duplicates_skipped += 1
        else:
            stats.referrals_held[verdict.code] += 1
    for uid in ctx.suspect_referrals:
        mirrored = ctx.state.get("referrals", uid)
        if mirrored is not None and mirrored.partner_id == partner.id:
            found.setdefault(uid, mirrored.student_dcid)
    return found


def _snapshots(ctx: RunContext, partner: Partner, candidates: dict[str, str]) -> dict[str, ReferralSnapshot]:
    """Read the candidates' snapshots, batched so each batch's rows fit one page (one row per
    referral and consent, the consents counted from the mirror)."""
    consents = Counter(m.student_dcid for m in ctx.state.mirror_rows("consents", partner_id=partner.id))
    return read_referrals(ctx, candidates, weight=lambda uid: max(1, consents[candidates.get(uid, "")]))


def _hold_duplicates(ctx: RunContext, partner: Partner, snap: ReferralSnapshot) -> None:
    """Two rows carry one SSP_UID (a copy on the page, an import): neither is sent, both say
    which other row shares the id, until staff delete or correct the copy."""
    stats = ctx.summary.partner(partner.id)
    ids = [str(r.get("id")) for r in snap.rows]
    log.warning("referral SSP_UID on more than one row: held", extra={"ssp_uid": snap.uid, "rows": len(ids)})
    for row in snap.rows:
        others = ", ".join(i for i in ids if i != str(row.get("id")))
        stats.referrals_held["duplicate_referral_id"] += 1
        _hold(ctx, row, f"duplicate: referral row ID {others} has the same SSP_UID; delete or correct "
                        "the copy on the page"[:200], mirror=False)


def _pending(row: dict[str, Any], partner: Partner) -> bool:
    status = str(row.get("status") or "").strip().lower()
    return status in ("", "new") and str(row.get("partner_id") or "").strip() == partner.id


def _plan_referrals(
    ctx: RunContext, feed: Feed, partner: Partner
) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """Decide every candidate on its fresh snapshot; hold the ones that may not go, return the rest."""
    stats = ctx.summary.partner(partner.id)
    planned = []
    snapshots = _snapshots(ctx, partner, _candidates(ctx, feed, partner))
    # what staff see now, for the reports too (one transaction for the batch)
    fresh_rows = [s.row for s in snapshots.values() if s.row is not None]
    if fresh_rows:
        ctx.state.upsert_mirror("referrals", fresh_rows)
    for number, (uid, snap) in enumerate(snapshots.items(), start=1):
        ctx.check_stop()
        ctx.progress.update(partner.id, "referrals checked (consent, MOU, student, on the page)",
                            number, len(snapshots))
        if not snap.rows:  # deleted on the page: nothing to send
            log.warning("row deleted in PowerSchool: forgotten", extra={"table": REFERRALS_TABLE, "ssp_uid": uid})
            ctx.state.delete_mirror("referrals", uid)
            continue
        if snap.duplicated:
            _hold_duplicates(ctx, partner, snap)
            continue
        row = snap.row
        assert row is not None
        if not _pending(row, partner):  # sent, closed or moved to another partner meanwhile
            continue
        verdict = _evaluate(ctx, feed, partner, row, snap.consents_of(row))
        if not verdict.send:
            stats.referrals_held[verdict.code] += 1
            _hold(ctx, row, verdict.reason)
            continue
        assert verdict.partner_row is not None and verdict.detail is not None
        planned.append((verdict.record_id, verdict.partner_row, verdict.detail))
    if not ctx.dry_run:  # every pending referral has now been decided on a fresh snapshot
        ctx.state.set_watermark(_recheck_key(partner.id), ctx.today.isoformat(), monotonic=False)
    return planned


def _hold_already_sent(ctx: RunContext, uid: str, entry: OutboundEntry) -> None:
    """Staff set a referral back to `new` without changing it: the same record never goes out
    twice (SPEC 5), so say why it stays `new` rather than leave it without a reason."""
    mirrored = ctx.state.get("referrals", uid)
    if mirrored is not None:
        day = (entry.written_at or entry.planned_at)[:10]
        _hold(ctx, {**mirrored.row, "id": mirrored.ps_id},
              f"already sent unchanged on {day}: change the referral to send it again")


def hold_unconfigured_partners(ctx: RunContext) -> None:
    """A referral to a partner not in ssp.toml (a typo, or a partner removed) can never be sent:
    say so in STATUS_REASON instead of leaving it `new` without a reason (SPEC 5)."""
    configured = {p.id for p in ctx.config.partners}
    for mirrored in ctx.state.pending_referrals():
        if mirrored.partner_id in configured:
            continue
        ctx.check_stop()
        ctx.summary.referrals_held_unknown_partner += 1
        _hold(ctx, {**mirrored.row, "id": mirrored.ps_id},
              "partner is not configured in ssp.toml [[partners]]: not sent")


def send_referrals(ctx: RunContext, feed: Feed, partner: Partner) -> None:
    stats = ctx.summary.partner(partner.id)
    candidates = _plan_referrals(ctx, feed, partner)
    fresh = []
    for rid, row, detail in candidates:
        sent_before = ctx.state.get_outbound(partner.id, "referrals", rid)
        if sent_before is None:
            fresh.append((rid, row, detail))
        else:
            stats.duplicates_skipped += 1
            _hold_already_sent(ctx, detail["referral_uid"], sent_before)
    held = sum(stats.referrals_held.values())
    if not fresh:
        if candidates or held:
            ctx.progress.done(partner.id, "referrals", f"none new to send ({held} held)")
        return
    if ctx.dry_run:
        stats.referrals_sent += len(fresh)
        stats.disclosures_recorded += len(fresh)
        ctx.progress.done(partner.id, "referrals", f"{len(fresh)} would be sent ({held} held)")
        return
    name = feed.outbound_name("referrals", ctx.run_id)
    # Write-ahead: the plan, the rows and the local disclosure entries are durable BEFORE the
    # file can be seen or the POST is made; a crash from here on never loses the disclosure.
    items = [(rid, record_hash(row), json.dumps({**detail, "row": row, "n": n}, sort_keys=True))
             for n, (rid, row, detail) in enumerate(fresh)]
    disclosures = [_disclosure(ctx, partner.id, rid, detail) for rid, _, detail in fresh]
    ctx.state.plan_publishing(partner.id, "referrals", items, file_name=name, run_id=ctx.run_id,
                              disclosures=disclosures)
    try:
        _write(feed, "referrals", ctx.run_id, [row for _, row, _ in fresh], [d for _, _, d in fresh])
    except PublishRefused:  # the partner holds nothing of it: decided again next run
        ctx.state.withdraw_publishing(partner.id, name, [d.ssp_uid for d in disclosures])
        raise
    ctx.state.mark_written(partner.id, name)
    stats.referrals_sent += len(fresh)
    stats.disclosures_recorded += len(disclosures)
    ctx.progress.done(partner.id, "referrals", f"{len(fresh)} sent in {name}")
    _record_sent(ctx, partner.id, ctx.state.outbound_entries(partner.id, state="written", kind="referrals"))


def send_revocations(ctx: RunContext, feed: Feed, partner: Partner) -> None:
    """A revoked consent stops future disclosures; the partner is told for each referral it got."""
    stats = ctx.summary.partner(partner.id)
    consents = []
    for mirrored in ctx.state.mirror_rows("consents", partner_id=partner.id):
        try:
            consents.append(Consent.from_row(mirrored.row))
        except RecordError:
            continue
    due = revocations_due(consents, ctx.state.sent_under_consents(partner.id), today=ctx.today)
    fresh = []
    for item in due:
        record_id = f"{item.referral_id}:{item.consent.ssp_uid}"
        if ctx.state.get_outbound(partner.id, "revocations", record_id) is None:
            revoked = item.consent.revoked_date.isoformat() if item.consent.revoked_date else ""
            rev = Revocation(referral_id=item.referral_id, partner_id=partner.id,
                             consent_id=item.consent.ssp_uid, revoked_date=revoked)
            fresh.append((record_id, feed.mapping.outbound_revocation_row(rev)))
    if not fresh:
        return
    stats.revocations_sent += len(fresh)
    if ctx.dry_run:
        return
    name = feed.outbound_name("revocations", ctx.run_id)
    ctx.state.plan_outbound(partner.id, "revocations", [(rid, record_hash(row)) for rid, row in fresh],
                            file_name=name, run_id=ctx.run_id)
    feed.write_outbound("revocations", ctx.run_id, [row for _, row in fresh])
    ctx.state.mark_written(partner.id, name)
    ctx.state.mark_recorded(partner.id, "revocations", [rid for rid, _ in fresh])
    ctx.progress.done(partner.id, "revocations", f"{len(fresh)} sent in {name}")


def _disclosure_values(disclosure: Disclosure) -> dict[str, str]:
    return {
        "STUDENTSDCID": disclosure.student_dcid, "SSP_UID": disclosure.ssp_uid,
        "DISCLOSED_AT": disclosure.disclosed_at, "PARTNER_ID": disclosure.partner_id,
        "DIRECTION": disclosure.direction, "DATA_CATEGORIES": ",".join(disclosure.data_categories),
        "PURPOSE": disclosure.purpose[:200], "LEGAL_BASIS": disclosure.legal_basis[:80],
        "REFERRAL_UID": disclosure.referral_uid, "RUN_ID": disclosure.run_id,
    }


def push_disclosures(ctx: RunContext) -> None:
    """Copy local 99.32 entries into U_SSP_DISCLOSURES (kept with the student's record), with
    bounded concurrency: every entry of a chunk is marked push-started in one transaction before
    its POSTs, and the ones that landed are marked pushed before any failure goes up."""
    if ctx.dry_run:
        return
    waiting = ctx.state.unpushed_disclosures()
    workers = ctx.config.powerschool.max_workers
    for start in range(0, len(waiting), CHUNK):
        ctx.check_stop()
        chunk = waiting[start:start + CHUNK]
        ctx.progress.update("powerschool", "disclosures recorded", start + len(chunk), len(waiting))
        ctx.state.begin_pushes([d.ssp_uid for d in chunk if not d.push_started])

        def push(disclosure: Disclosure) -> str:
            existing = None
            if disclosure.push_started:  # a crash may have left it in PowerSchool already
                existing = ctx.client.find_id(DISCLOSURES_TABLE, ("SSP_UID", disclosure.ssp_uid))
            if existing is None:
                existing = ctx.writer.insert(DISCLOSURES_TABLE, _disclosure_values(disclosure),
                                             natural_key=("SSP_UID", disclosure.ssp_uid))
            return str(existing or "")

        results = run_bounded([lambda d=d: push(d) for d in chunk], workers)
        ctx.state.mark_pushed_all([(d.ssp_uid, ps_id or "") for d, (ps_id, exc) in zip(chunk, results, strict=True)
                                   if exc is None])
        _raise_first(results)
    if waiting:
        ctx.progress.done("powerschool", "disclosures", f"{len(waiting)} recorded in U_SSP_DISCLOSURES")

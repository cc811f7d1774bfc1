"""School -> partner: referrals and revocation notices, each disclosure recorded (34 CFR 99.32).

Per partner and file, a two-phase protocol keeps the outbox and PowerSchool consistent across
crashes (connector/state/__init__.py explains the ledger side):

  1. reconcile plans a crashed run left behind (file found: written; not found: plan again);
  2. finish records written but not yet reflected in PowerSchool (idempotent PUTs);
  3. decide each pending referral with the consent policy at the moment of sending; held ones
     get STATUS_REASON; allowed ones are planned (with the disclosure they make), the file is
     written atomically, the ledger marks them written together with the local disclosures;
  4. PowerSchool: STATUS=sent, LAST_SENT, U_SSP_DISCLOSURES rows; then the ledger says recorded.

A record's ledger id is the referral's SSP_UID plus a hash of what is sent, so the same content is
never written to the outbox twice, while a referral staff changed (and set back to `new`) is sent
again as a new record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from connector.context import RunContext
from connector.feeds.base import Feed
from connector.outbound import build_outbound_referral, record_hash, stable_uid
from connector.policy import Consent, decide_outbound, parse_ps_date, revocations_due
from connector.records import Revocation
from connector.state import Disclosure, OutboundEntry
from foundation.config import Partner
from foundation.errors import NotFoundError, RecordError

__all__ = ["send_referrals", "hold_unconfigured_partners", "send_revocations", "push_disclosures", "reconcile_partner", "consents_for"]

log = logging.getLogger("ssp.send")
REFERRALS_TABLE = "U_SSP_REFERRALS"
CONSENTS_TABLE = "U_SSP_CONSENTS"
DISCLOSURES_TABLE = "U_SSP_DISCLOSURES"
REFERRAL_PURPOSE = "Referral for school-linked behavioral health services"


def consents_for(ctx: RunContext, student_dcid: str, partner_id: str) -> list[Consent]:
    """The student's consents for the partner, from the mirror; unreadable ones are skipped."""
    found = []
    for mirrored in ctx.state.mirror_rows("consents", student_dcid=student_dcid, partner_id=partner_id):
        try:
            found.append(Consent.from_row(mirrored.row))
        except RecordError as exc:
            log.warning("consent unreadable, ignored", extra={"ssp_uid": mirrored.ssp_uid, "reason": exc.reason})
    return found


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


def reconcile_partner(ctx: RunContext, feed: Feed, partner_id: str) -> None:
    """Settle files a crashed run planned, then finish what was written but not recorded."""
    if ctx.dry_run:
        return
    written, discarded = ctx.state.reconcile_outbound(
        partner_id, feed.outbound_exists, lambda entries: _disclosures_of(ctx, partner_id, entries)
    )
    for name in written + discarded:
        log.info("outbound plan reconciled", extra={"partner": partner_id, "file": name,
                                                    "outcome": "written" if name in written else "discarded"})
    pending = ctx.state.outbound_entries(partner_id, state="written")
    _record_sent(ctx, partner_id, [e for e in pending if e.kind == "referrals"])
    ctx.state.mark_recorded(partner_id, "revocations", [e.record_id for e in pending if e.kind == "revocations"])


def _record_sent(ctx: RunContext, partner_id: str, entries: list[OutboundEntry]) -> None:
    """Step 4: PowerSchool reflects the send; then the ledger says recorded."""
    for number, entry in enumerate(entries, start=1):
        ctx.check_stop()
        ctx.progress.update(partner_id, "referrals marked sent in PowerSchool", number, len(entries))
        detail = json.loads(entry.detail_json)
        mirrored = ctx.state.get("referrals", detail["referral_uid"])
        if mirrored is not None and mirrored.status in ("", "new"):
            # STATUS_DATE is a district-local date (LAST_SENT is UTC); ACCESS_RESULT is pending
            # until the partner reports service or its refusal (SPEC 5).
            sent = {"STATUS": "sent", "STATUS_DATE": detail.get("sent_on") or detail["disclosed_at"][:10],
                    "STATUS_REASON": "", "ACCESS_RESULT": "pending", "LAST_SENT": detail["disclosed_at"]}
            try:
                ctx.writer.update(REFERRALS_TABLE, mirrored.ps_id, sent)
                ctx.state.upsert_mirror("referrals", [{**mirrored.row, **{k.lower(): v for k, v in sent.items()}}])
            except NotFoundError:  # deleted on the page after it went out: nothing left to mark
                log.warning("sent referral no longer in PowerSchool", extra={"ssp_uid": mirrored.ssp_uid})
                ctx.state.delete_mirror("referrals", mirrored.ssp_uid)
        ctx.state.mark_recorded(partner_id, "referrals", [entry.record_id])
    if entries:
        ctx.progress.done(partner_id, "referrals", f"{len(entries)} marked sent in PowerSchool")


def _hold(ctx: RunContext, mirrored: Any, reason: str) -> None:
    if (mirrored.row.get("status_reason") or "") == reason:
        return
    ctx.writer.update(REFERRALS_TABLE, mirrored.ps_id, {"STATUS_REASON": reason})
    if not ctx.dry_run:
        ctx.state.upsert_mirror("referrals", [{**mirrored.row, "status_reason": reason}])


def _still_in_powerschool(ctx: RunContext, kind: str, table: str, uid: str, seen: dict[str, bool]) -> bool:
    """Is the mirrored row still in PowerSchool? A row deleted on the page leaves no trace in the
    incremental streams, so check before disclosing on its strength; forget it if it is gone."""
    if uid in seen:
        return seen[uid]
    mirrored = ctx.state.get(kind, uid)
    try:
        found = mirrored is not None and \
            str(ctx.client.get_row(table, mirrored.ps_id, projection="ssp_uid").get("ssp_uid") or "") == uid
    except NotFoundError:
        found = False
    if not found:
        log.warning("row deleted in PowerSchool: forgotten", extra={"table": table, "ssp_uid": uid})
        ctx.state.delete_mirror(kind, uid)
    seen[uid] = found
    return found


def _decide(ctx: RunContext, partner: Partner, mirrored: Any, dob: Any, seen: dict[str, bool]) -> Any:
    """The policy's decision on current consents (a consent deleted on the page does not count)."""
    while True:
        decision = decide_outbound(partner_id=partner.id, mou=partner.mou, today=ctx.today, student_dob=dob,
                                   consents=consents_for(ctx, mirrored.student_dcid, partner.id))
        if not decision.allowed or _still_in_powerschool(
                ctx, "consents", CONSENTS_TABLE, decision.consent.ssp_uid, seen):
            return decision


def _plan_referrals(
    ctx: RunContext, feed: Feed, partner: Partner
) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """Decide every pending referral now; hold the ones that may not go, return the rest."""
    stats = ctx.summary.partner(partner.id)
    planned = []
    seen: dict[str, bool] = {}
    pending = ctx.state.pending_referrals(partner.id)
    for number, mirrored in enumerate(pending, start=1):
        ctx.check_stop()
        ctx.progress.update(partner.id, "referrals checked (consent, MOU, still on the page)",
                            number, len(pending))
        row = mirrored.row
        try:
            dob = parse_ps_date(row.get("dob"))
        except ValueError:
            dob = None
        decision = _decide(ctx, partner, mirrored, dob, seen)
        if decision.allowed and not _still_in_powerschool(ctx, "referrals", REFERRALS_TABLE, mirrored.ssp_uid, seen):
            continue  # deleted on the page: nothing to send
        if not decision.allowed:
            stats.referrals_held[decision.reason_code] += 1
            _hold(ctx, mirrored, decision.reason)
            continue
        consent = decision.consent
        assert consent is not None
        outbound = build_outbound_referral(
            row, categories=decision.categories, consent_id=consent.ssp_uid,
            consent_expires=consent.expiration_date.isoformat() if consent.expiration_date else "",
        )
        try:
            partner_row = feed.mapping.outbound_referral_row(outbound)
        except RecordError as exc:  # e.g. a district code the partner's mapping cannot translate
            stats.referrals_held["partner_format"] += 1
            _hold(ctx, mirrored, f"cannot be written in the partner's format: {exc.reason}"[:200])
            continue
        record_id = f"{mirrored.ssp_uid}:{record_hash(outbound.as_row())[:16]}"
        detail = {
            "referral_uid": mirrored.ssp_uid, "student_dcid": mirrored.student_dcid,
            "student_number": str(row.get("student_number") or ""), "disclosed_at": ctx.stamp,
            "sent_on": ctx.today.isoformat(),
            "categories": sorted(decision.categories), "consent_uid": consent.ssp_uid,
            "purpose": consent.purpose or REFERRAL_PURPOSE, "run_id": ctx.run_id,
        }
        planned.append((record_id, partner_row, detail))
    return planned


def _hold_already_sent(ctx: RunContext, uid: str, entry: OutboundEntry) -> None:
    """Staff set a referral back to `new` without changing it: the same record never goes out
    twice (SPEC 5), so say why it stays `new` rather than leave it without a reason."""
    mirrored = ctx.state.get("referrals", uid)
    if mirrored is not None:
        day = (entry.written_at or entry.planned_at)[:10]
        _hold(ctx, mirrored, f"already sent unchanged on {day}: change the referral to send it again")


def hold_unconfigured_partners(ctx: RunContext) -> None:
    """A referral to a partner not in ssp.toml (a typo, or a partner removed) can never be sent:
    say so in STATUS_REASON instead of leaving it `new` without a reason (SPEC 5)."""
    configured = {p.id for p in ctx.config.partners}
    for mirrored in ctx.state.pending_referrals():
        if mirrored.partner_id in configured:
            continue
        ctx.check_stop()
        ctx.summary.referrals_held_unknown_partner += 1
        _hold(ctx, mirrored, "partner is not configured in ssp.toml [[partners]]: not sent")


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
    items = [(rid, record_hash(row), json.dumps(detail, sort_keys=True)) for rid, row, detail in fresh]
    ctx.state.plan_outbound(partner.id, "referrals", items, file_name=name, run_id=ctx.run_id)
    feed.write_outbound("referrals", ctx.run_id, [row for _, row, _ in fresh])
    disclosures = [_disclosure(ctx, partner.id, rid, detail) for rid, _, detail in fresh]
    ctx.state.mark_written(partner.id, name, disclosures=disclosures)
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


def push_disclosures(ctx: RunContext) -> None:
    """Copy local 99.32 entries into U_SSP_DISCLOSURES (kept with the student's record)."""
    if ctx.dry_run:
        return
    unpushed = ctx.state.unpushed_disclosures()
    for number, disclosure in enumerate(unpushed, start=1):
        ctx.check_stop()
        ctx.progress.update("powerschool", "disclosures recorded", number, len(unpushed))
        values = {
            "STUDENTSDCID": disclosure.student_dcid, "SSP_UID": disclosure.ssp_uid,
            "DISCLOSED_AT": disclosure.disclosed_at, "PARTNER_ID": disclosure.partner_id,
            "DIRECTION": disclosure.direction, "DATA_CATEGORIES": ",".join(disclosure.data_categories),
            "PURPOSE": disclosure.purpose[:200], "LEGAL_BASIS": disclosure.legal_basis[:80],
            "REFERRAL_UID": disclosure.referral_uid, "RUN_ID": disclosure.run_id,
        }
        existing = None
        if disclosure.push_started:  # a crash may have left it in PowerSchool already
            existing = ctx.client.find_id(DISCLOSURES_TABLE, ("SSP_UID", disclosure.ssp_uid))
        if existing is None:
            ctx.state.begin_push(disclosure.ssp_uid)
            existing = ctx.writer.insert(DISCLOSURES_TABLE, values, natural_key=("SSP_UID", disclosure.ssp_uid))
        ctx.state.mark_pushed(disclosure.ssp_uid, str(existing or ""))
    if unpushed:
        ctx.progress.done("powerschool", "disclosures", f"{len(unpushed)} recorded in U_SSP_DISCLOSURES")

"""Reading PowerSchool: the partner directory and the incremental consent, referral and visit streams.

Each stream is read with the connector's `changed_since` PowerQuery from its watermark minus a
lookback window, and mirrored into the state store together with the new watermark in one
transaction, so the watermark never passes a row that is not durably mirrored. The mirror is the
engine's work queue: later phases read it, not PowerSchool.

The mirror is keyed by SSP_UID, so a referral SSP_UID read on a second row (a copy on the page, an
import) is noted in `ctx.suspect_referrals`: the send phase reads it on a snapshot, which shows
every row carrying it, and holds them all.

The watermark is the newest WHENMODIFIED seen or, if later, a signpost: when the read started on
the district's clock (metadata `district_timezone`) less `SIGNPOST_MARGIN`. A row this read did
not see was committed after it started, so it cannot be older than the signpost minus the lookback
unless the connector's clock runs more than the margin ahead of PowerSchool's. Without it, rows
sharing a timestamp near the newest one (a bulk import, or the connector's own 10,000 status
updates) were re-read on every run until something newer was modified (docs/performance.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.context import RunContext
from connector.outbound import stable_uid
from connector.state import since_for
from foundation.errors import PowerSchoolError
from foundation.logs import SHOWN_BY_PROGRESS

__all__ = ["sync_partner_directory", "pull_streams", "STREAMS"]

log = logging.getLogger("ssp.pull")

# stream/mirror kind -> (PowerQuery area, extension table)
STREAMS: dict[str, tuple[str, str]] = {
    "consents": ("consents", "U_SSP_CONSENTS"),
    "referrals": ("referrals", "U_SSP_REFERRALS"),
    "visits": ("visits", "U_SSP_VISITS"),
}
PARTNERS_TABLE = "U_SSP_PARTNERS"
SIGNPOST_MARGIN = dt.timedelta(hours=1)
"""How far the connector's clock may run ahead of PowerSchool's without a row being missed."""


def _directory_row(ctx: RunContext, partner: Any) -> dict[str, str]:
    return {
        "SSP_UID": stable_uid("partner", partner.id),
        "PARTNER_ID": partner.id,
        "NAME": partner.name,
        "SERVICES": partner.services,
        "MOU_EFFECTIVE": partner.mou.effective.isoformat(),
        "MOU_EXPIRES": partner.mou.expires.isoformat(),
        "ACTIVE": "1" if partner.mou.in_force(ctx.today) else "0",
    }


def _same(wanted: dict[str, str], have: dict[str, Any]) -> bool:
    def norm(key: str, value: Any) -> str:
        text = "" if value is None else str(value).strip()
        if key == "ACTIVE":
            return "1" if text.lower() in ("1", "true", "yes") else "0"
        return text[:10] if key.startswith("MOU_") else text

    return all(norm(k, v) == norm(k, have.get(k.lower())) for k, v in wanted.items())


def sync_partner_directory(ctx: RunContext) -> None:
    """Keep U_SSP_PARTNERS in step with [[partners]]: insert, update, deactivate removed ones."""
    rows = ctx.client.table_rows(PARTNERS_TABLE, projection="*")
    by_partner = {str(r.get("partner_id") or ""): r for r in rows}
    configured = set()
    for partner in ctx.config.partners:
        configured.add(partner.id)
        wanted = _directory_row(ctx, partner)
        have = by_partner.get(partner.id)
        if have is None:
            ctx.writer.insert(PARTNERS_TABLE, wanted, natural_key=("SSP_UID", wanted["SSP_UID"]))
        elif not _same(wanted, have):
            ctx.writer.update(PARTNERS_TABLE, have["id"], wanted)
    for partner_id, have in by_partner.items():
        if partner_id not in configured and str(have.get("active") or "") not in ("", "0"):
            ctx.writer.update(PARTNERS_TABLE, have["id"], {"ACTIVE": "0"})


def _complete_row(ctx: RunContext, kind: str, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """Give a row staff created without the page's script its SSP_UID (and a referral its
    STATUS `new`), in PowerSchool and in the mirrored copy."""
    fixes: dict[str, str] = {}
    if not str(row.get("ssp_uid") or "").strip():
        fixes["SSP_UID"] = stable_uid(kind, str(row.get("id")))
    if kind == "referrals" and not str(row.get("status") or "").strip():
        fixes["STATUS"] = "new"
    if fixes:
        ctx.writer.update(table, row["id"], fixes)
        row = {**row, **{k.lower(): v for k, v in fixes.items()}}
    return row


def _signpost(ctx: RunContext) -> str:
    """Now on the district's clock less the margin; "" when PowerSchool does not say its zone."""
    metadata = getattr(ctx.client, "metadata", None)
    try:
        zone = ZoneInfo(str((metadata() if metadata else {}).get("district_timezone") or ""))
    except (PowerSchoolError, ZoneInfoNotFoundError, ValueError):
        return ""
    return (dt.datetime.now(zone) - SIGNPOST_MARGIN).strftime("%Y-%m-%d %H:%M:%S")


def _note_second_row(ctx: RunContext, known: dict[str, str], row: dict[str, Any]) -> None:
    """An SSP_UID mirrored (or read just now) under another row ID may be on two rows."""
    uid, ps_id = str(row.get("ssp_uid") or ""), str(row.get("id") or "")
    if uid and known.get(uid, ps_id) != ps_id:
        ctx.suspect_referrals.add(uid)
    known[uid] = ps_id


def pull_streams(ctx: RunContext) -> None:
    for kind, (area, table) in STREAMS.items():
        ctx.check_stop()
        query = ctx.query(area)
        since = since_for(ctx.state.get_watermark(kind), ctx.lookback)
        rows: list[dict[str, Any]] = []
        known = ctx.state.mirror_ids(kind) if kind == "referrals" else {}
        newest = _signpost(ctx)  # taken before the read: only rows it may miss are newer
        for row in ctx.client.iter_query(query.name, {"since": since}):
            row = _complete_row(ctx, kind, table, row)
            rows.append(row)
            if kind == "referrals":
                _note_second_row(ctx, known, row)
            newest = max(newest, str(row.get("whenmodified") or ""))
            if len(rows) % 500 == 0:
                ctx.progress.update("powerschool", kind, len(rows))
        changes = ctx.state.upsert_mirror(kind, rows, watermark=(kind, newest) if newest else None)
        ctx.summary.streams[kind] = len(rows)
        ctx.progress.done("powerschool", kind, f"{len(rows)} read, {len(changes.touched)} new or changed")
        for ps_id, reason in changes.rejected:
            log.warning("row not mirrored", extra={"table": table, "id": ps_id, "reason": reason})
        log.info("stream read", extra={"stream": kind, "since": since, "rows": len(rows),
                                       "new": len(changes.new), "changed": len(changes.changed),
                                       SHOWN_BY_PROGRESS: True})

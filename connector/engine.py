"""One sync run: read PowerSchool, then per partner apply what came in and send what may go out.

    run = SyncRun(config, client, state, feeds)
    summary = run.execute(partner_filter=None)

Phases, in order: the partner directory; the consent, referral and visit streams (mirrored with
their watermarks); then for each partner, under its lock: settle what a crashed run left, apply
inbound status updates and visits, send referrals the policy allows (holding the others with a
reason), send revocation notices; finally copy the disclosure record into PowerSchool.

A dry run does all the reading and deciding against a throw-away copy of the state database with
every write to PowerSchool, the feeds and the archive switched off, so it changes nothing and
its summary says what a real run would do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

from connector.context import RunContext, StopRequested
from connector.feeds.base import Feed
from connector.inbound import apply_inbound
from connector.locks import partner_lock
from connector.progress import Progress
from connector.pull import pull_streams, sync_partner_directory
from connector.send import (
    hold_unconfigured_partners,
    push_disclosures,
    reconcile_partner,
    send_referrals,
    send_revocations,
)
from connector.state import DB_FILENAME, StateStore
from connector.summary import RunSummary
from connector.writer import PowerSchoolWriter
from foundation.config import SSPConfig
from foundation.errors import RunError, SSPError

__all__ = ["SyncRun", "dry_run_state"]

log = logging.getLogger("ssp.engine")


def _utc_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def dry_run_state(state_dir: Path) -> Iterator[StateStore]:
    """A private copy of the state database for a dry run (the real one is only read)."""
    with tempfile.TemporaryDirectory(prefix="ssp-dry-run-") as tmp:
        copy = Path(tmp) / DB_FILENAME
        source = state_dir / DB_FILENAME
        if source.exists():
            with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
                    contextlib.closing(sqlite3.connect(copy)) as dst:
                src.backup(dst)
        with StateStore.open(copy) as store:
            yield store


class SyncRun:
    def __init__(
        self,
        config: SSPConfig,
        client,  # connector.client.PowerSchoolClient
        state: StateStore,
        feeds: Mapping[str, Feed],
        *,
        dry_run: bool = False,
        stop: threading.Event | None = None,
        progress: Progress | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        moment = now or dt.datetime.now(dt.timezone.utc)
        self.ctx = RunContext(
            config=config,
            catalogue=config.catalogue(),
            client=client,
            state=state,
            writer=PowerSchoolWriter(client, dry_run=dry_run),
            run_id=str(uuid.uuid4()),
            today=moment.astimezone(ZoneInfo(config.schedule.timezone)).date(),
            now_utc=moment.astimezone(dt.timezone.utc),
            summary=RunSummary(run_id="", started_at=_utc_stamp(moment), dry_run=dry_run),
            dry_run=dry_run,
            stop=stop or threading.Event(),
            progress=progress or Progress(),
        )
        self.ctx.summary.run_id = self.ctx.run_id
        self.feeds = feeds

    def execute(self, partner_filter: str | None = None) -> RunSummary:
        ctx = self.ctx
        partners = [p for p in ctx.config.partners if partner_filter in (None, p.id)]
        if partner_filter is not None and not partners:
            ctx.config.partner(partner_filter)  # raises ConfigError naming the known partners
        for partner in partners:
            ctx.summary.partner(partner.id)  # every partner synced appears, even with zero counts
        ctx.state.start_run(ctx.run_id, ctx.summary.started_at, dry_run=ctx.dry_run, partner_filter=partner_filter)
        log.info("sync started", extra={"run_id": ctx.run_id, "dry_run": ctx.dry_run, "partners": [p.id for p in partners]})
        try:
            sync_partner_directory(ctx)
            pull_streams(ctx)
            for partner in partners:
                self._partner(partner)
            if partner_filter is None:
                hold_unconfigured_partners(ctx)
            push_disclosures(ctx)
        except StopRequested as exc:
            self._finish("stopped", str(exc))
            return ctx.summary
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM in `ssp sync run`: record it, then stop
            self._finish("interrupted", "interrupted (Ctrl-C or SIGTERM); a rerun resumes safely")
            raise
        except SSPError as exc:
            self._finish("failed", str(exc))
            raise
        except Exception as exc:  # a bug: record the run as failed, then let it surface
            self._finish("failed", f"internal error: {exc.__class__.__name__}")
            raise
        self._finish("ok")
        return ctx.summary

    def _partner(self, partner) -> None:  # noqa: ANN001 - foundation.config.Partner
        ctx = self.ctx
        feed = self.feeds[partner.id]
        before = ctx.client.request_count
        lock = contextlib.nullcontext() if ctx.dry_run else partner_lock(ctx.config.state_dir, partner.id)
        with lock:
            reconcile_partner(ctx, feed, partner.id)
            apply_inbound(ctx, feed, partner)
            send_referrals(ctx, feed, partner)
            send_revocations(ctx, feed, partner)
        ctx.summary.partner(partner.id).http_requests += ctx.client.request_count - before

    def _finish(self, status: str, error: str = "") -> None:
        ctx = self.ctx
        summary = ctx.summary
        summary.status, summary.error = status, error
        summary.finished_at = _utc_stamp(dt.datetime.now(dt.timezone.utc))
        summary.powerschool_http_requests = ctx.client.request_count
        try:
            ctx.state.finish_run(ctx.run_id, summary.finished_at, status, summary.as_dict())  # type: ignore[arg-type]
        except RunError:
            log.exception("could not record the end of the run")
        log.info("sync finished", extra={"run_id": ctx.run_id, "status": status})

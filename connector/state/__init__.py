"""The connector's local state: one SQLite database under `[state] dir` (`config.state_dir`).

Modules: `db` (opening, permissions, migrations, transactions), `records` (the row types),
`store` (runs, watermarks, mirrors and the assembled `StateStore`), `ledgers` (outbound,
disclosures, inbound).

WAL mode, `synchronous=FULL`, a busy timeout so two processes (two partners synced at once) wait
for each other instead of failing, owner-only permissions (dir 0700, file 0600; skipped on
Windows), and a `schema_version` table with forward-only migrations. Every write method is one
transaction (BEGIN IMMEDIATE ... COMMIT).

The database holds student data (mirrored PowerSchool rows, the disclosure record): keep it in the
state dir, never in logs.

Crash safety: state never runs ahead of the effect it records. How each method is ordered with
the effect it records:

* runs          `start_run` before any effect, `finish_run` after the last one. A run records
                its host and process (`liveness`): one left `running` whose process is gone was
                killed, and shows (and is marked, at the next `start_run`) as `interrupted`.
* watermarks    read rows from `since_for(get_watermark(s), lookback)`, then
                `upsert_mirror(kind, rows, watermark=(s, max_whenmodified))`: the rows and the new
                watermark commit together, so the watermark never passes rows not yet mirrored.
                The mirror is the durable work queue (e.g. `pending_referrals()`), so work found
                in one run and not finished is picked up by the next without re-reading.
* outbound      a write-ahead protocol per outbox file, the record ids keyed by (partner, kind,
                record id), file names deterministic (`referrals_<run_id>.csv`, or the HTTP
                feed's Idempotency-Key `<run_id>-referrals`):
                  1. `plan_publishing(..., disclosures=...)` BEFORE the file can be seen or the
                     POST is made: the records (state `publishing`, with the rows to write) and
                     the local 99.32 entries in one transaction. From here on they count as
                     disclosed;
                  2. write temp file, fsync, atomic rename into the outbox (or POST);
                  3. `mark_written(partner, file)` AFTER the rename (state `written`);
                  4. write PowerSchool (STATUS=sent, LAST_SENT, the disclosure rows), then
                     `mark_recorded(...)` (state `recorded`).
                On the next run, before planning anything, `reconcile_outbound(partner, exists,
                republish=...)` settles what a crash left: a `publishing` file is never
                discarded (the partner may have collected it): found, it is marked written; not
                found, `republish` writes it again under the same name (same rows) and it is
                marked written. A partner that refused it outright (HTTP 4xx) holds nothing:
                `withdraw_publishing` forgets the plan and its unpushed entries. Revocation
                notices use the older two-phase form (`plan_outbound`, state `planned`): a
                planned file found was written; a missing one never was (the plan is discarded
                and planned again). `plan_outbound`/`plan_publishing` refuse while a partner has
                unsettled plans. Records `written` but not `recorded` still need step 4, which
                is idempotent (PUT of the same values). A record already in the ledger is never
                planned again, so it is never written to the outbox twice by a new plan.
* disclosures   `add_disclosure` is idempotent on SSP_UID (derive it deterministically).
                Pushing to PowerSchool: `begin_push(uid)`, POST, `mark_pushed(uid, ps_id)`. An
                entry with `push_started` but not `pushed` may or may not exist in PowerSchool:
                look it up by SSP_UID before posting again.
* inbound       `begin_inbound_file` (keyed by content hash; a `done` file is never processed
                again), then for each row: the effect in PowerSchool (or the quarantine row) FIRST,
                then `record_inbound_row`; finally `finish_inbound_file`, then archive the file.
                After a crash mid-file, rows already recorded are skipped; a row whose effect
                landed but was not recorded is re-applied, which the status machine reports as a
                duplicate and `find_visit` catches for visits (refresh the mirror first).
"""

from __future__ import annotations

from connector.state.db import DB_FILENAME, MIGRATIONS
from connector.state.records import (
    TIMESTAMP_FORMAT,
    Disclosure,
    InboundFile,
    InboundRow,
    MirrorChanges,
    MirrorRow,
    OutboundEntry,
    PlanResult,
    RunRecord,
    content_hash,
    since_for,
)
from connector.state.store import MIRROR_KINDS, StateStore

__all__ = [
    "StateStore",
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
    "DB_FILENAME",
    "MIGRATIONS",
    "MIRROR_KINDS",
    "TIMESTAMP_FORMAT",
]

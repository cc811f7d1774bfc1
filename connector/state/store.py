"""`StateStore`: runs, watermarks and PowerSchool mirrors, plus the ledgers of `ledgers`."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from connector.state.ledgers import InboundLedger, OutboundLedger
from connector.state.liveness import process_alive, this_process
from connector.state.records import MirrorChanges, MirrorRow, RunRecord, content_hash
from foundation.errors import RunError

__all__ = ["StateStore", "MIRROR_KINDS"]

MIRROR_KINDS = ("referrals", "consents", "visits")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


RUN_END_STATUSES = ("ok", "failed", "stopped", "interrupted")


def _shown_status(status: str, host: str, pid: int | None, started: str) -> str:
    """`running` only while the run's process is there: a killed run shows as `interrupted`."""
    if status == "running" and process_alive(host, pid, started) is False:
        return "interrupted"
    return status


class StateStore(OutboundLedger, InboundLedger):
    """The state database. Open with `StateStore.open(path)` or `StateStore.open_dir(state_dir)`."""

    # ------------------------------------------------------------ runs

    def start_run(
        self, run_id: str, started_at: str, *, dry_run: bool, partner_filter: str | None = None
    ) -> None:
        """Record the run with the process running it (see `liveness`); runs left `running` by
        a process that is gone are marked `interrupted` first."""
        host, pid, process_started = this_process()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise RunError(f"run {run_id} was already started")
            self._settle_dead_runs(db)
            db.execute(
                "INSERT INTO runs (run_id, started_at, dry_run, partner_filter, host, pid, "
                "process_started) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, started_at, int(dry_run), partner_filter, host, pid, process_started),
            )

    @staticmethod
    def _settle_dead_runs(db: sqlite3.Connection) -> None:
        rows = db.execute(
            "SELECT run_id, host, pid, process_started FROM runs WHERE status = 'running'"
        ).fetchall()
        for run_id, host, pid, started in rows:
            if process_alive(host, pid, started) is False:
                db.execute("UPDATE runs SET status = 'interrupted' WHERE run_id = ?", (run_id,))

    def finish_run(
        self,
        run_id: str,
        finished_at: str,
        status: Literal["ok", "failed", "stopped", "interrupted"],
        summary: str | Mapping[str, Any],
    ) -> None:
        if status not in RUN_END_STATUSES:
            raise ValueError(f"run status must be ok, failed, stopped or interrupted, not {status!r}")
        text = summary if isinstance(summary, str) else json.dumps(summary, sort_keys=True)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary_json = ? WHERE run_id = ?",
                (finished_at, status, text, run_id),
            )
            if cur.rowcount != 1:
                raise RunError(f"run {run_id} was never started")

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        rows = self._db.execute(
            "SELECT run_id, started_at, finished_at, dry_run, partner_filter, status, summary_json, "
            "host, pid, process_started "
            "FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?",  # same second: last started first
            (limit,),
        ).fetchall()
        return [
            RunRecord(r[0], r[1], r[2], bool(r[3]), r[4], _shown_status(r[5], r[7], r[8], r[9]),
                      json.loads(r[6]) if r[6] else None, host=r[7], pid=r[8])
            for r in rows
        ]

    # ------------------------------------------------------------ watermarks

    def get_watermark(self, stream: str) -> str | None:
        row = self._db.execute(
            "SELECT value FROM watermarks WHERE stream = ?", (stream,)
        ).fetchone()
        return row[0] if row else None

    def set_watermark(self, stream: str, value: str, *, monotonic: bool = True) -> str:
        """Store the watermark; a timestamp one never moves back. Returns the stored value."""
        with self._tx() as db:
            return self._set_watermark(db, stream, value, monotonic)

    def _set_watermark(
        self, db: sqlite3.Connection, stream: str, value: str, monotonic: bool
    ) -> str:
        if monotonic and not _TIMESTAMP.match(value):
            raise ValueError(f"watermark for {stream} must be 'YYYY-MM-DD HH:MM:SS', not {value!r}")
        if not value:
            raise ValueError(f"empty watermark for {stream}")
        old = db.execute("SELECT value FROM watermarks WHERE stream = ?", (stream,)).fetchone()
        if monotonic and old is not None and old[0] >= value:
            return str(old[0])
        db.execute(
            "INSERT INTO watermarks (stream, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (stream) DO UPDATE "
            "SET value = excluded.value, updated_at = excluded.updated_at",
            (stream, value, self._now()),
        )
        return value

    # ------------------------------------------------------------ mirrors

    def upsert_mirror(
        self,
        kind: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        watermark: tuple[str, str] | None = None,
    ) -> MirrorChanges:
        """Mirror PowerSchool rows by SSP_UID and say which are new or changed (by content hash).

        `watermark=(stream, value)` advances that watermark in the same transaction.
        """
        if kind not in MIRROR_KINDS:
            raise ValueError(f"unknown mirror kind {kind!r}")
        seen: dict[str, str] = {}
        rejected: list[tuple[str, str]] = []
        with self._tx() as db:
            for row in rows:
                uid = str(row.get("ssp_uid") or "").strip()
                if not uid:
                    rejected.append((str(row.get("id") or ""), "row has no SSP_UID"))
                    continue
                verdict = self._upsert_one(db, kind, uid, row)
                if seen.get(uid, "unchanged") == "unchanged":  # a repeated row keeps its first news
                    seen[uid] = verdict
            if watermark is not None:
                self._set_watermark(db, watermark[0], watermark[1], True)
        by = {
            v: tuple(u for u, s in seen.items() if s == v) for v in ("new", "changed", "unchanged")
        }
        return MirrorChanges(by["new"], by["changed"], by["unchanged"], tuple(rejected))

    def _upsert_one(
        self, db: sqlite3.Connection, kind: str, uid: str, row: Mapping[str, Any]
    ) -> str:
        digest = content_hash(row)
        old = db.execute(
            "SELECT content_hash FROM mirrors WHERE kind = ? AND ssp_uid = ?", (kind, uid)
        ).fetchone()
        if old is not None and old[0] == digest:
            return "unchanged"
        partner = str(row.get("partner_id") or "")
        if kind == "visits":
            source = str(row.get("source") or "")
            partner = source.split(":", 1)[1] if source.startswith("partner:") else ""
        values = (
            kind,
            uid,
            str(row.get("id") or ""),
            str(row.get("studentsdcid") or row.get("student_dcid") or ""),
            partner.strip(),
            str(row.get("status") or "").strip().lower() if kind == "referrals" else "",
            str(row.get("partner_visit_id") or "").strip(),
            str(row.get("whenmodified") or ""),
            digest,
            json.dumps(dict(row), sort_keys=True, ensure_ascii=False, default=str),
            self._now(),
        )
        db.execute(
            "INSERT OR REPLACE INTO mirrors "
            "(kind, ssp_uid, ps_id, student_dcid, partner_id, status, "
            "partner_visit_id, whenmodified, content_hash, row_json, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        return "new" if old is None else "changed"

    _MIRROR_COLUMNS = (
        "kind, ssp_uid, ps_id, student_dcid, partner_id, status, partner_visit_id, "
        "whenmodified, content_hash, row_json"
    )

    def _mirror_rows(self, where: str, args: Sequence[Any]) -> list[MirrorRow]:
        rows = self._db.execute(
            f"SELECT {self._MIRROR_COLUMNS} FROM mirrors WHERE {where} "
            "ORDER BY whenmodified, ssp_uid",
            args,
        ).fetchall()
        keys = [k.strip() for k in self._MIRROR_COLUMNS.split(",")]
        found = []
        for row in rows:
            values = dict(zip(keys, row, strict=True))
            values["row"] = json.loads(values.pop("row_json"))
            found.append(MirrorRow(**values))
        return found

    def get(self, kind: str, ssp_uid: str) -> MirrorRow | None:
        found = self._mirror_rows("kind = ? AND ssp_uid = ?", (kind, ssp_uid))
        return found[0] if found else None

    def mirror_rows(
        self, kind: str, *, student_dcid: str | None = None, partner_id: str | None = None
    ) -> list[MirrorRow]:
        """Mirrored rows of a kind, optionally for one student and/or one partner."""
        where, args = ["kind = ?"], [kind]
        if student_dcid is not None:
            where.append("student_dcid = ?")
            args.append(student_dcid)
        if partner_id is not None:
            where.append("partner_id = ?")
            args.append(partner_id)
        return self._mirror_rows(" AND ".join(where), args)

    def mirror_ids(self, kind: str) -> dict[str, str]:
        """SSP_UID -> PowerSchool row ID of every mirrored row of a kind."""
        rows = self._db.execute(
            "SELECT ssp_uid, ps_id FROM mirrors WHERE kind = ?", (kind,)
        ).fetchall()
        return {str(uid): str(ps_id) for uid, ps_id in rows}

    def pending_referrals(self, partner_id: str | None = None) -> list[MirrorRow]:
        """Referrals with STATUS new and a partner: to be sent, or held again with a reason."""
        if partner_id is None:
            return self._mirror_rows(
                "kind = 'referrals' AND status = 'new' AND partner_id != ''", ()
            )
        return self._mirror_rows(
            "kind = 'referrals' AND status = 'new' AND partner_id = ?", (partner_id,)
        )

    def find_visit(self, partner_id: str, partner_visit_id: str) -> MirrorRow | None:
        """The mirrored visit a partner already delivered under `partner_visit_id`, if any."""
        found = self._mirror_rows(
            "kind = 'visits' AND partner_id = ? AND partner_visit_id = ?",
            (partner_id, partner_visit_id),
        )
        return found[0] if found else None

    def delete_mirror(self, kind: str, ssp_uid: str) -> bool:
        """Forget a row deleted in PowerSchool (so it is not sent from a stale mirror)."""
        with self._tx() as db:
            return (
                db.execute(
                    "DELETE FROM mirrors WHERE kind = ? AND ssp_uid = ?", (kind, ssp_uid)
                ).rowcount
                == 1
            )

"""The ledgers: outbound records (two-phase), local disclosure entries, inbound files and rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from connector.state.db import Database
from connector.state.records import Disclosure, InboundFile, InboundRow, OutboundEntry, PlanResult
from foundation.errors import RunError

__all__ = ["OutboundLedger", "Disclosures", "InboundLedger"]

_ROW_COLUMNS = "partner_id, batch, row_number, natural_key, row_hash, outcome, detail, processed_at"


class Disclosures(Database):
    """Local 99.32 entries, and their push to U_SSP_DISCLOSURES."""

    _DISC_COLUMNS = (
        "ssp_uid, student_dcid, student_number, disclosed_at, partner_id, direction, "
        "data_categories, purpose, legal_basis, referral_uid, run_id, push_started, pushed, ps_id"
    )

    @staticmethod
    def _insert_disclosure(db: sqlite3.Connection, d: Disclosure) -> bool:
        return (
            db.execute(
                "INSERT OR IGNORE INTO disclosures (ssp_uid, student_dcid, student_number, "
                "disclosed_at, partner_id, "
                "direction, data_categories, purpose, legal_basis, referral_uid, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    d.ssp_uid,
                    d.student_dcid,
                    d.student_number,
                    d.disclosed_at,
                    d.partner_id,
                    d.direction,
                    ",".join(d.data_categories),
                    d.purpose,
                    d.legal_basis,
                    d.referral_uid,
                    d.run_id,
                ),
            ).rowcount
            == 1
        )

    def _disclosures(self, where: str, args: Sequence[Any]) -> list[Disclosure]:
        rows = self._db.execute(
            f"SELECT {self._DISC_COLUMNS} FROM disclosures WHERE {where} "
            "ORDER BY disclosed_at, ssp_uid",
            args,
        ).fetchall()
        keys = [k.strip() for k in self._DISC_COLUMNS.split(",")]
        found = []
        for row in rows:
            values = dict(zip(keys, row, strict=True))
            values["data_categories"] = tuple(c for c in values["data_categories"].split(",") if c)
            values["push_started"], values["pushed"] = (
                bool(values["push_started"]),
                bool(values["pushed"]),
            )
            found.append(Disclosure(**values))
        return found

    def add_disclosure(self, disclosure: Disclosure) -> bool:
        """Add a local 99.32 entry; False if one with that SSP_UID exists (the first one stays)."""
        with self._tx() as db:
            return self._insert_disclosure(db, disclosure)

    def disclosures_for_student(self, student_number: str) -> list[Disclosure]:
        return self._disclosures("student_number = ?", (student_number,))

    def unpushed_disclosures(self) -> list[Disclosure]:
        return self._disclosures("pushed = 0", ())

    def sent_under_consents(self, partner_id: str | None = None) -> dict[str, list[str]]:
        """consent SSP_UID -> referral ids sent under it (from `consent:<uid>` legal bases)."""
        where, args = "direction = 'to_partner' AND legal_basis LIKE 'consent:%'", []
        if partner_id is not None:
            where += " AND partner_id = ?"
            args.append(partner_id)
        out: dict[str, list[str]] = {}
        for d in self._disclosures(where, args):
            ids = out.setdefault(d.legal_basis.split(":", 1)[1], [])
            if d.referral_uid and d.referral_uid not in ids:
                ids.append(d.referral_uid)
        return out

    def begin_push(self, ssp_uid: str) -> None:
        """About to POST this entry to PowerSchool (so a crash leaves a trace to check)."""
        with self._tx() as db:
            db.execute("UPDATE disclosures SET push_started = 1 WHERE ssp_uid = ?", (ssp_uid,))

    def begin_pushes(self, ssp_uids: Iterable[str]) -> None:
        """`begin_push` for many entries in one transaction (before their concurrent POSTs)."""
        uids = list(ssp_uids)
        if not uids:
            return
        with self._tx() as db:
            db.executemany("UPDATE disclosures SET push_started = 1 WHERE ssp_uid = ?",
                           [(u,) for u in uids])

    def mark_pushed_all(self, pushed: Iterable[tuple[str, str]]) -> None:
        """`mark_pushed` for many (SSP_UID, PowerSchool id) pairs in one transaction."""
        items = list(pushed)
        if not items:
            return
        with self._tx() as db:
            for ssp_uid, ps_id in items:
                cur = db.execute(
                    "UPDATE disclosures SET push_started = 1, pushed = 1, ps_id = ? "
                    "WHERE ssp_uid = ?", (str(ps_id), ssp_uid))
                if cur.rowcount != 1:
                    raise RunError(f"no local disclosure {ssp_uid}")

    def mark_pushed(self, ssp_uid: str, ps_id: str) -> None:
        """The U_SSP_DISCLOSURES row exists in PowerSchool with id `ps_id`."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE disclosures SET push_started = 1, pushed = 1, ps_id = ? WHERE ssp_uid = ?",
                (str(ps_id), ssp_uid),
            )
            if cur.rowcount != 1:
                raise RunError(f"no local disclosure {ssp_uid}")


class OutboundLedger(Disclosures):
    """What was written to a partner's outbox, keyed by (partner, kind, record id)."""

    _OUT_COLUMNS = (
        "partner_id, kind, record_id, content_hash, state, file_name, run_id, planned_at, "
        "written_at, recorded_at, detail_json"
    )

    def _outbound(self, where: str, args: Sequence[Any]) -> list[OutboundEntry]:
        rows = self._db.execute(
            f"SELECT {self._OUT_COLUMNS} FROM outbound WHERE {where} "
            "ORDER BY partner_id, kind, record_id",
            args,
        ).fetchall()
        return [OutboundEntry(*r) for r in rows]

    def get_outbound(self, partner_id: str, kind: str, record_id: str) -> OutboundEntry | None:
        found = self._outbound(
            "partner_id = ? AND kind = ? AND record_id = ?", (partner_id, kind, record_id)
        )
        return found[0] if found else None

    def outbound_entries(
        self, partner_id: str, *, state: str | None = None, kind: str | None = None
    ) -> list[OutboundEntry]:
        where, args = ["partner_id = ?"], [partner_id]
        for column, value in (("state", state), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        return self._outbound(" AND ".join(where), args)

    def plan_outbound(
        self,
        partner_id: str,
        kind: str,
        items: Iterable[tuple[str, str] | tuple[str, str, str]],
        *,
        file_name: str,
        run_id: str,
    ) -> PlanResult:
        """Record the intent to write `items` ((record id, content hash[, detail json])) into
        `file_name`. The detail is kept with the entry for `reconcile_outbound`.

        Call BEFORE writing the file. Records already in the ledger are returned in `already` and
        must not be written again. Refuses while older plans of this partner are unsettled.
        """
        with self._tx() as db:
            return self._plan(db, partner_id, kind, items, file_name, run_id, state="planned")

    def plan_publishing(
        self,
        partner_id: str,
        kind: str,
        items: Iterable[tuple[str, str, str]],
        *,
        file_name: str,
        run_id: str,
        disclosures: Iterable[Disclosure],
    ) -> PlanResult:
        """Write-ahead: record `items` ((record id, content hash, detail json with the rows)) as
        `publishing` into `file_name`, and the local disclosure entries, in one transaction.

        Call BEFORE the file becomes visible or the POST is made. From here on the records
        count as disclosed: `reconcile_outbound` never discards a publishing plan, it writes the
        file again from the detail if the file is not found.
        """
        with self._tx() as db:
            result = self._plan(db, partner_id, kind, items, file_name, run_id, state="publishing")
            for disclosure in disclosures:
                self._insert_disclosure(db, disclosure)
        return result

    def _plan(
        self,
        db: sqlite3.Connection,
        partner_id: str,
        kind: str,
        items: Iterable[tuple[str, ...]],
        file_name: str,
        run_id: str,
        *,
        state: str,
    ) -> PlanResult:
        """Insert the ledger entries of a plan (`planned` or `publishing`) inside the caller's
        transaction; refuse while an older plan of this partner is unsettled."""
        stale = db.execute(
            "SELECT DISTINCT file_name FROM outbound "
            "WHERE partner_id = ? AND state IN ('planned', 'publishing') AND file_name != ?",
            (partner_id, file_name),
        ).fetchall()
        if stale:
            raise RunError(
                f"partner {partner_id}: outbound file {stale[0][0]} is still planned: "
                "reconcile first"
            )
        planned: list[str] = []
        already: dict[str, OutboundEntry] = {}
        for item in items:
            record_id, digest = item[0], item[1]
            detail = item[2] if len(item) > 2 else ""
            old = self.get_outbound(partner_id, kind, record_id)
            if old is not None:
                already[record_id] = old
                continue
            db.execute(
                "INSERT INTO outbound (partner_id, kind, record_id, content_hash, state, "
                "file_name, run_id, planned_at, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (partner_id, kind, record_id, digest, state, file_name, run_id, self._now(), detail),
            )
            planned.append(record_id)
        return PlanResult(tuple(planned), already)

    def mark_written(
        self, partner_id: str, file_name: str, *, disclosures: Iterable[Disclosure] = ()
    ) -> int:
        """The file is in the outbox (after the atomic rename): its records become `written`,
        and the local disclosure entries are added in the same transaction (a `publishing`
        plan has them already). Returns the count."""
        with self._tx() as db:
            count = db.execute(
                "UPDATE outbound SET state = 'written', written_at = ? "
                "WHERE partner_id = ? AND file_name = ? AND state IN ('planned', 'publishing')",
                (self._now(), partner_id, file_name),
            ).rowcount
            for disclosure in disclosures:
                self._insert_disclosure(db, disclosure)
        return count

    def mark_recorded(self, partner_id: str, kind: str, record_ids: Iterable[str]) -> int:
        """PowerSchool now reflects the send (STATUS, LAST_SENT, disclosure rows)."""
        with self._tx() as db:
            return sum(
                db.execute(
                    "UPDATE outbound SET state = 'recorded', recorded_at = ? "
                    "WHERE partner_id = ? AND kind = ? AND record_id = ? AND state = 'written'",
                    (self._now(), partner_id, kind, rid),
                ).rowcount
                for rid in record_ids
            )

    def withdraw_publishing(
        self, partner_id: str, file_name: str, disclosure_uids: Iterable[str]
    ) -> int:
        """The partner refused `file_name` outright (it holds nothing of it): forget the
        publishing plan and its local disclosure entries not yet pushed, in one transaction, so
        the records are decided again next run."""
        with self._tx() as db:
            count = db.execute(
                "DELETE FROM outbound WHERE partner_id = ? AND file_name = ? "
                "AND state = 'publishing'",
                (partner_id, file_name),
            ).rowcount
            db.executemany(
                "DELETE FROM disclosures WHERE ssp_uid = ? AND push_started = 0",
                [(uid,) for uid in disclosure_uids],
            )
        return count

    def planned_files(
        self, partner_id: str, state: str = "planned"
    ) -> dict[str, list[OutboundEntry]]:
        """Files whose write was planned (or, state `publishing`, begun) but never confirmed
        (a crash), with their records."""
        files: dict[str, list[OutboundEntry]] = {}
        for entry in self.outbound_entries(partner_id, state=state):
            files.setdefault(entry.file_name, []).append(entry)
        return files

    def discard_planned(self, partner_id: str, file_name: str) -> int:
        """The planned file never reached the outbox: forget the plan, so its records are
        planned again."""
        with self._tx() as db:
            return db.execute(
                "DELETE FROM outbound WHERE partner_id = ? AND file_name = ? AND state = 'planned'",
                (partner_id, file_name),
            ).rowcount

    def reconcile_outbound(
        self,
        partner_id: str,
        file_exists: Callable[[str], bool],
        disclosures_for: Callable[[list[OutboundEntry]], Iterable[Disclosure]] = lambda entries: (),
        *,
        republish: Callable[[str, list[OutboundEntry]], object] | None = None,
    ) -> tuple[list[str], list[str]]:
        """Settle plans left by a crash: (files found or written again and marked written,
        files discarded).

        A `publishing` plan may be in the partner's hands (the partner may have collected the
        file, or got the POST, before the crash): it is never discarded. If its file is not
        found, `republish(file_name, entries)` writes it again (same name, same rows)."""
        written: list[str] = []
        discarded: list[str] = []
        for file_name, entries in sorted(self.planned_files(partner_id, "publishing").items()):
            if not file_exists(file_name):
                if republish is None:
                    raise RunError(f"partner {partner_id}: {file_name} must be written again")
                republish(file_name, entries)
            self.mark_written(partner_id, file_name)
            written.append(file_name)
        for file_name, entries in sorted(self.planned_files(partner_id).items()):
            if file_exists(file_name):
                self.mark_written(partner_id, file_name, disclosures=disclosures_for(entries))
                written.append(file_name)
            else:
                self.discard_planned(partner_id, file_name)
                discarded.append(file_name)
        return written, discarded


class InboundLedger(Database):
    """Inbound files by content hash, and the rows of each already processed."""

    _FILE_COLUMNS = (
        "partner_id, sha256, file_name, state, started_at, processed_at, rows_applied, "
        "rows_quarantined"
    )

    def note_unexpected_file(
        self, partner_id: str, file_name: str, sha256: str, run_id: str
    ) -> bool:
        """Remember an inbox file no mapping pattern matches; True the first time this name
        with this content is seen (so it is reported once, not on every run)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO inbox_notices (partner_id, file_name, sha256, noticed_at, "
                "run_id) VALUES (?, ?, ?, ?, ?)",
                (partner_id, file_name, sha256, self._now(), run_id),
            )
            return cur.rowcount == 1

    def inbound_file(self, partner_id: str, sha256: str) -> InboundFile | None:
        row = self._db.execute(
            f"SELECT {self._FILE_COLUMNS} FROM inbound_files WHERE partner_id = ? AND sha256 = ?",
            (partner_id, sha256),
        ).fetchone()
        return InboundFile(*row) if row else None

    def begin_inbound_file(self, partner_id: str, file_name: str, sha256: str) -> InboundFile:
        """Register a file by content hash (or return the existing entry: check `.done`)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO inbound_files "
                "(partner_id, sha256, file_name, state, started_at) "
                "VALUES (?, ?, ?, 'processing', ?)",
                (partner_id, sha256, file_name, self._now()),
            )
        found = self.inbound_file(partner_id, sha256)
        assert found is not None
        return found

    def finish_inbound_file(
        self, partner_id: str, sha256: str, *, applied: int, quarantined: int
    ) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE inbound_files SET state = 'done', processed_at = ?, rows_applied = ?, "
                "rows_quarantined = ? "
                "WHERE partner_id = ? AND sha256 = ?",
                (self._now(), applied, quarantined, partner_id, sha256),
            )
            if cur.rowcount != 1:
                raise RunError(f"partner {partner_id}: inbound file {sha256[:12]} was never begun")

    def record_inbound_row(
        self,
        partner_id: str,
        batch: str,
        row_number: int,
        outcome: str,
        *,
        natural_key: str = "",
        row_hash: str = "",
        detail: str = "",
    ) -> bool:
        """Record a row's outcome AFTER its effect. False if already recorded (the first stays).

        `batch` is the file's sha256 (or an API page id); `natural_key` + `row_hash` let the
        engine recognise the same record arriving again in another batch.
        """
        with self._tx() as db:
            return (
                db.execute(
                    "INSERT OR IGNORE INTO inbound_rows "
                    "(partner_id, batch, row_number, natural_key, row_hash, "
                    "outcome, detail, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        partner_id,
                        batch,
                        row_number,
                        natural_key,
                        row_hash,
                        outcome,
                        detail,
                        self._now(),
                    ),
                ).rowcount
                == 1
            )

    def record_inbound_rows(
        self, partner_id: str, batch: str, outcomes: Iterable[tuple[int, str, str, str, str]]
    ) -> int:
        """Record many rows' outcomes in one transaction, AFTER their effects:
        (row number, outcome, natural key, row hash, detail). Rows already recorded are kept."""
        now = self._now()
        with self._tx() as db:
            return sum(
                db.execute(
                    "INSERT OR IGNORE INTO inbound_rows "
                    "(partner_id, batch, row_number, natural_key, row_hash, "
                    "outcome, detail, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (partner_id, batch, number, key, digest, outcome, detail, now),
                ).rowcount
                for number, outcome, key, digest, detail in outcomes
            )

    def inbound_rows(self, partner_id: str, batch: str) -> dict[int, InboundRow]:
        """Rows of a batch already processed, by row number (skip these after a crash)."""
        rows = self._db.execute(
            f"SELECT {_ROW_COLUMNS} "
            "FROM inbound_rows WHERE partner_id = ? AND batch = ? ORDER BY row_number",
            (partner_id, batch),
        ).fetchall()
        return {r[2]: InboundRow(*r) for r in rows}

    def find_inbound_record(
        self, partner_id: str, natural_key: str, row_hash: str
    ) -> InboundRow | None:
        """The first time this exact record (key and content) was processed, in any batch."""
        row = self._db.execute(
            f"SELECT {_ROW_COLUMNS} "
            "FROM inbound_rows WHERE partner_id = ? AND natural_key = ? AND row_hash = ? "
            "ORDER BY processed_at, batch, row_number LIMIT 1",
            (partner_id, natural_key, row_hash),
        ).fetchone()
        return InboundRow(*row) if row else None

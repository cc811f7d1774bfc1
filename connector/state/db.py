"""Opening the state database: owner-only files, WAL, busy timeout, migrations, transactions."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

from connector.state.records import TIMESTAMP_FORMAT
from foundation.errors import ConfigError, RunError

__all__ = ["Database", "DB_FILENAME", "MIGRATIONS"]

DB_FILENAME = "state.sqlite3"
_POSIX = os.name != "nt"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the first schema
        """CREATE TABLE runs (run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT,
            dry_run INTEGER NOT NULL, partner_filter TEXT, status TEXT NOT NULL DEFAULT 'running',
            summary_json TEXT)""",
        "CREATE INDEX runs_started ON runs (started_at)",
        """CREATE TABLE watermarks (stream TEXT PRIMARY KEY, value TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        """CREATE TABLE mirrors (kind TEXT NOT NULL, ssp_uid TEXT NOT NULL, ps_id TEXT NOT NULL,
            student_dcid TEXT NOT NULL, partner_id TEXT NOT NULL, status TEXT NOT NULL,
            partner_visit_id TEXT NOT NULL, whenmodified TEXT NOT NULL, content_hash TEXT NOT NULL,
            row_json TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (kind, ssp_uid))""",
        "CREATE INDEX mirrors_status ON mirrors (kind, status, partner_id)",
        "CREATE INDEX mirrors_student ON mirrors (kind, student_dcid)",
        "CREATE INDEX mirrors_visit ON mirrors (kind, partner_id, partner_visit_id)",
        """CREATE TABLE outbound (partner_id TEXT NOT NULL, kind TEXT NOT NULL,
            record_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('planned', 'written', 'recorded')),
            file_name TEXT NOT NULL, run_id TEXT NOT NULL, planned_at TEXT NOT NULL,
            written_at TEXT, recorded_at TEXT, PRIMARY KEY (partner_id, kind, record_id))""",
        "CREATE INDEX outbound_file ON outbound (partner_id, file_name, state)",
        """CREATE TABLE disclosures (ssp_uid TEXT PRIMARY KEY, student_dcid TEXT NOT NULL,
            student_number TEXT NOT NULL, disclosed_at TEXT NOT NULL, partner_id TEXT NOT NULL,
            direction TEXT NOT NULL, data_categories TEXT NOT NULL, purpose TEXT NOT NULL,
            legal_basis TEXT NOT NULL, referral_uid TEXT NOT NULL, run_id TEXT NOT NULL,
            push_started INTEGER NOT NULL DEFAULT 0, pushed INTEGER NOT NULL DEFAULT 0,
            ps_id TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX disclosures_student ON disclosures (student_number, disclosed_at)",
        "CREATE INDEX disclosures_pushed ON disclosures (pushed)",
        """CREATE TABLE inbound_files (partner_id TEXT NOT NULL, sha256 TEXT NOT NULL,
            file_name TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('processing', 'done')),
            started_at TEXT NOT NULL, processed_at TEXT, rows_applied INTEGER NOT NULL DEFAULT 0,
            rows_quarantined INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (partner_id, sha256))""",
        """CREATE TABLE inbound_rows (partner_id TEXT NOT NULL, batch TEXT NOT NULL,
            row_number INTEGER NOT NULL, natural_key TEXT NOT NULL, row_hash TEXT NOT NULL,
            outcome TEXT NOT NULL, detail TEXT NOT NULL, processed_at TEXT NOT NULL,
            PRIMARY KEY (partner_id, batch, row_number))""",
        "CREATE INDEX inbound_rows_key ON inbound_rows (partner_id, natural_key, row_hash)",
    ),
    (  # 2: what each planned record discloses, so a crash-reconciled file still gets its 99.32 entry
        "ALTER TABLE outbound ADD COLUMN detail_json TEXT NOT NULL DEFAULT ''",
    ),
    (  # 3: which process runs a run (a run whose process is gone is interrupted, not running);
        # the unexpected inbox files already reported, so each is reported once
        "ALTER TABLE runs ADD COLUMN host TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN pid INTEGER",
        "ALTER TABLE runs ADD COLUMN process_started TEXT NOT NULL DEFAULT ''",
        """CREATE TABLE inbox_notices (partner_id TEXT NOT NULL, file_name TEXT NOT NULL,
            sha256 TEXT NOT NULL, noticed_at TEXT NOT NULL, run_id TEXT NOT NULL,
            PRIMARY KEY (partner_id, file_name, sha256))""",
    ),
    (  # 4: write-ahead disclosure: a record is `publishing` before its file can be seen
        """CREATE TABLE outbound_v4 (partner_id TEXT NOT NULL, kind TEXT NOT NULL,
            record_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('planned', 'publishing', 'written', 'recorded')),
            file_name TEXT NOT NULL, run_id TEXT NOT NULL, planned_at TEXT NOT NULL,
            written_at TEXT, recorded_at TEXT, detail_json TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (partner_id, kind, record_id))""",
        """INSERT INTO outbound_v4 (partner_id, kind, record_id, content_hash, state, file_name,
            run_id, planned_at, written_at, recorded_at, detail_json)
            SELECT partner_id, kind, record_id, content_hash, state, file_name, run_id,
            planned_at, written_at, recorded_at, detail_json FROM outbound""",
        "DROP TABLE outbound",
        "ALTER TABLE outbound_v4 RENAME TO outbound",
        "CREATE INDEX outbound_file ON outbound (partner_id, file_name, state)",
    ),
)
"""Forward migrations: entry N-1 takes the schema from version N-1 to N. Only ever append."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _secure_dir(directory: Path, *, tighten: bool) -> None:
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _POSIX and (created or tighten):
            os.chmod(directory, 0o700)
    except OSError as exc:  # a read-only mount, ProtectSystem=strict, another owner
        raise ConfigError(
            f"the state dir {directory} cannot be {'created' if created else 'used'} "
            f"({exc.strerror or exc.__class__.__name__}): create it for the account the sync "
            "runs as (install -d -m 700 -o ssp <dir>), or set [state] dir in ssp.toml to an "
            "absolute path it may write; `ssp check` checks this before a run"
        ) from None


def _secure_file(path: Path) -> None:
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if _POSIX:
        os.chmod(path, 0o600)


class Database:
    """A connection to the state database; `StateStore` adds the tables' methods."""

    def __init__(
        self, db: sqlite3.Connection, path: Path, clock: Callable[[], dt.datetime]
    ) -> None:
        self._db = db
        self.path = path
        self._clock = clock

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        path: Path | str,
        *,
        busy_timeout: float = 30.0,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> Iterator[Self]:
        """Open (creating and migrating) the database file at `path`; closed on exit."""
        path = Path(path)
        _secure_dir(path.parent, tighten=False)
        store = cls._connect(path, busy_timeout, clock)
        try:
            yield store
        finally:
            store.close()

    @classmethod
    def open_dir(
        cls, state_dir: Path | str, **kwargs: Any
    ) -> contextlib.AbstractContextManager[Self]:
        """Open `<state_dir>/state.sqlite3`; the state dir itself is made owner-only."""
        state_dir = Path(state_dir)
        _secure_dir(state_dir, tighten=True)
        return cls.open(state_dir / DB_FILENAME, **kwargs)

    @classmethod
    def _connect(cls, path: Path, busy_timeout: float, clock: Callable[[], dt.datetime]) -> Self:
        try:
            _secure_file(path)
        except OSError as exc:
            raise ConfigError(
                f"the state database {path} cannot be opened for writing "
                f"({exc.strerror or exc.__class__.__name__}): the account the sync runs as "
                "must own the state dir and everything in it"
            ) from None
        db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        store = cls(db, path, clock)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            store._migrate()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise RunError(f"state database {path}: {exc}") from None
        except BaseException:
            db.close()
            raise
        return store

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self.schema_version
            if current > len(MIGRATIONS):
                raise RunError(
                    f"state database {self.path} has schema version {current}, newer than this ssp "
                    f"understands ({len(MIGRATIONS)}): upgrade ssp"
                )
            for statements in MIGRATIONS[current:]:
                for statement in statements:
                    db.execute(statement)
            if current == 0:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))
            else:
                db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock is taken up front so it never deadlocks midway."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise RunError(
                f"state database {self.path} is busy ({exc}): another ssp process holds it"
            ) from None
        try:
            yield self._db
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise RunError(f"state database {self.path}: {exc}") from exc
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _now(self) -> str:
        return self._clock().astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)

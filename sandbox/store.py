"""The sandbox's database: SQLite standing in for PowerSchool's Oracle schema.

One connection guarded by one lock serves every request thread (SQLite serialises writes anyway,
and the lock keeps a write and its read-back atomic). Extension tables get the columns PowerSchool
adds itself: ID, the parent link (`STUDENTSDCID`) for child and one-to-one tables, and the tracking
columns WHOCREATED, WHENCREATED, WHOMODIFIED, WHENMODIFIED. Writes are validated per field.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.install import InstallError, TableDef
from sandbox.oracle import register_oracle_functions
from sandbox.values import ColumnType, FieldProblem, to_db

__all__ = ["Store", "TableSchema", "ValidationFailed", "TRACKING", "extension_schema", "now_text"]

TRACKING = ("WHOCREATED", "WHENCREATED", "WHOMODIFIED", "WHENMODIFIED")
DEEP_OFFSET = 2000
"""Offset from which a table page is read by key range (OFFSET cost 7 ms at row 99,900)."""
_KEY_COLUMN = "SANDBOX_ORDERED_KEY"
_KEY_LISTS = 4  # cached ordered key lists (one per concurrent deep read)


@dataclass(frozen=True)
class TableSchema:
    """A table as the API sees it. `key` addresses a row in `/ws/schema/table/{t}/{key}`."""

    name: str
    kind: str  # core | child | standalone | one_to_one
    key: str
    columns: dict[str, ColumnType]
    parent: str | None = None
    parent_column: str | None = None
    system: frozenset[str] = field(default_factory=frozenset)
    group: str = ""  # the extension group (`<extensionname>`), e.g. U_SSP
    comment: str = ""

    @property
    def extension(self) -> bool:
        return self.kind != "core"

    @property
    def user_columns(self) -> tuple[str, ...]:
        """Columns a write may set (everything PowerSchool does not maintain itself)."""
        return tuple(c for c in self.columns if c not in self.system)


def extension_schema(table: TableDef) -> TableSchema:
    """The full column set PowerSchool creates for an extension table definition."""
    cols: dict[str, ColumnType] = {"ID": ColumnType("ID", "Integer")}
    system = {"ID", *TRACKING}
    if table.parent_column:
        cols[table.parent_column] = ColumnType(table.parent_column, "Integer")
    for f in table.fields:
        cols[f.name] = ColumnType(f.name, f.type, f.length)
    for name in TRACKING:
        kind = "Timestamp" if name.startswith("WHEN") else "String"
        cols[name] = ColumnType(name, kind, 100 if kind == "String" else None)
    return TableSchema(
        table.name,
        table.kind,
        "ID",
        cols,
        table.parent,
        table.parent_column,
        frozenset(system),
        group=table.group,
        comment=table.comment,
    )


class ValidationFailed(ValueError):
    """A write PowerSchool would refuse: `problems` are (field, error_code, description)."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{f}: {d}" for f, _, d in problems))


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        if path:
            self.conn.execute("PRAGMA journal_mode=WAL")
        register_oracle_functions(self.conn)
        self.conn.execute("CREATE TABLE IF NOT EXISTS SANDBOX_META (K TEXT PRIMARY KEY, V TEXT)")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS SANDBOX_COLUMNS "
            "(T TEXT, C TEXT, TYPE TEXT, LEN INTEGER, PRIMARY KEY (T, C))"
        )
        self.schemas: dict[str, TableSchema] = {}
        self.version = 0
        """Bumped by every committed write: cached PowerQuery results older than it are stale."""
        self._keys: dict[tuple[str, str, str, str], str] = {}
        self._keys_version = 0
        self._key_names = itertools.count(1)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            self.version += 1

    def read(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        with self.lock:
            cur = self.conn.execute(sql, params)
            rows = cur.fetchall()
            return [d[0] for d in cur.description or ()], rows

    # -- metadata ----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        with self.lock:
            row = self.conn.execute("SELECT V FROM SANDBOX_META WHERE K = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO SANDBOX_META (K, V) VALUES (?, ?)", (key, value)
            )

    # -- schema ------------------------------------------------------------------------------

    def define(self, schema: TableSchema) -> None:
        """Create the table, or upgrade it: add new columns, grow String lengths, never shrink."""
        with self.transaction() as conn:
            known = {
                c: (t, n)
                for c, t, n in conn.execute(
                    "SELECT C, TYPE, LEN FROM SANDBOX_COLUMNS WHERE T = ?", (schema.name,)
                )
            }
            for col in schema.columns.values():
                _check_upgrade(schema.name, col, known.get(col.name))
            existing = {r[1].upper() for r in conn.execute(f'PRAGMA table_info("{schema.name}")')}
            if not existing:
                conn.execute(_create_sql(schema))
            for col in schema.columns.values():
                if existing and col.name not in existing:
                    conn.execute(
                        f'ALTER TABLE "{schema.name}" ADD COLUMN "{col.name}" {col.sqlite_type}'
                    )
                conn.execute(
                    "INSERT OR REPLACE INTO SANDBOX_COLUMNS VALUES (?, ?, ?, ?)",
                    (schema.name, col.name, col.type, col.length),
                )
            if schema.parent_column:
                conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{schema.name}_PARENT" '
                    f'ON "{schema.name}" ("{schema.parent_column}")'
                )
            if "WHENMODIFIED" in schema.columns:
                conn.execute(
                    f'CREATE INDEX IF NOT EXISTS "{schema.name}_WHENMOD" '
                    f'ON "{schema.name}" (WHENMODIFIED, ID)'
                )
        self.schemas[schema.name] = schema

    def schema(self, name: str) -> TableSchema | None:
        return self.schemas.get(name.upper())

    # -- writes ------------------------------------------------------------------------------

    def validate(self, schema: TableSchema, values: Mapping[str, Any]) -> dict[str, Any]:
        """Convert written values to stored ones; collect every problem before refusing."""
        out: dict[str, Any] = {}
        problems: list[tuple[str, str, str]] = []
        for raw_name, raw in values.items():
            name = raw_name.upper()
            col = schema.columns.get(name)
            if col is None:
                problems.append((raw_name, "FIELD_VALIDATION_ERROR", "no such field in the table"))
            elif name in schema.system:
                problems.append(
                    (raw_name, "FIELD_VALIDATION_ERROR", "maintained by PowerSchool, read-only")
                )
            else:
                try:
                    out[name] = to_db(col, raw)
                except FieldProblem as exc:
                    problems.append((raw_name, exc.code, exc.description))
        if problems:
            raise ValidationFailed(problems)
        return out

    def insert(self, schema: TableSchema, values: Mapping[str, Any], *, who: str, when: str) -> int:
        return self.insert_many(schema, [values], who=who, when=when)[0]

    def insert_many(
        self, schema: TableSchema, rows: Iterable[Mapping[str, Any]], *, who: str, when: str
    ) -> list[int]:
        """Insert validated rows in one transaction; the parent row must exist (a foreign key)."""
        prepared = [self.validate(schema, r) for r in rows]
        ids: list[int] = []
        statements: dict[tuple[str, ...], str] = {}
        parents_seen: set[Any] = set()
        with self.transaction() as conn:
            for row in prepared:
                if (
                    row.get(schema.parent_column or "") not in parents_seen
                    or schema.kind == "one_to_one"
                ):
                    self._check_parent(schema, row, insert=True)
                    parents_seen.add(row.get(schema.parent_column or ""))
                row.update(WHOCREATED=who, WHENCREATED=when, WHOMODIFIED=who, WHENMODIFIED=when)
                columns = tuple(row)
                sql = statements.get(columns)
                if sql is None:
                    names = ", ".join(f'"{c}"' for c in columns)
                    marks = ", ".join("?" for _ in columns)
                    sql = statements[columns] = (
                        f'INSERT INTO "{schema.name}" ({names}) VALUES ({marks})'
                    )
                ids.append(int(conn.execute(sql, list(row.values())).lastrowid or 0))
        return ids

    def update(
        self, schema: TableSchema, key: int, values: Mapping[str, Any], *, who: str, when: str
    ) -> bool:
        row = self.validate(schema, values)
        with self.transaction() as conn:
            if self._get(schema, key) is None:
                return False
            self._check_parent(schema, row, insert=False)
            if schema.extension:
                row.update(WHOMODIFIED=who, WHENMODIFIED=when)
            if row:
                sets = ", ".join(f'"{c}" = ?' for c in row)
                conn.execute(
                    f'UPDATE "{schema.name}" SET {sets} WHERE "{schema.key}" = ?',
                    [*row.values(), key],
                )
        return True

    def delete(self, schema: TableSchema, key: int) -> bool:
        with self.transaction() as conn:
            cur = conn.execute(f'DELETE FROM "{schema.name}" WHERE "{schema.key}" = ?', (key,))
            return cur.rowcount > 0

    def _check_parent(self, schema: TableSchema, row: dict[str, Any], *, insert: bool) -> None:
        col = schema.parent_column
        if not col or (not insert and col not in row):
            return
        value = row.get(col)
        parent = self.schema(schema.parent or "")
        if value is None:
            raise ValidationFailed([(col.lower(), "REQUIRED", "the parent record is required")])
        if parent is not None:
            link = "DCID" if "DCID" in parent.columns else parent.key
            found = self.conn.execute(
                f'SELECT 1 FROM "{parent.name}" WHERE "{link}" = ?', (value,)
            ).fetchone()
            if not found:
                raise ValidationFailed(
                    [
                        (
                            col.lower(),
                            "FIELD_VALIDATION_ERROR",
                            f"no {parent.name} record with {link} {value}",
                        )
                    ]
                )
        if schema.kind == "one_to_one" and insert:
            taken = self.conn.execute(
                f'SELECT 1 FROM "{schema.name}" WHERE "{col}" = ?', (value,)
            ).fetchone()
            if taken:
                raise ValidationFailed(
                    [
                        (
                            col.lower(),
                            "FIELD_VALIDATION_ERROR",
                            "a one-to-one extension row already exists for it",
                        )
                    ]
                )

    # -- reads -------------------------------------------------------------------------------

    def _get(self, schema: TableSchema, key: int) -> dict[str, Any] | None:
        cur = self.conn.execute(f'SELECT * FROM "{schema.name}" WHERE "{schema.key}" = ?', (key,))
        row = cur.fetchone()
        if row is None:
            return None
        return {d[0].upper(): v for d, v in zip(cur.description, row, strict=True)}

    def get(self, schema: TableSchema, key: int) -> dict[str, Any] | None:
        with self.lock:
            return self._get(schema, key)

    def select(
        self,
        schema: TableSchema,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        order: str = "",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows as {UPPER-case column: stored value}."""
        names, rows = self.select_raw(
            "*", schema, where, params, order=order, limit=limit, offset=offset
        )
        upper = [n.upper() for n in names]
        return [dict(zip(upper, r, strict=True)) for r in rows]

    def select_raw(
        self,
        columns: str,
        schema: TableSchema,
        where: str = "",
        params: Sequence[Any] = (),
        *,
        order: str = "",
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """`SELECT columns FROM table [WHERE] ORDER BY [LIMIT/OFFSET]`: the one paged read.

        LIMIT and OFFSET are bound, so every page of a read reuses one compiled statement (the
        row-rendering SQL takes about a millisecond to compile). OFFSET walks every skipped row,
        so pages from `DEEP_OFFSET` on are read through a cached list of the ordered keys instead.
        """
        order = order or f'"{schema.key}"'
        if limit is not None and offset >= DEEP_OFFSET:
            return self._select_deep(columns, schema, where, params, order, limit, offset)
        sql = f'SELECT {columns} FROM "{schema.name}"'
        if where:
            sql += f" WHERE {where}"
        sql += " ORDER BY " + order
        args = list(params)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [int(limit), int(offset)]
        return self.read(sql, args)

    def _select_deep(
        self,
        columns: str,
        schema: TableSchema,
        where: str,
        params: Sequence[Any],
        order: str,
        limit: int,
        offset: int,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A deep page: the ordered keys' rowids are 1..n, so the page is a rowid range join."""
        with self.lock:
            keys = self._ordered_keys(schema, where, params, order)
            sql = (
                f'SELECT {columns} FROM temp."{keys}" AS k JOIN "{schema.name}" '
                f'ON "{schema.name}"."{schema.key}" = k.{_KEY_COLUMN} '
                "WHERE k.rowid > ? ORDER BY k.rowid LIMIT ?"
            )
            return self.read(sql, [int(offset), int(limit)])

    def _ordered_keys(
        self, schema: TableSchema, where: str, params: Sequence[Any], order: str
    ) -> str:
        """The temporary table of a read's keys in order, built once per read until a write."""
        if self._keys_version != self.version:
            for name in self._keys.values():
                self.conn.execute(f'DROP TABLE IF EXISTS temp."{name}"')
            self._keys.clear()
            self._keys_version = self.version
        cache_key = (schema.name, where, repr(list(params)), order)
        name = self._keys.get(cache_key)
        if name is None:
            name = f"SANDBOX_KEYS_{next(self._key_names)}"
            sql = f'CREATE TEMP TABLE "{name}" AS SELECT "{schema.key}" AS {_KEY_COLUMN} '
            sql += f'FROM "{schema.name}"' + (f" WHERE {where}" if where else "")
            self.conn.execute(sql + f" ORDER BY {order}", list(params))
            self._keys[cache_key] = name
            while len(self._keys) > _KEY_LISTS:
                oldest = self._keys.pop(next(iter(self._keys)))
                self.conn.execute(f'DROP TABLE IF EXISTS temp."{oldest}"')
        return name

    def count(self, schema: TableSchema, where: str = "", params: Sequence[Any] = ()) -> int:
        sql = f'SELECT COUNT(*) FROM "{schema.name}"' + (f" WHERE {where}" if where else "")
        return int(self.read(sql, params)[1][0][0])


def _create_sql(schema: TableSchema) -> str:
    cols = []
    for col in schema.columns.values():
        decl = f'"{col.name}" {col.sqlite_type}'
        if col.name == schema.key:
            decl += " PRIMARY KEY"
            if schema.kind != "core":
                decl += " AUTOINCREMENT"
        cols.append(decl)
    return f'CREATE TABLE "{schema.name}" ({", ".join(cols)})'


def _check_upgrade(table: str, col: ColumnType, known: tuple[str, int | None] | None) -> None:
    if known is None:
        return
    old_type, old_len = known
    if old_type != col.type:
        raise InstallError(
            f"{table}.{col.name}: type change {old_type} -> {col.type} is not allowed"
        )
    if old_len is not None and col.length is not None and col.length < old_len:
        raise InstallError(
            f"{table}.{col.name}: String length cannot shrink ({old_len} -> {col.length})"
        )


def now_text(tz: dt.tzinfo) -> str:
    """The database clock: district-local time at second precision, as Oracle's SYSDATE."""
    return dt.datetime.now(tz).strftime("%Y-%m-%d %H:%M:%S")

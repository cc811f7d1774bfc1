"""Running installed PowerQueries on SQLite: argument binding, paging and row shaping.

Arguments bind as `:name`; an array argument expands `IN (:name)` into one placeholder per value.
A query's full result is materialised once per (query, arguments, database version) in a temporary
table, so paging through 100,000 rows costs one query plus one cheap slice per page, like an
indexed read on the real server. Any write bumps the version and drops the cached results.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from sandbox.fiql import alias_resolver, parse, to_sql
from sandbox.install import InstallError, QueryDef
from sandbox.oracle import OracleFunctionError
from sandbox.render import NullStyle, ident, literal, object_sql, text_sql
from sandbox.sqlscan import touched_fields
from sandbox.store import Store

__all__ = ["QueryEngine", "QueryArgError", "bind"]

_PIECES = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/|:[A-Za-z_]\w*", re.DOTALL)


class QueryArgError(ValueError):
    """The body's arguments do not fit the query (PowerSchool: 400)."""


def bind(
    query: QueryDef, body: Mapping[str, Any], *, enforce_required: bool = True
) -> tuple[str, dict[str, Any]]:
    """SQL with array args expanded, and the named parameters to run it with."""
    declared = {a.name.lower(): a for a in query.args}
    for key in body:
        if not key.startswith("$") and key != "projection" and key.lower() not in declared:
            raise QueryArgError(f"unknown argument {key!r} for {query.name}")
    supplied = {k.lower(): v for k, v in body.items()}
    params: dict[str, Any] = {}
    arrays: dict[str, list[str]] = {}
    for name, arg in declared.items():
        value = supplied.get(name)
        if value is None:
            if arg.required and enforce_required:
                raise QueryArgError(f"argument {arg.name!r} is required")
            value = [] if arg.type == "array" else None
        if isinstance(value, dict):
            raise QueryArgError(f"argument {arg.name!r} must be a value, not an object")
        if arg.type == "array":
            values = value if isinstance(value, list) else [value]
            arrays[name] = [f"{name}__{i}" for i in range(len(values))]
            params.update(
                {p: _scalar(arg.name, v) for p, v in zip(arrays[name], values, strict=True)}
            )
        elif isinstance(value, list):
            raise QueryArgError(f"argument {arg.name!r} takes one value, not a list")
        else:
            params[name] = _scalar(arg.name, value)

    def replace(match: re.Match[str]) -> str:
        piece = match.group(0)
        if not piece.startswith(":"):
            return piece
        name = piece[1:].lower()
        if name in arrays:
            return ", ".join(f":{p}" for p in arrays[name]) or "NULL"
        return f":{name}"

    return _PIECES.sub(replace, query.sql), params


def _scalar(name: str, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        raise QueryArgError(f"argument {name!r}: nested values are not allowed")
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


def sql_parameters(sql: str) -> set[str]:
    return {m.group(0)[1:].lower() for m in _PIECES.finditer(sql) if m.group(0).startswith(":")}


class QueryEngine:
    """Installed queries and their cached results."""

    def __init__(self, store: Store, *, cache_entries: int = 4) -> None:
        self.store = store
        self.queries: dict[str, QueryDef] = {}
        self.touches: dict[str, set[tuple[str, str]]] = {}
        self._cache: OrderedDict[tuple[str, str], tuple[str, int, list[str]]] = OrderedDict()
        self._cache_version = -1
        self._cache_entries = cache_entries
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], str] = {}  # (result table, null style) -> row JSON SQL

    def install(
        self, query: QueryDef, *, owner: str, owners: dict[str, str], strict: bool = True
    ) -> None:
        """Check a query compiles and yields one SQL column per <column>, then register it.

        `strict=False` registers a query whose SQL does not run yet (its tables are missing):
        calling it then fails with 400, as on a server that loads PowerQueries unchecked."""
        other = owners.get(query.name)
        if other is not None and other != owner:
            raise InstallError(
                f"query {query.name} is already installed by plugin {other!r}", file=query.source
            )
        unknown = sql_parameters(query.sql) - {a.name.lower() for a in query.args}
        if unknown:
            raise InstallError(
                f"query {query.name}: SQL uses undeclared argument(s) {', '.join(sorted(unknown))}",
                file=query.source,
            )
        sql, params = bind(query, {}, enforce_required=False)
        try:
            names, _ = self.store.read(f"SELECT * FROM ({sql}) LIMIT 0", params)
        except sqlite3.Error as exc:
            if strict:
                raise InstallError(
                    f"query {query.name}: SQL does not run: {exc}", file=query.source
                ) from None
            names = [c.alias for c in query.columns]  # unchecked until its tables exist
        if len(names) != len(query.columns):
            raise InstallError(
                f"query {query.name}: SQL returns {len(names)} columns but "
                f"<columns> lists {len(query.columns)}",
                file=query.source,
            )
        keys = [c.key for c in query.columns]
        if len(set(keys)) != len(keys):
            raise InstallError(
                f"query {query.name}: column aliases must be unique", file=query.source
            )
        self.queries[query.name] = query
        self.touches[query.name] = self._touches(query)

    def refresh_touches(self) -> None:
        """Recompute the fields each query reads after tables were added (a query installed
        before its DATA plugin only saw the core tables)."""
        for name, query in self.queries.items():
            self.touches[name] = self._touches(query)

    def involving(self, table: str) -> list[str]:
        """Names of the installed queries that read `table` (its metadata lists them)."""
        name = table.upper()
        return sorted(
            q for q, touched in self.touches.items() if any(t == name for t, _ in touched)
        )

    def _touches(self, query: QueryDef) -> set[tuple[str, str]]:
        def columns_of(table: str) -> list[str] | None:
            schema = self.store.schema(table)
            return list(schema.columns) if schema else None

        touched = touched_fields(query.sql, columns_of)
        for col in query.columns:
            table, _, field = col.column.upper().rpartition(".")
            if table and columns_of(table) is not None:
                touched.add((table, field))
        return touched

    # -- running -----------------------------------------------------------------------------

    def result(self, query: QueryDef, body: Mapping[str, Any]) -> tuple[str, int, list[str]]:
        """(temporary table holding the ordered result, row count, its column names), computed
        once per (query, arguments) until the next write."""
        sql, params = bind(query, body)
        key = (query.name, json.dumps(params, sort_keys=True, default=str))
        with self.store.lock:
            if self._cache_version != self.store.version:
                self._drop_all()
                self._cache_version = self.store.version
            hit = self._cache.get(key)
            if hit:
                self._cache.move_to_end(key)
                return hit
            name = f"PQ_RESULT_{next(self._names)}"
            try:
                self.store.conn.execute(f'CREATE TEMP TABLE "{name}" AS {sql}', params)
            except sqlite3.OperationalError as exc:
                raise _oracle_error(exc) from None
            count = self.store.conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
            columns = [r[1] for r in self.store.conn.execute(f'PRAGMA temp.table_info("{name}")')]
            self._cache[key] = (name, count, columns)
            while len(self._cache) > self._cache_entries:
                _, (old, _, _) = self._cache.popitem(last=False)
                self.store.conn.execute(f'DROP TABLE IF EXISTS temp."{old}"')
                self._items = {k: v for k, v in self._items.items() if k[0] != old}
            return name, count, columns

    def _drop_all(self) -> None:
        for old, _, _ in self._cache.values():
            self.store.conn.execute(f'DROP TABLE IF EXISTS temp."{old}"')
        self._cache.clear()
        self._items.clear()

    def filter_sql(self, query: QueryDef, columns: list[str], q: str) -> tuple[str, list[Any]]:
        """A `$q` filter (on column aliases or keys) as SQL over the cached result."""
        names: dict[str, str] = {}
        for col, real in zip(query.columns, columns, strict=True):
            names[col.alias.lower()] = real
            names[col.key] = real
        return to_sql(parse(q), alias_resolver(names))

    def count(self, query: QueryDef, body: Mapping[str, Any], q: str = "") -> int:
        with self.store.lock:  # a concurrent write must not drop the result between the two steps
            table, count, columns = self.result(query, body)
            if not q:
                return count
            where, params = self.filter_sql(query, columns, q)
            return int(
                self.store.read(f'SELECT COUNT(*) FROM temp."{table}" WHERE {where}', params)[1][0][
                    0
                ]
            )

    def page(
        self,
        query: QueryDef,
        body: Mapping[str, Any],
        offset: int,
        limit: int | None,
        *,
        null_style: NullStyle = "omit",
        q: str = "",
    ) -> list[str]:
        """Rows `offset`..`offset+limit` (all when limit is None) as PowerSchool's JSON."""
        with self.store.lock:  # a concurrent write must not drop the result between the two steps
            table, _, columns = self.result(query, body)
            item = self._items.get((table, null_style))
            if item is None:
                item = self._items[(table, null_style)] = self._item_sql(
                    query, columns, null_style, self._affinities(table)
                )
            # offsets and limits are bound, not spliced in: one compiled statement serves every page
            params: list[Any] = []
            if q:
                where, params = self.filter_sql(query, columns, q)
                sql = f'SELECT {item} FROM temp."{table}" WHERE {where} ORDER BY rowid'
                if limit is not None:
                    sql += " LIMIT ? OFFSET ?"
                    params = [*params, int(limit), int(offset)]
            else:  # the result's rowids are 1..count in query order: page by range, not OFFSET
                sql = f'SELECT {item} FROM temp."{table}" WHERE rowid > ? ORDER BY rowid'
                params = [int(offset)]
                if limit is not None:
                    sql += " LIMIT ?"
                    params.append(int(limit))
            return [r[0] for r in self.store.read(sql, params)[1]]

    def _affinities(self, table: str) -> dict[str, str]:
        """Declared types of a cached result's columns (they decide how values become text)."""
        info = self.store.conn.execute(f'PRAGMA temp.table_info("{table}")').fetchall()
        return {r[1]: str(r[2] or "") for r in info}

    def _item_sql(
        self,
        query: QueryDef,
        columns: list[str],
        null_style: NullStyle,
        affinities: dict[str, str] | None = None,
    ) -> str:
        core = self.core_name(query)
        id_column = _core_id_column(query, core, columns)
        id_sql = f"COALESCE(CAST({ident(id_column)} AS INTEGER), rowid)" if id_column else "rowid"
        values = [
            (col.key, text_sql(ident(real), (affinities or {}).get(real, "")))
            for col, real in zip(query.columns, columns, strict=True)
        ]
        if query.flattened:
            return object_sql([("_name", literal(core)), ("_id", id_sql), *values], null_style)
        groups: dict[str, list[tuple[str, str]]] = {}
        for col, pair in zip(query.columns, values, strict=True):
            table = col.alias.rsplit(".", 1)[0].lower() if "." in col.alias else core.lower()
            groups.setdefault(table, []).append(pair)
        tables = ", ".join(f"{literal(t)}, {object_sql(v, null_style)}" for t, v in groups.items())
        return (
            f"json_object('id', {id_sql}, 'name', {literal(core)}, 'tables', json_object({tables}))"
        )

    @staticmethod
    def core_name(query: QueryDef) -> str:
        return (query.core_table or query.name).upper()


def _core_id_column(query: QueryDef, core: str, columns: list[str]) -> str | None:
    """The result column holding the core table's primary key (what PowerSchool puts in `_id`)."""
    for wanted in (f"{core}.DCID", f"{core}.ID"):
        for col, real in zip(query.columns, columns, strict=True):
            if col.column.upper() == wanted:
                return real
    return None


def _oracle_error(exc: sqlite3.OperationalError) -> QueryArgError:
    last = OracleFunctionError.last()
    return QueryArgError(str(last) if last else f"the query failed: {exc}")

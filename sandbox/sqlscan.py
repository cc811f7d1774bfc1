"""Which table fields a PowerQuery's SQL touches, for the access_request check.

PowerSchool refuses (403) a PowerQuery called with an OAuth token when the SQL touches a field the
plugin's access_request does not list. The sandbox reconstructs the touched set conservatively:
table aliases from FROM/JOIN, every `alias.FIELD` (and `alias.*`) reference, and unqualified names
that are a column of exactly one table in the query. String literals and comments are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

__all__ = ["touched_fields", "strip_literals"]

_KEYWORDS = frozenset(
    """
    SELECT FROM WHERE AND OR NOT JOIN LEFT RIGHT INNER OUTER FULL CROSS ON AS ORDER BY GROUP HAVING
    UNION ALL DISTINCT CASE WHEN THEN ELSE END IN IS NULL LIKE BETWEEN EXISTS ASC DESC WITH LIMIT
    OFFSET FETCH FIRST NEXT ROWS ROW ONLY NULLS LAST USING MINUS INTERSECT OVER PARTITION ESCAPE
""".split()
)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_QUOTED_IDENT = re.compile(r'"([^"]*)"')
_TOKEN = re.compile(r":[A-Za-z_]\w*|[A-Za-z_][\w$#]*|\d+(?:\.\d+)?|\S")


def strip_literals(sql: str) -> str:
    """SQL without comments, with every string literal emptied (`'x:y'` -> `''`)."""
    return _LITERAL.sub("''", _COMMENTS.sub(" ", sql))


def _tokens(sql: str) -> list[str]:
    clean = _QUOTED_IDENT.sub(lambda m: m.group(1), strip_literals(sql))
    return _TOKEN.findall(clean)


def _is_name(tok: str) -> bool:
    return bool(re.match(r"[A-Za-z_]", tok)) and tok.upper() not in _KEYWORDS


def _aliases(tokens: list[str]) -> dict[str, str]:
    """alias (upper) -> table (upper), table names mapping to themselves."""
    aliases: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        word = tokens[i].upper()
        if word in ("FROM", "JOIN"):
            i = _read_from_items(tokens, i + 1, aliases, several=(word == "FROM"))
        else:
            i += 1
    return aliases


def _read_from_items(tokens: list[str], i: int, aliases: dict[str, str], *, several: bool) -> int:
    while i < len(tokens):
        if tokens[i] == "(":  # subquery: scanned on its own by the caller's loop
            return i
        if not _is_name(tokens[i]):
            return i
        table = tokens[i].upper()
        i += 1
        while i + 1 < len(tokens) and tokens[i] == ".":  # schema.table
            table = tokens[i + 1].upper()
            i += 2
        aliases[table] = table
        if i < len(tokens) and tokens[i].upper() == "AS":
            i += 1
        if i < len(tokens) and _is_name(tokens[i]):
            aliases[tokens[i].upper()] = table
            i += 1
        if several and i < len(tokens) and tokens[i] == ",":
            i += 1
            continue
        return i
    return i


def touched_fields(
    sql: str, columns_of: Callable[[str], Iterable[str] | None]
) -> set[tuple[str, str]]:
    """(TABLE, FIELD) pairs the SQL reads. `columns_of(table)` lists a table's columns, or None."""
    tokens = _tokens(sql)
    aliases = _aliases(tokens)
    tables = {t for t in aliases.values() if columns_of(t) is not None}
    touched: set[tuple[str, str]] = set()
    for i, tok in enumerate(tokens):
        if i + 2 < len(tokens) and tokens[i + 1] == "." and _is_name(tok):
            table = aliases.get(tok.upper(), tok.upper())
            cols = columns_of(table)
            if cols is None:
                continue
            target = tokens[i + 2]
            if target == "*":
                touched.update((table, c.upper()) for c in cols)
            elif re.match(r"[A-Za-z_]", target):
                touched.add((table, target.upper()))
    touched |= _unqualified(tokens, aliases, tables, columns_of)
    return touched


def _unqualified(
    tokens: list[str],
    aliases: dict[str, str],
    tables: set[str],
    columns_of: Callable[[str], Iterable[str] | None],
) -> set[tuple[str, str]]:
    cols_by_table = {t: {c.upper() for c in (columns_of(t) or ())} for t in tables}
    touched: set[tuple[str, str]] = set()
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok == "*" and prev.upper() in ("SELECT", "DISTINCT"):
            for t, cols in cols_by_table.items():
                touched.update((t, c) for c in cols)
            continue
        if not _is_name(tok) or prev in (".",) or prev.upper() == "AS" or nxt in (".", "("):
            continue
        if tok.upper() in aliases:
            continue
        owners = [t for t, cols in cols_by_table.items() if tok.upper() in cols]
        if len(owners) == 1:
            touched.add((owners[0], tok.upper()))
    return touched

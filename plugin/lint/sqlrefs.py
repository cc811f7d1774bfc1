"""Which table.column pairs a piece of Oracle SQL names, without a database.

Strings and comments are removed, tables are taken from FROM lists and JOINs (with their
aliases), and every `alias.column` or `table.column` whose first part is one of those is a use.
That is exact for qualified references, which is all the access-request rule treats as certain.
`loose=True` also gives unqualified names to the only table of a one-table query (enough to know
that `SELECT ID FROM U_X` uses U_X.ID, never used to report something missing).
"""

from __future__ import annotations

import re

__all__ = [
    "strip_sql", "table_aliases", "column_refs", "select_items", "bind_names", "has_order_by"
]

_STRINGS_COMMENTS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", re.S)
_IDENT = r'"?[A-Za-z_][A-Za-z0-9_$#]*"?'
_FROM_ITEM = re.compile(
    rf"\b(FROM|JOIN)\s+({_IDENT}(?:\.{_IDENT})?)(?:\s+(?:AS\s+)?({_IDENT}))?", re.I
)
_COMMA_ITEM = re.compile(
    rf",\s*({_IDENT})(?:\s+(?:AS\s+)?({_IDENT}))?(?=\s*(?:,|$|\bWHERE\b))", re.I
)
_QUALIFIED = re.compile(rf"(?<![\w.:$#]){_IDENT}\s*\.\s*{_IDENT}")
_WORD = re.compile(r"(?<![\w.:$#])([A-Za-z_][A-Za-z0-9_$#]*)(?![\w.(])")
_FROM_END = re.compile(r"\b(WHERE|JOIN|GROUP|ORDER|UNION|HAVING|CONNECT|START)\b|\)", re.I)
_BIND = re.compile(r"(?<![\w:]):([A-Za-z_]\w*)")
_KEYWORDS = {
    "select", "from", "where", "and", "or", "not", "in", "is", "null", "as", "on", "join", "left",
    "right", "inner", "outer", "full", "cross", "order", "by", "group", "having", "asc", "desc",
    "distinct", "case", "when", "then", "else", "end", "between", "like", "union", "all", "exists",
    "with", "over", "partition", "nulls", "first", "last", "sysdate", "rownum", "level", "fetch",
    "next", "rows", "only", "offset", "within", "escape", "minus", "intersect", "any", "some",
    "true", "false", "date", "timestamp", "interval", "day", "month", "year", "current_date",
}
_ALIAS_STOP = _KEYWORDS | {"using", "natural", "pivot", "unpivot", "connect", "start", "model"}


def strip_sql(sql: str) -> str:
    """The SQL with string literals and comments blanked (bind names stay)."""
    return _STRINGS_COMMENTS.sub(lambda m: " " * len(m.group(0)), sql)


def _name(token: str | None) -> str:
    return (token or "").strip('"').upper()


def table_aliases(sql: str) -> dict[str, str]:
    """alias (or table name) -> table, upper case, for tables in FROM lists and JOINs."""
    clean = strip_sql(sql)
    aliases: dict[str, str] = {}

    def add(table_token: str, alias_token: str | None) -> None:
        table = _name(table_token.split(".")[-1])
        if not table or table.lower() in _KEYWORDS:
            return
        aliases.setdefault(table, table)
        alias = _name(alias_token)
        if alias and alias.lower() not in _ALIAS_STOP:
            aliases[alias] = table

    for m in _FROM_ITEM.finditer(clean):
        add(m.group(2), m.group(3))
        if m.group(1).upper() == "FROM":
            rest = clean[m.end():]
            stop = _FROM_END.search(rest)
            segment = rest[: stop.start()] if stop else rest
            for c in _COMMA_ITEM.finditer(segment + " "):
                add(c.group(1), c.group(2))
    return aliases


def column_refs(sql: str, *, loose: bool = False) -> set[tuple[str, str]]:
    """(table, column) pairs the SQL names; unknown qualifiers (CTEs, subqueries) are skipped."""
    clean = strip_sql(sql)
    aliases = table_aliases(sql)
    refs: set[tuple[str, str]] = set()
    for m in _QUALIFIED.finditer(clean):
        left, right = (p.strip() for p in m.group(0).split(".", 1))
        table = aliases.get(_name(left))
        if table and _name(left) not in {"DUAL"}:
            refs.add((table, _name(right)))
    tables = set(aliases.values())
    if loose and len(tables) == 1:
        (table,) = tables
        for m in _WORD.finditer(_QUALIFIED.sub(" ", clean)):
            word = m.group(1)
            if word.lower() not in _KEYWORDS and _name(word) not in aliases:
                refs.add((table, _name(word)))
    return refs


def select_items(sql: str) -> list[str] | None:
    """The output expressions of the main SELECT (commas inside parentheses kept); None when the
    statement cannot be split with confidence."""
    clean = strip_sql(sql)
    depth = 0
    start = None
    tokens = re.finditer(r"\(|\)|,|\bSELECT\b|\bFROM\b", clean, re.I)
    items: list[str] = []
    last = 0
    for t in tokens:
        tok = t.group(0).upper()
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and tok == "SELECT" and start is None:
            start = last = t.end()
        elif depth == 0 and tok == "," and start is not None:
            items.append(clean[last:t.start()].strip())
            last = t.end()
        elif depth == 0 and tok == "FROM" and start is not None:
            items.append(clean[last:t.start()].strip())
            return [i for i in items if i] if all(items) else None
    return None


def bind_names(sql: str) -> set[str]:
    """Lower-case `:name` bind variables outside strings and comments."""
    return {m.group(1).lower() for m in _BIND.finditer(strip_sql(sql))}


def has_order_by(sql: str) -> bool:
    """True when the statement itself ends in ORDER BY (not only an aggregate's WITHIN GROUP or
    an analytic OVER (... ORDER BY ...) inside parentheses)."""
    clean = strip_sql(sql)
    depth = 0
    for t in re.finditer(r"\(|\)|\bORDER\s+BY\b", clean, re.I):
        tok = t.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0:
            return True
    return False

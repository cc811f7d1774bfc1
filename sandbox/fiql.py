"""PowerSchool's "modified FIQL" `q` filters: `id=ge=10;status==open;last_name==Test*`.

Operators `==`, `!=`, `=gt=`, `=ge=`, `=lt=`, `=le=`; `;` joins conditions with AND; `*` is a
wildcard in `==`; `==(A,P)` matches a list. OR is not part of PowerSchool's dialect and is refused.
Both table queries and PowerQuery `$q` filters (on the query's column aliases) compile to SQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.store import TableSchema

__all__ = ["Condition", "FiqlError", "parse", "to_sql", "schema_resolver", "alias_resolver"]

_COND = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|=gt=|=ge=|=lt=|=le=)\s*(.*?)\s*$", re.DOTALL)
_SQL_OPS = {"==": "=", "!=": "<>", "=gt=": ">", "=ge=": ">=", "=lt=": "<", "=le=": "<="}


class FiqlError(ValueError):
    """A `q` PowerSchool would answer with 400."""


@dataclass(frozen=True)
class Condition:
    selector: str
    op: str
    values: tuple[str, ...]

    @property
    def field(self) -> str:
        """The column: the selector after its table prefix, upper case."""
        return self.selector.rsplit(".", 1)[-1].upper()


def _split(q: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in q:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == ";" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        if ch == "," and depth == 0:
            raise FiqlError("OR (',') is not supported in q; join conditions with ';'")
        current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse(q: str) -> list[Condition]:
    conditions = []
    for part in _split(q or ""):
        match = _COND.match(part)
        if not match:
            raise FiqlError(f"cannot read condition {part.strip()!r}")
        selector, op, raw = match.groups()
        if raw.startswith("(") and raw.endswith(")"):
            if op not in ("==", "!="):
                raise FiqlError(f"a list only works with == or != ({part.strip()!r})")
            values = tuple(v.strip() for v in raw[1:-1].split(","))
        else:
            values = (raw,)
        if any(v == "" for v in values):
            raise FiqlError(f"missing value in {part.strip()!r}")
        conditions.append(Condition(selector, op, values))
    return conditions


Resolver = Callable[[Condition], "tuple[str, str | None]"]
"""Maps a condition to (quoted SQL column, PowerSchool field type or None when untyped)."""


def schema_resolver(schema: TableSchema) -> Resolver:
    def resolve(cond: Condition) -> tuple[str, str | None]:
        if cond.field not in schema.columns:
            raise FiqlError(f"{schema.name.lower()} has no field {cond.selector!r}")
        return f'"{cond.field}"', schema.columns[cond.field].type

    return resolve


def alias_resolver(columns: Mapping[str, str]) -> Resolver:
    """For PowerQuery results: `columns` maps an alias or key (lower case) to the result column."""

    def resolve(cond: Condition) -> tuple[str, str | None]:
        column = columns.get(cond.selector.lower()) or columns.get(cond.field.lower())
        if column is None:
            raise FiqlError(f"the query has no column {cond.selector!r}")
        return '"' + column.replace('"', '""') + '"', None

    return resolve


def _typed(ftype: str | None, field: str, value: str) -> Any:
    if ftype in ("Integer", "Boolean", "Double"):
        try:
            number = float(value)
        except ValueError:
            raise FiqlError(f"{field.lower()} is a number; {value!r} is not") from None
        return int(number) if ftype != "Double" and number.is_integer() else number
    if ftype is None:  # untyped result column: numbers compare as numbers, like Oracle would
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    return value


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def to_sql(conditions: list[Condition], resolve: Resolver) -> tuple[str, list[Any]]:
    """WHERE clause and parameters; unknown columns raise FiqlError."""
    clauses: list[str] = []
    params: list[Any] = []
    for cond in conditions:
        column, ftype = resolve(cond)
        if len(cond.values) > 1:
            marks = ", ".join("?" for _ in cond.values)
            clauses.append(f"{column} {'NOT ' if cond.op == '!=' else ''}IN ({marks})")
            params.extend(_typed(ftype, cond.field, v) for v in cond.values)
        elif "*" in cond.values[0] and cond.op in ("==", "!="):
            clauses.append(f"{column} {'NOT ' if cond.op == '!=' else ''}LIKE ? ESCAPE '\\'")
            params.append(_like(cond.values[0]))
        else:
            clauses.append(f"{column} {_SQL_OPS[cond.op]} ?")
            params.append(_typed(ftype, cond.field, cond.values[0]))
    return " AND ".join(clauses), params

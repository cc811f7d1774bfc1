"""PowerSchool's "modified FIQL" `q` filters: `id=ge=10;status==open;last_name==Test*`.

Operators `==`, `!=`, `=gt=`, `=ge=`, `=lt=`, `=le=`; `;` joins conditions with AND; `*` is a
wildcard in `==`; `==(A,P)` matches a list. OR is not part of PowerSchool's dialect and is refused.
Table queries compile to SQL; PowerQuery `$q` filters the rows the query returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from connector.sandbox.store import TableSchema

__all__ = ["Condition", "FiqlError", "parse", "to_sql", "row_filter"]

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
    parts, depth, current = [], 0, []
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


def _typed(schema: TableSchema, field: str, value: str) -> Any:
    col = schema.columns[field]
    if col.type in ("Integer", "Boolean", "Double"):
        try:
            number = float(value)
        except ValueError:
            raise FiqlError(f"{field.lower()} is a number; {value!r} is not") from None
        return int(number) if col.type != "Double" and number.is_integer() else number
    return value


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def to_sql(conditions: list[Condition], schema: TableSchema) -> tuple[str, list[Any]]:
    """WHERE clause and parameters; unknown columns raise FiqlError."""
    clauses: list[str] = []
    params: list[Any] = []
    for cond in conditions:
        if cond.field not in schema.columns:
            raise FiqlError(f"{schema.name.lower()} has no field {cond.selector!r}")
        column = f'"{cond.field}"'
        if len(cond.values) > 1:
            marks = ", ".join("?" for _ in cond.values)
            clauses.append(f"{column} {'NOT ' if cond.op == '!=' else ''}IN ({marks})")
            params.extend(_typed(schema, cond.field, v) for v in cond.values)
        elif "*" in cond.values[0] and cond.op in ("==", "!="):
            clauses.append(f"{column} {'NOT ' if cond.op == '!=' else ''}LIKE ? ESCAPE '\\'")
            params.append(_like(cond.values[0]))
        else:
            clauses.append(f"{column} {_SQL_OPS[cond.op]} ?")
            params.append(_typed(schema, cond.field, cond.values[0]))
    return " AND ".join(clauses), params


def _compare(actual: str | None, op: str, wanted: str) -> bool:
    if actual is None:
        return op == "!="
    if op in ("==", "!=") and "*" in wanted:
        pattern = re.escape(wanted).replace(r"\*", ".*")
        hit = re.fullmatch(pattern, actual, re.IGNORECASE) is not None
        return hit if op == "==" else not hit
    a: Any = actual
    w: Any = wanted
    try:
        a, w = float(actual), float(wanted)
    except ValueError:
        pass
    return {"==": a == w, "!=": a != w, "=gt=": a > w, "=ge=": a >= w, "=lt=": a < w,
            "=le=": a <= w}[op]


def row_filter(conditions: list[Condition], keys: Mapping[str, str]) -> Callable[[dict], bool]:
    """A predicate over flattened PowerQuery rows; `keys` maps selectors (alias or key) to row keys."""
    resolved = []
    for cond in conditions:
        key = keys.get(cond.selector.lower()) or keys.get(cond.field.lower())
        if key is None:
            raise FiqlError(f"the query has no column {cond.selector!r}")
        resolved.append((key, cond))

    def keep(row: dict) -> bool:
        for key, cond in resolved:
            hits = [_compare(row.get(key), "==" if cond.op == "!=" else cond.op, v) for v in cond.values]
            if (any(hits) if cond.op != "!=" else not any(hits)) is False:
                return False
        return True

    return keep

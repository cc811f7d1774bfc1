"""PowerSchool's JSON quirks, normalised at every list-typed node the connector reads.

PowerSchool sends a bare object where a one-element list is meant, omits `record` when nothing
matched, writes empty expansions as "", mixes strings and numbers, and spells table keys in any
case (shared/reference/powerschool-rest-api.md, section 2). The functions here turn every such
response into plain lists of flat dicts with lower-case keys and string values; callers coerce.

Shape problems raise `ShapeError` (a ValueError); the client re-raises it naming the endpoint.
Messages name keys and types only, never values (values are student data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "ShapeError",
    "WriteOutcome",
    "as_list",
    "as_dict",
    "split_names",
    "table_rows",
    "table_record",
    "query_rows",
    "query_row",
    "count_of",
    "write_items",
    "cast_value",
    "cast_values",
]


class ShapeError(ValueError):
    """A response does not have a shape PowerSchool is known to send."""


def as_list(value: Any) -> list[Any]:
    """A list-typed node as a list: None/""/missing -> [], list -> itself, anything else -> [it]."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [value]


def as_dict(value: Any, what: str = "node") -> dict[str, Any]:
    """An object-typed node as a dict: None/"" (an empty expansion) -> {}."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    raise ShapeError(f"{what} is a {type(value).__name__}, expected an object")


def split_names(value: Any) -> list[str]:
    """`@extensions` / `@expansions`: "a, b,c" -> ["a", "b", "c"] (also accepts a list)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _text(value: Any) -> Any:
    """Scalars as strings (PowerSchool's own convention); nested structures are left alone."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _body(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ShapeError(f"{what} response is a {type(body).__name__}, expected an object")
    return body


def table_record(record: Any, table: str | None = None) -> dict[str, Any]:
    """One `/ws/schema/table` record -> a flat row: lower-case column keys plus "id"."""
    record = as_dict(record, "record")
    tables = as_dict(record.get("tables"), "record.tables")
    inner = _pick_table(tables, table or str(record.get("name") or ""))
    # JSON keys are always str; most values already are (fast path: 100,000-row reads)
    keys = _lowered(tuple(inner))
    row = {k: v if v.__class__ is str else _text(v) for k, v in zip(keys, inner.values())}
    row_id = record.get("id")
    if row_id is not None and row_id != "":
        row["id"] = row_id if row_id.__class__ is str else _text(row_id)
    return row


_LOWERED: dict[tuple[str, ...], tuple[str, ...]] = {}


def _lowered(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys in lower case, worked out once per column set (every row of a read shares it)."""
    low = _LOWERED.get(keys)
    if low is None:
        low = tuple(str(key).lower() for key in keys)
        if len(_LOWERED) < 1024:
            _LOWERED[keys] = low
    return low


def _pick_table(tables: dict[str, Any], table: str) -> dict[str, Any]:
    """The named table's columns, matching the key case-insensitively (or the only entry)."""
    wanted = table.lower()
    exact = tables.get(wanted)
    if isinstance(exact, dict):
        return exact
    for key, value in tables.items():
        if str(key).lower() == wanted:
            return as_dict(value, "record.tables." + wanted)
    if len(tables) == 1:
        return as_dict(next(iter(tables.values())), "record.tables")
    if not tables:
        return {}
    raise ShapeError(f"record.tables has no entry for table {table!r}")


def table_rows(body: Any, table: str | None = None) -> list[dict[str, Any]]:
    """`{"name", "record": [...]}` (record may be one object or missing) -> flat rows."""
    body = _body(body, "table")
    return [table_record(rec, table) for rec in as_list(body.get("record"))]


_DROPPED_KEYS = frozenset({"_name", "_id"})
_PLANS: dict[tuple[str, ...], tuple[str | None, ...]] = {}
"""Column names -> the row key for each (None: dropped). Every record of a read has the same
columns, so a 100,000-row read works out its key names once, not 2.5 million times."""


def _plan(keys: tuple[str, ...]) -> tuple[str | None, ...]:
    plan = _PLANS.get(keys)
    if plan is None:
        shorts = [str(key).rsplit(".", 1)[-1].lower() for key in keys]
        plan = tuple(None if short in _DROPPED_KEYS else short for short in shorts)
        kept = [short for short in plan if short is not None]
        if len(set(kept)) != len(kept):
            twice = next(short for short in kept if kept.count(short) > 1)
            raise ShapeError(f"query row has two columns named {twice!r}")
        if len(_PLANS) < 1024:
            _PLANS[keys] = plan
    return plan


def query_row(record: Any) -> dict[str, Any]:
    """A PowerQuery record -> flat row keyed by the part after the last '.', lower-cased.

    Flattened queries give `{"_name", "_id", "u_ssp_referrals.ssp_uid": ...}` or bare keys;
    non-flattened ones nest columns under `tables.<name>`. `_name`/`_id` are dropped: the
    connector's queries select every id they need as ordinary columns.
    """
    record = as_dict(record, "record")
    columns: dict[str, Any] = record
    if isinstance(record.get("tables"), dict):
        columns = {k: v for k, v in record.items() if k != "tables"}
        for inner in record["tables"].values():
            columns.update(as_dict(inner, "record.tables"))
    plan = _plan(tuple(columns))
    return {
        short: value if value.__class__ is str else _text(value)
        for short, value in zip(plan, columns.values())
        if short is not None
    }


def query_rows(body: Any) -> list[dict[str, Any]]:
    body = _body(body, "query")
    return [query_row(rec) for rec in as_list(body.get("record"))]


def count_of(body: Any) -> int:
    """`{"count": N}` (schema/query) or `{"resource": {"count": N}}` (v1); N may be a string."""
    body = _body(body, "count")
    value = body.get("count")
    if value is None and isinstance(body.get("resource"), dict):
        value = body["resource"].get("count")
    try:
        count = int(str(value))
    except (TypeError, ValueError):
        raise ShapeError("count response has no integer 'count'") from None
    if count < 0:
        raise ShapeError("count response has a negative 'count'")
    return count


class WriteOutcome:
    """One item of a write response: status, new id, and error details (codes, no values)."""

    __slots__ = ("status", "action", "id", "errors", "warnings")

    def __init__(self, item: dict[str, Any]) -> None:
        self.status = str(item.get("status") or "").upper()
        self.action = str(item.get("action") or "").upper()
        success = as_dict(item.get("success_message"), "success_message")
        new_id = success.get("id", item.get("id"))
        self.id = None if new_id in (None, "") else str(new_id)
        self.errors = _details(item.get("error_message"), "error")
        self.warnings = _details(item.get("warning_message"), "warning")

    def __repr__(self) -> str:
        return f"WriteOutcome(status={self.status!r}, action={self.action!r}, id={self.id!r})"


def _details(message: Any, key: str) -> list[str]:
    """`{"error": [{"field", "error_code", "error_description"}]}` -> ["field: CODE (text)"]."""
    if not message:
        return []
    node = message.get(key, message) if isinstance(message, dict) else message
    out = []
    for item in as_list(node):
        if isinstance(item, dict):
            field = item.get("field", "")
            code = item.get("error_code") or item.get("code") or ""
            text = item.get("error_description") or item.get("description") or ""
            out.append(f"{field}: {code}" + (f" ({text})" if text else ""))
        else:
            out.append(str(item)[:200])
    return out


def write_items(body: Any) -> list[WriteOutcome]:
    """Write response items, with or without the `results` wrapper, `result` object or list."""
    if body is None or body == "":
        return []
    body = _body(body, "write")
    results = as_dict(body.get("results"), "results") if "results" in body else body
    return [WriteOutcome(as_dict(item, "result")) for item in as_list(results.get("result"))]


def cast_value(value: Any) -> str:
    """A value as PowerSchool wants it on writes: a string ("" for None, "1"/"0" for booleans).

    Dates are ISO `YYYY-MM-DD`; datetimes `YYYY-MM-DD HH:MM:SS` (the 19-character form the
    catalogue's timestamp columns and the queries' TIMESTAMP_FORMAT use), aware ones in UTC.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ",".join(cast_value(item) for item in items)
    raise TypeError(f"cannot send a {type(value).__name__} to PowerSchool")


def cast_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Column -> string, with lower-case column names as PowerSchool's own examples use."""
    return {str(key).lower(): cast_value(value) for key, value in values.items()}

"""Column types: what a write may store, validated the way PowerSchool's field validation does.

PowerSchool's schema API takes and returns every value as a string; the sandbox stores typed
values in SQLite (dates as ISO text; render.py turns them back into strings). A String longer
than its length, a bad number or a bad date is refused with the field named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["ColumnType", "FieldProblem", "to_db", "SQLITE_TYPES"]

MAX_BYTES = 4000

SQLITE_TYPES = {
    "String": "TEXT",
    "Clob": "TEXT",
    "Date": "TEXT",
    "Timestamp": "TEXT",
    "Integer": "INTEGER",
    "Boolean": "INTEGER",
    "Double": "REAL",
}


@dataclass(frozen=True)
class ColumnType:
    name: str  # upper-case column name
    type: str  # String | Integer | Double | Date | Boolean | Clob | Timestamp
    length: int | None = None

    @property
    def sqlite_type(self) -> str:
        return SQLITE_TYPES[self.type]


class FieldProblem(ValueError):
    """A value a field refuses; `code` follows PowerSchool's error codes."""

    def __init__(self, code: str, description: str) -> None:
        self.code = code
        self.description = description
        super().__init__(description)


def _as_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "1" if raw else "0"
    if isinstance(raw, (dict, list)):
        raise FieldProblem(
            "FIELD_VALIDATION_ERROR", "a value must be a string, not an object or list"
        )
    return str(raw)


def to_db(col: ColumnType, raw: Any) -> Any:
    """Convert one written value to what SQLite stores; "" and null clear the field."""
    if raw is None:
        return None
    text = _as_text(raw)
    if text == "":
        return None
    converter = _CONVERTERS[col.type]
    return converter(col, text)


def _string(col: ColumnType, text: str) -> str:
    if col.length is not None and len(text) > col.length:
        raise FieldProblem(
            "FIELD_VALIDATION_ERROR",
            f"value is {len(text)} characters; the field holds at most {col.length}",
        )
    if col.type != "Clob" and len(text.encode("utf-8")) > MAX_BYTES:
        raise FieldProblem("FIELD_VALIDATION_ERROR", f"value is over {MAX_BYTES} bytes")
    return text


def _integer(col: ColumnType, text: str) -> int:
    try:
        number = float(text.strip())
    except ValueError:
        raise FieldProblem("FIELD_VALIDATION_ERROR", "not a whole number") from None
    if not number.is_integer():
        raise FieldProblem("FIELD_VALIDATION_ERROR", "not a whole number")
    return int(number)


def _double(col: ColumnType, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise FieldProblem("FIELD_VALIDATION_ERROR", "not a number") from None


def _boolean(col: ColumnType, text: str) -> int:
    folded = text.strip().lower()
    if folded in ("1", "true", "y", "yes"):
        return 1
    if folded in ("0", "false", "n", "no"):
        return 0
    raise FieldProblem("FIELD_VALIDATION_ERROR", "a Boolean takes 1 or 0")


def _date(col: ColumnType, text: str) -> str:
    day = text.strip()
    if len(day) == 19 and day[10] in " T":  # a full timestamp: Oracle keeps the day
        day = day[:10]
    try:
        if len(day) == 10:
            return dt.date.fromisoformat(day).isoformat()
    except ValueError:
        pass
    raise FieldProblem("INVALID_DATE_VALUE", "a date must be YYYY-MM-DD")


def _timestamp(col: ColumnType, text: str) -> str:
    try:
        return dt.datetime.fromisoformat(text.strip()).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise FieldProblem(
            "INVALID_DATE_VALUE", "a timestamp must be YYYY-MM-DD HH:MM:SS"
        ) from None


_CONVERTERS = {
    "String": _string,
    "Clob": _string,
    "Integer": _integer,
    "Double": _double,
    "Boolean": _boolean,
    "Date": _date,
    "Timestamp": _timestamp,
}

"""The few Oracle SQL functions PowerQueries use, as SQLite functions.

Dates live in SQLite as ISO text (`YYYY-MM-DD` for Date columns, `YYYY-MM-DD HH:MM:SS` for the
tracking timestamps), so comparisons between columns and `TO_DATE(...)` results are plain text
comparisons and sort the way Oracle's DATE does.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["register_oracle_functions", "to_char", "to_date", "iso_text", "OracleFunctionError"]


_LAST = threading.local()


class OracleFunctionError(ValueError):
    """A value the Oracle function would reject (ORA-01861 and friends).

    SQLite reports a failing user function only as "user-defined function raised exception";
    `last()` recovers the real message for this thread's most recent failure.
    """

    @staticmethod
    def last() -> OracleFunctionError | None:
        error = getattr(_LAST, "error", None)
        _LAST.error = None
        return error


def _remembering(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        try:
            return func(*args)
        except OracleFunctionError as exc:
            _LAST.error = exc
            raise

    return wrapper


# Oracle format elements -> strftime directives, longest first so HH24 wins over HH.
_ELEMENTS = (
    ("YYYY", "%Y"),
    ("HH24", "%H"),
    ("HH12", "%I"),
    ("MON", "%b"),
    ("YY", "%y"),
    ("MM", "%m"),
    ("DD", "%d"),
    ("HH", "%I"),
    ("MI", "%M"),
    ("SS", "%S"),
    ("AM", "%p"),
    ("PM", "%p"),
)
_TOKEN = re.compile("|".join(re.escape(e) for e, _ in _ELEMENTS) + r'|"[^"]*"|.', re.IGNORECASE)
_DIRECTIVE = {e: d for e, d in _ELEMENTS}


@functools.lru_cache(maxsize=64)
def _strftime_format(fmt: str) -> str:
    out = []
    for match in _TOKEN.finditer(fmt):
        token = match.group(0)
        if token.upper() in _DIRECTIVE:
            out.append(_DIRECTIVE[token.upper()])
        elif token.startswith('"'):
            out.append(token[1:-1].replace("%", "%%"))
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


def _parse_iso(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value.strip()[:19])
    except ValueError:
        raise OracleFunctionError(f"not a date: {value!r}") from None


def iso_text(moment: dt.datetime | dt.date) -> str:
    """How the sandbox stores a DATE: a timestamp at second precision, or a calendar day."""
    if isinstance(moment, dt.datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.isoformat()


def to_char(value: Any, fmt: str | None = None) -> str | None:
    """TO_CHAR(date, fmt) on ISO text, or TO_CHAR(number)."""
    if value is None:
        return None
    if fmt is None:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    # Fast paths for the two formats every connector query uses (values are stored as ISO text).
    if fmt == "YYYY-MM-DD" and len(text) in (10, 19) and text[4:5] == "-":
        return text[:10]
    if fmt == "YYYY-MM-DD HH24:MI:SS" and len(text) == 19 and text[10:11] == " ":
        return text
    return _parse_iso(text).strftime(_strftime_format(fmt))


def to_date(value: Any, fmt: str | None = None) -> str | None:
    """TO_DATE(text, fmt) -> ISO text; a time-less format yields a calendar day."""
    if value is None or value == "":
        return None
    text = str(value)
    if fmt is None:
        moment = _parse_iso(text)
    else:
        try:
            moment = dt.datetime.strptime(text.strip(), _strftime_format(fmt))
        except ValueError:
            raise OracleFunctionError(
                f"ORA-01861: literal does not match format string ({fmt})"
            ) from None
    has_time = (
        fmt is None
        and len(text.strip()) > 10
        or fmt is not None
        and any(e in fmt.upper() for e in ("HH", "MI", "SS"))
    )
    return iso_text(moment if has_time else moment.date())


def _nvl(value: Any, default: Any) -> Any:
    return default if value is None or value == "" else value


def register_oracle_functions(conn: sqlite3.Connection) -> None:
    """TO_CHAR, TO_DATE, NVL (and a DUAL table) so PowerQuery SQL runs unchanged."""
    for nargs in (1, 2):
        conn.create_function("TO_CHAR", nargs, _remembering(to_char), deterministic=True)
        conn.create_function("TO_DATE", nargs, _remembering(to_date), deterministic=True)
    conn.create_function("NVL", 2, _nvl, deterministic=True)
    conn.execute("CREATE TABLE IF NOT EXISTS DUAL (DUMMY TEXT)")
    if conn.execute("SELECT COUNT(*) FROM DUAL").fetchone()[0] == 0:
        conn.execute("INSERT INTO DUAL VALUES ('X')")

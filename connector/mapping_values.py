"""Parsing and writing single values of partner rows: dates, times, codes and identifiers.

Each parser raises `Problem` with the text that follows the field name in a quarantine reason
("'2026-13-01' is not a date (expected YYYY-MM-DD)"). A bad value is echoed only when it is short
and looks like a code, date or time: free text (a note typed into the wrong column) never reaches
a reason, a log line or an exception message.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["Problem", "show", "DateFormat", "TimeFormat", "check_id", "check_text", "human_format"]

_SHOWABLE = re.compile(r"^[A-Za-z0-9_ ./:+-]{1,24}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HH_MM = re.compile(r"^(\d{1,2}):(\d{2})$")
_HUMAN = {
    "%Y": "YYYY",
    "%m": "MM",
    "%d": "DD",
    "%y": "YY",
    "%H": "HH",
    "%M": "MM",
    "%I": "hh",
    "%p": "AM/PM",
    "%b": "Mon",
    "%B": "Month",
    "%S": "SS",
    "%j": "DDD",
    "%%": "%",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Problem(ValueError):
    """A value is bad; the message is the reason without the field name."""


def show(value: str) -> str:
    """A bad value as it may appear in a reason: quoted if short and code-like, else its length."""
    if _SHOWABLE.match(value):
        return f"'{value}'"
    return f"(a {len(value)}-character value)"


def human_format(fmt: str) -> str:
    """'%m/%d/%Y' -> 'MM/DD/YYYY', for reasons a partner can act on."""
    return re.sub(r"%.", lambda m: _HUMAN.get(m.group(0), m.group(0)), fmt)


@dataclass(frozen=True)
class DateFormat:
    """Dates a partner writes: every format in `formats` is accepted, the first one is written."""

    formats: tuple[str, ...]

    @property
    def expected(self) -> str:
        return " or ".join(human_format(f) for f in self.formats)

    def parse(self, text: str) -> dt.date:
        for fmt in self.formats:
            day = _parse_one(text, fmt)
            if day is not None:
                return day
        raise Problem(f"{show(text)} is not a date (expected {self.expected})")

    def write(self, day: dt.date) -> str:
        return day.strftime(self.formats[0])


def _parse_one(text: str, fmt: str) -> dt.date | None:
    if fmt == "%Y-%m-%d":  # the common case, 10x faster than strptime on a million rows
        if not _ISO_DATE.match(text):
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return None
    try:
        return dt.datetime.strptime(text, fmt).date()
    except ValueError:
        return None


@dataclass(frozen=True)
class TimeFormat:
    """Times of day (visit time in / out); stored in PowerSchool as HH:MM."""

    formats: tuple[str, ...]

    @property
    def expected(self) -> str:
        return " or ".join(human_format(f) for f in self.formats)

    def parse(self, text: str) -> str:
        for fmt in self.formats:
            parsed = _parse_time(text, fmt)
            if parsed is not None:
                return parsed
        raise Problem(f"{show(text)} is not {self.expected}")


def _parse_time(text: str, fmt: str) -> str | None:
    if fmt == "%H:%M":
        match = _HH_MM.match(text)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            return None
        return f"{int(match.group(1)):02d}:{match.group(2)}"
    try:
        return dt.datetime.strptime(text.upper(), fmt).strftime("%H:%M")
    except ValueError:
        return None


def check_id(text: str, pattern: re.Pattern[str], what: str, *, echo: bool = True) -> str:
    """An identifier matching `pattern`; `echo=False` for ids that identify a student."""
    if not pattern.match(text):
        raise Problem(f"{show(text) if echo else 'value'} is not a valid {what}")
    return text


def check_text(text: str, max_length: int) -> str:
    """Free text kept as text (formula-looking text is harmless here); too long is an error."""
    if len(text) > max_length:
        raise Problem(f"longer than {max_length} characters ({len(text)})")
    if _CONTROL.search(text):
        raise Problem("contains control characters")
    return text

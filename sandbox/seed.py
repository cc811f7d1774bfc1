"""Demo schools and students: obviously fictional, deterministic for a seed, realistic in shape.

Grades spread over K-12 (GRADE_LEVEL 0-12) with ages to match; a handful of 12th graders turn 18
around today (the connector's consent rule changes on the 18th birthday). ID, DCID and
STUDENT_NUMBER come from different ranges so code that mixes them up fails loudly. Phone numbers use
the fictional 555-01xx range; last names are made-up compounds ("Testwood", "Mockridge").
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sandbox.store import Store, TableSchema
from sandbox.values import ColumnType

__all__ = ["CORE_SCHEMAS", "SCHOOLS", "ADULT_BIRTHDAY_OFFSETS", "seed_core", "eighteenth_birthday"]


def _schema(name: str, cols: list[tuple[str, str, int | None]]) -> TableSchema:
    columns = {n: ColumnType(n, t, length) for n, t, length in cols}
    return TableSchema(name, "core", "DCID", columns, system=frozenset({"ID", "DCID"}))


CORE_SCHEMAS = (
    _schema(
        "SCHOOLS",
        [
            ("ID", "Integer", None),
            ("DCID", "Integer", None),
            ("SCHOOL_NUMBER", "Integer", None),
            ("NAME", "String", 60),
            ("ABBREVIATION", "String", 10),
            ("LOW_GRADE", "Integer", None),
            ("HIGH_GRADE", "Integer", None),
            ("SCHOOLPHONE", "String", 30),
        ],
    ),
    _schema(
        "STUDENTS",
        [
            ("ID", "Integer", None),
            ("DCID", "Integer", None),
            ("STUDENT_NUMBER", "Integer", None),
            ("FIRST_NAME", "String", 50),
            ("LAST_NAME", "String", 50),
            ("LASTFIRST", "String", 100),
            ("DOB", "Date", None),
            ("GENDER", "String", 2),
            ("GRADE_LEVEL", "Integer", None),
            ("SCHOOLID", "Integer", None),
            ("MOTHER", "String", 60),
            ("FATHER", "String", 60),
            ("HOME_PHONE", "String", 30),
            ("ENROLL_STATUS", "Integer", None),
        ],
    ),
)

# (SCHOOL_NUMBER, NAME, ABBREVIATION, LOW_GRADE, HIGH_GRADE)
SCHOOLS = (
    (101, "Maplewood Demo Elementary", "MDE", 0, 5),
    (102, "Riverbend Sample Elementary", "RSE", 0, 5),
    (201, "Cedar Hill Fictional Middle", "CHM", 6, 8),
    (301, "Lakeside Sandbox High", "LSH", 9, 12),
)

ADULT_BIRTHDAY_OFFSETS = (-30, -1, 0, 1, 14)
"""Days from today to the 18th birthday of the first grade-12 students: -1 turned 18 yesterday,
0 turns 18 today, 1 tomorrow."""

_FIRST = (
    "Avery",
    "Blake",
    "Casey",
    "Devon",
    "Emerson",
    "Finley",
    "Harper",
    "Indigo",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noel",
    "Oakley",
    "Parker",
    "Quinn",
    "Riley",
    "Sage",
    "Taylor",
    "Rowan",
    "Skyler",
    "Emery",
    "Reese",
    "Hayden",
)
_LAST_A = ("Test", "Demo", "Sample", "Mock", "Fixture", "Sandbox")
_LAST_B = ("wood", "field", "brook", "ridge", "stone", "vale", "ford", "hollow")
_PARENT = ("Alex", "Robin", "Jamie", "Chris", "Pat", "Sam", "Terry", "Lee", "Dana", "Jesse")

STUDENT_ID_BASE = 1
STUDENT_DCID_BASE = 100_001
STUDENT_NUMBER_BASE = 500_001


def eighteenth_birthday(dob: dt.date) -> dt.date:
    try:
        return dob.replace(year=dob.year + 18)
    except ValueError:  # born on 29 February
        return dt.date(dob.year + 18, 3, 1)


def _birthday_18_on(day: dt.date) -> dt.date:
    """A date of birth whose 18th birthday is `day`."""
    try:
        return day.replace(year=day.year - 18)
    except ValueError:
        return dt.date(day.year - 18, 2, 28)


def _school_for(grade: int, i: int) -> int:
    if grade <= 5:
        return 101 if i % 2 == 0 else 102
    return 201 if grade <= 8 else 301


def _dob(rng: random.Random, grade: int, today: dt.date) -> dt.date:
    # Age on 1 September of the school year is grade + 5 (kindergarten at 5).
    year_start = today.year if today.month >= 9 else today.year - 1
    sept1 = dt.date(year_start, 9, 1)
    youngest = dt.date(sept1.year - grade - 5, 9, 1)
    return youngest - dt.timedelta(days=rng.randrange(365))


def student_rows(count: int, seed: int, today: dt.date) -> list[tuple[Any, ...]]:
    """The STUDENTS rows, in column order of CORE_SCHEMAS' STUDENTS."""
    rng = random.Random(seed)
    grade12 = [i for i in range(count) if i % 13 == 12]
    special = dict(zip(grade12, ADULT_BIRTHDAY_OFFSETS, strict=False))
    rows = []
    for i in range(count):
        grade = i % 13
        first = rng.choice(_FIRST)
        last = rng.choice(_LAST_A) + rng.choice(_LAST_B)
        if i in special:
            dob = _birthday_18_on(today + dt.timedelta(days=special[i]))
        else:
            dob = _dob(rng, grade, today)
        mother = f"{rng.choice(_PARENT)} {last}"
        father = f"{rng.choice(_PARENT)} {last}" if rng.random() < 0.7 else None
        phone = f"555-555-01{rng.randrange(100):02d}"
        status = 0 if rng.random() < 0.95 else rng.choice((-1, 2))
        rows.append(
            (
                STUDENT_ID_BASE + i,
                STUDENT_DCID_BASE + i,
                STUDENT_NUMBER_BASE + i,
                first,
                last,
                f"{last}, {first}",
                dob.isoformat(),
                rng.choice(("F", "M", "X")),
                grade,
                _school_for(grade, i),
                mother,
                father,
                phone,
                status,
            )
        )
    return rows


def seed_core(store: Store, *, students: int, seed: int, today: dt.date | None = None) -> None:
    """Create SCHOOLS and STUDENTS and fill them once (a persisted database keeps its rows)."""
    for schema in CORE_SCHEMAS:
        store.define(schema)
    if store.meta("seeded"):
        return
    today = today or dt.date.today()
    with store.transaction() as conn:
        for n, (number, name, abbr, low, high) in enumerate(SCHOOLS):
            conn.execute(
                "INSERT INTO SCHOOLS VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (n + 1, 9001 + n, number, name, abbr, low, high, f"555-555-01{n:02d}"),
            )
        marks = ", ".join("?" for _ in CORE_SCHEMAS[1].columns)
        conn.executemany(
            f"INSERT INTO STUDENTS VALUES ({marks})", student_rows(students, seed, today)
        )
        conn.execute(
            "INSERT OR REPLACE INTO SANDBOX_META (K, V) VALUES ('seeded', ?)", (today.isoformat(),)
        )

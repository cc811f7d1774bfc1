"""Personal data and secrets that must never reach a log line, an exception message or a repr.

`canary_students` gives every student in the sandbox unmistakable names, guardians and phone
numbers, so a leak is found by a plain search and a match is never a coincidence; dates of birth
keep their seeded values and are searched in the forms a program would print them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["canary_students", "Needles", "needles_for"]

NOTE_TEXT = "Private note"  # ssp/demo_scenario.py's NOTES, on every visit and referral
CANARY = re.compile(
    r"Zelda\d+fn|Quokka\d+ln|Guardiana\d+|Guardiano\d+|\(203\) 555-\d{4}|" + NOTE_TEXT
)
DATE_LIKE = re.compile(r"\d{4}-\d\d-\d\d|\d\d/\d\d/\d{4}|(?<!\d)\d{8}(?!\d)")


def canary_students(sandbox: Any) -> None:
    """Rename every student: first/last names, guardians and phones become searchable canaries."""
    store = sandbox.store
    with store.lock:
        store.conn.execute(
            "UPDATE STUDENTS SET FIRST_NAME = 'Zelda' || DCID || 'fn', "
            "LAST_NAME = 'Quokka' || DCID || 'ln', "
            "LASTFIRST = 'Quokka' || DCID || 'ln, Zelda' || DCID || 'fn', "
            "MOTHER = 'Guardiana' || DCID, "
            "FATHER = 'Guardiano' || DCID, HOME_PHONE = '(203) 555-' || (7000 + DCID)"
        )
        store.version += 1


@dataclass
class Needles:
    secrets: set[str] = field(default_factory=set)
    birthdays: set[str] = field(default_factory=set)

    def found(self, text: str) -> list[str]:
        """Canary names, guardians, phones and notes; dates of birth in any usual form; secrets."""
        hits = [m.group(0) for m in CANARY.finditer(text)]
        hits += [d for d in DATE_LIKE.findall(text) if d in self.birthdays]
        return hits + [s for s in self.secrets if s in text]


def needles_for(sandbox: Any, secrets: list[str]) -> Needles:
    """The sandbox's students' dates of birth, its issued tokens, and `secrets`."""
    needles = Needles(secrets={s for s in secrets if s})
    for student in sandbox.students():
        dob = dt.date.fromisoformat(str(student["DOB"]))
        needles.birthdays |= {dob.isoformat(), dob.strftime("%m/%d/%Y"), dob.strftime("%Y%m%d")}
    with sandbox.store.lock:
        needles.secrets |= {
            str(r[0]) for r in sandbox.store.conn.execute("SELECT * FROM SANDBOX_TOKENS")
        }
    return needles

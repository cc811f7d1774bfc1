"""The grant-reporting table: students referred, and who received services, by school and partner.

School mental-health grants (SAMHSA's Project AWARE and its predecessors) report the number of
students referred to mental-health services and the number and percentage of them who received
services after the referral. Students are counted, not referrals: a student referred twice to the
same partner at the same school counts once there, and once in every subtotal that holds them.
"Received services" means at least one of the student's referrals in that cell has ACCESS_RESULT
`yes`. Because students are counted once per subtotal, subtotals need not be the sum of their rows;
the suppression lines still treat them as totals, which can only hide more.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable, Mapping, Sequence

from documents.suppression import CountGrid, Line

__all__ = ["grant_table", "NO_SCHOOL", "ALL_SCHOOLS", "ALL_PARTNERS"]

Row = Mapping[str, object]
NO_SCHOOL = "School not recorded"
ALL_SCHOOLS = "All schools"
ALL_PARTNERS = "All partners"
_COLUMNS = ("Students referred", "Students who received services")


def _text(row: Row, key: str) -> str:
    return str(row.get(key) or "").strip()


class _Students:
    """Distinct students referred, and those who received services, per (school, partner) cell."""

    def __init__(self) -> None:
        self.referred: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.received: dict[tuple[str, str], set[str]] = defaultdict(set)

    def add(self, keys: Iterable[tuple[str, str]], student: str, received: bool) -> None:
        for key in keys:
            self.referred[key].add(student)
            if received:
                self.received[key].add(student)

    def counts(self, key: tuple[str, str]) -> tuple[int, int]:
        return len(self.referred.get(key, ())), len(self.received.get(key, ()))


def grant_table(
    referrals: Sequence[Row],
    partner_label: Callable[[str], str],
    partner_order: Callable[[Iterable[str]], list[str]],
    student_key: Callable[[Row], str],
) -> CountGrid:
    """Rows: each school's partners and the school total, then each partner over all schools, then
    all schools and partners."""
    students = _Students()
    schools: set[str] = set()
    partners: set[str] = set()
    for row in referrals:
        school = _text(row, "school_name") or _text(row, "schoolid") or NO_SCHOOL
        partner = partner_label(_text(row, "partner_id"))
        schools.add(school)
        partners.add(partner)
        keys = [
            (school, partner),
            (school, ALL_PARTNERS),
            (ALL_SCHOOLS, partner),
            (ALL_SCHOOLS, ALL_PARTNERS),
        ]
        students.add(keys, student_key(row), _text(row, "access_result") == "yes")
    partner_names = [p for p in partner_order(partners) if p in partners]
    labels: list[tuple[str, str]] = []
    for school in sorted(schools):
        labels += [(school, p) for p in partner_names if (school, p) in students.referred]
        labels.append((school, ALL_PARTNERS))
    labels += [(ALL_SCHOOLS, p) for p in partner_names]
    labels.append((ALL_SCHOOLS, ALL_PARTNERS))
    index = {label: i for i, label in enumerate(labels)}
    return CountGrid(
        key="grant",
        title="Grant reporting: students referred to mental-health services and access to services",
        row_header=("School", "Partner"),
        row_labels=tuple(labels),
        col_labels=_COLUMNS,
        counts=tuple(students.counts(label) for label in labels),
        lines=_lines(labels, index),
        total_rows=frozenset(
            i for (s, p), i in index.items() if p == ALL_PARTNERS or s == ALL_SCHOOLS
        ),
        note="Students are counted once per row, not once per referral. Received services: at "
        "least "
        "one referral in the row reached ACCESS_RESULT yes (attended, in service or completed).",
        percents=(("% who received services", 1, 0),),
    )


def _lines(
    labels: Sequence[tuple[str, str]], index: Mapping[tuple[str, str], int]
) -> tuple[Line, ...]:
    """Each school's total over its partner rows, each partner's total over its school rows, and
    the grand total over the school totals and over the partner totals."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for school, partner in labels:
        if school != ALL_SCHOOLS and partner != ALL_PARTNERS:
            groups[(school, ALL_PARTNERS)].append(index[(school, partner)])
            groups[(ALL_SCHOOLS, partner)].append(index[(school, partner)])
    lines: list[Line] = []
    for total, parts in groups.items():
        lines += [
            Line((index[total], c), tuple((r, c) for r in parts)) for c in range(len(_COLUMNS))
        ]
    grand = index[(ALL_SCHOOLS, ALL_PARTNERS)]
    school_totals = [i for (s, p), i in index.items() if p == ALL_PARTNERS and s != ALL_SCHOOLS]
    partner_totals = [i for (s, p), i in index.items() if s == ALL_SCHOOLS and p != ALL_PARTNERS]
    for parts in (school_totals, partner_totals):
        lines += [Line((grand, c), tuple((r, c) for r in parts)) for c in range(len(_COLUMNS))]
    return tuple(lines)

"""The report's numbers, computed from plain rows: pure functions, no I/O, no suppression yet.

Inputs are the row dicts the connector's PowerQueries produce (plugin/queries.py): referral rows
(`referral_date`, `partner_id`, `status`, `status_reason`, `first_service_date`, `access_result`,
`studentsdcid`, `school_name`, ...) and visit rows (`visit_date`, `purpose`, `services`, `tier`,
`source`, `studentsdcid`, ...). Only codes, dates and DCIDs are read: names, student numbers and
dates of birth never enter the result, so no renderer can show them.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Literal, Mapping, Sequence

from foundation.catalogue import Catalogue
from foundation.config import Partner
from documents.report_grant import ALL_PARTNERS, ALL_SCHOOLS, NO_SCHOOL, grant_table
from documents.suppression import MIN_SHOWN, CellRef, CountGrid, Line, Link

__all__ = [
    "Period",
    "Median",
    "ReportData",
    "FUNNEL_STAGES",
    "DAY_BUCKETS",
    "NO_PARTNER",
    "school_year",
    "parse_period",
    "compute_report",
    "report_links",
    "SUMMARY_REFERRALS",
    "SUMMARY_VISITS",
    "VISIT_TABLES",
]

Row = Mapping[str, object]
FUNNEL_STAGES = ("Referred", "Sent", "Accepted", "Attended", "Accessed service")
_ACCEPTED = frozenset({"accepted", "scheduled", "attended", "in_service", "completed"})
_ATTENDED = frozenset({"attended", "in_service", "completed"})
DAY_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-7 days", 0, 7),
    ("8-14 days", 8, 14),
    ("15-30 days", 15, 30),
    ("31-60 days", 31, 60),
    ("More than 60 days", 61, None),
)
NO_PARTNER = "School staff (no partner)"
NOT_RECORDED = "Not recorded"
SUMMARY_REFERRALS = "Referrals in the period"
SUMMARY_VISITS = "Support visits in the period"
VISIT_TABLES = ("visits_by_month", "visits_by_purpose", "visits_by_tier", "visits_by_school")
"""Visits tables whose rows partition the visits: their Total rows are the same figures."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


@dataclass(frozen=True)
class Median:
    label: str
    n: int
    median_days: float | None


@dataclass(frozen=True)
class ReportData:
    period: Period
    summary: CountGrid
    funnel: CountGrid
    days_to_service: CountGrid
    medians: tuple[Median, ...]
    held: CountGrid
    visits_by_month: CountGrid
    visits_by_purpose: CountGrid
    visits_by_service: CountGrid
    visits_by_tier: CountGrid
    visits_by_school: CountGrid
    grant: CountGrid
    median_days: CountGrid
    links: tuple[Link, ...] = ()
    """How figures of different tables relate (see `report_links`), for suppression."""

    def grids(self) -> dict[str, CountGrid]:
        """Every count table of the report, by key (the median table's counts included)."""
        names = (
            "summary", "funnel", "days_to_service", "median_days", "held", *VISIT_TABLES,
            "visits_by_service", "grant",
        )
        return {name: getattr(self, name) for name in names}


def school_year(today: dt.date) -> Period:
    """The school year holding `today`: July 1 to June 30."""
    start_year = today.year if today.month >= 7 else today.year - 1
    return Period(dt.date(start_year, 7, 1), dt.date(start_year + 1, 6, 30))


def parse_period(start: str | None, end: str | None, today: dt.date) -> Period:
    """--from/--to (YYYY-MM-DD); a missing end comes from this school year. ValueError if bad."""
    default = school_year(today)
    period = Period(
        dt.date.fromisoformat(start) if start else default.start,
        dt.date.fromisoformat(end) if end else default.end,
    )
    if period.end < period.start:
        raise ValueError(f"the period ends ({period.end}) before it starts ({period.start})")
    return period


def _date(value: object) -> dt.date | None:
    text = str(value or "").strip()[:10]
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _text(row: Row, key: str) -> str:
    return str(row.get(key) or "").strip()


def _student(row: Row) -> str:
    return _text(row, "studentsdcid") or _text(row, "student_dcid") or f"row:{_text(row, 'id')}"


class _Labels:
    """Catalogue labels for codes, and partner names for partner ids and visit sources."""

    def __init__(self, catalogue: Catalogue, partners: Sequence[Partner]) -> None:
        self.catalogue = catalogue
        self.partners = {p.id: p.name for p in partners}

    def choice(self, list_name: str, code: str) -> str:
        return self.catalogue.choice(list_name).label_for(code) if code else NOT_RECORDED

    def partner(self, partner_id: str) -> str:
        if not partner_id:
            return NO_PARTNER
        return self.partners.get(partner_id, f"{partner_id} (not in configuration)")

    def source(self, source: str) -> str:
        if source.startswith("partner:"):
            return self.partner(source.split(":", 1)[1])
        return "School staff" if source in ("school", "") else source

    def partner_order(self, seen: Iterable[str]) -> list[str]:
        configured = [name for name in self.partners.values()]
        return configured + sorted(set(seen) - set(configured))


def _crosstab(
    key: str,
    title: str,
    row_header: str,
    table: Mapping[str, Counter[str]],
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    totals: Literal["both", "rows", "none"] = "both",
    note: str = "",
) -> CountGrid:
    """Rows x columns of counts, with a Total column ("rows") and a Total row too ("both").

    A Total row is added only where the rows partition the items (one row per item); each total
    and the cells it sums form a suppression line.
    """
    counts = [[table.get(r, Counter())[c] for c in cols] for r in rows]
    labels = [(r,) for r in rows]
    headings = list(cols)
    lines: list[Line] = []
    total_rows: set[int] = set()
    nr, nc = len(rows), len(cols)
    if totals in ("rows", "both"):
        for r, row in enumerate(counts):
            row.append(sum(row))
            lines.append(Line((r, nc), tuple((r, c) for c in range(nc))))
        headings.append("Total")
    if totals == "both":
        counts.append([sum(counts[r][c] for r in range(nr)) for c in range(nc + 1)])
        labels.append(("Total",))
        lines.append(Line((nr, nc), tuple((nr, c) for c in range(nc))))
        lines += [Line((nr, c), tuple((r, c) for r in range(nr))) for c in range(nc + 1)]
        total_rows.add(nr)
    return CountGrid(
        key,
        title,
        (row_header,),
        tuple(labels),
        tuple(headings),
        tuple(tuple(r) for r in counts),
        tuple(lines),
        frozenset(total_rows),
        note,
    )


def _in_period(rows: Iterable[Row], key: str, period: Period) -> tuple[list[Row], int]:
    kept, left_out = [], 0
    for row in rows:
        day = _date(row.get(key))
        if day is None:
            left_out += 1
        elif day in period:
            kept.append(row)
    return kept, left_out


def _depth(row: Row) -> int:
    """How far along the funnel a referral got; statuses only move forward, so stages nest."""
    status, access = _text(row, "status"), _text(row, "access_result")
    if access == "yes":
        return 4
    if status in _ATTENDED:
        return 3
    if status in _ACCEPTED:
        return 2
    return 1 if status not in ("", "new") else 0


def _funnel(referrals: Sequence[Row], labels: _Labels) -> CountGrid:
    by_partner: dict[str, list[int]] = defaultdict(lambda: [0] * len(FUNNEL_STAGES))
    for row in referrals:
        if not _text(row, "partner_id"):
            continue
        reached = by_partner[labels.partner(_text(row, "partner_id"))]
        for stage in range(_depth(row) + 1):
            reached[stage] += 1
    names = labels.partner_order(by_partner)
    counts = [tuple(by_partner.get(n, [0] * len(FUNNEL_STAGES))) for n in names]
    total = tuple(sum(c[s] for c in counts) for s in range(len(FUNNEL_STAGES)))
    nr = len(names)
    lines = tuple(
        Line((nr, s), tuple((r, s) for r in range(nr))) for s in range(len(FUNNEL_STAGES))
    )
    return CountGrid(
        "funnel",
        "Referral funnel (referrals to partners)",
        ("Partner",),
        (*((n,) for n in names), ("All partners",)),
        FUNNEL_STAGES,
        (*counts, total),
        lines,
        frozenset({nr}),
        "Each referral is counted at every stage it reached. Referrals served by school staff "
        "(no partner) are not sent and appear only in the grant table.",
        percents=(("Accessed service, % of referred", len(FUNNEL_STAGES) - 1, 0),),
    )


def _days(row: Row) -> int | None:
    start, first = _date(row.get("referral_date")), _date(row.get("first_service_date"))
    if start is None or first is None or first < start:
        return None
    return (first - start).days


def _bucket(days: int) -> str:
    for label, low, high in DAY_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    raise AssertionError(days)


def _days_to_service(
    referrals: Sequence[Row], labels: _Labels
) -> tuple[CountGrid, tuple[Median, ...]]:
    per_partner: dict[str, list[int]] = defaultdict(list)
    for row in referrals:
        days = _days(row)
        if days is not None:
            per_partner[labels.partner(_text(row, "partner_id"))].append(days)
    all_days = [d for ds in per_partner.values() for d in ds]
    table = {"All referrals": Counter(_bucket(d) for d in all_days)}
    grid = _crosstab(
        "days_to_service",
        "Time from referral to first service",
        "Referrals",
        table,
        ["All referrals"],
        [b[0] for b in DAY_BUCKETS],
        totals="rows",
        note="Referrals with a first service date on or after the referral date.",
    )
    names = [n for n in labels.partner_order(per_partner) if n in per_partner]
    medians = [Median(n, len(per_partner[n]), statistics.median(per_partner[n])) for n in names]
    medians.append(
        Median("All referrals", len(all_days), statistics.median(all_days) if all_days else None)
    )
    return grid, tuple(medians)


def _median_grid(medians: Sequence[Median]) -> CountGrid:
    """Referrals with a first service date per partner (the medians' counts) and in all."""
    n = len(medians)
    return CountGrid(
        "median_days",
        "Median days from referral to first service",
        ("Partner",),
        tuple((m.label,) for m in medians),
        ("Referrals with a first service date",),
        tuple((m.n,) for m in medians),
        (Line((n - 1, 0), tuple((r, 0) for r in range(n - 1))),) if n > 1 else (),
        frozenset({n - 1}),
        f"A median is shown only when it rests on at least {MIN_SHOWN} referrals.",
    )


def _held(referrals: Sequence[Row], labels: _Labels) -> CountGrid:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    partners: set[str] = set()
    for row in referrals:
        if (
            _text(row, "status") in ("", "new")
            and _text(row, "partner_id")
            and _text(row, "status_reason")
        ):
            partner = labels.partner(_text(row, "partner_id"))
            partners.add(partner)
            table[_text(row, "status_reason")][partner] += 1
    cols = [p for p in labels.partner_order(partners) if p in partners]
    return _crosstab(
        "held",
        "Referrals held back, by reason",
        "Reason",
        table,
        sorted(table),
        cols,
        note="Referrals still waiting to be sent (status New), by the reason recorded.",
    )


def _visit_table(
    visits: Sequence[Row],
    labels: _Labels,
    key: str,
    title: str,
    row_header: str,
    keys_of: Callable[[Row], list[str]],
    order: Sequence[str] | None = None,
    *,
    totals: Literal["both", "rows", "none"] = "both",
    note: str = "",
) -> CountGrid:
    table: dict[str, Counter[str]] = defaultdict(Counter)
    sources: set[str] = set()
    for row in visits:
        source = labels.source(_text(row, "source"))
        sources.add(source)
        for k in keys_of(row):
            table[k][source] += 1
    school_first = ["School staff"] if "School staff" in sources else []
    cols = school_first + [
        s for s in labels.partner_order(sources - {"School staff"}) if s in sources
    ]
    rows = list(order) if order is not None else sorted(table)
    return _crosstab(key, title, row_header, table, rows, cols, totals=totals, note=note)


def _months(visits: Sequence[Row]) -> list[str]:
    months = sorted({_text(v, "visit_date")[:7] for v in visits})
    if not months:
        return []
    year, month = map(int, months[0].split("-"))
    out, last = [], months[-1]
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _codes(value: str) -> list[str]:
    return [c.strip() for c in value.split(",") if c.strip()]


def _ordered(labels: _Labels, list_name: str, seen: Iterable[str]) -> list[str]:
    known = [labels.choice(list_name, c) for c in labels.catalogue.choice(list_name).codes]
    seen = set(seen)
    return [k for k in known if k in seen] + sorted(seen - set(known))


def _school_of(referrals: Sequence[Row]) -> dict[str, str]:
    schools: dict[str, str] = {}
    for row in referrals:
        name = _text(row, "school_name") or _text(row, "schoolid")
        if name:
            schools.setdefault(_student(row), name)
    return schools


def _visit_tables(
    visits: Sequence[Row], all_referrals: Sequence[Row], labels: _Labels
) -> dict[str, CountGrid]:
    schools = _school_of(all_referrals)

    def school(v: Row) -> list[str]:
        return [_text(v, "school_name") or schools.get(_student(v), NO_SCHOOL)]

    purpose = lambda v: [labels.choice("purpose", _text(v, "purpose"))]  # noqa: E731
    tier = lambda v: [labels.choice("tier", _text(v, "tier"))]  # noqa: E731
    service = lambda v: [labels.choice("service", c) for c in _codes(_text(v, "services"))]  # noqa: E731
    seen = lambda f: {k for v in visits for k in f(v)}  # noqa: E731
    return {
        "visits_by_month": _visit_table(
            visits,
            labels,
            "visits_by_month",
            "Visits by month",
            "Month",
            lambda v: [_text(v, "visit_date")[:7]],
            _months(visits),
        ),
        "visits_by_purpose": _visit_table(
            visits,
            labels,
            "visits_by_purpose",
            "Visits by purpose",
            "Purpose",
            purpose,
            _ordered(labels, "purpose", seen(purpose)),
        ),
        "visits_by_service": _visit_table(
            visits,
            labels,
            "visits_by_service",
            "Services provided during visits",
            "Service",
            service,
            _ordered(labels, "service", seen(service)),
            totals="rows",
            note="A visit can include several services, so the rows do not add up to the visits.",
        ),
        "visits_by_tier": _visit_table(
            visits,
            labels,
            "visits_by_tier",
            "Visits by tier",
            "Tier",
            tier,
            _ordered(labels, "tier", seen(tier)),
        ),
        "visits_by_school": _visit_table(
            visits,
            labels,
            "visits_by_school",
            "Visits by school",
            "School",
            school,
            note="A visit's school is the one on the student's referral rows, when there is one.",
        ),
    }


def compute_report(
    referrals: Iterable[Row],
    visits: Iterable[Row],
    *,
    partners: Sequence[Partner],
    catalogue: Catalogue,
    period: Period,
) -> ReportData:
    """Every number in the report, exact (suppression happens when it is rendered)."""
    labels = _Labels(catalogue, partners)
    all_referrals = list(referrals)
    in_period, bad_referrals = _in_period(all_referrals, "referral_date", period)
    visit_rows, bad_visits = _in_period(list(visits), "visit_date", period)
    days_grid, medians = _days_to_service(in_period, labels)
    summary = {
        SUMMARY_REFERRALS: len(in_period),
        SUMMARY_VISITS: len(visit_rows),
        "Referral rows left out (no valid referral date)": bad_referrals,
        "Visit rows left out (no valid visit date)": bad_visits,
    }
    data = ReportData(
        period=period,
        summary=_crosstab(
            "summary",
            "Summary",
            "",
            {k: Counter({"Count": v}) for k, v in summary.items()},
            list(summary),
            ["Count"],
            totals="none",
        ),
        funnel=_funnel(in_period, labels),
        days_to_service=days_grid,
        medians=medians,
        held=_held(in_period, labels),
        grant=grant_table(in_period, labels.partner, labels.partner_order, _student),
        median_days=_median_grid(medians),
        **_visit_tables(visit_rows, all_referrals, labels),
    )
    return replace(data, links=report_links(data))


def _ref(grid: CountGrid, row: tuple[str, ...], col: str) -> CellRef | None:
    if row not in grid.row_labels or col not in grid.col_labels:
        return None
    return (grid.key, grid.row_labels.index(row), grid.col_labels.index(col))


def _terms(*pairs: tuple[int, CellRef | None]) -> tuple[tuple[int, CellRef], ...]:
    return tuple((coef, ref) for coef, ref in pairs if ref is not None)


def report_links(data: ReportData) -> tuple[Link, ...]:
    """The relations between tables a reader can use to narrow a hidden figure.

    Same figure: the Total rows of the visits tables that partition the visits (month,
    purpose, tier, school) and the summary's visit count; the time-to-service Total and the
    median table's "All referrals". Ties (bounds written as "<= 0", equalities in the usual case,
    which a reader may guess when the data makes them hold): funnel "Referred" (all partners) +
    the school-staff students the grant table counts <= summary referrals; each partner's held
    total <= its "Referred" minus "Sent" (equal when every unsent referral has a reason); the
    grant table's students referred and served per partner <= the funnel's "Referred" and
    "Accessed service" (equal when each student has one referral); a partner's referrals with a
    first service date <= its "Accessed service". Bounds: funnel stages nest; students served <=
    students referred; time-to-service and grant totals <= the referrals in the period; a
    service count <= the visits of its source. A row absent from its table (count 0) drops out
    of the terms, so a tie can pin the figure left alone in it (a partner with no grant row had
    no referral: its funnel "Referred" is 0 to every reader).
    """
    links: list[Link] = []
    visits = [getattr(data, name) for name in VISIT_TABLES]
    first = visits[0]
    total_row = ("Total",)
    for grid in visits[1:]:
        for col in first.col_labels:
            a, b = _ref(first, total_row, col), _ref(grid, total_row, col)
            if a and b:
                links.append(Link("same", ((1, a), (1, b))))
    grand_visits = _ref(first, total_row, "Total")
    summary_visits = _ref(data.summary, (SUMMARY_VISITS,), "Count")
    if grand_visits and summary_visits:
        links.append(Link("same", ((1, grand_visits), (1, summary_visits))))
    days_total = _ref(data.days_to_service, ("All referrals",), "Total")
    median_all = _ref(data.median_days, ("All referrals",), "Referrals with a first service date")
    if days_total and median_all:
        links.append(Link("same", ((1, days_total), (1, median_all))))

    referred, sent, accessed = FUNNEL_STAGES[0], FUNNEL_STAGES[1], FUNNEL_STAGES[-1]
    all_partners = ("All partners",)
    summary_refs = _ref(data.summary, (SUMMARY_REFERRALS,), "Count")
    funnel_refs = _ref(data.funnel, all_partners, referred)
    grant_cols = data.grant.col_labels
    staff = _ref(data.grant, (ALL_SCHOOLS, NO_PARTNER), grant_cols[0])
    links.append(Link("tie", _terms((1, funnel_refs), (1, staff), (-1, summary_refs))))
    for (label,) in data.funnel.row_labels:
        row = (label,)
        for earlier, later in zip(FUNNEL_STAGES, FUNNEL_STAGES[1:]):
            links.append(
                Link("at_most", _terms((1, _ref(data.funnel, row, later)),
                                       (-1, _ref(data.funnel, row, earlier))))
            )
        # a partner missing from the held table has held nothing: Referred = Sent, guessably
        held_col = "Total" if row == all_partners else label
        held = _ref(data.held, total_row, held_col)
        links.append(Link("tie", _terms((1, held), (-1, _ref(data.funnel, row, referred)),
                                        (1, _ref(data.funnel, row, sent)))))
        grant_row = (ALL_SCHOOLS, ALL_PARTNERS if row == all_partners else label)
        if row != all_partners:  # referrals with a first service date: those that accessed it
            n_served = _ref(data.median_days, row, data.median_days.col_labels[0])
            links.append(Link("tie", _terms((1, n_served), (-1, _ref(data.funnel, row, accessed)))))
            for col, stage in zip(grant_cols, (referred, accessed)):
                links.append(Link("tie", _terms((1, _ref(data.grant, grant_row, col)),
                                                (-1, _ref(data.funnel, row, stage)))))
    for row in data.grant.row_labels:
        links.append(Link("at_most", _terms((1, _ref(data.grant, row, grant_cols[1])),
                                            (-1, _ref(data.grant, row, grant_cols[0])))))
    grant_all = _ref(data.grant, (ALL_SCHOOLS, ALL_PARTNERS), grant_cols[0])
    links.append(Link("tie", _terms((1, grant_all), (-1, summary_refs))))  # one referral each
    links.append(Link("at_most", _terms((1, days_total), (-1, summary_refs))))
    service = data.visits_by_service
    for row in service.row_labels:
        for col in service.col_labels:
            bound = _ref(first, total_row, col)
            links.append(Link("at_most", _terms((1, _ref(service, row, col)), (-1, bound))))
    return tuple(link for link in links if link.terms)

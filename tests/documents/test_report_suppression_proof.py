"""No suppressed figure of any report can be worked out exactly from what the report shows.

For a generated report, every count the CSV shows is a constant and every hidden count ("<10": 0 to
9, "n/s": 10 or more) an integer unknown. The constraints are every relation the report states or a
reader can guess (docs/documents.md, "What a reader can combine"), written here from the tables'
meaning, independently of the product's own list: table totals, the same figure in two tables,
funnel stages nesting, subtotals of distinct students, and the relations between tables (held vs
Referred minus Sent, summary vs funnel vs school staff, grant vs funnel). Where the data makes an
inequality an equality in the usual case (every student referred once, every unsent referral held
with a reason), a reader may guess the equality when it holds, so the test uses it then; pure
bounds (funnel stages nest, served <= referred, a part <= its subtotal) stay inequalities.

A hidden figure is protected when its minimum and maximum over all integer solutions differ. Both
are computed exactly as integer programs by HiGHS (scipy.optimize.milp); a hand-written branch and
bound used before gave up after minutes on some 20-referral reports that HiGHS settles in a second."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from documents.report import render_csv
from documents.report_data import Period, compute_report
from foundation.config import parse_config_text

ROOT = Path(__file__).parents[2]
CONFIG = parse_config_text(
    (ROOT / "examples" / "ssp.toml").read_text("utf-8"), source="ssp.toml", base_dir=ROOT
)
PERIOD = Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
CROSSTABS = ("held", "visits_by_month", "visits_by_purpose", "visits_by_tier", "visits_by_school")
STAGES = ("Referred", "Sent", "Accepted", "Attended", "Accessed service")
ALL_PARTNERS, ALL_SCHOOLS, STAFF = "All partners", "All schools", "School staff (no partner)"
REFERRED, RECEIVED = "Students referred", "Students who received services"
MEDIAN_N = "Referrals with a first service date"

# -- the reader's unknowns and constraints as an integer program ------------------------------------

Key = tuple[str, str, str]  # (table, row, column) as the CSV shows them


@dataclass
class Problem:
    """Integer unknowns within [lo, hi]; constraints sum(coef * x) + const (== or <=) 0."""

    lo: list[int] = field(default_factory=list)
    hi: list[int] = field(default_factory=list)
    rows: list[tuple[dict[int, int], int, bool]] = field(default_factory=list)  # (coefs, k, eq)

    def add(self, coefs: dict[int, int], const: int, eq: bool) -> None:
        coefs = {v: c for v, c in coefs.items() if c}
        if not coefs:
            assert (const == 0) if eq else (const <= 0), "the report contradicts itself"
            return
        self.rows.append((coefs, const, eq))

    def holds_at(self, point: list[int]) -> bool:
        """Whether `point` satisfies every bound and constraint (plain arithmetic)."""
        if any(not lo <= x <= hi for lo, x, hi in zip(self.lo, point, self.hi, strict=True)):
            return False
        for coefs, const, eq in self.rows:
            value = sum(c * point[v] for v, c in coefs.items()) + const
            if value > 0 or (eq and value != 0):
                return False
        return True

    def _program(self) -> tuple[list[LinearConstraint], Bounds, np.ndarray]:
        matrix = np.zeros((len(self.rows), len(self.lo)))
        lower, upper = [], []
        for i, (coefs, const, eq) in enumerate(self.rows):
            for u, c in coefs.items():
                matrix[i, u] = c
            lower.append(-const if eq else -np.inf)
            upper.append(-const)
        constraints = [LinearConstraint(matrix, lower, upper)] if self.rows else []
        return constraints, Bounds(self.lo, self.hi), np.ones(len(self.lo))

    def _optimum(self, v: int, sign: int, program) -> list[int]:
        """An integer solution where `sign * x_v` is smallest."""
        constraints, bounds, integrality = program
        objective = np.zeros(len(self.lo))
        objective[v] = sign
        result = milp(objective, constraints=constraints, integrality=integrality, bounds=bounds)
        assert result.status == 0, f"the integer program was not solved: {result.message}"
        return [round(x) for x in result.x]

    def extremes(self, v: int) -> tuple[int, int]:
        """The smallest and largest value of unknown `v` over all integer solutions."""
        program = self._program()
        return self._optimum(v, 1, program)[v], self._optimum(v, -1, program)[v]

    def pinned(self, truth: list[int]) -> list[int]:
        """The unknowns that take their `truth` value in every integer solution. Each solution
        found (smallest, then largest value of an unknown not yet seen to move) clears every
        unknown it gives another value, so most need no program of their own."""
        program = self._program()
        pending = set(range(len(self.lo)))
        for sign in (1, -1):
            for v in sorted(pending):
                if v in pending:
                    point = self._optimum(v, sign, program)
                    pending -= {u for u in pending if point[u] != truth[u]}
        return sorted(pending)


# -- the report as a reader sees it -----------------------------------------------------------------


class Reader:
    """Shown figures as constants, hidden ones as unknowns, and the relations between them."""

    def __init__(self, shown_csv: str, truth: dict[Key, int], ceiling: int) -> None:
        self.truth = truth
        self.problem = Problem()
        self.var: dict[Key, int] = {}
        self.shown: dict[Key, int] = {}
        self.keys: set[Key] = set()
        for row in csv.DictReader(io.StringIO(shown_csv)):
            column = row["column"]
            if "%" in column or column == "Median days":
                continue  # derived figures: shown only from shown counts
            key = (row["table"], row["row"], column)
            self.keys.add(key)
            text, true = row["value"], truth[key]
            if text == "<10":  # 1 to 9, or a zero hidden to protect another count
                assert 0 <= true <= 9, (key, true)
                self._unknown(key, 0, 9)
            elif text == "n/s":
                assert true >= 10, (key, true)  # one marker, one meaning: n/s is 10 or more
                self._unknown(key, 10, ceiling)
            else:
                assert text == str(true) and (true == 0 or true >= 10), (key, text, true)
                self.shown[key] = true

    def _unknown(self, key: Key, lo: int, hi: int) -> None:
        self.var[key] = len(self.problem.lo)
        self.problem.lo.append(lo)
        self.problem.hi.append(hi)

    def has(self, key: Key) -> bool:
        return key in self.keys

    def relate(self, terms: list[tuple[int, Key]], *, eq: bool, const: int = 0) -> None:
        """sum(coef * figure) + const == 0 (eq) or <= 0, with missing figures left out."""
        coefs: dict[int, int] = defaultdict(int)
        for coef, key in terms:
            if key not in self.keys:
                continue
            if key in self.var:
                coefs[self.var[key]] += coef
            else:
                const += coef * self.shown[key]
        self.problem.add(dict(coefs), const, eq)

    def true_sum(self, terms: list[tuple[int, Key]]) -> int:
        return sum(c * self.truth.get(k, 0) for c, k in terms)

    def at_most(
        self, small: list[Key], big: list[Key], minus: list[Key] = (), *, guessable: bool = False
    ) -> None:
        """sum(small) <= sum(big) - sum(minus). A `guessable` relation is an equality in the
        usual case (each student referred once, each unsent referral held with a reason): when
        the data makes it one, the reader is assumed to guess so."""
        terms = [(1, k) for k in small] + [(-1, k) for k in big] + [(1, k) for k in minus]
        self.relate(terms, eq=guessable and self.true_sum(terms) == 0)

    def pinned(self) -> list[Key]:
        """Hidden figures that every integer solution gives their true value: worked out."""
        keys = sorted(self.var, key=self.var.get)
        return [keys[v] for v in self.problem.pinned([self.truth[k] for k in keys])]


def _rows(reader: Reader, table: str) -> list[str]:
    return sorted({r for t, r, _ in reader.keys if t == table})


def _cols(reader: Reader, table: str) -> list[str]:
    return sorted({c for t, _, c in reader.keys if t == table})


def add_relations(r: Reader) -> None:
    """Every relation a reader can use (docs/documents.md), from the tables' meaning."""
    for table in (*CROSSTABS, "visits_by_service", "days_to_service"):
        cols = [c for c in _cols(r, table) if c != "Total"]
        for row in _rows(r, table):
            r.relate([(1, (table, row, "Total"))] + [(-1, (table, row, c)) for c in cols], eq=True)
        if table in CROSSTABS:
            rows = [x for x in _rows(r, table) if x != "Total"]
            for col in _cols(r, table):
                r.relate([(1, (table, "Total", col))] + [(-1, (table, x, col)) for x in rows], eq=True)
    # the visits tables partition the same visits: their Total rows are the same figures
    for table in CROSSTABS[2:]:
        for col in _cols(r, "visits_by_month"):
            r.relate([(1, ("visits_by_month", "Total", col)), (-1, (table, "Total", col))], eq=True)
    r.relate([(1, ("visits_by_month", "Total", "Total")),
              (-1, ("summary", "Support visits in the period", "Count"))], eq=True)
    for row in _rows(r, "visits_by_service"):
        for col in _cols(r, "visits_by_service"):
            r.at_most([("visits_by_service", row, col)], [("visits_by_month", "Total", col)])
    # funnel: partners add up to All partners; stages nest
    partners = [x for x in _rows(r, "funnel") if x != ALL_PARTNERS]
    for stage in STAGES:
        r.relate([(1, ("funnel", ALL_PARTNERS, stage))]
                 + [(-1, ("funnel", x, stage)) for x in partners], eq=True)
    for row in _rows(r, "funnel"):
        for earlier, later in zip(STAGES, STAGES[1:]):
            r.at_most([("funnel", row, later)], [("funnel", row, earlier)])
    # held: each partner's held total (0 when the partner is not in the held table) is at most
    # its referrals not sent
    for row in _rows(r, "funnel"):
        column = "Total" if row == ALL_PARTNERS else row
        r.at_most([("held", "Total", column)], [("funnel", row, "Referred")],
                  minus=[("funnel", row, "Sent")], guessable=True)
    # summary: referrals = referrals to partners + referrals kept by school staff
    refs = ("summary", "Referrals in the period", "Count")
    r.at_most([("funnel", ALL_PARTNERS, "Referred")], [refs])
    r.at_most([("grant", f"{ALL_SCHOOLS} / {STAFF}", REFERRED)], [refs],
              minus=[("funnel", ALL_PARTNERS, "Referred")], guessable=True)
    # medians: partners add up; the same count as the time-to-service Total
    median_rows = [x for x in _rows(r, "median_days") if x != "All referrals"]
    if median_rows:
        r.relate([(1, ("median_days", "All referrals", MEDIAN_N))]
                 + [(-1, ("median_days", x, MEDIAN_N)) for x in median_rows], eq=True)
    r.relate([(1, ("days_to_service", "All referrals", "Total")),
              (-1, ("median_days", "All referrals", MEDIAN_N))], eq=True)
    r.at_most([("days_to_service", "All referrals", "Total")], [refs])
    for row in median_rows:  # a referral with a first service date has accessed the service
        if row in partners:
            r.at_most([("median_days", row, MEDIAN_N)], [("funnel", row, "Accessed service")],
                      guessable=True)
    # grant: distinct students; subtotals between the largest part and the sum of the parts
    grant_rows = [tuple(x.split(" / ")) for x in _rows(r, "grant")]
    groups: dict[str, list[str]] = defaultdict(list)
    for school, partner in grant_rows:
        if school != ALL_SCHOOLS and partner != ALL_PARTNERS:
            groups[f"{school} / {ALL_PARTNERS}"].append(f"{school} / {partner}")
            groups[f"{ALL_SCHOOLS} / {partner}"].append(f"{school} / {partner}")
        elif partner == ALL_PARTNERS and school != ALL_SCHOOLS:
            groups[f"{ALL_SCHOOLS} / {ALL_PARTNERS}"].append(f"{school} / {partner}")
    for total, parts in groups.items():
        for col in (REFERRED, RECEIVED):
            r.at_most([("grant", total, col)], [("grant", p, col) for p in parts], guessable=True)
            for part in parts:
                r.at_most([("grant", part, col)], [("grant", total, col)])
    for school, partner in grant_rows:
        row = f"{school} / {partner}"
        r.at_most([("grant", row, RECEIVED)], [("grant", row, REFERRED)])
        if school == ALL_SCHOOLS and partner not in (ALL_PARTNERS, STAFF):
            r.at_most([("grant", row, REFERRED)], [("funnel", partner, "Referred")], guessable=True)
            r.at_most([("grant", row, RECEIVED)], [("funnel", partner, "Accessed service")],
                      guessable=True)
    r.at_most([("grant", f"{ALL_SCHOOLS} / {ALL_PARTNERS}", REFERRED)], [refs], guessable=True)


# -- generated reports ------------------------------------------------------------------------------

STATUSES = ["new", "sent", "received", "accepted", "declined", "scheduled", "attended",
            "in_service", "completed", "unable_to_contact", "cancelled"]
_SERVED = {"attended", "in_service", "completed"}
_STOPPED = {"declined", "unable_to_contact", "cancelled"}


def _consistent(row: dict) -> dict:
    """ACCESS_RESULT and FIRST_SERVICE_DATE as the status machine sets them: yes (with the
    first service date, when known) once served, no after a stop, else pending."""
    status = row["status"]
    access = "yes" if status in _SERVED else ("no" if status in _STOPPED else "pending")
    first = row["first_service_date"] if access == "yes" else ""
    return {**row, "access_result": access, "first_service_date": first}


referral_rows = st.lists(
    st.fixed_dictionaries({
        "studentsdcid": st.integers(0, 60).map(str),
        "referral_date": st.dates(dt.date(2026, 7, 1), dt.date(2027, 6, 30)).map(dt.date.isoformat),
        "partner_id": st.sampled_from(["cgc", "cgc", "bhcare", "", "other"]),
        "status": st.sampled_from(STATUSES),
        "status_reason": st.sampled_from(["", "awaiting consent", "awaiting consent", "consent expired"]),
        "access_result": st.sampled_from(["pending", "yes", "no"]),
        "first_service_date": st.sampled_from(["", "2026-09-01", "2026-12-24", "2027-03-15"]),
        "school_name": st.sampled_from(["Xavier School", "Yale School", ""]),
    }).map(_consistent),
    max_size=45,
)
visit_rows = st.lists(
    st.fixed_dictionaries({
        "studentsdcid": st.integers(0, 60).map(str),
        "visit_date": st.dates(dt.date(2026, 7, 1), dt.date(2026, 10, 31)).map(dt.date.isoformat),
        "source": st.sampled_from(["school", "school", "partner:cgc", "partner:bhcare"]),
        "purpose": st.sampled_from(["crisis", "check_in", "check_in", ""]),
        "services": st.sampled_from(["", "individual_counseling", "family_contact,safety_planning"]),
        "tier": st.sampled_from(["1", "2", "3"]),
    }),
    max_size=45,
)


def _truth(data) -> dict[Key, int]:
    out = {}
    for key, grid in data.grids().items():
        for labels, row in zip(grid.row_labels, grid.counts, strict=True):
            for col, value in zip(grid.col_labels, row, strict=True):
                out[(key, " / ".join(labels), col)] = value
    return out


def check_report(referrals: list[dict], visits: list[dict]) -> Reader:
    data = compute_report(
        referrals, visits, partners=CONFIG.partners, catalogue=CONFIG.catalogue(), period=PERIOD
    )
    truth = _truth(data)
    reader = Reader(render_csv(data), truth, ceiling=3 * (len(referrals) + len(visits)) + 20)
    add_relations(reader)
    assert reader.problem.holds_at([truth[k] for k in reader.var]), (
        "the true figures must satisfy the reader's constraints"
    )
    worked_out = reader.pinned()
    assert not worked_out, "hidden but worked out: " + ", ".join(
        f"{key} (true value {truth[key]})" for key in worked_out)
    return reader


@settings(max_examples=500, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(referrals=referral_rows, visits=visit_rows)
def test_no_suppressed_figure_can_be_derived_from_what_the_report_shows(
    referrals: list[dict], visits: list[dict]
) -> None:
    check_report(referrals, visits)


def test_larger_reports_from_a_fixed_random_sample() -> None:
    """Hypothesis favours small reports; these are 40 fuller ones (up to 45 referrals and 45
    visits over several partners, schools, months and reasons), the same on every run."""
    rnd = random.Random(20261206)
    for _ in range(40):
        refs = [_consistent({
            "studentsdcid": str(rnd.randint(0, 60)),
            "referral_date": f"2026-{rnd.choice([7, 8, 9, 10, 11, 12]):02d}-10",
            "partner_id": rnd.choice(["cgc", "cgc", "bhcare", "", "other"]),
            "status": rnd.choice(STATUSES),
            "status_reason": rnd.choice(["", "awaiting consent", "awaiting consent", "consent expired"]),
            "access_result": "",
            "first_service_date": rnd.choice(["", "2026-09-01", "2026-12-24", "2027-03-15"]),
            "school_name": rnd.choice(["Xavier School", "Yale School", ""]),
        }) for _ in range(rnd.randint(10, 45))]
        visits = [{
            "studentsdcid": str(rnd.randint(0, 60)),
            "visit_date": f"2026-{rnd.choice([7, 8, 9, 10]):02d}-05",
            "source": rnd.choice(["school", "school", "partner:cgc", "partner:bhcare"]),
            "purpose": rnd.choice(["crisis", "check_in", "check_in", ""]),
            "services": rnd.choice(["", "individual_counseling", "family_contact,safety_planning"]),
            "tier": rnd.choice(["1", "2", "3"]),
        } for _ in range(rnd.randint(0, 45))]
        check_report(refs, visits)


def _referral(i: int, partner: str, status: str, reason: str = "", **extra: str) -> dict:
    return {
        "studentsdcid": str(i), "referral_date": "2026-10-01", "partner_id": partner,
        "status": status, "status_reason": reason, "access_result": extra.get("access", "pending"),
        "first_service_date": "", "school_name": extra.get("school", "Xavier School"),
    }


def test_issue_cases_are_protected() -> None:
    """The issue's cases 9: Referred minus Sent vs the held total; summary minus funnel vs the
    school-staff count; a "<10" next to an "n/s" with a total."""
    refs = [_referral(i, "bhcare", "sent") for i in range(12)]
    refs += [_referral(100 + i, "bhcare", "new", "awaiting consent") for i in range(2)]
    refs += [_referral(200 + i, "cgc", "completed", access="yes") for i in range(30)]
    refs += [_referral(300 + i, "", "new") for i in range(3)]  # served by school staff
    reader = check_report(refs, [])
    hidden = set(reader.var)
    assert ("held", "Total", "Bridgeport Behavioral Health Care") in hidden
    assert ("grant", f"{ALL_SCHOOLS} / {STAFF}", REFERRED) in hidden
    # what used to pin them is no longer all shown
    assert not {("funnel", "Bridgeport Behavioral Health Care", "Referred"),
                ("funnel", "Bridgeport Behavioral Health Care", "Sent")} <= set(reader.shown)
    assert not {("summary", "Referrals in the period", "Count"),
                ("funnel", ALL_PARTNERS, "Referred")} <= set(reader.shown)


def test_the_solver_finds_a_pinned_cell() -> None:
    """Guards the check itself: one hidden cell next to a shown total is pinned, and a "<10"
    beside an "n/s" whose row total is 10 pins both (0 + 10)."""
    p = Problem(lo=[1], hi=[9])
    p.add({0: 1}, -5, True)  # x + 7 = 12
    assert p.extremes(0) == (5, 5)
    q = Problem(lo=[0, 10], hi=[9, 100])
    q.add({0: 1, 1: 1}, -10, True)
    assert q.extremes(0) == (0, 0) and q.extremes(1) == (10, 10)
    r = Problem(lo=[0, 10], hi=[9, 100])
    r.add({0: 1, 1: 1}, -14, True)  # x + y = 14: x from 0 to 4
    assert r.extremes(0) == (0, 4) and not r.holds_at([5, 10]) and r.holds_at([2, 12])


def test_referrals_new_without_a_reason_leave_no_derivable_held_total() -> None:
    """Found by the random version of the property test: referrals still `new` that no run has
    given a STATUS_REASON (created after the last sync) leave the held table without rows. Its
    Total is 0 by construction, so it is shown as 0 and the funnel's Referred is protected by
    moving with the summary instead."""
    row = {"studentsdcid": "0", "referral_date": "2026-07-01", "partner_id": "cgc",
           "status": "new", "status_reason": "", "access_result": "pending",
           "first_service_date": "", "school_name": "Xavier School"}
    reader = check_report([dict(row) for _ in range(9)], [])
    assert reader.shown[("held", "Total", "Total")] == 0
    assert ("funnel", "Child Guidance Center", "Referred") in reader.var


def test_a_partner_without_referrals_keeps_a_shown_zero() -> None:
    """A partner with no referral has no grant row, so every reader knows its funnel Referred is
    0 (the random property test once found that zero hidden as `<10` to protect another
    partner's count, which protects nothing): it stays shown while the small counts around it
    are protected by other figures."""
    refs = [_referral(i, "cgc", "sent") for i in range(3)]
    refs += [_referral(10 + i, "cgc", "completed", access="yes") for i in range(11)]
    refs += [_referral(30 + i, "", "new") for i in range(2)]
    reader = check_report(refs, [])
    absent = [n for n in _rows(reader, "funnel") if n not in ("Child Guidance Center", ALL_PARTNERS)]
    assert absent, "the example configuration has partners without referrals here"
    for partner in absent:
        assert reader.shown[("funnel", partner, "Referred")] == 0
    assert ("grant", f"{ALL_SCHOOLS} / {STAFF}", REFERRED) in reader.var


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(referrals=referral_rows, visits=visit_rows)
def test_no_suppressed_figure_can_be_derived_on_random_reports(
    referrals: list[dict], visits: list[dict]
) -> None:
    """The same property on fresh random reports every run (the CI version above is fixed so a
    landing never depends on luck); a failure prints the seed to reproduce it."""
    check_report(referrals, visits)

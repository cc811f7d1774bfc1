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

A hidden figure is protected when its minimum and maximum over all integer solutions differ, i.e.
(the true values being a solution) when some solution gives it a value other than the true one.
The exact check is a small integer solver: bounds propagation over the linear constraints and
branching on the smallest domain (complete, so "infeasible" is a proof)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

# -- an exact integer feasibility solver ------------------------------------------------------------

Key = tuple[str, str, str]  # (table, row, column) as the CSV shows them


@dataclass
class Problem:
    """Unknowns with integer bounds; constraints sum(coef * x) + const (== or <=) 0."""

    lo: list[int] = field(default_factory=list)
    hi: list[int] = field(default_factory=list)
    rows: list[tuple[dict[int, int], int, bool]] = field(default_factory=list)  # (coefs, k, eq)

    def add(self, coefs: dict[int, int], const: int, eq: bool) -> None:
        coefs = {v: c for v, c in coefs.items() if c}
        if not coefs:
            assert (const == 0) if eq else (const <= 0), "the report contradicts itself"
            return
        self.rows.append((coefs, const, eq))


class GaveUp(Exception):
    pass


def _var_rows(p: Problem) -> list[list[int]]:
    rows: list[list[int]] = [[] for _ in p.lo]
    for i, (coefs, _, _) in enumerate(p.rows):
        for v in coefs:
            rows[v].append(i)
    return rows


def _propagate(p: Problem, lo: list[int], hi: list[int], queue: list[int], var_rows) -> bool:
    """Tighten bounds until no constraint can (constraints re-checked when one of their
    unknowns' bounds changes); False when some domain becomes empty."""
    waiting = set(queue)
    while queue:
        i = queue.pop()
        waiting.discard(i)
        coefs, const, eq = p.rows[i]
        for sign in (1, -1) if eq else (1,):
            # sign * (sum coef x + const) <= 0
            total_min = sign * const
            for v, c in coefs.items():
                a = sign * c
                total_min += a * (lo[v] if a > 0 else hi[v])
            if total_min > 0:
                return False
            for v, c in coefs.items():
                a = sign * c
                slack = -(total_min - a * (lo[v] if a > 0 else hi[v]))  # a * x_v <= slack
                if a > 0:
                    bound = slack // a
                    if bound >= hi[v]:
                        continue
                    hi[v] = bound
                else:
                    bound = -(slack // -a)
                    if bound <= lo[v]:
                        continue
                    lo[v] = bound
                if lo[v] > hi[v]:
                    return False
                for j in var_rows[v]:
                    if j not in waiting:
                        waiting.add(j)
                        queue.append(j)
    return True


def feasible(
    p: Problem,
    lo: list[int],
    hi: list[int],
    budget: list[int],
    hint: list[int] | None = None,
    seed: list[int] | None = None,
) -> bool:
    """Whether an integer point within [lo, hi] satisfies every constraint. Exact: a complete
    search; `hint` (a point to look near first) only orders the branches; `seed`: the unknowns
    whose bounds changed since [lo, hi] was last propagated (None: propagate everything)."""
    var_rows = _var_rows(p)
    guide = hint if hint is not None else lo
    queue = list(range(len(p.rows))) if seed is None else sorted({i for v in seed for i in var_rows[v]})
    order = _distances(p, var_rows, seed or [])
    return _search(p, lo[:], hi[:], queue, var_rows, budget, guide, order)


def _distances(p: Problem, var_rows: list[list[int]], start: list[int]) -> list[int]:
    """Steps from the `start` unknowns through shared constraints (branching near them first
    finds a consistent change, or its impossibility, early)."""
    far = len(var_rows) + 1
    dist = [far] * len(var_rows)
    todo = list(start)
    for v in start:
        dist[v] = 0
    while todo:
        nxt = []
        for v in todo:
            for i in var_rows[v]:
                for u in p.rows[i][0]:
                    if dist[u] == far:
                        dist[u] = dist[v] + 1
                        nxt.append(u)
        todo = nxt
    return dist


def _search(p, lo, hi, queue, var_rows, budget, guide, order) -> bool:
    budget[0] -= 1
    if budget[0] < 0:
        raise GaveUp
    if not _propagate(p, lo, hi, queue, var_rows):
        return False
    open_vars = [v for v in range(len(lo)) if lo[v] < hi[v] and var_rows[v]]
    if not open_vars:
        return True  # all constrained unknowns fixed, each constraint checked when it was
    v = min(open_vars, key=lambda i: (order[i], hi[i] - lo[i], i))
    near = min(max(guide[v], lo[v]), hi[v])
    for part_lo, part_hi in ((near, near), (lo[v], near - 1), (near + 1, hi[v])):
        if part_lo > part_hi:
            continue
        sub_lo, sub_hi = lo[:], hi[:]
        sub_lo[v], sub_hi[v] = part_lo, part_hi
        if _search(p, sub_lo, sub_hi, list(var_rows[v]), var_rows, budget, guide, order):
            return True
    return False


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

    def settle(self) -> None:
        """Propagate the constraints once; each question then starts from the tightened box."""
        lo, hi = self.problem.lo[:], self.problem.hi[:]
        assert _propagate(self.problem, lo, hi, list(range(len(self.problem.rows))),
                          _var_rows(self.problem)), "the true figures must fit the constraints"
        self.box = (lo, hi)

    def protected(self, key: Key) -> bool:
        """Whether an integer solution gives the hidden figure a value other than its true one.

        Both directions (below and above the true value) are searched with a growing budget, so
        an easy witness on one side is found before an exhaustive proof on the other."""
        v, true = self.var[key], self.truth[key]
        hint = [self.truth[k] for k in self.var]  # look near the true values first
        sides = []
        for lo_cut, hi_cut in ((None, true - 1), (true + 1, None)):
            lo, hi = self.box[0][:], self.box[1][:]
            if lo_cut is not None:
                lo[v] = max(lo[v], lo_cut)
            if hi_cut is not None:
                hi[v] = min(hi[v], hi_cut)
            if lo[v] <= hi[v]:
                sides.append((lo, hi))
        for budget in (500, 20_000, 2_000_000):
            undecided = []
            for lo, hi in sides:
                try:
                    if feasible(self.problem, lo, hi, [budget], hint, seed=[v]):
                        return True
                except GaveUp:
                    undecided.append((lo, hi))
            if not undecided:
                return False
            sides = undecided
        raise GaveUp(key)


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
    reader.settle()
    hint = [truth[k] for k in reader.var]
    assert feasible(reader.problem, reader.problem.lo, reader.problem.hi, [200_000], hint), (
        "the true figures must satisfy the reader's constraints"
    )
    for key in reader.var:
        assert reader.protected(key), f"{key} (true value {truth[key]}) can be worked out"
    return reader


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
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
    assert not feasible(p, [1], [4], [1000]) and not feasible(p, [6], [9], [1000])
    q = Problem(lo=[0, 10], hi=[9, 100])
    q.add({0: 1, 1: 1}, -10, True)
    assert feasible(q, q.lo, q.hi, [1000])
    assert not feasible(q, [1, 10], [9, 100], [1000]) and not feasible(q, [0, 11], [9, 100], [1000])


@pytest.mark.xfail(strict=True, reason="known gap (open in issue 10): the held table's Total over "
                   "no reason rows is 0 by construction, yet shown as <10 and counted as protected")
def test_referrals_new_without_a_reason_leave_no_derivable_held_total() -> None:
    """Found by the random version of the property test: referrals still `new` that no run has
    given a STATUS_REASON (created after the last sync) leave the held table without rows."""
    row = {"studentsdcid": "0", "referral_date": "2026-07-01", "partner_id": "cgc",
           "status": "new", "status_reason": "", "access_result": "pending",
           "first_service_date": "", "school_name": "Xavier School"}
    check_report([dict(row) for _ in range(9)], [])

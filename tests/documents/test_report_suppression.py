"""Small-count suppression for all inputs: no figure 1 to 9, no single hidden cell in a line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from connector.status import STATUSES as REFERRAL_STATUSES
from documents.charts import Bar, bar_chart, funnel_chart
from documents.report import build_report
from documents.report_data import Period
from documents.suppression import (
    MIN_SHOWN,
    PRIMARY_TEXT,
    SECONDARY_TEXT,
    Cell,
    CountGrid,
    Line,
    percent_cell,
    suppress,
)
from foundation.config import parse_config_text

ROOT = Path(__file__).parents[2]
CONFIG = parse_config_text(
    (ROOT / "examples" / "ssp.toml").read_text("utf-8"), source="ssp.toml", base_dir=ROOT
)
PERIOD = Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
ALLOWED_COUNT = re.compile(r"^(0|<10|n/s|[1-9][0-9]+)$")

STATUSES = list(REFERRAL_STATUSES)  # every status a referral row can carry

referral_rows = st.lists(
    st.fixed_dictionaries(
        {
            "studentsdcid": st.sampled_from([str(i) for i in range(40)]),
            "referral_date": st.dates(dt.date(2026, 7, 1), dt.date(2027, 6, 30)).map(
                dt.date.isoformat
            ),
            "partner_id": st.sampled_from(["cgc", "bhcare", "", "other"]),
            "status": st.sampled_from(STATUSES),
            "status_reason": st.sampled_from(["", "awaiting consent", "consent expired"]),
            "access_result": st.sampled_from(["pending", "yes", "no"]),
            "first_service_date": st.sampled_from(["", "2026-09-01", "2026-12-24", "2027-03-15"]),
            "school_name": st.sampled_from(["Xavier School", "Yale School", "Zeta School", ""]),
        }
    ),
    max_size=90,
)

visit_rows = st.lists(
    st.fixed_dictionaries(
        {
            "studentsdcid": st.sampled_from([str(i) for i in range(40)]),
            "visit_date": st.dates(dt.date(2026, 7, 1), dt.date(2027, 6, 30)).map(
                dt.date.isoformat
            ),
            "source": st.sampled_from(["school", "partner:cgc", "partner:bhcare"]),
            "purpose": st.sampled_from(["crisis", "check_in", "vaping", ""]),
            "services": st.sampled_from(
                ["", "individual_counseling", "family_contact,safety_planning"]
            ),
            "tier": st.sampled_from(["1", "2", "3"]),
        }
    ),
    max_size=90,
)


@settings(max_examples=60, deadline=None)
@given(referrals=referral_rows, visits=visit_rows)
def test_no_rendered_count_between_1_and_9_anywhere(
    referrals: list[dict], visits: list[dict]
) -> None:
    page = build_report(CONFIG, referrals, visits, period=PERIOD)
    tree = lxml_html.document_fromstring(page)
    counts = tree.xpath("//td[@data-kind='count']")
    assert counts, "every report has count cells"
    for td in counts:
        assert ALLOWED_COUNT.match(td.text_content()), td.text_content()
    for svg_text in tree.xpath("//svg//text"):
        figure = svg_text.text_content().rsplit(" ", 1)[-1].rsplit(": ", 1)[-1]
        assert not re.fullmatch(r"[1-9]", figure), svg_text.text_content()


@settings(max_examples=40, deadline=None)
@given(referrals=referral_rows, visits=visit_rows)
def test_no_csv_count_between_1_and_9(referrals: list[dict], visits: list[dict]) -> None:
    out = build_report(CONFIG, referrals, visits, period=PERIOD, fmt="csv")
    for row in csv.DictReader(io.StringIO(out)):
        if row["column"].startswith("%") or "%" in row["column"] or row["column"] == "Median days":
            continue
        assert ALLOWED_COUNT.match(row["value"]), row


def _crosstab_grid(values: list[list[int]]) -> CountGrid:
    """A cross-tab with row and column totals and the lines they make."""
    nr, nc = len(values), len(values[0])
    counts = [row + [sum(row)] for row in values]
    counts.append([sum(counts[r][c] for r in range(nr)) for c in range(nc + 1)])
    lines = [Line((r, nc), tuple((r, c) for c in range(nc))) for r in range(nr + 1)]
    lines += [Line((nr, c), tuple((r, c) for r in range(nr))) for c in range(nc + 1)]
    return CountGrid(
        "t",
        "t",
        ("r",),
        tuple((str(r),) for r in range(nr + 1)),
        tuple(str(c) for c in range(nc + 1)),
        tuple(map(tuple, counts)),
        tuple(lines),
    )


small_counts = st.integers(0, 40).map(lambda v: v if v % 3 else v % 10)  # plenty of 1-9 and 0
grids = st.integers(1, 6).flatmap(
    lambda nc: st.lists(st.lists(small_counts, min_size=nc, max_size=nc), min_size=1, max_size=6)
)


@settings(max_examples=300, deadline=None)
@given(values=grids)
def test_suppression_rules_hold_for_any_crosstab(values: list[list[int]]) -> None:
    grid = _crosstab_grid(values)
    cells = suppress(grid)
    for r, row in enumerate(grid.counts):
        for c, v in enumerate(row):
            cell = cells[r][c]
            if 0 < v < MIN_SHOWN:
                assert cell.text == PRIMARY_TEXT and cell.value is None
            elif cell.shown:
                assert cell.text == str(v) and cell.value == v
            elif v == 0:
                assert cell.text == PRIMARY_TEXT, "a zero hidden to protect a count reads <10"
            else:
                assert cell.text == SECONDARY_TEXT and v >= MIN_SHOWN
    for line in grid.lines:
        if cells[line.total[0]][line.total[1]].shown:
            hidden = sum(1 for (r, c) in line.parts if not cells[r][c].shown)
            assert hidden != 1, f"{line}: one hidden cell could be worked out from the total"


def test_secondary_suppression_hides_the_smallest_other_cell() -> None:
    grid = _crosstab_grid([[5, 12, 30]])
    row = [c.text for c in suppress(grid)[0]]
    assert row == ["<10", "n/s", "30", "47"]


@given(num=st.integers(0, 50), den=st.integers(0, 50))
def test_percentages_only_from_shown_counts(num: int, den: int) -> None:
    def cell(v: int) -> Cell:
        return (
            Cell(str(v), float(v))
            if v == 0 or v >= MIN_SHOWN
            else Cell(PRIMARY_TEXT, None, state="primary")
        )

    pct = percent_cell(cell(num), cell(den))
    both_shown = (num == 0 or num >= MIN_SHOWN) and (den == 0 or den >= MIN_SHOWN)
    if not both_shown:
        assert pct.text == SECONDARY_TEXT and pct.value is None
    elif den:
        assert pct.text == f"{100 * num / den:.0f}%"


def test_a_hidden_bar_gives_nothing_away() -> None:
    """Charts draw a hidden figure as the same stub whatever the value behind it."""
    hidden = Cell(PRIMARY_TEXT, None, state="primary")
    a = bar_chart([Bar("Crisis", hidden), Bar("Check-in", Cell("40", 40.0))], title="t")
    b = bar_chart([Bar("Crisis", hidden), Bar("Check-in", Cell("40", 40.0))], title="t")
    assert a == b
    assert (
        funnel_chart([Bar("Referred", Cell("12", 12.0)), Bar("Sent", hidden)], title="f").count(
            "url(#f-h)"
        )
        == 1
    )


def test_chart_text_is_escaped() -> None:
    svg = bar_chart([Bar("<script>x</script>", Cell("12", 12.0))], title='"><b>')
    assert "<script>" not in svg and "<b>" not in svg and "&lt;script&gt;" in svg


def test_counter_of_count_texts_in_a_real_report_mixes_kinds() -> None:
    """Guards the hypothesis tests above: the report does hide and show figures."""
    refs = [
        {
            "studentsdcid": str(i),
            "referral_date": "2026-10-01",
            "partner_id": "cgc" if i < 25 else "bhcare",
            "status": "completed",
            "access_result": "yes",
            "school_name": "Xavier School",
        }
        for i in range(30)
    ]
    tree = lxml_html.document_fromstring(build_report(CONFIG, refs, [], period=PERIOD))
    kinds = Counter(
        "hidden" if td.text_content() in (PRIMARY_TEXT, SECONDARY_TEXT) else "shown"
        for td in tree.xpath("//td[@data-kind='count']")
    )
    assert kinds["hidden"] and kinds["shown"]

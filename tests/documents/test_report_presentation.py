"""How the report presents its figures (issue: report readable by everyone): the generated time in
the district's time zone, chart labels whole and beside (never on) the bars, every chart described
in words with its figures, suppression markers read as words. Checked in Chromium too
(tests/browser/test_accessibility.py); these run without a browser."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html

from documents.charts import Bar, bar_chart, funnel_chart, spoken, wrap_label
from ssp.cli import main
from foundation.config import parse_config_text
from documents.report import build_report, local_time
from documents.report_data import Period
from documents.suppression import MIN_SHOWN, PRIMARY_TEXT, SECONDARY_TEXT, Cell

ROOT = Path(__file__).parents[2]
PERIOD = Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
LONG_REASON = "consent does not cover referral, identity, enrollment, guardian_contact, attendance"


def config(timezone: str = "America/New_York"):
    text = (ROOT / "examples" / "ssp.toml").read_text("utf-8")
    text = text.replace('timezone = "America/New_York"', f'timezone = "{timezone}"')
    return parse_config_text(text, source="ssp.toml", base_dir=ROOT)


@pytest.mark.parametrize(
    "timezone, shown",
    [
        ("America/New_York", "2026-12-06 06:08 EST (America/New_York)"),
        ("America/Chicago", "2026-12-06 05:08 CST (America/Chicago)"),
        ("America/Los_Angeles", "2026-07-01 16:30 PDT (America/Los_Angeles)"),
    ],
)
def test_generated_time_is_shown_in_the_district_time_zone(timezone: str, shown: str) -> None:
    moment = (
        dt.datetime(2026, 12, 6, 11, 8, 59, tzinfo=dt.UTC)
        if "Los" not in timezone
        else dt.datetime(2026, 7, 1, 23, 30, tzinfo=dt.UTC)
    )
    page = build_report(config(timezone), [], [], period=PERIOD, generated_at=moment)
    meta = lxml_html.document_fromstring(page).xpath("//header/p[@class='meta']")[0]
    assert f"generated {shown}" in re.sub(r"\s+", " ", meta.text_content())
    assert "UTC" not in meta.text_content()
    stamp = meta.xpath(".//time/@datetime")[0]
    assert dt.datetime.fromisoformat(stamp) == moment.replace(second=0)


def test_a_naive_time_is_taken_as_utc() -> None:
    local = local_time(dt.datetime(2026, 1, 15, 12, 0), "America/New_York")
    assert (local.hour, local.tzname()) == (7, "EST")


def test_report_command_stamps_district_time(tmp_path: Path) -> None:
    """`ssp report` itself (not only build_report) writes the district's zone."""
    from connector.state import StateStore

    cfg_path = tmp_path / "ssp.toml"
    text = (ROOT / "examples" / "ssp.toml").read_text("utf-8")
    cfg_path.write_text(text.replace('"America/New_York"', '"America/Denver"'), "utf-8")
    state = tmp_path / "var" / "ssp"
    state.mkdir(parents=True)
    with StateStore.open_dir(state):
        pass
    out = tmp_path / "report.html"
    assert main(["report", "--config", str(cfg_path), "--out", str(out)]) == 0
    meta = lxml_html.document_fromstring(out.read_text("utf-8")).xpath("//p[@class='meta']")[0]
    assert re.search(
        r"generated \d{4}-\d\d-\d\d \d\d:\d\d M[SD]T \(America/Denver\)", meta.text_content()
    )


def _texts(svg: str) -> list[tuple[str, float, float]]:
    """(text, first x, y of first line) of each <text> in a chart."""
    root = etree.fromstring(str(svg))
    out = []
    for t in root.iter("text"):
        spans = t.findall("tspan")
        x = float(spans[0].get("x") if spans else t.get("x"))
        y = float(spans[0].get("y") if spans else t.get("y"))
        out.append(("".join(t.itertext()), x, y))
    return out


def test_long_labels_wrap_and_are_never_cut() -> None:
    svg = bar_chart([Bar(LONG_REASON, Cell("12", 12.0)), Bar("short", Cell("3", 3.0))], title="t")
    assert "…" not in svg
    root = etree.fromstring(str(svg))
    label = next(t for t in root.iter("text") if t.findall("tspan"))
    lines = [s.text for s in label.findall("tspan")]
    assert len(lines) >= 2 and " ".join(lines) == LONG_REASON
    assert all(len(line) <= 36 for line in lines)
    assert wrap_label("x" * 80) == ["x" * 36, "x" * 36, "x" * 8], "even one long word is kept whole"


def test_funnel_labels_sit_beside_the_bars_in_black() -> None:
    stages = [Bar("Referred", Cell("80", 80.0)), Bar("Accessed service", Cell("30", 30.0))]
    svg = funnel_chart(stages, title="Funnel")
    root = etree.fromstring(str(svg))
    rects = [r for r in root.findall("rect")]
    texts = list(root.iter("text"))
    for rect, label, value in zip(rects, texts[0::2], texts[1::2], strict=True):
        left = float(rect.get("x"))
        right = left + float(rect.get("width"))
        assert label.get("text-anchor") == "end"
        assert float(label.find("tspan").get("x")) < left, "stage name left of its bar"
        assert float(value.get("x")) > right, "figure right of its bar"
        assert label.get("fill") == value.get("fill") == "#000"
        assert label.get("stroke") is None, "no halo: text is on white, not on the bar"


def test_every_chart_is_described_with_its_figures_in_words() -> None:
    hidden = Cell(PRIMARY_TEXT, None, state="primary")
    other = Cell(SECONDARY_TEXT, None, state="secondary")
    svg = bar_chart(
        [Bar("Crisis", hidden), Bar("Check-in", other), Bar("Grief", Cell("40", 40.0))],
        title="Visits",
    )
    root = etree.fromstring(str(svg))
    assert root.get("role") == "img"
    desc = root.find("desc")
    assert root.get("aria-describedby") == desc.get("id")
    assert desc.text == (
        f"Figures, as in the table below: Crisis: fewer than {MIN_SHOWN} (suppressed); "
        "Check-in: not shown (suppressed); Grief: 40."
    )
    assert bar_chart([], title="none") == "", "no bars, no empty chart"


def test_suppressed_table_cells_are_read_as_words_and_keep_their_marker() -> None:
    refs = [
        {
            "studentsdcid": str(i),
            "referral_date": "2026-10-01",
            "partner_id": "cgc",
            "status": "new",
            "status_reason": "awaiting consent",
        }
        for i in range(3)
    ]
    page = build_report(config(), refs, [], period=PERIOD)
    tree = lxml_html.document_fromstring(page)
    cells = tree.xpath("//section[@data-table='held']//td[contains(@class,'primary')]")
    assert cells
    for td in cells:
        assert td.text_content() == PRIMARY_TEXT, "the marker is still what sighted readers see"
        assert td.get("data-spoken") == spoken(Cell(PRIMARY_TEXT, None, state="primary"))
        assert td.find("span").get("aria-hidden") == "true"
    assert "td[data-spoken]::after" in page and "content: attr(data-spoken)" in page


def test_a_median_held_back_is_read_as_not_shown() -> None:
    """The median column writes n/s as text (not a suppressed count); it is read the same way."""
    from documents.suppression import text_cell

    assert spoken(text_cell(SECONDARY_TEXT, "days")) == "not shown (suppressed)"
    assert spoken(text_cell("–", "days")) == "no figure"
    assert spoken(Cell("12", 12.0)) == "12"

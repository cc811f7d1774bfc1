"""The documents families sign and the report a district files, printed on A4 and on Letter.

Each document is printed to PDF by Chromium (Playwright `page.pdf`) on both paper sizes: the PDF
has the paper size asked for (no size forced by the CSS) and a bounded number of pages. Then the
page is laid out at the printable width of the narrower paper in print media, where nothing may
stick out (a table wider than the paper would be cut, or shrunk to fit); and the print rules that
keep headings with their content, rows whole and column headings repeated are in effect. Headings,
lists and tables are real HTML structure.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from generated import DOCUMENTS, REPORTS, generate_all

pytestmark = pytest.mark.browser

# paper width and height in CSS pixels (96 per inch) and in PDF points (72 per inch)
PAPER = {"A4": ((210 / 25.4) * 96, (297 / 25.4) * 96), "Letter": (8.5 * 96, 11 * 96)}
PDF_POINTS = {"A4": (595, 842), "Letter": (612, 792)}
MAX_PAGES = {
    "consent_en": 2,
    "consent_es": 2,
    "consent_en_part2": 2,
    "consent_es_part2": 2,
    "mou": 4,
    "report": 6,
    "report_empty": 3,
}
CASES = [*DOCUMENTS, *REPORTS]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("generated"))


def _pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of every page of a Chromium PDF."""
    boxes = re.findall(
        rb"/Type\s*/Page\b(?!s).*?/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf, re.DOTALL
    )
    if not boxes:  # MediaBox written before /Type
        boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


def _to_px(length: str) -> float:
    match = re.fullmatch(r"([\d.]+)(mm|in|px|cm|pt)", length.strip())
    assert match, f"unexpected @page margin {length!r}"
    value, unit = float(match.group(1)), match.group(2)
    return value * {"mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96, "pt": 96 / 72, "px": 1}[unit]


_PAGE_MARGINS = """() => {
  for (const sheet of document.styleSheets)
    for (const rule of sheet.cssRules)
      if (rule instanceof CSSPageRule)
        return [rule.style.getPropertyValue('margin-left'), rule.style.getPropertyValue('margin-right'),
                rule.style.getPropertyValue('size')];
  return null;
}"""

_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width + 1)
    out.push(`page is ${document.documentElement.scrollWidth}px wide for ${width}px`);
  for (const el of document.querySelectorAll('table, svg, img, pre, .grid, section, header, footer')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 || box.left < -1)
      out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} spans ${Math.round(box.left)}..${Math.round(box.right)}px of ${width}px`);
  }
  return out;
}"""

_PRINT_RULES = """() => {
  const style = (sel, prop) => [...document.querySelectorAll(sel)].map((e) => getComputedStyle(e)[prop]);
  return {
    headings: style('h1, h2, h3', 'breakAfter'),
    rows: style('tbody tr', 'breakInside'),
    theads: style('thead', 'display'),
  };
}"""


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("case", CASES)
def test_document_prints_on_the_paper_asked_for_within_its_page_budget(
    pw_page: Any, generated: dict[str, Path], tmp_path: Path, case: str, paper: str
) -> None:
    pw_page.goto(generated[case].as_uri())
    margins = pw_page.evaluate(_PAGE_MARGINS)
    assert margins is not None, "the document has an @page rule"
    assert margins[2] == "", f"@page fixes the paper size ({margins[2]}): A4 users get Letter"
    pdf = pw_page.pdf(format=paper, print_background=True, prefer_css_page_size=True)
    (tmp_path / f"{case}-{paper}.pdf").write_bytes(pdf)
    pages = _pdf_pages(pdf)
    assert 1 <= len(pages) <= MAX_PAGES[case], f"{case} on {paper}: {len(pages)} pages"
    want = PDF_POINTS[paper]
    for width, height in pages:
        assert abs(width - want[0]) < 2 and abs(height - want[1]) < 2, (width, height)


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("case", CASES)
def test_nothing_sticks_out_of_the_printable_width(
    pw_page: Any, generated: dict[str, Path], case: str, paper: str
) -> None:
    pw_page.goto(generated[case].as_uri())
    left, right, _ = pw_page.evaluate(_PAGE_MARGINS)
    printable = int(PAPER[paper][0] - _to_px(left) - _to_px(right))
    pw_page.emulate_media(media="print")
    pw_page.set_viewport_size({"width": printable, "height": int(PAPER[paper][1])})
    overflow = pw_page.evaluate(_OVERFLOW)
    assert not overflow, f"{case} on {paper} ({printable}px printable):\n" + "\n".join(overflow)


@pytest.mark.parametrize("case", CASES)
def test_print_keeps_headings_with_content_rows_whole_and_repeats_column_headings(
    pw_page: Any, generated: dict[str, Path], case: str
) -> None:
    pw_page.goto(generated[case].as_uri())
    pw_page.emulate_media(media="print")
    rules = pw_page.evaluate(_PRINT_RULES)
    assert rules["headings"] and set(rules["headings"]) == {"avoid"}, rules["headings"]
    assert set(rules["rows"]) <= {"avoid"}, "a table row may be split across pages"
    assert set(rules["theads"]) <= {"table-header-group"}


_STRUCTURE = """() => ({
  h1: document.querySelectorAll('h1').length,
  levels: [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map((h) => Number(h.tagName[1])),
  lists: [...document.querySelectorAll('ul, ol')].map((l) => l.querySelectorAll(':scope > li').length),
  tables: [...document.querySelectorAll('table')].map((t) => ({
    heads: t.querySelectorAll('thead th').length,
    named: t.querySelectorAll('th[scope], thead th').length > 0,
  })),
})"""


@pytest.mark.parametrize("case", CASES)
def test_headings_lists_and_tables_are_real_structure(
    pw_page: Any, generated: dict[str, Path], case: str
) -> None:
    pw_page.goto(generated[case].as_uri())
    found = pw_page.evaluate(_STRUCTURE)
    assert found["h1"] == 1, "one document title"
    levels = found["levels"]
    assert len(levels) >= 5
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), f"a heading level skipped: {levels}"
    assert found["tables"], "figures and categories are tables"
    assert all(t["heads"] >= 2 for t in found["tables"]), "every table has column headings"
    if not case.startswith("report"):
        assert found["lists"] and all(n >= 1 for n in found["lists"]), "rights and duties are lists"

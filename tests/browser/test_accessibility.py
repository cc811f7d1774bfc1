"""WCAG 2.1 A and AA, checked in headless Chromium with axe-core on every HTML the product generates,
plus what axe cannot see in the report: that each chart's text alternative carries the table's
figures, that SVG text and marks have enough contrast, and that no chart label is cut or drawn
over a bar.

axe-core comes from the npm registry into a cache folder (tests/browser/axe.py); without it the
tests are skipped locally and fail under CI, like Chromium itself.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe import AxeMissing, axe_source, axe_violations, format_violations
from generated import DOCUMENTS, REPORTS, generate_all

pytestmark = pytest.mark.browser

CASES = [
    *DOCUMENTS,
    *REPORTS,
    pytest.param("preview", id="preview"),
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("generated"))


@pytest.fixture(scope="module")
def axe_ready() -> None:
    try:
        axe_source()
    except AxeMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"accessibility checks must run in CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
def artifacts(tmp_path: Path) -> Iterator[Path]:
    """Screenshots of what was checked; copied to $SSP_ARTIFACTS_DIR when set."""
    folder = tmp_path / "artifacts"
    folder.mkdir()
    yield folder
    target = os.environ.get("SSP_ARTIFACTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for item in folder.iterdir():
            shutil.copy2(item, Path(target) / item.name)


def _pages(generated: dict[str, Path], case: str) -> dict[str, Path]:
    if case == "preview":
        pages = {n: p for n, p in generated.items() if n.startswith("preview/")}
        assert pages, "ssp plugin preview wrote no page"
        return pages
    return {case: generated[case]}


def _open_offline(page: Any, path: Path) -> list[str]:
    """Load a generated file with every network request refused; the refused URLs."""
    refused: list[str] = []

    def refuse(route: Any) -> None:
        refused.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(https?|wss?|ftp):"), refuse)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return refused


@pytest.mark.parametrize("case", CASES)
def test_generated_html_has_no_wcag21_aa_violation(
    pw_page: Any, generated: dict[str, Path], axe_ready: None, artifacts: Path, case: str
) -> None:
    found: list[str] = []
    for name, path in _pages(generated, case).items():
        refused = _open_offline(pw_page, path)
        assert not refused, f"{name} reached for the network: {refused}"
        pw_page.screenshot(
            path=str(artifacts / f"a11y-{name.replace('/', '-').removesuffix('.html')}.png"),
            full_page=True,
        )
        violations = axe_violations(pw_page)
        if violations:
            found.append(
                f"{name}: {len(violations)} rule(s) violated\n{format_violations(violations)}"
            )
    assert not found, "axe-core, WCAG 2.1 A/AA:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "case, lang",
    [
        ("consent_en", "en"),
        ("consent_es", "es"),
        ("consent_es_part2", "es"),
        ("mou", "en"),
        ("report", "en"),
    ],
)
def test_documents_declare_their_language(
    pw_page: Any, generated: dict[str, Path], case: str, lang: str
) -> None:
    _open_offline(pw_page, generated[case])
    assert pw_page.evaluate("document.documentElement.lang") == lang
    assert pw_page.title().strip(), "every document has a title"


# ------------------------------------------------------------------------------- the report charts

_CHARTS = """() => [...document.querySelectorAll('section[data-table]')].flatMap((section) => {
  const svg = section.querySelector('svg.chart');
  if (!svg) return [];
  const byId = (ids) => (ids || '').split(/\\s+/).filter(Boolean)
      .map((id) => document.getElementById(id).textContent).join(' ');
  const heads = [...section.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  const cells = [...section.querySelectorAll('tbody tr')].flatMap((tr) => {
    const rowLabels = [...tr.querySelectorAll('th')].map((th) => th.textContent.trim());
    return [...tr.querySelectorAll('td')].map((td, i) => ({
      row: rowLabels,
      column: heads[rowLabels.length + i],
      said: td.dataset.spoken || td.textContent.trim(),
    }));
  });
  return [{
    table: section.dataset.table,
    role: svg.getAttribute('role'),
    name: byId(svg.getAttribute('aria-labelledby')),
    description: byId(svg.getAttribute('aria-describedby')),
    cells,
  }];
})"""


def _figures(description: str) -> list[tuple[str, str]]:
    """'Figures, as in the table below: A: 12; B: fewer than 10 (suppressed).' -> pairs."""
    body = description.split(":", 1)[1].strip().rstrip(".")
    return [tuple(part.rsplit(": ", 1)) for part in body.split("; ")]  # type: ignore[misc]


def test_each_chart_is_described_with_the_figures_of_its_table(
    pw_page: Any, generated: dict[str, Path]
) -> None:
    _open_offline(pw_page, generated["report"])
    charts = pw_page.evaluate(_CHARTS)
    assert len(charts) >= 8
    for chart in charts:
        assert chart["role"] == "img" and chart["name"].strip(), chart["table"]
        figures = _figures(chart["description"])
        assert figures, f"{chart['table']}: the chart's description holds no figure"
        for label, said in figures:
            matches = [
                c
                for c in chart["cells"]
                if c["said"] == said and (label in c["row"] or label == c["column"])
            ]
            assert matches, f"{chart['table']}: '{label}: {said}' is not a figure of the table"
    spoken = " ".join(c["description"] for c in charts)
    assert "fewer than 10 (suppressed)" in spoken and "not shown (suppressed)" in spoken


def test_suppressed_cells_are_read_as_words_not_only_shown_in_grey(
    pw_page: Any, generated: dict[str, Path]
) -> None:
    """The accessible name of a `<10` cell says 'fewer than 10'; the marker itself stays visible
    (colour and italics only repeat what the text says)."""
    _open_offline(pw_page, generated["report"])
    primary = pw_page.locator("td.primary").first
    assert primary.inner_text() == "<10"
    assert pw_page.get_by_role("cell", name="fewer than 10 (suppressed)").count() >= 1
    assert pw_page.get_by_role("cell", name="not shown (suppressed)").count() >= 1
    assert pw_page.get_by_role("cell", name="<10", exact=True).count() == 0


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


_SVG_COLOURS = """() => {
  const hex = (c) => { const m = c.match(/\\d+(\\.\\d+)?/g); if (!m) return null;
    return '#' + m.slice(0, 3).map((v) => Number(v).toString(16).padStart(2, '0')).join(''); };
  const out = { text: [], marks: [] };
  for (const svg of document.querySelectorAll('svg.chart')) {
    for (const t of svg.querySelectorAll('text')) out.text.push(hex(getComputedStyle(t).fill));
    for (const r of svg.querySelectorAll('rect')) {
      const fill = getComputedStyle(r).fill;
      if (r.closest('pattern')) out.marks.push(hex(fill));
      else if (!fill.startsWith('url')) out.marks.push(hex(fill));
    }
  }
  return out;
}"""


def test_chart_text_and_marks_have_enough_contrast(
    pw_page: Any, generated: dict[str, Path]
) -> None:
    """axe checks HTML text; SVG text is checked here: 4.5:1 for text, 3:1 for bars and hatching
    (WCAG 1.4.3 and 1.4.11), against the white page."""
    _open_offline(pw_page, generated["report"])
    colours = pw_page.evaluate(_SVG_COLOURS)
    assert colours["text"] and colours["marks"]
    for colour in colours["text"]:
        assert _contrast(colour, "#ffffff") >= 4.5, f"chart text {colour}"
    for colour in colours["marks"]:
        assert _contrast(colour, "#ffffff") >= 3.0, f"chart mark {colour}"


_LAYOUT = """() => [...document.querySelectorAll('svg.chart')].map((svg) => {
  const box = (el) => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
  return {
    id: svg.id,
    width: svg.viewBox.baseVal.width,
    labels: [...svg.querySelectorAll('text')].map((t) => t.textContent),
    texts: [...svg.querySelectorAll('text')].map(box),
    bars: [...svg.querySelectorAll(':scope > rect')].map(box),
  };
})"""


def test_chart_labels_are_whole_inside_the_chart_and_never_over_a_bar(
    pw_page: Any, generated: dict[str, Path]
) -> None:
    _open_offline(pw_page, generated["report"])
    charts = pw_page.evaluate(_LAYOUT)
    everything = " ".join(" ".join(c["labels"]) for c in charts)
    assert "…" not in everything, "a label was cut"
    held = next(c for c in charts if c["id"].startswith("held"))
    held_text = re.sub(r"\s+", "", "".join(held["labels"]))
    for reason in (
        "consent does not cover referral, identity, enrollment, guardian_contact",
        "student is 18: needs the student's own consent",
    ):
        assert re.sub(r"\s+", "", reason) in held_text, reason
    for chart in charts:
        for x0, y0, x1, y1 in chart["texts"]:
            assert x0 >= -0.5 and x1 <= chart["width"] + 0.5, f"{chart['id']}: text outside"
            for bx0, by0, bx1, by1 in chart["bars"]:
                overlap = min(x1, bx1) - max(x0, bx0) > 0.5 and min(y1, by1) - max(y0, by0) > 0.5
                assert not overlap, f"{chart['id']}: text drawn over a bar"


def test_report_generated_time_is_in_the_district_time_zone(
    pw_page: Any, generated: dict[str, Path]
) -> None:
    _open_offline(pw_page, generated["report"])
    meta = pw_page.locator("header .meta").inner_text()
    # 11:08 UTC on 6 December is 06:08 in America/New_York (examples/ssp.toml [schedule] timezone)
    assert "generated 2026-12-06 06:08 EST (America/New_York)" in meta
    assert "UTC" not in meta

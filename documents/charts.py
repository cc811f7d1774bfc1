"""Inline SVG charts for the report: no JavaScript, no fonts or files loaded, print-friendly.

Charts are drawn from already-suppressed cells (`documents.suppression.Cell`), never from raw counts: a
hidden figure is drawn as a fixed-size hatched stub labelled "<10" or "n/s", so a bar's length can
never give away a suppressed value. All text is escaped; the SVG has no xmlns URL because inline
SVG in HTML does not need one.

Accessibility (WCAG 2.1 AA): each chart is an `role="img"` named by its `<title>` and described by
a `<desc>` that reads out every figure the chart draws, in words ("fewer than 10", "not shown"), so
a screen-reader user gets the same numbers as the table next to it. Meaning never rests on colour:
every bar and stub carries its figure as text, and text is black on white (labels are wrapped onto
more lines, never cut, and never drawn over a bar).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from documents.suppression import MIN_SHOWN, PRIMARY_TEXT, SECONDARY_TEXT, Cell

__all__ = ["Bar", "bar_chart", "funnel_chart", "spoken", "wrap_label"]

_FONT = 'font-family="Liberation Sans, Arial, Helvetica, sans-serif" font-size="11" fill="#000"'
_BAR_FILL = "#3b6ea5"  # 5.3:1 against white (non-text contrast needs 3:1)
_HATCH = "#595959"  # 7:1 against white
_STUB = 14  # px: the fixed width of a hidden figure's stub
_ROW = 20
_LINE = 13  # px between the lines of a wrapped label
_LABEL_CHARS = 36


@dataclass(frozen=True)
class Bar:
    label: str
    cell: Cell


def spoken(cell: Cell) -> str:
    """A figure as a screen reader should say it: the suppression markers in words."""
    if cell.state == "primary" or (cell.value is None and cell.text == PRIMARY_TEXT):
        return f"fewer than {MIN_SHOWN} (suppressed)"
    if cell.state == "secondary" or (cell.value is None and cell.text == SECONDARY_TEXT):
        return "not shown (suppressed)"
    if cell.value is None and cell.text in ("–", "-", ""):
        return "no figure"
    return cell.text


def wrap_label(label: str, width: int = _LABEL_CHARS) -> list[str]:
    """The label on as many lines as it needs (words kept whole where they fit): never cut."""
    return textwrap.wrap(label, width, break_long_words=True, break_on_hyphens=False) or [""]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def _description(bars: Sequence[Bar]) -> str:
    figures = "; ".join(f"{b.label}: {spoken(b.cell)}" for b in bars)
    return f"Figures, as in the table below: {figures}." if bars else "No figures in this period."


def _open(chart_id: str, title: str, bars: Sequence[Bar], width: int, height: int) -> str:
    cid = escape(chart_id)
    return (
        f'<svg class="chart" id="{cid}" role="img" aria-labelledby="{cid}-t" '
        f'aria-describedby="{cid}-d" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<title id="{cid}-t">{escape(title)}</title>'
        f'<desc id="{cid}-d">{escape(_description(bars))}</desc>'
        f'<defs><pattern id="{cid}-h" width="4" height="4" '
        f'patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="2" height="4" fill="{_HATCH}"/></pattern></defs>'
    )


def _scale(cells: Sequence[Cell]) -> float:
    shown = [c.value for c in cells if c.shown and c.value is not None]
    return max(shown, default=0.0) or 1.0


def _label(lines: list[str], x: float, y: float, height: float) -> str:
    """Right-aligned label lines, vertically centred on a row of `height` starting at `y`."""
    first = y + height / 2 + 4 - (len(lines) - 1) * _LINE / 2
    spans = "".join(
        f'<tspan x="{x}" y="{first + i * _LINE:.1f}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text text-anchor="end" {_FONT}>{spans}</text>'


def _row_height(lines: list[str], minimum: int) -> int:
    return max(minimum, len(lines) * _LINE + 7)


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    chart_id: str | None = None,
    width: int = 560,
    maximum: float | None = None,
) -> Markup:
    """Horizontal bars, one per label, figures at the bar ends; `maximum` fixes the scale (100%).
    No bars, no chart: an empty string, so the report shows only the table's "no data" row."""
    if not bars:
        return Markup("")
    chart_id = chart_id or _slug(title)
    label_w, value_w = 220, 60
    plot_w = width - label_w - value_w
    top = maximum or _scale([b.cell for b in bars])
    wrapped = [wrap_label(b.label) for b in bars]
    heights = [_row_height(lines, _ROW) for lines in wrapped]
    parts = [_open(chart_id, title, bars, width, sum(heights) + 8)]
    y = 4
    for bar, lines, h in zip(bars, wrapped, heights, strict=True):
        parts.append(_label(lines, label_w - 6, y, h))
        parts.append(_bar(chart_id, bar.cell, label_w, y + (h - _ROW) / 2, plot_w, top))
        y += h
    parts.append("</svg>")
    return Markup("".join(parts))


def _bar(chart_id: str, cell: Cell, x: float, y: float, plot_w: float, top: float) -> str:
    if not cell.shown or cell.value is None:
        return (
            f'<rect x="{x}" y="{y + 2:g}" width="{_STUB}" height="{_ROW - 6}" '
            f'fill="url(#{escape(chart_id)}-h)" '
            f'stroke="{_HATCH}" stroke-width="0.5"/><text x="{x + _STUB + 4}" y="{y + 13:g}" '
            f"{_FONT}>{escape(cell.text)}</text>"
        )
    length = round(plot_w * cell.value / top, 1)
    return (
        f'<rect x="{x}" y="{y + 2:g}" width="{length}" height="{_ROW - 6}" fill="{_BAR_FILL}"/>'
        f'<text x="{x + length + 4:g}" y="{y + 13:g}" {_FONT}>{escape(cell.text)}</text>'
    )


def funnel_chart(
    stages: Sequence[Bar], *, title: str, chart_id: str | None = None, width: int = 560
) -> Markup:
    """Centred bars narrowing stage by stage: the stage name to the left, the figure to the right
    of each bar, both black on white so they stay readable however narrow the bar."""
    chart_id = chart_id or _slug(title)
    row, label_w, value_w = 24, 130, 60
    plot_w = width - label_w - value_w - 12
    centre = label_w + 6 + plot_w / 2
    top = _scale([s.cell for s in stages])
    wrapped = [wrap_label(s.label, 20) for s in stages]
    heights = [_row_height(lines, row) for lines in wrapped]
    parts = [_open(chart_id, title, stages, width, sum(heights) + 8)]
    y = 4
    for stage, lines, h in zip(stages, wrapped, heights, strict=True):
        cell = stage.cell
        if cell.shown and cell.value is not None:
            w = max(round(plot_w * cell.value / top, 1), 2.0)
            fill, stroke = _BAR_FILL, _BAR_FILL
        else:
            w, fill, stroke = float(_STUB * 4), f"url(#{escape(chart_id)}-h)", _HATCH
        bar_y = y + (h - row) / 2
        parts.append(_label(lines, label_w, y, h))
        parts.append(
            f'<rect x="{centre - w / 2:.1f}" y="{bar_y + 2:g}" width="{w}" height="{row - 4}" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{centre + w / 2 + 5:.1f}" y="{bar_y + 16:g}" {_FONT}>'
            f"{escape(cell.text)}</text>"
        )
        y += h
    parts.append("</svg>")
    return Markup("".join(parts))

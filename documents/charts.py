"""Inline SVG charts for the report: no JavaScript, no fonts or files loaded, print-friendly.

Charts are drawn from already-suppressed cells (`documents.suppression.Cell`), never from raw counts: a
hidden figure is drawn as a fixed-size hatched stub labelled "<10" or "n/s", so a bar's length can
never give away a suppressed value. All text is escaped; the SVG has no xmlns URL because inline
SVG in HTML does not need one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from markupsafe import Markup, escape

from documents.suppression import Cell

__all__ = ["Bar", "bar_chart", "funnel_chart"]

_FONT = 'font-family="Liberation Sans, Arial, Helvetica, sans-serif" font-size="11"'
_BAR_FILL = "#3b6ea5"
_STUB = 14  # px: the fixed width of a hidden figure's stub
_ROW = 20
_LABEL_CHARS = 34


@dataclass(frozen=True)
class Bar:
    label: str
    cell: Cell


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "chart"


def _open(chart_id: str, title: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-t" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>'
        f'<defs><pattern id="{escape(chart_id)}-h" width="4" height="4" '
        f'patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="2" height="4" fill="#999"/></pattern></defs>'
    )


def _scale(cells: Sequence[Cell]) -> float:
    shown = [c.value for c in cells if c.shown and c.value is not None]
    return max(shown, default=0.0) or 1.0


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    chart_id: str | None = None,
    width: int = 560,
    maximum: float | None = None,
) -> Markup:
    """Horizontal bars, one per label, figures at the bar ends; `maximum` fixes the scale (100%)."""
    chart_id = chart_id or _slug(title)
    label_w, value_w = 210, 60
    plot_w = width - label_w - value_w
    top = maximum or _scale([b.cell for b in bars])
    height = _ROW * len(bars) + 8
    parts = [_open(chart_id, title, width, height)]
    for i, bar in enumerate(bars):
        y = 4 + i * _ROW
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" {_FONT}>'
            f"{escape(_short(bar.label))}</text>"
        )
        parts.append(_bar(chart_id, bar.cell, label_w, y, plot_w, top))
    parts.append("</svg>")
    return Markup("".join(parts))


def _bar(chart_id: str, cell: Cell, x: int, y: int, plot_w: int, top: float) -> str:
    if not cell.shown or cell.value is None:
        return (
            f'<rect x="{x}" y="{y + 2}" width="{_STUB}" height="{_ROW - 6}" '
            f'fill="url(#{escape(chart_id)}-h)" '
            f'stroke="#777" stroke-width="0.5"/><text x="{x + _STUB + 4}" y="{y + 13}" {_FONT}>'
            f"{escape(cell.text)}</text>"
        )
    length = round(plot_w * cell.value / top, 1)
    return (
        f'<rect x="{x}" y="{y + 2}" width="{length}" height="{_ROW - 6}" fill="{_BAR_FILL}"/>'
        f'<text x="{x + length + 4}" y="{y + 13}" {_FONT}>{escape(cell.text)}</text>'
    )


def funnel_chart(
    stages: Sequence[Bar], *, title: str, chart_id: str | None = None, width: int = 560
) -> Markup:
    """Centred bars narrowing stage by stage, the stage name and figure on each."""
    chart_id = chart_id or _slug(title)
    row = 26
    top = _scale([s.cell for s in stages])
    parts = [_open(chart_id, title, width, row * len(stages) + 8)]
    centre, plot_w = width / 2, width - 20
    for i, stage in enumerate(stages):
        y = 4 + i * row
        cell = stage.cell
        if cell.shown and cell.value is not None:
            w = max(round(plot_w * cell.value / top, 1), 2.0)
            fill = _BAR_FILL
        else:
            w, fill = float(_STUB * 4), f"url(#{escape(chart_id)}-h)"
        parts.append(
            f'<rect x="{centre - w / 2:.1f}" y="{y}" width="{w}" height="{row - 4}" fill="{fill}" '
            f'stroke="#555" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{centre}" y="{y + 15}" text-anchor="middle" {_FONT} fill="#000" '
            f'stroke="#fff" stroke-width="3" paint-order="stroke">'
            f"{escape(stage.label)}: {escape(cell.text)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))

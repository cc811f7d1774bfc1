"""Small-count suppression, so a report can be shared without identifying a student.

The rule, applied to every count table of the report (and so to its CSV and charts, which are drawn
from the suppressed cells only):

1. Primary: a count from 1 to 9 is shown as "<10". Zero is shown as 0.
2. Complementary: a table declares its *lines*: a shown total and the cells that make it up (a row
   or column of a cross-tab and its Total; partner rows and the all-partner row). If a line has a
   shown total and exactly one hidden cell, that cell could be worked out by subtraction, so the
   smallest other non-zero shown cell of the line is hidden too, shown as "n/s" (not shown); when
   there is none, the total is hidden. This repeats until no line has a single hidden cell.
   Lines are applied even where cells may overlap (distinct students counted under two partners),
   which only ever hides more.
3. A percentage, median or other figure derived from counts is shown only when every count it is
   derived from is shown exactly (a median needs at least 10 values).

Not covered: the difference between nested measures (referred vs received services, one funnel
stage and the next) is not a cell of any table, so it is not suppressed; and tables are suppressed
one at a time. Review the report before publishing it outside the district and its grantor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MIN_SHOWN",
    "PRIMARY_TEXT",
    "SECONDARY_TEXT",
    "Coord",
    "Line",
    "CountGrid",
    "Cell",
    "suppress",
    "percent_cell",
    "text_cell",
]

MIN_SHOWN = 10
PRIMARY_TEXT = "<10"
SECONDARY_TEXT = "n/s"

Coord = tuple[int, int]
CellKind = Literal["count", "pct", "days", "text"]
CellState = Literal["shown", "primary", "secondary"]


@dataclass(frozen=True)
class Line:
    """A shown total and the cells that make it up."""

    total: Coord
    parts: tuple[Coord, ...]


@dataclass(frozen=True)
class CountGrid:
    """A table of exact counts as computed; never rendered before `suppress`."""

    key: str
    title: str
    row_header: tuple[str, ...]
    """Headings of the label columns (one, or two for the grant table's school and partner)."""
    row_labels: tuple[tuple[str, ...], ...]
    col_labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    lines: tuple[Line, ...] = ()
    total_rows: frozenset[int] = frozenset()
    note: str = ""
    percents: tuple[tuple[str, int, int], ...] = ()
    """Derived columns: (heading, numerator column, denominator column)."""


@dataclass(frozen=True)
class Cell:
    """One rendered figure. `value` is the exact figure when shown, None when hidden."""

    text: str
    value: float | None
    kind: CellKind = "count"
    state: CellState = "shown"

    @property
    def shown(self) -> bool:
        return self.state == "shown"


def _primary(counts: tuple[tuple[int, ...], ...]) -> dict[Coord, CellState]:
    return {
        (r, c): ("primary" if 0 < v < MIN_SHOWN else "shown")
        for r, row in enumerate(counts)
        for c, v in enumerate(row)
    }


def _complementary(grid: CountGrid, states: dict[Coord, CellState]) -> None:
    value = lambda rc: grid.counts[rc[0]][rc[1]]  # noqa: E731
    changed = True
    while changed:
        changed = False
        for line in grid.lines:
            if states[line.total] != "shown":
                continue
            hidden = [p for p in line.parts if states[p] != "shown" and value(p) > 0]
            if len(hidden) != 1:
                continue
            candidates = [p for p in line.parts if states[p] == "shown" and value(p) > 0]
            target = min(candidates, key=lambda p: (value(p), p)) if candidates else line.total
            states[target] = "secondary"
            changed = True


def suppress(grid: CountGrid) -> tuple[tuple[Cell, ...], ...]:
    """The grid's cells after primary and complementary suppression."""
    states = _primary(grid.counts)
    _complementary(grid, states)
    rows = []
    for r, row in enumerate(grid.counts):
        cells = []
        for c, v in enumerate(row):
            state = states[(r, c)]
            if state == "shown":
                cells.append(Cell(str(v), float(v)))
            else:
                cells.append(
                    Cell(PRIMARY_TEXT if state == "primary" else SECONDARY_TEXT, None, state=state)
                )
        rows.append(tuple(cells))
    return tuple(rows)


def percent_cell(numerator: Cell, denominator: Cell) -> Cell:
    """numerator / denominator as a whole percentage, shown only when both counts are shown."""
    if (
        not (numerator.shown and denominator.shown)
        or numerator.value is None
        or denominator.value is None
    ):
        return Cell(SECONDARY_TEXT, None, "pct", "secondary")
    if denominator.value == 0:
        return Cell("–", None, "pct", "shown")
    pct = 100.0 * numerator.value / denominator.value
    return Cell(f"{pct:.0f}%", pct, "pct")


def text_cell(text: str, kind: CellKind = "text") -> Cell:
    return Cell(text, None, kind)

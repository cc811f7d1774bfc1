"""Small-count suppression over a whole report, so it can be shared without identifying a student.

The rule (docs/documents.md has it with a worked example), applied to every count of every table
of one report at once (and so to its CSV and charts, drawn from the suppressed cells only):

1. Markers: a count from 1 to 9 is shown as "<10"; a count of 10 or more held back as "n/s"; a
   zero is shown as 0, or as "<10" where it must be hidden to protect another count (so "<10"
   means 0 to 9 to a reader). A derived figure (percentage, median) is shown only from shown
   counts.
2. One figure, one state: cells that hold the same quantity in different tables (`Link` "same")
   are one variable, shown or hidden together.
3. Nothing can be worked out: every hidden count must be able to take another whole-number value
   consistent with every shown figure, every marker's range, every table line (a total and its
   parts) and every relation between tables (`Link` "tie": a bound that is an equality in the
   usual case; "at_most": a bound). `_System.movable` proves it by finding a move of +-1 on
   hidden figures that keeps all of these; when none exists, `_System.complement` hides the fewest
   further figures that make one possible (non-zero first, parts before totals, smallest first),
   and this repeats.

A tie whose equality holds in the data (every unsent referral held with a reason; every student
referred once) is kept as an equation, since a reader may guess it; one that does not hold is only
the bound. A tie or line left with a single figure (the other side is a table row that is absent
because its count is 0) pins that figure: it is never hidden, since hiding it would protect nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    "CellRef",
    "Link",
    "suppress",
    "suppress_report",
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


CellRef = tuple[str, int, int]
"""(table key, row, column) of a count cell of the report."""


@dataclass(frozen=True)
class Link:
    """A relation between count cells of one report, within a table or across tables.

    same      two cells hold the same quantity (e.g. the visits Total row of every visits table):
              they are shown, or hidden, together.
    tie       sum(coef * cell) <= 0, and = 0 in the usual case a reader may guess (e.g. the held
              total <= funnel Referred minus Sent, equal when every unsent referral has a
              reason): an equation when the data makes it one, else a bound.
    at_most   sum(coef * cell) <= 0 holds (e.g. Sent <= Referred): bounds a reader may use.

    A cell missing from its table (a row left out because its count is 0) is left out of the
    terms; a link may then hold a single cell, which it bounds or pins.
    """

    kind: Literal["same", "tie", "at_most"]
    terms: tuple[tuple[int, CellRef], ...]


_SEARCH_BUDGET = 4000
"""Search steps per proof that a hidden cell can change; beyond it, another cell is hidden."""


class _Budget(Exception):
    pass


class _System:
    """Every count of a report as one variable (cells holding the same quantity merged), the
    equations the reader knows (`eqs`: sum of coef * var is known) and the inequalities
    (`les`: sum of coef * var <= 0)."""

    def __init__(self, grids: Mapping[str, CountGrid], links: Sequence[Link]) -> None:
        self.ids: dict[CellRef, int] = {}
        self.value: list[int] = []
        for key, grid in grids.items():
            for r, row in enumerate(grid.counts):
                for c, v in enumerate(row):
                    self.ids[(key, r, c)] = len(self.value)
                    self.value.append(v)
        self._parent = list(range(len(self.value)))
        for link in links:
            if link.kind == "same":
                (_, a), (_, b) = link.terms
                if self.value[self.ids[a]] != self.value[self.ids[b]]:
                    raise ValueError(f"{a} and {b} are linked as the same figure but differ")
                self._parent[self._find(self.ids[a])] = self._find(self.ids[b])
        self.var = {ref: self._find(i) for ref, i in self.ids.items()}
        self.state: dict[int, CellState] = {
            v: ("primary" if 0 < self.value[v] < MIN_SHOWN else "shown") for v in set(self.var.values())
        }
        self.zeros_ok = False  # whether a search may hide a shown zero
        self.eqs: list[dict[int, int]] = []
        self.les: list[dict[int, int]] = []
        self.totals: set[int] = set()
        for key, grid in grids.items():
            for line in grid.lines:
                total = self.var[(key, *line.total)]
                self.totals.add(total)
                parts = [self.var[(key, *p)] for p in line.parts]
                self._add(self.eqs, [(1, total)] + [(-1, p) for p in parts])
                for part in parts:  # a part never exceeds its total (distinct-student subtotals)
                    self._add(self.les, [(1, part), (-1, total)])
        for link in links:
            terms = [(coef, self.var[ref]) for coef, ref in link.terms]
            if link.kind == "tie":
                slack = sum(coef * self.value[v] for coef, v in terms)
                if slack == 0:  # the usual equality holds: a reader may guess it
                    self._add(self.eqs, terms)
                elif slack < 0:  # only the bound is known
                    self._add(self.les, terms)
                # slack > 0: the data breaks the usual relation; a reader relying on it is misled
            elif link.kind == "at_most":
                self._add(self.les, terms)
        self.fixed = {v for eq in self.eqs if len(eq) == 1 for v in eq}
        """Figures an equation pins by themselves (a total over no rows; a tie whose other side
        is a row absent because its count is 0): known to every reader, so never hidden."""
        self.var_eqs: dict[int, list[int]] = {}
        for i, eq in enumerate(self.eqs):
            for v in eq:
                self.var_eqs.setdefault(v, []).append(i)
        self.var_les: dict[int, list[int]] = {}
        for i, le in enumerate(self.les):
            for v in le:
                self.var_les.setdefault(v, []).append(i)

    def _find(self, i: int) -> int:
        while self._parent[i] != i:
            self._parent[i] = self._parent[self._parent[i]]
            i = self._parent[i]
        return i

    @staticmethod
    def _add(into: list[dict[int, int]], terms: Iterable[tuple[int, int]]) -> None:
        summed: dict[int, int] = {}
        for coef, v in terms:
            summed[v] = summed.get(v, 0) + coef
        summed = {v: c for v, c in summed.items() if c}
        if summed:
            into.append(summed)

    # -- can a hidden figure take another value? ------------------------------------------------
    def _fits(self, v: int, step: int) -> bool:
        """The figure moved by `step` stays within what its marker says (<10: 0-9, n/s: >= 10;
        a shown figure about to be hidden gets the marker of its value)."""
        moved = self.value[v] + step
        if self.value[v] < MIN_SHOWN:
            return 0 <= moved < MIN_SHOWN
        return moved >= MIN_SHOWN

    def movable(self, x: int) -> bool:
        """Whether another set of values, all integers, agrees with every shown figure, every
        marker, every equation and inequality, and gives `x` another value: a move of +-1 on
        hidden figures, found by search. False when none is found within the budget."""
        return self._find_move(x, allowance=0) is not None

    def _find_move(
        self, x: int, allowance: int, budget: int = _SEARCH_BUDGET
    ) -> dict[int, int] | None:
        """A move of `x` that changes at most `allowance` shown (non-zero) figures."""
        for sign in (1, -1):
            if not self._fits(x, sign):
                continue
            move = {x: sign}
            try:
                if self._search(move, self._residuals(move), [budget], [allowance]):
                    return move
            except _Budget:
                continue
        return None

    def _residuals(self, move: dict[int, int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for v, step in move.items():
            for e in self.var_eqs.get(v, ()):
                out[e] = out.get(e, 0) + self.eqs[e][v] * step
        return {e: r for e, r in out.items() if r}

    def _broken_inequality(self, move: dict[int, int]) -> int | None:
        """An inequality the move breaks (checked on the moved values), or None."""
        for i in sorted({i for v in move for i in self.var_les.get(v, ())}):
            if sum(c * (self.value[v] + move.get(v, 0)) for v, c in self.les[i].items()) > 0:
                return i
        return None

    def _repair(
        self, i: int, move: dict[int, int], residual: dict[int, int], steps: list[int],
        allowance: list[int],
    ) -> bool:
        """Move one more figure of inequality `i` the way that restores it, then go on."""
        for v, coef in self.les[i].items():
            if v in move:
                continue
            shown = self.state[v] == "shown"
            if shown and not self._may_hide(v, allowance[0]):
                continue
            step = -1 if coef > 0 else 1
            if not self._fits(v, step):
                continue
            if self._assign(v, step, shown, move, residual, steps, allowance):
                return True
        return False

    def _assign(
        self, v: int, step: int, shown: bool, move: dict[int, int], residual: dict[int, int],
        steps: list[int], allowance: list[int],
    ) -> bool:
        """Try the move with `v` moved by `step`; undone when the search fails."""
        move[v] = step
        allowance[0] -= shown
        changed = {}
        for i in self.var_eqs.get(v, ()):
            changed[i] = residual.get(i, 0)
            residual[i] = changed[i] + self.eqs[i][v] * step
            if residual[i] == 0:
                del residual[i]
        if self._search(move, residual, steps, allowance):
            return True
        for i, old in changed.items():
            if old:
                residual[i] = old
            else:
                residual.pop(i, None)
        allowance[0] += shown
        del move[v]
        return False

    def _candidates(self, e: int, move: dict[int, int], allowance: int) -> list[int]:
        """Figures of equation `e` that may still move: hidden ones first, then (while the
        allowance lasts) shown ones: non-zero before zero, parts before totals, smallest first."""
        hidden, shown = [], []
        for v in self.eqs[e]:
            if v in move:
                continue
            if self.state[v] != "shown":
                hidden.append(v)
            elif self._may_hide(v, allowance):
                shown.append(v)
        shown.sort(key=self._hiding_cost)
        return hidden + shown

    def _hiding_cost(self, v: int) -> tuple[bool, bool, int, int]:
        """Which shown figure to hide first: a non-zero one (a zero is hidden only when nothing
        else will do), a part before a total, the smallest."""
        return (self.value[v] == 0, v in self.totals, self.value[v], v)

    def _may_hide(self, v: int, allowance: int) -> bool:
        """Whether a search may hide shown figure `v`: while the allowance lasts, never a figure
        pinned by itself, a zero only when the search allows zeros."""
        return allowance > 0 and v not in self.fixed and (self.value[v] > 0 or self.zeros_ok)

    def hide(self, v: int) -> None:
        """Hide a shown figure as a complement: "<10" when below 10 (a zero), else "n/s"."""
        self.state[v] = "primary" if self.value[v] < MIN_SHOWN else "secondary"

    def _free_count(self, e: int, move: dict[int, int], allowance: int) -> int:
        """How many figures of equation `e` may still move (the most constrained goes first)."""
        n = 0
        for v in self.eqs[e]:
            if v not in move and (self.state[v] != "shown" or self._may_hide(v, allowance)):
                n += 1
        return n

    def _search(
        self, move: dict[int, int], residual: dict[int, int], steps: list[int], allowance: list[int]
    ) -> bool:
        steps[0] -= 1  # what is left of the budget
        if steps[0] < 0:
            raise _Budget
        if not residual:
            broken = self._broken_inequality(move)
            if broken is None:
                return True
            return self._repair(broken, move, residual, steps, allowance)
        e = min(residual, key=lambda i: (self._free_count(i, move, allowance[0]), i))
        r = residual[e]
        for v in self._candidates(e, move, allowance[0]):
            coef = self.eqs[e][v]
            shown = self.state[v] == "shown"
            for step in (1, -1):
                if abs(coef) == 1 and abs(r + coef * step) >= abs(r):
                    continue
                if not self._fits(v, step):
                    continue
                if self._assign(v, step, shown, move, residual, steps, allowance):
                    return True
        return False

    # -- choosing what else to hide -------------------------------------------------------------
    def complement(self, x: int) -> list[int]:
        """The fewest shown figures to hide so that `x` can move (smallest first, totals last);
        failing that, the smallest non-zero figure sharing an equation or inequality with it."""
        for zeros_ok in (False, True):  # a zero is hidden only when nothing else will do
            self.zeros_ok = zeros_ok
            for allowance, budget in ((1, 500), (2, 1000), (4, _SEARCH_BUDGET), (8, 8 * _SEARCH_BUDGET)):
                move = self._find_move(x, allowance, budget)
                if move is not None:
                    self.zeros_ok = False
                    return [v for v in move if self.state[v] == "shown"]
        self.zeros_ok = False
        near = [v for e in self.var_eqs.get(x, ()) for v in self.eqs[e]]
        near += [v for i in self.var_les.get(x, ()) for v in self.les[i]]
        pool = {v for v in near if self.state[v] == "shown" and v not in self.fixed}
        return [min(pool, key=self._hiding_cost)] if pool else []

    def _neighbours(self, x: int) -> list[int]:
        """Last resort when no search finds a move: every shown figure sharing an equation or an
        inequality with `x` (the figures hidden with it then give it room)."""
        near = {v for e in self.var_eqs.get(x, ()) for v in self.eqs[e]}
        near |= {v for i in self.var_les.get(x, ()) for v in self.les[i]}
        return sorted(v for v in near if self.state[v] == "shown" and v not in self.fixed)

    def protect(self) -> None:
        """Hide figures until every hidden figure can take another value (or nothing is left).

        Each hidden figure is searched for a move; when there is none, the fewest further
        figures are hidden that make one possible."""
        done: set[int] = set()
        while True:
            pending = sorted(v for v, s in self.state.items() if s != "shown" and v not in done)
            progress = False
            for x in pending:
                if self.movable(x):
                    done.add(x)  # hiding more never takes a move away
                    continue
                extra = self.complement(x) or self._neighbours(x)
                if not extra:
                    done.add(x)  # nothing left to hide around it
                    continue
                for v in extra:
                    self.hide(v)
                progress = True
                break
            if not progress:
                return


def suppress_report(
    grids: Mapping[str, CountGrid], links: Sequence[Link] = ()
) -> dict[str, tuple[tuple[Cell, ...], ...]]:
    """Every grid's cells after primary and complementary suppression over the whole report."""
    system = _System(grids, links)
    system.protect()
    out: dict[str, tuple[tuple[Cell, ...], ...]] = {}
    for key, grid in grids.items():
        rows = []
        for r, row in enumerate(grid.counts):
            cells = []
            for c, v in enumerate(row):
                state = system.state[system.var[(key, r, c)]]
                if state == "shown":
                    cells.append(Cell(str(v), float(v)))
                else:
                    text = PRIMARY_TEXT if state == "primary" else SECONDARY_TEXT
                    cells.append(Cell(text, None, state=state))
            rows.append(tuple(cells))
        out[key] = tuple(rows)
    return out


def suppress(grid: CountGrid) -> tuple[tuple[Cell, ...], ...]:
    """One grid's cells after primary and complementary suppression (its own lines only)."""
    return suppress_report({grid.key: grid})[grid.key]


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

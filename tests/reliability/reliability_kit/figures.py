"""Counters the suites add to as they run; printed at the end of the session (docs/reliability.md
quotes them), so every figure in the note comes from a run anyone can repeat."""

from __future__ import annotations

from collections import Counter

FIGURES: Counter[str] = Counter()


def add(name: str, amount: int = 1) -> None:
    FIGURES[name] += amount


def lines() -> list[str]:
    return [f"{name}: {FIGURES[name]}" for name in sorted(FIGURES)]

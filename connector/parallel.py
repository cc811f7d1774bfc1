"""Bounded concurrency for the engine's PowerSchool writes (outbound PUTs, disclosure POSTs).

The same bound as inbound (`[powerschool] max_workers`) and the same client, so a 429's
Retry-After pauses every worker at once (connector/retry.Throttle). Each task's Exception is
returned with it, so the caller records what succeeded before it lets a failure go up; anything
that is not an Exception (a stop, a crash) goes up at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["run_bounded", "CHUNK"]

T = TypeVar("T")
CHUNK = 500
"""Writes started between two stop checks and two state transactions."""


def run_bounded(
    tasks: Sequence[Callable[[], T]], workers: int
) -> list[tuple[T | None, Exception | None]]:
    """Run `tasks` with at most `workers` at once; results in task order."""

    def guarded(task: Callable[[], T]) -> tuple[T | None, Exception | None]:
        try:
            return task(), None
        except Exception as exc:  # noqa: BLE001 - handed back to the caller with its task
            return None, exc

    if workers <= 1 or len(tasks) <= 1:
        return [guarded(task) for task in tasks]
    with ThreadPoolExecutor(min(workers, len(tasks)), thread_name_prefix="ssp-send") as pool:
        futures = [pool.submit(guarded, task) for task in tasks]
        return [future.result() for future in futures]

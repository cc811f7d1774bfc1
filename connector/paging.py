"""Count-then-page reading with bounded concurrency, results in page order.

PowerSchool has no cursors or next links: pages are numbered (1-based) and the caller knows how
many to ask for only from a separate `/count`. So: count once, fetch exactly ceil(count/size)
pages through a bounded pool (at most `window` in flight, so a long read streams instead of
buffering every page), and yield them in order. Rows can change between the count and the pages:

- a page that comes back short before the last one means rows vanished: stop there;
- a last page with more rows than the count left for it means rows were added: continue one page
  at a time until a short page;
- a full page identical to the previous one means the server ignores `page`: fail loudly
  rather than loop (Meltano's repeated-token guard).

Never `while len(rows) < count`: that loops forever when rows disappear (PyPowerSchool, Tools4ever).
When the count is an exact multiple of the page size, rows added after the count are not probed
for (that would cost a request over the budget); the incremental queries re-read them next run.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

from foundation.errors import PowerSchoolError

__all__ = ["iter_pages", "planned_pages"]

Row = dict[str, Any]
FetchPage = Callable[[int], list[Row]]


def planned_pages(total: int, page_size: int) -> int:
    return math.ceil(total / page_size) if total > 0 else 0


def iter_pages(
    fetch: FetchPage, *, total: int, page_size: int, executor: Executor, window: int, endpoint: str
) -> Iterator[list[Row]]:
    """Yield the pages of a `total`-row result in order, fetching up to `window` at once."""
    planned = planned_pages(total, page_size)
    if planned == 0:
        return
    expected_last = total - (planned - 1) * page_size
    pending: deque[Future[list[Row]]] = deque()
    next_page = 1
    previous: list[Row] | None = None
    try:
        for page in range(1, planned + 1):
            while next_page <= planned and len(pending) < window:
                pending.append(executor.submit(fetch, next_page))
                next_page += 1
            rows = pending.popleft().result()
            _check_advancing(rows, previous, page_size, page, endpoint)
            if rows:
                yield rows
            previous = rows
            if page < planned and len(rows) < page_size:
                return  # rows vanished since the count
        if len(previous or []) > expected_last:
            yield from _tail(fetch, planned + 1, page_size, previous or [], endpoint)
    finally:
        for future in pending:
            future.cancel()


def _tail(
    fetch: FetchPage, page: int, page_size: int, previous: list[Row], endpoint: str
) -> Iterator[list[Row]]:
    """Rows were added after the count: read on, one page at a time, until a short page."""
    while True:
        rows = fetch(page)
        _check_advancing(rows, previous, page_size, page, endpoint)
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        previous = rows
        page += 1


def _check_advancing(
    rows: list[Row], previous: list[Row] | None, page_size: int, page: int, endpoint: str
) -> None:
    if previous is not None and len(rows) == page_size and rows == previous:
        raise PowerSchoolError(
            f"page {page} repeats page {page - 1}: the server is not paging; stopped",
            endpoint=endpoint,
        )

"""The connector's door to PowerSchool: extension tables and PowerQueries over the plugin REST API.

    with PowerSchoolClient("https://ps.example.org", read_credentials()) as ps:
        for row in ps.iter_query("org.district.ssp.referrals.changed_since", {"since": since}):
            ...
        new_id = ps.insert("U_SSP_VISITS", values, natural_key=("SSP_UID", uid))

Every call rides out transient faults (connector/retry.py), refreshes the token once on a 401
(connector/auth.py), and returns normalised rows (connector/normalise.py): flat dicts, lower-case
keys, string values. Reads count first, then fetch pages concurrently and in order
(connector/paging.py): reading N rows costs ceil(N / page size) + 3 requests at most, token,
metadata and count included. Writes are in connector/table_writes.py, the plumbing in
connector/transport.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from connector.endpoints import checked_row_id, drop_none, query_body, query_path, table_path
from connector.normalise import count_of, query_rows, table_record, table_rows
from connector.paging import iter_pages
from connector.table_writes import TableWrites
from connector.transport import DEFAULT_PAGE_SIZE, InsertPathStyle

__all__ = ["PowerSchoolClient", "DEFAULT_PAGE_SIZE", "InsertPathStyle"]

Row = dict[str, Any]


class PowerSchoolClient(TableWrites):
    """A thread-safe PowerSchool plugin API client (construction: connector/transport.py).

    PowerSchoolClient(base_url, credentials, *, max_workers=4, timeout=30.0, retry_deadline=300.0,
                      session=None, sleep=time.sleep, clock=time.monotonic, max_delay=30.0,
                      insert_path_style="table")
    """

    def query_count(self, name: str, args: Mapping[str, Any] | None = None) -> int:
        path = query_path(name) + "/count"
        response = self._call("POST", path, json=query_body(args), idempotent=True)
        return self._shape(count_of, self._json(response, f"POST {path}"), f"POST {path}")

    def query(
        self, name: str, args: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> list[Row]:
        return list(self.iter_query(name, args, page_size=page_size))

    def iter_query(
        self, name: str, args: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[Row]:
        """Stream a PowerQuery's rows in order (names and args are checked before any request)."""
        path, body = query_path(name), query_body(args)
        endpoint = f"POST {path}"

        def fetch(page: int, size: int) -> list[Row]:
            params = {"page": page, "pagesize": size}
            response = self._call("POST", path, params=params, json=body, idempotent=True)
            return self._shape(query_rows, self._json(response, endpoint), endpoint)

        return self._rows(lambda: self.query_count(name, args), fetch, page_size, endpoint)

    def query_batch(self, name: str, args: Mapping[str, Any] | None = None) -> list[Row]:
        """All rows of a PowerQuery expected to fit one page (a snapshot batch): page 1, then the
        next page only while a page comes back full. No count request: a batch sized below the
        page size costs exactly one request. When metadata did not say the page size, the
        server may cap pages below the guess, so only an empty page ends the read."""
        path, body = query_path(name), query_body(args)
        endpoint = f"POST {path}"
        size = self.max_page_size()
        rows: list[Row] = []
        page = 1
        while True:
            params = {"page": page, "pagesize": size}
            response = self._call("POST", path, params=params, json=body, idempotent=True)
            got = self._shape(query_rows, self._json(response, endpoint), endpoint)
            rows.extend(got)
            if not got or (len(got) < size and self.page_size_from_metadata):
                return rows
            page += 1

    def table_count(self, table: str, *, q: str | None = None) -> int:
        path = table_path(table) + "/count"
        response = self._call("GET", path, params=drop_none({"q": q}))
        return self._shape(count_of, self._json(response, f"GET {path}"), f"GET {path}")

    def table_rows(
        self, table: str, *, q: str | None = None, projection: str = "*", sort: str = "id",
        page_size: int | None = None,
    ) -> list[Row]:  # fmt: skip
        return list(
            self.iter_table_rows(table, q=q, projection=projection, sort=sort, page_size=page_size)
        )

    def iter_table_rows(
        self, table: str, *, q: str | None = None, projection: str = "*", sort: str = "id",
        page_size: int | None = None,
    ) -> Iterator[Row]:  # fmt: skip
        """Stream a table's rows as flat lower-case dicts with "id", sorted so pages are stable."""
        path = table_path(table)
        endpoint = f"GET {path}"

        def fetch(page: int, size: int) -> list[Row]:
            params = {
                "projection": projection,
                "q": q,
                "sort": sort,
                "page": page,
                "pagesize": size,
            }
            response = self._call("GET", path, params=drop_none(params))
            return self._shape(
                lambda b: table_rows(b, table), self._json(response, endpoint), endpoint
            )

        return self._rows(lambda: self.table_count(table, q=q), fetch, page_size, endpoint)

    def get_row(self, table: str, row_id: int | str, *, projection: str = "*") -> Row:
        """One row by ID; NotFoundError when the row (or table) does not exist."""
        path = f"{table_path(table)}/{checked_row_id(row_id)}"
        response = self._call("GET", path, params={"projection": projection})
        endpoint = f"GET {path}"
        return self._shape(
            lambda b: table_record(b, table), self._json(response, endpoint), endpoint
        )

    def table_metadata(self, table: str) -> dict[str, Any]:
        """The table's columns with the access this plugin was granted (`expansions=access`)."""
        path = f"{table_path(table)}/metadata"
        response = self._call("GET", path, params={"expansions": "access"})
        body = self._json(response, f"GET {path}")
        return body if isinstance(body, dict) else {}

    def _rows(
        self,
        count: Callable[[], int],
        fetch: Callable[[int, int], list[Row]],
        page_size: int | None,
        endpoint: str,
    ) -> Iterator[Row]:
        """Count, then pages (metadata only when there is something to read)."""
        total = count()
        if total == 0:
            return
        size = self._page_size_for(page_size)
        pages = iter_pages(
            lambda page: fetch(page, size),
            total=total,
            page_size=size,
            executor=self._pool(),
            window=2 * self.max_workers,
            endpoint=endpoint,
        )
        for rows in pages:
            yield from rows

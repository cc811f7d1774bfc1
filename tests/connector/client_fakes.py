"""Test doubles for the PowerSchool client tests: a fake clock and a tiny paged-table server.

Everything is served through `responses`; nothing touches the network and nothing really sleeps.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import responses
from pydantic import SecretStr

from connector.client import PowerSchoolClient
from foundation.config import Credentials

BASE = "https://ps.example.org"
SECRET = "s3cr3t-PLUGIN-secret-value"
CREDS = Credentials(client_id="plugin-client-id", client_secret=SecretStr(SECRET))
TOKEN_URL = BASE + "/oauth/access_token"
METADATA_URL = BASE + "/ws/v1/metadata"
TABLE = "U_SSP_PARTNERS"
TABLE_URL = BASE + "/ws/schema/table/u_ssp_partners"
QUERY = "org.district.ssp.referrals.changed_since"
QUERY_URL = BASE + "/ws/schema/query/" + QUERY
OUTAGE_HTML = (
    "<html><head><title>PowerSchool page unavailable</title></head><body>Down</body></html>"
)


class FakeClock:
    """Monotonic clock that only moves when the code under test sleeps; records every wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds


def make_client(clock: FakeClock | None = None, **kwargs: Any) -> PowerSchoolClient:
    clock = clock or FakeClock()
    kwargs.setdefault("retry_deadline", 300.0)
    return PowerSchoolClient(BASE, CREDS, sleep=clock.sleep, clock=clock, **kwargs)


def add_token(
    rsps: responses.RequestsMock, token: str = "tok-1", expires_in: Any = "1814654"
) -> None:
    rsps.add(
        responses.POST,
        TOKEN_URL,
        json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in},
    )


def add_metadata(rsps: responses.RequestsMock, page_size: Any = 100) -> None:
    rsps.add(
        responses.GET,
        METADATA_URL,
        json={"metadata": {"plugin_id": 7, "schema_table_query_max_page_size": page_size}},
    )


def calls_to(rsps: responses.RequestsMock, url: str, method: str | None = None) -> list[Any]:
    return [
        c
        for c in rsps.calls
        if c.request.url.split("?")[0] == url and (method is None or c.request.method == method)
    ]


def table_record(row: dict[str, Any], table: str = "u_ssp_partners") -> dict[str, Any]:
    """A /ws/schema/table record as PowerSchool sends it: id on top, string columns nested."""
    columns = {k: str(v) for k, v in row.items()}
    return {"id": int(row["id"]), "name": table, "tables": {table: columns}}


def page_body(records: list[dict[str, Any]], *, single_as_object: bool = True) -> dict[str, Any]:
    """Apply PowerSchool's quirks: no `record` when empty, a bare object for one record."""
    if not records:
        return {"name": "u_ssp_partners"}
    if len(records) == 1 and single_as_object:
        return {"name": "u_ssp_partners", "record": records[0]}
    return {"name": "u_ssp_partners", "record": records}


class PagedTable:
    """Serves count and pages of a mutable row list; hooks let a test change rows mid-read."""

    def __init__(self, n_rows: int, *, max_page: int | None = None) -> None:
        self.rows = [
            {"id": i, "partner_id": f"p{i}", "name": f"Partner {i}"} for i in range(1, n_rows + 1)
        ]
        self.max_page = max_page
        self.after_count: Callable[[PagedTable], None] | None = None
        self.pages_served: list[int] = []
        self._lock = threading.Lock()

    def install(
        self,
        rsps: responses.RequestsMock,
        url: str = TABLE_URL,
        method: str = "GET",
        as_query: bool = False,
    ) -> None:
        rsps.add_callback(method, url + "/count", callback=self._count)
        rsps.add_callback(method, url, callback=self._query_page if as_query else self._page)

    def _count(self, request: Any) -> tuple[int, dict[str, str], str]:
        with self._lock:
            count = len(self.rows)
            if self.after_count:
                self.after_count(self)
        return 200, {}, json.dumps({"count": count})

    def _slice(self, request: Any) -> list[dict[str, Any]]:
        page = int(request.params["page"])
        size = int(request.params["pagesize"])
        if self.max_page is not None:
            size = min(size, self.max_page)
        with self._lock:
            self.pages_served.append(page)
            return list(self.rows[(page - 1) * size : page * size])

    def _page(self, request: Any) -> tuple[int, dict[str, str], str]:
        records = [table_record(r) for r in self._slice(request)]
        return 200, {}, json.dumps(page_body(records))

    def _query_page(self, request: Any) -> tuple[int, dict[str, str], str]:
        records = [
            {
                "_name": "u_ssp_referrals",
                "_id": r["id"],
                **{f"u_ssp_referrals.{k}": str(v) for k, v in r.items()},
            }
            for r in self._slice(request)
        ]
        body: dict[str, Any] = {"name": "u_ssp_referrals", "@extensions": ""}
        if records:
            body["record"] = records[0] if len(records) == 1 else records
        return 200, {}, json.dumps(body)

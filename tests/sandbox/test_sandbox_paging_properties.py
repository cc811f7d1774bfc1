"""Paging rules that must hold for every page size: pages read until the first empty one add up to
exactly the whole result, in order, for tables and PowerQueries alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_helpers import EPOCH, VISITS_Q

from sandbox import Sandbox
from sandbox.shapes import Request

ROWS = 137


@pytest.fixture(scope="module")
def box(plugin_zips: list[Path]) -> Sandbox:
    """Not started: requests go straight to the API object, no sockets needed."""
    sb = Sandbox(plugins=plugin_zips, students=20, max_page_size=50)
    dcids = [s["DCID"] for s in sb.students()]
    sb.insert_rows(
        "U_SSP_VISITS",
        [{"SSP_UID": f"v{i:03d}", "STUDENTSDCID": dcids[i % 20]} for i in range(ROWS)],
    )
    return sb


def call(sb: Sandbox, method: str, path: str, params: dict[str, str], body: Any = None) -> Any:
    token, _ = sb.auth.issue()
    req = Request(
        method,
        path,
        {k: [v] for k, v in params.items()},
        {"authorization": f"Bearer {token}"},
        json.dumps(body).encode() if body is not None else b"",
        "http://sandbox",
    )
    response = sb.api.handle(req)
    assert response.status == 200, response.body
    record = json.loads(response.body).get("record", [])
    return record if isinstance(record, list) else [record]


def read_all(sb: Sandbox, method: str, path: str, size: int, body: Any = None) -> list[Any]:
    """Pages 1, 2, ... until the first empty one; every page but the last is full (size capped
    at the maximum of 50)."""
    pages: list[list[Any]] = []
    while not pages or pages[-1]:
        params = {"page": str(len(pages) + 1), "pagesize": str(size), "projection": "ssp_uid"}
        pages.append(call(sb, method, path, params, body))
    full = min(size, 50)
    assert all(len(p) == full for p in pages[:-2]) and 0 < len(pages[-2]) <= full
    return [row for p in pages for row in p]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=120))
def test_query_pages_add_up_to_the_whole_result(box: Sandbox, size: int) -> None:
    path = f"/ws/schema/query/{VISITS_Q}"
    everything = call(box, "POST", path, {"pagesize": "0"}, {"since": EPOCH})
    paged = read_all(box, "POST", path, size, {"since": EPOCH})
    assert len(everything) == ROWS and paged == everything


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=120))
def test_table_pages_add_up_to_the_whole_table(box: Sandbox, size: int) -> None:
    path = "/ws/schema/table/u_ssp_visits"
    everything = call(box, "GET", path, {"pagesize": "0", "projection": "ssp_uid"})
    paged = read_all(box, "GET", path, size)
    assert [r["tables"]["u_ssp_visits"]["ssp_uid"] for r in paged] == [
        f"v{i:03d}" for i in range(ROWS)
    ]
    assert paged == everything

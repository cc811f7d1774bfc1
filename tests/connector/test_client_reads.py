"""PowerSchoolClient reads: tables, PowerQueries, counts, metadata and concurrent paging."""

from __future__ import annotations

import json
import math
import threading

import pytest
import responses
from client_fakes import (
    BASE,
    CREDS,
    METADATA_URL,
    QUERY,
    QUERY_URL,
    TABLE,
    TABLE_URL,
    TOKEN_URL,
    PagedTable,
    add_metadata,
    add_token,
    calls_to,
    make_client,
    page_body,
    table_record,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.client import PowerSchoolClient
from foundation.errors import PowerSchoolError


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_table_rows_sends_projection_q_sort_and_paging_params(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=50)
    PagedTable(3).install(rsps)
    with make_client() as ps:
        rows = ps.table_rows(TABLE, q="active==1", projection="id,partner_id")
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0] == {"id": "1", "partner_id": "p1", "name": "Partner 1"}
    [page] = [c for c in calls_to(rsps, TABLE_URL)]
    assert page.request.params == {
        "projection": "id,partner_id",
        "q": "active==1",
        "sort": "id",
        "page": "1",
        "pagesize": "50",
    }
    assert page.request.headers["Authorization"] == "Bearer tok-1"
    [count] = calls_to(rsps, TABLE_URL + "/count")
    assert count.request.params == {"q": "active==1"}


def test_single_record_object_and_missing_record_are_lists(rsps):
    add_token(rsps)
    rsps.add(responses.GET, TABLE_URL + "/count", json={"count": "1"})
    add_metadata(rsps)
    rsps.add(
        responses.GET, TABLE_URL, json=page_body([table_record({"id": 7, "partner_id": "p7"})])
    )
    with make_client() as ps:
        assert ps.table_rows(TABLE) == [{"id": "7", "partner_id": "p7"}]
    rsps.replace(responses.GET, TABLE_URL + "/count", json={"count": 0})
    with make_client() as ps:
        assert ps.table_rows(TABLE) == []


def test_page_without_record_key_yields_no_rows(rsps):
    add_token(rsps)
    add_metadata(rsps)
    rsps.add(responses.GET, TABLE_URL + "/count", json={"count": 2})
    rsps.add(responses.GET, TABLE_URL, json={"name": "u_ssp_partners"})
    with make_client() as ps:
        assert ps.table_rows(TABLE) == []


def test_table_count_and_get_row(rsps):
    add_token(rsps)
    rsps.add(responses.GET, TABLE_URL + "/count", json={"count": 12})
    rsps.add(responses.GET, TABLE_URL + "/12", json=table_record({"id": 12, "partner_id": "p12"}))
    with make_client() as ps:
        assert ps.table_count(TABLE) == 12
        assert ps.get_row(TABLE, 12) == {"id": "12", "partner_id": "p12"}
    assert calls_to(rsps, TABLE_URL + "/12")[0].request.params == {"projection": "*"}


def test_query_posts_string_args_and_flattens_rows(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=2)
    table = PagedTable(5)
    table.install(rsps, QUERY_URL, "POST", as_query=True)
    with make_client() as ps:
        rows = ps.query(QUERY, {"since": "2026-01-01 00:00:00", "numbers": [101, 102], "n": 3})
    assert [r["ssp_uid"] if "ssp_uid" in r else r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0] == {"id": "1", "partner_id": "p1", "name": "Partner 1"}
    pages = calls_to(rsps, QUERY_URL)
    assert sorted(c.request.params["page"] for c in pages) == ["1", "2", "3"]
    for call in pages + calls_to(rsps, QUERY_URL + "/count"):
        assert json.loads(call.request.body) == {
            "since": "2026-01-01 00:00:00",
            "numbers": ["101", "102"],
            "n": "3",
        }
        assert call.request.headers["Content-Type"] == "application/json"


def test_query_count_and_empty_query(rsps):
    add_token(rsps)
    rsps.add(responses.POST, QUERY_URL + "/count", json={"count": 0})
    with make_client() as ps:
        assert ps.query_count(QUERY, {}) == 0
        assert ps.query(QUERY) == []
    assert not calls_to(rsps, QUERY_URL) and not calls_to(rsps, METADATA_URL)


def test_iter_query_streams_in_order(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=3)
    PagedTable(10).install(rsps, QUERY_URL, "POST", as_query=True)
    with make_client(max_workers=3) as ps:
        it = ps.iter_query(QUERY, {"since": "x"})
        assert next(it)["id"] == "1"
        assert [r["id"] for r in it] == [str(i) for i in range(2, 11)]


def test_metadata_is_fetched_once_and_unwrapped(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size="250")
    with make_client() as ps:
        assert ps.metadata()["plugin_id"] == 7
        assert ps.max_page_size() == 250 and ps.max_page_size() == 250
    assert len(calls_to(rsps, METADATA_URL)) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_metadata_refused_falls_back_to_100_and_logs_once(rsps, caplog, status):
    add_token(rsps)
    rsps.add(responses.GET, METADATA_URL, status=status)
    with make_client() as ps:
        assert ps.max_page_size() == 100 and ps.max_page_size() == 100
        assert not ps.page_size_from_metadata
    # a 401 is retried once with a fresh token, like every call; 403 and 404 are final
    tries = 2 if status == 401 else 1
    assert len(calls_to(rsps, METADATA_URL)) == tries and len(calls_to(rsps, TOKEN_URL)) == tries
    assert caplog.text.count("using page size 100") == 1


def test_metadata_401_from_a_token_that_just_expired_keeps_the_page_size(rsps):
    add_token(rsps)
    rsps.add(responses.GET, METADATA_URL, status=401)
    add_metadata(rsps, page_size="25")
    with make_client() as ps:
        assert ps.max_page_size() == 25 and ps.page_size_from_metadata


@pytest.mark.parametrize(
    "meta",
    [{"metadata": {"plugin_id": 1}}, {"metadata": {"schema_table_query_max_page_size": "0"}}, {}],
)
def test_metadata_without_page_size_falls_back_to_100(rsps, meta):
    add_token(rsps)
    rsps.add(responses.GET, METADATA_URL, json=meta)
    with make_client() as ps:
        assert ps.max_page_size() == 100


def test_requested_page_size_is_capped_by_metadata(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=4)
    PagedTable(9).install(rsps)
    with make_client() as ps:
        ps.table_rows(TABLE, page_size=1000)
    assert {c.request.params["pagesize"] for c in calls_to(rsps, TABLE_URL)} == {"4"}


# -- the request budget: ceil(N / P) + 3 including token, metadata and count ----------------------


def read_all(n_rows: int, page_size: int, workers: int) -> tuple[list[str], int, PagedTable]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_token(rsps)
        add_metadata(rsps, page_size=page_size)
        table = PagedTable(n_rows)
        table.install(rsps)
        with make_client(max_workers=workers) as ps:
            ids = [r["id"] for r in ps.iter_table_rows(TABLE)]
            return ids, ps.request_count, table


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_rows=st.integers(0, 60), page_size=st.integers(1, 13), workers=st.integers(1, 6))
def test_paging_costs_at_most_pages_plus_three_and_keeps_order(n_rows, page_size, workers):
    ids, requests_sent, _ = read_all(n_rows, page_size, workers)
    assert ids == [str(i) for i in range(1, n_rows + 1)]
    if n_rows:
        assert requests_sent == math.ceil(n_rows / page_size) + 3
    else:
        assert requests_sent == 2  # token + count: no metadata, no pages


def test_pages_are_fetched_concurrently_with_a_bounded_pool(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=1)
    in_flight, peak, lock = [0], [0], threading.Lock()
    both_started = threading.Barrier(2, timeout=5)

    def page(request):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        both_started.wait()  # only passes if two pages really are in flight together
        with lock:
            in_flight[0] -= 1
        n = int(request.params["page"])
        return 200, {}, json.dumps(page_body([table_record({"id": n})]))

    rsps.add(responses.GET, TABLE_URL + "/count", json={"count": 8})
    rsps.add_callback(responses.GET, TABLE_URL, callback=page)
    with make_client(max_workers=2) as ps:
        assert [r["id"] for r in ps.table_rows(TABLE)] == [str(i) for i in range(1, 9)]
    assert peak[0] == 2


def test_early_empty_page_stops_the_read(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=10)
    table = PagedTable(50)
    table.after_count = lambda t: t.rows.__delitem__(
        slice(15, None)
    )  # 35 rows vanish after the count
    table.install(rsps)
    with make_client(max_workers=1) as ps:
        ids = [r["id"] for r in ps.table_rows(TABLE)]
    assert ids == [str(i) for i in range(1, 16)]
    assert len(table.pages_served) < 5  # stopped at the short page, never chasing the promised 50


def test_full_last_page_continues_until_a_short_page(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=10)
    table = PagedTable(25)
    table.after_count = lambda t: t.rows.extend(
        {"id": i, "partner_id": f"p{i}"} for i in range(26, 48)
    )
    table.install(rsps)
    with make_client() as ps:
        ids = [r["id"] for r in ps.table_rows(TABLE)]
        sent = ps.request_count
    assert ids == [str(i) for i in range(1, 48)]
    assert sent == math.ceil(47 / 10) + 3


def test_server_ignoring_page_parameter_is_detected_not_looped(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=2)
    rsps.add(responses.GET, TABLE_URL + "/count", json={"count": 3})
    same = page_body([table_record({"id": 1}), table_record({"id": 2})])
    rsps.add(responses.GET, TABLE_URL, json=same)
    with make_client(max_workers=1) as ps, pytest.raises(PowerSchoolError, match="not paging"):
        ps.table_rows(TABLE)


def test_failed_page_raises_and_stops(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=1)
    rsps.add(responses.GET, TABLE_URL + "/count", json={"count": 5})
    rsps.add(responses.GET, TABLE_URL, status=400, json={"message": "Invalid projection"})
    with make_client() as ps, pytest.raises(PowerSchoolError, match="Invalid projection"):
        ps.table_rows(TABLE)


def test_one_token_request_for_many_calls_and_concurrent_pages(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=2)
    PagedTable(20).install(rsps)
    with make_client(max_workers=4) as ps:
        for _ in range(3):
            ps.table_rows(TABLE)
        ps.table_count(TABLE)
    assert len(calls_to(rsps, TOKEN_URL)) == 1


def test_names_are_validated_before_any_request(rsps):
    with make_client() as ps:
        with pytest.raises(ValueError):
            ps.table_rows("u_x/../../oauth")
        with pytest.raises(ValueError):
            ps.get_row(TABLE, "1 or 1=1")
        with pytest.raises(ValueError):
            ps.query_count("bad name?")
    assert len(rsps.calls) == 0


def test_base_url_path_prefix_is_kept(rsps):
    rsps.add(responses.POST, BASE + "/ps/oauth/access_token", json={"access_token": "t"})
    rsps.add(responses.GET, BASE + "/ps/ws/schema/table/u_ssp_partners/count", json={"count": 1})
    with PowerSchoolClient(BASE + "/ps/", CREDS) as ps:
        assert ps.base_url == BASE + "/ps"
        assert ps.table_count(TABLE) == 1


def test_query_batch_costs_one_request_when_its_rows_fit_a_page(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=10)
    table = PagedTable(9)
    table.install(rsps, QUERY_URL, "POST", as_query=True)
    with make_client() as ps:
        assert len(ps.query_batch(QUERY, {"uids": ["a"]})) == 9
    assert table.pages_served == [1] and calls_to(rsps, QUERY_URL + "/count") == []


def test_query_batch_reads_on_while_pages_come_back_full(rsps):
    add_token(rsps)
    add_metadata(rsps, page_size=4)
    table = PagedTable(8)
    table.install(rsps, QUERY_URL, "POST", as_query=True)
    with make_client() as ps:
        assert len(ps.query_batch(QUERY, {"uids": ["a"]})) == 8
    assert table.pages_served == [1, 2, 3]


def test_query_batch_with_a_guessed_page_size_reads_until_an_empty_page(rsps):
    """Metadata refused: the server may cap pages below the default 100, so a short page does
    not prove the end (a referral beyond it would look deleted)."""
    add_token(rsps)
    rsps.add(responses.GET, METADATA_URL, status=403)
    table = PagedTable(30, max_page=25)
    table.install(rsps, QUERY_URL, "POST", as_query=True)
    with make_client() as ps:
        assert len(ps.query_batch(QUERY, {"uids": ["a"]})) == 30
    assert table.pages_served == [1, 2, 3]

"""Deep table pages (read by key range, not OFFSET) hold exactly the rows OFFSET paging would."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox import Sandbox
from sandbox import store as store_module

TABLE = "U_SSP_REFERRALS"


def _seed(sb: Sandbox, count: int) -> None:
    dcid = sb.students()[0]["DCID"]
    rows = [
        {"SSP_UID": f"deep-{i:05d}", "STATUS": "new", "URGENCY": ("routine", "urgent")[i % 2]}
        for i in range(count)
    ]
    sb.insert_rows(TABLE, rows, student_dcid=dcid)


def _pages(sb: Sandbox, ps: requests.Session, size: int, **params: Any) -> list[list[str]]:
    pages = []
    for page in range(1, 100):
        body = ps.get(
            f"{sb.base_url}/ws/schema/table/{TABLE.lower()}",
            params={"projection": "ssp_uid", "page": page, "pagesize": size, **params},
        ).json()
        records = body.get("record", [])
        records = records if isinstance(records, list) else [records]
        if not records:
            return pages
        pages.append([r["tables"][TABLE.lower()]["ssp_uid"] for r in records])
    raise AssertionError("paging did not end")


@pytest.mark.parametrize(
    "params",
    [{"sort": "id"}, {"sort": "urgency,ssp_uid", "sortdescending": "true"}, {"q": "urgency==urgent"}],
)
def test_deep_pages_match_offset_paging(
    sandbox: Sandbox, ps: requests.Session, monkeypatch: pytest.MonkeyPatch, params: dict[str, str]
) -> None:
    _seed(sandbox, 230)
    monkeypatch.setattr(store_module, "DEEP_OFFSET", 10**9)
    by_offset = _pages(sandbox, ps, 20, **params)
    monkeypatch.setattr(store_module, "DEEP_OFFSET", 40)

    by_key_range = _pages(sandbox, ps, 20, **params)

    assert by_key_range == by_offset
    assert len(by_offset) > 3


def test_deep_pages_see_a_write_made_between_two_reads(
    sandbox: Sandbox, ps: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "DEEP_OFFSET", 10)
    _seed(sandbox, 50)
    before = sum(_pages(sandbox, ps, 10), [])
    sandbox.insert_row(TABLE, {"SSP_UID": "deep-late"}, student_dcid=sandbox.students()[1]["DCID"])
    victim = sandbox.rows(TABLE)[3]["ID"]
    sandbox.delete_row(TABLE, victim)

    after = sum(_pages(sandbox, ps, 10), [])

    assert len(after) == len(before)  # one added, one deleted
    assert after[-1] == "deep-late"
    assert before[3] not in after

"""The connector's client against the sandbox: PowerSchool's outage redirect is ridden out without
ever being followed, and the table metadata reaches the client as `ssp check` reads it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connector.client import PowerSchoolClient
from foundation.config import Credentials
from sandbox import Sandbox

PARTNERS = "U_SSP_PARTNERS"


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[PowerSchoolClient]:
    creds = Credentials(sandbox.client_id, SecretStr(sandbox.client_secret))
    with PowerSchoolClient(sandbox.base_url, creds, sleep=lambda _s: None, timeout=5) as ps:
        yield ps


def statuses(sb: Sandbox, path_end: str) -> list[int]:
    return [e.status for e in sb.request_log if e.path.endswith(path_end)]


def test_a_redirect_to_the_outage_page_is_retried_on_reads(
    sandbox: Sandbox, client: PowerSchoolClient
) -> None:
    sandbox.insert_row(PARTNERS, {"SSP_UID": "p-1", "PARTNER_ID": "cgc"})
    sandbox.faults.only("/ws/schema/table/").script(["redirect", "redirect"])
    rows = client.table_rows(PARTNERS, projection="id,partner_id")
    assert [r["partner_id"] for r in rows] == ["cgc"]
    assert sandbox.faults.injected == ["redirect", "redirect"]
    assert statuses(sandbox, "/u_ssp_partners/count") == [302, 302, 200]


def test_a_redirect_on_a_powerquery_count_is_retried(
    sandbox: Sandbox, client: PowerSchoolClient
) -> None:
    name = next(q for q in sandbox.queries if q.endswith("visits.changed_since"))
    sandbox.faults.only("/ws/schema/query/").script(["redirect"])
    assert client.query_count(name, {"since": "2000-01-01 00:00:00"}) == 0
    assert statuses(sandbox, "/count") == [302, 200]


def test_an_insert_redirected_to_the_outage_page_is_resent_once_and_stored_once(
    sandbox: Sandbox, client: PowerSchoolClient
) -> None:
    sandbox.faults.only("/ws/schema/table/u_ssp_partners", methods=["POST"]).script(["redirect"])
    new_id = client.insert(PARTNERS, {"SSP_UID": "p-2", "PARTNER_ID": "bhcare"})
    rows = sandbox.rows(PARTNERS)
    assert [r["ID"] for r in rows] == [int(new_id)]
    assert statuses(sandbox, "/u_ssp_partners") == [302, 200]


def test_table_metadata_reaches_the_client_with_the_granted_access(
    sandbox: Sandbox, client: PowerSchoolClient
) -> None:
    sandbox.revoke("U_SSP_REFERRALS", "STATUS", keep_read=True)
    meta = client.table_metadata("U_SSP_REFERRALS")
    access = {c["name"]: c["access"] for c in meta["columns"]}
    assert access["status"] == "ViewOnly" and access["status_reason"] == "FullAccess"

"""`GET /ws/schema/table/{t}/metadata?expansions=access`: the table's definition and, per column,
the access the installed access_request grants (what `ssp check` reads to verify write access)."""

from __future__ import annotations

from typing import Any

import requests

from sandbox import Sandbox

REFERRALS_META = "/ws/schema/table/u_ssp_referrals/metadata"


def metadata(sb: Sandbox, ps: requests.Session, path: str = REFERRALS_META, **params: str) -> Any:
    reply = ps.get(f"{sb.base_url}{path}", params=params, timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()


def access_of(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["access"] for c in body["columns"]}


def test_metadata_describes_the_extension_table_as_powerschool_does(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    body = metadata(sandbox, ps)
    assert set(body) == {
        "name", "comment", "primaryKey", "queries", "schemaType", "coreTable", "collection",
        "columns",
    }  # fmt: skip
    assert body["name"] == "u_ssp_referrals" and body["primaryKey"] == "id"
    assert body["coreTable"] == "students" and body["collection"] == "u_ssp"
    assert body["comment"].startswith("A referral")
    assert any(q.endswith(".referrals.changed_since") for q in body["queries"]["query"])
    columns = {c["name"]: c for c in body["columns"]}
    assert {"id", "studentsdcid", "ssp_uid", "status", "whenmodified"} <= set(columns)
    assert all(name == name.lower() for name in columns)
    assert columns["ssp_uid"] == {"name": "ssp_uid", "type": "String", "length": 36}
    assert columns["referral_date"]["type"] == "Date" and "length" not in columns["referral_date"]


def test_access_expansion_reports_what_the_access_request_granted(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    access = access_of(metadata(sandbox, ps, expansions="access"))
    assert access["status"] == "FullAccess"  # the connector writes referral status
    assert access["referral_date"] == "ViewOnly"  # read by the referrals PowerQuery only
    assert access["notes"] == "NoAccess"  # never read, never written
    assert set(access.values()) <= {"FullAccess", "ViewOnly", "NoAccess"}


def test_a_revoked_field_shows_no_access_and_keep_read_leaves_it_view_only(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    sandbox.revoke("U_SSP_REFERRALS", "STATUS")
    sandbox.revoke("u_ssp_referrals", "status_date", keep_read=True)
    access = access_of(metadata(sandbox, ps, expansions="access"))
    assert access["status"] == "NoAccess"
    assert access["status_date"] == "ViewOnly"
    assert access["access_result"] == "FullAccess"


def test_keep_read_does_not_grant_a_field_that_was_never_requested(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    sandbox.revoke("U_SSP_REFERRALS", "NOTES", keep_read=True)
    assert access_of(metadata(sandbox, ps, expansions="access"))["notes"] == "NoAccess"


def test_without_the_access_expansion_columns_carry_no_access(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    assert all("access" not in c for c in metadata(sandbox, ps)["columns"])


def test_core_tables_have_metadata_too(sandbox: Sandbox, ps: requests.Session) -> None:
    body = metadata(sandbox, ps, "/ws/schema/table/students/metadata", expansions="access")
    assert body["schemaType"] == "Core" and body["coreTable"] == "" and body["primaryKey"] == "dcid"
    access = access_of(body)
    assert access["student_number"] == "ViewOnly" and access["dob"] == "ViewOnly"
    assert "NoAccess" in access.values()  # a core table has far more than the plugin asked for


def test_unknown_table_is_404_and_a_missing_token_is_401(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    missing = ps.get(f"{sandbox.base_url}/ws/schema/table/u_nope/metadata", timeout=5)
    assert missing.status_code == 404
    anonymous = requests.get(f"{sandbox.base_url}{REFERRALS_META}", timeout=5)
    assert anonymous.status_code == 401


def test_metadata_is_read_only(sandbox: Sandbox, ps: requests.Session) -> None:
    reply = ps.post(f"{sandbox.base_url}{REFERRALS_META}", json={}, timeout=5)
    assert reply.status_code == 405


def test_an_unenforced_sandbox_reports_full_access(plugin_zips: list) -> None:
    with Sandbox(plugins=plugin_zips, students=3, enforce_access=False) as sb:
        from sandbox_helpers import authorised_session

        session = authorised_session(sb)
        assert set(access_of(metadata(sb, session, expansions="access")).values()) == {"FullAccess"}
        session.close()

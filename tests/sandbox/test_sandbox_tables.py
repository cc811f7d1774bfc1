"""`/ws/schema/table`: JSON shapes and quirks, paging, FIQL, access, writes and their results."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sandbox_helpers import authorised_session

from sandbox import STAFF_WRITER, Sandbox

PARTNERS = "/ws/schema/table/u_ssp_partners"
REFERRALS = "/ws/schema/table/u_ssp_referrals"


def add_partners(sb: Sandbox, n: int) -> list[int]:
    return sb.insert_rows(
        "U_SSP_PARTNERS",
        [
            {
                "SSP_UID": f"uid-{i:03d}",
                "PARTNER_ID": f"p{i:03d}",
                "NAME": f"Partner {i}",
                "ACTIVE": i % 2,
            }
            for i in range(n)
        ],
    )


def get(ps: requests.Session, sb: Sandbox, path: str, **params: Any) -> requests.Response:
    return ps.get(sb.base_url + path, params=params, timeout=5)


def insert_body(table: str, **values: Any) -> dict:
    return {"tables": {table: values}}


# -- reads ----------------------------------------------------------------------------------


def test_rows_have_id_name_and_string_values_under_tables(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    add_partners(sandbox, 2)
    body = get(ps, sandbox, PARTNERS, projection="*").json()
    assert body["name"] == "u_ssp_partners" and len(body["record"]) == 2
    first = body["record"][0]
    assert first["id"] == 1 and first["name"] == "u_ssp_partners"
    values = first["tables"]["u_ssp_partners"]
    assert values["id"] == "1" and values["partner_id"] == "p000" and values["active"] == "0"
    assert all(isinstance(v, str) for v in values.values())


def test_one_row_comes_back_as_a_bare_object(sandbox: Sandbox, ps: requests.Session) -> None:
    add_partners(sandbox, 1)
    record = get(ps, sandbox, PARTNERS, projection="*").json()["record"]
    assert isinstance(record, dict) and record["id"] == 1


def test_empty_result_omits_record_and_null_fields_are_left_out(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    assert get(ps, sandbox, PARTNERS, projection="*").json() == {"name": "u_ssp_partners"}
    sandbox.insert_row("U_SSP_PARTNERS", {"PARTNER_ID": "p"})
    values = get(ps, sandbox, PARTNERS, projection="*").json()["record"]["tables"]["u_ssp_partners"]
    assert "name" not in values and values["partner_id"] == "p"


def test_quirks_can_be_switched_off(plugin_zips: list) -> None:
    with Sandbox(
        plugins=plugin_zips, students=3, faults="single:0,norecord:0", null_style="empty"
    ) as sb:
        session = authorised_session(sb)
        assert get(session, sb, PARTNERS, projection="*").json()["record"] == []
        sb.insert_row("U_SSP_PARTNERS", {"PARTNER_ID": "p"})
        record = get(session, sb, PARTNERS, projection="*").json()["record"]
        assert isinstance(record, list) and record[0]["tables"]["u_ssp_partners"]["name"] == ""


def test_count_and_single_row(sandbox: Sandbox, ps: requests.Session) -> None:
    ids = add_partners(sandbox, 5)
    assert get(ps, sandbox, f"{PARTNERS}/count").json() == {"count": 5}
    assert get(ps, sandbox, f"{PARTNERS}/count", q="active==1").json() == {"count": 2}
    one = get(ps, sandbox, f"{PARTNERS}/{ids[3]}", projection="partner_id,name").json()
    assert one == {
        "id": ids[3],
        "name": "u_ssp_partners",
        "tables": {"u_ssp_partners": {"partner_id": "p003", "name": "Partner 3"}},
    }
    assert get(ps, sandbox, f"{PARTNERS}/999", projection="*").status_code == 404
    assert get(ps, sandbox, f"{PARTNERS}/abc", projection="*").status_code == 404


def test_paging_is_one_based_capped_and_zero_means_all(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    add_partners(sandbox, 230)

    def ids(**params: Any) -> list[int]:
        record = get(ps, sandbox, PARTNERS, projection="id", **params).json().get("record", [])
        return [r["id"] for r in (record if isinstance(record, list) else [record])]

    assert ids() == list(range(1, 101))  # default page size is the maximum
    assert ids(page=2, pagesize=500) == list(range(101, 201))  # capped at the maximum
    assert ids(page=3, pagesize=100) == list(range(201, 231))
    assert ids(page=4, pagesize=100) == []
    assert ids(page=2, pagesize=7) == list(range(8, 15))
    assert ids(pagesize=0) == list(range(1, 231))
    assert get(ps, sandbox, PARTNERS, projection="id", page=0).status_code == 400
    assert get(ps, sandbox, PARTNERS, projection="id", pagesize="x").status_code == 400


def test_fiql_filters_and_sort(sandbox: Sandbox, ps: requests.Session) -> None:
    add_partners(sandbox, 12)

    def partner_ids(**params: Any) -> list[str]:
        record = (
            get(ps, sandbox, PARTNERS, projection="partner_id", **params).json().get("record", [])
        )
        record = record if isinstance(record, list) else [record]
        return [r["tables"]["u_ssp_partners"]["partner_id"] for r in record]

    assert partner_ids(q="id=ge=10") == ["p009", "p010", "p011"]
    assert partner_ids(q="id=gt=2;id=lt=5") == ["p002", "p003"]
    assert partner_ids(q="id=le=2") == ["p000", "p001"]
    assert partner_ids(q="partner_id==p01*") == ["p010", "p011"]
    assert partner_ids(q="partner_id==(p001,p004)") == ["p001", "p004"]
    assert partner_ids(q="id=le=3", sort="partner_id", sortdescending="true") == [
        "p002",
        "p001",
        "p000",
    ]
    assert get(ps, sandbox, PARTNERS, projection="*", q="nope==1").status_code == 400
    assert get(ps, sandbox, PARTNERS, projection="*", sort="nope").status_code == 400


def test_projection_is_required_and_checked(sandbox: Sandbox, ps: requests.Session) -> None:
    assert get(ps, sandbox, PARTNERS).status_code == 400
    assert get(ps, sandbox, PARTNERS, projection="no_such_field").status_code == 400


def test_reading_a_field_outside_the_access_request_is_403(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    reply = get(ps, sandbox, REFERRALS, projection="ssp_uid,notes")
    assert reply.status_code == 403
    assert reply.json()["fields"] == ["U_SSP_REFERRALS.NOTES"]
    assert get(ps, sandbox, REFERRALS, projection="ssp_uid", q="notes==x").status_code == 403
    students = get(ps, sandbox, "/ws/schema/table/students", projection="dcid,student_number,dob")
    assert students.status_code == 200  # DOB is requested ViewOnly for the outbound referral


def test_star_projection_returns_only_granted_fields(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    dcid = sandbox.students()[0]["DCID"]
    sandbox.insert_row("U_SSP_REFERRALS", {"SSP_UID": "r1", "NOTES": "private"}, student_dcid=dcid)
    values = get(ps, sandbox, REFERRALS, projection="*").json()["record"]["tables"][
        "u_ssp_referrals"
    ]
    assert values["ssp_uid"] == "r1" and "notes" not in values


def test_unknown_table_is_404_and_wrong_method_is_405(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    reply = get(ps, sandbox, "/ws/schema/table/u_nope", projection="*")
    assert reply.status_code == 404 and "message" in reply.json()
    reply = ps.patch(sandbox.base_url + PARTNERS, json={}, timeout=5)
    assert reply.status_code == 405 and reply.json()["errors"]


# -- writes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PARTNERS, f"{PARTNERS}/0"])
def test_insert_on_either_path_answers_with_the_results_wrapper(
    sandbox: Sandbox, ps: requests.Session, path: str
) -> None:
    reply = ps.post(
        sandbox.base_url + path,
        json=insert_body("u_ssp_partners", partner_id="p1", active="1"),
        timeout=5,
    )
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert results["insert_count"] == 1 and results["update_count"] == 0
    result = results["result"]
    assert result["status"] == "SUCCESS" and result["action"] == "INSERT"
    new_id = result["success_message"]["id"]
    assert result["success_message"]["ref"].endswith(f"/ws/schema/table/u_ssp_partners/{new_id}")
    row = sandbox.row("U_SSP_PARTNERS", new_id)
    assert row["PARTNER_ID"] == "p1" and row["WHOCREATED"] == "Student Support Page"
    assert row["WHENCREATED"] == row["WHENMODIFIED"]


def test_bare_write_response_style(plugin_zips: list) -> None:
    with Sandbox(plugins=plugin_zips, students=3, write_response_style="bare") as sb:
        session = authorised_session(sb)
        body = session.post(
            sb.base_url + PARTNERS, json=insert_body("U_SSP_PARTNERS", partner_id="p"), timeout=5
        ).json()
        assert "results" not in body and body["result"]["status"] == "SUCCESS"


def test_update_sets_tracking_columns_and_leaves_others(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    dcid = sandbox.students()[0]["DCID"]
    rid = sandbox.insert_row(
        "U_SSP_REFERRALS",
        {"SSP_UID": "r1", "STATUS": "new", "NOTES": "n"},
        student_dcid=dcid,
        when="2026-01-01 08:00:00",
    )
    body = {
        "id": rid,
        "name": "u_ssp_referrals",
        "tables": {"u_ssp_referrals": {"status": "accepted", "status_date": "2026-02-01"}},
    }
    reply = ps.put(f"{sandbox.base_url}{REFERRALS}/{rid}", json=body, timeout=5)
    assert reply.json()["results"]["result"]["action"] == "UPDATE"
    row = sandbox.row("U_SSP_REFERRALS", rid)
    assert (row["STATUS"], row["STATUS_DATE"], row["NOTES"]) == ("accepted", "2026-02-01", "n")
    assert row["WHOCREATED"] == STAFF_WRITER and row["WHOMODIFIED"] == "Student Support Page"
    assert row["WHENMODIFIED"] > "2026-01-01 08:00:00"
    assert (
        ps.put(f"{sandbox.base_url}{REFERRALS}/999", json=body | {"id": 999}, timeout=5).status_code
        == 404
    )


def test_writes_outside_full_access_are_403_with_the_fields(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    dcid = sandbox.students()[0]["DCID"]
    rid = sandbox.insert_row("U_SSP_REFERRALS", {"SSP_UID": "r1"}, student_dcid=dcid)
    reply = ps.put(
        f"{sandbox.base_url}{REFERRALS}/{rid}",
        json=insert_body("u_ssp_referrals", status="x", notes="y", urgency="z"),
        timeout=5,
    )
    assert reply.status_code == 403
    assert reply.json()["fields"] == ["U_SSP_REFERRALS.NOTES", "U_SSP_REFERRALS.URGENCY"]
    assert sandbox.row("U_SSP_REFERRALS", rid)["STATUS"] is None


def test_write_to_an_unknown_column_or_a_too_long_string_is_400(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    reply = ps.post(
        sandbox.base_url + PARTNERS, json=insert_body("u_ssp_partners", colour="red"), timeout=5
    )
    assert (
        reply.status_code == 400 and reply.json()["errors"][0]["field"] == "u_ssp_partners.colour"
    )
    reply = ps.post(
        sandbox.base_url + PARTNERS,
        json=insert_body("u_ssp_partners", partner_id="x" * 41),
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json()["errors"][0]["error_code"] == "FIELD_VALIDATION_ERROR"
    assert sandbox.rows("U_SSP_PARTNERS") == []


def test_validation_errors_can_come_as_200_with_status_error(plugin_zips: list) -> None:
    with Sandbox(plugins=plugin_zips, students=3, write_error_style="result") as sb:
        session = authorised_session(sb)
        reply = session.post(
            sb.base_url + PARTNERS,
            json=insert_body("u_ssp_partners", mou_expires="soon"),
            timeout=5,
        )
        result = reply.json()["results"]["result"]
        assert reply.status_code == 200 and result["status"] == "ERROR"
        assert result["error_message"]["error"]["error_code"] == "INVALID_DATE_VALUE"


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"tables": {"u_other": {}}}', b'{"tables": 1}']
)
def test_malformed_write_bodies_are_400(
    sandbox: Sandbox, ps: requests.Session, body: bytes
) -> None:
    reply = ps.post(
        sandbox.base_url + PARTNERS,
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert reply.status_code == 400 and "message" in reply.json()


def test_delete_is_204_with_full_access_and_403_without(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    [pid] = add_partners(sandbox, 1)
    reply = ps.delete(f"{sandbox.base_url}{PARTNERS}/{pid}", timeout=5)
    assert reply.status_code == 204 and reply.content == b""
    assert sandbox.rows("U_SSP_PARTNERS") == []
    assert ps.delete(f"{sandbox.base_url}{PARTNERS}/{pid}", timeout=5).status_code == 404
    rid = sandbox.insert_row(
        "U_SSP_REFERRALS", {"SSP_UID": "r"}, student_dcid=sandbox.students()[0]["DCID"]
    )
    reply = ps.delete(f"{sandbox.base_url}{REFERRALS}/{rid}", timeout=5)
    assert reply.status_code == 403 and "U_SSP_REFERRALS.NOTES" in reply.json()["fields"]


def test_core_tables_cannot_be_written(sandbox: Sandbox, ps: requests.Session) -> None:
    reply = ps.post(
        sandbox.base_url + "/ws/schema/table/students",
        json=insert_body("students", last_name="X"),
        timeout=5,
    )
    assert reply.status_code == 403

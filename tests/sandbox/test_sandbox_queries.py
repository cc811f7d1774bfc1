"""PowerQueries from plugin.queries running on the seeded data, with PowerSchool's shapes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from sandbox_helpers import (
    BY_NUMBER_Q,
    CONSENTS_Q,
    EPOCH,
    REFERRALS_Q,
    VISITS_Q,
    authorised_session,
    build_zip,
    named_queries,
    query_xml,
)

from sandbox import Sandbox
from sandbox.seed import ADULT_BIRTHDAY_OFFSETS, SCHOOLS, eighteenth_birthday


def run(
    ps: requests.Session, sb: Sandbox, name: str, body: Any, *, count: bool = False, **params: Any
) -> requests.Response:
    path = f"{sb.base_url}/ws/schema/query/{name}" + ("/count" if count else "")
    return ps.post(path, json=body, params=params, timeout=5)


def records(reply: requests.Response) -> list[dict]:
    assert reply.status_code == 200, reply.text
    record = reply.json().get("record", [])
    return record if isinstance(record, list) else [record]


def test_referrals_changed_since_joins_student_identity_and_school(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    student = sandbox.students()[12]
    sandbox.insert_row(
        "U_SSP_REFERRALS",
        {"SSP_UID": "r-1", "REFERRAL_DATE": "2026-03-02", "STATUS": "new", "NOTES": "never leaves"},
        student_dcid=student["DCID"],
        when="2026-03-02 09:30:00",
    )
    reply = run(ps, sandbox, REFERRALS_Q, {"since": EPOCH})
    body = reply.json()
    row = body["record"]  # one row: a bare object
    assert (
        body["name"] == "STUDENTS" and row["_name"] == "STUDENTS" and row["_id"] == student["DCID"]
    )
    assert (
        row["ssp_uid"] == "r-1" and row["referral_date"] == "2026-03-02" and row["status"] == "new"
    )
    assert row["whenmodified"] == "2026-03-02 09:30:00"
    assert row["student_dcid"] == str(student["DCID"]) and row["student_number"] == str(
        student["STUDENT_NUMBER"]
    )
    assert row["first_name"] == student["FIRST_NAME"] and row["dob"] == student["DOB"]
    assert row["school_name"] == dict((s[0], s[1]) for s in SCHOOLS)[student["SCHOOLID"]]
    assert "notes" not in row and all(isinstance(v, str) for k, v in row.items() if k != "_id")


def test_since_filter_returns_rows_modified_at_or_after(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    dcid = sandbox.students()[0]["DCID"]
    for i, when in enumerate(["2026-01-01 10:00:00", "2026-01-02 10:00:00", "2026-01-03 10:00:00"]):
        sandbox.insert_row(
            "U_SSP_VISITS",
            {"SSP_UID": f"v{i}", "VISIT_DATE": when[:10]},
            student_dcid=dcid,
            when=when,
        )
    uids = [
        r["ssp_uid"] for r in records(run(ps, sandbox, VISITS_Q, {"since": "2026-01-02 10:00:00"}))
    ]
    assert uids == ["v1", "v2"]
    assert "record" not in run(ps, sandbox, VISITS_Q, {"since": "2027-01-01 00:00:00"}).json()


def test_an_update_moves_a_row_into_the_next_incremental_read(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    dcid = sandbox.students()[0]["DCID"]
    cid = sandbox.insert_row(
        "U_SSP_CONSENTS", {"SSP_UID": "c1"}, student_dcid=dcid, when="2026-01-01 00:00:00"
    )
    assert records(run(ps, sandbox, CONSENTS_Q, {"since": "2026-02-01 00:00:00"})) == []
    sandbox.update_row(
        "U_SSP_CONSENTS", cid, {"REVOKED_DATE": "2026-02-10"}, when="2026-02-10 12:00:00"
    )
    [row] = records(run(ps, sandbox, CONSENTS_Q, {"since": "2026-02-01 00:00:00"}))
    assert row["revoked_date"] == "2026-02-10" and row["whenmodified"] == "2026-02-10 12:00:00"


def test_dcid_by_number_takes_an_array_argument(sandbox: Sandbox, ps: requests.Session) -> None:
    wanted = [s["STUDENT_NUMBER"] for s in sandbox.students()[3:6]]
    rows = records(
        run(ps, sandbox, BY_NUMBER_Q, {"student_numbers": [str(n) for n in wanted] + ["999"]})
    )
    assert [r["student_number"] for r in rows] == [str(n) for n in wanted]
    assert [int(r["student_dcid"]) for r in rows] == [
        sandbox.student_by_number(n)["DCID"] for n in wanted
    ]
    single = run(ps, sandbox, BY_NUMBER_Q, {"student_numbers": [wanted[0]]}).json()["record"]
    assert single["student_number"] == str(wanted[0])
    assert "record" not in run(ps, sandbox, BY_NUMBER_Q, {"student_numbers": []}).json()


def test_count_and_paging(sandbox: Sandbox, ps: requests.Session) -> None:
    dcid = sandbox.students()[0]["DCID"]
    sandbox.insert_rows(
        "U_SSP_VISITS", [{"SSP_UID": f"v{i:03d}"} for i in range(250)], student_dcid=dcid
    )
    assert run(ps, sandbox, VISITS_Q, {"since": EPOCH}, count=True).json() == {"count": 250}
    pages = [records(run(ps, sandbox, VISITS_Q, {"since": EPOCH}, page=p)) for p in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [100, 100, 50, 0]
    assert [r["ssp_uid"] for p in pages for r in p] == [f"v{i:03d}" for i in range(250)]
    assert len(records(run(ps, sandbox, VISITS_Q, {"since": EPOCH}, pagesize=0))) == 250
    assert len(records(run(ps, sandbox, VISITS_Q, {"since": EPOCH}, page=2, pagesize=30))) == 30


def test_cached_results_follow_writes(sandbox: Sandbox, ps: requests.Session) -> None:
    dcid = sandbox.students()[0]["DCID"]
    sandbox.insert_row("U_SSP_VISITS", {"SSP_UID": "a"}, student_dcid=dcid)
    assert run(ps, sandbox, VISITS_Q, {"since": EPOCH}, count=True).json() == {"count": 1}
    sandbox.insert_row("U_SSP_VISITS", {"SSP_UID": "b"}, student_dcid=dcid)
    assert run(ps, sandbox, VISITS_Q, {"since": EPOCH}, count=True).json() == {"count": 2}


def test_q_filter_in_the_body_uses_column_aliases(sandbox: Sandbox, ps: requests.Session) -> None:
    numbers = [s["STUDENT_NUMBER"] for s in sandbox.students()[:10]]
    body = {"student_numbers": numbers, "$q": f"students.student_number=ge={numbers[7]}"}
    assert len(records(run(ps, sandbox, BY_NUMBER_Q, body))) == 3


@pytest.mark.parametrize(
    "body",
    [
        {"since": "yesterday"},
        {"since": EPOCH, "colour": "red"},
        {"since": [EPOCH, EPOCH]},
        {"since": {"a": 1}},
        [EPOCH],
    ],
)
def test_bad_arguments_are_400(sandbox: Sandbox, ps: requests.Session, body: Any) -> None:
    reply = run(ps, sandbox, REFERRALS_Q, body)
    assert reply.status_code == 400 and reply.json()["message"]


def test_unknown_query_is_404_and_get_is_405(sandbox: Sandbox, ps: requests.Session) -> None:
    assert run(ps, sandbox, "org.bridgeport.ssp.nope.nothing", {}).status_code == 404
    assert ps.get(f"{sandbox.base_url}/ws/schema/query/{REFERRALS_Q}", timeout=5).status_code == 405


def test_query_touching_a_field_the_administrator_rejected_is_403(
    sandbox: Sandbox, ps: requests.Session
) -> None:
    sandbox.revoke("STUDENTS", "HOME_PHONE")
    reply = run(ps, sandbox, REFERRALS_Q, {"since": EPOCH})
    assert reply.status_code == 403 and reply.json()["fields"] == ["STUDENTS.HOME_PHONE"]
    assert run(ps, sandbox, VISITS_Q, {"since": EPOCH}).status_code == 200


def test_query_outside_the_plugins_access_request_is_403() -> None:
    q = query_xml(
        "org.t.p.a.names",
        "SELECT s.DCID AS dcid, s.LAST_NAME AS last_name FROM STUDENTS s "
        "WHERE s.GRADE_LEVEL >= :grade ORDER BY s.DCID",
        [("STUDENTS.DCID", "students.dcid"), ("STUDENTS.LAST_NAME", "students.last_name")],
        args='<arg name="grade" column="STUDENTS.GRADE_LEVEL" type="primitive" required="true"/>',
    )
    zip_bytes = build_zip(
        queries=named_queries(q),
        access=[("STUDENTS", "DCID", "ViewOnly"), ("STUDENTS", "LAST_NAME", "ViewOnly")],
    )
    with Sandbox(plugins=[zip_bytes], students=20) as sb:
        session = authorised_session(sb)
        reply = run(session, sb, "org.t.p.a.names", {"grade": "9"})
        assert reply.status_code == 403 and reply.json()["fields"] == ["STUDENTS.GRADE_LEVEL"]


# -- seeded data ----------------------------------------------------------------------------


def test_seed_is_deterministic_and_spreads_grades_k_to_12(plugin_zips: list) -> None:
    a = Sandbox(students=200, seed=7).students()
    assert a == Sandbox(students=200, seed=7).students()
    assert a != Sandbox(students=200, seed=8).students()
    assert {s["GRADE_LEVEL"] for s in a} == set(range(13))
    assert len({s["SCHOOLID"] for s in a}) == len(SCHOOLS)
    ids = [s["ID"] for s in a] + [s["DCID"] for s in a] + [s["STUDENT_NUMBER"] for s in a]
    assert len(set(ids)) == len(ids)  # ID, DCID and STUDENT_NUMBER never coincide
    assert all(s["HOME_PHONE"].startswith("555-555-01") for s in a)


def test_some_students_turn_18_around_today() -> None:
    today = dt.date.today()
    birthdays = sorted(
        (eighteenth_birthday(dt.date.fromisoformat(s["DOB"])) - today).days
        for s in Sandbox(students=200).students()
        if s["GRADE_LEVEL"] == 12
    )
    for offset in ADULT_BIRTHDAY_OFFSETS:
        assert offset in birthdays
    assert 0 in birthdays and -1 in birthdays and 1 in birthdays


def test_ages_match_grades() -> None:
    today = dt.date.today()
    for s in Sandbox(students=130).students():
        age = (today - dt.date.fromisoformat(s["DOB"])).days / 365.25
        assert s["GRADE_LEVEL"] + 3.5 < age < s["GRADE_LEVEL"] + 7.5

"""PowerSchoolClient writes: string-cast bodies, write results, no duplicate inserts on retry."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
import responses
from client_fakes import OUTAGE_HTML, add_token, calls_to, make_client, page_body, table_record
from urllib3.exceptions import MaxRetryError, NewConnectionError

from foundation.errors import NotFoundError, PowerSchoolError, WriteRejectedError

BASE_T = "https://ps.example.org/ws/schema/table/"
VISITS = "U_SSP_VISITS"
VISITS_URL = BASE_T + "u_ssp_visits"
UID = "6f1c2a9e-0b7d-4c55-9a0e-2d9b1f0c7e11"
SUCCESS = {"status": "SUCCESS", "action": "INSERT", "success_message": {"id": 501, "ref": "x"}}
ERROR = {
    "status": "ERROR",
    "action": "INSERT",
    "error_message": {
        "error": [
            {
                "field": "u_ssp_visits/visit_date",
                "error_code": "INVALID_DATE_VALUE",
                "error_description": "Invalid date value",
            }
        ]
    },
}


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        add_token(mock)
        yield mock


def lookup_body(ids: list[int]) -> dict:
    return page_body(
        [table_record({"id": i, "ssp_uid": UID}, "u_ssp_visits") for i in ids],
        single_as_object=True,
    )


def test_insert_sends_string_values_in_tables_wrapper(rsps):
    rsps.add(responses.POST, VISITS_URL, json={"results": {"insert_count": 1, "result": SUCCESS}})
    values = {
        "STUDENTSDCID": 5978,
        "SSP_UID": UID,
        "VISIT_DATE": dt.date(2026, 2, 3),
        "FOLLOW_UP": True,
        "TIME_OUT": None,
        "SERVICES": ["counselling", "check_in"],
    }
    with make_client() as ps:
        assert ps.insert(VISITS, values) == "501"
    body = json.loads(calls_to(rsps, VISITS_URL)[0].request.body)
    assert body == {
        "tables": {
            "u_ssp_visits": {
                "studentsdcid": "5978",
                "ssp_uid": UID,
                "visit_date": "2026-02-03",
                "follow_up": "1",
                "time_out": "",
                "services": "counselling,check_in",
            }
        }
    }


@pytest.mark.parametrize(
    "body",
    [
        {"results": {"insert_count": 1, "result": SUCCESS}},
        {"results": {"insert_count": 1, "result": [SUCCESS]}},
        {"insert_count": 1, "result": SUCCESS},
        {"insert_count": 1, "result": [SUCCESS]},
    ],
)
def test_insert_accepts_both_write_response_forms(rsps, body):
    rsps.add(responses.POST, VISITS_URL, status=201 if "results" in body else 200, json=body)
    with make_client() as ps:
        assert ps.insert(VISITS, {"SSP_UID": UID}) == "501"


def test_write_error_on_http_200_is_rejected_with_codes(rsps):
    rsps.add(responses.POST, VISITS_URL, json={"results": {"result": ERROR}})
    with make_client() as ps, pytest.raises(WriteRejectedError) as info:
        ps.insert(VISITS, {"SSP_UID": UID, "VISIT_DATE": "not a date"})
    text = str(info.value)
    assert "POST /ws/schema/table/u_ssp_visits" in text and "INVALID_DATE_VALUE" in text
    assert "u_ssp_visits/visit_date" in text and "not a date" not in text
    assert len(calls_to(rsps, VISITS_URL)) == 1


def test_warning_status_counts_as_written(rsps, caplog):
    warning = {
        "status": "WARNING",
        "action": "INSERT",
        "success_message": {"id": 9},
        "warning_message": {"warning": {"field": "x", "error_code": "TRUNCATED"}},
    }
    rsps.add(responses.POST, VISITS_URL, json={"result": warning})
    with make_client() as ps:
        assert ps.insert(VISITS, {"SSP_UID": UID}) == "9"
    assert "TRUNCATED" in caplog.text


@pytest.mark.parametrize(
    "failure",
    [
        {"body": requests.exceptions.ReadTimeout("read timed out")},
        {"body": requests.ConnectionError("Connection aborted: reset by peer")},
        {"status": 500},
        {"status": 504},
        {"body": OUTAGE_HTML, "content_type": "text/html"},
    ],
)
def test_insert_that_reached_the_server_is_not_duplicated(rsps, failure):
    rsps.add(responses.POST, VISITS_URL, **failure)
    rsps.add(
        responses.POST, VISITS_URL, json={"result": {**SUCCESS, "success_message": {"id": 777}}}
    )
    rsps.add(responses.GET, VISITS_URL, json=lookup_body([501]))
    with make_client() as ps:
        assert ps.insert(VISITS, {"SSP_UID": UID}, natural_key=("SSP_UID", UID)) == "501"
    assert len(calls_to(rsps, VISITS_URL, "POST")) == 1
    [lookup] = calls_to(rsps, VISITS_URL, "GET")
    assert lookup.request.params["q"] == f"ssp_uid=={UID}"


def test_insert_that_did_not_arrive_is_posted_again_once(rsps):
    rsps.add(responses.POST, VISITS_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.add(responses.POST, VISITS_URL, json={"result": SUCCESS})
    rsps.add(responses.GET, VISITS_URL, json={"name": "u_ssp_visits"})  # no `record`: not there
    with make_client() as ps:
        assert ps.insert(VISITS, {"SSP_UID": UID}, natural_key=("SSP_UID", UID)) == "501"
    assert len(calls_to(rsps, VISITS_URL, "POST")) == 2


def test_insert_without_natural_key_is_not_resent_after_ambiguous_failure(rsps):
    rsps.add(responses.POST, VISITS_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    rsps.add(responses.POST, VISITS_URL, json={"result": SUCCESS})
    with make_client() as ps, pytest.raises(PowerSchoolError, match="outcome unknown"):
        ps.insert(VISITS, {"SSP_UID": UID})
    assert len(calls_to(rsps, VISITS_URL, "POST")) == 1


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 429, "headers": {"Retry-After": "3"}},
        {
            "body": requests.ConnectionError(
                MaxRetryError(None, VISITS_URL, NewConnectionError(None, "refused"))
            )
        },
    ],
)
def test_insert_retried_directly_when_certainly_not_sent(rsps, failure):
    rsps.add(responses.POST, VISITS_URL, **failure)
    rsps.add(responses.POST, VISITS_URL, json={"result": SUCCESS})
    with make_client() as ps:
        assert ps.insert(VISITS, {"SSP_UID": UID}) == "501"
    assert len(calls_to(rsps, VISITS_URL, "POST")) == 2 and not calls_to(rsps, VISITS_URL, "GET")


def test_insert_after_401_refresh_is_sent_again(rsps):
    add_token(rsps, "tok-2")
    rsps.add(responses.POST, VISITS_URL, status=401)
    rsps.add(responses.POST, VISITS_URL, json={"result": SUCCESS})
    with make_client() as ps:
        assert ps.insert(VISITS, {"SSP_UID": UID}) == "501"


def test_insert_gives_up_at_the_deadline_when_the_server_stays_ambiguous(rsps):
    rsps.add(responses.POST, VISITS_URL, status=503)
    rsps.add(responses.GET, VISITS_URL, json={"name": "u_ssp_visits"})
    with make_client(retry_deadline=20.0) as ps, pytest.raises(PowerSchoolError, match="gave up"):
        ps.insert(VISITS, {"SSP_UID": UID}, natural_key=("SSP_UID", UID))


def test_insert_without_id_in_response_finds_it_by_natural_key(rsps):
    rsps.add(responses.POST, VISITS_URL, json={"insert_count": 1})
    rsps.add(responses.GET, VISITS_URL, json=lookup_body([42]))
    with make_client() as ps:
        assert ps.insert(VISITS, {"SSP_UID": UID}, natural_key=("SSP_UID", UID)) == "42"
        assert ps.insert(VISITS, {"SSP_UID": UID}) is None


def test_natural_key_value_must_be_a_plain_identifier(rsps):
    with make_client() as ps, pytest.raises(ValueError):
        ps.insert(VISITS, {}, natural_key=("SSP_UID", "x;ssp_uid==y"))


def test_insert_path_style_table_id_posts_under_the_parent_id(rsps):
    rsps.add(responses.POST, VISITS_URL + "/5978", json={"result": SUCCESS})
    rsps.add(responses.POST, BASE_T + "u_ssp_partners/0", json={"result": SUCCESS})
    with make_client(insert_path_style="table_id") as ps:
        assert ps.insert(VISITS, {"STUDENTSDCID": 5978, "SSP_UID": UID}) == "501"
        assert ps.insert("U_SSP_PARTNERS", {"PARTNER_ID": "p1"}) == "501"


def test_update_puts_id_name_and_string_values(rsps):
    rsps.add(responses.PUT, VISITS_URL + "/42", body=requests.exceptions.ReadTimeout())
    rsps.add(
        responses.PUT,
        VISITS_URL + "/42",
        json={"result": {"status": "SUCCESS", "action": "UPDATE"}},
    )
    with make_client() as ps:
        ps.update(VISITS, "42", {"STATUS": "accepted", "STATUS_DATE": dt.date(2026, 4, 1)})
    calls = calls_to(rsps, VISITS_URL + "/42", "PUT")
    assert len(calls) == 2  # PUT of absolute values is safe to retry
    assert json.loads(calls[0].request.body) == {
        "id": 42,
        "name": "u_ssp_visits",
        "tables": {"u_ssp_visits": {"status": "accepted", "status_date": "2026-04-01"}},
    }


def test_update_rejected_on_200(rsps):
    rsps.add(responses.PUT, VISITS_URL + "/42", json={"results": {"result": [ERROR]}})
    with make_client() as ps, pytest.raises(WriteRejectedError):
        ps.update(VISITS, 42, {"VISIT_DATE": "x"})


def test_update_with_empty_body_is_success(rsps):
    rsps.add(responses.PUT, VISITS_URL + "/42", body="")
    with make_client() as ps:
        ps.update(VISITS, 42, {"STATUS": "closed"})


def test_delete_204(rsps):
    rsps.add(responses.DELETE, VISITS_URL + "/42", status=204)
    with make_client() as ps:
        ps.delete(VISITS, 42)


def test_delete_404_after_a_retried_attempt_is_done(rsps):
    rsps.add(responses.DELETE, VISITS_URL + "/42", body=requests.exceptions.ReadTimeout())
    rsps.add(responses.DELETE, VISITS_URL + "/42", status=404)
    with make_client() as ps:
        ps.delete(VISITS, 42)
    assert len(calls_to(rsps, VISITS_URL + "/42")) == 2


def test_delete_404_on_first_attempt_is_not_found_unless_missing_ok(rsps):
    rsps.add(responses.DELETE, VISITS_URL + "/42", status=404)
    with make_client() as ps:
        with pytest.raises(NotFoundError):
            ps.delete(VISITS, 42)
        ps.delete(VISITS, 42, missing_ok=True)

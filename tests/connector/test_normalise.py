"""connector/normalise.py: PowerSchool's JSON quirks become plain lists of flat string rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.normalise import (
    ShapeError,
    as_dict,
    as_list,
    cast_value,
    cast_values,
    count_of,
    query_rows,
    split_names,
    table_record,
    table_rows,
    write_items,
)

ROW = {
    "id": 3,
    "name": "u_ssp_partners",
    "tables": {"u_ssp_partners": {"partner_id": "p3", "active": "1"}},
}


def test_as_list_wraps_single_objects_and_empties():
    assert as_list(None) == [] and as_list("") == [] and as_list([]) == []
    assert as_list({"a": 1}) == [{"a": 1}]
    assert as_list([{"a": 1}, {"a": 2}]) == [{"a": 1}, {"a": 2}]
    assert as_list(851) == [851]


def test_as_dict_treats_empty_expansion_as_empty():
    assert as_dict("") == {} and as_dict(None) == {}
    with pytest.raises(ShapeError):
        as_dict([1], "phones")


def test_split_names_strips_spaces_after_commas():
    assert split_names("demographics, addresses,alerts , ") == [
        "demographics",
        "addresses",
        "alerts",
    ]
    assert split_names("") == [] and split_names(None) == []
    assert split_names(["a ", "b"]) == ["a", "b"]


def test_table_rows_flattens_records_with_id_and_lower_case_keys():
    body = {
        "name": "U_SSP_PARTNERS",
        "record": [ROW, {**ROW, "id": 4, "tables": {"U_SSP_PARTNERS": {"PARTNER_ID": "p4"}}}],
    }
    assert table_rows(body, "U_SSP_PARTNERS") == [
        {"partner_id": "p3", "active": "1", "id": "3"},
        {"partner_id": "p4", "id": "4"},
    ]


def test_table_rows_single_record_object_is_a_one_row_list():
    assert table_rows({"name": "u_ssp_partners", "record": ROW}) == [
        {"partner_id": "p3", "active": "1", "id": "3"}
    ]


def test_table_rows_missing_or_empty_record_is_no_rows():
    assert table_rows({"name": "u_ssp_partners"}) == []
    assert table_rows({"name": "u_ssp_partners", "record": ""}) == []
    assert table_rows({"name": "u_ssp_partners", "record": []}) == []


def test_table_values_stay_strings_and_nulls_become_empty():
    rec = {"id": 9, "tables": {"t": {"n": 5, "flag": True, "gone": None, "s": "x"}}}
    assert table_record(rec, "t") == {"n": "5", "flag": "1", "gone": "", "s": "x", "id": "9"}


def test_table_record_picks_the_named_table_among_several():
    rec = {"id": 1, "tables": {"students": {"dcid": "1"}, "U_SSP_VISITS": {"ssp_uid": "v1"}}}
    assert table_record(rec, "u_ssp_visits") == {"ssp_uid": "v1", "id": "1"}
    with pytest.raises(ShapeError):
        table_record(rec, "u_other")


def test_table_rows_rejects_a_non_object_body():
    with pytest.raises(ShapeError):
        table_rows(["not", "an", "object"])


def test_query_rows_take_the_part_after_the_last_dot_and_drop_name_and_id():
    body = {
        "name": "x",
        "record": [
            {
                "_name": "u_ssp_referrals",
                "_id": 12,
                "u_ssp_referrals.SSP_UID": "r-1",
                "students.dcid": "77",
            },
            {"ssp_uid": "r-2", "student_dcid": "78"},
        ],
    }
    assert query_rows(body) == [
        {"ssp_uid": "r-1", "dcid": "77"},
        {"ssp_uid": "r-2", "student_dcid": "78"},
    ]


def test_query_rows_single_object_and_missing_record():
    assert query_rows({"name": "x", "record": {"a.b": 1}}) == [{"b": "1"}]
    assert query_rows({"name": "x", "@extensions": ""}) == []


def test_query_rows_nested_tables_form_is_flattened():
    body = {"record": {"id": 5, "tables": {"students": {"dcid": "5", "grade_level": "9"}}}}
    assert query_rows(body) == [{"id": "5", "dcid": "5", "grade_level": "9"}]


def test_query_row_duplicate_short_keys_are_an_error_not_a_silent_overwrite():
    with pytest.raises(ShapeError):
        query_rows({"record": {"students.id": "1", "u_ssp_visits.id": "2"}})


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"count": 42}, 42),
        ({"count": "42"}, 42),
        ({"resource": {"count": 423}}, 423),
        ({"count": 0}, 0),
    ],
)
def test_count_of_accepts_both_forms(body, expected):
    assert count_of(body) == expected


@pytest.mark.parametrize("body", [{}, {"count": "many"}, {"count": -1}, []])
def test_count_of_rejects_nonsense(body):
    with pytest.raises(ShapeError):
        count_of(body)


SUCCESS = {
    "status": "SUCCESS",
    "action": "INSERT",
    "success_message": {"id": 501, "ref": "https://h/x/501"},
}
ERROR = {
    "status": "ERROR",
    "action": "INSERT",
    "error_message": {
        "error": [
            {
                "field": "u_ssp_visits/visit_date",
                "error_code": "INVALID_DATE_VALUE",
                "error_description": "Invalid date",
            }
        ]
    },
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
def test_write_items_accept_every_documented_form(body):
    [item] = write_items(body)
    assert (item.status, item.action, item.id) == ("SUCCESS", "INSERT", "501")


def test_write_items_expose_error_details_and_tolerate_empty_bodies():
    [item] = write_items({"results": {"result": ERROR}})
    assert item.status == "ERROR"
    assert item.errors == ["u_ssp_visits/visit_date: INVALID_DATE_VALUE (Invalid date)"]
    assert write_items(None) == [] and write_items({}) == []


def test_write_items_single_error_object_not_in_a_list():
    item = {**ERROR, "error_message": {"error": ERROR["error_message"]["error"][0]}}
    [outcome] = write_items({"result": item})
    assert len(outcome.errors) == 1


def test_cast_value_rules():
    assert cast_value(None) == "" and cast_value(True) == "1" and cast_value(False) == "0"
    assert (
        cast_value(12) == "12" and cast_value(Decimal("1.50")) == "1.50" and cast_value("x") == "x"
    )
    assert cast_value(dt.date(2026, 3, 1)) == "2026-03-01"
    assert cast_value(dt.datetime(2026, 3, 1, 14, 5, 9, 123)) == "2026-03-01 14:05:09"
    aware = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert cast_value(aware) == "2026-03-01 14:00:00"
    assert cast_value(["anxiety", "grief"]) == "anxiety,grief"
    assert cast_value({"b", "a"}) == "a,b"
    with pytest.raises(TypeError):
        cast_value(object())


def test_cast_values_lower_cases_columns():
    assert cast_values({"SSP_UID": "u1", "Visit_Date": dt.date(2026, 1, 2)}) == {
        "ssp_uid": "u1",
        "visit_date": "2026-01-02",
    }


records = st.lists(
    st.fixed_dictionaries({"id": st.integers(1, 10**9), "v": st.text(max_size=5)}), max_size=5
)


@given(records)
def test_single_object_and_list_forms_normalise_identically(rows):
    recs = [{"id": r["id"], "tables": {"t": {"v": r["v"]}}} for r in rows]
    as_given = table_rows({"record": recs}, "t")
    quirky = table_rows({"record": recs[0] if len(recs) == 1 else (recs or "")}, "t")
    assert quirky == as_given
    assert all(isinstance(v, str) for row in as_given for v in row.values())

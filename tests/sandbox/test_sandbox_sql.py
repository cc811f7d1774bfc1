"""The SQL pieces: Oracle function shims, the touched-field scan behind access checks, FIQL."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from foundation.catalogue import load_catalogue
from plugin.queries import connector_queries
from sandbox.faults import FaultPlan
from sandbox.fiql import FiqlError, alias_resolver, parse, schema_resolver, to_sql
from sandbox.oracle import (
    OracleFunctionError,
    register_oracle_functions,
    to_char,
    to_date,
)
from sandbox.seed import CORE_SCHEMAS
from sandbox.sqlscan import touched_fields

STUDENTS = CORE_SCHEMAS[1]


@pytest.fixture
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    register_oracle_functions(conn)
    return conn


def test_to_char_formats_dates_and_timestamps(db: sqlite3.Connection) -> None:
    row = db.execute(
        "SELECT TO_CHAR('2026-03-04', 'YYYY-MM-DD'), "
        "TO_CHAR('2026-03-04 05:06:07', 'YYYY-MM-DD HH24:MI:SS'), "
        "TO_CHAR('2026-03-04', 'MM/DD/YYYY'), TO_CHAR(NULL, 'YYYY'), TO_CHAR(12)"
    ).fetchone()
    assert row == ("2026-03-04", "2026-03-04 05:06:07", "03/04/2026", None, "12")


def test_to_date_makes_comparable_iso_text(db: sqlite3.Connection) -> None:
    since = "TO_DATE('2026-03-04 05:06:07', 'YYYY-MM-DD HH24:MI:SS')"
    assert db.execute(f"SELECT {since}").fetchone() == ("2026-03-04 05:06:07",)
    assert db.execute(
        f"SELECT '2026-03-04 05:06:08' >= {since}, '2026-03-04 05:06:06' >= {since}"
    ).fetchone() == (1, 0)
    assert db.execute("SELECT TO_DATE('03/04/2026', 'MM/DD/YYYY')").fetchone() == ("2026-03-04",)


def test_to_date_rejects_text_that_does_not_match_the_format() -> None:
    with pytest.raises(OracleFunctionError, match="ORA-01861"):
        to_date("yesterday", "YYYY-MM-DD HH24:MI:SS")


def test_nvl_and_dual(db: sqlite3.Connection) -> None:
    assert db.execute("SELECT NVL(NULL, 'x'), NVL('a', 'x') FROM DUAL").fetchone() == ("x", "a")


@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_to_char_and_to_date_round_trip_at_second_precision(moment: dt.datetime) -> None:
    fmt = "YYYY-MM-DD HH24:MI:SS"
    text = to_date(moment.strftime("%Y-%m-%d %H:%M:%S"), fmt)
    assert to_char(text, fmt) == moment.strftime("%Y-%m-%d %H:%M:%S")


# -- touched fields -------------------------------------------------------------------------

COLUMNS = {
    "STUDENTS": list(STUDENTS.columns),
    "SCHOOLS": ["ID", "DCID", "SCHOOL_NUMBER", "NAME"],
    "U_X": ["ID", "STUDENTSDCID", "A", "B", "WHENMODIFIED"],
}


def scan(sql: str) -> set[tuple[str, str]]:
    return touched_fields(sql, COLUMNS.get)


def test_scan_matches_the_declared_touches_of_every_connector_query() -> None:
    cat = load_catalogue()
    columns = dict(COLUMNS)
    for t in cat.tables:
        columns[t.name] = [
            "ID",
            "STUDENTSDCID",
            "WHOCREATED",
            "WHENCREATED",
            "WHOMODIFIED",
            "WHENMODIFIED",
            *t.field_names,
        ]
    for q in connector_queries(cat, "org.d.ssp"):
        assert touched_fields(q.sql, columns.get) == set(q.touches), q.name


def test_scan_resolves_aliases_comma_joins_and_stars() -> None:
    assert scan(
        "select x.A, s.* from U_X x, STUDENTS s where x.STUDENTSDCID = s.DCID order by 1"
    ) == ({("U_X", "A"), ("U_X", "STUDENTSDCID")} | {("STUDENTS", c) for c in COLUMNS["STUDENTS"]})


def test_scan_counts_unqualified_columns_of_a_single_table_and_ignores_literals() -> None:
    found = scan("SELECT B, 'x.A:y' AS label FROM U_X -- x.WHENMODIFIED\nWHERE A = :a ORDER BY ID")
    assert found == {("U_X", "B"), ("U_X", "A"), ("U_X", "ID")}


def test_scan_of_select_star_touches_every_column() -> None:
    assert scan("SELECT * FROM SCHOOLS ORDER BY ID") == {("SCHOOLS", c) for c in COLUMNS["SCHOOLS"]}


# -- FIQL -----------------------------------------------------------------------------------


def test_fiql_compiles_operators_lists_and_wildcards() -> None:
    where, params = to_sql(
        parse("grade_level=ge=9;last_name==Test*;schoolid==(101,301);dcid!=5"),
        schema_resolver(STUDENTS),
    )
    assert where == (
        '"GRADE_LEVEL" >= ? AND "LAST_NAME" LIKE ? ESCAPE \'\\\' AND "SCHOOLID" IN (?, ?) '
        'AND "DCID" <> ?'
    )
    assert params == [9, "Test%", 101, 301, 5]


@pytest.mark.parametrize(
    "q", ["grade_level=ge=nine", "nope==1", "a==1,b==2", "grade_level=gt=(1,2)", "junk"]
)
def test_fiql_refuses_what_powerschool_refuses(q: str) -> None:
    with pytest.raises(FiqlError):
        to_sql(parse(q), schema_resolver(STUDENTS))


def test_fiql_on_query_results_uses_aliases_and_compares_numbers_as_numbers(
    db: sqlite3.Connection,
) -> None:
    db.execute("CREATE TABLE r (grade_level, last_name)")
    db.executemany(
        "INSERT INTO r VALUES (?, ?)", [(9, "Mockwood"), (10, "Testwood"), (7, "Mockridge")]
    )
    where, params = to_sql(
        parse("students.grade_level=ge=8;last_name==mock*"),
        alias_resolver({"students.grade_level": "grade_level", "last_name": "last_name"}),
    )
    assert db.execute(f"SELECT last_name FROM r WHERE {where}", params).fetchall() == [
        ("Mockwood",)
    ]
    with pytest.raises(FiqlError, match="no column"):
        to_sql(parse("nope==1"), alias_resolver({}))


def test_quirk_probabilities_come_from_the_spec() -> None:
    plan = FaultPlan("single:0,norecord:1")
    assert not plan.quirk("single") and plan.quirk("norecord")

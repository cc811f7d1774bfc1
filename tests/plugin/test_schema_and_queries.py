"""user_schema_root psExtension and queries_root named_queries, in the reference formats."""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree

from foundation.errors import CatalogueError
from plugin.queries import connector_queries
from plugin.queries_xml import check_query, named_queries_xml, queries_files, select_list
from plugin.schema import schema_xml

PSX = {"x": "http://www.powerschool.com"}


def test_schema_lists_every_table_and_field_in_catalogue_order(catalogue) -> None:
    root = etree.fromstring(schema_xml(catalogue))
    assert (
        etree.QName(root).localname == "psExtension"
        and root.nsmap[None] == "http://www.powerschool.com"
    )
    assert root.findtext("x:extensionname", namespaces=PSX) == "U_SSP"
    tables = root.findall("x:extendedTable", PSX)
    assert [t.get("dbTableName") for t in tables] == [t.name for t in catalogue.tables]
    for el, table in zip(tables, catalogue.tables):
        assert el.get("childName") == table.name and el.get("comment")
        fields = el.findall("x:field", PSX)
        assert [(f.get("name"), f.get("type")) for f in fields] == [
            (f.name, f.type) for f in table.fields
        ]
        for f, spec in zip(fields, table.fields):
            assert f.get("length") == (str(spec.length) if spec.type == "String" else None)


def test_child_tables_hang_off_students_and_partners_are_standalone(catalogue) -> None:
    root = etree.fromstring(schema_xml(catalogue))
    kinds = {
        t.get("dbTableName"): (t.get("coreTable"), t.get("type"))
        for t in root.findall("x:extendedTable", PSX)
    }
    assert kinds.pop("U_SSP_PARTNERS") == (None, "standalone")
    assert set(kinds.values()) == {("STUDENTS", None)}


def test_lookup_fields_are_indexed(catalogue) -> None:
    root = etree.fromstring(schema_xml(catalogue))
    indexed = {
        (f.getparent().get("dbTableName"), f.get("name"))
        for f in root.iterfind(".//x:field[@isIndexed='true']", PSX)
    }
    assert ("U_SSP_VISITS", "PARTNER_VISIT_ID") in indexed
    assert {t for t, f in indexed if f == "SSP_UID"} == {t.name for t in catalogue.tables}
    assert {f for _, f in indexed} == {"SSP_UID", "PARTNER_VISIT_ID"}


def test_schema_file_starts_like_the_real_examples(catalogue) -> None:
    assert schema_xml(catalogue).startswith(
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<psExtension'
    )


def test_named_queries_are_well_formed_and_match_the_definitions(catalogue) -> None:
    ns = "org.bridgeport.ssp"
    ((path, data),) = queries_files(catalogue, ns).items()
    assert path == "queries_root/org.bridgeport.ssp.named_queries.xml"
    root = etree.fromstring(data)
    queries = connector_queries(catalogue, ns)
    assert root.tag == "queries" and len(root) == len(queries)
    for el, q in zip(root, queries):
        assert (el.get("name"), el.get("coreTable"), el.get("flattened")) == (
            q.name,
            "students",
            "true",
        )
        assert len(q.name) <= 200 and len(q.name.split(".")) == 5 and q.name.startswith(ns + ".")
        summary = el.findtext("summary")
        assert summary == q.summary and len(summary) <= 50
        assert el.findtext("description") == q.description
        args = [
            (a.get("name"), a.get("column"), a.get("type"), a.get("required"))
            for a in el.find("args")
        ]
        assert args == [(a.name, a.column, a.type, "true") for a in q.args]
        columns = [(c.get("column"), c.text) for c in el.find("columns")]
        assert columns == [(f"{c.table}.{c.field}", c.alias) for c in q.columns]
        sql = el.findtext("sql")
        assert sql == q.sql and len(select_list(sql)) == len(columns)
        assert "ORDER BY" in sql
    assert b"<![CDATA[SELECT" in data


def test_changed_since_arguments_declare_no_column_as_shipped_connector_plugins_do(
    catalogue,
) -> None:
    """`since` is a text timestamp parsed with TO_DATE, not a WHENMODIFIED value: no `column`.
    The student-number array keeps its key column, like shipped plugins' numeric key args."""
    root = etree.fromstring(named_queries_xml(connector_queries(catalogue, "org.d.ssp")))
    args = {
        ".".join(q.get("name").split(".")[3:]): [
            (a.get("name"), a.get("column")) for a in q.find("args")
        ]
        for q in root
    }
    for area in ("referrals", "consents", "visits"):
        assert args[f"{area}.changed_since"] == [("since", None)]
    assert args["students.dcid_by_number"] == [("student_numbers", "STUDENTS.STUDENT_NUMBER")]
    assert args["referrals.snapshot"] == [("referral_uids", "U_SSP_REFERRALS.SSP_UID")]
    for q in root:
        if q.find("args/arg").get("name") == "since":
            assert "TO_DATE(:since, 'YYYY-MM-DD HH24:MI:SS')" in q.findtext("sql")


def test_select_list_counts_top_level_expressions_only() -> None:
    sql = "SELECT a, TO_CHAR(b, 'YYYY-MM-DD') AS b, NVL(c, 'x,y') AS c\nFROM t ORDER BY a"
    assert select_list(sql) == ["a", "TO_CHAR(b, 'YYYY-MM-DD') AS b", "NVL(c, 'x,y') AS c"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "org.x.ssp.too_few"}, "five dot-separated"),
        ({"name": "org.x.ssp.area.name.extra"}, "five dot-separated"),
        ({"name": "org.x.ssp.area." + "n" * 190}, "at most 200"),
        ({"name": "org.x.ssp.Area.name"}, "snake_case"),
        ({"summary": "s" * 51}, "summary is 51"),
        ({"sql": "SELECT a FROM t ORDER BY a"}, "differ in length"),
        ({"sql": None}, "ORDER BY"),
    ],
)
def test_query_definitions_breaking_powerschool_rules_fail_the_build(
    catalogue, change: dict, message: str
) -> None:
    query = connector_queries(catalogue, "org.x.ssp")[3]
    if change.get("sql", "") is None:
        change = {"sql": query.sql.split("ORDER BY")[0]}
    bad = dataclasses.replace(query, **change)
    with pytest.raises(CatalogueError) as caught:
        named_queries_xml([bad])
    assert message in str(caught.value) and bad.name in str(caught.value)


def test_check_query_accepts_every_connector_query(catalogue) -> None:
    for query in connector_queries(catalogue, "org.bridgeport.ssp"):
        check_query(query)

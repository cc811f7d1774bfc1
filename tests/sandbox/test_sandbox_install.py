"""Installing plugin zips: every psExtension form, field types, upgrades, and zips PowerSchool
would refuse."""

from __future__ import annotations

import pytest
from sandbox_helpers import build_zip, make_zip, named_queries, plugin_xml, psext, query_xml

from sandbox import InstallError, Sandbox, ValidationFailed

ALL_FORMS = psext(
    '<extendedTable coreTable="STUDENTS" dbTableName="U_T_ONE">'
    '<field name="nickname" type="String" length="10"/></extendedTable>'
    '<extendedTable coreTable="Students" dbTableName="u_t_parent" childName="u_t_parent">'
    '<field name="label" type="String" length="20"/><field name="score" type="Integer"/>'
    '<field name="ratio" type="Double"/><field name="day" type="Date"/>'
    '<field name="flag" type="Boolean"/><field name="story" type="Clob"/></extendedTable>'
    '<extendedTable coreTable="u_t_parent" dbTableName="u_t_kid" childName="u_t_kid">'
    '<field name="code" type="String" length="5"/></extendedTable>'
    '<extendedTable type="standalone" dbTableName="u_t_lookup" childName="u_t_lookup" comment="x">'
    '<index name="u_t_lookup_idx"><column name="code"/></index>'
    '<field name="code" type="String" length="60" isIndexed="true"/></extendedTable>'
)


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(plugins=[build_zip("Forms DATA", schema=ALL_FORMS, oauth=False)], students=5)


def columns(sb: Sandbox, table: str) -> set[str]:
    return set(sb.store.schema(table).columns)


TRACKING = {"WHOCREATED", "WHENCREATED", "WHOMODIFIED", "WHENMODIFIED"}


def test_child_table_of_students_gets_id_parent_link_and_tracking_columns(sb: Sandbox) -> None:
    assert (
        columns(sb, "U_T_PARENT")
        == {"ID", "STUDENTSDCID", "LABEL", "SCORE", "RATIO", "DAY", "FLAG", "STORY"} | TRACKING
    )


def test_child_of_an_extension_table_links_to_its_parent_row(sb: Sandbox) -> None:
    dcid = sb.students()[0]["DCID"]
    parent = sb.insert_row("U_T_PARENT", {"LABEL": "p"}, student_dcid=dcid)
    kid = sb.insert_row("U_T_KID", {"U_T_PARENTDCID": parent, "CODE": "k"})
    assert sb.row("U_T_KID", kid)["U_T_PARENTDCID"] == parent
    with pytest.raises(ValidationFailed, match="no U_T_PARENT record"):
        sb.insert_row("U_T_KID", {"U_T_PARENTDCID": parent + 99, "CODE": "k"})


def test_standalone_table_has_id_and_no_parent_link(sb: Sandbox) -> None:
    assert columns(sb, "U_T_LOOKUP") == {"ID", "CODE"} | TRACKING
    assert sb.insert_row("U_T_LOOKUP", {"CODE": "a"}) == 1


def test_one_to_one_extension_allows_one_row_per_student(sb: Sandbox) -> None:
    dcid = sb.students()[0]["DCID"]
    sb.insert_row("U_T_ONE", {"NICKNAME": "x"}, student_dcid=dcid)
    with pytest.raises(ValidationFailed, match="one-to-one"):
        sb.insert_row("U_T_ONE", {"NICKNAME": "y"}, student_dcid=dcid)


def test_child_row_needs_an_existing_student(sb: Sandbox) -> None:
    with pytest.raises(ValidationFailed, match="parent record is required"):
        sb.insert_row("U_T_PARENT", {"LABEL": "orphan"})
    with pytest.raises(ValidationFailed, match="no STUDENTS record"):
        sb.insert_row("U_T_PARENT", {"LABEL": "orphan"}, student_dcid=1)


def test_field_types_store_typed_values(sb: Sandbox) -> None:
    dcid = sb.students()[0]["DCID"]
    rid = sb.insert_row(
        "U_T_PARENT",
        {
            "LABEL": "a",
            "SCORE": "7",
            "RATIO": "0.5",
            "DAY": "2026-01-31",
            "FLAG": "1",
            "STORY": "long " * 2000,
        },
        student_dcid=dcid,
    )
    row = sb.row("U_T_PARENT", rid)
    assert (row["SCORE"], row["RATIO"], row["DAY"], row["FLAG"]) == (7, 0.5, "2026-01-31", 1)
    assert len(row["STORY"]) == 10000


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("LABEL", "x" * 21, "FIELD_VALIDATION_ERROR"),
        ("SCORE", "seven", "FIELD_VALIDATION_ERROR"),
        ("DAY", "31/01/2026", "INVALID_DATE_VALUE"),
        ("FLAG", "maybe", "FIELD_VALIDATION_ERROR"),
    ],
)
def test_invalid_values_are_refused_with_the_field_named(
    sb: Sandbox, field: str, value: str, code: str
) -> None:
    dcid = sb.students()[0]["DCID"]
    with pytest.raises(ValidationFailed) as caught:
        sb.insert_row("U_T_PARENT", {field: value}, student_dcid=dcid)
    assert caught.value.problems[0][:2] == (field, code)


def test_upgrade_adds_fields_and_grows_strings_but_never_shrinks(sb: Sandbox) -> None:
    grown = ALL_FORMS.replace(
        'name="label" type="String" length="20"/>',
        'name="label" type="String" length="40"/><field name="extra" type="Integer"/>',
    )
    sb.install(build_zip("Forms DATA", schema=grown, oauth=False))
    assert {"EXTRA"} <= columns(sb, "U_T_PARENT")
    assert sb.store.schema("U_T_PARENT").columns["LABEL"].length == 40
    shrunk = ALL_FORMS.replace('length="20"', 'length="5"')
    with pytest.raises(InstallError, match="cannot shrink"):
        sb.install(build_zip("Forms DATA", schema=shrunk, oauth=False))


def test_generated_zips_install_side_by_side(plugin_zips: list) -> None:
    sb = Sandbox(plugins=plugin_zips, students=5)
    names = [p.name for p in sb.plugins]
    assert len(names) == 2 and sum(p.oauth for p in sb.plugins) == 1
    for table in ("U_SSP_VISITS", "U_SSP_REFERRALS", "U_SSP_CONSENTS", "U_SSP_DISCLOSURES"):
        assert {"ID", "STUDENTSDCID"} | TRACKING <= columns(sb, table)
    assert "STUDENTSDCID" not in columns(sb, "U_SSP_PARTNERS")
    assert len(sb.queries) == 7  # three streams, students by number, two snapshot reads, disclosures


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"ssp/plugin.xml": plugin_xml("X")}, "at the root"),
        ({"plugin.xml": plugin_xml("X"), "user_schema_root\\U_X.xml": "<x/>"}, "forward slashes"),
        ({"plugin.xml": "<plugin"}, "not well-formed"),
        ({"plugin.xml": plugin_xml("X", [("STUDENTS", "DCID", "Read")])}, "ViewOnly or FullAccess"),
        ({"plugin.xml": plugin_xml("X" * 41)}, "at most 40"),
        (
            {
                "plugin.xml": plugin_xml("X"),
                "user_schema_root/U_X.xml": psext(
                    '<extendedTable dbTableName="U_X">'
                    '<field name="a" type="String" length="5"/></extendedTable>'
                ),
            },
            "coreTable or type",
        ),
        (
            {
                "plugin.xml": plugin_xml("X"),
                "user_schema_root/U_X.xml": psext(
                    '<extendedTable type="standalone" dbTableName="U_X">'
                    '<field name="a" type="String"/></extendedTable>'
                ),
            },
            "String length",
        ),
        (
            {
                "plugin.xml": plugin_xml("X"),
                "user_schema_root/U_X.xml": psext(
                    '<extendedTable type="standalone" dbTableName="U_X">'
                    '<field name="a" type="Text"/></extendedTable>'
                ),
            },
            "known: String",
        ),
        (
            {
                "plugin.xml": plugin_xml("X"),
                "user_schema_root/U_X.xml": psext(
                    '<extendedTable type="standalone" dbTableName="U_X">'
                    '<field name="id" type="Integer"/></extendedTable>'
                ),
            },
            "reserved",
        ),
    ],
)
def test_zips_powerschool_would_refuse_fail_to_install(files: dict, message: str) -> None:
    with pytest.raises(InstallError, match=message):
        Sandbox(plugins=[make_zip(files)], students=1)


def test_query_whose_columns_do_not_match_its_sql_fails_to_install() -> None:
    q = query_xml(
        "org.t.p.a.bad",
        "SELECT s.DCID AS dcid, s.ID AS id FROM STUDENTS s ORDER BY s.DCID",
        [("STUDENTS.DCID", "students.dcid")],
    )
    with pytest.raises(InstallError, match="returns 2 columns but <columns> lists 1"):
        Sandbox(plugins=[build_zip(queries=named_queries(q))], students=1)


def test_query_using_an_undeclared_argument_fails_to_install() -> None:
    q = query_xml(
        "org.t.p.a.bad",
        "SELECT s.DCID AS dcid FROM STUDENTS s WHERE s.ID = :nope ORDER BY 1",
        [("STUDENTS.DCID", "students.dcid")],
    )
    with pytest.raises(InstallError, match="undeclared argument"):
        Sandbox(plugins=[build_zip(queries=named_queries(q))], students=1)


def test_query_names_are_one_flat_namespace_across_plugins() -> None:
    q = query_xml(
        "org.t.p.a.same",
        "SELECT s.DCID AS dcid FROM STUDENTS s ORDER BY s.DCID",
        [("STUDENTS.DCID", "students.dcid")],
    )
    sb = Sandbox(plugins=[build_zip("One", queries=named_queries(q))], students=1)
    sb.install(build_zip("One", queries=named_queries(q)))  # reinstalling the same plugin is fine
    with pytest.raises(InstallError, match="already installed by plugin 'One'"):
        sb.install(build_zip("Two", queries=named_queries(q)))


def test_the_ui_plugin_alone_is_refused_unless_queries_may_wait_for_their_tables(
    plugin_zips: list,
) -> None:
    data_zip, ui_zip = plugin_zips
    with pytest.raises(InstallError, match="no such table: U_SSP_"):
        Sandbox(plugins=[ui_zip], students=3)
    sb = Sandbox(plugins=[ui_zip], students=3, strict_queries=False)
    assert len(sb.queries) == 7  # three streams, students by number, two snapshot reads, disclosures
    assert sb.store.schema("U_SSP_REFERRALS") is None
    sb.install(data_zip)  # installing the DATA plugin afterwards makes the queries runnable
    name = next(q for q in sb.queries if q.endswith("referrals.changed_since"))
    assert sb.engine.count(sb.engine.queries[name], {"since": "2000-01-01 00:00:00"}) == 0
    assert ("U_SSP_REFERRALS", "STATUS") in sb.engine.touches[name]  # enforced from now on

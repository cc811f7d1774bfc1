"""plugin.xml: XSD validity, limits, and an access_request derived from exactly what is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from plugin_configs import DATA

from foundation.errors import ConfigError
from plugin.build import data_files, ui_files
from plugin.manifest import Manifest, plugin_xml
from plugin.queries import AccessField, access_request, connector_queries, table_reads, table_writes

NS = {"p": "http://plugin.powerschool.pearson.com"}


@pytest.fixture(scope="module")
def xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(DATA / "plugin.xsd")))


def test_both_plugin_xml_files_validate_against_the_xsd(demo_config, xsd: etree.XMLSchema) -> None:
    cat = demo_config.catalogue()
    for files in (data_files(demo_config, cat), ui_files(demo_config, cat)):
        doc = etree.fromstring(files["plugin.xml"])
        assert xsd.validate(doc), xsd.error_log


def test_v1_access_level_is_emitted_only_when_asked(demo_config, xsd: etree.XMLSchema) -> None:
    cat = demo_config.catalogue()
    plain = etree.fromstring(ui_files(demo_config, cat)["plugin.xml"])
    assert plain.find("p:oauth", NS).attrib == {}
    with_v1 = etree.fromstring(ui_files(demo_config, cat, v1_access="READ")["plugin.xml"])
    oauth = with_v1.find("p:oauth", NS)
    assert oauth.get("accessLevelV1Api") == "READ"
    assert not xsd.validate(with_v1)  # the 2020 XSD predates the attribute (reference 1.5)...
    del oauth.attrib["accessLevelV1Api"]
    assert xsd.validate(with_v1)  # ...and it is the only difference


def test_access_request_is_exactly_what_queries_and_writes_touch(demo_config) -> None:
    cat = demo_config.catalogue()
    ns = demo_config.district.query_namespace
    root = etree.fromstring(ui_files(demo_config, cat)["plugin.xml"])
    listed = {
        (f.get("table"), f.get("field")): f.get("access")
        for f in root.iterfind("p:access_request/p:field", NS)
    }
    touched = {t for q in connector_queries(cat, ns) for t in q.touches}
    touched |= {(t, f) for t, fs in table_reads(cat).items() for f in fs}
    written = {(t, f) for t, fs in table_writes(cat).items() for f in fs}
    assert set(listed) == touched | written
    assert {k for k, v in listed.items() if v == "FullAccess"} == written
    assert listed == {(a.table, a.field): a.access for a in access_request(cat, ns)}


def test_every_query_column_is_covered_by_the_access_request(demo_config) -> None:
    cat = demo_config.catalogue()
    ns = demo_config.district.query_namespace
    granted = {(a.table, a.field) for a in access_request(cat, ns)}
    for query in connector_queries(cat, ns):
        for col in query.columns:
            assert (col.table, col.field) in granted, f"{query.name}: {col.table}.{col.field}"


def test_notes_and_staff_only_fields_are_never_requested(demo_config) -> None:
    granted = {(a.table, a.field) for a in access_request(demo_config.catalogue(), "org.x.ssp")}
    assert ("U_SSP_VISITS", "NOTES") not in granted and ("U_SSP_REFERRALS", "NOTES") not in granted


def _manifest(**overrides: object) -> Manifest:
    base = dict(
        name="Student Support Page", version="1.0", description="d", publisher="P", email="a@b.org"
    )
    base.update(overrides)
    return Manifest(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"name": "x" * 41}, "plugin.name"),
        ({"name": ""}, "plugin.name"),
        ({"description": "d" * 257}, "plugin.description"),
        ({"email": "a" * 35 + "@b.org"}, "district.contact_email"),
        ({"publisher": "p" * 101}, "district.publisher"),
        ({"version": "1.0-beta"}, "plugin.version"),
        ({"version": "v1"}, "plugin.version"),
        ({"access": (AccessField("T", "F", "ViewOnly"),)}, "plugin"),
        ({"oauth": True, "access": (AccessField("T" * 31, "F", "ViewOnly"),)}, "access_request"),
    ],
)
def test_powerschool_limits_are_enforced_with_the_key_named(overrides: dict, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plugin_xml(_manifest(**overrides))
    assert caught.value.key == key and caught.value.exit_code == 2


def test_limits_at_the_boundary_are_accepted(xsd: etree.XMLSchema) -> None:
    doc = plugin_xml(
        _manifest(
            name="n" * 40, description="d" * 256, email="a" * 34 + "@b.org", version="25.07.06"
        )
    )
    assert xsd.validate(etree.fromstring(doc))


def test_plugin_name_too_long_for_data_suffix_is_a_config_error(make_config) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config('[plugin]\nname = "' + "n" * 36 + '"')
    assert "plugin.name" in str(caught.value)


def test_xml_declaration_and_namespace(demo_config) -> None:
    data = ui_files(demo_config, demo_config.catalogue())["plugin.xml"]
    assert data.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<plugin xmlns="http://plugin.powerschool.pearson.com"'
    )


def test_plugin_xml_is_well_formed_for_any_sensible_description(
    tmp_path: Path, xsd: etree.XMLSchema
) -> None:
    doc = plugin_xml(_manifest(description="Quotes \" and ' & <angle> ~[x] ~(y) \u00e9"))
    root = etree.fromstring(doc)
    assert root.get("description") == "Quotes \" and ' & <angle> ~[x] ~(y) \u00e9"
    assert b"~" not in doc and xsd.validate(root)

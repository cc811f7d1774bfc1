"""Catalogue -> `user_schema_root/U_SSP.xml`, the psExtension file of the DATA plugin.

The format follows the real files in shared/reference (section 2.5): child tables of STUDENTS as
`<extendedTable coreTable=... childName=...>`, the partner directory as a standalone table,
`length` on String fields only, and an index on the fields the connector looks rows up by.
"""

from __future__ import annotations

from lxml import etree

from foundation.catalogue import Catalogue, Table
from plugin.escaping import xml_bytes

__all__ = ["PS_EXTENSION_NS", "INDEXED_FIELDS", "schema_xml", "schema_files", "schema_path"]

PS_EXTENSION_NS = "http://www.powerschool.com"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
INDEXED_FIELDS = frozenset({"SSP_UID", "PARTNER_VISIT_ID"})
"""Fields the connector finds rows by: the cross-system identity and the partner's visit id."""


def schema_path(cat: Catalogue) -> str:
    return f"user_schema_root/{cat.group}.xml"


def _table_element(parent: etree._Element, cat: Catalogue, table: Table) -> None:
    el = etree.SubElement(parent, f"{{{PS_EXTENSION_NS}}}extendedTable")
    if table.kind == "standalone":
        el.set("type", "standalone")
    else:
        el.set("coreTable", cat.parent)
    el.set("dbTableName", table.name)
    el.set("childName", table.name)
    el.set("comment", table.description or table.label)
    for field in table.fields:
        f = etree.SubElement(el, f"{{{PS_EXTENSION_NS}}}field")
        f.set("name", field.name)
        f.set("type", field.type)
        if field.type == "String":
            f.set("length", str(field.length))
        if field.name in INDEXED_FIELDS:
            f.set("isIndexed", "true")


def schema_xml(cat: Catalogue) -> bytes:
    """The psExtension document for the whole extension group."""
    root = etree.Element(
        f"{{{PS_EXTENSION_NS}}}psExtension", nsmap={None: PS_EXTENSION_NS, "xsi": _XSI}
    )
    root.set(f"{{{_XSI}}}schemaLocation", f"{PS_EXTENSION_NS} psextension.xsd")
    etree.SubElement(root, f"{{{PS_EXTENSION_NS}}}extensionname").text = cat.group
    for table in cat.tables:
        _table_element(root, cat, table)
    return xml_bytes(root, standalone=True)


def schema_files(cat: Catalogue) -> dict[str, bytes]:
    return {schema_path(cat): schema_xml(cat)}

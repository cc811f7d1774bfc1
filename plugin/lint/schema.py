"""user_schema_root rules: psExtension files, identifier limits, field types and lengths.

PowerSchool stores extension identifiers in Varchar2(30) columns (ExtSchemaDef*), rejects Oracle
reserved words, limits a String to 1-4000 and a group to 999 fields, and adds ID, the parent's
DCID column and the four tracking columns itself. The tables and fields found here are also what
the access-request rule checks requests against (`Schema`).
"""

from __future__ import annotations

from lxml import etree

from foundation.catalogue import ORACLE_RESERVED_WORDS
from plugin.lint.model import PluginArchive, Schema, local, parse_xml

__all__ = ["check_schema", "read_schema_files"]

PS_EXTENSION_NS = "http://www.powerschool.com"
MAX_IDENTIFIER = 30
MAX_STRING = 4000
MAX_FIELDS_PER_GROUP = 999
KNOWN_TYPES = {"STRING", "INTEGER", "DOUBLE", "DATE", "BOOLEAN", "CLOB", "TIMESTAMP"}
TRACKING = {"WHOCREATED", "WHENCREATED", "WHOMODIFIED", "WHENMODIFIED"}


def _identifier(
    archive: PluginArchive, path: str, el: etree._Element, what: str, name: str
) -> None:
    if not name:
        archive.error(path, el.sourceline, f"{what} has no name")
    elif len(name) > MAX_IDENTIFIER:
        archive.error(
            path, el.sourceline,
            f"{what} {name} has {len(name)} characters "
            f"(PowerSchool stores at most {MAX_IDENTIFIER})",
        )
    elif name.upper() in ORACLE_RESERVED_WORDS:
        archive.error(path, el.sourceline, f"{what} {name} is an Oracle reserved word")


def _table(
    archive: PluginArchive, path: str, el: etree._Element, group: str, schema: Schema
) -> int:
    db_name = el.get("dbTableName") or ""
    _identifier(archive, path, el, "table", db_name)
    for attr in ("childName", "coreTable"):
        value = el.get(attr)
        if value is not None:
            _identifier(archive, path, el, attr, value)
    core = (el.get("coreTable") or "").upper()
    added = {"ID", *TRACKING}
    if el.get("type") != "standalone" and core:
        added.add(f"{core}DCID")
    fields: set[str] = set()
    count = 0
    for f in el:
        if local(f) != "field":
            continue
        count += 1
        name = f.get("name") or ""
        _identifier(archive, path, f, "field", name)
        upper = name.upper()
        if upper in added:
            archive.error(path, f.sourceline, f"field {name}: PowerSchool adds this column itself")
        elif upper in fields:
            archive.error(path, f.sourceline, f"field {name} is declared twice in {db_name}")
        fields.add(upper)
        _field_type(archive, path, f, name)
    table = db_name.upper()
    schema.tables.setdefault(table, set()).update(fields | added)
    schema.groups[table] = group.upper()
    return count


def _field_type(archive: PluginArchive, path: str, f: etree._Element, name: str) -> None:
    ftype = (f.get("type") or "").upper()
    if ftype not in KNOWN_TYPES:
        archive.warning(
            path, f.sourceline, f"field {name}: type {f.get('type')!r} is not one seen in shipped "
            "plugins (String, Integer, Double, Date, Boolean, Clob)"
        )
    length = f.get("length")
    if ftype == "STRING":
        if length is None or not length.isdigit() or not 1 <= int(length) <= MAX_STRING:
            archive.error(
                path, f.sourceline,
                f"field {name}: a String needs a length of 1-{MAX_STRING} (got {length!r})",
            )


def read_schema_files(archive: PluginArchive, *, report: bool = True) -> Schema:
    """Check (when `report`) and collect every user_schema_root/*.xml of the archive."""
    schema = Schema()
    target = archive if report else PluginArchive(archive.label, archive.files, archive.names)
    for path in target.under("user_schema_root"):
        if not path.lower().endswith(".xml"):
            target.warning(path, 0, "not an .xml file: PowerSchool reads user_schema_root/*.xml")
            continue
        root = parse_xml(target, path)
        if root is None:
            continue
        if local(root) != "psExtension":
            target.error(path, root.sourceline, "the root element must be <psExtension>")
            continue
        if etree.QName(root).namespace != PS_EXTENSION_NS:
            target.warning(
                path, root.sourceline,
                f'psExtension without xmlns="{PS_EXTENSION_NS}" (every shipped schema file has it)',
            )
        names = [e for e in root if local(e) == "extensionname"]
        group = (names[0].text or "").strip() if names else ""
        if not names:
            target.error(path, root.sourceline, "no <extensionname> (the extension group)")
        else:
            _identifier(target, path, names[0], "extension group", group)
        count = sum(
            _table(target, path, el, group, schema) for el in root if local(el) == "extendedTable"
        )
        if count > MAX_FIELDS_PER_GROUP:
            target.error(
                path, root.sourceline,
                f"{count} fields in one extension group "
                f"(PowerSchool allows {MAX_FIELDS_PER_GROUP})",
            )
    return schema


def check_schema(archive: PluginArchive) -> None:
    archive.schema = read_schema_files(archive)

"""Read a plugin zip the way PowerSchool's plugin installer does.

From `plugin.xml`: the plugin's name, whether it asks for OAuth credentials (`<oauth/>`) and its
`<access_request>`. From `user_schema_root/*.xml` (psExtension): the extension tables in every form
the reference allows (child of a core or extension table, standalone, one-to-one). From
`queries_root/*.named_queries.xml`: the PowerQueries with their args, columns and SQL.

Parsing only: creating the tables and checking the queries is the store's job.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lxml import etree

from foundation.errors import ConfigError

__all__ = [
    "InstallError",
    "FieldDef",
    "TableDef",
    "ArgDef",
    "ColumnDef",
    "QueryDef",
    "PluginDef",
    "read_plugin",
    "FIELD_TYPES",
]

FIELD_TYPES = ("String", "Integer", "Double", "Date", "Boolean", "Clob")
MAX_STRING = 4000


class InstallError(ConfigError):
    """The zip would not install on PowerSchool: the message names the zip, entry and element."""


@dataclass(frozen=True)
class FieldDef:
    name: str  # upper case
    type: str  # one of FIELD_TYPES
    length: int | None = None


@dataclass(frozen=True)
class TableDef:
    name: str  # upper case
    kind: Literal["child", "standalone", "one_to_one"]
    parent: str | None  # upper-case core (or extension) table for child and one-to-one tables
    fields: tuple[FieldDef, ...]
    group: str = ""
    comment: str = ""

    @property
    def parent_column(self) -> str | None:
        """`STUDENTSDCID` for a child of STUDENTS: the link PowerSchool adds itself."""
        return f"{self.parent}DCID" if self.parent else None


@dataclass(frozen=True)
class ArgDef:
    name: str
    column: str = ""
    type: Literal["primitive", "array"] = "primitive"
    required: bool = False
    default: str | None = None


@dataclass(frozen=True)
class ColumnDef:
    alias: str  # element text, e.g. `u_ssp_referrals.id`
    column: str  # `column` attribute, e.g. `U_SSP_REFERRALS.ID`

    @property
    def key(self) -> str:
        """The key of the value in a flattened row: the alias after its last dot, lower case."""
        return self.alias.rsplit(".", 1)[-1].lower()


@dataclass(frozen=True)
class QueryDef:
    name: str
    core_table: str
    flattened: bool
    args: tuple[ArgDef, ...]
    columns: tuple[ColumnDef, ...]
    sql: str
    source: str = ""

    def arg(self, name: str) -> ArgDef | None:
        for a in self.args:
            if a.name.lower() == name.lower():
                return a
        return None


@dataclass(frozen=True)
class PluginDef:
    name: str
    version: str
    oauth: bool
    access: tuple[tuple[str, str, str], ...]  # (TABLE, FIELD, ViewOnly|FullAccess), upper case
    tables: tuple[TableDef, ...] = ()
    queries: tuple[QueryDef, ...] = ()
    source: str = ""
    entries: tuple[str, ...] = field(default=(), repr=False)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str) and _local(c).lower() == name.lower()]


def _attr(el: etree._Element, name: str) -> str | None:
    """Attribute by name ignoring case (installers are lenient about `coretable` vs `coreTable`)."""
    for key, value in el.attrib.items():
        if etree.QName(key).localname.lower() == name.lower():
            return str(value)
    return None


def _parse_xml(data: bytes, where: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise InstallError(f"not well-formed XML: {exc}", file=where) from None


def read_plugin(source: Path | bytes, *, name_hint: str = "") -> PluginDef:
    """Parse one plugin zip (path or bytes). Raises InstallError naming the zip and entry."""
    where = str(source) if isinstance(source, Path) else (name_hint or "plugin.zip")
    try:
        raw = source.read_bytes() if isinstance(source, Path) else source
    except OSError as exc:
        raise InstallError(f"cannot read the plugin zip ({exc.strerror})", file=where) from None
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise InstallError("not a zip file", file=where) from None
    with zf:
        names = zf.namelist()
        bad = [n for n in names if "\\" in n]
        if bad:
            raise InstallError(f"entry names must use forward slashes: {bad[0]!r}", file=where)
        if "plugin.xml" not in names:
            raise InstallError(
                "plugin.xml must be at the root of the zip (no top-level folder)", file=where
            )
        name, version, oauth, access = _read_manifest(zf.read("plugin.xml"), f"{where}!plugin.xml")
        tables: list[TableDef] = []
        queries: list[QueryDef] = []
        for entry in sorted(names):
            if entry.startswith("user_schema_root/") and entry.lower().endswith(".xml"):
                tables.extend(_read_schema(zf.read(entry), f"{where}!{entry}"))
            elif entry.startswith("queries_root/") and entry.endswith(".named_queries.xml"):
                queries.extend(_read_queries(zf.read(entry), f"{where}!{entry}"))
    return PluginDef(
        name, version, oauth, access, tuple(tables), tuple(queries), where, tuple(names)
    )


def _read_manifest(
    data: bytes, where: str
) -> tuple[str, str, bool, tuple[tuple[str, str, str], ...]]:
    root = _parse_xml(data, where)
    if _local(root) != "plugin":
        raise InstallError(f"root element must be <plugin>, not <{_local(root)}>", file=where)
    name = (_attr(root, "name") or "").strip()
    if not name:
        raise InstallError("<plugin> needs a name attribute", file=where)
    if len(name) > 40:
        raise InstallError(f"plugin name is {len(name)} characters; at most 40", file=where)
    version = _attr(root, "version") or ""
    oauth = bool(_children(root, "oauth"))
    access: list[tuple[str, str, str]] = []
    for req in _children(root, "access_request"):
        for f in _children(req, "field"):
            access.append(_access_field(f, where))
    return name, version, oauth, tuple(access)


def _access_field(el: etree._Element, where: str) -> tuple[str, str, str]:
    table, fld, access = _attr(el, "table"), _attr(el, "field"), _attr(el, "access")
    if not table or not fld:
        raise InstallError("<field> in <access_request> needs table and field", file=where)
    if len(table) > 30 or len(fld) > 30:
        raise InstallError(f"{table}.{fld}: table and field are at most 30 characters", file=where)
    if access not in ("ViewOnly", "FullAccess"):
        raise InstallError(
            f"{table}.{fld}: access must be ViewOnly or FullAccess, not {access!r}", file=where
        )
    return table.upper(), fld.upper(), access


def _read_schema(data: bytes, where: str) -> list[TableDef]:
    root = _parse_xml(data, where)
    if _local(root) != "psExtension":
        raise InstallError(f"root element must be <psExtension>, not <{_local(root)}>", file=where)
    group_el = _children(root, "extensionname")
    group = (group_el[0].text or "").strip() if group_el else ""
    tables = [_read_table(t, group, where) for t in _children(root, "extendedTable")]
    if not tables:
        raise InstallError("no <extendedTable> in the extension", file=where)
    return tables


def _read_table(el: etree._Element, group: str, where: str) -> TableDef:
    name = (_attr(el, "dbTableName") or "").strip().upper()
    if not name:
        raise InstallError("<extendedTable> needs dbTableName", file=where)
    if (_attr(el, "type") or "").lower() == "standalone":
        kind, parent = "standalone", None
    else:
        core = (_attr(el, "coreTable") or "").strip().upper()
        if not core:
            raise InstallError(f'{name}: needs coreTable or type="standalone"', file=where)
        kind, parent = ("child" if _attr(el, "childName") else "one_to_one"), core
    fields = tuple(_read_field(f, name, where) for f in _children(el, "field"))
    reserved = {"ID", "WHOCREATED", "WHENCREATED", "WHOMODIFIED", "WHENMODIFIED"}
    if parent:
        reserved.add(f"{parent}DCID")
    seen: set[str] = set()
    for f in fields:
        if f.name in reserved or f.name in seen:
            raise InstallError(f"{name}.{f.name}: duplicate or reserved column", file=where)
        seen.add(f.name)
    comment = (_attr(el, "comment") or "").strip()
    return TableDef(name, kind, parent, fields, group, comment)  # type: ignore[arg-type]


def _read_field(el: etree._Element, table: str, where: str) -> FieldDef:
    name = (_attr(el, "name") or "").strip().upper()
    ftype = (_attr(el, "type") or "").strip()
    match = next((t for t in FIELD_TYPES if t.lower() == ftype.lower()), None)
    if not name or match is None:
        raise InstallError(
            f"{table}: field {name or '?'} has type {ftype!r} (known: {', '.join(FIELD_TYPES)})",
            file=where,
        )
    length = None
    if match == "String":
        raw = _attr(el, "length")
        if raw is None or not raw.isdigit() or not 1 <= int(raw) <= MAX_STRING:
            raise InstallError(
                f"{table}.{name}: String length must be 1-{MAX_STRING}, got {raw!r}", file=where
            )
        length = int(raw)
    return FieldDef(name, match, length)


def _read_queries(data: bytes, where: str) -> list[QueryDef]:
    root = _parse_xml(data, where)
    if _local(root) != "queries":
        raise InstallError(f"root element must be <queries>, not <{_local(root)}>", file=where)
    return [_read_query(q, where) for q in _children(root, "query")]


def _read_query(el: etree._Element, where: str) -> QueryDef:
    name = (_attr(el, "name") or "").strip()
    if not name or len(name) > 200:
        raise InstallError(f"query name {name!r} must be 1-200 characters", file=where)
    args = []
    for block in _children(el, "args"):
        for a in _children(block, "arg"):
            args.append(
                ArgDef(
                    name=_attr(a, "name") or "",
                    column=_attr(a, "column") or "",
                    type="array" if (_attr(a, "type") or "").lower() == "array" else "primitive",
                    required=(_attr(a, "required") or "").lower() == "true",
                    default=_attr(a, "default"),
                )
            )
    columns = []
    for block in _children(el, "columns"):
        for c in _children(block, "column"):
            columns.append(ColumnDef((c.text or "").strip(), (_attr(c, "column") or "").strip()))
    sql_el = _children(el, "sql")
    sql = (sql_el[0].text or "").strip() if sql_el else ""
    if not sql or not columns:
        raise InstallError(f"query {name}: needs <columns> and <sql>", file=where)
    core = (_attr(el, "coreTable") or "").strip()
    return QueryDef(
        name=name,
        core_table=core,
        flattened=(_attr(el, "flattened") or "").lower() == "true",
        args=tuple(args),
        columns=tuple(columns),
        sql=sql,
        source=where,
    )

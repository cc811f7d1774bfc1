"""Deterministic plugin zips, and the upgrade-safety diff of two DATA schemas.

Same files in, same bytes out: entries sorted, a fixed 1980-01-01 timestamp, fixed Unix
permissions, fixed compression. `plugin.xml` sits at the root, names use forward slashes and no
junk (`__MACOSX/`, `.DS_Store`, `Thumbs.db`) or directory entries are written.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from foundation.errors import ConfigError

__all__ = [
    "write_zip",
    "check_entry_name",
    "TableSchema",
    "read_schema",
    "schema_changes",
    "SchemaChanges",
    "PluginZip",
    "read_plugin_zip",
]

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_JUNK = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"}


def check_entry_name(name: str) -> None:
    """Refuse names PowerSchool would misread: backslashes, absolute paths, `..`, junk files."""
    parts = name.split("/")
    if not name or "\\" in name or any(p in ("", ".", "..") or p in _JUNK for p in parts):
        raise ValueError(f"bad zip entry name {name!r}")


def write_zip(path: Path, files: Mapping[str, bytes]) -> Path:
    """Write `files` (entry name -> bytes) to `path` atomically and reproducibly."""
    if "plugin.xml" not in files:
        raise ValueError("a plugin zip needs plugin.xml at its root")
    for name in files:
        check_entry_name(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zf:
            for name in sorted(files):
                info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3
                info.external_attr = _FILE_MODE
                zf.writestr(info, files[name], compresslevel=9)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a build artifact is world-readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class TableSchema:
    name: str
    kind: str
    fields: dict[str, tuple[str, int | None]]


@dataclass(frozen=True)
class SchemaChanges:
    unsafe: list[str]
    additions: list[str]


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _parse_table(el: etree._Element, group: str) -> TableSchema:
    name = (el.get("dbTableName") or "").upper()
    if el.get("type") == "standalone":
        kind = "standalone"
    elif el.get("childName"):
        kind = f"child of {(el.get('coreTable') or '').upper()}"
    else:
        kind = f"one-to-one on {(el.get('coreTable') or '').upper()}"
    fields: dict[str, tuple[str, int | None]] = {}
    for f in el:
        if isinstance(f.tag, str) and _local(f) == "field":
            length = f.get("length")
            fields[(f.get("name") or "").upper()] = (
                f.get("type") or "",
                int(length) if length else None,
            )
    return TableSchema(name=f"{group}.{name}" if group else name, kind=kind, fields=fields)


@dataclass(frozen=True)
class PluginZip:
    """A plugin zip as `ssp plugin diff` compares it: its files and plugin.xml identity."""

    path: Path
    files: dict[str, bytes]
    name: str
    version: str
    description: str

    @property
    def is_data(self) -> bool:
        return any(n.startswith("user_schema_root/") for n in self.files)


def read_plugin_zip(zip_path: Path) -> PluginZip:
    """Files (directories left out) and plugin.xml name/version/description; ConfigError if the
    zip or its plugin.xml cannot be read."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            files = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"cannot read the plugin zip ({exc.__class__.__name__})", file=str(zip_path)
        ) from None
    if "plugin.xml" not in files:
        raise ConfigError("no plugin.xml at the zip root", file=str(zip_path))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(files["plugin.xml"], parser)
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"not well-formed XML ({exc})", file=f"{zip_path}:plugin.xml") from None
    return PluginZip(
        path=zip_path,
        files=files,
        name=root.get("name") or "",
        version=root.get("version") or "",
        description=root.get("description") or "",
    )


def read_schema(zip_path: Path) -> dict[str, TableSchema]:
    """Tables of every user_schema_root/*.xml in a plugin zip, keyed by upper-case table name."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = [
                n for n in zf.namelist() if n.startswith("user_schema_root/") and n.endswith(".xml")
            ]
            docs = [(n, zf.read(n)) for n in sorted(names)]
    except (OSError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"cannot read the plugin zip ({exc.__class__.__name__})", file=str(zip_path)
        ) from None
    if not docs:
        raise ConfigError(
            "no user_schema_root/ in this zip: pass the DATA plugin zips", file=str(zip_path)
        )
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tables: dict[str, TableSchema] = {}
    for name, data in docs:
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            raise ConfigError(f"not well-formed XML ({exc})", file=f"{zip_path}:{name}") from None
        group = next(
            (e.text or "" for e in root if isinstance(e.tag, str) and _local(e) == "extensionname"),
            "",
        )
        for el in root:
            if isinstance(el.tag, str) and _local(el) == "extendedTable":
                table = _parse_table(el, group.strip().upper())
                tables[table.name.split(".")[-1]] = table
    return tables


def _field_changes(old: TableSchema, new: TableSchema, unsafe: list[str], added: list[str]) -> None:
    t = old.name.split(".")[-1]
    for fname, (otype, olen) in old.fields.items():
        if fname not in new.fields:
            unsafe.append(f"removed field {t}.{fname} (its data would be lost)")
            continue
        ntype, nlen = new.fields[fname]
        is_string = otype.lower() == "string"
        if ntype.lower() != otype.lower():
            unsafe.append(f"type change {t}.{fname}: {otype} -> {ntype}")
        elif is_string and (nlen or 0) < (olen or 0):
            unsafe.append(
                f"shorter String {t}.{fname}: {olen} -> {nlen} (PowerSchool cannot shrink a field)"
            )
        elif is_string and (nlen or 0) > (olen or 0):
            added.append(f"longer String {t}.{fname}: {olen} -> {nlen}")
    added.extend(f"added field {t}.{f}" for f in new.fields if f not in old.fields)


def schema_changes(old: dict[str, TableSchema], new: dict[str, TableSchema]) -> SchemaChanges:
    """Unsafe changes (removed table/field, type or kind change, shorter String), safe additions."""
    unsafe: list[str] = []
    added: list[str] = []
    for tname, otable in old.items():
        ntable = new.get(tname)
        if ntable is None:
            unsafe.append(f"removed table {tname} (its data would be lost)")
            continue
        if otable.name != ntable.name:
            unsafe.append(f"extension group change {otable.name} -> {ntable.name}")
        if otable.kind != ntable.kind:
            unsafe.append(f"table kind change {tname}: {otable.kind} -> {ntable.kind}")
        _field_changes(otable, ntable, unsafe, added)
    added.extend(f"added table {t}" for t in new if t not in old)
    return SchemaChanges(unsafe=unsafe, additions=added)

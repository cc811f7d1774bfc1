"""What every lint rule shares: findings, the plugin zip as read once, and the fields it uses.

A finding names the zip, the entry inside it and a line (0 when the finding is about the whole
entry or the zip), and is an error (PowerSchool would refuse it, or it breaks at run time) or a
warning (it works but is unsafe, over-privileged, or against PowerSchool's documented practice).
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lxml import etree

__all__ = [
    "Severity",
    "Finding",
    "PluginArchive",
    "FieldUse",
    "Schema",
    "read_archive",
    "parse_xml",
    "line_of",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Finding:
    zip: str
    path: str
    line: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.zip}:{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class FieldUse:
    """A table.field a query or a page uses, and where (for the finding's file and line)."""

    table: str
    field: str
    path: str
    line: int
    by: str


@dataclass
class Schema:
    """Extension tables a DATA plugin (or the plugin's own user_schema_root) defines:
    upper-case table name -> upper-case field names, including the columns PowerSchool adds."""

    tables: dict[str, set[str]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # table -> extension group

    def merge(self, other: Schema) -> None:
        for table, fields in other.tables.items():
            self.tables.setdefault(table, set()).update(fields)
        self.groups.update(other.groups)


@dataclass
class PluginArchive:
    """One plugin zip: its entries (name -> bytes, directories left out) and what the rules learn
    about it on the way (access request, fields used, schema defined)."""

    label: str
    files: dict[str, bytes]
    names: list[str]
    findings: list[Finding] = field(default_factory=list)
    name: str = ""
    version: str = ""
    description: str = ""
    has_oauth: bool = False
    access: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    query_uses: list[FieldUse] = field(default_factory=list)
    page_uses: list[FieldUse] = field(default_factory=list)
    query_names: set[str] = field(default_factory=set)
    schema: Schema = field(default_factory=Schema)
    pages: set[str] = field(default_factory=set)  # server URLs of web_root pages, lower case

    def add(self, severity: Severity, path: str, line: int, message: str) -> None:
        self.findings.append(Finding(self.label, path, line or 0, severity, message))

    def error(self, path: str, line: int, message: str) -> None:
        self.add("error", path, line, message)

    def warning(self, path: str, line: int, message: str) -> None:
        self.add("warning", path, line, message)

    def under(self, folder: str, *suffixes: str) -> list[str]:
        """Entries under a top-level folder (matched ignoring case, as WEB_ROOT/web_root)."""
        folder = folder.lower() + "/"
        return sorted(
            n
            for n in self.files
            if n.lower().startswith(folder) and (not suffixes or n.lower().endswith(suffixes))
        )

    def uses_by_table(self) -> dict[str, list[FieldUse]]:
        out: dict[str, list[FieldUse]] = defaultdict(list)
        for use in self.query_uses + self.page_uses:
            out[use.table].append(use)
        return out


def read_archive(path: Path, label: str | None = None) -> PluginArchive:
    """Read every entry; a file that is not a zip becomes one error finding."""
    label = label or str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            files = {i.filename: zf.read(i) for i in infos if not i.is_dir()}
            names = [i.filename for i in infos]
    except (OSError, zipfile.BadZipFile) as exc:
        archive = PluginArchive(label, {}, [])
        archive.error("-", 0, f"cannot read the zip ({exc.__class__.__name__}: {exc})")
        return archive
    return PluginArchive(label, files, names)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_xml(archive: PluginArchive, name: str) -> etree._Element | None:
    """The parsed entry, or None after recording an error naming the line of the syntax error."""
    try:
        return etree.fromstring(archive.files[name], _PARSER)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else 0
        archive.error(name, line, f"not well-formed XML: {exc.msg}")
        return None


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")

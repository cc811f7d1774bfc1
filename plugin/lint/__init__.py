"""`ssp plugin lint`: check any PowerSchool plugin zip against PowerSchool's plugin rules.

One module per rule family: zip entries, plugin.xml (XSD, limits, version), user_schema_root,
queries and permission mappings, web_root pages, pagecataloging, and the access request against
what the queries and pages use and what the DATA plugin defines. Zips linted together, and DATA
plugins named with --data, count as installed: their extension tables are what the others'
access requests are checked against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plugin.lint.access import check_access
from plugin.lint.entries import check_entries
from plugin.lint.manifest import check_manifest
from plugin.lint.model import Finding, PluginArchive, Schema, read_archive
from plugin.lint.pagecataloging import check_pagecataloging
from plugin.lint.pages import check_pages
from plugin.lint.queries import check_permissions, check_queries
from plugin.lint.schema import check_schema, read_schema_files
from plugin.versions import is_version, parse_requires, version_increases
from foundation.errors import ConfigError

__all__ = ["Finding", "LintReport", "lint_zips"]


@dataclass(frozen=True)
class LintReport:
    zips: int
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)

    def summary(self) -> str:
        return (
            f"{self.zips} zip{'s' if self.zips != 1 else ''} checked: "
            f"{self.errors} error{'s' if self.errors != 1 else ''}, "
            f"{self.warnings} warning{'s' if self.warnings != 1 else ''}"
        )


def _check_one(archive: PluginArchive) -> None:
    if archive.findings:  # the file could not be read as a zip
        return
    check_entries(archive)
    if not archive.files:
        return
    check_manifest(archive)
    check_schema(archive)
    check_queries(archive)
    check_permissions(archive)
    check_pages(archive)
    check_pagecataloging(archive)


def _check_requirements(archives: Sequence[PluginArchive]) -> None:
    """A UI zip whose description names the DATA version it needs ("Requires <name> <version>
    or later"), linted together with that DATA plugin at a lower version, would be refused."""
    versions = {a.name: a.version for a in archives if a.name and is_version(a.version)}
    for archive in archives:
        required = parse_requires(archive.description)
        if required is None or required[0] not in versions:
            continue
        name, needed = required
        if version_increases(versions[name], needed):
            archive.error("plugin.xml", 0, f"needs {name} {needed} or later, but the {name} zip "
                          f"given is {versions[name]}: build both from the same configuration")


def lint_zips(paths: Sequence[Path], *, data: Sequence[Path] = ()) -> LintReport:
    """Findings for every zip in `paths`, in zip order then entry, line and message order."""
    for path in [*paths, *data]:
        if not path.is_file():
            raise ConfigError("no such file", file=str(path))
    archives = [read_archive(p) for p in paths]
    for archive in archives:
        _check_one(archive)
    installed: Schema | None = None
    for path in data:
        schema = read_schema_files(read_archive(path), report=False)
        if not schema.tables:
            raise ConfigError("--data: not a readable DATA plugin (no extension tables in "
                              "user_schema_root/)", file=str(path))
        installed = installed or Schema()
        installed.merge(schema)
    for archive in archives:
        if archive.schema.tables:
            installed = installed or Schema()
            installed.merge(archive.schema)
    _check_requirements(archives)
    findings: list[Finding] = []
    for archive in archives:
        if archive.files:
            check_access(archive, installed)
        findings.extend(sorted(set(archive.findings), key=lambda f: (f.path, f.line, f.message)))
    return LintReport(len(archives), tuple(findings))

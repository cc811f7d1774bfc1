"""access_request rules: what the plugin's client may read or write, against what it uses.

- Missing (error): a PowerQuery of an `<oauth/>` plugin touches a field the access request does
  not list; PowerSchool answers that call with 403. Only qualified references and `column`
  attributes count, so nothing is reported on a guess. Pages run with the staff member's session
  (page permissions and field-level security), not with these grants, so they never miss one.
- Extra (warning): a ViewOnly field on a table that no query or page of the plugin reads. A table
  with a FullAccess field is written through /ws/schema/table (PowerQueries cannot write), so its
  reads by ID or key are the client's business and are not judged.
- Undefined: an extension (U_*) field requested but not defined by the plugin's own schema or a
  DATA plugin named with --data (or linted alongside): PowerSchool refuses the upload ("Invalid
  Column") until a DATA plugin defines it. Without any DATA plugin to check against, one warning
  per table says so.
"""

from __future__ import annotations

from plugin.lint.model import PluginArchive, Schema

__all__ = ["check_access"]

_PATH = "plugin.xml"


def check_access(archive: PluginArchive, installed: Schema | None) -> None:
    if not archive.access and not archive.query_uses:
        return
    _missing(archive)
    _extra(archive)
    _undefined(archive, installed)


def _missing(archive: PluginArchive) -> None:
    if not archive.has_oauth:
        return
    reported: set[tuple[str, str, str]] = set()
    for use in archive.query_uses:
        key = (use.table, use.field)
        if key in archive.access or (use.by, *key) in reported:
            continue
        reported.add((use.by, *key))
        archive.error(
            use.path, use.line, f"{use.by} reads {use.table}.{use.field} but the access_request "
            "does not list it: the plugin's calls of this query fail with 403",
        )


def _extra(archive: PluginArchive) -> None:
    written = {t for (t, _), (access, _) in archive.access.items() if access == "FullAccess"}
    used = {(u.table, u.field) for u in archive.query_uses + archive.page_uses}
    for (table, fld), (access, line) in sorted(archive.access.items()):
        if table in written or (table, fld) in used:
            continue
        archive.warning(
            _PATH, line, f"{table}.{fld} ({access}) is requested but no query or page of this "
            "plugin reads it: over-privileged unless a client reads it through /ws/schema/table",
        )


def _undefined(archive: PluginArchive, installed: Schema | None) -> None:
    known = Schema()
    known.merge(archive.schema)
    if installed is not None:
        known.merge(installed)
    checked = installed is not None or bool(archive.schema.tables)
    unknown_tables: dict[str, int] = {}
    for (table, fld), (_, line) in sorted(archive.access.items(), key=lambda kv: kv[1][1]):
        if not table.startswith("U_"):
            continue  # core and state tables: PowerSchool's data dictionary, not a plugin
        fields = known.tables.get(table)
        if fields is None:
            unknown_tables.setdefault(table, line)
        elif fld not in fields:
            archive.error(
                _PATH, line, f"{table}.{fld} is requested but the DATA plugin does not define it: "
                "PowerSchool refuses the upload (Invalid Column)",
            )
    if checked:
        for use in archive.page_uses:
            if use.by == "~[tlist_sql]":
                continue  # read from SQL without a schema: a hint for over-privilege only
            fields = known.tables.get(use.table)
            if use.table.startswith("U_") and fields is not None and use.field not in fields:
                archive.error(use.path, use.line, f"{use.by} uses {use.table}.{use.field}, which "
                              "the DATA plugin does not define")
    for table, line in unknown_tables.items():
        if checked:
            archive.error(
                _PATH, line, f"{table} is requested but no DATA plugin given defines it: "
                "PowerSchool refuses the upload (Invalid Table) unless it exists on the server",
            )
        else:
            archive.warning(
                _PATH, line, f"{table} is an extension table this zip does not define: pass its "
                "DATA plugin with --data to check the requested fields exist",
            )

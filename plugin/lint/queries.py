"""queries_root and permissions_root rules: PowerQuery definitions PowerSchool loads and runs.

From PowerSchool's PowerQuery documentation: files named `*.named_queries.xml` with a `<queries>`
root in no namespace (a namespaced root is refused: "Cannot find the declaration of element
'queries'"), query names of five dot-separated parts up to 200 characters, a summary of at most
50, one `<column>` per SQL output column, SQL with ORDER BY (paging), no PowerSchool tags in SQL,
every `:arg` declared. The tables and fields each query touches feed the access-request rule.
"""

from __future__ import annotations

import re

from lxml import etree

from plugin.lint.model import FieldUse, PluginArchive, local, parse_xml
from plugin.lint.sqlrefs import bind_names, column_refs, has_order_by, select_items

__all__ = ["check_queries", "check_permissions"]

MAX_NAME = 200
MAX_SUMMARY = 50
_PART = re.compile(r"^[A-Za-z0-9_]+$")
_JAVA_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
_TO_DATE_ARG = re.compile(r"\bTO_(?:DATE|TIMESTAMP)\s*\(\s*:([A-Za-z_]\w*)", re.I)
_TIMESTAMP_COLUMN = re.compile(r"(WHEN|DATE|TIME|_AT$|_ON$)", re.I)


def check_queries(archive: PluginArchive) -> None:
    seen: dict[str, str] = {}
    for path in archive.under("queries_root"):
        if not path.endswith(".named_queries.xml"):
            archive.warning(path, 0, "PowerSchool loads only queries_root/*.named_queries.xml")
            continue
        root = parse_xml(archive, path)
        if root is None:
            continue
        if root.tag != "queries":
            archive.error(
                path, root.sourceline,
                f"the root element must be <queries> with no namespace (found {root.tag!r}); "
                "PowerSchool refuses a namespaced one",
            )
            continue
        for q in root:
            if local(q) == "query":
                _query(archive, path, q, seen)


def _query(archive: PluginArchive, path: str, q: etree._Element, seen: dict[str, str]) -> None:
    name = q.get("name") or ""
    line = q.sourceline or 0
    label = f"query {name}"
    _name_rules(archive, path, line, name, seen)
    summary = q.findtext("summary")
    if summary is not None and len(summary.strip()) > MAX_SUMMARY:
        archive.error(path, line, f"{label}: summary has {len(summary.strip())} characters "
                      f"(max {MAX_SUMMARY})")
    sql = q.findtext("sql") or ""
    columns = [c for block in q.findall("columns") for c in block if local(c) == "column"]
    if not sql.strip() or not columns:
        archive.error(path, line, f"{label}: needs <columns> and <sql>")
        return
    if "~[" in sql or "~(" in sql:
        archive.error(path, line, f"{label}: PowerSchool tags (~[ or ~() are not allowed in SQL")
    if not has_order_by(sql):
        archive.warning(path, line, f"{label}: SQL without ORDER BY pages unpredictably")
    items = select_items(sql)
    if items is not None and len(items) != len(columns):
        archive.error(path, line, f"{label}: SQL returns {len(items)} columns but <columns> "
                      f"lists {len(columns)} (they must match one to one, in order)")
    args = _args(archive, path, q, label, sql)
    _uses(archive, path, q, label, sql, columns, args)


def _name_rules(
    archive: PluginArchive, path: str, line: int, name: str, seen: dict[str, str]
) -> None:
    parts = name.split(".")
    if not name:
        archive.error(path, line, "a query without a name")
    elif len(name) > MAX_NAME:
        archive.error(path, line, f"query name has {len(name)} characters (max {MAX_NAME})")
    elif len(parts) != 5 or not all(_PART.match(p) for p in parts):
        archive.warning(
            path, line, f"query {name}: PowerSchool names queries with five dot-separated parts "
            "of letters, digits and _ ([com].[organization].[product].[area].[name])",
        )
    if name.lower().startswith("com.powerschool."):
        archive.error(path, line, f"query {name}: com.powerschool is PowerSchool's own namespace")
    if name in seen:
        archive.error(path, line, f"query {name} is also defined in {seen[name]} (one flat "
                      "namespace per server)")
    seen.setdefault(name, path)
    archive.query_names.add(name)


def _args(
    archive: PluginArchive, path: str, q: etree._Element, label: str, sql: str
) -> dict[str, etree._Element]:
    args = {
        (a.get("name") or "").lower(): a
        for block in q.findall("args")
        for a in block
        if local(a) == "arg"
    }
    for key, a in args.items():
        if not _JAVA_IDENT.match(a.get("name") or ""):
            archive.error(path, a.sourceline, f"{label}: argument {a.get('name')!r} is not a "
                          "legal Java identifier")
        if a.get("type") not in (None, "primitive", "array"):
            archive.error(path, a.sourceline, f"{label}: argument {a.get('name')}: type must be "
                          "primitive or array")
    used = bind_names(sql)
    for missing in sorted(used - set(args)):
        archive.error(path, q.sourceline, f"{label}: SQL uses :{missing} but <args> does not "
                      "declare it")
    for unused in sorted(set(args) - used):
        archive.warning(path, args[unused].sourceline, f"{label}: argument "
                        f"{args[unused].get('name')} is declared but the SQL never uses it")
    for m in _TO_DATE_ARG.finditer(sql):
        arg = args.get(m.group(1).lower())
        column = arg.get("column") if arg is not None else None
        if column and _TIMESTAMP_COLUMN.search(column.split(".")[-1]):
            archive.warning(
                path, arg.sourceline, f"{label}: argument {arg.get('name')} is text parsed with "
                f"TO_DATE but declares column={column!r} (a date column): shipped connector "
                "plugins declare such arguments without column",
            )
    return args


def _uses(
    archive: PluginArchive,
    path: str,
    q: etree._Element,
    label: str,
    sql: str,
    columns: list[etree._Element],
    args: dict[str, etree._Element],
) -> None:
    declared = [(c.get("column") or "", c.sourceline or 0) for c in columns]
    declared += [(a.get("column") or "", a.sourceline or 0) for a in args.values()]
    for ref, line in declared:
        if "." in ref:
            table, fld = ref.upper().rsplit(".", 1)
            archive.query_uses.append(FieldUse(table.split(".")[-1], fld, path, line, label))
    for table, fld in sorted(column_refs(sql)):
        archive.query_uses.append(FieldUse(table, fld, path, q.sourceline or 0, label))


def check_permissions(archive: PluginArchive) -> None:
    """permission_mappings: well-formed, and mapped queries defined in this plugin (warning:
    a mapping may also name a query of another plugin)."""
    for path in archive.under("permissions_root"):
        if not path.endswith(".permission_mappings.xml"):
            archive.warning(path, 0, "PowerSchool loads only "
                            "permissions_root/*.permission_mappings.xml")
            continue
        root = parse_xml(archive, path)
        if root is None:
            continue
        if root.tag != "permission_mappings":
            archive.error(path, root.sourceline, "the root element must be <permission_mappings>")
            continue
        for perm in root:
            if local(perm) != "permission":
                continue
            if not perm.get("name"):
                archive.error(path, perm.sourceline, "<permission> without a page name")
            for implies in perm:
                if local(implies) != "implies":
                    continue
                target = (implies.text or "").strip()
                prefix = "/ws/schema/query/"
                if target.startswith(prefix) and archive.query_names and (
                    target[len(prefix):] not in archive.query_names
                ):
                    archive.warning(path, implies.sourceline, f"maps {target} but this plugin "
                                    "defines no such query")

"""The connector's PowerQueries (plugin.queries) -> `queries_root/<namespace>.named_queries.xml`.

Format of shared/reference section 3.2. Each query is checked against PowerSchool's limits
(five-part name of at most 200 characters, summary of at most 50, one `<column>` per SQL output
column, SQL that ends in ORDER BY and fits in CDATA) so a bad definition fails the build, not the
district's install.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from lxml import etree

from foundation.catalogue import Catalogue
from foundation.errors import CatalogueError
from plugin.escaping import xml_bytes
from plugin.queries import Query, connector_queries

__all__ = ["named_queries_xml", "queries_files", "queries_path", "check_query", "select_list"]

MAX_QUERY_NAME = 200
MAX_SUMMARY = 50
_NAME_PART = re.compile(r"^[a-z0-9_]+$")
_ALIAS = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_SOURCE = "plugin/queries.py"


def queries_path(namespace: str) -> str:
    return f"queries_root/{namespace}.named_queries.xml"


def select_list(sql: str) -> list[str]:
    """The top-level output expressions between SELECT and FROM (commas inside parentheses kept)."""
    match = re.search(r"\bSELECT\b(.*?)\bFROM\b", sql, re.S | re.I)
    if not match:
        return []
    items, depth, current = [], 0, []
    for ch in match.group(1):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return [i for i in items if i]


def check_query(query: Query) -> None:
    """Raise CatalogueError naming the query and the PowerSchool rule it breaks."""
    key = f"query {query.name}"
    parts = query.name.split(".")
    if (
        len(query.name) > MAX_QUERY_NAME
        or len(parts) != 5
        or not all(_NAME_PART.match(p) for p in parts)
    ):
        raise CatalogueError(
            "a PowerQuery name is five dot-separated snake_case parts, "
            f"at most {MAX_QUERY_NAME} characters",
            file=_SOURCE,
            key=key,
        )
    if len(query.summary) > MAX_SUMMARY:
        raise CatalogueError(
            f"summary is {len(query.summary)} characters (max {MAX_SUMMARY})",
            file=_SOURCE,
            key=f"{key}.summary",
        )
    if len(select_list(query.sql)) != len(query.columns):
        raise CatalogueError(
            "the SQL select list and <columns> differ in length", file=_SOURCE, key=key
        )
    if not re.search(r"\bORDER\s+BY\b", query.sql, re.I) or "]]>" in query.sql or "~" in query.sql:
        raise CatalogueError(
            "SQL must have ORDER BY and no ']]>' or '~'", file=_SOURCE, key=f"{key}.sql"
        )
    bad = [c.alias for c in query.columns if not _ALIAS.match(c.alias)]
    if bad or len({c.alias for c in query.columns}) != len(query.columns):
        raise CatalogueError(
            f"column aliases must be unique letters, digits and _: {bad}",
            file=_SOURCE,
            key=f"{key}.columns",
        )


def _query_element(parent: etree._Element, query: Query) -> None:
    q = etree.SubElement(
        parent, "query", name=query.name, coreTable=query.core_table, flattened="true"
    )
    etree.SubElement(q, "summary").text = query.summary
    etree.SubElement(q, "description").text = query.description
    args = etree.SubElement(q, "args")
    for arg in query.args:
        attrs = {"name": arg.name}
        if arg.column:
            attrs["column"] = arg.column
        attrs.update(type=arg.type, required="true", description=arg.description)
        etree.SubElement(args, "arg", attrs)
    columns = etree.SubElement(q, "columns")
    for col in query.columns:
        etree.SubElement(columns, "column", column=f"{col.table}.{col.field}").text = col.alias
    etree.SubElement(q, "sql").text = etree.CDATA(query.sql)


def named_queries_xml(queries: Sequence[Query]) -> bytes:
    root = etree.Element("queries")
    for query in queries:
        check_query(query)
        _query_element(root, query)
    return xml_bytes(root)


def queries_files(cat: Catalogue, namespace: str) -> dict[str, bytes]:
    return {queries_path(namespace): named_queries_xml(connector_queries(cat, namespace))}

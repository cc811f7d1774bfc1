"""`GET /ws/schema/table/{table}/metadata[?expansions=access]`: a table's definition and, with the
`access` expansion, what the calling plugin was granted on each column.

Shape (reference 5.4, the transcribed Swagger `TableInfo`): `{name, comment, primaryKey, queries,
schemaType, coreTable, collection, columns: [...]}`. Each column is `{name, type[, length]
[, access]}` with the name in lower case; `access` is FullAccess, ViewOnly or NoAccess, the values
TEAMSchools' client filters on. Unverified details, chosen to be plausible and harmless: the
`schemaType` words, `queries` as `{"query": [names]}`, `length` only where the definition has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sandbox.access import Grants
from sandbox.store import TableSchema

__all__ = ["table_metadata", "column_access", "SCHEMA_TYPES"]

SCHEMA_TYPES = {
    "core": "Core",
    "child": "Child",
    "one_to_one": "OneToOne",
    "standalone": "Standalone",
}


def column_access(grants: Grants, table: str, column: str) -> str:
    """What the installed access_requests grant on one column, in PowerSchool's words."""
    if not grants.enforce:
        return "FullAccess"
    return grants.access(table, column) or "NoAccess"


def _column(schema: TableSchema, name: str, grants: Grants, with_access: bool) -> dict[str, Any]:
    col = schema.columns[name]
    item: dict[str, Any] = {"name": name.lower(), "type": col.type}
    if col.length is not None:
        item["length"] = col.length
    if with_access:
        item["access"] = column_access(grants, schema.name, name)
    return item


def table_metadata(
    schema: TableSchema, grants: Grants, expansions: Iterable[str], queries: Sequence[str]
) -> dict[str, Any]:
    """The metadata body; `expansions` as the caller asked for them (only `access` matters)."""
    wanted = {e.strip().lower() for e in expansions if e.strip()}
    with_access = "access" in wanted
    return {
        "name": schema.name.lower(),
        "comment": schema.comment,
        "primaryKey": schema.key.lower(),
        "queries": {"query": list(queries)} if queries else {},
        "schemaType": SCHEMA_TYPES.get(schema.kind, schema.kind),
        "coreTable": (schema.parent or "").lower(),
        "collection": schema.group.lower(),
        "columns": [_column(schema, c, grants, with_access) for c in schema.columns],
    }

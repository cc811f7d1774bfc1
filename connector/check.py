"""`ssp check`: after installing the plugins, is everything the connector needs really there?

Authenticates, reads the metadata, then asks PowerSchool for every table and PowerQuery the
connector uses with exactly the fields it uses, and reports anything missing by name: a table
not installed, a query not loaded, a field the administrator did not approve. Every call rides
out transient faults like the sync does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from plugin.queries import access_request, connector_queries
from ssp.config import SSPConfig
from ssp.errors import AccessDeniedError, NotFoundError, PowerSchoolError

__all__ = ["run_check"]


def _probe_fields(client: Any, table: str, fields: list[str]) -> list[str]:
    """The fields of `table` the plugin may not read (one request if all is well)."""
    try:
        client.table_rows(table, projection=",".join(f.lower() for f in fields), page_size=1)
        return []
    except AccessDeniedError:
        pass
    missing = []
    for field in fields:
        try:
            client.table_rows(table, projection=field.lower(), page_size=1)
        except AccessDeniedError:
            missing.append(field)
    return missing or list(fields)


def _write_access(client: Any, table: str, fields: list[str]) -> tuple[list[str], bool]:
    """Fields granted less than FullAccess, from the table metadata when the server offers it."""
    try:
        meta = client.table_metadata(table)
    except NotFoundError:  # older servers have no metadata endpoint
        return [], False
    columns = meta.get("columns") or []
    columns = columns if isinstance(columns, list) else [columns]  # the single-object quirk
    granted = {str(c.get("name", "")).upper(): str(c.get("access", "")) for c in columns}
    return [f for f in fields if granted.get(f.upper()) != "FullAccess"], True


def _check_tables(client: Any, config: SSPConfig, report: dict[str, Any]) -> None:
    cat = config.catalogue()
    reads: dict[str, list[str]] = defaultdict(list)
    writes: dict[str, list[str]] = defaultdict(list)
    for item in access_request(cat, config.district.query_namespace):
        if item.table.upper().startswith("U_"):
            reads[item.table].append(item.field)
            if item.access == "FullAccess":
                writes[item.table].append(item.field)
    for table in sorted(reads):
        entry: dict[str, Any] = {"ok": True}
        try:
            entry["rows"] = client.table_count(table)
        except NotFoundError:
            entry.update(ok=False, problem="table not found: install the DATA plugin")
            report["tables"][table] = entry
            continue
        missing = _probe_fields(client, table, reads[table])
        if missing:
            entry.update(ok=False, fields_not_readable=missing)
        not_writable, known = _write_access(client, table, writes.get(table, []))
        if not_writable:
            entry.update(ok=False, fields_not_writable=not_writable)
        if writes.get(table) and not known:
            entry["write_access"] = "not reported by this server: checked at the first write"
        report["tables"][table] = entry


def _check_queries(client: Any, config: SSPConfig, report: dict[str, Any]) -> None:
    for query in connector_queries(config.catalogue(), config.district.query_namespace):
        args: dict[str, Any] = {arg.name: ([] if arg.type == "array" else "2100-01-01 00:00:00")
                                for arg in query.args}
        if "student_numbers" in args:
            args["student_numbers"] = ["0"]
        entry: dict[str, Any] = {"ok": True}
        try:
            client.query_count(query.name, args)
        except NotFoundError:
            entry.update(ok=False, problem="PowerQuery not found: install and enable the UI plugin")
        except AccessDeniedError:
            entry.update(ok=False, problem="access denied: approve the plugin's data access request")
        report["queries"][query.name] = entry


def run_check(client: Any, config: SSPConfig) -> dict[str, Any]:
    """Returns the report; `report["ok"]` is False if anything the connector needs is missing."""
    report: dict[str, Any] = {"powerschool": config.powerschool.base_url, "tables": {}, "queries": {}}
    try:
        meta = client.metadata()
        report["metadata"] = {k: meta.get(k) for k in ("plugin_id", "powerschool_version", "district_timezone")}
    except PowerSchoolError as exc:
        report["metadata"] = {"problem": f"metadata not readable ({exc.status}); using page size 100"}
    report["max_page_size"] = client.max_page_size()
    _check_tables(client, config, report)
    report["authenticated"] = True
    _check_queries(client, config, report)
    report["ok"] = all(e["ok"] for part in ("tables", "queries") for e in report[part].values())
    report["http_requests"] = client.request_count
    return report

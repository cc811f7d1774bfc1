"""`ssp check`: after installing the plugins, is everything the connector needs really there?

Authenticates, reads the metadata, then asks PowerSchool about every table and PowerQuery the
connector uses with exactly the fields and access it uses, and reports anything missing by name:
a table not installed, a query not loaded, a field the administrator did not approve. The report
opens with `missing`, one plain sentence per problem, for district IT.

Per extension table it costs three requests however many rows the table holds: the count (does
the table exist?), the metadata with `expansions=access` (what was granted on each column), and
one read of a row ID that never exists with the needed projection (does reading really work,
even on an empty table?). Core tables get the metadata only: their rows are not served by
`/ws/schema/table`. A server without table metadata falls back to one read probe per field.
Every call rides out transient faults like the sync does; if PowerSchool stays unreachable the
check fails (exit 1) rather than report guesses.

Partners on an `sftp` feed are checked too (`partners` in the report): the server is reachable,
its host key matches known_hosts, the key is accepted, and the inbox and outbox can be listed
and written (a `.ssp-check-<uuid>.tmp` file, which partners skip, is written and removed).
Partners on a `fhir` feed: GET [base]/metadata answers a CapabilityStatement for FHIR 4.0.1 with
transactions and conditional create for every resource the connector creates, and a Task search
accepts the token.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from plugin.queries import Query, access_request, connector_queries
from foundation.config import SSPConfig
from foundation.errors import AccessDeniedError, ConfigError, NotFoundError, PowerSchoolError

__all__ = ["run_check", "check_partner_feeds", "PROBE_ROW_ID"]

PROBE_ROW_ID = 0
"""PowerSchool IDs start at 1: reading row 0 checks the projection without returning data."""
READABLE = ("ViewOnly", "FullAccess")
NO_TABLE = "table not found: install and enable the DATA plugin"
NO_QUERY = "PowerQuery not found: install and enable the UI plugin"
NO_METADATA = "not reported by this server: checked at the first write"

Needs = dict[str, dict[str, str]]  # table -> field -> ViewOnly | FullAccess


def _needs(config: SSPConfig) -> Needs:
    """What the connector reads and writes, table by table: its own access_request."""
    needs: Needs = defaultdict(dict)
    for item in access_request(config.catalogue(), config.district.query_namespace):
        needs[item.table.upper()][item.field.upper()] = item.access
    return dict(needs)


def _refused(exc: PowerSchoolError) -> bool:
    """A definite answer about this one item (4xx), as opposed to PowerSchool being unreachable."""
    return exc.status is not None and 400 <= exc.status < 500


# -- tables -------------------------------------------------------------------------------------


def _granted(client: Any, table: str) -> dict[str, str] | None:
    """FIELD -> granted access from the table metadata, or None when the server does not say."""
    try:
        meta = client.table_metadata(table)
    except PowerSchoolError as exc:
        if not _refused(exc):
            raise
        return None
    columns = meta.get("columns") if isinstance(meta, dict) else None
    if columns is None or columns == "":
        return None
    columns = columns if isinstance(columns, list) else [columns]  # the single-object quirk
    return {
        str(c.get("name", "")).upper(): str(c.get("access") or "NoAccess")
        for c in columns
        if isinstance(c, dict)
    }


def _readable(client: Any, table: str, fields: list[str]) -> bool:
    """One read with `fields` as the projection: True unless PowerSchool refuses it (403)."""
    try:
        client.get_row(table, PROBE_ROW_ID, projection=",".join(f.lower() for f in fields))
    except AccessDeniedError:
        return False
    except NotFoundError:
        pass  # no such row, but the projection was accepted
    return True


def _unreadable(client: Any, table: str, fields: list[str]) -> list[str]:
    """The fields a read is refused on: one probe for all, then one per field if refused."""
    if not fields or _readable(client, table, fields):
        return []
    return [f for f in fields if not _readable(client, table, [f])]


def _field_problems(
    client: Any, table: str, need: dict[str, str], granted: dict[str, str] | None, probe: bool
) -> dict[str, Any]:
    problems: dict[str, Any] = {}
    fields = sorted(need)
    if granted is not None:
        absent = [f for f in fields if f not in granted]
        if absent:
            problems["fields_not_in_table"] = absent
        fields = [f for f in fields if f in granted]
        denied = [f for f in fields if granted[f] not in READABLE]
        fields = [f for f in fields if f not in denied]
    else:
        denied = []
    if probe:
        denied += _unreadable(client, table, fields)
    if denied:
        problems["fields_not_readable"] = sorted(denied)
    writes = [f for f in sorted(need) if need[f] == "FullAccess"]
    if granted is not None:
        not_writable = [f for f in writes if f in granted and granted[f] != "FullAccess"]
        if not_writable:
            problems["fields_not_writable"] = not_writable
    elif writes:
        problems["write_access"] = NO_METADATA
    return problems


def _check_table(client: Any, table: str, need: dict[str, str]) -> dict[str, Any]:
    extension = table.startswith("U_")
    entry: dict[str, Any] = {"ok": True}
    if extension:
        try:
            entry["rows"] = client.table_count(table)
        except NotFoundError:
            return {"ok": False, "problem": NO_TABLE}
    granted = _granted(client, table)
    if granted is None and not extension:
        entry["note"] = "access checked through the PowerQueries only"
        return entry
    entry.update(_field_problems(client, table, need, granted, probe=extension))
    entry["ok"] = not any(k.startswith("fields_") for k in entry)
    return entry


# -- queries ------------------------------------------------------------------------------------


def _probe_args(query: Query) -> dict[str, Any]:
    """Arguments that match nothing: the check asks whether the query runs, not for data."""
    args: dict[str, Any] = {}
    for arg in query.args:
        args[arg.name] = ["0"] if arg.type == "array" else "2100-01-01 00:00:00"
    return args


def _check_query(client: Any, query: Query, unreadable: set[str]) -> dict[str, Any]:
    try:
        client.query_count(query.name, _probe_args(query))
    except NotFoundError:
        return {"ok": False, "problem": NO_QUERY}
    except AccessDeniedError:
        fields = sorted(f"{t}.{f}" for t, f in query.touches if f"{t}.{f}" in unreadable)
        entry: dict[str, Any] = {
            "ok": False,
            "problem": "access denied: a field it reads"
            " is not approved in the plugin's data access request",
        }
        if fields:
            entry["fields_not_readable"] = fields
        return entry
    except PowerSchoolError as exc:
        if not _refused(exc):
            raise
        return {"ok": False, "problem": f"PowerQuery failed: {exc}"}
    return {"ok": True}


# -- the report -----------------------------------------------------------------------------------


def _no_grant(entry: dict[str, Any], need: dict[str, str]) -> bool:
    """Not one of the fields the connector needs on this table is readable."""
    unread = set(entry.get("fields_not_readable", []))
    return len(unread) > 1 and unread >= set(need) - set(entry.get("fields_not_in_table", []))


def _field_sentences(name: str, entry: dict[str, Any]) -> list[str]:
    lines = [
        f"{name}.{f}: field not in the table: upgrade the DATA plugin"
        for f in entry.get("fields_not_in_table", [])
    ]
    unread = set(entry.get("fields_not_readable", []))
    unwrite = set(entry.get("fields_not_writable", []))
    for field in sorted(unread | unwrite):
        kind = (
            "read and write"
            if field in unread and field in unwrite
            else ("read" if field in unread else "write")
        )
        lines.append(f"{name}.{field}: {kind} access not approved")
    return lines


def _table_lines(tables: dict[str, dict[str, Any]], needs: Needs) -> list[str]:
    bad = {n: e for n, e in tables.items() if not e["ok"]}
    lines: list[str] = []
    extension = [n for n in tables if n.startswith("U_")]
    if extension and all(bad.get(n, {}).get("problem") == NO_TABLE for n in extension):
        lines.append("no extension table exists: install and enable the DATA plugin first")
        bad = {n: e for n, e in bad.items() if n not in extension}
    present = [n for n, e in tables.items() if e.get("problem") != NO_TABLE]
    if len(present) > 1 and all(_no_grant(bad.get(n, {}), needs.get(n, {})) for n in present):
        return lines + [
            "no field the connector needs is approved on any table: install and "
            "enable the UI plugin, then approve its data access request"
        ]
    for name, entry in bad.items():
        if "problem" in entry:
            lines.append(f"{name}: {entry['problem']}")
        elif _no_grant(entry, needs.get(name, {})):
            lines.append(f"{name}: none of the fields the connector needs is approved")
        else:
            lines += _field_sentences(name, entry)
    return lines


def _query_lines(report: dict[str, Any], queries: list[Query]) -> list[str]:
    bad = {n: e for n, e in report["queries"].items() if not e["ok"]}
    if (
        bad
        and len(bad) == len(report["queries"])
        and all(e["problem"] == NO_QUERY for e in bad.values())
    ):
        return ["no PowerQuery of the connector is installed: install and enable the UI plugin"]
    absent = {n for n, e in report["tables"].items() if e.get("problem") == NO_TABLE}
    lines = []
    for query in (q for q in queries if q.name in bad):
        entry = bad[query.name]
        missing_tables = sorted({t for t, _ in query.touches} & absent)
        if entry.get("fields_not_readable"):
            lines.append(
                f"{query.name}: access denied to {', '.join(entry['fields_not_readable'])}"
            )
        elif missing_tables and entry["problem"] != NO_QUERY:
            lines.append(f"{query.name}: cannot run without {', '.join(missing_tables)}")
        else:
            lines.append(f"{query.name}: {entry['problem']}")
    return lines


# -- partner feeds --------------------------------------------------------------------------------


def check_partner_feeds(
    config: SSPConfig, env: Mapping[str, str] = os.environ
) -> tuple[dict[str, Any], list[str]]:
    """Each sftp or fhir partner's server, probed; and one plain sentence per problem."""
    from connector.feeds import open_feed

    report: dict[str, Any] = {}
    lines: list[str] = []
    for partner in config.partners:
        kind = partner.feed.kind
        if kind not in ("sftp", "fhir"):
            continue
        try:
            feed = open_feed(partner, config, env=env)
        except ConfigError as exc:  # key, known_hosts or token: say so beside everything else
            report[partner.id] = {"kind": kind, "ok": False, "problem": str(exc)}
            lines.append(f"partner {partner.id}: {exc}")
            continue
        try:
            probe = feed.probe()  # type: ignore[union-attr]
        finally:
            feed.close()
        if kind == "fhir":
            report[partner.id] = {"kind": "fhir", "ok": "problem" not in probe, **probe}
            if "problem" in probe:
                lines.append(probe["problem"])
            continue
        folders = [probe[f] for f in ("inbox", "outbox") if f in probe]
        ok = probe["authenticated"] and all(f["listable"] and f["writable"] for f in folders)
        report[partner.id] = {"kind": "sftp", "ok": ok, **probe}
        if "problem" in probe:
            lines.append(probe["problem"])
        for label, folder in (("inbox", probe.get("inbox")), ("outbox", probe.get("outbox"))):
            if folder and "problem" in folder:
                lines.append(f"partner {partner.id}: SFTP {label} {folder['path']}: {folder['problem']}")
    return report, lines


def run_check(client: Any, config: SSPConfig) -> dict[str, Any]:
    """The report; `report["ok"]` is False (and `missing` says why) if anything is missing."""
    report: dict[str, Any] = {
        "ok": False,
        "missing": [],
        "powerschool": config.powerschool.base_url,
        "authenticated": False,
    }
    try:
        meta = client.metadata()
        report["metadata"] = {
            k: meta.get(k) for k in ("plugin_id", "powerschool_version", "district_timezone")
        }
    except PowerSchoolError as exc:
        if not _refused(exc):
            raise
        report["metadata"] = {"problem": f"metadata not readable ({exc.status}); page size 100"}
    report["authenticated"] = True  # the first call fetched a token (refused: ConfigError, exit 2)
    report["max_page_size"] = client.max_page_size()
    needs = _needs(config)
    report["tables"] = {t: _check_table(client, t, needs[t]) for t in sorted(needs)}
    unreadable = {
        f"{t}.{f}" for t, e in report["tables"].items() for f in e.get("fields_not_readable", [])
    }
    queries = connector_queries(config.catalogue(), config.district.query_namespace)
    report["queries"] = {q.name: _check_query(client, q, unreadable) for q in queries}
    report["missing"] = _table_lines(report["tables"], needs) + _query_lines(report, list(queries))
    partners, partner_lines = check_partner_feeds(config)
    if partners:
        report["partners"] = partners
        report["missing"] += partner_lines
    report["ok"] = not report["missing"]
    report["http_requests"] = client.request_count
    return report

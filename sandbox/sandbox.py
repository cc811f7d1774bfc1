"""`Sandbox`: a local PowerSchool for tests, `ssp demo` and the benchmarks.

    with Sandbox(plugins=[data_zip, ui_zip], students=200, seed=7) as sb:
        creds = Credentials(sb.client_id, SecretStr(sb.client_secret))
        sb.insert_row("U_SSP_REFERRALS", {"SSP_UID": uid, ...}, student_dcid=dcid)
        with PowerSchoolClient(sb.base_url, creds) as ps:
            ...
        assert sb.rows("U_SSP_REFERRALS")[0]["STATUS"] == "accepted"
        sb.faults.script(["reset_after_write"])  # the next request is applied, then dropped
        sb.on_request("POST", "referrals.snapshot", lambda: sb.update_row(...))  # staff, just then

The database lives in memory unless `db_path` is given, in which case a new Sandbox on the same
file resumes it (rows, credentials and tokens), as PowerSchool does after a restart.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.access import Grants
from sandbox.api import POWERSCHOOL_VERSION, Api
from sandbox.auth import DEFAULT_TOKEN_TTL, Auth
from sandbox.faults import FaultPlan
from sandbox.install import InstallError, PluginDef, read_plugin
from sandbox.oracle import iso_text
from sandbox.powerquery import QueryEngine
from sandbox.seed import seed_core
from sandbox.server import LogEntry, SandboxServer
from sandbox.shapes import NullStyle, Shaper
from sandbox.store import Store, TableSchema, extension_schema, now_text
from sandbox.tables_api import ErrorStyle, TableApi, WriteStyle

__all__ = ["Sandbox", "STAFF_WRITER"]

STAFF_WRITER = "sandbox.staff"
"""WHOCREATED/WHOMODIFIED of rows written through the Python API (staff on the page)."""


class Sandbox:
    """A PowerSchool emulator on 127.0.0.1. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        plugins: Sequence[Path | str | bytes] = (),
        *,
        port: int = 0,
        latency_ms: int = 0,
        faults: str = "",
        students: int = 200,
        seed: int = 7,
        db_path: Path | str | None = None,
        max_page_size: int = 100,
        write_response_style: WriteStyle = "results",
        write_error_style: ErrorStyle = "http",
        null_style: NullStyle = "omit",
        projection_required: bool = True,
        enforce_access: bool = True,
        timezone: str = "America/Chicago",
        client_id: str | None = None,
        client_secret: str | None = None,
        token_ttl: int = DEFAULT_TOKEN_TTL,
        strict_queries: bool = True,
    ) -> None:
        self.port = port
        self.strict_queries = strict_queries
        """False: PowerQueries over missing tables install anyway and fail when called (a UI
        plugin installed without its DATA plugin)."""
        self.latency_ms = latency_ms
        self.max_page_size = max_page_size
        self.tz = ZoneInfo(timezone)
        self.timezone = timezone
        self.faults = FaultPlan(faults, seed=seed)
        self.store = Store(str(db_path) if db_path else None)
        seed_core(self.store, students=students, seed=seed)
        self.auth = Auth(
            self.store, client_id=client_id, client_secret=client_secret, token_ttl=token_ttl
        )
        self.grants = Grants(enforce=enforce_access)
        self.engine = QueryEngine(self.store)
        self.plugins: list[PluginDef] = []
        self._query_owner: dict[str, str] = {}
        self._plugin_ids: dict[str, int] = {}
        shaper = Shaper(self.faults, null_style)
        tables = TableApi(
            self.store,
            self.grants,
            shaper,
            max_page_size=lambda: self.max_page_size,
            writer=self._api_writer,
            now=self._now,
            write_style=write_response_style,
            error_style=write_error_style,
            projection_required=projection_required,
        )
        self.api = Api(
            auth=self.auth,
            grants=self.grants,
            tables=tables,
            queries=self.engine,
            shaper=shaper,
            metadata=self._metadata,
        )
        self._hooks: list[_Hook] = []
        self._hooks_lock = threading.Lock()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._log: list[LogEntry] = []
        self._log_lock = threading.Lock()
        for plugin in plugins:
            self.install(plugin)

    def __repr__(self) -> str:
        state = self.base_url if self._server else "stopped"
        return f"Sandbox({state}, plugins={[p.name for p in self.plugins]})"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        self._server = SandboxServer(
            self.port,
            self._handle,
            self.faults,
            latency_ms=self.latency_ms,
            expire=self.auth.expire,
            record=self._record,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="ssp-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def close(self) -> None:
        """Stop and close the database (a file database can then be reopened by a new Sandbox)."""
        self.stop()
        self.store.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() or use it in a with block")
        return self._server.base_url

    @property
    def client_id(self) -> str:
        return self.auth.client_id

    @property
    def client_secret(self) -> str:
        return self.auth.client_secret

    # -- installing --------------------------------------------------------------------------

    def install(self, plugin: Path | str | bytes) -> PluginDef:
        """Install (or upgrade) a plugin zip: tables, queries, access_request."""
        source = plugin if isinstance(plugin, bytes) else Path(plugin)
        spec = read_plugin(source)
        for table in _parents_first(spec.tables, self.store):
            self.store.define(extension_schema(table))
        if spec.tables:
            self.engine.refresh_touches()
        for query in spec.queries:
            self.engine.install(
                query, owner=spec.name, owners=self._query_owner, strict=self.strict_queries
            )
            self._query_owner[query.name] = spec.name
        self.grants.add(spec)
        self.plugins = [p for p in self.plugins if p.name != spec.name] + [spec]
        self._plugin_ids.setdefault(spec.name, 1000 + len(self._plugin_ids) + 1)
        return spec

    @property
    def queries(self) -> list[str]:
        return sorted(self.engine.queries)

    # -- the Python API (what staff do on the page; what tests assert on) ----------------------

    def _schema(self, table: str) -> TableSchema:
        schema = self.store.schema(table)
        if schema is None:
            raise KeyError(f"no table {table} (install the DATA plugin first)")
        return schema

    def _when(self, when: dt.datetime | dt.date | str | None) -> str:
        if when is None:
            return self._now()
        if isinstance(when, str):
            return when
        if isinstance(when, dt.datetime) and when.tzinfo is not None:
            when = when.astimezone(self.tz).replace(tzinfo=None)
        return iso_text(
            when if isinstance(when, dt.datetime) else dt.datetime.combine(when, dt.time())
        )

    def insert_row(
        self,
        table: str,
        values: Mapping[str, Any],
        *,
        student_dcid: int | str | None = None,
        when: dt.datetime | dt.date | str | None = None,
        who: str = STAFF_WRITER,
    ) -> int:
        """Insert as staff would on the page (no access check); returns the new ID.

        `when` sets WHENCREATED/WHENMODIFIED (district-local; aware datetimes are converted).
        Raises ValidationFailed (a ValueError) for values PowerSchool would refuse.
        """
        return self.insert_rows(table, [values], student_dcid=student_dcid, when=when, who=who)[0]

    def insert_rows(
        self,
        table: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        student_dcid: int | str | None = None,
        when: dt.datetime | dt.date | str | None = None,
        who: str = STAFF_WRITER,
    ) -> list[int]:
        """Bulk insert in one transaction (benchmarks seed 100,000 rows this way)."""
        schema = self._schema(table)
        prepared = []
        for row in rows:
            values = dict(row)
            if student_dcid is not None and schema.parent_column:
                values.setdefault(schema.parent_column, student_dcid)
            prepared.append(values)
        return self.store.insert_many(schema, prepared, who=who, when=self._when(when))

    def update_row(
        self,
        table: str,
        row_id: int,
        values: Mapping[str, Any],
        *,
        when: dt.datetime | dt.date | str | None = None,
        who: str = STAFF_WRITER,
    ) -> None:
        """Update as staff would; sets WHOMODIFIED/WHENMODIFIED. KeyError if the row is missing."""
        if not self.store.update(
            self._schema(table), int(row_id), values, who=who, when=self._when(when)
        ):
            raise KeyError(f"{table} has no row {row_id}")

    def delete_row(self, table: str, row_id: int) -> None:
        if not self.store.delete(self._schema(table), int(row_id)):
            raise KeyError(f"{table} has no row {row_id}")

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row, ordered by key, with UPPER-case column names and stored values
        (integers as int, dates as 'YYYY-MM-DD', timestamps as 'YYYY-MM-DD HH:MM:SS')."""
        return self.store.select(self._schema(table))

    def row(self, table: str, row_id: int) -> dict[str, Any] | None:
        return self.store.get(self._schema(table), int(row_id))

    def students(self) -> list[dict[str, Any]]:
        return self.rows("STUDENTS")

    def schools(self) -> list[dict[str, Any]]:
        return self.rows("SCHOOLS")

    def student_by_number(self, number: int | str) -> dict[str, Any] | None:
        found = self.store.select(self._schema("STUDENTS"), '"STUDENT_NUMBER" = ?', [int(number)])
        return found[0] if found else None

    # -- observing and disturbing ------------------------------------------------------------

    @property
    def request_log(self) -> list[LogEntry]:
        """(method, path, status) of each request since reset_log(); status 0 = dropped."""
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    def expire_tokens(self) -> None:
        """Every issued token stops working; the next call gets 401."""
        self.auth.expire(None)

    def revoke(self, table: str, field: str, *, keep_read: bool = False) -> None:
        """Withdraw a granted field, as an administrator rejecting it (for `ssp check` tests);
        `keep_read=True` withdraws only write access (the field stays ViewOnly)."""
        self.grants.revoke(table, field, keep_read=keep_read)

    def on_request(
        self, method: str, path_contains: str, callback: Callable[[], object], *, times: int = 1
    ) -> None:
        """Run `callback` when a request with `method` whose path contains `path_contains`
        arrives, before PowerSchool answers it (so the answer already reflects the change), for
        the next `times` such requests: staff editing the page at exactly that moment."""
        with self._hooks_lock:
            self._hooks.append(_Hook(method.upper(), path_contains, callback, times))

    def cancel_hooks(self) -> None:
        """Forget every on_request callback that has not fired yet."""
        with self._hooks_lock:
            self._hooks.clear()

    def pending_hooks(self) -> int:
        """How many on_request callbacks have not fired yet (all their times)."""
        with self._hooks_lock:
            return sum(h.times for h in self._hooks)

    def set_latency(self, latency_ms: int) -> None:
        self.latency_ms = latency_ms
        if self._server is not None:
            self._server.latency_ms = latency_ms

    # -- internals ---------------------------------------------------------------------------

    def _handle(self, req: Any) -> Any:
        due = []
        with self._hooks_lock:
            for hook in self._hooks:
                if hook.times > 0 and hook.method == req.method and hook.path_contains in req.path:
                    hook.times -= 1
                    due.append(hook.callback)
            self._hooks = [h for h in self._hooks if h.times > 0]
        for callback in due:
            callback()
        return self.api.handle(req)

    def _record(self, entry: LogEntry) -> None:
        with self._log_lock:
            self._log.append(entry)

    def _now(self) -> str:
        return now_text(self.tz)

    def _api_writer(self) -> str:
        oauth = [p.name for p in self.plugins if p.oauth]
        return oauth[-1] if oauth else "PSAPI"

    def _metadata(self) -> dict[str, Any]:
        size = self.max_page_size
        oauth = [p.name for p in self.plugins if p.oauth]
        meta: dict[str, Any] = {
            f"{k}_max_page_size": size
            for k in (
                "course",
                "school",
                "schema_table_query",
                "section",
                "section_enrollment",
                "staff",
                "student",
                "term",
            )
        }
        meta.update(
            {
                "powerschool_version": POWERSCHOOL_VERSION,
                "district_timezone": self.timezone,
                "state": "XX",
                "district_uuid": "5a4db0c8-55b0-4000-8000-000000000001",
                "sso_enabled_admin": "false",
                "sso_enabled_guardian": "false",
                "sso_enabled_student": "false",
                "sso_enabled_teacher": "false",
            }
        )
        if oauth:
            meta["plugin_id"] = self._plugin_ids[oauth[-1]]
        return meta


@dataclass
class _Hook:
    method: str
    path_contains: str
    callback: Callable[[], object]
    times: int


def _parents_first(tables: Iterable[Any], store: Store) -> list[Any]:
    """Order tables so a child of another extension table is created after its parent."""
    pending = list(tables)
    ordered: list[Any] = []
    names = {t.name for t in pending}
    while pending:
        ready = [
            t
            for t in pending
            if not t.parent or t.parent not in names or any(o.name == t.parent for o in ordered)
        ]
        if not ready:
            raise InstallError(f"circular parent tables: {', '.join(t.name for t in pending)}")
        for t in ready:
            if t.parent and t.parent not in names and store.schema(t.parent) is None:
                raise InstallError(f"{t.name}: parent table {t.parent} does not exist")
            ordered.append(t)
            pending.remove(t)
    return ordered

"""`/ws/schema/table/{table}`: reads with projection, q, sort and paging; inserts, updates, deletes.

Rows come back as `{"id": n, "name": "u_table", "tables": {"u_table": {"col": "text"}}}` with
every value a string. Reads are limited to the fields the plugins were granted, writes to fields
granted FullAccess (403 naming the fields otherwise). Writes are validated per field (String
length, numbers, dates) and answer with PowerSchool's write result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.access import Grants
from sandbox.fiql import FiqlError, parse, schema_resolver, to_sql
from sandbox.render import ident, literal, object_sql, text_sql
from sandbox.shapes import ApiError, Request, Response, Shaper, json_response
from sandbox.store import Store, TableSchema, ValidationFailed
from sandbox.table_meta import table_metadata

__all__ = ["TableApi", "Paging", "paging"]

WriteStyle = Literal["results", "bare"]
ErrorStyle = Literal["http", "result"]


@dataclass(frozen=True)
class Paging:
    offset: int
    limit: int | None  # None: everything (pagesize=0)


def paging(req: Request, max_page_size: int) -> Paging:
    """page is 1-based; pagesize defaults to and is capped at the maximum; 0 means everything."""

    def number(name: str, default: int) -> int:
        raw = req.param(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ApiError(400, f"{name} must be a whole number", [f"{name}={raw}"]) from None

    page = number("page", 1)
    size = number("pagesize", max_page_size)
    if page < 1 or size < 0:
        raise ApiError(
            400,
            "page must be 1 or more and pagesize 0 or more",
            [f"page={page}", f"pagesize={size}"],
        )
    if size == 0:
        return Paging(0, None)
    size = min(size, max_page_size)
    return Paging((page - 1) * size, size)


class TableApi:
    def __init__(
        self,
        store: Store,
        grants: Grants,
        shaper: Shaper,
        *,
        max_page_size: Callable[[], int],
        writer: Callable[[], str],
        now: Callable[[], str],
        write_style: WriteStyle = "results",
        error_style: ErrorStyle = "http",
        projection_required: bool = True,
    ) -> None:
        self.store = store
        self.grants = grants
        self.shaper = shaper
        self.max_page_size = max_page_size
        self.writer = writer
        self.now = now
        self.write_style = write_style
        self.error_style = error_style
        self.projection_required = projection_required

    def table(self, name: str) -> TableSchema:
        schema = self.store.schema(name)
        if schema is None:
            raise ApiError(404, "Database table specified by the URI not found", [name])
        return schema

    # -- reads -------------------------------------------------------------------------------

    def _projection(self, req: Request, schema: TableSchema) -> list[str]:
        raw = req.param("projection")
        if raw is None or raw.strip() == "":
            if self.projection_required:
                raise ApiError(
                    400, "projection is required", ["add projection=* or a list of fields"]
                )
            raw = "*"
        fields: list[str] = []
        for part in (p.strip() for p in raw.split(",")):
            table, _, name = part.upper().rpartition(".")
            if table and table != schema.name:
                raise ApiError(400, f"projection field {part!r} is not in {schema.name.lower()}")
            if name == "*":
                fields.extend(c for c in schema.columns if self.grants.can_read(schema.name, c))
            elif name not in schema.columns:
                raise ApiError(400, f"{schema.name.lower()} has no field {part!r}", [part])
            else:
                fields.append(name)
        missing = self.grants.missing_read((schema.name, f) for f in fields)
        if missing or not fields:
            raise _forbidden(missing or [f"{schema.name}.*"], "read")
        return list(dict.fromkeys(fields))

    def _where(self, req: Request, schema: TableSchema) -> tuple[str, list[Any]]:
        try:
            conditions = parse(req.param("q") or "")
            where, params = to_sql(conditions, schema_resolver(schema))
        except FiqlError as exc:
            raise ApiError(400, "invalid q", [str(exc)]) from None
        missing = self.grants.missing_read((schema.name, c.field) for c in conditions)
        if missing:
            raise _forbidden(missing, "filter on")
        return where, params

    def _order(self, req: Request, schema: TableSchema) -> str:
        raw = req.param("sort")
        descending = (req.param("sortdescending") or "").lower() == "true"
        names = (
            [p.strip().upper().rpartition(".")[2] for p in raw.split(",")] if raw else [schema.key]
        )
        for name in names:
            if name not in schema.columns:
                raise ApiError(400, f"cannot sort on {name.lower()}: no such field")
        direction = " DESC" if descending else ""
        keys = [f'"{n}"{direction}' for n in names]
        if schema.key not in names:
            keys.append(f'"{schema.key}"{direction}')
        return ", ".join(keys)

    def _item_sql(self, schema: TableSchema, fields: list[str]) -> str:
        """One row as `{"id": n, "name": "t", "tables": {"t": {field: "text"}}}`, in SQLite."""
        name = literal(schema.name.lower())
        values = object_sql(
            [(f.lower(), text_sql(ident(f), schema.columns[f].sqlite_type)) for f in fields],
            self.shaper.null_style,
        )
        tables = f"json_object({name}, {values})"
        return f"json_object('id', {ident(schema.key)}, 'name', {name}, 'tables', {tables})"

    def list(self, req: Request, table: str) -> Response:
        schema = self.table(table)
        fields = self._projection(req, schema)
        where, params = self._where(req, schema)
        page = paging(req, self.max_page_size())
        _, rows = self.store.select_raw(
            self._item_sql(schema, fields),
            schema,
            where,
            params,
            order=self._order(req, schema),
            limit=page.limit,
            offset=page.offset,
        )
        return self.shaper.listing({"name": schema.name.lower()}, "record", [r[0] for r in rows])

    def count(self, req: Request, table: str) -> Response:
        schema = self.table(table)
        where, params = self._where(req, schema)
        return json_response(200, {"count": self.store.count(schema, where, params)})

    def metadata(self, req: Request, table: str, queries: Sequence[str]) -> Response:
        """The table's definition; `expansions=access` adds each column's granted access."""
        schema = self.table(table)
        body = table_metadata(
            schema, self.grants, (req.param("expansions") or "").split(","), queries
        )
        body["columns"] = self.shaper.one_or_many(body["columns"])
        return json_response(200, body)

    def get(self, req: Request, table: str, key: str) -> Response:
        schema = self.table(table)
        fields = self._projection(req, schema)
        _, rows = self.store.select_raw(
            self._item_sql(schema, fields), schema, f"{ident(schema.key)} = ?", [_row_id(key)]
        )
        if not rows:
            raise ApiError(404, "record not found", [f"{schema.name.lower()}/{key}"])
        return Response(200, rows[0][0].encode("utf-8"))

    # -- writes ------------------------------------------------------------------------------

    def _body_values(self, req: Request, schema: TableSchema) -> tuple[dict[str, Any], Any]:
        body = req.json()
        tables = body.get("tables") if isinstance(body, dict) else None
        if not isinstance(tables, dict):
            raise ApiError(400, 'body must be {"tables": {"<table>": {...}}}')
        matches = [v for k, v in tables.items() if k.upper() == schema.name]
        if len(tables) != 1 or not matches or not isinstance(matches[0], dict):
            raise ApiError(
                400, f"body must hold exactly one table, {schema.name.lower()}", sorted(tables)
            )
        if not schema.extension:
            raise ApiError(403, f"{schema.name.lower()} cannot be written through this API")
        values = matches[0]
        unknown = [k for k in values if k.upper() not in schema.columns]
        if unknown:
            raise ApiError(
                400,
                "Validation Failed",
                [
                    {
                        "field": f"{schema.name.lower()}.{k}",
                        "error_code": "FIELD_VALIDATION_ERROR",
                        "error_description": "no such field in the table",
                    }
                    for k in unknown
                ],
            )
        missing = self.grants.missing_write(
            (schema.name, k.upper()) for k in values if k.upper() not in schema.system
        )
        if missing:
            raise _forbidden(missing, "write")
        return values, body.get("client_uid")

    def insert(self, req: Request, table: str) -> Response:
        schema = self.table(table)
        values, client_uid = self._body_values(req, schema)
        try:
            new_id = self.store.insert(schema, values, who=self.writer(), when=self.now())
        except ValidationFailed as exc:
            return self._rejected(schema, exc, "INSERT", client_uid)
        return self._written(req, schema, new_id, "INSERT", client_uid)

    def update(self, req: Request, table: str, key: str) -> Response:
        schema = self.table(table)
        row_id = _row_id(key)
        body = req.json()
        if (
            isinstance(body, dict)
            and body.get("id") not in (None, "")
            and str(body["id"]) != str(row_id)
        ):
            raise ApiError(400, "the id in the body does not match the URI", [str(body["id"])])
        values, client_uid = self._body_values(req, schema)
        try:
            found = self.store.update(schema, row_id, values, who=self.writer(), when=self.now())
        except ValidationFailed as exc:
            return self._rejected(schema, exc, "UPDATE", client_uid)
        if not found:
            raise ApiError(404, "record not found", [f"{schema.name.lower()}/{key}"])
        return self._written(req, schema, row_id, "UPDATE", client_uid)

    def delete(self, req: Request, table: str, key: str) -> Response:
        schema = self.table(table)
        if not schema.extension:
            raise ApiError(403, f"{schema.name.lower()} rows cannot be deleted through this API")
        missing = self.grants.missing_write((schema.name, c) for c in schema.user_columns)
        if missing:
            raise _forbidden(missing, "delete (needs FullAccess on every field)")
        if not self.store.delete(schema, _row_id(key)):
            raise ApiError(404, "record not found", [f"{schema.name.lower()}/{key}"])
        return Response(204, b"", content_type="")

    def _written(
        self, req: Request, schema: TableSchema, row_id: int, action: str, client_uid: Any
    ) -> Response:
        result: dict[str, Any] = {
            "status": "SUCCESS",
            "action": action,
            "success_message": {
                "id": row_id,
                "ref": f"{req.base_url}/ws/schema/table/{schema.name.lower()}/{row_id}",
            },
        }
        if client_uid is not None:
            result = {"client_uid": client_uid, **result}
        counts = {
            "insert_count": int(action == "INSERT"),
            "update_count": int(action == "UPDATE"),
            "delete_count": 0,
        }
        return json_response(
            200, self._wrap({**counts, "result": self.shaper.one_or_many([result])})
        )

    def _rejected(
        self, schema: TableSchema, exc: ValidationFailed, action: str, client_uid: Any
    ) -> Response:
        errors = [
            {
                "field": f"{schema.name.lower()}.{f.lower()}",
                "error_code": code,
                "error_description": desc,
            }
            for f, code, desc in exc.problems
        ]
        if self.error_style == "http":
            raise ApiError(400, "Validation Failed", errors)
        result: dict[str, Any] = {
            "status": "ERROR",
            "action": action,
            "error_message": {"error": self.shaper.one_or_many(errors)},
        }
        if client_uid is not None:
            result = {"client_uid": client_uid, **result}
        payload = {
            "insert_count": 0,
            "update_count": 0,
            "delete_count": 0,
            "result": self.shaper.one_or_many([result]),
        }
        return json_response(200, self._wrap(payload))

    def _wrap(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"results": payload} if self.write_style == "results" else payload


def _row_id(key: str) -> int:
    try:
        return int(key)
    except ValueError:
        raise ApiError(404, "record not found", [key]) from None


def _forbidden(fields: list[str], what: str) -> ApiError:
    return ApiError(
        403,
        f"Access denied: the plugin may not {what} these fields (not in its access_request)",
        [{"field": f, "error_code": "ACCESS_DENIED"} for f in fields],
        extra={"fields": fields},
    )

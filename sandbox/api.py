"""The PowerSchool API as the sandbox speaks it: routing, OAuth, metadata and PowerQueries.

Table endpoints live in `tables_api`. Everything under `/ws/schema/` needs a valid bearer token
(401 with `WWW-Authenticate: Bearer error="invalid_token"` otherwise); `/ws/v1/metadata` does not,
but only an authorised call sees `plugin_id`.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from sandbox.access import Grants
from sandbox.auth import Auth
from sandbox.fiql import FiqlError
from sandbox.powerquery import QueryArgError, QueryEngine
from sandbox.shapes import ApiError, Request, Response, Shaper, json_response
from sandbox.tables_api import TableApi, paging

__all__ = ["Api", "unauthorized", "OUTAGE_HTML", "POWERSCHOOL_VERSION"]

POWERSCHOOL_VERSION = "24.7.0.0 (sandbox)"
OUTAGE_HTML = (
    "<!DOCTYPE html><html><head><title>PowerSchool page unavailable</title></head><body>"
    "<h1>PowerSchool page unavailable</h1><p>The server is temporarily unavailable. Please try "
    "again later.</p></body></html>"
)
_TABLE = re.compile(r"^/ws/schema/table/([^/]+)(?:/([^/]+))?/?$")
_QUERY = re.compile(r"^/ws/schema/query/([^/]+?)(/count)?/?$")


def unauthorized(description: str = "The access token is invalid or has expired") -> Response:
    header = f'Bearer error="invalid_token",realm="PowerSchool",error_description="{description}"'
    return ApiError(
        401, "Unauthorized", [description], headers={"WWW-Authenticate": header}
    ).response()


class Api:
    def __init__(
        self,
        *,
        auth: Auth,
        grants: Grants,
        tables: TableApi,
        queries: QueryEngine,
        shaper: Shaper,
        metadata: Callable[[], dict[str, Any]],
    ) -> None:
        self.auth = auth
        self.grants = grants
        self.tables = tables
        self.queries = queries
        self.shaper = shaper
        self.metadata = metadata

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except ApiError as exc:
            return exc.response()

    def _route(self, req: Request) -> Response:
        path, method = req.path, req.method
        if path.rstrip("/") == "/oauth/access_token":
            _allow(method, "POST")
            return self._token(req)
        if path.rstrip("/") == "/ws/v1/metadata":
            _allow(method, "GET")
            return self._metadata(req)
        if path.rstrip("/") == "/ws/v1/time":
            _allow(method, "GET")
            return json_response(200, {"time": dt.datetime.now(dt.UTC).isoformat()})
        if not path.startswith("/ws/"):
            raise ApiError(404, "Not found", [path])
        req.token = self.auth.valid(req.header("Authorization"))
        if req.token is None:
            return unauthorized()
        if (match := _QUERY.match(path)) is not None:
            _allow(method, "POST")
            return self._query(
                req, urllib.parse.unquote(match.group(1)), count=bool(match.group(2))
            )
        if (match := _TABLE.match(path)) is not None:
            return self._table(req, urllib.parse.unquote(match.group(1)), match.group(2))
        raise ApiError(404, "Not found", [path])

    def _table(self, req: Request, table: str, rest: str | None) -> Response:
        t, m = self.tables, req.method
        if rest is None:
            _allow(m, "GET", "POST")
            return t.list(req, table) if m == "GET" else t.insert(req, table)
        if rest.lower() == "count":
            _allow(m, "GET")
            return t.count(req, table)
        if rest.lower() == "metadata":
            _allow(m, "GET")
            return t.metadata(req, table, self.queries.involving(table))
        _allow(m, "GET", "PUT", "DELETE", "POST")
        if m == "GET":
            return t.get(req, table, rest)
        if m == "PUT":
            return t.update(req, table, rest)
        if m == "DELETE":
            return t.delete(req, table, rest)
        return t.insert(req, table)  # POST /ws/schema/table/{t}/{anything}: also an insert

    # -- OAuth and metadata ------------------------------------------------------------------

    def _token(self, req: Request) -> Response:
        if not self.auth.credentials_ok(req.header("Authorization")):
            return json_response(401, {"error": "invalid_client"})
        form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["client_credentials"]:
            return json_response(400, {"error": "unsupported_grant_type"})
        token, remaining = self.auth.issue()
        return json_response(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": str(remaining)}
        )

    def _metadata(self, req: Request) -> Response:
        meta = self.metadata()
        if self.auth.valid(req.header("Authorization")) is None:
            meta.pop("plugin_id", None)
        return json_response(200, {"metadata": meta})

    # -- PowerQueries ------------------------------------------------------------------------

    def _query(self, req: Request, name: str, *, count: bool) -> Response:
        query = self.queries.queries.get(name)
        if query is None:
            raise ApiError(404, f"PowerQuery {name} not found", [name])
        body = req.json() if req.body.strip() else {}
        if not isinstance(body, dict):
            raise ApiError(
                400, "Validation Failed", ["the body must be a JSON object of arguments"]
            )
        missing = self.grants.missing_read(self.queries.touches[name])
        if missing:
            raise ApiError(
                403,
                "Access denied: the query touches fields outside the access_request",
                [{"field": f, "error_code": "ACCESS_DENIED"} for f in missing],
                extra={"fields": missing},
            )
        q = str(body.get("$q") or req.param("$q") or "")
        try:
            if count:
                return json_response(200, {"count": self.queries.count(query, body, q)})
            page = paging(req, self.tables.max_page_size())
            items = self.queries.page(
                query, body, page.offset, page.limit, null_style=self.shaper.null_style, q=q
            )
        except (QueryArgError, FiqlError) as exc:
            raise ApiError(400, "Validation Failed", [str(exc)]) from None
        return self.shaper.listing(
            {"name": self.queries.core_name(query), "@extensions": ""}, "record", items
        )


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ApiError(
            405,
            f"Method {method} is not allowed here",
            [f"allowed: {', '.join(allowed)}"],
            headers={"Allow": ", ".join(allowed)},
        )

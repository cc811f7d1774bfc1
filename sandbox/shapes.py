"""Requests, responses and PowerSchool's JSON quirks.

The quirks are on by default because clients break on them in production: a list with exactly one
element comes back as a bare object (`record`, `results.result`), an empty result omits `record`
entirely, and a null column is left out of its row (render.py). Each can be switched off or made
random through the fault plan's quirk probabilities (`single`, `norecord`) and the sandbox's
`null_style`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.faults import FaultPlan
from sandbox.render import NullStyle, json_list

__all__ = [
    "Request",
    "Response",
    "ApiError",
    "json_response",
    "error_response",
    "Shaper",
    "NullStyle",
]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    base_url: str
    token: str | None = None

    def param(self, name: str) -> str | None:
        """A query-string parameter by case-insensitive name (the last one wins)."""
        for key, values in self.query.items():
            if key.lower() == name.lower() and values:
                return values[-1]
        return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        if not self.body.strip():
            raise ApiError(400, "request body is empty", ["a JSON body is required"])
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "request body is not valid JSON", [str(exc)]) from None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


class ApiError(Exception):
    """An error answer: `{"message": ..., "errors": [...]}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Iterable[Any] = (),
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(f"{status} {message}")

    def response(self) -> Response:
        payload: dict[str, Any] = {"message": self.message, "errors": self.errors, **self.extra}
        return json_response(self.status, payload, headers=self.headers)


def json_response(
    status: int, payload: Any, *, headers: Mapping[str, str] | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, headers=dict(headers or {}))


def error_response(status: int, message: str, errors: Iterable[Any] = ()) -> Response:
    return ApiError(status, message, errors).response()


class Shaper:
    """Applies the quirks to lists of rows rendered by SQLite (see render.py)."""

    def __init__(self, plan: FaultPlan, null_style: NullStyle = "omit") -> None:
        self.plan = plan
        self.null_style = null_style

    def listing(
        self, payload: dict[str, Any], key: str, items: list[str], status: int = 200
    ) -> Response:
        """`payload` plus `key` holding the rendered `items`: omitted when empty, a bare object
        when single (the quirks, as the fault plan's probabilities decide)."""
        raw = json_list(
            items,
            single_as_object=self.plan.quirk("single"),
            omit_empty=self.plan.quirk("norecord"),
        )
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        if raw is not None:
            body = body[:-1] + ("," if payload else "") + json.dumps(key) + ":" + raw + "}"
        return Response(status, body.encode("utf-8"))

    def one_or_many(self, items: list[Any]) -> Any:
        return items[0] if len(items) == 1 and self.plan.quirk("single") else items

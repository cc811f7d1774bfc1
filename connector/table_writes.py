"""Extension-table writes: insert, update, delete, with no duplicate rows from retries.

PUT (absolute values) and DELETE are idempotent and retried like reads; a 404 on a DELETE that
had to be retried means an earlier attempt deleted the row. POST insert is not idempotent: after
a failure that may have reached the server it is re-sent only when a natural key (SSP_UID) shows
the row is not there yet. Values go as strings (connector/normalise.py `cast_value`), and a 200
answering `status: ERROR` raises WriteRejectedError with PowerSchool's field/code details.

Insert path (reference section 5.5, unverified which a server wants): "table" POSTs to
/ws/schema/table/{t} (Swagger, grantholle); "table_id" POSTs to /ws/schema/table/{t}/{id}
(MBA Customization Reference 25.4) with the row's STUDENTSDCID as the id, 0 for a standalone
table. `ssp check` should report a 404/405 on insert so a district can switch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests

from connector.endpoints import FIQL_VALUE, TABLE_NAME, checked_row_id, table_path
from connector.normalise import WriteOutcome, cast_value, cast_values, table_rows, write_items
from connector.retry import AmbiguousRequestError, RetryBudget
from connector.transport import PowerSchoolTransport
from foundation.errors import NotFoundError, PowerSchoolError, WriteRejectedError

__all__ = ["TableWrites"]

log = logging.getLogger("connector.client")

_PARENT_KEY = "studentsdcid"


class TableWrites(PowerSchoolTransport):
    """Row writes for `/ws/schema/table/{t}`; mixed into PowerSchoolClient."""

    def insert(
        self, table: str, values: Mapping[str, Any], *, natural_key: tuple[str, str] | None = None
    ) -> str | None:
        """Insert one row; return its new ID (None if PowerSchool did not say and no key was given).

        POST is not idempotent: after a failure that may have reached the server (read time-out,
        reset after sending, 5xx, non-JSON page) it is re-sent only when `natural_key` (e.g.
        ("SSP_UID", uid)) shows the row is not there yet; without a key the call fails instead
        of risking a duplicate row.
        """
        path = self._insert_path(table, values)
        endpoint = f"POST {path}"
        body = {"tables": {table.lower(): cast_values(values)}}
        budget = self._policy.budget()
        while True:
            try:
                response = self._call("POST", path, json=body, budget=budget, idempotent=False)
            except AmbiguousRequestError as exc:
                found = self._reconcile_insert(table, natural_key, endpoint, exc.reason, budget)
                if found is not None:
                    return found
                self._wait(budget, endpoint, exc.reason)
                continue
            outcome = self._write_outcome(response, endpoint)
            if outcome is not None and outcome.id is not None:
                return outcome.id
            return self.find_id(table, natural_key, budget=budget) if natural_key else None

    def update(self, table: str, row_id: int | str, values: Mapping[str, Any]) -> None:
        """PUT absolute values into one row: idempotent, so retried like a read."""
        row = checked_row_id(row_id)
        path = f"{table_path(table)}/{row}"
        body = {
            "id": int(row),
            "name": table.lower(),
            "tables": {table.lower(): cast_values(values)},
        }
        response = self._call("PUT", path, json=body, idempotent=True)
        self._write_outcome(response, f"PUT {path}")

    def delete(self, table: str, row_id: int | str, *, missing_ok: bool = False) -> None:
        """DELETE one row. A 404 after a retried attempt means an earlier attempt deleted it."""
        path = f"{table_path(table)}/{checked_row_id(row_id)}"
        budget = self._policy.budget()
        try:
            response = self._call("DELETE", path, budget=budget, idempotent=True)
        except NotFoundError:
            if missing_ok or budget.transient_failures:
                return
            raise
        self._write_outcome(response, f"DELETE {path}")

    def find_id(
        self, table: str, natural_key: tuple[str, str], *, budget: RetryBudget | None = None
    ) -> str | None:
        """The ID of the row whose `natural_key` column equals the value (None if absent)."""
        column, value = natural_key
        if not TABLE_NAME.match(column) or not FIQL_VALUE.match(value):
            raise ValueError("natural_key must be (column, value) with a plain identifier value")
        path = table_path(table)
        params = {
            "projection": f"id,{column.lower()}",
            "q": f"{column.lower()}=={value}",
            "sort": "id",
            "page": 1,
            "pagesize": 2,
        }
        response = self._call("GET", path, params=params, budget=budget)
        rows = self._shape(
            lambda b: table_rows(b, table), self._json(response, f"GET {path}"), f"GET {path}"
        )
        if len(rows) > 1:
            log.warning("%s has more than one row with %s=%s", table, column, value)
        return str(rows[0]["id"]) if rows and rows[0].get("id") else None

    def _insert_path(self, table: str, values: Mapping[str, Any]) -> str:
        path = table_path(table)
        if self.insert_path_style == "table":
            return path
        parent = next((v for k, v in values.items() if str(k).lower() == _PARENT_KEY), None)
        return f"{path}/{checked_row_id(cast_value(parent) or '0')}"

    def _reconcile_insert(
        self,
        table: str,
        natural_key: tuple[str, str] | None,
        endpoint: str,
        reason: str,
        budget: RetryBudget,
    ) -> str | None:
        if natural_key is None:
            raise PowerSchoolError(
                f"insert outcome unknown after {reason}; not re-sent, to avoid a duplicate row "
                "(no natural key to check)",
                endpoint=endpoint,
            )
        found = self.find_id(table, natural_key, budget=budget)
        if found is not None:
            log.info(
                "%s: the insert had reached PowerSchool (%s=%s is row %s)",
                endpoint,
                natural_key[0],
                natural_key[1],
                found,
            )
        return found

    def _write_outcome(self, response: requests.Response, endpoint: str) -> WriteOutcome | None:
        """The first result item; WriteRejectedError if any item is not SUCCESS/WARNING."""
        items = self._shape(write_items, self._json(response, endpoint), endpoint)
        for item in items:
            if item.status == "WARNING":
                log.warning("%s succeeded with warnings: %s", endpoint, "; ".join(item.warnings))
            elif item.status not in ("SUCCESS", ""):
                detail = "; ".join(item.errors) or "no error details"
                raise WriteRejectedError(
                    f"status {item.status}: {detail}",
                    endpoint=endpoint,
                    status=response.status_code,
                )
        return items[0] if items else None

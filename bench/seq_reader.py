"""The baseline: a minimal sequential count-then-page reader, the way the common open-source clients
page (shared/reference/powerschool-rest-api.md, section 8): token, metadata for the max page size,
`/count`, then pages 1..ceil(count / size) one after another over one keep-alive session.

It does the least work a reader can: rows come back as the parsed JSON records, not normalised.
"""

from __future__ import annotations

import math
from typing import Any

import requests

__all__ = ["SequentialReader"]


class SequentialReader:
    def __init__(self, base_url: str, client_id: str, client_secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        token = self.session.post(
            f"{self.base_url}/oauth/access_token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, client_secret),
            timeout=30,
        )
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        meta = self._get("/ws/v1/metadata")["metadata"]
        self.page_size = int(meta["schema_table_query_max_page_size"])

    def close(self) -> None:
        self.session.close()

    def _get(self, path: str, **params: Any) -> Any:
        response = self.session.get(self.base_url + path, params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, body: dict[str, Any], **params: Any) -> Any:
        response = self.session.post(self.base_url + path, params=params, json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def _records(body: dict[str, Any]) -> list[Any]:
        records = body.get("record", [])
        return records if isinstance(records, list) else [records]

    def read_table(self, table: str) -> list[dict[str, Any]]:
        path = f"/ws/schema/table/{table.lower()}"
        count = self._get(path + "/count")["count"]
        rows: list[dict[str, Any]] = []
        for page in range(1, math.ceil(count / self.page_size) + 1):
            body = self._get(path, projection="*", sort="id", page=page, pagesize=self.page_size)
            rows.extend(r["tables"][table.lower()] for r in self._records(body))
        return rows

    def read_query(self, name: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"/ws/schema/query/{name}"
        count = self._post(path + "/count", args)["count"]
        rows: list[dict[str, Any]] = []
        for page in range(1, math.ceil(count / self.page_size) + 1):
            rows.extend(self._records(self._post(path, args, page=page, pagesize=self.page_size)))
        return rows

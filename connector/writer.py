"""Every change the engine makes in PowerSchool goes through here, so a dry run changes nothing.

The writer also keeps the connector's own fields in one place: what a referral row looks like
after it is sent, held, or updated by a partner.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Protocol

__all__ = ["PowerSchoolWriter", "TableClient"]

log = logging.getLogger("ssp.writer")


class TableClient(Protocol):
    def insert(self, table: str, values: dict[str, Any], *, natural_key: tuple[str, str] | None = None) -> int: ...
    def update(self, table: str, row_id: int | str, values: dict[str, Any]) -> None: ...


class PowerSchoolWriter:
    """Applies (or, in a dry run, only counts) inserts and updates of extension-table rows."""

    def __init__(self, client: TableClient, *, dry_run: bool) -> None:
        self._client = client
        self.dry_run = dry_run
        self.planned: Counter[str] = Counter()

    def insert(self, table: str, values: dict[str, Any], *, natural_key: tuple[str, str]) -> int | None:
        self.planned[f"insert {table}"] += 1
        if self.dry_run:
            return None
        row_id = self._client.insert(table, values, natural_key=natural_key)
        log.debug("inserted", extra={"table": table, "ssp_uid": natural_key[1], "id": row_id})
        return row_id

    def update(self, table: str, row_id: int | str, values: dict[str, Any]) -> None:
        self.planned[f"update {table}"] += 1
        if self.dry_run:
            return
        self._client.update(table, row_id, values)
        log.debug("updated", extra={"table": table, "id": row_id, "fields": sorted(values)})

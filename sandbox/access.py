"""The access a district administrator approved: the union of the installed plugins' access_request.

`/ws/schema/*` calls with an OAuth token may only read fields granted ViewOnly or FullAccess and
only write fields granted FullAccess; PowerSchool answers 403 otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sandbox.install import PluginDef

__all__ = ["Grants"]


class Grants:
    def __init__(self, *, enforce: bool = True) -> None:
        self.enforce = enforce
        self._lock = threading.Lock()
        self._by_plugin: dict[str, dict[tuple[str, str], str]] = {}

    def add(self, plugin: PluginDef) -> None:
        """Record (or replace, on upgrade) a plugin's access_request."""
        granted: dict[tuple[str, str], str] = {}
        for table, field, access in plugin.access:
            if granted.get((table, field)) != "FullAccess":
                granted[(table, field)] = access
        with self._lock:
            self._by_plugin[plugin.name] = granted

    def revoke(self, table: str, field: str, *, keep_read: bool = False) -> None:
        """Take a field away, as an administrator rejecting it on "Data Access Requests";
        with `keep_read`, only write access goes (FullAccess becomes ViewOnly)."""
        key = (table.upper(), field.upper())
        with self._lock:
            for granted in self._by_plugin.values():
                if keep_read and key in granted:
                    granted[key] = "ViewOnly"
                else:
                    granted.pop(key, None)

    def access(self, table: str, field: str) -> str | None:
        key = (table.upper(), field.upper())
        best = None
        with self._lock:
            for granted in self._by_plugin.values():
                level = granted.get(key)
                if level == "FullAccess":
                    return level
                best = best or level
        return best

    def can_read(self, table: str, field: str) -> bool:
        return not self.enforce or self.access(table, field) is not None

    def can_write(self, table: str, field: str) -> bool:
        return not self.enforce or self.access(table, field) == "FullAccess"

    def missing_read(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        """`TABLE.FIELD` names of the pairs not readable, sorted (empty when all are)."""
        return sorted(f"{t}.{f}" for t, f in set(pairs) if not self.can_read(t, f))

    def missing_write(self, pairs: Iterable[tuple[str, str]]) -> list[str]:
        return sorted(f"{t}.{f}" for t, f in set(pairs) if not self.can_write(t, f))

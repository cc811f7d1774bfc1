"""Progress for people: one updating line per partner and stream when stderr is a terminal.

Off a terminal (a scheduler, a service) nothing is drawn: the JSON log lines say what happened.
Only counts are shown, never a record's content.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._lock = threading.Lock()
        self._open = False
        self._drawn = 0.0

    def update(self, scope: str, what: str, done: int, total: int | None = None) -> None:
        """Redraw the open line (at most ten times a second, and always for the last item)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn < 0.1 and (total is None or done < total):
            return
        count = f"{done}/{total}" if total is not None else str(done)
        with self._lock:
            self._stream.write(f"\r\x1b[2K{scope}: {what} {count}")
            self._stream.flush()
            self._open = True
            self._drawn = now

    def done(self, scope: str, what: str, message: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            prefix = "\r\x1b[2K" if self._open else ""
            self._stream.write(f"{prefix}{scope}: {what} {message}\n")
            self._stream.flush()
            self._open = False

"""The product's one error hierarchy, grouped by what the caller should do.

    SSPError
    ├── ConfigError            fix the input and rerun (exit 2)
    │   └── CatalogueError     a catalogue or district edit breaks a PowerSchool rule
    ├── RecordError            one row is bad: quarantine it with `reason`, go on
    ├── TransientError         retriable transport trouble; handled inside the client
    └── RunError               the run cannot go on: stop, keep state consistent (exit 1)
        └── PowerSchoolError   PowerSchool refused a call (non-retriable, or retries exhausted)
            ├── AccessDeniedError   403: a field or table is outside the approved access_request
            ├── NotFoundError       404
            └── WriteRejectedError  a write answered 200 with status ERROR

Messages never carry student names, dates of birth, notes or secrets: callers name records by
SSP_UID or DCID only.
"""

from __future__ import annotations

__all__ = [
    "SSPError",
    "ConfigError",
    "CatalogueError",
    "RecordError",
    "TransientError",
    "RunError",
    "PowerSchoolError",
    "AccessDeniedError",
    "NotFoundError",
    "WriteRejectedError",
]


class SSPError(Exception):
    """Root of every error the product raises on purpose."""

    exit_code = 1


class ConfigError(SSPError):
    """Bad configuration or usage. The message names the file and the key."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class CatalogueError(ConfigError):
    """The catalogue (or a district's edit of it) breaks a PowerSchool limit or our own rule."""


class RecordError(SSPError):
    """One inbound or outbound record cannot be processed; it is quarantined, the run goes on.

    `reason` is the short text written to the quarantine file's `reason` column.
    """

    def __init__(
        self, reason: str, *, file: str | None = None, row: int | None = None, field: str | None = None
    ) -> None:
        self.reason = reason
        self.file = file
        self.row = row
        self.field = field
        named_field = field if field and not reason.startswith(f"{field}:") else None
        parts = [p for p in (file, f"row {row}" if row is not None else None, named_field) if p]
        super().__init__(f"{': '.join(parts)}: {reason}" if parts else reason)


class TransientError(SSPError):
    """A failure worth retrying (429, 5xx, reset, time-out, HTML outage page)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class RunError(SSPError):
    """The run cannot continue. State stays at the last effect that was fully written."""

    exit_code = 1


class PowerSchoolError(RunError):
    """PowerSchool refused a call. Carries the endpoint and PowerSchool's own message."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        self.endpoint = endpoint
        self.status = status
        prefix = f"{endpoint} -> HTTP {status}: " if status is not None else (f"{endpoint}: " if endpoint else "")
        super().__init__(prefix + message)


class AccessDeniedError(PowerSchoolError):
    """403: the plugin's approved access_request does not cover what was asked."""


class NotFoundError(PowerSchoolError):
    """404: the table, query or row does not exist."""


class WriteRejectedError(PowerSchoolError):
    """PowerSchool answered a write with status ERROR (often on HTTP 200)."""

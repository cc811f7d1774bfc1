"""A local PowerSchool emulator: installs the generated plugin zips, serves the REST API with its
real JSON shapes and quirks, enforces the access_request, and injects latency and faults.

See `Sandbox` (sandbox.py) for the Python API and `FaultPlan` (faults.py) for fault injection.
"""

from __future__ import annotations

from connector.sandbox.faults import FaultPlan
from connector.sandbox.install import InstallError
from connector.sandbox.sandbox import STAFF_WRITER, Sandbox
from connector.sandbox.server import LogEntry
from connector.sandbox.store import ValidationFailed

__all__ = ["Sandbox", "FaultPlan", "InstallError", "LogEntry", "ValidationFailed", "STAFF_WRITER"]

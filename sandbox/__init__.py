"""A local PowerSchool emulator: installs the generated plugin zips, serves the REST API with its
real JSON shapes and quirks, enforces the access_request, and injects latency and faults.

See `Sandbox` (sandbox.py) for the Python API and `FaultPlan` (faults.py) for fault injection.
"""

from __future__ import annotations

from sandbox.faults import FaultPlan
from sandbox.install import InstallError
from sandbox.sandbox import STAFF_WRITER, Sandbox
from sandbox.server import LogEntry
from sandbox.store import ValidationFailed

__all__ = ["Sandbox", "FaultPlan", "InstallError", "LogEntry", "ValidationFailed", "STAFF_WRITER"]

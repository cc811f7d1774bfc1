"""What every benchmark shares: the machine description, timing helpers, and how a figure is
reported (printed for a person, and as one `BENCH-RESULT {json}` line that run_all.py collects).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["machine", "report", "timed", "median", "ROOT", "RESULT_PREFIX", "section", "STREAMS"]

ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "
NAMESPACE = "org.bridgeport.ssp"  # the demo configuration's PowerQuery namespace
STREAMS = {
    "partners": "/ws/schema/table/u_ssp_partners",
    "consents": f"/ws/schema/query/{NAMESPACE}.consents.changed_since",
    "referrals": f"/ws/schema/query/{NAMESPACE}.referrals.changed_since",
    "visits": f"/ws/schema/query/{NAMESPACE}.visits.changed_since",
    "snapshot": f"/ws/schema/query/{NAMESPACE}.referrals.snapshot",  # decisions' fresh reads
}
"""Request path prefix of each stream, to count a run's requests per stream in the sandbox log."""


def machine() -> dict[str, Any]:
    """nproc, CPU model, Python, and the load average when measured (the machine may be shared)."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1_5_15": load,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of one call."""
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(
    name: str,
    *,
    figure: str,
    target: str,
    met: bool | None,
    how: str,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Print one measured figure against its target, and the machine-readable line."""
    verdict = {True: "MET", False: "NOT MET", None: "see notes"}[met]
    print(f"\n[{name}] {figure}")
    print(f"    target: {target} -> {verdict}")
    print(f"    how:    {how}")
    result = {"name": name, "figure": figure, "target": target, "met": met, "how": how,
              "data": data or {}, "machine": machine()}
    print(RESULT_PREFIX + json.dumps(result, default=str), flush=True)
    return result


def python() -> str:
    return sys.executable

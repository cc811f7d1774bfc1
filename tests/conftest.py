"""Suite-wide rule: tests marked `slow` (full crash, fault and soak runs; long random searches) are
skipped unless the run selects them: `python -m pytest -m slow` (or SSP_SLOW=1)."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("SSP_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow variant: run with `python -m pytest -m slow`")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)

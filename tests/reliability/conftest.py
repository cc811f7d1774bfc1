"""Fixtures of the reliability suites; `slow` variants run only when asked for (`-m slow`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from foundation.config import demo_config_text, parse_config_text

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's slow tests unless the run selects them (-m slow) or SSP_SLOW=1."""
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("SSP_SLOW") == "1":
        return
    skip = pytest.mark.skip(
        reason="slow variant: run with `python -m pytest -m slow tests/reliability`"
    )
    for item in items:
        if item.get_closest_marker("slow") and HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def plugin_zips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The DATA and UI zips as `ssp plugin build` writes them for the demo configuration."""
    from plugin.build import build_plugins

    base = tmp_path_factory.mktemp("cfg")
    config = parse_config_text(demo_config_text(), source="demo_ssp.toml", base_dir=base)
    return list(build_plugins(config, tmp_path_factory.mktemp("dist")))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    from reliability_kit.figures import lines

    found = lines()
    if found:
        terminalreporter.section("reliability figures")
        for text in found:
            terminalreporter.write_line(text)

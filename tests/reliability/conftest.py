"""Fixtures of the reliability suites; `slow` variants run only when asked for (`-m slow`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.config import demo_config_text, parse_config_text

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

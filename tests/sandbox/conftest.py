"""Fixtures for the sandbox tests: the generated plugin zips, a running sandbox and an authorised
session. Helpers for hand-written plugin zips live in sandbox_helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sandbox_helpers import authorised_session

from foundation.config import SSPConfig, demo_config_text, parse_config_text
from sandbox import Sandbox


@pytest.fixture(scope="session")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> SSPConfig:
    base = tmp_path_factory.mktemp("cfg")
    return parse_config_text(demo_config_text(), source="demo_ssp.toml", base_dir=base)


@pytest.fixture(scope="session")
def plugin_zips(demo_config: SSPConfig, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The DATA and UI zips exactly as `ssp plugin build` writes them."""
    from plugin.build import build_plugins

    return list(build_plugins(demo_config, tmp_path_factory.mktemp("dist")))


@pytest.fixture
def sandbox(plugin_zips: list[Path]) -> Iterator[Sandbox]:
    with Sandbox(plugins=plugin_zips, students=60, seed=7) as sb:
        yield sb


@pytest.fixture
def ps(sandbox: Sandbox) -> Iterator[requests.Session]:
    """A requests session holding a valid token for `sandbox`."""
    session = authorised_session(sandbox)
    yield session
    session.close()

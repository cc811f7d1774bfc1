"""Shared fixtures for the plugin generator tests: configurations and catalogue variants."""

from __future__ import annotations

import textwrap
from importlib import resources
from pathlib import Path
from typing import Callable

import pytest
from plugin_configs import BASE_CONFIG, DATA, PARTNER  # noqa: F401 - re-exported for fixtures

from foundation.catalogue import Catalogue, load_catalogue
from foundation.config import SSPConfig, demo_config_text, parse_config_text


@pytest.fixture
def demo_config() -> SSPConfig:
    return parse_config_text(demo_config_text(), source="demo_ssp.toml", base_dir=Path("."))


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    """Write BASE_CONFIG plus `extra` TOML to a file and return its path."""

    def write(extra: str = "", *, base: str = BASE_CONFIG) -> Path:
        path = tmp_path / "ssp.toml"
        path.write_text(base + "\n" + textwrap.dedent(extra), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_config(write_config: Callable[[str], Path]) -> Callable[[str], SSPConfig]:
    from foundation.config import load_config

    return lambda extra="": load_config(write_config(extra))


def packaged_catalogue_text() -> str:
    return resources.files("field_mappings").joinpath("student_support.toml").read_text("utf-8")


@pytest.fixture
def catalogue_variant(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write the packaged catalogue with one exact text replacement; returns the file path."""

    def variant(old: str, new: str) -> Path:
        text = packaged_catalogue_text()
        assert text.count(old) >= 1, f"fixture text not found: {old!r}"
        path = tmp_path / "catalogue.toml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path

    return variant


@pytest.fixture
def catalogue() -> Catalogue:
    return load_catalogue()

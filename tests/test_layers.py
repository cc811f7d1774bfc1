"""The layer contracts of pyproject.toml ([tool.importlinter]) hold, and they would catch an import
that runs back up: `lint-imports` fails naming both modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("ssp", "sandbox", "documents", "connector", "plugin", "foundation")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail(f"lint-imports not found beside {sys.executable}: pip install -e '.[test]'")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _copy_tree(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layer_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("foundation/errors.py", "connector.engine"),  # the foundation reaching for a feature
        ("plugin/pages.py", "connector.policy"),  # a lower feature reaching up
        ("connector/send.py", "documents.report"),  # the connector reaching up to the report
        ("documents/report.py", "ssp.cli"),  # a feature reaching for the application
        ("connector/engine.py", "sandbox.store"),  # the product importing the emulator
        ("sandbox/store.py", "connector.client"),  # the emulator importing the connector
    ],
)
def test_an_import_running_back_up_fails_naming_both_modules(
    tmp_path: Path, importer: str, imported: str
) -> None:
    tree = _copy_tree(tmp_path)
    with (tree / importer).open("a", encoding="utf-8") as module:
        module.write(f"\nimport {imported}  # planted by the test\n")

    result = _lint_imports(tree)

    assert result.returncode == 1, result.stdout + result.stderr
    importer_module = importer.removesuffix(".py").replace("/", ".")
    assert importer_module in result.stdout and imported in result.stdout, result.stdout

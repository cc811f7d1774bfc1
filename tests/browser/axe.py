"""axe-core (the WCAG rule engine used by browser accessibility checkers), run inside the page.

The npm package is pinned in `.ci/axe-core-version` and installed by `.ci/install-system` into a
cache folder (`$SSP_CACHE_DIR`, else `$XDG_CACHE_HOME/ssp`, else `~/.cache/ssp`). When it is not
there yet and npm is on PATH, `axe_source()` installs it the same way (npm registry only). Nothing is
ever loaded from a CDN, and the pages under test stay offline: axe is injected through the DevTools
protocol, so it runs even on a page whose Content-Security-Policy forbids scripts.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
AXE_CORE_VERSION = (ROOT / ".ci" / "axe-core-version").read_text("utf-8").strip()
WCAG21_AA_TAGS: tuple[str, ...] = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")

__all__ = [
    "AXE_CORE_VERSION",
    "WCAG21_AA_TAGS",
    "AxeMissing",
    "axe_source",
    "axe_violations",
    "format_violations",
]


class AxeMissing(RuntimeError):
    """axe-core is not installed and cannot be installed here (no npm, or npm failed)."""


def _install_dir() -> Path:
    cache = os.environ.get("SSP_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ssp"
    )
    return Path(cache) / f"axe-core-{AXE_CORE_VERSION}"


def _script_path() -> Path:
    return _install_dir() / "node_modules" / "axe-core" / "axe.min.js"


def _npm_install(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise AxeMissing(
            f"axe-core {AXE_CORE_VERSION} not found at {_script_path()} and npm is not on PATH: "
            "run .ci/install-system (or install npm)"
        )
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(target),
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--loglevel=error",
            f"axe-core@{AXE_CORE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise AxeMissing(f"npm install axe-core@{AXE_CORE_VERSION} failed: {result.stderr[-1500:]}")


@functools.lru_cache(maxsize=1)
def axe_source() -> str:
    """The pinned axe.min.js, installed into the cache folder first if needed."""
    path = _script_path()
    if not path.is_file():
        _npm_install(_install_dir())
    if not path.is_file():
        raise AxeMissing(f"npm did not produce {path}")
    return path.read_text("utf-8")


_RUN = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({
      target: n.target.map(String),
      html: n.html,
      summary: n.failureSummary || "",
    })),
  }));
}"""


def axe_violations(page: Any, tags: tuple[str, ...] = WCAG21_AA_TAGS) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; each violation has id, impact, help, helpUrl and
    nodes (target selectors, the element's HTML, axe's failure summary)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;void 0")
        version = page.evaluate("window.axe.version")
        assert version == AXE_CORE_VERSION, f"axe-core {version} loaded, {AXE_CORE_VERSION} pinned"
    return list(page.evaluate(_RUN, list(tags)))


def format_violations(violations: list[dict[str, Any]], *, limit: int = 8) -> str:
    """One block per rule: id, impact, help and up to `limit` offending elements."""
    lines: list[str] = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} element(s)]")
        for node in v["nodes"][:limit]:
            lines.append(f"    target {' '.join(node['target'])}: {node['html'][:160]}")
        if len(v["nodes"]) > limit:
            lines.append(f"    ... and {len(v['nodes']) - limit} more")
        lines.append(f"    see {v['helpUrl']}")
    return "\n".join(lines)

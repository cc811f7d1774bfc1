"""Browser fixtures: `pw_page`, a Playwright page in the system's headless Chromium at 1280 x 800.

Playwright drives the Chromium that .ci/install-system installs (/usr/bin/chromium, or
$SSP_CHROMIUM); it never downloads a browser of its own. Without Chromium (or without the
`playwright` package) the tests that use the fixture are skipped with a message, except under CI
(env CI set), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

VIEWPORT = {"width": 1280, "height": 800}
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
]


def chromium_path() -> str | None:
    candidates = [
        os.environ.get("SSP_CHROMIUM", ""),
        "/usr/bin/chromium",
        shutil.which("chromium") or "",
        shutil.which("google-chrome") or "",
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pw_browser() -> Iterator[object]:
    binary = chromium_path()
    if binary is None:
        _unavailable(
            "headless Chromium not found at /usr/bin/chromium (install Debian's `chromium` "
            "package, e.g. with .ci/install-system, or set SSP_CHROMIUM)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the `playwright` package is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, headless=True, args=_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def pw_page(pw_browser) -> Iterator[object]:  # noqa: ANN001 - playwright types are optional
    """A fresh sync Page at 1280 x 800 (its own context: no state shared between tests)."""
    context = pw_browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()

"""Shared fixtures of the browser tests: headless Chromium driven by Playwright for Python.

`pw_page` is a fresh sync Playwright `Page` (1280x800, its own browser context) in the system's
Chromium: `$SSP_CHROMIUM`, else /usr/bin/chromium. Playwright's own browser download
(`playwright install`) is never used. Without Chromium the tests are skipped with a message, except
under CI (env CI set), where they fail: `.ci/install-system` installs Debian's `chromium` package.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
)
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> str | None:
    """$SSP_CHROMIUM when set, else /usr/bin/chromium; None when not executable."""
    candidate = os.environ.get("SSP_CHROMIUM") or "/usr/bin/chromium"
    return candidate if os.access(candidate, os.X_OK) else None


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def pw_browser() -> Iterator[Any]:
    """One headless Chromium per test module (each test still gets its own context): closed when
    the module is done, so it does not sit in memory through the rest of the suite."""
    executable = chromium_path()
    if executable is None:
        _missing(
            "headless Chromium not found at $SSP_CHROMIUM or /usr/bin/chromium (install "
            "Debian's `chromium` package, e.g. with .ci/install-system, or set SSP_CHROMIUM)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed: pip install -e '.[test]'")
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",
        "DBUS_SYSTEM_BUS_ADDRESS": "disabled:",
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_ARGS), env=env
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def pw_page(pw_browser: Any) -> Iterator[Any]:
    """A fresh sync Page at 1280x800 in its own context, closed after the test. Uncaught script
    errors of the page are collected in `page.js_errors`, for tests that check a page runs clean."""
    context = pw_browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    try:
        yield page
    finally:
        context.close()

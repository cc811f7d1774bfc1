"""A consent form and the report, opened in headless Chromium (the Student Support pages:
test_support_area.py).

Chromium is driven as a subprocess (`--dump-dom` after the page's scripts ran, `--screenshot`,
`--print-to-pdf`), so no Python browser driver is needed. Screenshots are test artefacts: they are
kept in the test's tmp dir and copied to $SSP_ARTIFACTS_DIR when that is set.

Without Chromium the tests are skipped with a message, except under CI (env CI set), where they
fail: `.ci/install-system` installs Debian's `chromium` package before the suite runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import html as lxml_html

from ssp.cli import main
from foundation.config import load_config

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[2]
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
)


def _find_chromium() -> str | None:
    candidates = [
        os.environ.get("SSP_CHROMIUM", ""),
        "/usr/bin/chromium",
        shutil.which("chromium") or "",
        shutil.which("google-chrome") or "",
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _find_chromium()
    if found is None:
        message = (
            "headless Chromium not found at /usr/bin/chromium (install Debian's `chromium` "
            "package, e.g. with .ci/install-system, or set SSP_CHROMIUM)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {message}")
        pytest.skip(message)
    return found


@dataclass(frozen=True)
class Opened:
    dom: lxml_html.HtmlElement
    screenshot: Path
    pdf_pages: int


class Browser:
    """Each `open` is one fresh headless Chromium process: the DOM after scripts ran, a
    screenshot and, if asked, a PDF print, all from the same page load."""

    def __init__(self, binary: str, workdir: Path, artifacts: Path) -> None:
        self.binary, self.workdir, self.artifacts = binary, workdir, artifacts

    def open(self, page: Path, name: str, *, size: str = "1280,2400", pdf: bool = False) -> Opened:
        shot, printed = self.artifacts / f"{name}.png", self.artifacts / f"{name}.pdf"
        cmd = [
            self.binary,
            *_FLAGS,
            f"--user-data-dir={self.workdir / 'chromium-profile'}",
            f"--window-size={size}",
            f"--screenshot={shot}",
            "--dump-dom",
        ]
        if pdf:
            cmd += ["--no-pdf-header-footer", f"--print-to-pdf={printed}"]
        env = {
            **os.environ,
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
            "DBUS_SYSTEM_BUS_ADDRESS": "disabled:",
        }
        result = subprocess.run(
            [*cmd, page.as_uri()], capture_output=True, text=True, timeout=120, env=env
        )
        assert result.returncode == 0, (
            f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
        )
        assert shot.is_file() and shot.stat().st_size > 10_000, f"{shot.name} is missing or empty"
        pages = len(re.findall(rb"/Type\s*/Page[^s]", printed.read_bytes())) if pdf else 0
        return Opened(lxml_html.document_fromstring(result.stdout), shot, pages)


@pytest.fixture
def browser(chromium: str, tmp_path: Path) -> Iterator[Browser]:
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    yield Browser(chromium, tmp_path, artifacts)
    target = os.environ.get("SSP_ARTIFACTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for item in artifacts.iterdir():
            shutil.copy2(item, Path(target) / item.name)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "ssp.toml"
    path.write_text((ROOT / "examples" / "ssp.toml").read_text("utf-8"), "utf-8")
    return path


def test_consent_form_in_chromium_prints_on_two_pages_or_fewer(
    browser: Browser, config_path: Path, tmp_path: Path
) -> None:
    form = tmp_path / "consent_en.html"
    assert (
        main(
            [
                "documents",
                "consent",
                "--partner",
                "bhcare",
                "--config",
                str(config_path),
                "--student",
                "204511",
                "--out",
                str(form),
            ]
        )
        == 0
    )
    opened = browser.open(form, "consent_en", size="816,2200", pdf=True)
    assert opened.dom.xpath("//*[@data-field='student_number']")[0].text_content() == "204511"
    assert 1 <= opened.pdf_pages <= 2


def test_report_renders_in_chromium(browser: Browser, config_path: Path, tmp_path: Path) -> None:
    from documents.report import build_report
    from documents.report_data import Period

    referrals = [
        {
            "studentsdcid": str(i),
            "referral_date": "2026-10-01",
            "partner_id": "cgc" if i % 3 else "bhcare",
            "status": "completed" if i % 2 else "declined",
            "access_result": "yes" if i % 2 else "no",
            "first_service_date": "2026-10-15" if i % 2 else "",
            "school_name": "Xavier School",
        }
        for i in range(60)
    ]
    visits = [
        {
            "studentsdcid": str(i),
            "visit_date": f"2026-{9 + i % 3:02d}-10",
            "source": "school",
            "purpose": "check_in",
            "services": "individual_counseling",
            "tier": "1",
        }
        for i in range(40)
    ]
    report = tmp_path / "report.html"
    period = Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
    report.write_text(
        build_report(load_config(config_path), referrals, visits, period=period), "utf-8"
    )
    opened = browser.open(report, "report", size="1000,3000")
    assert len(opened.dom.xpath("//svg[@class='chart']")) >= 8

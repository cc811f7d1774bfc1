"""Every HTML file the product generates, written through the same code paths as the `ssp` commands,
from examples/ssp.toml: the consent form (English, Spanish; with and without the 42 CFR Part 2
section), the MOU, the report (with shown, small and suppressed figures, long held reasons, and
empty), and the offline preview pages of the Student Support Page."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from ssp.cli import main
from foundation.config import load_config
from documents.report import build_report
from documents.report_data import Period

ROOT = Path(__file__).parents[2]
PERIOD = Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
GENERATED_AT = dt.datetime(2026, 12, 6, 11, 8, tzinfo=dt.UTC)

DOCUMENTS: dict[str, list[str]] = {
    "consent_en": ["consent", "--partner", "cgc"],
    "consent_es": ["consent", "--partner", "cgc", "--language", "es"],
    "consent_en_part2": ["consent", "--partner", "bhcare", "--student", "204511"],
    "consent_es_part2": [
        "consent",
        "--partner",
        "bhcare",
        "--language",
        "es",
        "--student",
        "204511",
    ],
    "mou": ["mou", "--partner", "cgc"],
}
REPORTS = ("report", "report_empty")
HELD_REASONS = (
    "consent does not cover referral, identity, enrollment, guardian_contact",
    "student is 18: needs the student's own consent",
    "consent direction does not allow sending",
    "awaiting consent",
)


def _referral(i: int, partner: str, status: str, **extra: str) -> dict[str, Any]:
    return {
        "studentsdcid": f"{partner}{i}",
        "referral_date": "2026-10-01",
        "partner_id": partner,
        "status": status,
        "access_result": "yes" if status == "completed" else "",
        "first_service_date": "2026-10-15" if status == "completed" else "",
        "school_name": "Cedar Hill Middle" if i % 2 else "Lakeside High",
        **extra,
    }


def report_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Enough rows for shown bars, `<10` and `n/s` cells, wrapped labels and a 0% rate."""
    referrals = [_referral(i, "cgc", "completed") for i in range(40)]
    referrals += [_referral(i, "bhcare", "declined") for i in range(24)]
    referrals += [_referral(i, "", "completed") for i in range(3)]
    referrals += [
        _referral(100 + i, "cgc", "new", status_reason=HELD_REASONS[i % 4]) for i in range(27)
    ]
    purposes = ["check_in"] * 30 + ["crisis"] * 12 + ["vaping"] * 3 + ["family_concern"] * 2
    visits = [
        {
            "studentsdcid": str(i),
            "visit_date": f"2026-{9 + i % 3:02d}-10",
            "source": "school" if i % 4 else "partner:cgc",
            "purpose": purpose,
            "services": "individual_counseling,safety_planning" if i % 5 else "family_contact",
            "tier": str(1 + i % 3),
            "school_name": "Cedar Hill Middle",
        }
        for i, purpose in enumerate(purposes)
    ]
    return referrals, visits


def generate_all(out: Path) -> dict[str, Path]:
    """Write every generated HTML under `out`; name -> file (preview pages as `preview/<file>`)."""
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "ssp.toml"
    shutil.copyfile(ROOT / "examples" / "ssp.toml", config_path)
    files: dict[str, Path] = {}
    for name, argv in DOCUMENTS.items():
        target = out / f"{name}.html"
        code = main(["documents", *argv, "--config", str(config_path), "--out", str(target)])
        assert code == 0, name
        files[name] = target
    config = load_config(config_path)
    referrals, visits = report_rows()
    for name, rows in (("report", (referrals, visits)), ("report_empty", ([], []))):
        target = out / f"{name}.html"
        target.write_text(
            build_report(config, *rows, period=PERIOD, generated_at=GENERATED_AT), "utf-8"
        )
        files[name] = target
    preview = out / "preview"
    assert main(["plugin", "preview", "--config", str(config_path), "--out", str(preview)]) == 0
    for page in sorted(preview.glob("*.html")):
        files[f"preview/{page.name}"] = page
    return files

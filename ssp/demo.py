"""`ssp demo`: the whole main job on built-in defaults, in one folder, in well under a minute.

Builds the two plugins and the page preview, starts the PowerSchool sandbox with them installed
and demo students seeded, enters consents, referrals and visits as staff would, runs a sync (the
referrals the consents allow go to the partners' outboxes, the others are held with a reason),
lets the two demo partners answer in their own formats (with a few hostile rows), revokes one
consent, runs a second sync, then writes the report, the MOU and the consent form, and prints
where everything is. Everything stays inside --out (default ./ssp-demo).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from foundation.config import Credentials, SSPConfig, demo_config_text, parse_config_text
from foundation.errors import ConfigError

__all__ = ["command", "run_demo"]

MARKER = ".ssp-demo"


def _prepare(out: Path) -> Path:
    """A fresh demo folder; refuses to clear a folder the demo did not create."""
    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise ConfigError(f"{out} exists and was not made by `ssp demo`: choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by ssp demo; safe to delete\n", encoding="utf-8")
    return out


def _config(out: Path, base_url: str) -> SSPConfig:
    text = demo_config_text().replace("http://127.0.0.1:8765", base_url)
    path = out / "ssp.toml"
    path.write_text(text, encoding="utf-8")
    config = parse_config_text(text, source=str(path), base_dir=out)
    for partner in config.partners:
        for folder in (partner.feed.inbox, partner.feed.outbox):  # type: ignore[union-attr]
            config.resolve(folder).mkdir(parents=True, exist_ok=True)
    return config


def _headline(summary: dict) -> dict:
    return {pid: {k: v for k, v in counts.items() if v not in (0, {"total": 0, "by_reason": {}})}
            for pid, counts in summary["partners"].items()}


def run_demo(out: Path) -> dict:
    from connector.cli import run_sync
    from documents.forms import render_document, write_document
    from documents.report import write_report
    from plugin.build import build_plugins, render_preview
    from sandbox import Sandbox
    from ssp.demo_scenario import revoke_one_consent, seed_school_side, write_partner_replies

    out = _prepare(out)
    draft = _config(out, "http://127.0.0.1:8765")
    data_zip, ui_zip = build_plugins(draft, out / "dist")
    preview = render_preview(draft, out / "preview")
    tz = draft.schedule.timezone
    today = dt.datetime.now(ZoneInfo(tz)).date()
    with Sandbox([data_zip, ui_zip], students=300, seed=7, timezone=tz) as sandbox:
        config = _config(out, sandbox.base_url)
        credentials = Credentials(sandbox.client_id, SecretStr(sandbox.client_secret))
        side = seed_school_side(sandbox, today)
        first = run_sync(config, credentials=credentials).as_dict()
        inboxes = {p.id: config.resolve(p.feed.inbox) for p in config.partners}  # type: ignore[union-attr]
        write_partner_replies(side, sandbox, today, inboxes)
        revoke_one_consent(sandbox, side, today)
        second = run_sync(config, credentials=credentials).as_dict()
        rows = {t: len(sandbox.rows(t)) for t in ("U_SSP_REFERRALS", "U_SSP_VISITS", "U_SSP_DISCLOSURES",
                                                   "U_SSP_CONSENTS", "U_SSP_PARTNERS")}
    report = write_report(config, out / "report.html")
    documents = {}
    for kind in ("mou", "consent"):
        documents[kind] = str(write_document(out / f"{kind}_cgc.html", render_document(config, "cgc", kind)))
    return {
        "folder": str(out),
        "plugins": {"data": str(data_zip), "ui": str(ui_zip)},
        "page_preview": str(preview),
        "config": str(out / "ssp.toml"),
        "first_sync": {"run_id": first["run_id"], "partners": _headline(first)},
        "second_sync": {"run_id": second["run_id"], "partners": _headline(second)},
        "powerschool_rows": rows,
        "outboxes": {p.id: str(config.resolve(p.feed.outbox)) for p in config.partners},  # type: ignore[union-attr]
        "quarantine": str(config.state_dir / "partners"),
        "report": str(report),
        "documents": documents,
        "state": str(config.state_dir),
        "next": "open the report and the page preview in a browser; `ssp sync status --config "
                f"{out / 'ssp.toml'}` lists the runs",
    }


def command(args: argparse.Namespace) -> int:
    result = run_demo(args.out)
    print(json.dumps(result, indent=2))
    return 0

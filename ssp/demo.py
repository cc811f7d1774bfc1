"""`ssp demo`: the whole main job on built-in defaults, in one folder, in well under a minute.

Builds the two plugins and the page preview, starts the PowerSchool sandbox with them installed
and demo students seeded, enters consents, referrals and visits as staff would, runs a sync (the
referrals the consents allow go to the partners' outboxes, the others are held with a reason),
lets the two CSV demo partners answer in their own formats (with a few hostile rows) and the
FHIR partner (a FHIR R4 server started in-process) work its Tasks, revokes one
consent, runs a second sync, then writes the report, the MOU and the consent form, and prints
where everything is. Everything stays inside --out (default ./ssp-demo).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
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
FHIR_TOKEN_ENV = "SSP_DEMO_FHIR_TOKEN"


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


def _config(out: Path, base_url: str, fhir_url: str, today: dt.date) -> SSPConfig:
    from ssp.demo_scenario import fhir_partner_block

    text = demo_config_text().replace("http://127.0.0.1:8765", base_url)
    text += fhir_partner_block(fhir_url, today, FHIR_TOKEN_ENV)
    path = out / "ssp.toml"
    path.write_text(text, encoding="utf-8")
    config = parse_config_text(text, source=str(path), base_dir=out)
    for partner in config.partners:
        if partner.feed.kind != "csv":
            continue
        for folder in (partner.feed.inbox, partner.feed.outbox):  # type: ignore[union-attr]
            config.resolve(folder).mkdir(parents=True, exist_ok=True)
    return config


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """The demo FHIR partner's token, in this process only, for the length of the demo."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def _headline(summary: dict) -> dict:
    return {pid: {k: v for k, v in counts.items() if v not in (0, {"total": 0, "by_reason": {}})}
            for pid, counts in summary["partners"].items()}


def run_demo(out: Path) -> dict:
    from connector.cli import run_sync
    from documents.forms import render_document, write_document
    from documents.report import write_report
    from plugin.build import build_plugins, render_preview
    from sandbox import Sandbox
    from sandbox.fhir_partner import FhirPartner
    from ssp.demo_scenario import (
        ALL_CATEGORIES,
        DEMO_PARTNERS,
        FHIR_PARTNER,
        play_fhir_partner,
        revoke_one_consent,
        seed_school_side,
        write_partner_replies,
    )

    out = _prepare(out)
    tz = ZoneInfo(parse_config_text(demo_config_text(), source="demo_ssp.toml",
                                    base_dir=out).schedule.timezone)
    today = dt.datetime.now(tz).date()  # the FHIR partner's MOU is dated around it
    draft = _config(out, "http://127.0.0.1:8765", "http://127.0.0.1:8766/fhir", today)
    data_zip, ui_zip = build_plugins(draft, out / "dist")
    preview = render_preview(draft, out / "preview")
    partners = {**DEMO_PARTNERS, FHIR_PARTNER: ALL_CATEGORIES}
    with Sandbox([data_zip, ui_zip], students=300, seed=7, timezone=str(tz)) as sandbox, \
            FhirPartner(district_base=draft.partner(FHIR_PARTNER).feed.systems_base(  # type: ignore[union-attr]
                draft.district)) as fhir, _environment(FHIR_TOKEN_ENV, fhir.token):
        config = _config(out, sandbox.base_url, fhir.base_url, today)
        credentials = Credentials(sandbox.client_id, SecretStr(sandbox.client_secret))
        side = seed_school_side(sandbox, today, partners=partners)
        first = run_sync(config, credentials=credentials).as_dict()
        inboxes = {p.id: config.resolve(p.feed.inbox) for p in config.partners  # type: ignore[union-attr]
                   if p.feed.kind == "csv"}
        write_partner_replies(side, sandbox, today, inboxes)
        played = play_fhir_partner(fhir, side, today)
        revoke_one_consent(sandbox, side, today)
        second = run_sync(config, credentials=credentials).as_dict()
        rows = {t: len(sandbox.rows(t)) for t in ("U_SSP_REFERRALS", "U_SSP_VISITS", "U_SSP_DISCLOSURES",
                                                   "U_SSP_CONSENTS", "U_SSP_PARTNERS")}
        statuses = {uid: r["STATUS"] for r in sandbox.rows("U_SSP_REFERRALS")
                    if (uid := r["SSP_UID"]) in played}
        fhir_server = {
            "base_url": fhir.base_url,
            "resources": {k: len(fhir.resources(k)) for k in ("Patient", "Consent", "ServiceRequest",
                                                             "Task", "Procedure")},
            "partner_did": {uid: f"{what} -> {statuses.get(uid, '?')}" for uid, what in played.items()},
            "http_requests": len(fhir.requests),
        }
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
        "outboxes": {p.id: str(config.resolve(p.feed.outbox)) for p in config.partners  # type: ignore[union-attr]
                     if p.feed.kind == "csv"},
        "fhir_partner": fhir_server,
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

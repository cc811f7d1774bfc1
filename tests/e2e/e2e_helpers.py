"""Helpers for the end-to-end tests: a sync workspace (ssp.toml + feed folders + a sandbox), the
`ssp` command run in-process, and readers for what a run leaves behind (PowerSchool rows, outbox
files, quarantine files, the state database)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from foundation.config import Credentials, SSPConfig, demo_config_text, load_config
from foundation.errors import ConfigError
from sandbox import Sandbox
from ssp.demo_scenario import SchoolSide, seed_school_side, write_partner_replies

TIMEZONE = "America/New_York"
ALL_CATEGORIES = "identity,enrollment,guardian_contact,referral,referral_status,visit_summary"
SSP_TABLES = (
    "U_SSP_REFERRALS",
    "U_SSP_VISITS",
    "U_SSP_CONSENTS",
    "U_SSP_DISCLOSURES",
    "U_SSP_PARTNERS",
)
VOLATILE_COLUMNS = frozenset({"ID", "WHOCREATED", "WHENCREATED", "WHOMODIFIED", "WHENMODIFIED"})
# Values that depend on when and in which run a record went out (compared as "set or not").
RUN_DEPENDENT_COLUMNS = frozenset({"LAST_SENT", "DISCLOSED_AT", "RUN_ID"})
STAMP = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"

# The demo configuration's MOU lines, replaced with dates relative to today so the suite does not
# depend on the calendar.
_DEMO_MOUS = {
    "cgc": "effective = 2026-08-01, expires = 2027-07-31",
    "bhcare": "effective = 2026-07-01, expires = 2028-06-30",
}
DEFAULT_MOU_DAYS = {"cgc": (-120, 245), "bhcare": (-150, 580)}


def config_text(
    base_url: str,
    today: dt.date,
    *,
    mou_days: dict[str, tuple[int, int]] | None = None,
    powerschool_extra: str = "",
    replace: Sequence[tuple[str, str]] = (),
) -> str:
    """The demo ssp.toml pointed at `base_url`, with each MOU `(effective, expires)` days from
    today (default: in force), `powerschool_extra` lines added to [powerschool] and `replace`
    (old, new) text edits applied."""
    text = demo_config_text()
    url_line = 'base_url = "http://127.0.0.1:8765"'
    assert url_line in text, "the demo configuration changed: update the e2e helpers"
    text = text.replace(url_line, f'base_url = "{base_url}"\n{powerschool_extra}'.rstrip() + "\n")
    days = {**DEFAULT_MOU_DAYS, **(mou_days or {})}
    for partner, literal in _DEMO_MOUS.items():
        assert literal in text, "the demo configuration changed: update the e2e helpers"
        start, end = (today + dt.timedelta(days=d) for d in days[partner])
        text = text.replace(
            literal, f"effective = {start.isoformat()}, expires = {end.isoformat()}"
        )
    for old, new in replace:
        assert old in text, f"{old!r} is not in the demo configuration"
        text = text.replace(old, new)
    return text


@dataclass
class SspResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]


class Workspace:
    """A temp folder with ssp.toml pointing at a running sandbox, and ways to look at results."""

    def __init__(
        self, root: Path, sandbox: Sandbox, today: dt.date, capsys: pytest.CaptureFixture[str]
    ):
        self.root = root
        self.sandbox = sandbox
        self.today = today
        self._capsys = capsys
        self.path = root / "ssp.toml"
        self.write_config()

    # ------------------------------------------------------------------ configuration
    def write_config(self, **kwargs: Any) -> Path:
        self.path.write_text(
            config_text(self.sandbox.base_url, self.today, **kwargs), encoding="utf-8"
        )
        try:
            config = self.config
        except ConfigError:
            return self.path  # a test of a bad configuration
        for partner in config.partners:
            if partner.feed.kind != "csv":
                continue  # folders on a partner's server or an API
            for folder in (partner.feed.inbox, partner.feed.outbox):  # type: ignore[union-attr]
                config.resolve(folder).mkdir(parents=True, exist_ok=True)
        return self.path

    @property
    def config(self) -> SSPConfig:
        return load_config(self.path)

    @property
    def credentials(self) -> Credentials:
        return Credentials(self.sandbox.client_id, SecretStr(self.sandbox.client_secret))

    @property
    def state_dir(self) -> Path:
        return self.root / "var" / "ssp"

    # ------------------------------------------------------------------ running ssp
    def ssp(self, *args: str, verbose: bool = False) -> SspResult:
        """`ssp <args>` in-process; `--config` is added after the command words."""
        from ssp.cli import main

        words = list(args)
        if (
            words
            and words[0] in ("sync", "disclosures", "check", "report", "documents")
            and "--config" not in words
        ):
            at = 2 if words[0] == "sync" else 1
            words[at:at] = ["--config", str(self.path)]
        self._capsys.readouterr()
        code = main((["-v"] if verbose else []) + words)
        out, err = self._capsys.readouterr()
        return SspResult(code, out, err)

    def sync(self, *args: str) -> dict[str, Any]:
        """`ssp sync run` that must succeed; returns the summary."""
        result = self.ssp("sync", "run", *args)
        assert result.code == 0, result.stderr[-2000:]
        summary = result.json
        assert summary["status"] == "ok", summary
        return summary

    def sync_at(self, moment: dt.datetime) -> None:
        """A sync run as the engine runs it, at a given moment (late evening, the next day)."""
        from connector.cli import open_client, open_feeds
        from connector.engine import SyncRun
        from connector.state import StateStore

        config = self.config
        with (
            open_client(config, self.credentials) as client,
            open_feeds(config) as feeds,
            StateStore.open_dir(config.state_dir) as state,
        ):
            SyncRun(config, client, state, feeds, now=moment).execute()

    # ------------------------------------------------------------------ the school side
    def seed(self, referrals: int = 9) -> SchoolSide:
        return seed_school_side(self.sandbox, self.today, referrals=referrals)

    def reply(self, side: SchoolSide) -> None:
        write_partner_replies(
            side, self.sandbox, self.today, {p: self.inbox(p) for p in ("cgc", "bhcare")}
        )

    def referral(self, uid: str) -> dict[str, Any]:
        found = [r for r in self.sandbox.rows("U_SSP_REFERRALS") if r["SSP_UID"] == uid]
        assert len(found) == 1, f"{len(found)} referrals {uid}"
        return found[0]

    def student(self, dcid: int) -> dict[str, Any]:
        return next(s for s in self.sandbox.students() if s["DCID"] == dcid)

    def add_consent(self, dcid: int, uid: str, partner: str = "cgc", **overrides: str) -> int:
        values = {
            "SSP_UID": uid,
            "PARTNER_ID": partner,
            "DIRECTION": "both",
            "DATA_CATEGORIES": ALL_CATEGORIES,
            "PURPOSE": "Referral and coordination",
            "SIGNER_TYPE": "parent_guardian",
            "SIGNER_NAME": "Signer of record",
            "SIGNED_DATE": self.day(-1),
            "EFFECTIVE_DATE": self.day(-1),
            "EXPIRATION_DATE": self.day(300),
            "FORM_VERSION": "2026.1",
        }
        values.update(overrides)
        return self.sandbox.insert_row("U_SSP_CONSENTS", values, student_dcid=dcid)

    def minor(self, n: int = 0) -> dict[str, Any]:
        """The n-th seeded student in grades 3-11 (under 18, so a parent's consent applies)."""
        return [s for s in self.sandbox.students() if 3 <= s["GRADE_LEVEL"] <= 11][n]

    def add_referral(self, dcid: int, uid: str, partner: str = "cgc", **when: Any) -> int:
        """A referral as staff enter it on the page (STATUS new); `when` sets WHENMODIFIED."""
        return self.sandbox.insert_row(
            "U_SSP_REFERRALS",
            {
                "SSP_UID": uid,
                "REFERRAL_DATE": self.day(-2),
                "REFERRED_BY": "J. Rivera, counselor",
                "REFERRAL_TYPE": "community",
                "PARTNER_ID": partner,
                "REASON": "anxiety",
                "URGENCY": "routine",
                "STATUS": "new",
            },
            student_dcid=dcid,
            **when,
        )

    def day(self, offset: int = 0) -> str:
        return (self.today + dt.timedelta(days=offset)).isoformat()

    # ------------------------------------------------------------------ partner folders
    def inbox(self, partner: str) -> Path:
        return self.root / "feeds" / partner / "in"

    def outbox(self, partner: str) -> Path:
        return self.root / "feeds" / partner / "out"

    def outbox_files(self, partner: str) -> list[str]:
        return sorted(p.name for p in self.outbox(partner).iterdir())

    def outbox_rows(self, partner: str, prefix: str = "referrals_") -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        for path in sorted(self.outbox(partner).glob(f"{prefix}*.csv")):
            rows.extend(read_csv(path))
        return rows

    def write_inbox(self, partner: str, name: str, rows: Sequence[dict[str, str]]) -> Path:
        path = self.inbox(partner) / name
        write_csv(path, rows)
        return path

    def quarantined(self, partner: str) -> list[dict[str, str]]:
        """Every quarantined row of the partner, with the quarantine file's name in `_file`."""
        found = []
        for path in sorted((self.state_dir / "partners" / partner / "quarantine").rglob("*.csv")):
            for row in read_csv(path):
                found.append({**row, "_file": path.name})
        return found

    def archived(self, partner: str) -> list[str]:
        folder = self.state_dir / "partners" / partner / "archive"
        return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []

    # ------------------------------------------------------------------ state
    def db_dump(self) -> str:
        """The state database's content as SQL text (read-only: opening it changes nothing)."""
        db = self.state_dir / "state.sqlite3"
        if not db.exists():
            return ""
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return "\n".join(conn.iterdump())

    def state_rows(self, table: str) -> list[dict[str, Any]]:
        """Rows of a state-database table (e.g. the local disclosure entries), read-only."""
        db = self.state_dir / "state.sqlite3"
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(f"SELECT * FROM {table}")]  # noqa: S608 - test code


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path: Path, rows: Sequence[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def status_row(
    uid: str, status: str, day: str, *, first_service: str = "", reason: str = ""
) -> dict[str, str]:
    return {
        "referral_id": uid,
        "status": status,
        "status_date": day,
        "first_service_date": first_service,
        "status_reason": reason,
    }


def visit_row(
    visit_id: str, student_number: str, day: str, referral_id: str = "", **overrides: str
) -> dict[str, str]:
    row = {
        "partner_visit_id": visit_id,
        "student_number": student_number,
        "referral_id": referral_id,
        "visit_date": day,
        "time_in": "10:00",
        "time_out": "10:45",
        "service_codes": "individual_counseling",
        "purpose_code": "follow_up",
        "clinician_name": "Partner clinician",
    }
    row.update(overrides)
    return row


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under `folder` (for "nothing changed" checks)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def comparable_rows(sandbox: Sandbox, table: str) -> list[tuple[tuple[str, str], ...]]:
    """A table's rows without IDs, WHO/WHEN columns and run-dependent stamps, sorted."""
    out = []
    for row in sandbox.rows(table):
        items = []
        for key, value in row.items():
            if key in VOLATILE_COLUMNS:
                continue
            text = "" if value is None else str(value)
            if key in RUN_DEPENDENT_COLUMNS:
                text = "<set>" if text else ""
            items.append((key, text))
        out.append(tuple(sorted(items)))
    return sorted(out)


def all_comparable_rows(sandbox: Sandbox) -> dict[str, list[tuple[tuple[str, str], ...]]]:
    return {table: comparable_rows(sandbox, table) for table in SSP_TABLES}


@contextlib.contextmanager
def reset_logging() -> Iterator[None]:
    """`ssp.cli.main` attaches a handler to the root logger on the captured stderr: take it off."""
    import logging

    root = logging.getLogger()
    level = root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_ssp", False):
                root.removeHandler(handler)
        root.setLevel(level)

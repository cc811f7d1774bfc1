"""What must hold after any run that completed, however many crashes came before it.

Each check returns a list of problems (empty when it holds) so a test can report them all at once.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

__all__ = [
    "problems",
    "state_integrity",
    "each_referral_sent_once",
    "one_disclosure_per_record",
    "inbound_rows_complete",
]


def _db(state_dir: Path) -> sqlite3.Connection:
    db = sqlite3.connect(state_dir / "state.sqlite3")
    db.row_factory = sqlite3.Row
    return db


def state_integrity(world: Any) -> list[str]:
    with closing(_db(world.state_dir)) as db:
        result = db.execute("PRAGMA integrity_check").fetchone()[0]
        planned = db.execute("SELECT COUNT(*) FROM outbound WHERE state != 'recorded'").fetchone()[
            0
        ]
    return ([] if result == "ok" else [f"state integrity_check: {result}"]) + (
        [f"{planned} outbound records not recorded"] if planned else []
    )


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def _sent_ids(world: Any, kind: str) -> Counter[str]:
    ids: Counter[str] = Counter()
    for partner in world.config.partners:
        for path in world.outbox(partner.id).glob(f"{kind}_*.csv"):
            for row in _csv(path):
                ids[
                    next(v for k, v in row.items() if k.lower() in ("referral_id", "clientrefno"))
                ] += 1
    return ids


def each_referral_sent_once(world: Any) -> list[str]:
    """Each referral in exactly one outbound file (and each revocation notice once)."""
    out = []
    for kind in ("referrals", "revocations"):
        twice = {k: n for k, n in _sent_ids(world, kind).items() if n > 1}
        if twice:
            out.append(f"{kind} written more than once: {sorted(twice)[:5]} ({len(twice)})")
    return out


def one_disclosure_per_record(world: Any) -> list[str]:
    """Exactly one 99.32 entry per referral sent, locally and in U_SSP_DISCLOSURES."""
    sent = _sent_ids(world, "referrals")
    with closing(_db(world.state_dir)) as db:
        local = Counter(r[0] for r in db.execute("SELECT referral_uid FROM disclosures"))
        unpushed = db.execute("SELECT COUNT(*) FROM disclosures WHERE pushed = 0").fetchone()[0]
    remote = Counter(r["REFERRAL_UID"] for r in world.sandbox.rows("U_SSP_DISCLOSURES"))
    out = []
    for name, found in (("local", local), ("PowerSchool", remote)):
        if found != sent:
            out.append(
                f"{name} disclosures differ from records sent: missing "
                f"{sorted(sent - found)[:3]}, extra {sorted(found - sent)[:3]}"
            )
    if unpushed:
        out.append(f"{unpushed} disclosures not copied into PowerSchool")
    return out


def inbound_rows_complete(world: Any) -> list[str]:
    """Every inbound file done and archived, each of its data rows recorded exactly once."""
    out = []
    for partner in world.config.partners:
        left = [
            p.name
            for p in world.inbox(partner.id).iterdir()
            if not p.name.endswith((".part", ".tmp")) and not p.name.startswith(".")
        ]
        if left:
            out.append(f"{partner.id}: inbound files not archived: {left}")
    with closing(_db(world.state_dir)) as db:
        files = db.execute(
            "SELECT partner_id, sha256, file_name, state FROM inbound_files"
        ).fetchall()
        for f in files:
            if f["state"] != "done":
                out.append(f"{f['file_name']}: left {f['state']}")
            archived = list(
                (world.state_dir / "partners" / f["partner_id"] / "archive").glob(
                    f"*/{f['sha256'][:8]}_*"
                )
            )
            if len(archived) != 1:
                out.append(f"{f['file_name']}: archived {len(archived)} times")
                continue
            rows = len(_csv(archived[0]))
            numbers = Counter(
                r[0]
                for r in db.execute(
                    "SELECT row_number FROM inbound_rows WHERE partner_id = ? AND batch = ?",
                    (f["partner_id"], f["sha256"]),
                )
            )
            if sorted(numbers) != list(range(1, rows + 1)) or any(n > 1 for n in numbers.values()):
                out.append(f"{f['file_name']}: rows recorded {len(numbers)} of {rows}")
    return out


def problems(world: Any) -> list[str]:
    return (
        state_integrity(world)
        + each_referral_sent_once(world)
        + one_disclosure_per_record(world)
        + inbound_rows_complete(world)
    )

"""What a sync leaves behind, in a form two runs can be compared by: equal means equally correct.

PowerSchool rows drop what PowerSchool itself assigns (ID, WHO*/WHEN*) and the run id; outbound
files become the records they hold (file names carry run ids); quarantine files become their
rows keyed by the inbound file (the dated folder is dropped); disclosures come from both the
local 99.32 record and U_SSP_DISCLOSURES.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections import Counter
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Snapshot", "take", "TABLES", "outbound_records", "quarantine_rows", "local_disclosures"]

TABLES = (
    "U_SSP_PARTNERS",
    "U_SSP_CONSENTS",
    "U_SSP_REFERRALS",
    "U_SSP_VISITS",
    "U_SSP_DISCLOSURES",
)
ASSIGNED = {"ID", "WHOCREATED", "WHENCREATED", "WHOMODIFIED", "WHENMODIFIED", "RUN_ID"}
Row = tuple[tuple[str, str], ...]


def _row(values: dict[str, Any], drop: set[str]) -> Row:
    return tuple(
        sorted((k, "" if v is None else str(v)) for k, v in values.items() if k not in drop)
    )


def powerschool_rows(sandbox: Any, *, drop: set[str] = frozenset()) -> dict[str, list[Row]]:  # type: ignore[assignment]
    return {t: sorted(_row(r, ASSIGNED | set(drop)) for r in sandbox.rows(t)) for t in TABLES}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def outbound_records(outbox: Path) -> dict[str, list[Row]]:
    """Records per kind (`referrals`, `revocations`) over every outbound file, in a sorted list."""
    found: dict[str, list[Row]] = {}
    for path in sorted(outbox.iterdir()):
        if path.name.startswith((".", "NOTICE_")) or not path.is_file():
            continue
        kind = path.name.split("_", 1)[0].lower()
        found.setdefault(kind, []).extend(_row(r, set()) for r in _csv_rows(path))
    return {k: sorted(v) for k, v in found.items()}


def outbound_files(outbox: Path) -> Counter[str]:
    """How many files of each kind (referrals, revocations, NOTICE) the outbox holds."""
    return Counter(p.name.split("_", 1)[0] for p in outbox.iterdir() if not p.name.startswith("."))


def quarantine_rows(state_dir: Path) -> dict[str, list[Row]]:
    """partner/<hash8>_<kind>_<name> -> its refused rows (with reason and source_row)."""
    found: dict[str, list[Row]] = {}
    for path in sorted((state_dir / "partners").glob("*/quarantine/*/*.csv")):
        key = f"{path.parts[-4]}/{path.name}"
        found.setdefault(key, []).extend(_row(r, set()) for r in _csv_rows(path))
    return {k: sorted(v) for k, v in found.items()}


def local_disclosures(state_dir: Path, *, drop: set[str] = frozenset()) -> list[Row]:  # type: ignore[assignment]
    with closing(sqlite3.connect(state_dir / "state.sqlite3")) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM disclosures")]
    return sorted(_row(r, {"run_id", "ps_id", *drop}) for r in rows)


@dataclass(frozen=True)
class Snapshot:
    powerschool: dict[str, list[Row]]
    outbound: dict[str, dict[str, list[Row]]]
    quarantine: dict[str, list[Row]]
    disclosures: list[Row]

    def differences(self, other: Snapshot) -> list[str]:
        """Human-readable differences (names of what differs, and a few rows), empty if equal."""
        out = []
        for name in ("powerschool", "outbound", "quarantine"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for key in sorted(set(mine) | set(theirs)):
                a, b = mine.get(key), theirs.get(key)
                if a != b:
                    out.append(f"{name}[{key}]: {_diff(a, b)}")
        if self.disclosures != other.disclosures:
            out.append(f"disclosures: {_diff(self.disclosures, other.disclosures)}")
        return out


def _diff(a: Any, b: Any) -> str:
    if not isinstance(a, list) or not isinstance(b, list):
        return f"{'absent' if a is None else 'present'} vs {'absent' if b is None else 'present'}"
    ca, cb = Counter(a), Counter(b)
    only_a, only_b = list((ca - cb).elements()), list((cb - ca).elements())
    return f"{len(a)} vs {len(b)} rows; only in first: {only_a[:2]}; only in second: {only_b[:2]}"


RUN_TIMES = {"DISCLOSED_AT", "LAST_SENT"}
"""Columns holding the moment of the run that sent a record: they differ between two runs made at
different times (the fault suite pins the clock; the crash suite's subprocesses cannot)."""


def take(world: Any, *, ignore_run_times: bool = False) -> Snapshot:
    drop = RUN_TIMES if ignore_run_times else set()
    return Snapshot(
        powerschool=powerschool_rows(world.sandbox, drop=drop),
        outbound={p.id: outbound_records(world.outbox(p.id)) for p in world.config.partners},
        quarantine=quarantine_rows(world.state_dir),
        disclosures=local_disclosures(world.state_dir, drop={d.lower() for d in drop}),
    )

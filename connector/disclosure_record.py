"""A student's record of disclosures (FERPA 34 CFR 99.32), as `ssp disclosures` answers it.

PowerSchool's U_SSP_DISCLOSURES rows, kept with the student record, are the district's record of
truth; the local ledger in the state directory holds what this server disclosed, including entries
not yet written to PowerSchool (the next sync run writes them). The answer merges the two by
SSP_UID and says, for each entry, where it was found. It also says plainly when the student number
is not in PowerSchool, and which source could not be read: an empty list is only ever "no
disclosure recorded", never "nothing could be read".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.config import SSPConfig

__all__ = [
    "ENTRY_COLUMNS",
    "IN_BOTH",
    "POWERSCHOOL_ONLY",
    "LOCAL_ONLY_PENDING",
    "LOCAL_ONLY_MISSING",
    "SourceRead",
    "StudentRecord",
    "merge_record",
    "read_local",
    "read_powerschool",
]

ENTRY_COLUMNS = (
    "ssp_uid",
    "student_number",
    "disclosed_at",
    "partner_id",
    "partner_name",
    "direction",
    "data_categories",
    "purpose",
    "legal_basis",
    "referral_uid",
    "run_id",
    "recorded_in",
)
IN_BOTH = "powerschool and local ledger"
POWERSCHOOL_ONLY = "powerschool only"
LOCAL_ONLY_PENDING = "local ledger only (not yet written to PowerSchool; the next sync run writes it)"
LOCAL_ONLY_MISSING = "local ledger only (written to PowerSchool once, no longer there)"
_FIELDS = tuple(c for c in ENTRY_COLUMNS if c not in ("partner_name", "recorded_in"))
_NOT_CONFIGURED = "{} (not in configuration or partner directory)"


@dataclass
class SourceRead:
    """What one source gave: its rows, or why it could not be read."""

    rows: list[dict[str, str]] = field(default_factory=list)
    problem: str = ""

    @property
    def read(self) -> bool:
        return not self.problem


@dataclass
class StudentRecord:
    student_number: str
    known_in_powerschool: bool | None  # None: PowerSchool could not be asked
    entries: list[dict[str, str]]
    powerschool: str  # "read" or the problem
    local_ledger: str

    @property
    def complete(self) -> bool:
        """Whether the answer rests on PowerSchool's record (the record of truth)."""
        return self.powerschool == "read"

    def as_dict(self) -> dict[str, Any]:
        return {
            "student_number": self.student_number,
            "student_in_powerschool": self.known_in_powerschool,
            "complete": self.complete,
            "sources": {"powerschool": self.powerschool, "local_ledger": self.local_ledger},
            "disclosures": self.entries,
            "record_kept_under": "34 CFR 99.32",
        }


def read_local(state_dir: Path, student_number: str) -> SourceRead:
    """The local ledger's entries for the student; a missing or unreadable database is a problem."""
    from connector.state import DB_FILENAME, StateStore

    path = state_dir / DB_FILENAME
    if not path.is_file():
        return SourceRead(problem=f"no local state at {path} (a new or rebuilt server)")
    try:
        with StateStore.open_dir(state_dir) as store:
            found = store.disclosures_for_student(student_number)
    except Exception as exc:  # noqa: BLE001 - any failure to read is reported, never raised
        return SourceRead(problem=f"local state at {path} not readable ({exc.__class__.__name__})")
    rows = []
    for entry in found:
        row = entry.as_dict()
        row["_pushed"] = "1" if entry.pushed else ""
        rows.append(row)
    return SourceRead(rows=rows)


def _partner_names(config: SSPConfig, directory: Iterable[tuple[str, str]]) -> dict[str, str]:
    names = {pid: name for pid, name in directory if pid and name}
    names.update({p.id: p.name for p in config.partners})  # the configuration's own name wins
    return names


def merge_record(
    config: SSPConfig,
    student_number: str,
    powerschool: SourceRead,
    local: SourceRead,
) -> StudentRecord:
    """PowerSchool's entries and the local ones, one per SSP_UID, oldest first."""
    ps_entries = [r for r in powerschool.rows if (r.get("ssp_uid") or "").strip()]
    names = _partner_names(
        config, ((r.get("partner_id", ""), r.get("partner_name", "")) for r in ps_entries)
    )
    merged: dict[str, dict[str, str]] = {}
    for row in ps_entries:
        uid = row["ssp_uid"].strip()
        if uid not in merged:  # a duplicated directory row repeats the entry: keep one
            merged[uid] = {**{k: (row.get(k) or "").strip() for k in _FIELDS}, "recorded_in": ""}
            merged[uid]["student_number"] = merged[uid]["student_number"] or student_number
            merged[uid]["recorded_in"] = POWERSCHOOL_ONLY
    for row in local.rows:
        uid = row["ssp_uid"]
        if uid in merged:
            entry = merged[uid]
            for key in _FIELDS:  # PowerSchool's values stand; the ledger fills what is empty
                entry[key] = entry[key] or row.get(key, "")
            entry["recorded_in"] = IN_BOTH
        else:
            missing = powerschool.read and row.get("_pushed")
            merged[uid] = {
                **{k: row.get(k, "") for k in _FIELDS},
                "recorded_in": LOCAL_ONLY_MISSING if missing else LOCAL_ONLY_PENDING,
            }
    entries = sorted(merged.values(), key=lambda e: (e["disclosed_at"], e["ssp_uid"]))
    for entry in entries:
        pid = entry["partner_id"]
        entry["partner_name"] = names.get(pid) or _NOT_CONFIGURED.format(pid)
    ordered = [{k: e.get(k, "") for k in ENTRY_COLUMNS} for e in entries]
    known = bool(powerschool.rows) if powerschool.read else None
    return StudentRecord(
        student_number=student_number,
        known_in_powerschool=known,
        entries=ordered,
        powerschool="read" if powerschool.read else powerschool.problem,
        local_ledger="read" if local.read else local.problem,
    )


def read_powerschool(client: Any, query_name: str, student_number: str) -> SourceRead:
    """Rows of the for_student PowerQuery (one per disclosure, or one empty row for a student
    without disclosures, or none for an unknown student number)."""
    return SourceRead(rows=client.query(query_name, {"student_number": student_number}))

"""Rehearsing a district's own setup against the sandbox before go-live (`ssp sandbox --config F`).

The sandbox installs the plugins built from the district's ssp.toml (its query namespace, its
dropdown lists), answers in its time zone, and with `--seed-demo` holds consents, referrals and
visits entered as staff would (the demo's scenario, ssp/demo_scenario.py, for the district's
partners). `--rehearsal-dir DIR` writes DIR/ssp.toml: the district's file pointed at the sandbox,
with the state and every CSV feed folder inside DIR, so a rehearsal never touches the real state
or sends fictional referrals to a partner's real folder or API.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundation.config import DATA_CATEGORIES, SSPConfig, is_loopback_url
from ssp.demo_scenario import HELD_CASES, PURPOSES, REASONS, ROLES, SERVICES, SchoolSide, SeedCodes
from foundation.errors import ConfigError
from foundation.tomlfile import read_toml

__all__ = ["Rehearsal", "MIN_SEED_STUDENTS", "consent_categories", "seed_codes", "seed_demo",
           "seed_summary", "referred_student", "write_rehearsal_config", "toml_text"]

MIN_SEED_STUDENTS = 100
"""`--seed-demo` spreads 40 referrals, 6 held cases and 4 school-based ones over grades 3-11."""

REHEARSAL_CONFIG = "ssp.toml"


@dataclass
class Rehearsal:
    """What the rehearsal folder holds and what was left out of it, for the printed summary."""

    config_path: Path
    left_out: list[str] = field(default_factory=list)


def consent_categories(config: SSPConfig, partner_id: str) -> str:
    """Every category the partner's MOU allows in either direction, so seeded consents cover it."""
    mou = config.partner(partner_id).mou
    allowed = set(mou.to_partner) | set(mou.to_school)
    return ",".join(c for c in DATA_CATEGORIES if c in allowed)


def seed_codes(config: SSPConfig) -> SeedCodes:
    """The demo's codes that this district's dropdowns still offer (else the district's own)."""
    catalogue = config.catalogue()

    def keep(demo: tuple[str, ...], choice: str) -> tuple[str, ...]:
        offered = catalogue.choice(choice).codes
        return tuple(c for c in demo if c in offered) or offered

    demo = SeedCodes()
    return SeedCodes(
        reasons=keep(REASONS, "referral_reason"),
        purposes=keep(PURPOSES, "purpose"),
        services=keep(SERVICES, "service"),
        roles=keep(ROLES, "staff_role"),
        urgencies=keep(demo.urgencies, "urgency"),
        tiers=keep(demo.tiers, "tier"),
    )


def seed_demo(sandbox: Any, config: SSPConfig, today: dt.date) -> SchoolSide | None:
    """Enter the demo scenario for the configuration's partners; None if already entered
    (a sandbox resumed from its rehearsal folder keeps its rows)."""
    from ssp.demo_scenario import seed_school_side

    if any(str(r["SSP_UID"]).startswith("demo-") for r in sandbox.rows("U_SSP_REFERRALS")):
        return None
    if not config.partners:
        raise ConfigError("--seed-demo needs at least one [[partners]] entry", file=config.source,
                          key="partners")
    if len(sandbox.students()) < MIN_SEED_STUDENTS:
        raise ConfigError(f"--seed-demo needs --students {MIN_SEED_STUDENTS} or more", key="--students")
    partners = {p.id: consent_categories(config, p.id) for p in config.partners}
    return seed_school_side(sandbox, today, partners=partners, codes=seed_codes(config))


def referred_student(sandbox: Any) -> str | None:
    """The student number of the first seeded student referred to a partner (for the printed
    `ssp disclosures --student N` example), or None if there is none."""
    try:
        rows = sandbox.rows("U_SSP_REFERRALS")
    except KeyError:  # no DATA plugin installed
        return None
    referred = [r for r in rows if str(r["SSP_UID"]).startswith("demo-ref-") and r.get("PARTNER_ID")]
    if not referred:
        return None
    dcid = min(referred, key=lambda r: str(r["SSP_UID"]))["STUDENTSDCID"]
    numbers = {s["DCID"]: s["STUDENT_NUMBER"] for s in sandbox.students()}
    return str(numbers[dcid]) if dcid in numbers else None


def seed_summary(side: SchoolSide) -> str:
    sent = ", ".join(f"{len(uids)} for {pid}" for pid, uids in side.sent.items())
    return (f"referrals {sent}, each with its consent; {len(HELD_CASES)} more that the consent rules "
            f"hold back (one per case); {len(side.school_based)} school-based; {side.visits} visits")


def write_rehearsal_config(config: SSPConfig, base_url: str, folder: Path) -> Rehearsal:
    """DIR/ssp.toml: the district's file, pointed at the sandbox, with state and feeds inside DIR."""
    folder = folder.resolve()
    raw = read_toml(Path(config.source)) if Path(config.source).is_file() else None
    if raw is None:
        raise ConfigError("--rehearsal-dir needs --config FILE", key="--rehearsal-dir")
    raw.setdefault("powerschool", {})["base_url"] = base_url
    raw.setdefault("state", {})["dir"] = str(folder / "var")
    rehearsal = Rehearsal(folder / REHEARSAL_CONFIG)
    kept = []
    for partner in raw.get("partners", []):
        feed = partner.get("feed", {})
        if feed.get("kind") == "csv":
            for side in ("inbox", "outbox"):
                path = folder / "feeds" / partner["id"] / ("in" if side == "inbox" else "out")
                path.mkdir(parents=True, exist_ok=True)
                feed[side] = str(path)
        elif not is_loopback_url(str(feed.get("base_url", ""))):
            rehearsal.left_out.append(
                f"{partner['id']} (HTTP feed at {feed.get('base_url')}): fictional referrals must "
                "not reach a real partner"
            )
            continue
        mapping = str(partner.get("mapping", "generic"))
        if not re.match(r"^[a-z0-9_-]+$", mapping):  # a file next to the real ssp.toml
            partner["mapping"] = str(config.resolve(Path(mapping)).resolve())
        kept.append(partner)
    raw["partners"] = kept
    folder.mkdir(parents=True, exist_ok=True)
    header = (f"# Rehearsal copy of {config.source} written by `ssp sandbox`: PowerSchool is the\n"
              f"# sandbox, state and feed folders are under {folder}. Never use it in production.\n\n")
    rehearsal.config_path.write_text(header + toml_text(raw), encoding="utf-8")
    return rehearsal


# -- a small TOML writer for the values ssp.toml holds (tomllib reads only) ---------------------

def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _key(key: str) -> str:
    return key if re.match(r"^[A-Za-z0-9_-]+$", key) else json.dumps(key, ensure_ascii=False)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _table(prefix: str, table: Mapping[str, Any], lines: list[str]) -> None:
    plain = {k: v for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)}
    lines.extend(f"{_key(k)} = {_value(v)}" for k, v in plain.items())
    for key, value in table.items():
        name = f"{prefix}.{_key(key)}" if prefix else _key(key)
        if isinstance(value, Mapping):
            lines.extend(["", f"[{name}]"])
            _table(name, value, lines)
        elif _is_table_array(value):
            for item in value:
                lines.extend(["", f"[[{name}]]"])
                lines.extend(f"{_key(k)} = {_value(v)}" for k, v in item.items())


def toml_text(data: Mapping[str, Any]) -> str:
    """TOML for a parsed configuration (tables, arrays of tables with inline values, scalars)."""
    lines: list[str] = []
    _table("", data, lines)
    return "\n".join(lines).lstrip("\n") + "\n"

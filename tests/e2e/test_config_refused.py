"""Configuration mistakes that would lose or leak data are refused before anything is read or
sent (issue 10, case 7): `ssp sync run` exits 2 with one line naming the file and both keys, and
PowerSchool and the partner folders are left exactly as they were."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pytest
from e2e_helpers import Workspace, tree_digest

from foundation.config_checks import POWERSCHOOL_CREDENTIAL_VARIABLES

CGC_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'
BHCARE_FEED = 'feed = { kind = "csv", inbox = "feeds/bhcare/in", outbox = "feeds/bhcare/out" }'


def _bhcare_feed(inbox: str, outbox: str) -> tuple[str, str]:
    return BHCARE_FEED, f'feed = {{ kind = "csv", inbox = "{inbox}", outbox = "{outbox}" }}'


def _refused(ws: Workspace, *keys: str, file: Path | None = None) -> str:
    """Run a sync that must be refused; check nothing was sent and return the error line."""
    ws.seed(referrals=9)
    before = {r["SSP_UID"]: r["STATUS"] for r in ws.sandbox.rows("U_SSP_REFERRALS")}
    folders = tree_digest(ws.root / "feeds") if (ws.root / "feeds").exists() else {}
    result = ws.ssp("sync", "run")
    assert result.code == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("ssp: error: ")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    line = lines[0]
    assert line.startswith(f"ssp: error: {file or ws.path}: "), line
    for key in keys:
        assert key in line, (key, line)
    after = {r["SSP_UID"]: r["STATUS"] for r in ws.sandbox.rows("U_SSP_REFERRALS")}
    assert after == before, "a refused configuration must not mark anything sent"
    assert not ws.sandbox.rows("U_SSP_DISCLOSURES")
    if folders:
        assert tree_digest(ws.root / "feeds") == folders, "no file may reach a partner folder"
    return line


def test_partner_outbox_spelled_differently_from_anothers_outbox_is_refused(
    ws: Workspace,
) -> None:
    """The issue's case: bhcare's outbox is cgc's, written absolute with `..` and a trailing /."""
    spelled = f"{ws.root}/feeds/bhcare/../cgc/./out/"
    ws.write_config(replace=[_bhcare_feed("feeds/bhcare/in", spelled)])
    line = _refused(ws, "partners[bhcare].feed.outbox", "partners[cgc].feed.outbox")
    assert "same folder" in line


def test_partner_inbox_that_is_a_symlink_to_anothers_outbox_is_refused(ws: Workspace) -> None:
    (ws.root / "feeds" / "cgc" / "out").mkdir(parents=True, exist_ok=True)
    link = ws.root / "drop-bhcare-in"
    os.symlink(ws.root / "feeds" / "cgc" / "out", link)
    ws.write_config(replace=[_bhcare_feed("drop-bhcare-in", "feeds/bhcare/out")])
    line = _refused(ws, "partners[bhcare].feed.inbox", "partners[cgc].feed.outbox")
    assert "same folder" in line


def test_partner_own_inbox_equal_to_its_outbox_is_refused(ws: Workspace) -> None:
    ws.write_config(replace=[_bhcare_feed("feeds/bhcare/io", "feeds/bhcare/io/")])
    _refused(ws, "partners[bhcare].feed.outbox", "partners[bhcare].feed.inbox")


def test_partner_folder_inside_another_partners_folder_is_refused(ws: Workspace) -> None:
    ws.write_config(replace=[_bhcare_feed("feeds/cgc/in/bhcare", "feeds/bhcare/out")])
    line = _refused(ws, "partners[bhcare].feed.inbox", "partners[cgc].feed.inbox")
    assert "inside" in line


def test_state_directory_inside_a_partner_outbox_is_refused(ws: Workspace) -> None:
    """The partner would collect the sync state and the archived files with its referrals."""
    ws.write_config(replace=[('dir = "var/ssp"', 'dir = "feeds/cgc/out/state"')])
    line = _refused(ws, "partners[cgc].feed.outbox", "state.dir")
    assert "state directory" in line


def test_mapping_whose_referral_and_revocation_files_share_a_name_is_refused(
    ws: Workspace,
) -> None:
    generic = resources.files("field_mappings").joinpath("partners/generic.toml").read_text()
    mapping = ws.root / "cgc_mapping.toml"
    mapping.write_text(
        generic.replace('file = "revocations_{run_id}.csv"', 'file = "Referrals_{run_id}.csv"'),
        encoding="utf-8",
    )
    ws.write_config(replace=[('mapping = "generic"', f'mapping = "{mapping.name}"')])
    line = _refused(ws, "revocation.file", "referral.file", file=mapping)
    assert "overwrite" in line


@pytest.mark.parametrize("variable", POWERSCHOOL_CREDENTIAL_VARIABLES + ("ssp_client_secret",))
def test_partner_token_env_naming_a_powerschool_credential_is_refused(
    ws: Workspace, variable: str
) -> None:
    """The PowerSchool secret would be sent to the partner as its bearer token."""
    http = f'feed = {{ kind = "http", base_url = "http://127.0.0.1:9", token_env = "{variable}" }}'
    ws.write_config(replace=[(BHCARE_FEED, http)])
    line = _refused(ws, "partners[bhcare].feed.token_env", variable.upper())
    assert ws.sandbox.client_secret not in line


def test_separate_folders_are_accepted(ws: Workspace) -> None:
    """The control: the same workspace with its own folders per partner syncs."""
    ws.seed(referrals=9)
    summary = ws.sync()
    assert summary["partners"]["bhcare"]["referrals_sent"] == 3

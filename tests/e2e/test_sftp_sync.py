"""`ssp sync run` with a partner on an sftp feed: the partner's own OpenSSH server on 127.0.0.1
(cgc) beside a csv partner (bhcare), PowerSchool played by the sandbox."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from e2e_helpers import Workspace, all_comparable_rows, read_csv, tree_digest, write_csv
from sftp_kit import (
    KEY_ENV,
    SftpCalls,
    connection_cut_during_upload,
    sftp_calls,  # noqa: F401 - fixture
    sftp_mapping,
    write_known_hosts,
)
from sftp_server import OpenSshServer, keygen

from connector.feeds.files import PartnerFiles
from ssp.demo_scenario import SchoolSide, write_partner_replies

CGC_CSV_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'


class InjectedKill(BaseException):
    """The process dies here: not an Exception, so no handler of the connector runs."""


def sftp_feed_line(server: OpenSshServer) -> str:
    return (
        f'feed = {{ kind = "sftp", host = "127.0.0.1", port = {server.port}, '
        f'user = "{server.user}", key_file_env = "{KEY_ENV}", known_hosts = "cgc_known_hosts", '
        'inbox = "out", outbox = "in", timeout_seconds = 10 }'
    )


def use_sftp(ws: Workspace, server: OpenSshServer, *, delete_remote_files: bool | None = None) -> None:
    edits = [(CGC_CSV_FEED, sftp_feed_line(server))]
    if delete_remote_files is not None:
        mapping = sftp_mapping(ws.root, delete_remote_files=delete_remote_files)
        edits.append(('mapping = "generic"', f'mapping = "{mapping}"'))
    ws.write_config(replace=edits)


@pytest.fixture
def sftp_ws(ws: Workspace, sftp_server: OpenSshServer, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    write_known_hosts(sftp_server, ws.root / "cgc_known_hosts")
    monkeypatch.setenv(KEY_ENV, str(sftp_server.user_key))
    use_sftp(ws, sftp_server)
    return ws


def remote_outbox(server: OpenSshServer) -> list[str]:
    return sorted(p.name for p in (server.root / "in").iterdir())


def remote_referral_ids(server: OpenSshServer) -> Counter[str]:
    ids: Counter[str] = Counter()
    for path in sorted((server.root / "in").glob("referrals_*.csv")):
        ids.update(r["referral_id"] for r in read_csv(path))
    return ids


def reply(ws: Workspace, server: OpenSshServer, side: SchoolSide) -> None:
    """The partners answer: cgc on its SFTP server (with a .part upload still in progress)."""
    write_partner_replies(
        side, ws.sandbox, ws.today, {"cgc": server.root / "out", "bhcare": ws.inbox("bhcare")}
    )


def assert_sent_once(ws: Workspace, server: OpenSshServer, side: SchoolSide) -> None:
    names = remote_outbox(server)
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names
    for name in names:
        if name.startswith("referrals_"):
            run_id = name.removeprefix("referrals_").removesuffix(".csv")
            assert f"NOTICE_{run_id}.txt" in names
    assert remote_referral_ids(server) == Counter(side.sent["cgc"])  # each exactly once
    local = [d for d in ws.state_rows("disclosures") if d["partner_id"] == "cgc"]
    assert sorted(d["referral_uid"] for d in local) == sorted(side.sent["cgc"])
    in_powerschool = [r for r in ws.sandbox.rows("U_SSP_DISCLOSURES") if r["PARTNER_ID"] == "cgc"]
    assert len(in_powerschool) == len(side.sent["cgc"])
    for uid in side.sent["cgc"]:
        assert ws.referral(uid)["STATUS"] == "sent"


# ---------------------------------------------------------------- a first sync, then a reply


def test_first_sync_uploads_referrals_then_pulls_status_updates_and_visits(
    sftp_ws: Workspace, sftp_server: OpenSshServer
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    first = ws.sync()
    assert first["partners"]["cgc"]["referrals_sent"] == 6
    assert_sent_once(ws, sftp_server, side)
    assert len(remote_outbox(sftp_server)) == 2  # referrals and their notice
    local = ws.root / "feeds" / "cgc"
    assert not [p for p in local.rglob("*") if p.is_file()]  # nothing went to local folders

    reply(ws, sftp_server, side)
    second = ws.sync()
    cgc = second["partners"]["cgc"]
    assert cgc["status_updates_applied"] > 0 and cgc["visits_created"] > 0
    assert cgc["referrals_sent"] == 0
    statuses = Counter(ws.referral(uid)["STATUS"] for uid in side.sent["cgc"])
    assert set(statuses) != {"sent"}, statuses
    partner_visits = [v for v in ws.sandbox.rows("U_SSP_VISITS") if v["SOURCE"] == "partner:cgc"]
    assert len(partner_visits) == cgc["visits_created"]
    stamp = ws.today.strftime("%Y%m%d")
    assert sorted(a.split("_", 1)[1] for a in ws.archived("cgc")) == [
        f"status_updates_{stamp}.csv",
        f"visits_{stamp}.csv",
    ]
    # the partner's files stay on its server (the generic mapping does not delete remote files);
    # the upload still in progress was neither read nor archived
    remote_inbox = sorted(p.name for p in (sftp_server.root / "out").iterdir())
    assert remote_inbox == sorted(
        [f"status_updates_{stamp}.csv", f"visits_{stamp}.csv", f"status_updates_{stamp}_2.csv.part"]
    )
    assert not list((ws.state_dir / "partners" / "cgc" / "incoming").iterdir())


def test_no_change_rerun_uploads_nothing_and_lists_each_folder_once(
    sftp_ws: Workspace, sftp_server: OpenSshServer, sftp_calls: SftpCalls
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    ws.sync()
    reply(ws, sftp_server, side)
    ws.sync()
    rows_before = all_comparable_rows(ws.sandbox)
    archive_before = tree_digest(ws.state_dir / "partners" / "cgc" / "archive")
    remote_before = tree_digest(sftp_server.root)
    sftp_calls.calls.clear()

    rerun = ws.sync()

    cgc = rerun["partners"]["cgc"]
    assert cgc["referrals_sent"] == cgc["status_updates_applied"] == cgc["visits_created"] == 0
    assert cgc["duplicates_skipped"] == 2  # the two files left on the server, known by hash
    assert sftp_calls.of("listdir_attr", "out") == ["out"]
    assert sftp_calls.of("listdir_attr", "in") == []
    assert sftp_calls.writes() == []
    assert sftp_calls.of("posix_rename") == sftp_calls.of("rename") == sftp_calls.of("remove") == []
    assert all_comparable_rows(ws.sandbox) == rows_before
    assert tree_digest(ws.state_dir / "partners" / "cgc" / "archive") == archive_before
    assert tree_digest(sftp_server.root) == remote_before


def test_with_delete_remote_files_applied_files_leave_the_server_and_a_rerun_downloads_nothing(
    sftp_ws: Workspace, sftp_server: OpenSshServer, sftp_calls: SftpCalls
) -> None:
    ws = sftp_ws
    use_sftp(ws, sftp_server, delete_remote_files=True)
    side = ws.seed(referrals=9)
    ws.sync()
    reply(ws, sftp_server, side)
    ws.sync()
    stamp = ws.today.strftime("%Y%m%d")
    assert [p.name for p in (sftp_server.root / "out").iterdir()] == [
        f"status_updates_{stamp}_2.csv.part"  # never read, never deleted
    ]
    assert len(ws.archived("cgc")) == 2  # archived here before they were deleted there
    sftp_calls.calls.clear()
    rerun = ws.sync()
    assert rerun["partners"]["cgc"]["duplicates_skipped"] == 0
    assert sftp_calls.of("listdir_attr") == ["out"]
    assert sftp_calls.of("open_read") == [] and sftp_calls.writes() == []


def test_a_partial_upload_left_by_the_partner_is_read_once_it_is_renamed(
    sftp_ws: Workspace, sftp_server: OpenSshServer
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    ws.sync()
    uid = side.sent["cgc"][0]
    partial = sftp_server.root / "out" / "status_updates_late.csv.part"
    write_csv(partial, [{"referral_id": uid, "status": "received", "status_date": ws.day(0),
                         "first_service_date": "", "status_reason": ""}])
    skipped = ws.sync()
    assert skipped["partners"]["cgc"]["status_updates_applied"] == 0
    assert ws.referral(uid)["STATUS"] == "sent" and ws.archived("cgc") == []
    partial.rename(partial.with_suffix(""))  # the partner's upload finished
    applied = ws.sync()
    assert applied["partners"]["cgc"]["status_updates_applied"] == 1
    assert ws.referral(uid)["STATUS"] == "received"


# ---------------------------------------------------------------- a broken upload, then a rerun


def test_connection_dropped_mid_upload_fails_the_run_and_the_rerun_sends_each_referral_once(
    sftp_ws: Workspace, sftp_server: OpenSshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    with connection_cut_during_upload(monkeypatch, "referrals_") as cut:
        failed = ws.ssp("sync", "run")
    assert cut, "the upload was not reached"
    assert failed.code == 1
    assert failed.json["status"] == "failed"
    assert "partner cgc: SFTP server 127.0.0.1" in failed.json["error"]
    assert "uploading in/referrals_" in failed.json["error"]
    assert "Traceback" not in failed.stderr
    names = remote_outbox(sftp_server)
    assert not [n for n in names if n.startswith("referrals_")], names  # never under its name
    assert [n for n in names if n.endswith(".csv.tmp")]  # the partial upload, skipped by partners

    ws.sync()
    assert_sent_once(ws, sftp_server, side)


def test_killed_during_upload_then_rerun_sends_each_referral_once(
    sftp_ws: Workspace, sftp_server: OpenSshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    with connection_cut_during_upload(monkeypatch, "referrals_", crash=InjectedKill), \
            pytest.raises(InjectedKill):
        ws.ssp("sync", "run")
    names = remote_outbox(sftp_server)
    assert not [n for n in names if n.startswith("referrals_")], names

    ws.sync()
    assert_sent_once(ws, sftp_server, side)


def test_killed_after_the_rename_before_the_receipt_the_file_is_not_sent_again(
    sftp_ws: Workspace, sftp_server: OpenSshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    original = PartnerFiles.write_receipt

    def dies_before_the_referrals_receipt(self: PartnerFiles, name: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if name.startswith("referrals_") and "cgc" in str(self.root):
            raise InjectedKill(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(PartnerFiles, "write_receipt", dies_before_the_referrals_receipt)
    with pytest.raises(InjectedKill):
        ws.ssp("sync", "run")
    monkeypatch.setattr(PartnerFiles, "write_receipt", original)
    assert len([n for n in remote_outbox(sftp_server) if n.startswith("referrals_")]) == 1

    rerun = ws.sync()
    assert rerun["partners"]["cgc"]["referrals_sent"] == 0  # found on the server, not sent again
    assert_sent_once(ws, sftp_server, side)


# ---------------------------------------------------------------- host key pinning, ssp check


def test_wrong_host_key_refuses_the_run_with_exit_1_and_a_plain_message(
    sftp_ws: Workspace, sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    write_known_hosts(sftp_server, ws.root / "cgc_known_hosts", keygen(tmp_path / "impostor"))
    result = ws.ssp("sync", "run")
    assert result.code == 1
    error = result.json["error"]
    assert error.startswith(
        f"partner cgc: SFTP server 127.0.0.1 port {sftp_server.port}: refused: the host key does "
        "not match known_hosts"
    )
    assert "Traceback" not in result.stderr and "BEGIN OPENSSH" not in result.stderr
    assert remote_outbox(sftp_server) == []
    for uid in side.sent["cgc"]:
        assert ws.referral(uid)["STATUS"] == "new"  # nothing went out, nothing recorded
    assert not [d for d in ws.state_rows("disclosures") if d["partner_id"] == "cgc"]


def test_ssp_check_reports_the_sftp_partner(
    sftp_ws: Workspace, sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    ws = sftp_ws
    ok = ws.ssp("check")
    assert ok.code == 0, ok.stdout
    cgc = ok.json["partners"]["cgc"]
    assert cgc["ok"] and cgc["authenticated"] and cgc["host_key_ok"]
    assert cgc["inbox"]["writable"] and cgc["outbox"]["writable"]
    assert "bhcare" not in ok.json["partners"]  # csv folders are not probed

    write_known_hosts(sftp_server, ws.root / "cgc_known_hosts", keygen(tmp_path / "impostor"))
    refused = ws.ssp("check")
    assert refused.code == 1
    assert refused.json["partners"]["cgc"]["host_key_ok"] is False
    assert any("host key does not match" in line for line in refused.json["missing"])


def test_dry_run_uploads_nothing_and_archives_nothing(
    sftp_ws: Workspace, sftp_server: OpenSshServer, sftp_calls: SftpCalls
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    ws.sync()
    reply(ws, sftp_server, side)
    sftp_calls.calls.clear()
    result = ws.ssp("sync", "run", "--dry-run")
    assert result.code == 0, result.stderr[-2000:]
    assert result.json["partners"]["cgc"]["status_updates_applied"] > 0
    assert sftp_calls.writes() == [] and sftp_calls.of("remove") == []
    assert ws.archived("cgc") == []


def test_verbose_logs_carry_no_key_material(
    sftp_ws: Workspace, sftp_server: OpenSshServer
) -> None:
    ws = sftp_ws
    side = ws.seed(referrals=9)
    ws.ssp("sync", "run", verbose=True)
    reply(ws, sftp_server, side)
    result = ws.ssp("sync", "run", verbose=True)
    assert result.code == 0
    private_lines = [
        line
        for line in sftp_server.user_key.read_text().splitlines()
        if line and not line.startswith("-----")
    ]
    public_blob = Path(f"{sftp_server.user_key}.pub").read_text().split()[1]
    for secret in (*private_lines, public_blob[20:60], "PRIVATE KEY"):
        assert secret not in result.stderr
    logged = result.log_lines()
    assert any(line.get("msg") == "sftp connected" for line in logged)
    assert not [line for line in logged if str(line.get("logger", "")).startswith("paramiko")]


def test_unset_key_variable_is_a_configuration_error_and_check_names_it(
    sftp_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = sftp_ws
    monkeypatch.delenv(KEY_ENV)
    run = ws.ssp("sync", "run")
    assert run.code == 2
    assert f"partners[cgc].feed.key_file_env: environment variable {KEY_ENV}" in run.stderr
    check = ws.ssp("check")
    assert check.code == 1
    assert check.json["partners"]["cgc"]["ok"] is False
    assert any("partners[cgc].feed.key_file_env" in line for line in check.json["missing"])

"""The sftp feed against a real OpenSSH server on 127.0.0.1: the csv feed's file rules on the
partner's server, host key pinning, and the configuration errors district IT will meet."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from sftp_kit import (
    KEY_ENV,
    SftpCalls,
    connection_cut_during_upload,
    make_feed,
    settings,
    sftp_calls,  # noqa: F401 - fixture
    write_known_hosts,
)
from sftp_server import OpenSshServer, keygen

from connector.feeds.sftp_feed import SftpError, load_known_hosts, load_private_key
from foundation.errors import ConfigError

RUN = "2f1c7a7e-5d1b-4a8e-9c7e-0d6c1b2a3f40"
STATUS = (
    b"referral_id,status,status_date,first_service_date,status_reason\n"
    b"R-1,received,2026-12-01,,\n"
    b"R-2,accepted,2026-12-02,,\n"
)
VISITS = (
    b"partner_visit_id,student_number,referral_id,visit_date,time_in,time_out,service_codes,"
    b"purpose_code,clinician_name\nV-1,1001,R-1,2026-12-02,10:00,10:45,individual_counseling,"
    b"follow_up,Clinician\n"
)


def drop(server: OpenSshServer, name: str, content: bytes, mtime: int | None = None) -> Path:
    path = server.root / "out" / name
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def archived(work: Path) -> list[Path]:
    return sorted((work / "state" / "partners" / "cgc" / "archive").glob("*/*"))


# ---------------------------------------------------------------- inbound


def test_pulled_file_is_archived_locally_before_its_rows_are_read(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    drop(sftp_server, "status_updates_1.csv", STATUS)
    half_done = tmp_path / "state" / "partners" / "cgc" / "incoming" / "visits_9.csv"
    half_done.parent.mkdir(parents=True)
    half_done.write_bytes(VISITS[:20])  # a download a killed run did not finish
    feed = make_feed(sftp_server, tmp_path)
    try:
        (batch,) = feed.inbound("status_update")
        assert not half_done.exists()
        assert archived(tmp_path) == [batch.path]  # archived before rows() was called
        assert batch.path.read_bytes() == STATUS and stat.S_IMODE(batch.path.stat().st_mode) == 0o600
        assert batch.content_hash == hashlib.sha256(STATUS).hexdigest()
        assert batch.source == "status_updates_1.csv"
        assert [r.values["referral_id"] for r in batch.rows()] == ["R-1", "R-2"]
        feed.archive(batch)
    finally:
        feed.close()
    assert (sftp_server.root / "out" / "status_updates_1.csv").exists()  # left: mapping default


def test_partial_uploads_dot_files_links_and_folders_are_left_alone(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    for name in ("status_updates_2.csv.part", "status_updates_3.csv.tmp", ".status_updates_4.csv"):
        drop(sftp_server, name, STATUS)
    drop(sftp_server, "status_updates_1.csv", STATUS, mtime=1_700_000_000)
    (sftp_server.root / "out" / "status_updates_dir.csv").mkdir()
    (sftp_server.root / "out" / "status_updates_link.csv").symlink_to(tmp_path / "secret.csv")
    (tmp_path / "secret.csv").write_bytes(STATUS)
    feed = make_feed(sftp_server, tmp_path)
    try:
        assert [b.source for b in feed.inbound("status_update")] == ["status_updates_1.csv"]
    finally:
        feed.close()
    assert len(list((sftp_server.root / "out").iterdir())) == 6  # nothing touched


def test_files_come_oldest_first_and_the_inbox_is_listed_once_for_both_kinds(
    sftp_server: OpenSshServer, tmp_path: Path, sftp_calls: SftpCalls
) -> None:
    drop(sftp_server, "status_updates_b.csv", STATUS, mtime=1_700_000_000)
    drop(sftp_server, "STATUS_UPDATES_A.CSV", STATUS + b"R-3,received,2026-12-03,,\n", mtime=1_700_000_100)
    drop(sftp_server, "visits_1.csv", VISITS, mtime=1_700_000_050)
    feed = make_feed(sftp_server, tmp_path)
    try:
        assert [b.source for b in feed.inbound("status_update")] == [
            "status_updates_b.csv",
            "STATUS_UPDATES_A.CSV",
        ]
        assert [b.source for b in feed.inbound("visit")] == ["visits_1.csv"]
    finally:
        feed.close()
    assert sftp_calls.of("listdir_attr") == ["out"]
    assert sftp_calls.writes() == []


def test_a_file_left_on_the_server_is_pulled_again_with_the_same_hash_and_archived_once(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    drop(sftp_server, "status_updates_1.csv", STATUS)
    hashes = []
    for _run in range(2):
        feed = make_feed(sftp_server, tmp_path)
        try:
            (batch,) = feed.inbound("status_update")
            hashes.append(batch.content_hash)
            feed.archive(batch)
        finally:
            feed.close()
    assert hashes[0] == hashes[1]
    assert len(archived(tmp_path)) == 1
    assert not list((tmp_path / "state" / "partners" / "cgc" / "incoming").iterdir())


def test_remote_file_is_deleted_after_archiving_only_when_the_mapping_allows(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    from sftp_kit import sftp_mapping

    remote = drop(sftp_server, "status_updates_1.csv", STATUS)
    feed = make_feed(sftp_server, tmp_path, mapping=sftp_mapping(tmp_path, delete_remote_files=True))
    try:
        (batch,) = feed.inbound("status_update")
        list(batch.rows())
        assert remote.exists()  # not before the batch is applied
        feed.archive(batch)
    finally:
        feed.close()
    assert not remote.exists()
    assert [p.read_bytes() for p in archived(tmp_path)] == [STATUS]


def test_a_file_replaced_after_download_is_not_deleted(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    from sftp_kit import sftp_mapping

    remote = drop(sftp_server, "status_updates_1.csv", STATUS, mtime=1_700_000_000)
    feed = make_feed(sftp_server, tmp_path, mapping=sftp_mapping(tmp_path, delete_remote_files=True))
    try:
        (batch,) = feed.inbound("status_update")
        list(batch.rows())
        drop(sftp_server, "status_updates_1.csv", STATUS + b"R-9,received,2026-12-04,,\n")
        feed.archive(batch)
    finally:
        feed.close()
    assert remote.read_bytes().endswith(b"R-9,received,2026-12-04,,\n")  # kept for the next run


def test_a_file_that_changed_since_the_listing_is_left_for_the_next_run(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    drop(sftp_server, "status_updates_1.csv", STATUS, mtime=1_700_000_000)
    feed = make_feed(sftp_server, tmp_path)
    try:
        assert [e.name for e in feed.inbound_entries("status_update")] == ["status_updates_1.csv"]
        drop(sftp_server, "status_updates_1.csv", STATUS + b"R-3,received,2026-12-03,,\n")
        assert list(feed.inbound("status_update")) == []
    finally:
        feed.close()
    assert archived(tmp_path) == []


def test_a_dry_run_downloads_nothing_into_the_archive(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    drop(sftp_server, "status_updates_1.csv", STATUS)
    feed = make_feed(sftp_server, tmp_path, dry_run=True)
    try:
        (batch,) = feed.inbound("status_update")
        assert len(list(batch.rows())) == 2
    finally:
        feed.close()
    assert not (tmp_path / "state").exists()
    assert not batch.path.exists()  # the scratch copy went with the feed


# ---------------------------------------------------------------- outbound


def test_outbound_file_appears_whole_with_its_notice_and_mode_0640(
    sftp_server: OpenSshServer, tmp_path: Path, sftp_calls: SftpCalls
) -> None:
    feed = make_feed(sftp_server, tmp_path)
    try:
        name = feed.write_outbound("revocations", RUN, [{"referral_id": "R-1", "partner_id": "cgc",
                                                         "consent_id": "C-1",
                                                         "revoked_date": "2026-12-01"}])
        assert feed.outbound_exists(name) and not feed.outbound_exists(f"referrals_{RUN}.csv")
    finally:
        feed.close()
    outbox = sftp_server.root / "in"
    assert sorted(p.name for p in outbox.iterdir()) == [f"NOTICE_{RUN}.txt", name]
    assert stat.S_IMODE((outbox / name).stat().st_mode) == 0o640
    assert (outbox / name).read_text().splitlines()[1].startswith("R-1,cgc,C-1,2026-12-01")
    # each file was written under its temp name, then renamed
    assert sftp_calls.writes() == [f"in/.NOTICE_{RUN}.txt.tmp", f"in/.{name}.tmp"]
    assert sftp_calls.of("posix_rename") == [f"in/.NOTICE_{RUN}.txt.tmp", f"in/.{name}.tmp"]


def test_connection_cut_mid_upload_leaves_no_file_under_its_final_name(
    sftp_server: OpenSshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"referral_id": f"R-{i}", "partner_id": "cgc", "consent_id": f"C-{i}",
             "revoked_date": "2026-12-01"} for i in range(2000)]
    feed = make_feed(sftp_server, tmp_path)
    try:
        with connection_cut_during_upload(monkeypatch, "revocations_") as cut:
            with pytest.raises(SftpError, match="uploading in/revocations_") as failed:
                feed.write_outbound("revocations", RUN, rows)
        assert cut == [f"in/.revocations_{RUN}.csv.tmp"]
        assert "partner cgc: SFTP server 127.0.0.1" in str(failed.value)
    finally:
        feed.close()
    outbox = sftp_server.root / "in"
    assert not (outbox / f"revocations_{RUN}.csv").exists()
    partial = outbox / f".revocations_{RUN}.csv.tmp"
    assert partial.exists()  # what the partner's rules skip; the next upload removes it
    assert not (tmp_path / "state" / "partners" / "cgc" / "sent" / f"revocations_{RUN}.csv.json").exists()

    again = make_feed(sftp_server, tmp_path)
    try:
        assert not again.outbound_exists(f"revocations_{RUN}.csv")
        name = again.write_outbound("revocations", "second-run", rows[:1])
    finally:
        again.close()
    assert not partial.exists()
    assert sorted(p.name for p in outbox.iterdir()) == sorted(
        [f"NOTICE_{RUN}.txt", "NOTICE_second-run.txt", name]
    )


def test_a_connection_the_server_dropped_between_steps_is_opened_again(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    feed = make_feed(sftp_server, tmp_path)
    try:
        assert list(feed.inbound("status_update")) == []
        feed.drop.session._transport.close()  # type: ignore[attr-defined, union-attr]  # idle time-out
        name = feed.write_outbound("referrals", RUN, [])
    finally:
        feed.close()
    assert (sftp_server.root / "in" / name).exists()


# ---------------------------------------------------------------- host keys and keys


def test_unknown_host_is_refused_never_trusted_on_first_use(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sftp_server.port + 1} " + sftp_server.known_hosts_line().split(" ", 1)[1])
    feed = make_feed(sftp_server, tmp_path, known_hosts=known)
    try:
        with pytest.raises(SftpError, match=r"not in the known_hosts file.*never trusted") as exc:
            list(feed.inbound("status_update"))
        assert exc.value.exit_code == 1
    finally:
        feed.close()
    assert known.read_text().count("\n") == 1  # nothing was added


def test_changed_host_key_is_refused_with_both_fingerprints(
    sftp_server: OpenSshServer, tmp_path: Path
) -> None:
    other = keygen(tmp_path / "other_host_key")
    feed = make_feed(
        sftp_server, tmp_path, known_hosts=write_known_hosts(sftp_server, tmp_path / "kh", other)
    )
    drop(sftp_server, "status_updates_1.csv", STATUS)
    try:
        with pytest.raises(SftpError, match="host key does not match known_hosts") as exc:
            list(feed.inbound("status_update"))
    finally:
        feed.close()
    assert str(exc.value).count("SHA256:") == 2 and exc.value.stage == "host_key"
    assert archived(tmp_path) == []


def test_hashed_known_hosts_entries_pin_the_key(sftp_server: OpenSshServer, tmp_path: Path) -> None:
    known = write_known_hosts(sftp_server, tmp_path / "known_hosts")
    import subprocess

    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")
    feed = make_feed(sftp_server, tmp_path, known_hosts=known)
    try:
        assert list(feed.inbound("visit")) == []
    finally:
        feed.close()


def test_a_key_the_server_does_not_know_is_refused(sftp_server: OpenSshServer, tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "stranger")
    known = write_known_hosts(sftp_server, tmp_path / "known_hosts")
    chosen = settings(sftp_server, known)
    from connector.feeds.sftp_feed import SftpFeed
    from connector.mapping import load_mapping

    feed = SftpFeed(
        "cgc",
        load_mapping("generic", base_dir=tmp_path),
        settings=chosen,
        pkey=load_private_key(chosen, {KEY_ENV: str(stranger)}, source="ssp.toml", partner_id="cgc"),
        host_keys=load_known_hosts(chosen, known, source="ssp.toml", key="k"),
        state_dir=tmp_path / "state",
    )
    try:
        with pytest.raises(SftpError, match=f"user {sftp_server.user} was not accepted") as exc:
            list(feed.inbound("visit"))
        assert exc.value.stage == "auth"
    finally:
        feed.close()


def test_ssp_check_probe_reports_every_step(sftp_server: OpenSshServer, tmp_path: Path) -> None:
    feed = make_feed(sftp_server, tmp_path)
    try:
        report = feed.probe()
    finally:
        feed.close()
    assert report["reachable"] and report["host_key_ok"] and report["authenticated"]
    assert report["host_key"].startswith("ssh-ed25519 SHA256:")
    assert report["inbox"] == {"path": "out", "listable": True, "writable": True, "files": 0}
    assert report["outbox"]["writable"] is True
    assert list((sftp_server.root / "in").iterdir()) == []  # the test file was removed

    (sftp_server.root / "in").rename(sftp_server.root / "in-gone")
    feed = make_feed(sftp_server, tmp_path)
    try:
        report = feed.probe()
    finally:
        feed.close()
    assert report["outbox"]["listable"] is False
    assert "no such file or folder" in report["outbox"]["problem"]


def test_unreachable_server_is_a_plain_run_error(sftp_server: OpenSshServer, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    free = sftp_server.port
    sftp_server.stop()
    known.write_text(sftp_server.known_hosts_line())
    feed = make_feed(sftp_server, tmp_path, known_hosts=known)
    try:
        with pytest.raises(SftpError, match=f"127.0.0.1 port {free}: not reachable"):
            feed.write_outbound("referrals", RUN, [])
        assert feed.probe()["reachable"] is False
    finally:
        feed.close()


# ---------------------------------------------------------------- configuration errors (no server)


@pytest.fixture
def key_pair(tmp_path: Path) -> Path:
    return keygen(tmp_path / "district_key")


def _settings(tmp_path: Path) -> object:
    from foundation.config import SftpFeed as SftpSettings

    return SftpSettings(kind="sftp", host="sftp.partner.example.org", user="district",
                        key_file_env=KEY_ENV, known_hosts=tmp_path / "known_hosts",
                        inbox="/out", outbox="/in")


def test_unset_key_variable_names_the_partner_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_private_key(_settings(tmp_path), {}, source="ssp.toml", partner_id="cgc")  # type: ignore[arg-type]
    assert exc.value.exit_code == 2
    assert str(exc.value) == (
        f"ssp.toml: partners[cgc].feed.key_file_env: environment variable {KEY_ENV} "
        "(the path of the SFTP private key file) is not set"
    )


def test_key_file_open_to_other_users_is_refused(tmp_path: Path, key_pair: Path) -> None:
    key_pair.chmod(0o644)
    with pytest.raises(ConfigError, match=r"open to other users \(mode 0644\): chmod 600 it"):
        load_private_key(_settings(tmp_path), {KEY_ENV: str(key_pair)}, source="ssp.toml",  # type: ignore[arg-type]
                         partner_id="cgc")


def test_a_file_that_is_not_a_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    bogus = tmp_path / "not_a_key"
    bogus.write_text("secret-looking text that must not be echoed\n")
    bogus.chmod(0o600)
    with pytest.raises(ConfigError, match="not a usable SSH private key") as exc:
        load_private_key(_settings(tmp_path), {KEY_ENV: str(bogus)}, source="ssp.toml",  # type: ignore[arg-type]
                         partner_id="cgc")
    assert "secret-looking" not in str(exc.value)


def test_encrypted_key_needs_its_passphrase_variable(tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "correct horse", "-f", str(key)],
                   check=True, capture_output=True)
    with pytest.raises(ConfigError, match="is encrypted: name the variable holding its passphrase"):
        load_private_key(_settings(tmp_path), {KEY_ENV: str(key)}, source="ssp.toml",  # type: ignore[arg-type]
                         partner_id="cgc")
    from foundation.config import SftpFeed as SftpSettings

    with_pass = SftpSettings(**{**_settings(tmp_path).model_dump(), "key_passphrase_env": "PASS"})  # type: ignore[attr-defined]
    loaded = load_private_key(with_pass, {KEY_ENV: str(key), "PASS": "correct horse"},
                              source="ssp.toml", partner_id="cgc")
    assert loaded.get_name() == "ssh-ed25519"
    with pytest.raises(ConfigError, match="not a usable SSH private key or the passphrase is wrong"):
        load_private_key(with_pass, {KEY_ENV: str(key), "PASS": "wrong horse"},
                         source="ssp.toml", partner_id="cgc")


def test_missing_known_hosts_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_known_hosts(_settings(tmp_path), tmp_path / "known_hosts", source="ssp.toml",  # type: ignore[arg-type]
                         key="partners[cgc].feed.known_hosts")
    message = str(exc.value)
    assert message.startswith("ssp.toml: partners[cgc].feed.known_hosts: known_hosts file")
    assert "ssh-keyscan -p 22 sftp.partner.example.org" in message and "out of band" in message


def test_garbled_known_hosts_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "known_hosts").write_text("# comment\nsftp.partner.example.org ssh-ed25519\n")
    with pytest.raises(ConfigError, match="line 2"):
        load_known_hosts(_settings(tmp_path), tmp_path / "known_hosts", source="ssp.toml",  # type: ignore[arg-type]
                         key="partners[cgc].feed.known_hosts")

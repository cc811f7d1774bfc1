"""connector/state.py: the SQLite state store (opening, migrations, runs, watermarks, mirrors)."""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import connector.state.db as state_db
from connector.state import DB_FILENAME, MIGRATIONS, StateStore, content_hash, since_for
from foundation.errors import RunError

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
T0 = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path):
    with StateStore.open(tmp_path / "state" / DB_FILENAME, clock=lambda: T0) as s:
        yield s


# ---------------------------------------------------------------- opening


@posix_only
def test_new_state_dir_and_database_are_owner_only(tmp_path):
    with StateStore.open_dir(tmp_path / "var" / "ssp") as s:
        s.set_watermark("referrals", "2026-10-01 00:00:00")
        db = s.path
        assert mode(db.parent) == 0o700 and mode(db) == 0o600
        wal = db.with_name(db.name + "-wal")
        assert wal.exists() and mode(wal) == 0o600


@posix_only
def test_existing_state_dir_is_tightened_and_loose_database_file_fixed(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    os.chmod(state_dir, 0o755)
    (state_dir / DB_FILENAME).touch(mode=0o644)
    os.chmod(state_dir / DB_FILENAME, 0o644)
    with StateStore.open_dir(state_dir) as s:
        assert mode(state_dir) == 0o700 and mode(s.path) == 0o600


@posix_only
def test_open_by_path_leaves_an_existing_parent_alone(tmp_path):
    os.chmod(tmp_path, 0o755)
    with StateStore.open(tmp_path / "my.sqlite3"):
        pass
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "my.sqlite3") == 0o600


def test_database_uses_wal_and_full_sync(store):
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_new_database_is_at_the_latest_schema_version(store):
    assert store.schema_version == len(MIGRATIONS)


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path):
    path = tmp_path / DB_FILENAME
    with StateStore.open(path) as s:
        s.set_watermark("consents", "2026-10-01 10:00:00")
    with StateStore.open(path) as s:
        assert s.get_watermark("consents") == "2026-10-01 10:00:00"
        assert s._db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_forward_migration_applies_to_an_older_database(tmp_path, monkeypatch):
    path = tmp_path / DB_FILENAME
    with StateStore.open(path) as s:
        s.set_watermark("visits", "2026-10-01 10:00:00")
    upgraded = (*MIGRATIONS, ("CREATE TABLE notes (id INTEGER PRIMARY KEY)",))
    monkeypatch.setattr(state_db, "MIGRATIONS", upgraded)
    with StateStore.open(path) as s:
        assert s.schema_version == len(upgraded)
        assert s._db.execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchone()
        assert s.get_watermark("visits") == "2026-10-01 10:00:00"


def test_database_from_a_newer_ssp_is_refused(tmp_path):
    path = tmp_path / DB_FILENAME
    with StateStore.open(path) as s:
        s._db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(RunError, match="schema version 99"):
        with StateStore.open(path):
            pass


def test_file_that_is_not_a_database_is_refused_with_its_path(tmp_path):
    path = tmp_path / DB_FILENAME
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(RunError, match=str(DB_FILENAME)):
        with StateStore.open(path):
            pass


# ---------------------------------------------------------------- concurrency and crashes


def test_second_process_waits_for_the_writer_then_proceeds(tmp_path):
    path = tmp_path / DB_FILENAME
    with StateStore.open(path) as first:
        done = threading.Event()
        errors: list[BaseException] = []

        def other_writer() -> None:
            try:
                with StateStore.open(path, busy_timeout=20) as second:
                    second.set_watermark("referrals", "2026-10-02 00:00:00")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                done.set()

        with first._tx() as db:
            db.execute("INSERT INTO watermarks VALUES ('consents', '2026-10-01 00:00:00', 'x')")
            thread = threading.Thread(target=other_writer)
            thread.start()
            assert not done.wait(0.2)  # blocked behind our write lock
        thread.join(20)
        assert not errors and done.is_set()
        assert first.get_watermark("referrals") == "2026-10-02 00:00:00"


def test_busy_database_beyond_the_timeout_is_a_run_error(tmp_path):
    path = tmp_path / DB_FILENAME
    with StateStore.open(path) as first, StateStore.open(path, busy_timeout=0.05) as second:
        with first._tx():
            with pytest.raises(RunError, match="busy"):
                second.set_watermark("referrals", "2026-10-02 00:00:00")
        second.set_watermark("referrals", "2026-10-02 00:00:00")  # fine once released


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from connector.state import StateStore
    with StateStore.open(sys.argv[1]) as s:
        s.set_watermark("referrals", "2026-10-01 00:00:00")
        s.start_run("run-1", "2026-10-01 00:00:00", dry_run=False)
        db = s._db
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE watermarks SET value = '2099-01-01 00:00:00'")
        db.execute("INSERT INTO runs (run_id, started_at, dry_run) VALUES ('run-2', 'x', 0)")
        os._exit(3)  # killed mid-transaction: no commit, no close
    """
)


def test_crash_mid_transaction_loses_only_the_uncommitted_write(tmp_path):
    path = tmp_path / DB_FILENAME
    result = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(path)],
        capture_output=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 3, result.stderr.decode()
    with StateStore.open(path) as s:
        assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.get_watermark("referrals") == "2026-10-01 00:00:00"
        assert [r.run_id for r in s.recent_runs()] == ["run-1"]


def test_failed_write_rolls_back_the_whole_transaction(store):
    def rows():
        yield {"ssp_uid": "r-1", "id": "1", "status": "new", "partner_id": "cgc"}
        raise KeyError("boom")

    with pytest.raises(KeyError):
        store.upsert_mirror("referrals", rows(), watermark=("referrals", "2026-10-01 10:00:00"))
    assert store.get("referrals", "r-1") is None and store.get_watermark("referrals") is None
    store.set_watermark("referrals", "2026-10-01 09:00:00")  # the connection is usable again


# ---------------------------------------------------------------- runs


def test_runs_are_recorded_and_listed_newest_first(store):
    store.start_run("a", "2026-10-01 04:15:00", dry_run=False)
    store.start_run("b", "2026-10-02 04:15:00", dry_run=True, partner_filter="cgc")
    store.finish_run("a", "2026-10-01 04:16:00", "ok", {"partners": {"cgc": {"referrals_sent": 2}}})
    runs = store.recent_runs()
    assert [r.run_id for r in runs] == ["b", "a"]
    assert runs[0].status == "running" and runs[0].dry_run and runs[0].partner_filter == "cgc"
    assert runs[1].status == "ok" and runs[1].summary == {
        "partners": {"cgc": {"referrals_sent": 2}}
    }
    assert [r.run_id for r in store.recent_runs(limit=1)] == ["b"]


def test_run_ids_are_unique_and_must_exist_to_finish(store):
    store.start_run("a", "2026-10-01 04:15:00", dry_run=False)
    with pytest.raises(RunError):
        store.start_run("a", "2026-10-01 04:15:00", dry_run=False)
    with pytest.raises(RunError):
        store.finish_run("zzz", "2026-10-01 04:16:00", "failed", "{}")
    with pytest.raises(ValueError):
        store.finish_run("a", "2026-10-01 04:16:00", "maybe", "{}")  # type: ignore[arg-type]


# ---------------------------------------------------------------- watermarks


def test_watermark_starts_empty_and_only_moves_forward(store):
    assert store.get_watermark("referrals") is None
    assert store.set_watermark("referrals", "2026-10-01 10:00:00") == "2026-10-01 10:00:00"
    assert store.set_watermark("referrals", "2026-10-01 09:00:00") == "2026-10-01 10:00:00"
    assert store.get_watermark("referrals") == "2026-10-01 10:00:00"
    assert store.get_watermark("consents") is None


def test_watermark_format_is_checked_unless_it_is_an_opaque_cursor(store):
    with pytest.raises(ValueError):
        store.set_watermark("referrals", "2026-10-01T10:00:00Z")
    assert store.set_watermark("http:cgc", "cursor-b", monotonic=False) == "cursor-b"
    assert store.set_watermark("http:cgc", "cursor-a", monotonic=False) == "cursor-a"


def test_since_for_subtracts_the_lookback_window():
    assert since_for(None, dt.timedelta(hours=1)) == "1900-01-01 00:00:00"
    assert since_for("2026-10-01 00:30:00", dt.timedelta(hours=1)) == "2026-09-30 23:30:00"


# ---------------------------------------------------------------- mirrors


def referral(uid: str, **changes: str) -> dict[str, str]:
    row = {
        "id": "1",
        "studentsdcid": "101",
        "ssp_uid": uid,
        "status": "new",
        "partner_id": "cgc",
        "first_name": "Ann",
        "whenmodified": "2026-10-01 10:00:00",
    }
    return {**row, **changes}


def test_upsert_reports_new_changed_and_unchanged_rows(store):
    first = store.upsert_mirror("referrals", [referral("r-1"), referral("r-2")])
    assert first.new == ("r-1", "r-2") and first.changed == () and first.touched == ("r-1", "r-2")
    again = store.upsert_mirror(
        "referrals",
        [referral("r-1", whenmodified="2026-10-01 11:00:00"), referral("r-2", status="sent")],
    )
    assert again.unchanged == ("r-1",) and again.changed == ("r-2",) and again.new == ()
    assert store.get("referrals", "r-2").status == "sent"


def test_rerun_over_the_lookback_window_finds_nothing_to_do(store):
    rows = [referral(f"r-{i}") for i in range(5)]
    store.upsert_mirror("referrals", rows)
    assert store.upsert_mirror("referrals", rows).touched == ()


def test_row_repeated_in_one_batch_is_reported_once(store):
    result = store.upsert_mirror(
        "referrals", [referral("r-1"), referral("r-1"), referral("r-1", status="sent")]
    )
    assert result.new == ("r-1",) and result.changed == () and result.unchanged == ()


def test_row_without_ssp_uid_is_rejected_not_mirrored(store):
    result = store.upsert_mirror("referrals", [referral("", id="77"), referral("r-1")])
    assert result.rejected == (("77", "row has no SSP_UID"),) and result.new == ("r-1",)


def test_mirror_and_watermark_commit_together(store):
    store.upsert_mirror(
        "referrals", [referral("r-1")], watermark=("referrals", "2026-10-01 10:00:00")
    )
    assert store.get_watermark("referrals") == "2026-10-01 10:00:00"


def test_pending_referrals_are_new_ones_with_a_partner(store):
    store.upsert_mirror(
        "referrals",
        [
            referral("r-1"),
            referral("r-2", partner_id=""),
            referral("r-3", status="sent"),
            referral("r-4", partner_id="other", status="NEW"),
        ],
    )
    assert [r.ssp_uid for r in store.pending_referrals()] == ["r-1", "r-4"]
    assert [r.ssp_uid for r in store.pending_referrals("cgc")] == ["r-1"]
    assert store.pending_referrals("cgc")[0].row["first_name"] == "Ann"


def test_mirror_row_repr_carries_no_personal_data(store):
    store.upsert_mirror("referrals", [referral("r-1")])
    assert "Ann" not in repr(store.get("referrals", "r-1"))


def test_visits_found_by_partner_and_partner_visit_id(store):
    visit = {
        "id": "9",
        "studentsdcid": "101",
        "ssp_uid": "v-1",
        "source": "partner:cgc",
        "partner_visit_id": "PV-1",
    }
    school = {
        "id": "10",
        "studentsdcid": "101",
        "ssp_uid": "v-2",
        "source": "school",
        "partner_visit_id": "",
    }
    store.upsert_mirror("visits", [visit, school])
    found = store.find_visit("cgc", "PV-1")
    assert found is not None and found.ssp_uid == "v-1" and found.ps_id == "9"
    assert store.find_visit("other", "PV-1") is None and store.find_visit("cgc", "PV-2") is None


def test_mirror_rows_by_student_and_delete(store):
    store.upsert_mirror(
        "consents",
        [
            {"ssp_uid": "c-1", "studentsdcid": "101", "partner_id": "cgc"},
            {"ssp_uid": "c-2", "studentsdcid": "102", "partner_id": "cgc"},
        ],
    )
    assert [r.ssp_uid for r in store.mirror_rows("consents", student_dcid="101")] == ["c-1"]
    assert store.delete_mirror("consents", "c-1") and not store.delete_mirror("consents", "c-1")
    assert store.mirror_rows("consents", student_dcid="101") == []


def test_unknown_mirror_kind_is_a_programming_error(store):
    with pytest.raises(ValueError):
        store.upsert_mirror("students", [])


def test_content_hash_ignores_key_order_and_the_modified_stamp():
    assert content_hash({"a": "1", "b": "2"}) == content_hash(
        {"b": "2", "a": "1", "whenmodified": "x"}
    )
    assert content_hash({"a": "1"}) != content_hash({"a": "2"})

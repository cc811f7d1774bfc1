"""The csv feed: finding inbound files, streaming, archiving, quarantining, writing outbound."""

from __future__ import annotations

import csv
import hashlib
import os
import stat
import tracemalloc
from pathlib import Path

import pytest
from hostile.corpus import GOOD, TODAY, status_file, write_status_rows
from hostile.drive import drive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.feeds.csv_feed import CsvFeed, notice_text
from connector.feeds.safety import is_neutralised
from connector.mapping import load_mapping
from connector.records import OUTBOUND_REFERRAL_COLUMNS, REDISCLOSURE_NOTICE, OutboundReferral
from foundation.errors import ConfigError

GENERIC = load_mapping("generic", base_dir=Path("."))
BHCARE = load_mapping("bhcare", base_dir=Path("."))
RUN = "2f1c7a7e-5d1b-4a8e-9c7e-0d6c1b2a3f40"
POSIX = os.name == "posix"


def make_feed(tmp_path: Path, mapping=GENERIC) -> CsvFeed:  # type: ignore[no-untyped-def]
    for folder in ("in", "out"):
        (tmp_path / folder).mkdir(exist_ok=True)
    return CsvFeed(
        "cgc",
        mapping,
        inbox=tmp_path / "in",
        outbox=tmp_path / "out",
        state_dir=tmp_path / "state",
        today=lambda: TODAY,
    )


def put(tmp_path: Path, name: str, content: bytes, mtime: int = 1) -> Path:
    path = tmp_path / "in" / name
    path.write_bytes(content)
    os.utime(path, ns=(mtime * 10**9, mtime * 10**9))
    return path


def archived(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "state").glob("partners/cgc/archive/*/*"))


# ---------------------------------------------------------------- recognising inbound files


def test_inbound_files_match_patterns_without_case_oldest_first(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    put(tmp_path, "status_updates_b.csv", b"", mtime=1)
    put(tmp_path, "STATUS_UPDATES_A.CSV", b"", mtime=2)
    put(tmp_path, "visits_1.csv", b"", mtime=3)
    put(tmp_path, "readme.txt", b"", mtime=4)
    assert [p.name for p in feed.inbound_files("status_update")] == [
        "status_updates_b.csv",
        "STATUS_UPDATES_A.CSV",
    ]
    assert [p.name for p in feed.inbound_files("visit")] == ["visits_1.csv"]


def test_partial_uploads_are_left_for_the_next_run(tmp_path: Path) -> None:
    feed = make_feed(tmp_path, mapping=load_mapping("generic", base_dir=tmp_path))
    for name in (".status_updates_1.csv", "~$status_updates_2.csv"):
        put(tmp_path, name, status_file(*GOOD))
    put(tmp_path, "status_updates_3.csv", status_file(*GOOD))
    assert [p.name for p in feed.inbound_files("status_update")] == ["status_updates_3.csv"]


@pytest.mark.skipif(not POSIX, reason="symlinks need privileges on Windows")
def test_symlinks_folders_and_files_in_subfolders_are_refused(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(status_file(*GOOD))
    (tmp_path / "in" / "status_updates_link.csv").symlink_to(secret)
    (tmp_path / "in" / "status_updates_dir.csv").mkdir()
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "status_updates_deep.csv").write_bytes(status_file(*GOOD))
    assert feed.inbound_files("status_update") == []
    assert list(feed.inbound("status_update")) == []
    assert secret.exists()


def test_missing_inbox_is_a_configuration_error(tmp_path: Path) -> None:
    feed = CsvFeed(
        "cgc", GENERIC, inbox=tmp_path / "nope", outbox=tmp_path, state_dir=tmp_path / "state"
    )
    with pytest.raises(ConfigError, match=r"partners\[cgc\].feed.inbox"):
        list(feed.inbound("status_update"))


def test_content_hash_is_the_sha256_of_the_bytes_before_rows_are_read(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    content = status_file(*GOOD)
    put(tmp_path, "status_updates_1.csv", content)
    (batch,) = feed.inbound("status_update")
    assert batch.content_hash == hashlib.sha256(content).hexdigest()
    assert batch.columns == (
        "referral_id",
        "status",
        "status_date",
        "first_service_date",
        "status_reason",
    )
    assert batch.next_cursor is None
    assert [row.number for row in batch.rows()] == [1, 2, 3]


# ---------------------------------------------------------------- archive


def test_archive_moves_the_file_and_never_deletes_it(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    content = status_file(*GOOD)
    put(tmp_path, "status_updates_1.csv", content)
    outcome = drive(feed, "status_update", today=TODAY)
    (kept,) = archived(tmp_path)
    assert kept.read_bytes() == content
    assert kept.name == f"{hashlib.sha256(content).hexdigest()[:8]}_status_updates_1.csv"
    assert kept.parent.name == TODAY.isoformat()
    assert not (tmp_path / "in" / "status_updates_1.csv").exists()
    assert outcome.accepted_count == 3
    if POSIX:
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700


def test_same_name_different_content_keeps_both_and_identical_redelivery_keeps_one(
    tmp_path: Path,
) -> None:
    feed = make_feed(tmp_path)
    first, second = status_file(GOOD[0]), status_file(GOOD[1])
    for content in (first, first, second):
        put(tmp_path, "status_updates_1.csv", content)
        drive(feed, "status_update", today=TODAY)
    assert sorted(p.read_bytes() for p in archived(tmp_path)) == sorted([first, second])


def test_a_file_that_changes_while_read_stays_in_the_inbox(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    path = put(tmp_path, "status_updates_1.csv", status_file(*GOOD))
    (batch,) = feed.inbound("status_update")
    path.write_bytes(status_file(*GOOD, GOOD[0]))  # the partner rewrote it in place
    rows = list(batch.rows())
    feed.archive(batch)
    assert len(rows) == 4
    assert batch.errors == ["the file changed while it was read; it stays in the inbox"]
    assert path.exists() and archived(tmp_path) == []


def test_archive_after_partial_read_closes_the_file_first(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    put(tmp_path, "status_updates_1.csv", status_file(*GOOD))
    (batch,) = feed.inbound("status_update")
    next(batch.rows())
    feed.archive(batch)
    assert len(archived(tmp_path)) == 1


@pytest.mark.skipif(not POSIX, reason="names with backslashes only exist on POSIX")
def test_partner_file_names_cannot_traverse_out_of_the_archive(tmp_path: Path) -> None:
    feed = make_feed(tmp_path, mapping=load_mapping("generic", base_dir=tmp_path))
    put(tmp_path, "status_updates_..\\..\\..\\evil:x.csv", status_file(*GOOD))
    drive(feed, "status_update", today=TODAY)
    (kept,) = archived(tmp_path)
    assert kept.parent.parent == tmp_path / "state" / "partners" / "cgc" / "archive"
    assert ":" not in kept.name and "\\" not in kept.name and ".." not in kept.name


# ---------------------------------------------------------------- quarantine


def test_quarantine_file_holds_original_columns_reason_and_row_and_is_private(
    tmp_path: Path,
) -> None:
    feed = make_feed(tmp_path)
    header = ("referral_id", "status", "status_date", "reason")
    put(
        tmp_path,
        "status_updates_1.csv",
        status_file(("R-1", "XYZ", "2026-09-01", "theirs"), header=header),
    )
    outcome = drive(feed, "status_update", today=TODAY)
    assert outcome.quarantined == [("status_updates_1.csv", 1, "status: unknown code 'XYZ'")]
    (path,) = (tmp_path / "state").glob("partners/cgc/quarantine/*/*.csv")
    assert path.name.endswith("_status_update_status_updates_1.csv")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        [
            "referral_id",
            "status",
            "status_date",
            "reason",
            "quarantine_reason",
            "source_row",
            "extra_fields",
        ],
        ["R-1", "XYZ", "2026-09-01", "theirs", "status: unknown code 'XYZ'", "1", ""],
    ]
    if POSIX:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for folder in (path.parent, path.parent.parent, tmp_path / "state" / "partners" / "cgc"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# ---------------------------------------------------------------- streaming


def test_large_file_is_streamed_in_bounded_memory(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    rows = 20_000
    size = write_status_rows(tmp_path / "in" / "status_updates_big.csv", rows, bad_every=1000)
    tracemalloc.start()
    try:
        outcome = drive(feed, "status_update", today=TODAY, keep_records=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.accepted_count == rows - 20 and len(outcome.quarantined) == 20
    assert peak < 1_000_000 < size  # under 1 MB while reading a 2 MB file: nothing grows with it


def test_rows_never_show_partner_values_in_their_repr(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    put(
        tmp_path,
        "status_updates_1.csv",
        status_file(("R-1", "accepted", "2026-09-01", "", "Dr Secret")),
    )
    (batch,) = feed.inbound("status_update")
    (row,) = batch.rows()
    assert "Dr Secret" not in repr(row) and "Dr Secret" not in repr(batch)


# ---------------------------------------------------------------- outbound


def read_csv(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.reader(fh))


def referral(**values: str) -> dict[str, str]:
    base = OutboundReferral(
        "R-1",
        "2026-09-01",
        "cgc",
        "c-1",
        "2027-06-30",
        student_number="10001",
        first_name="Ana",
        last_name="Diaz",
        guardian_phone="+1 203 555 0100",
    )
    return {**GENERIC.outbound_referral_row(base), **values}


def test_write_outbound_writes_the_file_and_its_notice(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    name = feed.write_outbound("referrals", RUN, [referral(), referral(referral_id="R-2")])
    assert name == f"referrals_{RUN}.csv"
    rows = read_csv(tmp_path / "out" / name)
    assert rows[0] == list(OUTBOUND_REFERRAL_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["R-1", "R-2"]
    assert rows[1][OUTBOUND_REFERRAL_COLUMNS.index("guardian_phone")] == "+1 203 555 0100"
    assert (tmp_path / "out" / name).read_bytes().count(b"\r\n") == 3
    notice = (tmp_path / "out" / f"NOTICE_{RUN}.txt").read_text(encoding="utf-8")
    assert notice == notice_text(RUN) and REDISCLOSURE_NOTICE in notice
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"NOTICE_{RUN}.txt", name]
    assert ":" not in name


def test_outbound_exists_answers_after_the_partner_collected_the_file(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    name = feed.write_outbound("revocations", RUN, [])
    assert feed.outbound_name("revocations", RUN) == name
    (tmp_path / "out" / name).unlink()
    assert feed.outbound_exists(name)
    assert not feed.outbound_exists(feed.outbound_name("referrals", RUN))
    assert read_csv(tmp_path / "out" / f"NOTICE_{RUN}.txt") != []


def test_failed_rename_leaves_no_partial_or_final_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = make_feed(tmp_path)
    real_replace = os.replace

    def failing_replace(src, dst):  # type: ignore[no-untyped-def]
        if str(dst).endswith(".csv"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        feed.write_outbound("referrals", RUN, [referral()])
    assert not feed.outbound_exists(f"referrals_{RUN}.csv")
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"NOTICE_{RUN}.txt"]


def test_failure_while_writing_leaves_nothing_behind(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    with pytest.raises(ValueError, match="columns the mapping does not write"):
        feed.write_outbound("referrals", RUN, [referral(), {"notes": "never shared"}])
    assert [p.name for p in (tmp_path / "out").iterdir()] == [f"NOTICE_{RUN}.txt"]


@pytest.mark.parametrize("bad", ["../escape", "a:b", "", "x/y", "run id"])
def test_unsafe_run_ids_and_names_are_refused(tmp_path: Path, bad: str) -> None:
    feed = make_feed(tmp_path)
    with pytest.raises(ValueError):
        feed.write_outbound("referrals", bad, [])
    with pytest.raises(ValueError):
        feed.outbound_exists(bad or "..")
    assert list((tmp_path / "out").iterdir()) == []


def test_bhcare_outbound_uses_its_columns(tmp_path: Path) -> None:
    feed = make_feed(tmp_path, mapping=BHCARE)
    ref = OutboundReferral("R-1", "2026-09-01", "bhcare", "c-1", "", reason_codes="anxiety,grief")
    name = feed.write_outbound("referrals", RUN, [BHCARE.outbound_referral_row(ref)])
    header, row = read_csv(tmp_path / "out" / name)
    assert header[:3] == ["ClientRefNo", "ReferralDt", "AgencyCode"]
    assert row[header.index("PresentingProblems")] == "ANX;GRF"
    assert row[header.index("ReferralDt")] == "09/01/2026"


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
_TRICKY = st.sampled_from(
    [
        "=1+1",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1)",
        "\t=x",
        "\r=x",
        " =x",
        "\uff1dx",
        "+1 (203) 555-0100",
        "-5",
        '=HYPERLINK("http://x")',
        "'=already",
        "",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cells=st.lists(st.lists(st.one_of(_TEXT, _TRICKY), min_size=16, max_size=16), max_size=5))
def test_no_outbound_cell_can_run_as_a_formula(
    tmp_path_factory: pytest.TempPathFactory, cells: list[list[str]]
) -> None:
    feed = make_feed(tmp_path_factory.mktemp("out"))
    rows = [dict(zip(OUTBOUND_REFERRAL_COLUMNS, r, strict=True)) for r in cells]
    name = feed.write_outbound("referrals", RUN, rows)
    written = read_csv(feed.outbox / name)[1:]
    assert len(written) == len(rows)
    for original, out in zip(cells, written, strict=True):
        for value, cell in zip(original, out, strict=True):
            assert is_neutralised(cell)
            assert cell in (value, "'" + value)  # nothing else about the value changes

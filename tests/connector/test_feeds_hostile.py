"""Every hostile partner file ends with each row read or quarantined with its exact reason."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from hostile.corpus import TODAY, Case, all_cases
from hostile.drive import drive
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.feeds.csv_feed import CsvFeed
from connector.mapping import load_mapping

CASES = {case.name: case for case in all_cases()}
MAPPINGS = {name: load_mapping(name, base_dir=Path(".")) for name in ("generic", "bhcare")}


def make_feed(tmp_path: Path, mapping: str = "generic") -> CsvFeed:
    for folder in ("in", "out"):
        (tmp_path / folder).mkdir(exist_ok=True)
    return CsvFeed(
        "cgc",
        MAPPINGS[mapping],
        inbox=tmp_path / "in",
        outbox=tmp_path / "out",
        state_dir=tmp_path / "state",
        today=lambda: TODAY,
    )


def drop(tmp_path: Path, files: dict[str, bytes]) -> None:
    for i, (name, content) in enumerate(files.items()):
        path = tmp_path / "in" / name
        path.write_bytes(content)
        os.utime(
            path, ns=(1_000_000_000 * (i + 1), 1_000_000_000 * (i + 1))
        )  # reading order = drop order


def quarantined_rows(tmp_path: Path) -> list[dict[str, str]]:
    rows = []
    for path in sorted((tmp_path / "state").glob("partners/cgc/quarantine/*/*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows.extend(csv.DictReader(fh))
    return rows


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_ends_read_or_quarantined_with_its_reason(tmp_path: Path, name: str) -> None:
    case: Case = CASES[name]
    feed = make_feed(tmp_path, case.mapping)
    drop(tmp_path, case.files)

    outcome = drive(feed, case.kind, today=TODAY)  # type: ignore[arg-type]

    assert outcome.rows() == list(case.expected)
    expected_batches = (
        case.batches if case.batches is not None else len(case.files) - len(case.left)
    )
    assert len(outcome.batches) == expected_batches
    for batch in outcome.batches:
        assert batch.errors == list(case.errors)
        if case.notes is not None:
            assert batch.notes == list(case.notes)
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted(case.left)
    assert len(list((tmp_path / "state").glob("partners/cgc/archive/*/*"))) == expected_batches
    reasons = [row["reason"] for row in quarantined_rows(tmp_path)]
    assert reasons == [reason for _, reason in case.expected if reason is not None]


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.values))
def test_hostile_row_values_are_kept_as_text(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    feed = make_feed(tmp_path, case.mapping)
    drop(tmp_path, case.files)
    seen = {}
    for batch in feed.inbound(case.kind):  # type: ignore[arg-type]
        seen.update({row.number: row.values for row in batch.rows()})
    for number, values in case.values.items():
        for column, text in values.items():
            assert seen[number][column] == text


def test_formula_text_in_quarantine_file_is_neutralised(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    header = "referral_id,status,status_date,first_service_date,status_reason\r\n"
    drop(
        tmp_path,
        {"status_updates_f.csv": (header + "R-1,XYZ,2026-09-01,,=cmd|' /C calc'!A0\r\n").encode()},
    )
    drive(feed, "status_update", today=TODAY)
    (row,) = quarantined_rows(tmp_path)
    assert row["status_reason"] == "'=cmd|' /C calc'!A0"
    assert row["reason"] == "status: unknown code 'XYZ'"


def test_quarantine_keeps_fields_beyond_the_header(tmp_path: Path) -> None:
    feed = make_feed(tmp_path)
    drop(tmp_path, CASES["field_count"].files)
    drive(feed, "status_update", today=TODAY)
    first, second = quarantined_rows(tmp_path)
    assert first["extra_fields"] == "stray" and first["source_row"] == "2"
    assert second["referral_id"] == "R-3" and second["status_date"] == ""


_CSVISH = st.lists(
    st.sampled_from(
        [
            b"R-1",
            b"received",
            b"2026-09-01",
            b",",
            b";",
            b'"',
            b"\r\n",
            b"\n",
            b"\r",
            b"\x00",
            b"\xe9",
            b"\xef\xbb\xbf",
            b"\xff\xfe",
            b"=1+1",
            b" ",
            b"x" * 50,
        ]
    ),
    max_size=40,
).map(b"".join)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_CSVISH)
def test_any_bytes_never_kill_the_run_and_every_row_is_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, body: bytes
) -> None:
    tmp_path = tmp_path_factory.mktemp("fuzz")
    feed = make_feed(tmp_path)
    header = b"referral_id,status,status_date,first_service_date,status_reason\r\n"
    drop(tmp_path, {"status_updates_fuzz.csv": header + body})

    outcome = drive(feed, "status_update", today=TODAY)

    numbers = [n for n, _ in outcome.rows()]
    assert numbers == sorted(set(numbers))  # each row once
    assert len(quarantined_rows(tmp_path)) == len(outcome.quarantined)
    assert not list((tmp_path / "in").iterdir())

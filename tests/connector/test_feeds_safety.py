"""Spreadsheet-formula neutralisation and file-name rules at the edge of a partner feed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.feeds.safety import (
    FORMULA_TRIGGERS,
    child_path,
    is_neutralised,
    is_partial_upload,
    neutralise_cell,
    require_plain_name,
    require_run_id,
    safe_component,
)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("-", "'-"),
        ("+1 (203) 555-0100", "+1 (203) 555-0100"),
        ("-5", "-5"),
        ("-1.5", "-1.5"),
        ("2026-09-01", "2026-09-01"),
        ("Ana", "Ana"),
        ("", ""),
    ],
)
def test_neutralise_cell(value: str, written: str) -> None:
    assert neutralise_cell(value) == written


@given(st.text())
def test_neutralised_cells_never_start_a_formula(value: str) -> None:
    cell = neutralise_cell(value)
    assert is_neutralised(cell)
    assert cell in (value, "'" + value)
    stripped = cell.lstrip(" ")
    if stripped.startswith(FORMULA_TRIGGERS):  # only a plain signed number or phone number may
        assert all(c in "+-\uff0b\uff0d0123456789 ().-" for c in stripped)


@pytest.mark.parametrize(
    "name",
    [
        ".status.csv",
        "status.csv.part",
        "status.csv.tmp",
        "~$status.csv",
        "status.csv.PART",
        "x.filepart",
    ],
)
def test_partial_uploads_are_recognised(name: str) -> None:
    assert is_partial_upload(name)


def test_complete_file_is_not_a_partial_upload() -> None:
    assert not is_partial_upload("status_updates_20260915.csv")


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("status_updates_1.csv", "status_updates_1.csv"),
        ("../../etc/passwd", "etc_passwd"),
        ("a:b*c?.csv", "a_b_c_.csv"),
        ("CON.csv", "_CON.csv"),
        ("...", "file"),
        ("x" * 300 + ".csv", "x" * 116 + ".csv"),
    ],
)
def test_safe_component(name: str, safe: str) -> None:
    assert safe_component(name) == safe


@given(st.text(min_size=1))
def test_safe_component_is_always_one_plain_name(name: str) -> None:
    safe = safe_component(name)
    assert require_plain_name(safe) == safe
    assert not safe.startswith(("-", "."))
    assert "/" not in safe and "\\" not in safe and ".." not in safe and ":" not in safe


@pytest.mark.parametrize("bad", ["../x", "a/b", "a\\b", "", ".hidden", "c:x", "NUL.txt", "a..b"])
def test_require_plain_name_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        require_plain_name(bad)


def test_child_path_stays_inside(tmp_path: Path) -> None:
    assert child_path(tmp_path, "referrals_x.csv") == tmp_path / "referrals_x.csv"
    with pytest.raises(ValueError):
        child_path(tmp_path, "../referrals_x.csv")


def test_run_ids_are_uuid_like() -> None:
    assert require_run_id("2f1c7a7e-5d1b-4a8e-9c7e-0d6c1b2a3f40")
    for bad in ("a:b", "../x", "", "x" * 65):
        with pytest.raises(ValueError):
            require_run_id(bad)

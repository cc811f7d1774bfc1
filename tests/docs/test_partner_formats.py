"""docs/partner-formats.md, the document a district hands to a partner, says what the connector
really writes and accepts: its columns, required fields, code lists, notice and upload rules come
from the same sources the connector uses."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import partner_codes  # noqa: E402

from connector.feeds.csv_feed import notice_text  # noqa: E402
from connector.feeds.safety import PARTIAL_SUFFIXES, is_partial_upload  # noqa: E402
from connector.mapping import load_mapping  # noqa: E402
from connector.records import (  # noqa: E402
    ALWAYS_SENT_COLUMNS,
    OUTBOUND_REFERRAL_COLUMNS,
    REDISCLOSURE_NOTICE,
    REVOCATION_COLUMNS,
    STATUS_UPDATE_COLUMNS,
    VISIT_COLUMNS,
    Revocation,
)

DOC = partner_codes.DOC


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _table_after(marker: str) -> list[list[str]]:
    """The rows (cells) of the Markdown table that follows `<!-- marker -->`."""
    text = _text()
    start = text.index(f"<!-- {marker} -->")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if not set("".join(cells)) <= set("-:"):
            rows.append(cells)
    return rows[1:]  # without the header row


def test_code_tables_are_the_packaged_catalogue() -> None:
    assert partner_codes.current(_text()) == partner_codes.render(), (
        "docs/partner-formats.md is out of date: run `python tests/docs/partner_codes.py`"
    )


@pytest.mark.parametrize("marker, columns", [
    ("referrals", OUTBOUND_REFERRAL_COLUMNS),
    ("revocations", REVOCATION_COLUMNS),
    ("status_updates", STATUS_UPDATE_COLUMNS),
    ("visits", VISIT_COLUMNS),
])
def test_column_tables_list_every_column_in_file_order(marker: str, columns: tuple[str, ...]) -> None:
    assert [row[0].strip("`") for row in _table_after(f"columns: {marker}")] == list(columns)


@pytest.mark.parametrize("marker, kind", [("status_updates", "status_update"), ("visits", "visit")])
def test_required_columns_are_the_ones_the_connector_requires(marker: str, kind: str) -> None:
    required = {row[0].strip("`") for row in _table_after(f"columns: {marker}") if row[1] == "yes"}
    assert required == set(load_mapping("generic", base_dir=DOC.parent).required_columns(kind))


def test_always_filled_referral_columns_are_named() -> None:
    sentence = _text().split("<!-- columns: referrals -->")[1].split("### Revocations")[0]
    for column in ALWAYS_SENT_COLUMNS:
        assert f"`{column}`" in sentence.split("are always")[0].rsplit("\n\n", 1)[-1]


def test_notice_and_revocation_instruction_are_quoted_exactly() -> None:
    text = _text()
    notice = text.split("<!-- notice -->\n")[1].split("\n\n###")[0]
    lines = [line.removeprefix(">").strip() for line in notice.splitlines()]
    assert lines[0] == REDISCLOSURE_NOTICE
    run_line = notice_text("<run_id>").splitlines()[-1]
    assert lines[-1].replace("`", "") == run_line
    instruction = _table_after("columns: revocations")[-1][1].strip('"')
    assert instruction == Revocation("r", "p", "c", "2026-01-01").instruction


def test_every_temporary_upload_name_the_doc_lists_is_left_alone() -> None:
    text = _text()
    for suffix in PARTIAL_SUFFIXES:
        assert f"`{suffix}`" in text, f"the upload rules do not mention {suffix}"
    for name in ("status_updates_20260914.csv.part", ".status_updates.csv", "~visits.csv",
                 "visits.csv.filepart", "visits.csv.crdownload", "visits.csv.tmp", "visits.csv.partial"):
        assert is_partial_upload(name)
    assert not is_partial_upload("status_updates_20260914.csv")

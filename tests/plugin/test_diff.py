"""`ssp plugin diff OLD.zip NEW.zip`: one line per unsafe change (exit 1); additions are safe;
changed content needs a higher version; a UI zip says which DATA version it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.build import build_plugins, data_files, ui_files
from plugin.package import write_zip
from ssp.cli import main

SCHEMA = "user_schema_root/U_SSP.xml"


@pytest.fixture
def old_zip(demo_config, tmp_path: Path) -> Path:
    data, _ = build_plugins(demo_config, tmp_path / "old")
    return data


@pytest.fixture
def variant(demo_config, tmp_path: Path):
    """A DATA zip whose schema has `old` replaced by `new` (text edits of the generated XML),
    at the next version unless `version` says otherwise."""

    def make(*edits: tuple[str, str], version: str = "0.1.0.0002") -> Path:
        base = data_files(demo_config, demo_config.catalogue(), version=version)
        text = base[SCHEMA].decode()
        for old, new in edits:
            assert old in text, old
            text = text.replace(old, new, 1)
        return write_zip(tmp_path / "new" / "ssp-data-new.zip", {**base, SCHEMA: text.encode()})

    return make


def _diff(old: Path, new: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["plugin", "diff", str(old), str(new)])
    return code, capsys.readouterr().out.splitlines()


UNSAFE = {
    "removed field": (
        ('<field name="STAFF_NAME" type="String" length="80"/>', ""),
        "removed field U_SSP_VISITS.STAFF_NAME",
    ),
    "type change": (
        ('<field name="TIER" type="String" length="20"/>', '<field name="TIER" type="Integer"/>'),
        "type change U_SSP_VISITS.TIER: String -> Integer",
    ),
    "shorter String": (
        (
            '<field name="STAFF_NAME" type="String" length="80"/>',
            '<field name="STAFF_NAME" type="String" length="60"/>',
        ),
        "shorter String U_SSP_VISITS.STAFF_NAME: 80 -> 60",
    ),
    "kind change": (
        (
            '<extendedTable type="standalone" dbTableName="U_SSP_PARTNERS"',
            '<extendedTable coreTable="STUDENTS" dbTableName="U_SSP_PARTNERS"',
        ),
        "table kind change U_SSP_PARTNERS: standalone -> child of STUDENTS",
    ),
    "removed table": (
        (
            'dbTableName="U_SSP_PARTNERS" childName="U_SSP_PARTNERS"',
            'dbTableName="U_SSP_PARTNERS2" childName="U_SSP_PARTNERS2"',
        ),
        "removed table U_SSP_PARTNERS",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_each_unsafe_change_is_refused_with_one_line(
    case: str, old_zip: Path, variant, capsys
) -> None:
    edit, line = UNSAFE[case]
    code, out = _diff(old_zip, variant(edit), capsys)
    assert code == 1
    assert [line for line in out if line.startswith("unsafe:")] == [f"unsafe: {line}" + _tail(line)]


def _tail(line: str) -> str:
    if line.startswith(("removed table", "removed field")):
        return " (its data would be lost)"
    if line.startswith("shorter String"):
        return " (PowerSchool cannot shrink a field)"
    return ""


def test_several_unsafe_changes_give_one_line_each(old_zip: Path, variant, capsys) -> None:
    shorter = (
        '<field name="REFERRED_BY" type="String" length="80"/>',
        '<field name="REFERRED_BY" type="String" length="40"/>',
    )
    code, out = _diff(
        old_zip, variant(UNSAFE["removed field"][0], UNSAFE["type change"][0], shorter), capsys
    )
    assert code == 1 and len(out) == 3 and all(line.startswith("unsafe: ") for line in out)


def test_additions_and_longer_strings_are_safe(old_zip: Path, variant, capsys) -> None:
    new = variant(
        (
            '<field name="STAFF_NAME" type="String" length="80"/>',
            '<field name="STAFF_NAME" type="String" length="120"/>',
        ),
        (
            '<field name="TIER" type="String" length="20"/>',
            '<field name="TIER" type="String" length="20"/>\n    <field name="FOLLOW_UP_DATE" type="Date"/>',
        ),
        (
            "</psExtension>",
            '  <extendedTable coreTable="STUDENTS" dbTableName="U_SSP_SCREENINGS" childName="U_SSP_SCREENINGS">'
            '<field name="SSP_UID" type="String" length="36"/></extendedTable>\n</psExtension>',
        ),
    )
    code, out = _diff(old_zip, new, capsys)
    assert code == 0
    assert out[0] == "no unsafe schema changes"
    assert set(out[1:]) == {
        "safe: longer String U_SSP_VISITS.STAFF_NAME: 80 -> 120",
        "safe: added field U_SSP_VISITS.FOLLOW_UP_DATE",
        "safe: added table U_SSP_SCREENINGS",
        "version: 0.1.0.0001 -> 0.1.0.0002",
    }


def test_identical_builds_have_no_changes(
    old_zip: Path, demo_config, tmp_path: Path, capsys
) -> None:
    again, _ = build_plugins(demo_config, tmp_path / "again")
    assert _diff(old_zip, again, capsys) == (
        0,
        ["no unsafe schema changes", "same content, same version 0.1.0.0001: nothing to upgrade"],
    )


def test_a_ui_zip_is_a_clear_usage_error(
    old_zip: Path, demo_config, tmp_path: Path, capsys
) -> None:
    _, ui = build_plugins(demo_config, tmp_path / "ui")
    assert main(["plugin", "diff", str(old_zip), str(ui)]) == 2
    err = capsys.readouterr().err
    assert "no user_schema_root/" in err and ui.name in err


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_unreadable_input_exits_2(
    old_zip: Path, tmp_path: Path, content: bytes | None, capsys
) -> None:
    bad = tmp_path / "bad.zip"
    if content is not None:
        bad.write_bytes(content)
    assert main(["plugin", "diff", str(old_zip), str(bad)]) == 2
    assert "bad.zip" in capsys.readouterr().err


def test_malformed_schema_xml_exits_2(old_zip: Path, variant, capsys) -> None:
    new = variant(("</psExtension>", "<unclosed>"))
    assert main(["plugin", "diff", str(old_zip), str(new)]) == 2
    assert "not well-formed" in capsys.readouterr().err


def test_schema_names_compare_ignoring_case(old_zip: Path, variant, capsys) -> None:
    new = variant(
        ('<field name="STAFF_NAME"', '<field name="staff_name"'), ('type="Date"', 'type="date"')
    )
    assert _diff(old_zip, new, capsys)[0] == 0


ADDED_FIELD = (
    '<field name="TIER" type="String" length="20"/>',
    '<field name="TIER" type="String" length="20"/><field name="FOLLOW_UP_DATE" type="Date"/>',
)


@pytest.mark.parametrize("version", ["0.1.0.0001", "0.1.0", "0.0.9.0001"])
def test_changed_content_without_a_higher_version_is_refused(
    old_zip: Path, variant, capsys, version: str
) -> None:
    code, out = _diff(old_zip, variant(ADDED_FIELD, version=version), capsys)
    assert code == 1
    assert out == [
        f"unsafe: content changed but the version did not increase: 0.1.0.0001 -> {version} "
        "(PowerSchool rejects a re-upload at the same or a lower version; a version must rise "
        "both part by part and as text)"
    ]


def test_a_version_higher_only_as_numbers_is_refused(demo_config, tmp_path: Path, capsys) -> None:
    cat = demo_config.catalogue()
    old = write_zip(tmp_path / "a.zip", data_files(demo_config, cat, version="0.1.0.9"))
    new = write_zip(tmp_path / "b.zip", data_files(demo_config, cat, version="0.1.0.10"))
    code, out = _diff(old, new, capsys)
    assert code == 1 and "did not increase: 0.1.0.9 -> 0.1.0.10" in out[0]


def test_a_renamed_plugin_is_not_an_upgrade(make_config, tmp_path: Path, capsys) -> None:
    _, old = build_plugins(make_config(), tmp_path / "a")
    _, new = build_plugins(make_config('[plugin]\nname = "Support Page"'), tmp_path / "b")
    code, out = _diff(old, new, capsys)
    assert code == 1
    assert out[0].startswith(
        "unsafe: plugin name changed: 'Student Support Page' -> 'Support Page'"
    )


def test_ui_upgrade_says_which_data_version_it_needs(demo_config, tmp_path: Path, capsys) -> None:
    cat = demo_config.catalogue()
    old = write_zip(tmp_path / "old.zip", ui_files(demo_config, cat))
    new = write_zip(
        tmp_path / "new.zip",
        ui_files(demo_config, cat, version="0.1.0.0002", data_version="0.1.0.0002"),
    )
    assert _diff(old, new, capsys) == (
        0,
        [
            "no unsafe changes",
            "version: 0.1.0.0001 -> 0.1.0.0002",
            "requires: Student Support Page DATA 0.1.0.0002 or later (was 0.1.0.0001): "
            "install or upgrade it before this zip",
        ],
    )


def test_ui_rebuilt_with_changes_at_the_same_version_is_refused(
    demo_config, tmp_path: Path, capsys
) -> None:
    cat = demo_config.catalogue()
    old = write_zip(tmp_path / "old.zip", ui_files(demo_config, cat))
    new = write_zip(tmp_path / "new.zip", ui_files(demo_config, cat, data_version="0.1.0.0002"))
    code, out = _diff(old, new, capsys)
    assert code == 1 and out[0].startswith("unsafe: content changed but the version did not")


def test_two_builds_in_a_row_pass_diff(make_config, tmp_path: Path, capsys) -> None:
    old_data, old_ui = build_plugins(make_config(), tmp_path)
    new_data, new_ui = build_plugins(make_config('[plugin]\ndescription = "x"'), tmp_path)
    assert _diff(old_ui, new_ui, capsys)[0] == 0
    assert _diff(old_data, new_data, capsys)[0] == 0

"""Plugin versions PowerSchool accepts: changed content -> higher version; same content ->
same version and bytes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from plugin.build import build_plugins
from foundation.catalogue import load_catalogue
from plugin.versions import (
    STATE_FILE,
    next_version,
    parse_requires,
    requires_text,
    version_increases,
)
from ssp.cli import main
from foundation.errors import ConfigError

NS = {"p": "http://plugin.powerschool.pearson.com"}


def _manifest(path: Path) -> etree._Element:
    with zipfile.ZipFile(path) as zf:
        return etree.fromstring(zf.read("plugin.xml"))


def _version(path: Path) -> str:
    return _manifest(path).get("version")


def test_first_build_is_release_dot_0001(demo_config, tmp_path: Path) -> None:
    data, ui = build_plugins(demo_config, tmp_path)
    assert (_version(data), _version(ui)) == ("0.1.0.0001", "0.1.0.0001")


def test_rebuilding_the_same_content_keeps_the_version_and_the_bytes(
    demo_config, tmp_path: Path
) -> None:
    first = [p.read_bytes() for p in build_plugins(demo_config, tmp_path)]
    again = build_plugins(demo_config, tmp_path)
    assert [p.name for p in again] == ["ssp-data-0.1.0.0001.zip", "ssp-ui-0.1.0.0001.zip"]
    assert [p.read_bytes() for p in again] == first


def test_changed_ui_content_gets_a_higher_ui_version_and_data_keeps_its_own(
    make_config, tmp_path: Path
) -> None:
    data1, ui1 = build_plugins(make_config(), tmp_path)
    data2, ui2 = build_plugins(make_config('[plugin]\ndescription = "New text"'), tmp_path)
    assert version_increases(_version(ui1), _version(ui2))
    assert _version(ui2) == "0.1.0.0002"
    assert data2 == data1 and _version(data2) == "0.1.0.0001"
    # the earlier zips are kept, never overwritten
    assert ui1.is_file() and ui1 != ui2


def test_every_change_back_and_forth_still_increases(make_config, tmp_path: Path) -> None:
    texts = ["A", "B", "A", "B"]
    versions = [
        _version(build_plugins(make_config(f'[plugin]\ndescription = "{t}"'), tmp_path)[1])
        for t in texts
    ]
    assert versions == ["0.1.0.0001", "0.1.0.0002", "0.1.0.0003", "0.1.0.0004"]


def test_a_schema_change_raises_the_data_version_and_the_ui_names_it(
    make_config, catalogue_variant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config()
    build_plugins(config, tmp_path)
    longer = load_catalogue(catalogue_variant("length = 80", "length = 120"), partners=[])
    monkeypatch.setattr(type(config), "catalogue", lambda self: longer)
    data, ui = build_plugins(config, tmp_path)
    assert _version(data) == "0.1.0.0002"
    description = _manifest(ui).get("description")
    assert parse_requires(description) == ("Student Support Page DATA", "0.1.0.0002")
    assert _version(ui) == "0.1.0.0002"


def test_ui_description_names_the_data_version_within_256_characters(
    make_config, tmp_path: Path
) -> None:
    _, ui = build_plugins(make_config(f'[plugin]\ndescription = "{"x" * 256}"'), tmp_path)
    description = _manifest(ui).get("description")
    assert len(description) <= 256
    assert description.startswith(requires_text("Student Support Page DATA", "0.1.0.0001"))


def test_a_new_release_restarts_the_counter_of_changed_plugins(
    make_config, tmp_path: Path
) -> None:
    build_plugins(make_config('[plugin]\nversion = "1.2"'), tmp_path)
    build_plugins(make_config('[plugin]\nversion = "1.2"\ndescription = "x"'), tmp_path)
    data, ui = build_plugins(make_config('[plugin]\nversion = "1.3"\ndescription = "y"'), tmp_path)
    # the DATA content never changed, so it keeps its version (no needless re-upload)
    assert (_version(data), _version(ui)) == ("1.2.0001", "1.3.0001")


def test_a_release_below_the_previous_build_is_a_configuration_error(
    make_config, write_config, tmp_path: Path, capsys
) -> None:
    build_plugins(make_config('[plugin]\nversion = "2.0"'), tmp_path / "dist")
    config = write_config('[plugin]\nversion = "1.9"\ndescription = "changed"')
    code = main(["plugin", "build", "--config", str(config), "--out", str(tmp_path / "dist")])
    assert code == 2
    err = capsys.readouterr().err
    assert "plugin.version" in err and "2.0.0001" in err and "lower version" in err


def test_previous_zip_from_elsewhere_sets_the_floor(make_config, tmp_path: Path) -> None:
    """A fresh checkout (no record beside the output) given the installed zips."""
    config = make_config()
    build_plugins(config, tmp_path / "old")
    changed = make_config('[plugin]\ndescription = "changed"')
    old_data, old_ui = build_plugins(changed, tmp_path / "old")  # installed: DATA 0001, UI 0002
    data, ui = build_plugins(config, tmp_path / "fresh", previous=[old_data, old_ui])
    assert _version(ui) == "0.1.0.0003"
    assert data.read_bytes() == old_data.read_bytes()  # unchanged DATA: same version, same bytes


def test_previous_zip_of_another_plugin_is_refused(make_config, tmp_path: Path) -> None:
    _, ui = build_plugins(make_config('[plugin]\nname = "Other Plugin"'), tmp_path / "other")
    with pytest.raises(ConfigError, match="Other Plugin"):
        build_plugins(make_config(), tmp_path / "dist", previous=[ui])


def test_cli_build_accepts_previous(write_config, make_config, tmp_path: Path, capsys) -> None:
    _, old_ui = build_plugins(make_config('[plugin]\ndescription = "old"'), tmp_path / "old")
    out = tmp_path / "dist"
    args = ["plugin", "build", "--config", str(write_config()), "--out", str(out)]
    assert main([*args, "--previous", str(old_ui)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == str(out / "ssp-ui-0.1.0.0002.zip")


def test_the_record_beside_the_zips_names_each_plugin(demo_config, tmp_path: Path) -> None:
    build_plugins(demo_config, tmp_path)
    record = json.loads((tmp_path / STATE_FILE).read_text())
    assert [(p["name"], p["version"], p["zip"]) for p in record["plugins"]] == [
        ("Student Support Page", "0.1.0.0001", "ssp-ui-0.1.0.0001.zip"),
        ("Student Support Page DATA", "0.1.0.0001", "ssp-data-0.1.0.0001.zip"),
    ]


def test_a_damaged_record_is_a_clear_error(demo_config, tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match=STATE_FILE):
        build_plugins(demo_config, tmp_path)


@pytest.mark.parametrize(
    ("previous", "release", "expected"),
    [
        ("0.1.0", "0.1.0", "0.1.0.0001"),  # a zip built before build numbers existed
        ("0.1.0.0009", "0.1.0", "0.1.0.0010"),
        ("0.1.0.0042", "0.2.0", "0.2.0.0001"),
        ("25.07.06", "26.1", "26.1.0001"),
    ],
)
def test_next_version(previous: str, release: str, expected: str) -> None:
    assert next_version(previous, release) == expected


def test_numbers_but_not_text_order_is_refused() -> None:
    with pytest.raises(ConfigError, match="not as text"):
        next_version("0.9.0.0003", "0.10.0")


@given(st.integers(min_value=1, max_value=9998))
def test_the_next_build_is_higher_as_numbers_and_as_text(counter: int) -> None:
    previous = f"1.4.{counter:04d}"
    new = next_version(previous, "1.4")
    assert new > previous and tuple(map(int, new.split("."))) > tuple(map(int, previous.split(".")))

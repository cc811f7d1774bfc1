"""The two plugin zips: deterministic bytes, layout, names, and the `ssp plugin build` command."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from plugin.build import build_plugins, data_files, ui_files
from plugin.package import FIXED_DATE, check_entry_name, write_zip
from ssp.cli import main

NS = {"p": "http://plugin.powerschool.pearson.com"}


def test_building_twice_gives_byte_identical_zips(demo_config, tmp_path: Path) -> None:
    first = build_plugins(demo_config, tmp_path / "a")
    second = build_plugins(demo_config, tmp_path / "b")
    for one, two in zip(first, second):
        assert one.read_bytes() == two.read_bytes()


def test_zip_names_carry_the_release_and_build_number(make_config, tmp_path: Path) -> None:
    config = make_config('[plugin]\nversion = "2026.9.1"')
    data, ui = build_plugins(config, tmp_path)
    assert (data.name, ui.name) == ("ssp-data-2026.9.1.0001.zip", "ssp-ui-2026.9.1.0001.zip")


def test_default_release_is_the_package_version(demo_config, tmp_path: Path) -> None:
    import foundation

    data, ui = build_plugins(demo_config, tmp_path)
    assert (
        data.name == f"ssp-data-{foundation.__version__}.0001.zip"
        and ui.name == f"ssp-ui-{foundation.__version__}.0001.zip"
    )


def _entries(path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        return zf.infolist()


def test_zip_layout_plugin_xml_at_root_forward_slashes_no_junk(demo_config, tmp_path: Path) -> None:
    data, ui = build_plugins(demo_config, tmp_path)
    assert [i.filename for i in _entries(data)] == ["plugin.xml", "user_schema_root/U_SSP.xml"]
    assert [i.filename for i in _entries(ui)] == [
        "pagecataloging/student_support.json",
        "plugin.xml",
        "queries_root/org.bridgeport.ssp.named_queries.xml",
        "web_root/admin/students/more2.student_support.leftnav.footer.txt",
        "web_root/admin/students/student_support.html",
        "web_root/admin/students/student_support_consents.html",
        "web_root/admin/students/student_support_disclosures.html",
        "web_root/admin/students/student_support_referrals.html",
        "web_root/admin/students/student_support_visits.html",
    ]
    for info in _entries(data) + _entries(ui):
        assert "\\" not in info.filename and not info.filename.startswith("/") and not info.is_dir()
        assert info.date_time == FIXED_DATE
        assert info.external_attr >> 16 == 0o100644
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_data_plugin_is_schema_only_without_oauth(demo_config) -> None:
    files = data_files(demo_config, demo_config.catalogue())
    root = etree.fromstring(files["plugin.xml"])
    assert root.get("name") == "Student Support Page DATA"
    assert root.find("p:oauth", NS) is None and root.find("p:access_request", NS) is None
    contact = root.find("p:publisher/p:contact", NS)
    assert root.find("p:publisher", NS).get("name") == "Bridgeport Public Schools"
    assert contact.get("email") == "sis@district.example.org"


def test_ui_plugin_has_no_schema_and_no_permission_mappings(demo_config) -> None:
    files = ui_files(demo_config, demo_config.catalogue())
    assert not any(n.startswith(("user_schema_root/", "permissions_root/")) for n in files)
    root = etree.fromstring(files["plugin.xml"])
    assert root.get("name") == "Student Support Page"
    assert root.find("p:oauth", NS) is not None


@pytest.mark.parametrize(
    "name",
    ["a\\b.txt", "/abs.txt", "../up.txt", "__MACOSX/x", "web_root/.DS_Store", "dir/", "", "a/./b"],
)
def test_bad_entry_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        check_entry_name(name)


def test_a_zip_without_plugin_xml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_zip(tmp_path / "x.zip", {"web_root/a.html": b""})
    assert not list(tmp_path.iterdir())


def test_cli_build_prints_both_paths(
    write_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dist"
    assert main(["plugin", "build", "--config", str(write_config()), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [str(out / "ssp-data-0.1.0.0001.zip"), str(out / "ssp-ui-0.1.0.0001.zip")]
    assert all(Path(line).is_file() for line in lines)


def test_cli_build_without_config_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            ["plugin", "build", "--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path)]
        )
        == 2
    )
    assert "missing.toml" in capsys.readouterr().err


def test_cli_preview_prints_the_page_path(
    write_config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["plugin", "preview", "--config", str(write_config()), "--out", str(tmp_path / "p")])
        == 0
    )
    path = Path(capsys.readouterr().out.strip())
    assert path == tmp_path / "p" / "student_support.html" and path.is_file()

"""ssp.toml validation: errors name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssp.config import demo_config_text, parse_config_text


def test_duplicate_partner_id_is_a_config_error_naming_the_partners_key(tmp_path: Path):
    from ssp.errors import ConfigError

    text = demo_config_text().replace('id = "bhcare"', 'id = "cgc"')
    with pytest.raises(ConfigError, match=r"ssp.toml: partners: partner id 'cgc' appears twice"):
        parse_config_text(text, source="ssp.toml", base_dir=tmp_path)


def _folders(tmp_path: Path, inbox: str, outbox: str):
    from ssp.config_checks import Folder

    return [
        Folder("state.dir", tmp_path / "var" / "ssp", "state"),
        Folder("partners[0] (cgc).feed.inbox", tmp_path / "feeds" / "cgc" / "in", "feed"),
        Folder("partners[0] (cgc).feed.outbox", tmp_path / "feeds" / "cgc" / "out", "feed"),
        Folder("partners[1] (bhcare).feed.inbox", tmp_path / inbox, "feed"),
        Folder("partners[1] (bhcare).feed.outbox", tmp_path / outbox, "feed"),
    ]


def test_folders_differing_only_in_case_are_one_folder_on_a_case_insensitive_file_system(
    tmp_path: Path,
):
    from ssp.config_checks import check_folders
    from ssp.errors import ConfigError

    folders = _folders(tmp_path, "Feeds/CGC/Out", "feeds/bhcare/out")
    check_folders(folders, source="ssp.toml", case_insensitive=lambda path: False)
    with pytest.raises(ConfigError, match=r"partners\[1\] \(bhcare\)\.feed\.inbox: .*same folder "
                       r"as partners\[0\] \(cgc\)\.feed\.outbox"):
        check_folders(folders, source="ssp.toml", case_insensitive=lambda path: True)


def test_case_insensitivity_is_probed_on_the_nearest_existing_folder(tmp_path: Path):
    from ssp.config_checks import _case_insensitive_fs

    (tmp_path / "Drop").mkdir()
    probe = str(tmp_path / "Drop" / "not" / "yet")
    expected = (tmp_path / "dROP").exists()  # True only where the file system ignores case
    assert _case_insensitive_fs(probe) is expected


def test_the_state_directory_may_not_hold_a_partner_folder(tmp_path: Path):
    from ssp.errors import ConfigError

    text = demo_config_text().replace('inbox = "feeds/cgc/in"', 'inbox = "var/ssp/cgc-in"')
    with pytest.raises(ConfigError, match=r"partners\[0\] \(cgc\)\.feed\.inbox: .* inside state\.dir"):
        parse_config_text(text, source="ssp.toml", base_dir=tmp_path)


def test_mapping_templates_that_differ_only_inside_the_run_id_shape_are_accepted():
    from connector.mapping_file import _check_templates_apart

    # "a" + run id and run id + "a" never match: a run id has dashes at fixed places
    _check_templates_apart("a{run_id}.csv", "{run_id}a.csv", "m.toml")
    with pytest.raises(Exception, match="revocation.file"):
        _check_templates_apart("out_{run_id}.csv", "OUT_{run_id}.csv", "m.toml")

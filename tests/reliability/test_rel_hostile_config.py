"""Hostile configuration, partner mapping and catalogue files: each ends in a clear error that
names the file and the key, with exit code 2 (`ssp.cli.main`), never a traceback, never the value
of a secret that was put where it does not belong."""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from reliability_kit import figures
from reliability_kit.world import config_text

from foundation.catalogue import load_catalogue
from foundation.errors import ConfigError
from ssp.cli import main

SECRET = "s3cr3t-Value-4711"
Edit = Callable[[str], str]


def under(section: str, line: str) -> Edit:
    return lambda text: text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)


def sub(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


PARTNER_CGC = 'id = "cgc"'
# name -> (edit of a valid ssp.toml, the key the error must name, words it must contain)
CONFIG_CASES: dict[str, tuple[Edit, str, str]] = {
    "toml_syntax": (sub("[district]", "[district"), "not valid TOML", "line"),
    "unknown_section": (lambda t: t + "\n[colour]\nshade = 1\n", "colour", 'unknown key "colour"'),
    "unknown_key": (under("district", 'colour = "red"'), "district.colour", 'unknown key "colour"'),
    "secret_in_the_file": (
        under("powerschool", f'client_secret = "{SECRET}"'),
        "powerschool.client_secret",
        "",
    ),
    "int_as_text": (
        sub("max_workers = 4", 'max_workers = "four"'),
        "powerschool.max_workers",
        "whole number",
    ),
    "int_out_of_range": (
        sub("max_workers = 4", "max_workers = 99"),
        "powerschool.max_workers",
        "16",
    ),
    "duplicate_key": (under("powerschool", "max_workers = 2"), "not valid TOML", "line 12"),
    "negative_timeout": (
        under("powerschool", "timeout_seconds = -1"),
        "powerschool.timeout_seconds",
        "",
    ),
    "date_as_word": (sub("effective = 2020-01-01", 'effective = "yesterday"'), "mou.effective", ""),
    "mou_ends_before_it_starts": (
        sub("expires = 2099-12-31", "expires = 2019-12-31"),
        "mou",
        "expires",
    ),
    "http_to_a_remote_host": (
        sub('base_url = "http://127.0.0.1', 'base_url = "http://ps.example.org#'),
        "powerschool.base_url",
        "https is required",
    ),
    "http_to_a_loopback_look_alike": (
        sub('base_url = "http://127.0.0.1', 'base_url = "http://127.0.0.1.nip.io#'),
        "powerschool.base_url",
        "https is required",
    ),
    "http_to_localhost_subdomain": (
        sub('base_url = "http://127.0.0.1', 'base_url = "http://localhost.evil.example#'),
        "powerschool.base_url",
        "https is required",
    ),
    "not_a_web_url": (
        sub('base_url = "http://127.0.0.1', 'base_url = "file:///etc/passwd#'),
        "powerschool.base_url",
        "not an http(s) URL",
    ),
    "choice_code_with_spaces": (
        sub('code = "vaping"', 'code = "vap ing!"'),
        "choices.purpose.add[0].code",
        "must match",
    ),
    "choice_code_too_long": (
        sub('code = "vaping"', f'code = "{"v" * 21}"'),
        "choices.purpose.add[0].code",
        "must match",
    ),
    "choice_code_duplicate_ignoring_case": (
        sub('code = "vaping"', 'code = "CRISIS"'),
        "choices.purpose",
        "crisis",
    ),
    "choice_remove_unknown": (
        under("choices.purpose", 'remove = ["no_such_code"]'),
        "choices.purpose",
        "no_such_code",
    ),
    "unknown_choice_list": (
        lambda t: t + '\n[choices.colour]\nremove = ["red"]\n',
        "choices.colour",
        "",
    ),
    "plugin_name_too_long": (
        lambda t: t + f'\n[plugin]\nname = "{"P" * 36}"\n',
        "plugin.name",
        "35",
    ),
    "district_name_too_long": (
        sub('name = "Bridgeport Public Schools (demo)"', f'name = "{"D" * 121}"'),
        "district.name",
        "120",
    ),
    "bad_email": (
        sub('contact_email = "sis@district.example.org"', 'contact_email = "not-an-address"'),
        "district.contact_email",
        "e-mail",
    ),
    "powerschool_namespace": (
        sub('query_namespace = "org.bridgeport.ssp"', 'query_namespace = "com.powerschool.ssp"'),
        "district.query_namespace",
        "PowerSchool's own",
    ),
    "namespace_parts": (
        sub('query_namespace = "org.bridgeport.ssp"', 'query_namespace = "org.bridgeport"'),
        "district.query_namespace",
        "three",
    ),
    "partner_id_with_spaces": (sub(PARTNER_CGC, 'id = "Child Guidance"'), "partners", "id"),
    "partner_id_path_traversal": (sub(PARTNER_CGC, 'id = "../../etc"'), "partners", "id"),
    "duplicate_partner": (sub('id = "bhcare"', 'id = "cgc"'), "partner id 'cgc'", "appears twice"),
    "unknown_data_category": (
        sub('to_school = ["referral_status"]', 'to_school = ["everything"]'),
        "to_school",
        "",
    ),
    "unknown_feed_kind": (
        sub('kind = "csv", inbox = "feeds/cgc/in"', 'kind = "ftp", inbox = "feeds/cgc/in"'),
        "feed",
        "",
    ),
    "cron_with_four_fields": (
        sub('cron = "15 4 * * *"', 'cron = "15 4 * *"'),
        "schedule.cron",
        "five-field",
    ),
    "bad_timezone": (
        sub('timezone = "America/New_York"', 'timezone = "Mars/Olympus_Mons"'),
        "schedule.timezone",
        "",
    ),
    "partners_share_an_outbox_written_differently": (
        sub('outbox = "feeds/bhcare/out"', 'outbox = "./feeds/x/../cgc/out/"'),
        "partners[bhcare].feed.outbox",
        "partners[cgc].feed.outbox",
    ),
    "partner_inbox_is_its_outbox": (
        sub('inbox = "feeds/bhcare/in"', 'inbox = "feeds/bhcare/out"'),
        "partners[bhcare].feed.outbox",
        "partners[bhcare].feed.inbox",
    ),
    "state_dir_is_a_partner_inbox": (
        sub('dir = "var/ssp"', 'dir = "feeds/cgc/in"'),
        "partners[cgc].feed.inbox",
        "state.dir",
    ),
    "partner_token_is_the_powerschool_secret": (
        sub(
            'feed = { kind = "csv", inbox = "feeds/bhcare/in", outbox = "feeds/bhcare/out" }',
            'feed = { kind = "http", base_url = "http://127.0.0.1:9", token_env = "SSP_CLIENT_SECRET" }',
        ),
        "partners[bhcare].feed.token_env",
        "SSP_CLIENT_SECRET",
    ),
    "reserved_internal_key": (lambda t: 'source = "elsewhere.toml"\n' + t, "source", "unknown key"),
}


def _write(tmp_path: Path, text: str, name: str = "ssp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("ssp: error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("name", CONFIG_CASES)
def test_hostile_config_is_a_clear_error_naming_file_and_key_with_exit_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit, key, words = CONFIG_CASES[name]
    path = _write(tmp_path, edit(config_text("http://127.0.0.1:9")))
    for argv in (
        ["sync", "status", "--config", str(path)],
        ["plugin", "build", "--config", str(path), "--out", str(tmp_path / "dist")],
    ):
        code, err = _run(argv, capsys)
        line = _error_line(err)
        assert code == 2, err
        assert line.startswith(f"ssp: error: {path}: "), line
        assert key in line and words.lower() in line.lower(), line
        assert SECRET not in err
    assert not (tmp_path / "dist").exists()
    figures.add("hostile config files tried")


def test_the_unedited_config_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control: every case above differs from a file that loads (exit 0)."""
    path = _write(tmp_path, config_text("http://127.0.0.1:9"))
    assert _run(["sync", "status", "--config", str(path)], capsys)[0] == 0
    for loopback in (
        "http://localhost:9",
        "http://[::1]:9",
        "https://district.powerschool.example",
    ):
        path = _write(tmp_path, config_text(loopback))
        assert _run(["sync", "status", "--config", str(path)], capsys)[0] == 0, loopback


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfe[district]\n", "cannot read"),
        (b"", "district"),
        (b"\x00\x00\x00", ""),
    ],
)
def test_unreadable_config_bytes_are_a_clear_error(
    content: bytes, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ssp.toml"
    path.write_bytes(content)
    code, err = _run(["sync", "status", "--config", str(path)], capsys)
    line = _error_line(err)
    assert code == 2 and str(path) in line and words in line, line
    figures.add("hostile config files tried")


@pytest.mark.parametrize("cron", ["99 * * * *", "15 4 * * mon-funday", "15 4 31 2 *x"])
def test_a_cron_expression_the_scheduler_cannot_use_is_a_clear_error_not_a_traceback(
    cron: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked when `ssp sync schedule` builds its trigger (fixed: it was a traceback, exit 1)."""
    path = _write(
        tmp_path,
        config_text("http://127.0.0.1:9").replace('cron = "15 4 * * *"', f'cron = "{cron}"'),
    )
    monkeypatch.setenv("SSP_CLIENT_ID", "id")
    monkeypatch.setenv("SSP_CLIENT_SECRET", SECRET)
    code, err = _run(["sync", "schedule", "--config", str(path)], capsys)
    line = _error_line(err)
    assert code == 2 and line.startswith(
        f"ssp: error: {path}: schedule.cron: not a valid cron expression"
    ), line
    figures.add("hostile config files tried")


def test_missing_config_or_a_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in (tmp_path / "absent.toml", tmp_path):
        code, err = _run(["sync", "status", "--config", str(path)], capsys)
        assert code == 2 and str(path) in _error_line(err)
    figures.add("hostile config files tried", 2)


# -- partner mapping files (named by `mapping = "<path>"`) -----------------------------------------


def _mapping(edit: Edit) -> str:
    return edit(
        resources.files("field_mappings").joinpath("partners/bhcare.toml").read_text("utf-8")
    )


MAPPING_CASES: dict[str, tuple[Edit, str]] = {
    "toml_syntax": (sub("[status_update]", "[status_update"), "not valid TOML"),
    "unknown_key": (under("status_update", "bogus = 1"), "status_update.bogus"),
    "bad_type": (sub('delimiter = ","', "delimiter = 44"), "mapping.delimiter"),
    "unknown_canonical_column": (
        under("status_update.columns", 'shoe_size = "Shoe"'),
        "status_update.columns",
    ),
    "unknown_status_code_target": (
        under("status_update.codes.status", 'teleported = "TLP"'),
        "status_update.codes",
    ),
    "revocation_file_named_as_the_referral_file": (
        sub('file = "revocations_{run_id}.csv"', 'file = "referrals_{run_id}.csv"'),
        "revocation.file",
    ),
}


@pytest.mark.parametrize("name", MAPPING_CASES)
def test_hostile_partner_mapping_file_is_a_clear_error_naming_it(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit, key = MAPPING_CASES[name]
    mapping = _write(tmp_path, _mapping(edit), "bhcare_custom.toml")
    config = _write(
        tmp_path,
        config_text("http://127.0.0.1:9").replace(
            'mapping = "bhcare"', f'mapping = "{mapping.name}"'
        ),
    )
    for folder in ("feeds/cgc/in", "feeds/cgc/out", "feeds/bhcare/in", "feeds/bhcare/out"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("SSP_CLIENT_ID", "id")
    monkeypatch.setenv("SSP_CLIENT_SECRET", SECRET)
    code, err = _run(["sync", "run", "--config", str(config)], capsys)
    line = _error_line(err)
    assert code == 2 and str(mapping) in line and key in line, line
    assert SECRET not in err
    figures.add("hostile config files tried")


# -- catalogue files (the data collection template) ---------------------------------------------


def _catalogue(edit: Edit) -> str:
    return edit(
        resources.files("field_mappings").joinpath("student_support.toml").read_text("utf-8")
    )


CATALOGUE_CASES: dict[str, tuple[Edit, str, str]] = {
    "toml_syntax": (sub("[extension]", "[extension"), "", "not valid TOML"),
    "unknown_key": (under("extension", 'colour = "red"'), "extension.colour", ""),
    "reserved_word_field": (
        sub('name = "TIER",', 'name = "LEVEL",'),
        "fields[8] (LEVEL).name",
        "reserved word",
    ),
    "reserved_word_field_lower_case": (
        sub('name = "TIER",', 'name = "select",'),
        "fields[8] (select).name",
        "reserved",
    ),
    "table_name_too_long": (
        sub('name = "U_SSP_VISITS"', f'name = "U_SSP_{"V" * 30}"'),
        "tables[0] (U_SSP_VVV",
        "at most 30",
    ),
    "field_name_too_long": (
        sub('name = "STAFF_NAME",', f'name = "STAFF_{"N" * 30}",'),
        "fields[4] (STAFF_NNN",
        "at most 30",
    ),
    "field_name_with_symbols": (
        sub('name = "STAFF_NAME",', 'name = "STAFF-NAME;DROP",'),
        "fields[4] (STAFF-NAME;DROP).name",
        "only letters",
    ),
    "string_too_long": (
        sub(
            'length = 4000, label = "Notes (never shared)"',
            'length = 5000, label = "Notes (never shared)"',
        ),
        "fields[12] (NOTES).length",
        "4000",
    ),
    "bad_choice_code": (
        sub('code = "anxiety"', 'code = "anx iety"'),
        "choices.referral_reason.options[0].code",
        "must match",
    ),
    "duplicate_choice_code": (
        sub('code = "depression"', 'code = "ANXIETY"'),
        "choices.referral_reason.options[1].code",
        "duplicate",
    ),
    "unknown_choice_list": (
        sub('choice = "staff_role"', 'choice = "no_such_list"'),
        "fields[5] (STAFF_ROLE).choice",
        "no_such_list",
    ),
    "bad_field_type": (
        sub(
            '{ name = "VISIT_DATE",       type = "Date"',
            '{ name = "VISIT_DATE",       type = "Blob"',
        ),
        "tables[0].fields[1]",
        "",
    ),
}


@pytest.mark.parametrize("name", CATALOGUE_CASES)
def test_hostile_catalogue_file_is_a_clear_error_naming_file_and_key(
    name: str, tmp_path: Path
) -> None:
    edit, key, words = CATALOGUE_CASES[name]
    path = _write(tmp_path, _catalogue(edit), "catalogue.toml")
    with pytest.raises(ConfigError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert info.value.exit_code == 2 and message.startswith(f"{path}: "), message
    assert key in message and words.lower() in message.lower(), message
    assert not re.search(r"Traceback|\n", message)
    figures.add("hostile config files tried")

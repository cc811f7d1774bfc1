"""A broken mapping file is a configuration error that names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.mapping import load_mapping
from foundation.errors import ConfigError

HEAD = '[mapping]\nname = "acme"\n'


def load_text(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "maps").mkdir(exist_ok=True)
    (tmp_path / "maps" / "acme.toml").write_text(text, encoding="utf-8")
    return load_mapping("maps/acme.toml", base_dir=tmp_path)


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert str(tmp_path / "maps" / "acme.toml") in message
    assert info.value.exit_code == 2
    return message


def test_minimal_file_gets_the_canonical_defaults(tmp_path: Path) -> None:
    mapping = load_text(tmp_path, HEAD)
    assert mapping.name == "acme"
    assert mapping.inbound_patterns("visit") == ("visits*.csv",)
    assert mapping.outbound_file_name("referrals", "r1") == "referrals_r1.csv"


def test_path_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    load_text(tmp_path, HEAD)
    assert (
        load_mapping(str(tmp_path / "maps" / "acme.toml"), base_dir=Path("/nowhere")).name == "acme"
    )


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (
            HEAD + '[status_update.columns]\nfoo = "Foo"\n',
            "status_update.columns.foo",
            "unknown field 'foo'",
        ),
        (
            HEAD + '[status_update.columns]\nstatus = "X"\nstatus_date = "x"\n',
            "status_update.columns.status_date",
            "column 'x' is used for both status and status_date",
        ),
        (
            HEAD + '[status_update.columns]\nstatus = " X"\n',
            "status_update.columns.status",
            "surrounding spaces",
        ),
        (
            HEAD + '[status_update.codes.status]\nrecieved = "R"\n',
            "status_update.codes.status.recieved",
            "'recieved' is not a referral_status code",
        ),
        (
            HEAD + '[status_update.codes.status]\nsent = "S"\n',
            "status_update.codes.status.sent",
            "'sent' is not a referral_status code",
        ),
        (
            HEAD + '[status_update.codes.status]\nreceived = "R"\naccepted = ["A", "r"]\n',
            "status_update.codes.status.accepted",
            "partner code 'r' is also used for 'received'",
        ),
        (
            HEAD + '[status_update.codes.status_date]\nx = "y"\n',
            "status_update.codes.status_date",
            "'status_date' has no codes to translate",
        ),
        (
            HEAD + '[visit.codes.service_codes]\nindividual_counseling = "A,B"\n',
            "visit.codes.service_codes.individual_counseling",
            "may not contain the list separator ','",
        ),
        (
            HEAD + 'date_formats = ["%Y-%m"]\n',
            "mapping.date_formats[0]",
            "does not round-trip a full date",
        ),
        (
            HEAD + 'time_formats = ["%H"]\n',
            "mapping.time_formats[0]",
            "does not round-trip hours and minutes",
        ),
        (HEAD + 'delimiter = "ab"\n', "mapping.delimiter", "one character"),
        (HEAD + 'delimiter = "\\""\n', "mapping.delimiter", "one character"),
        (HEAD + 'encoding = "utf-16"\n', "mapping.encoding", "ASCII-compatible"),
        (HEAD + 'encoding = "klingon"\n', "mapping.encoding", "unknown encoding"),
        (
            HEAD + '[referral]\nfile = "referrals.csv"\n',
            "referral.file",
            "must contain {run_id} once",
        ),
        (
            HEAD + '[referral]\nfile = "../referrals_{run_id}.csv"\n',
            "referral.file",
            "only letters, digits",
        ),
        (HEAD + '[notice]\nfile = "NOTICE_{run_id}.csv"\n', "notice.file", "end with .txt"),
        (HEAD + '[visit]\nfiles = ["../visits*.csv"]\n', "visit.files[0]", "plain name"),
        (HEAD + '[visit]\nfiles = ["*.part"]\n', "visit.files[0]", "still being uploaded"),
        (HEAD + "[visit]\nfiles = []\n", "visit.files", "at least 1"),
        (HEAD + 'colour = "red"\n', "mapping.colour", 'unknown key "colour"'),
        ('[mappings]\nname = "x"\n', "mapping", "missing: this key is required"),
    ],
)
def test_bad_mapping_names_file_and_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    message = config_error(tmp_path, text)
    assert key in message
    assert words in message


def test_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    assert "not valid TOML" in config_error(tmp_path, "[mapping\n")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="acme.toml: file not found"):
        load_mapping("acme.toml", base_dir=tmp_path)


def test_unknown_packaged_mapping_lists_the_packaged_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"no packaged mapping 'nosuch' \(packaged: bhcare, fhir, generic"
    ):
        load_mapping("nosuch", base_dir=tmp_path)

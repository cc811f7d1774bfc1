"""ssp.toml validation: errors name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundation.config import demo_config_text, parse_config_text


def test_duplicate_partner_id_is_a_config_error_naming_the_partners_key(tmp_path: Path):
    from foundation.errors import ConfigError

    text = demo_config_text().replace('id = "bhcare"', 'id = "cgc"')
    with pytest.raises(ConfigError, match=r"ssp.toml: partners: partner id 'cgc' appears twice"):
        parse_config_text(text, source="ssp.toml", base_dir=tmp_path)


CGC_CSV_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'
SFTP_FEED = (
    'feed = { kind = "sftp", host = "sftp.cgc.example.org", user = "bridgeport", '
    'key_file_env = "SSP_CGC_SFTP_KEY", known_hosts = "keys/cgc_known_hosts", '
    'inbox = "/out/", outbox = "in" }'
)


def _with_cgc_feed(feed: str) -> str:
    text = demo_config_text()
    assert CGC_CSV_FEED in text
    return text.replace(CGC_CSV_FEED, feed)


def test_sftp_feed_settings_with_their_defaults(tmp_path: Path):
    config = parse_config_text(_with_cgc_feed(SFTP_FEED), source="ssp.toml", base_dir=tmp_path)
    feed = config.partner("cgc").feed
    assert feed.kind == "sftp"
    assert (feed.host, feed.port, feed.user) == ("sftp.cgc.example.org", 22, "bridgeport")
    assert (feed.inbox, feed.outbox) == ("/out", "in")  # trailing slash dropped; relative kept
    assert config.resolve(feed.known_hosts) == tmp_path / "keys" / "cgc_known_hosts"
    assert feed.key_passphrase_env == "" and feed.timeout_seconds == 30


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("host = \"sftp.cgc.example.org\"", "host = \"sftp://sftp.cgc.example.org\""),
         "partners[cgc].feed.host: 'sftp://sftp.cgc.example.org' is not a host name or IP address"),
        (("user = \"bridgeport\"", "user = \"bridgeport\", port = 70000"),
         "partners[cgc].feed.port: must be at most 65535"),
        (("key_file_env = \"SSP_CGC_SFTP_KEY\"", "key_file_env = \"/etc/ssp/key\""),
         "partners[cgc].feed.key_file_env: the name of an environment variable"),
        (("inbox = \"/out/\"", "inbox = \"/out/../etc\""),
         "partners[cgc].feed.inbox: must not contain '..'"),
        (("user = \"bridgeport\", ", ""), "partners[cgc].feed.user: missing: this key is required"),
        (("outbox = \"in\"", "outbox = \"in\", password = \"x\""),
         'partners[cgc].feed.password: unknown key "password"'),
    ],
)
def test_bad_sftp_settings_name_the_partner_and_the_key(
    tmp_path: Path, edit: tuple[str, str], message: str
):
    from foundation.errors import ConfigError

    feed = SFTP_FEED.replace(*edit)
    assert feed != SFTP_FEED
    with pytest.raises(ConfigError) as exc:
        parse_config_text(_with_cgc_feed(feed), source="ssp.toml", base_dir=tmp_path)
    assert exc.value.exit_code == 2
    assert str(exc.value).startswith(f"ssp.toml: {message}")


def _folders(tmp_path: Path, inbox: str, outbox: str):
    from foundation.config_checks import Folder

    return [
        Folder("state.dir", tmp_path / "var" / "ssp", "state"),
        Folder("partners[cgc].feed.inbox", tmp_path / "feeds" / "cgc" / "in", "feed"),
        Folder("partners[cgc].feed.outbox", tmp_path / "feeds" / "cgc" / "out", "feed"),
        Folder("partners[bhcare].feed.inbox", tmp_path / inbox, "feed"),
        Folder("partners[bhcare].feed.outbox", tmp_path / outbox, "feed"),
    ]


def test_folders_differing_only_in_case_are_one_folder_on_a_case_insensitive_file_system(
    tmp_path: Path,
):
    from foundation.config_checks import check_folders
    from foundation.errors import ConfigError

    folders = _folders(tmp_path, "Feeds/CGC/Out", "feeds/bhcare/out")
    check_folders(folders, source="ssp.toml", case_insensitive=lambda path: False)
    with pytest.raises(ConfigError, match=r"partners\[bhcare\]\.feed\.inbox: .*same folder "
                       r"as partners\[cgc\]\.feed\.outbox"):
        check_folders(folders, source="ssp.toml", case_insensitive=lambda path: True)


def test_case_insensitivity_is_probed_on_the_nearest_existing_folder(tmp_path: Path):
    from foundation.config_checks import _case_insensitive_fs

    (tmp_path / "Drop").mkdir()
    probe = str(tmp_path / "Drop" / "not" / "yet")
    expected = (tmp_path / "dROP").exists()  # True only where the file system ignores case
    assert _case_insensitive_fs(probe) is expected


def test_the_state_directory_may_not_hold_a_partner_folder(tmp_path: Path):
    from foundation.errors import ConfigError

    text = demo_config_text().replace('inbox = "feeds/cgc/in"', 'inbox = "var/ssp/cgc-in"')
    with pytest.raises(ConfigError, match=r"partners\[cgc\]\.feed\.inbox: .* inside state\.dir"):
        parse_config_text(text, source="ssp.toml", base_dir=tmp_path)


@pytest.mark.parametrize("variable", ["SSP_CLIENT_SECRET", "ssp_client_id", "SSP_CLIENT_SECRET_FILE"])
def test_a_partner_secret_variable_may_not_be_a_powerschool_credential(
    tmp_path: Path, variable: str
):
    from foundation.errors import ConfigError

    text = demo_config_text().replace(
        'feed = { kind = "csv", inbox = "feeds/bhcare/in", outbox = "feeds/bhcare/out" }',
        f'feed = {{ kind = "http", base_url = "https://api.bhcare.example.org", token_env = "{variable}" }}',
    )
    with pytest.raises(ConfigError, match=r"partners\[bhcare\]\.feed\.token_env: .*PowerSchool credential"):
        parse_config_text(text, source="ssp.toml", base_dir=tmp_path)


def test_mapping_templates_that_differ_only_inside_the_run_id_shape_are_accepted():
    from connector.mapping_file import _check_templates_apart

    # "a" + run id and run id + "a" never match: a run id has dashes at fixed places
    _check_templates_apart("a{run_id}.csv", "{run_id}a.csv", "m.toml")
    with pytest.raises(Exception, match="revocation.file"):
        _check_templates_apart("out_{run_id}.csv", "OUT_{run_id}.csv", "m.toml")

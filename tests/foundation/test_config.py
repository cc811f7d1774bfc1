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

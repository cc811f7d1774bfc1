"""`ssp.toml`: the district's configuration, validated with errors that name the file and key.

Secrets never live in the file: the PowerSchool client id and secret come from the environment
(`SSP_CLIENT_ID` / `SSP_CLIENT_SECRET`, or files named by `SSP_CLIENT_ID_FILE` /
`SSP_CLIENT_SECRET_FILE`). Relative paths in the file are resolved against the file's folder, so
a scheduled task started from another working directory finds the same state and feeds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from foundation.catalogue import Catalogue, ChoiceEdit, PartnerChoice, load_catalogue
from foundation.config_checks import Folder, check_folders, check_token_env
from foundation.errors import ConfigError
from foundation.tomlfile import parse_toml, read_toml, validate_model

__all__ = [
    "SSPConfig",
    "District",
    "PowerSchoolSettings",
    "StateSettings",
    "ScheduleSettings",
    "PluginSettings",
    "Partner",
    "PartnerLabels",
    "CsvFeed",
    "HttpFeed",
    "SftpFeed",
    "FhirFeed",
    "FhirCode",
    "Mou",
    "Credentials",
    "DATA_CATEGORIES",
    "load_config",
    "parse_config",
    "demo_config_text",
    "read_credentials",
    "read_secret",
    "inspect_secret",
    "SecretSource",
    "is_loopback_url",
    "DEFAULT_CONFIG_PATH",
]

DEFAULT_CONFIG_PATH = Path("ssp.toml")
DATA_CATEGORIES = (
    "identity", "enrollment", "guardian_contact", "referral",
    "visit_summary", "referral_status", "attendance", "screening",
)
DataCategory = Literal[
    "identity", "enrollment", "guardian_contact", "referral",
    "visit_summary", "referral_status", "attendance", "screening",
]
log = logging.getLogger("foundation.config")
_NAMESPACE_PART = re.compile(r"^[a-z][a-z0-9_]*$")
_PARTNER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_https(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"'{url}' is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback_url(url):
        raise ValueError("https is required (plain http only for loopback hosts such as 127.0.0.1)")
    return url.rstrip("/")


def require_https(url: str, *, key: str) -> None:
    """The ssp.toml rule for a client built in code (partner feeds, tests, bench): a ConfigError
    naming `key` when the URL is not https (plain http only for loopback hosts)."""
    try:
        _require_https(url)
    except ValueError as exc:
        raise ConfigError(str(exc), key=key) from None


class District(_Model):
    name: str = Field(min_length=1, max_length=120)
    publisher: str = Field(min_length=1, max_length=100)
    contact_email: str = Field(min_length=3, max_length=40)
    query_namespace: str

    @field_validator("contact_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError(f"'{value}' is not an e-mail address")
        return value

    @field_validator("query_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) != 3 or not all(_NAMESPACE_PART.match(p) for p in parts):
            raise ValueError(
                "must be three dot-separated lower-case parts such as 'org.bridgeport.ssp' "
                "(PowerQuery names add an area and a name to make five)"
            )
        if value.startswith("com.powerschool") or value.startswith("com.pearson"):
            raise ValueError("the com.powerschool / com.pearson prefixes are PowerSchool's own")
        return value


class PowerSchoolSettings(_Model):
    base_url: str
    max_workers: int = Field(default=4, ge=1, le=16)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    retry_deadline_seconds: float = Field(default=300.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _require_https(value)


class StateSettings(_Model):
    dir: Path = Path("var/ssp")


class ScheduleSettings(_Model):
    cron: str = "15 4 * * *"
    timezone: str = "America/New_York"
    misfire_grace_seconds: int = Field(default=3600, ge=1)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("must be a five-field cron expression such as '15 4 * * *'")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as America/New_York)")
        return value


class PluginSettings(_Model):
    name: str = Field(default="Student Support Page", min_length=1, max_length=35)
    version: str | None = None
    description: str = Field(
        default="Student Support Page: support visits, referrals, consents and disclosures "
        "for school-community mental-health partnerships",
        max_length=256,
    )

    @field_validator("version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[0-9]+(\.[0-9]+)*$", value):
            raise ValueError("a plugin version holds digits and dots only, e.g. 1.2.0")
        return value


class CsvFeed(_Model):
    kind: Literal["csv"]
    inbox: Path
    outbox: Path


class HttpFeed(_Model):
    kind: Literal["http"]
    base_url: str
    token_env: str = Field(default="", description="environment variable holding the partner API token")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _require_https(value)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*\.?|[0-9a-fA-F:.]+)$")  # a DNS name or an IP
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SFTP_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._@-]{0,63}$")


def _remote_folder(value: str) -> str:
    """A folder on the partner's server: a POSIX path without `..`, NUL or a trailing slash."""
    if not value or "\x00" in value or "\\" in value:
        raise ValueError("must be a folder path on the partner's server such as '/out'")
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError("must not contain '..'")
    return ("/" if value.startswith("/") else "") + "/".join(parts) or "/"


class SftpFeed(_Model):
    """The partner's SFTP server: the connector pulls from `inbox` and pushes to `outbox` there.

    The private key's path comes from the environment variable named by `key_file_env` (never the
    file itself in ssp.toml); the server's host key must be listed in `known_hosts` (pinned: an
    unknown or changed key refuses the connection, nothing is trusted on first use).
    """

    kind: Literal["sftp"]
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=22, ge=1, le=65535)
    user: str
    key_file_env: str = Field(description="environment variable holding the private key file's path")
    key_passphrase_env: str = Field(default="", description="environment variable holding the key's passphrase, if any")
    known_hosts: Path
    inbox: str = Field(description="folder on the partner's server the partner's files are pulled from")
    outbox: str = Field(description="folder on the partner's server the connector's files are pushed to")
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if "://" in value or not _HOST.match(value):
            raise ValueError(f"'{value}' is not a host name or IP address (no scheme, user or port)")
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _SFTP_USER.match(value):
            raise ValueError("an SFTP user name holds letters, digits, '.', '_', '@' or '-'")
        return value

    @field_validator("key_file_env", "key_passphrase_env")
    @classmethod
    def _env_name(cls, value: str, info: ValidationInfo) -> str:
        if (value or info.field_name == "key_file_env") and not _ENV_NAME.match(value):
            raise ValueError(
                "the name of an environment variable (letters, digits, '_'), e.g. SSP_CGC_SFTP_KEY"
            )
        return value

    @field_validator("inbox", "outbox")
    @classmethod
    def _folder(cls, value: str) -> str:
        return _remote_folder(value)


class FhirCode(_Model):
    """A coding agreed with the partner, e.g. ServiceRequest.code."""

    system: str = Field(min_length=1, max_length=300)
    code: str = Field(min_length=1, max_length=100)
    display: str = Field(default="", max_length=200)


class FhirFeed(_Model):
    """A partner's FHIR R4 server (SDOH Clinical Care referral pattern).

    Authentication is a bearer token from the variable named by `token_env`, or OAuth2 client
    credentials (`token_url` with the client id and secret in the variables named by
    `client_id_env` / `client_secret_env`); neither only for a server on this machine.
    `identifier_base` is the district's own base URL for identifier and code systems; it defaults
    to https://<domain of [district] contact_email>/fhir and must never change after go-live.
    """

    kind: Literal["fhir"]
    base_url: str
    token_env: str = Field(default="", description="environment variable holding the bearer token")
    token_url: str = ""
    client_id_env: str = ""
    client_secret_env: str = ""
    identifier_base: str = ""
    service_request_code: FhirCode | None = None
    max_workers: int = Field(default=4, ge=1, le=16)

    @field_validator("base_url", "token_url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        if not value and info.field_name == "token_url":
            return value
        return _require_https(value)

    @field_validator("identifier_base")
    @classmethod
    def _base(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("https", "http"):
            raise ValueError(f"'{value}' is not an http(s) URL (e.g. https://district.example.org/fhir)")
        return value.rstrip("/")

    @field_validator("token_env", "client_id_env", "client_secret_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if value and not _ENV_NAME.match(value):
            raise ValueError(
                "the name of an environment variable (letters, digits, '_'), e.g. SSP_CGC_FHIR_TOKEN"
            )
        return value

    @model_validator(mode="after")
    def _auth(self) -> "FhirFeed":
        oauth = (self.token_url, self.client_id_env, self.client_secret_env)
        if any(oauth) and not all(oauth):
            raise ValueError(
                "OAuth2 client credentials need token_url, client_id_env and client_secret_env together"
            )
        if self.token_env and any(oauth):
            raise ValueError("give token_env or the OAuth2 client credentials (token_url, ...), not both")
        if not self.token_env and not any(oauth) and not is_loopback_url(self.base_url):
            raise ValueError(
                "name token_env (a bearer token) or token_url, client_id_env and client_secret_env "
                "(OAuth2 client credentials): a partner FHIR server not on this machine needs one"
            )
        return self

    def systems_base(self, district: "District") -> str:
        """The district's identifier/code system base: identifier_base, else from the e-mail domain."""
        if self.identifier_base:
            return self.identifier_base
        return f"https://{district.contact_email.rsplit('@', 1)[1].lower()}/fhir"


FEED_MODELS: dict[str, type[_Model]] = {}  # kind -> model, filled below


class Mou(_Model):
    effective: dt.date
    expires: dt.date
    to_partner: tuple[DataCategory, ...] = ()
    to_school: tuple[DataCategory, ...] = ()

    @model_validator(mode="after")
    def _dates(self) -> "Mou":
        if self.expires < self.effective:
            raise ValueError("expires is before effective")
        return self

    def in_force(self, day: dt.date) -> bool:
        return self.effective <= day <= self.expires


class PartnerLabels(_Model):
    """A partner's words in another language (`[partners.labels.es]`), for the forms families read.

    Only the description of services is translated: the partner's name is its legal name, the one
    in the MOU, and stays as written."""

    services: str = Field(default="", max_length=400)


class Partner(_Model):
    id: str
    name: str = Field(min_length=1, max_length=120)
    services: str = Field(default="", max_length=400)
    mapping: str = "generic"
    feed: Annotated[CsvFeed | HttpFeed | SftpFeed | FhirFeed, Field(discriminator="kind")]
    mou: Mou
    labels: dict[Literal["es"], PartnerLabels] = {}

    def services_in(self, language: str) -> tuple[str, str]:
        """(services text, the language it is written in) for a form in `language`: the
        translation from `[partners.labels.<language>]` when given, else the English `services`."""
        translated = self.labels.get(language)  # type: ignore[call-overload]
        if translated is not None and translated.services:
            return translated.services, language
        return self.services, "en"

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _PARTNER_ID.match(value):
            raise ValueError(
                "a partner id is 1-32 lower-case letters, digits, _ or -, starting with a letter or digit"
            )
        return value


class SSPConfig(_Model):
    district: District
    powerschool: PowerSchoolSettings
    state: StateSettings = StateSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    plugin: PluginSettings = PluginSettings()
    choices: dict[str, ChoiceEdit] = {}
    partners: tuple[Partner, ...] = ()
    source: str = "ssp.toml"
    base_dir: Path = Path(".")

    @field_validator("partners")
    @classmethod
    def _unique_partners(cls, partners: tuple[Partner, ...]) -> tuple[Partner, ...]:
        seen: set[str] = set()
        for p in partners:
            if p.id in seen:
                raise ValueError(f"partner id '{p.id}' appears twice")
            seen.add(p.id)
        return partners

    def partner(self, partner_id: str) -> Partner:
        for p in self.partners:
            if p.id == partner_id:
                return p
        known = ", ".join(p.id for p in self.partners) or "none"
        raise ConfigError(f"no partner '{partner_id}' (configured: {known})", file=self.source, key="partners")

    def resolve(self, path: Path) -> Path:
        """A path from the file, made absolute against the file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def state_dir(self) -> Path:
        return self.resolve(self.state.dir)

    def catalogue(self) -> Catalogue:
        """The packaged catalogue with this district's dropdown edits and partners applied."""
        return load_catalogue(
            edits=dict(self.choices),
            partners=[PartnerChoice(p.id, p.name) for p in self.partners],
            edits_source=self.source,
        )


FEED_MODELS.update({"csv": CsvFeed, "http": HttpFeed, "sftp": SftpFeed, "fhir": FhirFeed})


def parse_config(raw: dict, *, source: str, base_dir: Path) -> SSPConfig:
    data = dict(raw)
    for reserved in ("source", "base_dir"):
        if reserved in data:
            raise ConfigError("unknown key", file=source, key=reserved)
    data["source"] = source
    data["base_dir"] = base_dir
    config = validate_model(SSPConfig, data, source)
    _check_partner_secrets(config)
    _check_folders(config)
    config.catalogue()  # validate the district's choice edits now, with the file named
    return config


# The settings of each feed kind that name an environment variable holding a partner secret.
_SECRET_ENV_KEYS = ("token_env", "client_id_env", "client_secret_env", "key_file_env",
                    "key_passphrase_env")


def _check_partner_secrets(config: SSPConfig) -> None:
    """No partner secret variable may be one the PowerSchool credentials are read from: the
    partner would receive the district's client id or secret."""
    for partner in config.partners:
        for name in _SECRET_ENV_KEYS:
            check_token_env(getattr(partner.feed, name, ""), source=config.source,
                            key=f"partners[{partner.id}].feed.{name}")


def _check_folders(config: SSPConfig) -> None:
    """No two local partner folders, and no partner folder and the state directory, may be the
    same folder or one inside the other (written however: relative, `..`, symlinks, case)."""
    folders = [Folder("state.dir", config.state_dir, "state")]
    for partner in config.partners:
        if isinstance(partner.feed, CsvFeed):
            for name in ("inbox", "outbox"):
                path = config.resolve(getattr(partner.feed, name))
                folders.append(Folder(f"partners[{partner.id}].feed.{name}", path, "feed"))
    check_folders(folders, source=config.source)


def load_config(path: Path | None = None) -> SSPConfig:
    """Load `path` (default ./ssp.toml). Exit-2 errors name the file and key."""
    path = path or DEFAULT_CONFIG_PATH
    if not path.exists():
        raise ConfigError(
            "file not found (pass --config PATH, or start from examples/ssp.toml; "
            "`ssp demo` runs everything on built-in defaults)",
            file=str(path),
        )
    return parse_config(read_toml(path), source=str(path), base_dir=path.resolve().parent)


def demo_config_text() -> str:
    """The packaged demo configuration (used by `ssp demo`)."""
    return resources.files("field_mappings").joinpath("demo_ssp.toml").read_text("utf-8")


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: SecretStr

    def __repr__(self) -> str:
        return f"Credentials(client_id={self.client_id!r}, client_secret='**********')"


@dataclass(frozen=True)
class SecretSource:
    """Where a secret named `name` comes from, and what is wrong with it (one sentence each)."""

    name: str
    value: str = ""
    file: Path | None = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def inspect_secret(name: str, env: Mapping[str, str] | None = None) -> SecretSource:
    """`name` from the environment, or from the file named by `<name>_FILE`: never both.

    A file others may replace (world-writable) is refused; one others may read is a warning.
    Nothing here returns or logs the secret except in `value`."""
    env = os.environ if env is None else env
    value = env.get(name, "").strip()
    file_name = env.get(f"{name}_FILE", "").strip()
    if value and file_name:
        return SecretSource(name, errors=(
            f"both {name} and {name}_FILE are set: unset one of them (keeping {name}_FILE, "
            "the file readable by the service account only, keeps the secret out of the "
            "process environment)",
        ))
    if not file_name:
        return SecretSource(name, value=value)
    path = Path(file_name)
    where = f"{path} (named by {name}_FILE)"
    try:
        info = path.stat()
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return SecretSource(name, file=path, errors=(
            f"{where} does not exist: create it with the secret on one line, then "
            f"chmod 600 {path}",))
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc.__class__.__name__
        return SecretSource(name, file=path, errors=(
            f"{where} cannot be read ({why}): the service account must own it; "
            f"chown it to that account and chmod 600 {path}",))
    errors: list[str] = []
    warnings: list[str] = []
    if os.name != "nt":
        if info.st_mode & stat.S_IWOTH:
            errors.append(f"{where} is writable by every user, who could replace the secret: "
                          f"chmod 600 {path}")
        elif info.st_mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(f"{where} is readable by other users "
                            f"(mode {stat.S_IMODE(info.st_mode):o}): chmod 600 {path}")
    if not text:
        errors.append(f"{where} is empty: put the secret in it on one line")
    return SecretSource(name, value=text, file=path, errors=tuple(errors),
                        warnings=tuple(warnings))


def read_secret(name: str, env: Mapping[str, str] | None = None) -> str:
    """The secret's value ('' when neither variable is set); ConfigError on any refusal."""
    source = inspect_secret(name, env)
    if source.errors:
        raise ConfigError(source.errors[0])
    for warning in source.warnings:
        log.warning(warning)
    return source.value


def _env_or_file(name: str) -> str:
    return read_secret(name)


def read_credentials() -> Credentials:
    """PowerSchool plugin credentials from the environment; never from ssp.toml."""
    client_id = _env_or_file("SSP_CLIENT_ID")
    secret = _env_or_file("SSP_CLIENT_SECRET")
    missing = [n for n, v in (("SSP_CLIENT_ID", client_id), ("SSP_CLIENT_SECRET", secret)) if not v]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} not set: export the plugin's client id and secret "
            "(System > Plugin Management Configuration > Student Support Page > Data Provider "
            "Configuration), or name files holding them with SSP_CLIENT_ID_FILE / SSP_CLIENT_SECRET_FILE"
        )
    return Credentials(client_id=client_id, client_secret=SecretStr(secret))


def parse_config_text(text: str, *, source: str, base_dir: Path) -> SSPConfig:
    return parse_config(parse_toml(text, source), source=source, base_dir=base_dir)

"""`ssp.toml`: the district's configuration, validated with errors that name the file and key.

Secrets never live in the file: the PowerSchool client id and secret come from the environment
(`SSP_CLIENT_ID` / `SSP_CLIENT_SECRET`, or files named by `SSP_CLIENT_ID_FILE` /
`SSP_CLIENT_SECRET_FILE`). Relative paths in the file are resolved against the file's folder, so
a scheduled task started from another working directory finds the same state and feeds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from plugin.catalogue import Catalogue, ChoiceEdit, PartnerChoice, load_catalogue
from ssp.config_checks import Folder, check_folders, check_token_env
from ssp.errors import ConfigError
from ssp.tomlfile import parse_toml, read_toml, validate_model

__all__ = [
    "SSPConfig",
    "District",
    "PowerSchoolSettings",
    "StateSettings",
    "ScheduleSettings",
    "PluginSettings",
    "Partner",
    "CsvFeed",
    "HttpFeed",
    "Mou",
    "Credentials",
    "DATA_CATEGORIES",
    "load_config",
    "parse_config",
    "demo_config_text",
    "read_credentials",
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


class Partner(_Model):
    id: str
    name: str = Field(min_length=1, max_length=120)
    services: str = Field(default="", max_length=400)
    mapping: str = "generic"
    feed: Annotated[CsvFeed | HttpFeed, Field(discriminator="kind")]
    mou: Mou

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


def _check_partner_secrets(config: SSPConfig) -> None:
    """A partner's token variable may not be one the PowerSchool credentials are read from."""
    for i, partner in enumerate(config.partners):
        if isinstance(partner.feed, HttpFeed):
            key = f"partners[{i}] ({partner.id}).feed.token_env"
            check_token_env(partner.feed.token_env, source=config.source, key=key)


def _check_folders(config: SSPConfig) -> None:
    """No two partner folders, and no partner folder and the state directory, may be the same
    folder or one inside the other (written however: relative, `..`, symlinks, case)."""
    folders = [Folder("state.dir", config.state_dir, "state")]
    for i, partner in enumerate(config.partners):
        if isinstance(partner.feed, CsvFeed):
            for name in ("inbox", "outbox"):
                path = config.resolve(getattr(partner.feed, name))
                key = f"partners[{i}] ({partner.id}).feed.{name}"
                folders.append(Folder(key, path, "feed"))
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


def _env_or_file(name: str) -> str:
    value = os.environ.get(name, "")
    file_name = os.environ.get(f"{name}_FILE", "")
    if value:
        return value.strip()
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the file named by {name}_FILE ({exc.__class__.__name__})") from None
    return ""


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

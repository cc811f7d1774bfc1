"""Building a partner's feed from ssp.toml: mapping, folders, API and token, or SFTP server."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from connector.feeds.csv_feed import CsvFeed
from connector.feeds.http_feed import HttpFeed
from connector.mapping import PartnerMapping, load_mapping
from connector.retry import RetryPolicy
from foundation.catalogue import Catalogue
from foundation.config import CsvFeed as CsvFeedSettings
from foundation.config import FhirFeed as FhirFeedSettings
from foundation.config import Partner, SSPConfig, is_loopback_url, read_secret
from foundation.config import SftpFeed as SftpFeedSettings
from foundation.config_checks import check_token_env
from foundation.errors import ConfigError

__all__ = ["open_feed", "open_sftp_feed", "open_fhir_feed", "partner_token"]

if TYPE_CHECKING:
    from connector.feeds.fhir_feed import FhirFeed
    from connector.feeds.sftp_feed import SftpFeed


def open_feed(
    partner: Partner,
    config: SSPConfig,
    *,
    catalogue: Catalogue | None = None,
    mapping: PartnerMapping | None = None,
    session: requests.Session | None = None,
    policy: RetryPolicy | None = None,
    env: Mapping[str, str] = os.environ,
    today: Callable[[], dt.date] = dt.date.today,
    dry_run: bool = False,
) -> CsvFeed | HttpFeed | SftpFeed | FhirFeed:
    """The partner's feed, with its mapping validated against the district's catalogue.

    An sftp feed checks its key and known_hosts file here (ConfigError, exit 2) and connects on
    first use; `dry_run` keeps its downloads out of the archive."""
    if mapping is None:
        mapping = load_mapping(
            partner.mapping, base_dir=config.base_dir, catalogue=catalogue or config.catalogue()
        )
    settings = partner.feed
    if isinstance(settings, CsvFeedSettings):
        return CsvFeed(
            partner.id,
            mapping,
            inbox=config.resolve(settings.inbox),
            outbox=config.resolve(settings.outbox),
            state_dir=config.state_dir,
            today=today,
        )
    if isinstance(settings, SftpFeedSettings):
        return open_sftp_feed(partner, settings, config, mapping, env=env, today=today,
                              dry_run=dry_run)
    if isinstance(settings, FhirFeedSettings):
        return open_fhir_feed(partner, settings, config, mapping, env=env, session=session,
                              policy=policy, today=today)
    return HttpFeed(
        partner.id,
        mapping,
        base_url=settings.base_url,
        token=partner_token(partner, env, source=config.source),
        state_dir=config.state_dir,
        session=session,
        policy=policy,
        today=today,
    )


def open_sftp_feed(
    partner: Partner,
    settings: SftpFeedSettings,
    config: SSPConfig,
    mapping: PartnerMapping,
    *,
    env: Mapping[str, str] = os.environ,
    today: Callable[[], dt.date] = dt.date.today,
    dry_run: bool = False,
) -> SftpFeed:
    from connector.feeds.sftp_feed import SftpFeed, load_known_hosts, load_private_key

    return SftpFeed(
        partner.id,
        mapping,
        settings=settings,
        pkey=load_private_key(settings, env, source=config.source, partner_id=partner.id),
        host_keys=load_known_hosts(
            settings,
            config.resolve(settings.known_hosts),
            source=config.source,
            key=f"partners[{partner.id}].feed.known_hosts",
        ),
        state_dir=config.state_dir,
        today=today,
        dry_run=dry_run,
    )


def open_fhir_feed(
    partner: Partner,
    settings: FhirFeedSettings,
    config: SSPConfig,
    mapping: PartnerMapping,
    *,
    env: Mapping[str, str] = os.environ,
    session: requests.Session | None = None,
    policy: RetryPolicy | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> FhirFeed:
    """The partner's FHIR server, its token (or OAuth2 client credentials) read from the
    environment; the district's identifier systems from identifier_base or its e-mail domain."""
    from zoneinfo import ZoneInfo

    from connector.feeds.fhir_feed import FhirFeed, parties_for
    from connector.fhir.client import FhirClient, OAuthClientCredentials

    oauth = None
    token = None
    if settings.token_url:
        values = {}
        for field in ("client_id_env", "client_secret_env"):
            name = getattr(settings, field)
            key = f"partners[{partner.id}].feed.{field}"
            try:
                values[field] = read_secret(name, env)
            except ConfigError as exc:
                raise ConfigError(str(exc), file=config.source, key=key) from None
            if not values[field]:
                raise ConfigError(f"environment variable {name} is not set", file=config.source,
                                  key=key)
        oauth = OAuthClientCredentials(settings.token_url, values["client_id_env"],
                                       values["client_secret_env"])
    else:
        token = partner_token(partner, env, source=config.source)
    code = settings.service_request_code
    parties = parties_for(
        settings.systems_base(config.district), config.district.query_namespace,
        config.district.name, partner.id, partner.name,
        code.model_dump() if code is not None else None,
    )
    client = FhirClient(partner.id, settings.base_url, token=token, oauth=oauth, session=session,
                        policy=policy)
    return FhirFeed(partner.id, mapping, client=client, parties=parties,
                    state_dir=config.state_dir, tz=ZoneInfo(config.schedule.timezone),
                    max_workers=settings.max_workers, today=today)


def partner_token(
    partner: Partner, env: Mapping[str, str], *, source: str = "ssp.toml"
) -> str | None:
    """The partner API token from the variable named by token_env (or the file in <var>_FILE)."""
    settings = partner.feed
    name = getattr(settings, "token_env", "")
    key = f"partners[{partner.id}].feed.token_env"
    check_token_env(name, source=source, key=key)  # never hand PowerSchool's secret to a partner
    if not name:
        if is_loopback_url(getattr(settings, "base_url", "")):
            return None
        raise ConfigError(
            "name the environment variable holding the partner API token "
            "(required for a partner API that is not on this machine)",
            file=source,
            key=key,
        )
    try:
        value = read_secret(name, env)  # the variable or <var>_FILE, never both; file modes checked
    except ConfigError as exc:
        raise ConfigError(str(exc), file=source, key=key) from None
    if not value:
        raise ConfigError(
            f"environment variable {name} (the partner API token) is not set", file=source, key=key
        )
    return value

"""Building a partner's feed from ssp.toml: mapping, folders or API, token."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import requests

from connector.feeds.csv_feed import CsvFeed
from connector.feeds.http_feed import HttpFeed
from connector.mapping import PartnerMapping, load_mapping
from connector.retry import RetryPolicy
from plugin.catalogue import Catalogue
from ssp.config import CsvFeed as CsvFeedSettings
from ssp.config import Partner, SSPConfig, is_loopback_url
from ssp.config_checks import check_token_env
from ssp.errors import ConfigError

__all__ = ["open_feed", "partner_token"]


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
) -> CsvFeed | HttpFeed:
    """The partner's feed, with its mapping validated against the district's catalogue."""
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


def partner_token(
    partner: Partner, env: Mapping[str, str], *, source: str = "ssp.toml"
) -> str | None:
    """The partner API token from the variable named by token_env (or the file in <var>_FILE)."""
    settings = partner.feed
    name = getattr(settings, "token_env", "")
    key = f"partners.{partner.id}.feed.token_env"
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
    value = env.get(name, "").strip()
    if not value and env.get(f"{name}_FILE"):
        try:
            value = Path(env[f"{name}_FILE"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the file named by {name}_FILE ({exc.__class__.__name__})",
                file=source,
                key=key,
            ) from None
    if not value:
        raise ConfigError(
            f"environment variable {name} (the partner API token) is not set", file=source, key=key
        )
    return value

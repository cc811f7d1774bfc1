"""Everything a sync run needs on this machine, checked before the first scheduled night.

`ssp check` (and `ssp sync schedule` at start) runs these next to the PowerSchool checks of
connector/check.py: the state directory (there or creatable, writable, owner-only), every
partner's inbox and outbox (there, writable; a folder shared between partners is already refused
when the configuration loads, foundation/config_checks.py), every mapping
file (loads against the district's catalogue), every partner API (answers, accepts the token),
the secret files (readable by the service, not by others), and the time zone. Each finding is one
sentence that says what to do; nothing here changes anything (a probe file is created and removed
to prove a folder writable, because permission bits alone do not say so under ProtectSystem=strict
or on a read-only mount).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import requests

from foundation.config import CsvFeed, FhirFeed, HttpFeed, Partner, SSPConfig, inspect_secret
from foundation.errors import ConfigError

__all__ = ["Finding", "local_findings", "partner_api_findings", "timezone_findings"]

Level = Literal["error", "warning"]
_POSIX = os.name != "nt"
_PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Finding:
    level: Level
    area: str  # "state", "partner cgc", "secrets", "time zone"
    message: str  # one sentence with the fix

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def local_findings(config: SSPConfig, env: Mapping[str, str] | None = None) -> list[Finding]:
    """What this machine lacks for a run: folders, mapping files, secret files. No network."""
    env = os.environ if env is None else env
    found = [*_state_dir(config), *_secrets(config, env)]
    for partner in config.partners:
        found += _partner_local(config, partner)
    return found


# -- the state directory -----------------------------------------------------------------------


def _state_dir(config: SSPConfig) -> list[Finding]:
    path = config.state_dir
    key = f"[state] dir in {config.source}"
    if path.exists() and not path.is_dir():
        return [_error("state", f"the state dir {path} is a file, not a folder: set {key} to a folder")]
    if not path.exists():
        parent = _existing_parent(path)
        problem = _not_writable(parent)
        if problem:
            return [_error(
                "state",
                f"the state dir {path} does not exist and cannot be created ({parent} is "
                f"{problem}): create it for the service account (install -d -m 700 -o ssp "
                f"{path}) or set {key} to an absolute path under a writable folder such as "
                "/var/lib/ssp",
            )]
        return []  # created owner-only by the first run
    problem = _not_writable(path)
    if problem:
        return [_error(
            "state",
            f"the state dir {path} is {problem}: give the service account write access "
            f"(chown ssp {path}; chmod 700 {path}), or set {key} to a writable folder",
        )]
    found: list[Finding] = []
    if _POSIX and stat.S_IMODE(path.stat().st_mode) & 0o077:
        found.append(_warning(
            "state",
            f"the state dir {path} can be opened by other users (mode "
            f"{stat.S_IMODE(path.stat().st_mode):o}): chmod 700 {path} (the next run also does)",
        ))
    return found


def _existing_parent(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def _not_writable(folder: Path) -> str | None:
    """None when a file can really be created in `folder`, else why not, in words."""
    if not folder.is_dir():
        return "not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".ssp-check-", delete=True):
            pass
    except OSError as exc:
        return {
            30: "on a read-only file system",
            13: "not writable by this account",
            1: "not writable by this account",
        }.get(exc.errno or 0, f"not writable ({exc.strerror or exc.__class__.__name__})")
    return None


# -- partners ------------------------------------------------------------------------------------


def _partner_local(config: SSPConfig, partner: Partner) -> list[Finding]:
    area = f"partner {partner.id}"
    found = _mapping(config, partner)
    feed = partner.feed
    if isinstance(feed, FhirFeed) and not found:
        found += _fhir_mapping(config, partner)
    if isinstance(feed, CsvFeed):
        for role, folder, verb in (
            ("inbox", feed.inbox, "read and archive the partner's files"),
            ("outbox", feed.outbox, "write referral files"),
        ):
            path = config.resolve(folder)
            key = f'feed.{role} of partner "{partner.id}" in {config.source}'
            if not path.is_dir():
                found.append(_error(area, (
                    f"the {role} {path} does not exist: create it (install -d -m 750 -o ssp "
                    f"{path}) or fix {key}"
                ) if not path.exists() else f"the {role} {path} is not a folder: fix {key}"))
                continue
            problem = _not_writable(path)
            if problem:
                found.append(_error(
                    area,
                    f"the {role} {path} is {problem}, so the sync cannot {verb}: give the "
                    "service account write access to it",
                ))
    return found


def _fhir_mapping(config: SSPConfig, partner: Partner) -> list[Finding]:
    """A fhir feed builds its resources from canonical rows (connector/feeds/fhir_feed.py)."""
    from connector.feeds.fhir_feed import require_canonical
    from connector.mapping import load_mapping

    try:
        require_canonical(load_mapping(partner.mapping, base_dir=config.base_dir,
                                       catalogue=config.catalogue()), partner.id)
    except ConfigError as exc:
        return [_error(f"partner {partner.id}", str(exc))]
    return []


def _mapping(config: SSPConfig, partner: Partner) -> list[Finding]:
    from connector.mapping import load_mapping

    try:
        load_mapping(partner.mapping, base_dir=config.base_dir, catalogue=config.catalogue())
    except ConfigError as exc:
        said = str(exc)
        if exc.file and said.startswith(f"{exc.file}: ") and "field_mappings/" in exc.file:
            said = said[len(exc.file) + 2:]  # a packaged name: the package path means nothing
        return [_error(
            f"partner {partner.id}",
            f'the mapping "{partner.mapping}" of partner "{partner.id}" cannot be used: {said}',
        )]
    return []


def partner_api_findings(
    config: SSPConfig, env: Mapping[str, str] | None = None, *, timeout: float = _PROBE_TIMEOUT
) -> list[Finding]:
    """Each http partner: one GET of its status updates, to see it answers and takes the token."""
    env = os.environ if env is None else env
    found: list[Finding] = []
    for partner in config.partners:
        if isinstance(partner.feed, HttpFeed):
            found += _probe_partner(config, partner, env, timeout)
    return found


def _probe_partner(
    config: SSPConfig, partner: Partner, env: Mapping[str, str], timeout: float
) -> list[Finding]:
    from connector.feeds.factory import partner_token
    from connector.feeds.http_feed import INBOUND_PATHS
    from connector.retry import network_failure

    area = f"partner {partner.id}"
    base_url = partner.feed.base_url  # type: ignore[union-attr]
    try:
        token = partner_token(partner, env, source=config.source)
    except ConfigError as exc:
        return [_error(area, f'partner "{partner.id}": {exc}')]
    url = base_url + INBOUND_PATHS["status_update"]
    headers = {"Accept": "application/json", "User-Agent": "ssp-connector"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        with requests.get(url, headers=headers, timeout=timeout, stream=True,
                          allow_redirects=False) as response:
            status = response.status_code
    except requests.RequestException as exc:
        failure = network_failure(exc, url, timeout)
        return [_error(area, f'the API of partner "{partner.id}" cannot be reached at '
                             f"{failure.host}: {failure.cause}; {failure.hint}")]
    if status in (401, 403):
        variable = getattr(partner.feed, "token_env", "") or "its token_env variable"
        return [_error(area, f'the API of partner "{partner.id}" refused the token (HTTP '
                             f"{status}): check the value of {variable} with the partner")]
    if status == 404:
        return [_error(area, f'the API of partner "{partner.id}" has no {url} (HTTP 404): '
                             "check feed.base_url with the partner")]
    if not 200 <= status < 300:
        return [_warning(area, f'the API of partner "{partner.id}" answered HTTP {status} at '
                               f"{url}: it may be down for now; the sync retries")]
    return []


# -- secrets and the time zone ------------------------------------------------------------------


def _secrets(config: SSPConfig, env: Mapping[str, str]) -> list[Finding]:
    names = ["SSP_CLIENT_ID", "SSP_CLIENT_SECRET"]
    names += [p.feed.token_env for p in config.partners
              if isinstance(p.feed, HttpFeed) and p.feed.token_env]
    names += [name for p in config.partners if isinstance(p.feed, FhirFeed)
              for name in (p.feed.token_env, p.feed.client_id_env, p.feed.client_secret_env) if name]
    found: list[Finding] = []
    for name in dict.fromkeys(names):
        source = inspect_secret(name, env)
        found += [_error("secrets", m) for m in source.errors]
        found += [_warning("secrets", m) for m in source.warnings]
    return found


def timezone_findings(config: SSPConfig, powerschool_zone: object) -> list[Finding]:
    """The configured zone against the one PowerSchool reports for the district."""
    configured = config.schedule.timezone
    if not isinstance(powerschool_zone, str) or not powerschool_zone.strip():
        return []
    if powerschool_zone.strip() != configured:
        return [_warning(
            "time zone",
            f"PowerSchool reports the district time zone {powerschool_zone.strip()} but "
            f"{config.source} has [schedule] timezone = \"{configured}\": dates such as "
            "today's consents and the nightly run time follow the configuration; make them agree",
        )]
    return []


def _error(area: str, message: str) -> Finding:
    return Finding("error", area, message)


def _warning(area: str, message: str) -> Finding:
    return Finding("warning", area, message)

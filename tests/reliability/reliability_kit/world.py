"""A complete sync world in a temp folder: the sandbox, an ssp.toml, partner feeds and state.

The scenario is ssp/demo_scenario.py's (referrals for two partners, each consent case held with
its reason, partner replies with a few hostile rows, a consent revoked after its referral went
out), so the reliability suites test what the demo shows. `sync()` runs the real engine
(`connector.engine.SyncRun`, as `connector.cli.run_sync` does) with a client whose retries are
fast: the engine takes its client as an argument, so no seam was needed for that.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from foundation.config import Credentials, SSPConfig, demo_config_text, parse_config_text
from sandbox import Sandbox
from ssp.demo_scenario import (
    SchoolSide,
    revoke_one_consent,
    seed_school_side,
    write_partner_replies,
)

__all__ = ["World", "make_world", "config_text", "FAST_CLIENT", "TZ", "pinned_now"]

TZ = "America/New_York"
FAST_CLIENT: dict[str, Any] = {"timeout": 0.2, "max_delay": 0.002, "retry_deadline": 60.0}
"""Client settings for fault runs: each retry waits at most 2 ms (Retry-After is capped by
max_delay, so it is honoured but short) and a read time-out costs 0.2 s."""
SANDBOX_TIMEOUT_HOLD = 0.35
"""How long the sandbox holds a request it times out: longer than the client's read time-out."""


def pinned_now() -> dt.datetime:
    """One instant for a whole comparison: disclosure stamps then match between runs."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def config_text(base_url: str, *, max_workers: int = 4, extra: str = "") -> str:
    """The demo configuration, pointed at `base_url`, with MOUs in force whatever the date."""
    text = demo_config_text().replace("http://127.0.0.1:8765", base_url)
    text = re.sub(
        r"effective = \d{4}-\d\d-\d\d, expires = \d{4}-\d\d-\d\d",
        "effective = 2020-01-01, expires = 2099-12-31",
        text,
    )
    text = text.replace("[powerschool]\n", f"[powerschool]\nmax_workers = {max_workers}\n", 1)
    return text + extra


@dataclass
class World:
    root: Path
    sandbox: Sandbox
    config: SSPConfig
    credentials: Credentials
    today: dt.date
    now: dt.datetime
    side: SchoolSide | None = None
    summaries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    def inbox(self, partner: str) -> Path:
        return self.config.resolve(self.config.partner(partner).feed.inbox)  # type: ignore[union-attr]

    def outbox(self, partner: str) -> Path:
        return self.config.resolve(self.config.partner(partner).feed.outbox)  # type: ignore[union-attr]

    # -- the scenario --------------------------------------------------------------------------

    def seed(self, referrals: int = 24) -> SchoolSide:
        self.side = seed_school_side(self.sandbox, self.today, referrals=referrals)
        return self.side

    def partners_reply(self) -> None:
        """Between the two syncs: partner answers land in the inboxes, one consent is revoked."""
        assert self.side is not None, "seed() first"
        inboxes = {p.id: self.inbox(p.id) for p in self.config.partners}
        write_partner_replies(self.side, self.sandbox, self.today, inboxes)
        revoke_one_consent(self.sandbox, self.side, self.today)

    def sync(
        self,
        *,
        client: dict[str, Any] | None = None,
        partner: str | None = None,
        dry_run: bool = False,
        client_class: type | None = None,
    ) -> dict[str, Any]:
        """One run of the real engine (what `ssp sync run` does), returning its summary."""
        from connector.cli import _state, open_feeds
        from connector.client import PowerSchoolClient
        from connector.engine import SyncRun

        options = {"max_workers": self.config.powerschool.max_workers, **(client or FAST_CLIENT)}
        with (
            (client_class or PowerSchoolClient)(
                self.sandbox.base_url, self.credentials, **options
            ) as ps,
            open_feeds(self.config) as feeds,
            _state(self.config, dry_run=dry_run) as state,
        ):
            summary = SyncRun(self.config, ps, state, feeds, dry_run=dry_run, now=self.now).execute(
                partner
            )
        result = summary.as_dict()
        self.summaries.append(result)
        return result

    def run_scenario(
        self, *, client: dict[str, Any] | None = None, client_class: type | None = None
    ) -> list[dict[str, Any]]:
        """Sync, partners reply (and a consent is revoked), sync again."""
        first = self.sync(client=client, client_class=client_class)
        self.partners_reply()
        second = self.sync(client=client, client_class=client_class)
        return [first, second]


def make_world(
    root: Path,
    zips: list[Path],
    *,
    students: int = 160,
    referrals: int | None = 24,
    faults: str = "single:0,norecord:0",
    latency_ms: int = 0,
    max_page_size: int = 25,
    db_path: Path | None = None,
    now: dt.datetime | None = None,
    max_workers: int = 4,
) -> World:
    """A started sandbox (stop it with world.sandbox.stop()) and a configured folder `root`."""
    sandbox = Sandbox(
        plugins=zips,
        students=students,
        seed=7,
        timezone=TZ,
        faults=faults,
        latency_ms=latency_ms,
        max_page_size=max_page_size,
        db_path=db_path,
    )
    sandbox.faults.timeout_seconds = SANDBOX_TIMEOUT_HOLD
    sandbox.start()
    moment = now or pinned_now()
    world = World(
        root=root,
        sandbox=sandbox,
        config=_write_config(root, sandbox.base_url, max_workers),
        credentials=Credentials(sandbox.client_id, SecretStr(sandbox.client_secret)),
        today=moment.astimezone(ZoneInfo(TZ)).date(),
        now=moment,
    )
    if referrals:
        world.seed(referrals)
    return world


def _write_config(root: Path, base_url: str, max_workers: int) -> SSPConfig:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "ssp.toml"
    text = config_text(base_url, max_workers=max_workers)
    path.write_text(text, encoding="utf-8")
    config = parse_config_text(text, source=str(path), base_dir=root)
    for partner in config.partners:
        for folder in (partner.feed.inbox, partner.feed.outbox):  # type: ignore[union-attr]
            config.resolve(folder).mkdir(parents=True, exist_ok=True)
    return config


def copy_tree(source: Path, target: Path) -> None:
    """Copy a world folder (state, feeds) for a rerun from the same starting point."""
    shutil.copytree(source, target, symlinks=True)

"""What one sync run carries through its phases: configuration, connections, clocks and counters."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connector.progress import Progress
from connector.summary import RunSummary
from connector.writer import PowerSchoolWriter
from foundation.catalogue import Catalogue
from foundation.config import SSPConfig
from foundation.errors import RunError
from plugin.queries import Query, connector_queries

if TYPE_CHECKING:
    from connector.client import PowerSchoolClient
    from connector.state import StateStore

__all__ = ["RunContext", "StopRequested", "LOOKBACK"]

LOOKBACK = dt.timedelta(minutes=15)
"""Re-read rows modified this long before the watermark: a row committed late with an earlier
WHENMODIFIED is not missed. Re-read rows are recognised by content hash and cause no new effect."""


class StopRequested(RunError):
    """SIGTERM/Ctrl-C arrived: the run stopped cleanly between two records."""


@dataclass
class RunContext:
    config: SSPConfig
    catalogue: Catalogue
    client: PowerSchoolClient
    state: StateStore
    writer: PowerSchoolWriter
    run_id: str
    today: dt.date
    now_utc: dt.datetime
    summary: RunSummary
    dry_run: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    progress: Progress = field(default_factory=Progress)
    lookback: dt.timedelta = LOOKBACK
    suspect_referrals: set[str] = field(default_factory=set)
    """Referral SSP_UIDs the stream saw on a second PowerSchool row: checked on a snapshot."""

    @property
    def stamp(self) -> str:
        """UTC 'YYYY-MM-DD HH:MM:SS', the format of LAST_SENT and DISCLOSED_AT."""
        return self.now_utc.strftime("%Y-%m-%d %H:%M:%S")

    def query(self, area: str) -> Query:
        for query in connector_queries(self.catalogue, self.config.district.query_namespace):
            if query.area == area:
                return query
        raise KeyError(area)

    def check_stop(self) -> None:
        """Called between records: stop here, with everything so far written and recorded."""
        if self.stop.is_set():
            raise StopRequested("stop requested: the run ended cleanly between two records")

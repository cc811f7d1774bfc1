"""Partner feeds: one adapter per feed kind behind the small interface of `base`.

    feed = open_feed(partner, config)               # CsvFeed, HttpFeed or SftpFeed, mapping loaded
    for batch in feed.inbound("status_update", since=cursor): ...
    feed.write_outbound("referrals", run_id, [feed.mapping.outbound_referral_row(r) for r in refs])

See `base` for the protocol, `drop` for the two transports of the file rules (a local folder
pair, an SFTP server), `files` for the layout under the state directory, `safety` for
formula neutralisation and file-name rules.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Feed",
    "InboundBatch",
    "InboundRow",
    "InboundKind",
    "OutboundKind",
    "INBOUND_KINDS",
    "OUTBOUND_KINDS",
    "CsvFeed",
    "CsvBatch",
    "HttpFeed",
    "HttpBatch",
    "SftpFeed",
    "open_feed",
    "partner_token",
]
_HOME = {
    "Feed": "base",
    "InboundBatch": "base",
    "InboundRow": "base",
    "InboundKind": "base",
    "OutboundKind": "base",
    "INBOUND_KINDS": "base",
    "OUTBOUND_KINDS": "base",
    "CsvFeed": "csv_feed",
    "CsvBatch": "csv_feed",
    "HttpFeed": "http_feed",
    "HttpBatch": "http_feed",
    "SftpFeed": "sftp_feed",
    "open_feed": "factory",
    "partner_token": "factory",
}


def __getattr__(name: str) -> Any:
    """Lazy re-exports: importing `connector.feeds.safety` must not pull in the whole package."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)

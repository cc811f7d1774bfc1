"""Logging to stderr: readable lines on a terminal, JSON lines otherwise (for schedulers and SIEMs).

Log records name students by SSP_UID or DCID only. As a second line of defence, every record
passes through a filter that masks registered secrets (the client secret, partner tokens) if
one ever reaches a message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

__all__ = ["setup_logging", "register_secret", "JsonFormatter", "SecretMaskFilter"]

_SECRETS: set[str] = set()
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def register_secret(value: str) -> None:
    """Mask `value` in every log record from now on (values shorter than 4 chars are ignored)."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def _mask(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "**********")
    return text


class SecretMaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = _mask(record.getMessage())
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = f"{record.exc_info[0].__name__}: {_mask(str(record.exc_info[1]))}"
        return _mask(json.dumps(entry, default=str, ensure_ascii=False))


def setup_logging(*, verbose: bool = False, stream: Any = None) -> None:
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if getattr(stream, "isatty", lambda: False)():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    else:
        handler.setFormatter(JsonFormatter())
    handler.addFilter(SecretMaskFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_ssp", False):
            root.removeHandler(old)
    handler._ssp = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("urllib3", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # APScheduler's own chatter ("Adding job tentatively", "Added job ...") is for -v only: the
    # scheduler says itself, in words, when it started and when the next run is.
    logging.getLogger("apscheduler").setLevel(logging.NOTSET if verbose else logging.WARNING)

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

__all__ = ["setup_logging", "register_secret", "JsonFormatter", "TerminalFormatter",
           "SecretMaskFilter", "SHOWN_BY_PROGRESS"]

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


SHOWN_BY_PROGRESS = "_shown_by_progress"
"""Set in `extra` of a record whose news a terminal already shows as a progress line: on a
terminal it is left out (it would repeat that line with nothing more); in JSON logs it stays."""

_CLEAR_LINE = "\r\x1b[2K"  # a progress line may be open on the terminal: start afresh


class TerminalFormatter(logging.Formatter):
    """`HH:MM:SS LEVEL logger: message key=value ...` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [f"{k}={v}" for k, v in record.__dict__.items()
                  if k not in _STANDARD_ATTRS and not k.startswith("_")]
        if extras:
            first, newline, rest = text.partition("\n")  # a traceback stays below
            text = f"{first} ({', '.join(extras)}){newline}{rest}"
        return _CLEAR_LINE + _mask(text)


def _not_shown_by_progress(record: logging.LogRecord) -> bool:
    return not getattr(record, SHOWN_BY_PROGRESS, False) or record.levelno > logging.INFO


def setup_logging(*, verbose: bool = False, stream: Any = None) -> None:
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    if getattr(stream, "isatty", lambda: False)():
        handler.setFormatter(TerminalFormatter())
        handler.addFilter(_not_shown_by_progress)
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

"""`ssp check`, `ssp sync run|schedule|status` and `ssp disclosures`: wiring config to the engine."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import threading
from collections.abc import Iterator
from typing import Any

from ssp.config import SSPConfig, load_config, read_credentials
from ssp.errors import RunError

__all__ = ["check", "sync_run", "sync_schedule", "sync_status", "disclosures", "open_client", "open_feeds",
           "run_sync"]


def open_client(config: SSPConfig, credentials: Any = None):  # -> PowerSchoolClient
    from connector.client import PowerSchoolClient

    settings = config.powerschool
    return PowerSchoolClient(
        settings.base_url, credentials or read_credentials(), max_workers=settings.max_workers,
        timeout=settings.timeout_seconds, retry_deadline=settings.retry_deadline_seconds,
    )


@contextlib.contextmanager
def open_feeds(config: SSPConfig) -> Iterator[dict[str, Any]]:
    from connector.feeds import open_feed

    catalogue = config.catalogue()
    feeds = {p.id: open_feed(p, config, catalogue=catalogue) for p in config.partners}
    try:
        yield feeds
    finally:
        for feed in feeds.values():
            feed.close()


@contextlib.contextmanager
def _state(config: SSPConfig, *, dry_run: bool) -> Iterator[Any]:
    from connector.engine import dry_run_state
    from connector.state import StateStore

    if dry_run:
        with dry_run_state(config.state_dir) as store:
            yield store
    else:
        with StateStore.open_dir(config.state_dir) as store:
            yield store


def run_sync(config: SSPConfig, *, partner: str | None = None, dry_run: bool = False,
             stop: threading.Event | None = None, credentials: Any = None):  # -> RunSummary
    """One sync run with everything opened and closed around it (used by the CLI and the demo)."""
    from connector.engine import SyncRun

    with open_client(config, credentials) as client, open_feeds(config) as feeds, \
            _state(config, dry_run=dry_run) as state:
        return SyncRun(config, client, state, feeds, dry_run=dry_run, stop=stop).execute(partner)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def sync_run(args: argparse.Namespace) -> int:
    from connector.retry import RetriesExhaustedError
    from ssp.errors import PowerSchoolError

    config = load_config(args.config)
    credentials = read_credentials()
    try:
        summary = run_sync(config, partner=args.partner, dry_run=args.dry_run, credentials=credentials)
    except (RetriesExhaustedError, PowerSchoolError) as exc:  # e.g. unreachable: say which one
        error = RunError(f"PowerSchool at {config.powerschool.base_url}: {exc}")
        _print_json({"status": "failed", "error": str(error)})
        raise error from None
    except RunError as exc:
        _print_json({"status": "failed", "error": str(exc)})
        raise
    _print_json(summary.as_dict())
    return 0 if summary.status in ("ok", "stopped") else 1


def sync_schedule(args: argparse.Namespace) -> int:
    from connector.schedule import run_scheduler

    config = load_config(args.config)
    credentials = read_credentials()

    def run_once(stop: threading.Event) -> None:
        summary = run_sync(config, stop=stop, credentials=credentials)
        print(json.dumps(summary.as_dict(), default=str), flush=True)

    return run_scheduler(config, run_once)


def sync_status(args: argparse.Namespace) -> int:
    from connector.state import DB_FILENAME, StateStore

    config = load_config(args.config)
    if not (config.state_dir / DB_FILENAME).exists():
        _print_json({"runs": [], "note": "no sync has run yet"})
        return 0
    with StateStore.open_dir(config.state_dir) as store:
        runs = store.recent_runs(args.limit)
        watermarks = {s: store.get_watermark(s) for s in ("consents", "referrals", "visits")}
    _print_json({
        "runs": [{"run_id": r.run_id, "started_at": r.started_at, "finished_at": r.finished_at,
                  "status": r.status, "dry_run": r.dry_run, "partner": r.partner_filter,
                  "partners": (r.summary or {}).get("partners", {})} for r in runs],
        "watermarks": watermarks,
    })
    return 0


DISCLOSURES_RETRY_DEADLINE = 30.0
"""Seconds `ssp disclosures` rides out a PowerSchool outage before answering without it."""


def _read_powerschool_record(config: SSPConfig, student_number: str) -> Any:  # -> SourceRead
    from connector.client import PowerSchoolClient
    from connector.disclosure_record import SourceRead, read_powerschool
    from connector.retry import RetriesExhaustedError
    from ssp.errors import NotFoundError, PowerSchoolError

    settings = config.powerschool
    where = f"PowerSchool at {settings.base_url}"
    query = f"{config.district.query_namespace}.disclosures.for_student"
    credentials = read_credentials()  # missing credentials: a configuration error (exit 2)
    try:
        with PowerSchoolClient(
            settings.base_url, credentials, max_workers=settings.max_workers,
            timeout=settings.timeout_seconds,
            retry_deadline=min(settings.retry_deadline_seconds, DISCLOSURES_RETRY_DEADLINE),
        ) as client:
            return read_powerschool(client, query, student_number)
    except NotFoundError:
        return SourceRead(problem=f"{where}: the PowerQuery {query} is not installed "
                                  "(install the current plugin, then run `ssp check`)")
    except RetriesExhaustedError as exc:
        return SourceRead(problem=f"{where} not reachable: {exc}")
    except PowerSchoolError as exc:  # no HTTP status: nothing answered (e.g. the token request)
        how = "not reachable" if getattr(exc, "status", None) is None else "refused the request"
        return SourceRead(problem=f"{where} {how}: {exc}")


def _print_disclosures(record: Any, fmt: str) -> None:
    from connector.disclosure_record import ENTRY_COLUMNS
    from connector.feeds.safety import neutralise_cell

    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(ENTRY_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for entry in record.entries:
            writer.writerow({k: neutralise_cell(str(v)) for k, v in entry.items()})
        sys.stdout.write(out.getvalue())
    else:
        _print_json(record.as_dict())


def disclosures(args: argparse.Namespace) -> int:
    """`ssp disclosures --student N`: PowerSchool's record merged with the local ledger.

    Exit 0: PowerSchool answered for a known student. 2: the student number is not in PowerSchool
    (a mistyped number must not read as "no disclosures"). 1: PowerSchool could not be read (the
    local entries are printed, marked incomplete) or neither source could be read (no output).
    """
    from connector.disclosure_record import merge_record, read_local
    from ssp.errors import ConfigError

    config = load_config(args.config)
    student = str(args.student).strip()
    if not student:
        raise ConfigError("give a student number", key="--student")
    local = read_local(config.state_dir, student)
    powerschool = _read_powerschool_record(config, student)
    if not powerschool.read and not local.read:
        raise RunError(
            f"cannot read any record of disclosures for student {student}: "
            f"{powerschool.problem}; and {local.problem}"
        )
    record = merge_record(config, student, powerschool, local)
    if record.known_in_powerschool is False:
        if record.entries:
            _print_disclosures(record, args.format)
        raise ConfigError(
            f"no student with student number {student} in PowerSchool at "
            f"{config.powerschool.base_url} (check the number)"
            + (f"; this server's ledger still holds {len(record.entries)} entr"
               f"{'y' if len(record.entries) == 1 else 'ies'} for it" if record.entries else ""),
            key="--student",
        )
    _print_disclosures(record, args.format)
    if not powerschool.read:
        print(f"ssp: error: {powerschool.problem}. The list above is only this server's local "
              "ledger and may be incomplete: ask again when PowerSchool answers before replying "
              "to a request for the record of disclosures.", file=sys.stderr)
        return 1
    if not local.read:
        print(f"ssp: note: {local.problem}; the answer is PowerSchool's record alone.",
              file=sys.stderr)
    return 0


def check(args: argparse.Namespace) -> int:
    from connector.check import run_check

    config = load_config(args.config)
    with open_client(config) as client:
        report = run_check(client, config)
    _print_json(report)
    return 0 if report["ok"] else 1

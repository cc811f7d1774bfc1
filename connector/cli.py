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

from foundation.config import SSPConfig, load_config, read_credentials
from foundation.errors import RunError

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
def open_feeds(config: SSPConfig, *, dry_run: bool = False) -> Iterator[dict[str, Any]]:
    from connector.feeds import open_feed

    catalogue = config.catalogue()
    feeds: dict[str, Any] = {}
    try:
        for p in config.partners:
            feeds[p.id] = open_feed(p, config, catalogue=catalogue, dry_run=dry_run)
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

    with open_client(config, credentials) as client, open_feeds(config, dry_run=dry_run) as feeds, \
            _state(config, dry_run=dry_run) as state:
        return SyncRun(config, client, state, feeds, dry_run=dry_run, stop=stop).execute(partner)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def sync_run(args: argparse.Namespace) -> int:
    from connector.retry import RetriesExhaustedError
    from foundation.errors import PowerSchoolError

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


def disclosures(args: argparse.Namespace) -> int:
    from connector.feeds.safety import neutralise_cell
    from connector.state import DB_FILENAME, StateStore

    config = load_config(args.config)
    entries: list[dict[str, str]] = []
    if (config.state_dir / DB_FILENAME).exists():
        with StateStore.open_dir(config.state_dir) as store:
            entries = [d.as_dict() for d in store.disclosures_for_student(str(args.student))]
    if args.format == "csv":
        out = io.StringIO()
        columns = list(entries[0]) if entries else ["ssp_uid", "disclosed_at", "partner_id", "direction",
                                                    "data_categories", "purpose", "legal_basis", "referral_uid"]
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for entry in entries:
            writer.writerow({k: neutralise_cell(str(v)) for k, v in entry.items()})
        sys.stdout.write(out.getvalue())
    else:
        _print_json({"student_number": str(args.student), "disclosures": entries,
                     "record_kept_under": "34 CFR 99.32"})
    return 0


def check(args: argparse.Namespace) -> int:
    from connector.check import run_check

    config = load_config(args.config)
    with open_client(config) as client:
        report = run_check(client, config)
    _print_json(report)
    return 0 if report["ok"] else 1

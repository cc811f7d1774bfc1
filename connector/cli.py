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

from pydantic import SecretStr

from foundation.config import Credentials, SSPConfig, load_config, read_credentials
from foundation.errors import ConfigError, RunError, SSPError

__all__ = ["check", "preflight", "check_text", "sync_run", "sync_schedule", "sync_status", "disclosures", "open_client", "open_feeds",
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


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a service manager, `kill`) ends `ssp sync run` as Ctrl-C does: the run is
    recorded `interrupted` and every open transaction rolls back, instead of the process
    vanishing with the run shown `running`."""
    import signal

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def sync_run(args: argparse.Namespace) -> int:
    from connector.retry import RetriesExhaustedError
    from foundation.errors import PowerSchoolError

    config = load_config(args.config)
    credentials = read_credentials()
    try:
        with _sigterm_interrupts():
            summary = run_sync(config, partner=args.partner, dry_run=args.dry_run,
                               credentials=credentials)
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
    """Check everything first (exit 2 if anything a run needs is missing, so a service manager
    shows the unit failed now, not at the first night), then run on the cron schedule."""
    import logging

    from connector.schedule import cron_trigger, run_scheduler

    log = logging.getLogger("ssp.schedule")
    config = load_config(args.config)
    cron_trigger(config)  # a cron expression the scheduler cannot use: exit 2 before anything
    report, stopped = preflight(config)
    for warning in report["warnings"]:
        log.warning(warning)
    if not report["ok"]:
        for problem in report["missing"]:
            log.error(problem)
        raise ConfigError(
            f"the scheduler did not start: {len(report['missing'])} problem(s) a sync run would "
            "fail on (listed above; `ssp check` shows them too). Fix them and start it again."
        ) from stopped
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
        "runs": [_run_entry(r) for r in runs],
        "watermarks": watermarks,
    })
    return 0


RUN_NOTES = {
    "interrupted": "interrupted (Ctrl-C, SIGTERM, or the process was killed): nothing is lost; "
                   "the next run settles what this one left and goes on",
    "stopped": "stopped between records on request: the next run goes on from there",
}


def _run_entry(run: Any) -> dict[str, Any]:  # run: connector.state.RunRecord
    entry = {"run_id": run.run_id, "started_at": run.started_at, "finished_at": run.finished_at,
             "status": run.status, "dry_run": run.dry_run, "partner": run.partner_filter,
             "partners": (run.summary or {}).get("partners", {})}
    if run.status in RUN_NOTES:
        entry["note"] = RUN_NOTES[run.status]
    if run.status == "running" and run.pid is not None:
        entry["process"] = {"host": run.host, "pid": run.pid}
    return entry


DISCLOSURES_RETRY_DEADLINE = 30.0
"""Seconds `ssp disclosures` rides out a PowerSchool outage before answering without it."""


def _read_powerschool_record(config: SSPConfig, student_number: str) -> Any:  # -> SourceRead
    from connector.client import PowerSchoolClient
    from connector.disclosure_record import SourceRead, read_powerschool
    from connector.retry import RetriesExhaustedError
    from foundation.errors import NotFoundError, PowerSchoolError

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
    from foundation.errors import ConfigError

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


def preflight(config: SSPConfig) -> tuple[dict[str, Any], SSPError | None]:
    """Everything a run needs, checked: this machine first, then the partners' APIs, then
    PowerSchool (credentials, tables, queries, granted access). Returns the report and the error
    that stopped the PowerSchool part, if one did (bad credentials: exit 2; unreachable: exit 1)."""
    from connector.check import run_check
    from connector.preflight import local_findings, partner_api_findings, timezone_findings
    from foundation.config import inspect_secret

    findings = local_findings(config)
    findings += partner_api_findings(config)
    report: dict[str, Any] = {"ok": False, "missing": [], "warnings": [],
                              "powerschool": config.powerschool.base_url, "authenticated": False}
    stopped: SSPError | None = None
    sources = [inspect_secret(n) for n in ("SSP_CLIENT_ID", "SSP_CLIENT_SECRET")]
    try:
        if any(s.errors for s in sources):  # already a finding: do not sign in with it
            raise ConfigError("the PowerSchool credentials cannot be read (see above): "
                              "PowerSchool was not checked")
        credentials = read_credentials() if not all(s.value for s in sources) else \
            Credentials(sources[0].value, SecretStr(sources[1].value))
        with open_client(config, credentials) as client:
            report.update(run_check(client, config))
        findings += timezone_findings(config, report.get("metadata", {}).get("district_timezone"))
    except (ConfigError, RunError) as exc:
        stopped = exc
    powerschool_missing = list(report.get("missing", []))
    report["missing"] = [f.message for f in findings if f.level == "error"] + powerschool_missing
    if stopped is not None:
        report["missing"].append(f"PowerSchool at {config.powerschool.base_url}: {stopped}")
    report["warnings"] = [f.message for f in findings if f.level == "warning"]
    report["findings"] = [f.as_dict() for f in findings]
    report["ok"] = not report["missing"]
    return report, stopped


def check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    report, stopped = preflight(config)
    fmt = getattr(args, "format", "auto")
    if fmt == "text" or (fmt == "auto" and sys.stdout.isatty()):
        print(check_text(config, report))
    else:
        _print_json(report)
    if stopped is not None:
        raise stopped
    return 0 if report["ok"] else 1


def check_text(config: SSPConfig, report: dict[str, Any]) -> str:
    """The check for people: one line per problem or warning, then one line per part that passed."""
    lines = [f"Checking {config.source}: everything a sync run needs"]
    lines += [f"  FAIL  {m}" for m in report["missing"]]
    lines += [f"  WARN  {m}" for m in report["warnings"]]
    failed_areas = {f["area"] for f in report.get("findings", []) if f["level"] == "error"}
    passed = []
    if "state" not in failed_areas:
        passed.append(f"state dir {config.state_dir}")
    probed = report.get("partners", {})
    for partner in config.partners:
        probe = probed.get(partner.id, {})
        if f"partner {partner.id}" in failed_areas or probe.get("ok") is False:
            continue
        if probe.get("kind") == "fhir":
            passed.append(f"partner {partner.id}: FHIR server {probe['base_url']} (FHIR "
                          f"{probe['fhir_version']}, conditional create, token accepted), "
                          f"mapping \"{partner.mapping}\"")
        else:
            passed.append(f"partner {partner.id} (folders or API, mapping \"{partner.mapping}\")")
    if report.get("authenticated") and report.get("tables") and not any(
        not e["ok"] for part in ("tables", "queries") for e in report.get(part, {}).values()
    ):
        passed.append(f"PowerSchool at {config.powerschool.base_url}: signed in; "
                      f"{len(report['tables'])} tables and {len(report['queries'])} PowerQueries "
                      "answer with the access the connector needs")
    lines += [f"  ok    {p}" for p in passed]
    problems, warnings = len(report["missing"]), len(report["warnings"])
    if problems:
        lines.append(f"{problems} problem(s), {warnings} warning(s): fix the problems, then run "
                     "`ssp check` again. A sync run would fail now.")
    else:
        lines.append(f"Ready: a sync run has everything it needs ({warnings} warning(s)).")
    return "\n".join(lines)

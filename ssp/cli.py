"""The `ssp` command line: argument parsing and dispatch only.

Each command lives in the module that owns it and is imported only when that command runs, so
`ssp --help` stays fast. Exit codes: 0 success, 1 the run failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Callable, Sequence

from foundation import __version__

__all__ = ["main", "build_parser"]

# command path -> "module:function"; each function takes the parsed args and returns an exit code.
COMMANDS: dict[str, str] = {
    "demo": "ssp.demo:command",
    "plugin build": "plugin.cli:build",
    "plugin preview": "plugin.cli:preview",
    "plugin diff": "plugin.cli:diff",
    "plugin lint": "plugin.cli:lint",
    "check": "connector.cli:check",
    "sync run": "connector.cli:sync_run",
    "sync schedule": "connector.cli:sync_schedule",
    "sync status": "connector.cli:sync_status",
    "disclosures": "connector.cli:disclosures",
    "report": "documents.report:command",
    "documents": "documents.forms:command",
    "sandbox": "ssp.sandbox_command:command",
}


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, metavar="F",
                   help="configuration file (default: ./ssp.toml)")


_VERBOSE_HELP = "debug logging on stderr"


def _verbose_arg(p: argparse.ArgumentParser) -> None:
    """`-v` is accepted after the command words too (`ssp sync run -v`); SUPPRESS keeps a `-v`
    given before them (`ssp -v sync run`) from being reset by the subcommand's default."""
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help=_VERBOSE_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssp",
        description="Student Support Connector: PowerSchool Student Support Page plugins and a "
        "consent-gated sync with community mental-health partners.",
    )
    parser.add_argument("--version", action="version", version=f"ssp {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser("demo", help="build, start the sandbox, sync a demo partner, write the report")
    demo.add_argument("--out", type=Path, default=Path("ssp-demo"), metavar="DIR",
                      help="where the demo writes everything (default: ./ssp-demo)")

    plugin = sub.add_parser("plugin", help="build, preview, compare and check PowerSchool plugins")
    psub = plugin.add_subparsers(dest="plugin_command", metavar="ACTION", required=True)
    build = psub.add_parser("build", help="write the DATA and UI plugin zips")
    _config_arg(build)
    build.add_argument("--out", type=Path, default=Path("dist"), metavar="DIR",
                       help="where the two zips are written (default: ./dist)")
    build.add_argument("--previous", type=Path, action="append", default=[], metavar="OLD.zip",
                       help="an earlier (installed) zip the new version must exceed; repeat for "
                       "DATA and UI (default: the record of the last build in DIR)")
    preview = psub.add_parser("preview", help="static HTML preview of the Student Support Page")
    _config_arg(preview)
    preview.add_argument("--out", type=Path, default=Path("preview"), metavar="DIR",
                         help="where the HTML preview is written (default: ./preview)")
    diff = psub.add_parser("diff", help="refuse a schema change PowerSchool cannot apply or that loses data")
    diff.add_argument("old", type=Path, metavar="OLD.zip", help="the plugin zip installed now")
    diff.add_argument("new", type=Path, metavar="NEW.zip", help="the plugin zip to install")
    lint = psub.add_parser("lint", help="check any PowerSchool plugin zip against PowerSchool's "
                           "plugin rules; exit 1 on errors")
    lint.add_argument("zips", type=Path, nargs="+", metavar="ZIP",
                      help="plugin zips to check (a DATA and a UI zip together: the UI's "
                      "requested fields are checked against the DATA schema)")
    lint.add_argument("--data", type=Path, action="append", default=[], metavar="ZIP",
                      help="a DATA plugin installed on the server: requested extension fields "
                      "are checked against it (zips linted together count too)")

    check = sub.add_parser("check", help="everything a sync run needs: folders, mappings, secrets, "
                           "partner APIs, PowerSchool credentials, tables, queries and access")
    _config_arg(check)
    check.add_argument("--format", choices=("auto", "text", "json"), default="auto",
                       help="text for people or the JSON report (default: text on a terminal, "
                       "JSON otherwise)")

    sync = sub.add_parser("sync", help="run, schedule or inspect the partner sync")
    ssub = sync.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    run = ssub.add_parser("run", help="one sync; prints a JSON summary")
    _config_arg(run)
    run.add_argument("--partner", metavar="ID", help="only this partner")
    run.add_argument("--dry-run", action="store_true", help="plan only: change nothing anywhere")
    schedule = ssub.add_parser("schedule", help="run the sync on the configured cron schedule")
    _config_arg(schedule)
    status = ssub.add_parser("status", help="recent runs and their counts")
    _config_arg(status)
    status.add_argument("--limit", type=int, default=10, help="how many runs (default 10)")

    disc = sub.add_parser("disclosures", help="a student's record of disclosures (FERPA 99.32)")
    disc.add_argument("--student", required=True, metavar="N", help="student number")
    _config_arg(disc)
    disc.add_argument("--format", choices=("json", "csv"), default="json",
                      help="output format on stdout (default: json)")

    report = sub.add_parser("report", help="referral-to-access report")
    _config_arg(report)
    report.add_argument("--out", type=Path, required=True, metavar="FILE.html",
                        help="the file to write")
    report.add_argument("--format", choices=("html", "csv"), default="html",
                        help="an HTML report or the CSV of its figures (default: html)")
    report.add_argument("--from", dest="period_from", metavar="YYYY-MM-DD", help="period start")
    report.add_argument("--to", dest="period_to", metavar="YYYY-MM-DD", help="period end")

    docs = sub.add_parser("documents", help="the MOU or the consent form, filled from the configuration")
    docs.add_argument("kind", choices=("mou", "consent"), help="which document")
    docs.add_argument("--partner", required=True, metavar="ID", help="the partner id from ssp.toml")
    _config_arg(docs)
    docs.add_argument("--out", type=Path, required=True, metavar="FILE.html",
                      help="the HTML file to write")
    docs.add_argument("--student", metavar="N", help="pre-fill for one student (consent only)")
    docs.add_argument("--language", choices=("en", "es"), default="en",
                      help="language of the document (default: en)")

    sandbox = sub.add_parser(
        "sandbox", help="run the local PowerSchool emulator (rehearse a setup before go-live)",
        description="A local PowerSchool emulator on 127.0.0.1 with fictional students. With "
        "--config it installs the plugins built from that ssp.toml and uses its time zone; "
        "--seed-demo adds consents, referrals and visits; --rehearsal-dir writes a copy of the "
        "configuration pointed at the sandbox. Prints throw-away credentials; Ctrl-C stops it.")
    sandbox.add_argument("--config", type=Path, default=None, metavar="F",
                         help="build and install the plugins from this ssp.toml and use its time "
                         "zone (default: the packaged demo configuration)")
    sandbox.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    sandbox.add_argument("--plugin", type=Path, action="append", default=[], metavar="ZIP",
                         help="install this plugin zip instead of building them (repeat for DATA and UI)")
    sandbox.add_argument("--timezone", default=None, metavar="TZ",
                         help="district time zone, e.g. America/New_York (default: [schedule] "
                         "timezone of the configuration)")
    sandbox.add_argument("--seed-demo", action="store_true",
                         help="enter consents, referrals and visits for the configuration's "
                         "partners, as staff would on the page")
    sandbox.add_argument("--rehearsal-dir", type=Path, default=None, metavar="DIR",
                         help="write DIR/ssp.toml (the --config file pointed at the sandbox, state "
                         "and feed folders in DIR) and keep the sandbox's data in DIR")
    sandbox.add_argument("--latency-ms", type=int, default=0, metavar="N",
                         help="delay every response by N milliseconds")
    sandbox.add_argument("--faults", default="", metavar="SPEC",
                         help="inject faults, e.g. '429:0.1,503:0.05,reset:0.02'")
    sandbox.add_argument("--students", type=int, default=None, metavar="N",
                         help="number of demo students to seed (default 200)")
    _add_verbose_everywhere(parser)
    return parser


def _add_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Every command that runs something also takes `-v` after its own words."""
    children = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not children:
        _verbose_arg(parser)
        return
    for action in children:
        for child in dict.fromkeys(action.choices.values()):
            _add_verbose_everywhere(child)


def _command_key(args: argparse.Namespace) -> str:
    for sub_attr in ("plugin_command", "sync_command"):
        sub = getattr(args, sub_attr, None)
        if sub:
            return f"{args.command} {sub}"
    return args.command


def _resolve(target: str) -> Callable[[argparse.Namespace], int]:
    module_name, func_name = target.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from foundation.errors import SSPError
    from foundation.logs import setup_logging

    setup_logging(verbose=args.verbose)
    try:
        code = _resolve(COMMANDS[_command_key(args)])(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return code
    except SSPError as exc:
        print(f"ssp: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:  # a folder the service may not write, a full disk: say which, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ssp: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


INTERRUPTED = ("ssp: interrupted. Nothing is lost: every record is either fully done or not done "
               "at all, and running the same command again is safe (a sync resumes where this "
               "one stopped).")


def _closed_pipe() -> int:
    """The reader went away (`ssp sync status | head`): stop quietly, as cat or grep do.
    stdout is pointed at /dev/null so the interpreter's final flush raises nothing."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a reader that left early


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

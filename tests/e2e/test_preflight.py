"""`ssp check` as the one preflight, and `ssp sync schedule` refusing to start without it.

Each case is a setup that used to pass every check and fail on the first scheduled night: a state
dir the service cannot create, missing or shared feed folders, `mapping = "acme"`, a partner API
that is down or refuses the token, secret files, a time zone that disagrees with PowerSchool.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import Workspace, config_text

import connector.schedule
from sandbox import Sandbox
from connector.schedule import next_fire_time

CGC_CSV = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'
BHCARE_CSV = 'feed = { kind = "csv", inbox = "feeds/bhcare/in", outbox = "feeds/bhcare/out" }'


def unwritable_parent(tmp_path: Path) -> Path:
    """A folder in which this account cannot create anything (root ignores chmod: use /sys)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    try:
        (Path("/sys") / "ssp-probe").mkdir()
    except OSError:
        return Path("/sys")
    pytest.skip("no folder here refuses root")


def check(ws: Workspace, *args: str) -> tuple[int, dict]:
    result = ws.ssp("check", "--format", "json", *args)
    return result.code, json.loads(result.stdout)


def test_a_complete_setup_passes_with_no_problem_and_no_warning(ws: Workspace) -> None:
    code, report = check(ws)
    assert code == 0, report["missing"]
    assert report["ok"] is True and report["missing"] == [] and report["warnings"] == []


def test_a_state_dir_that_cannot_be_created_fails_the_check_and_the_run_says_so_plainly(
    ws: Workspace, tmp_path: Path
) -> None:
    state = unwritable_parent(tmp_path) / "ssp-state" / "var"
    ws.write_config(replace=[('dir = "var/ssp"', f'dir = "{state}"')])

    code, report = check(ws)
    assert code == 1 and report["ok"] is False
    [problem] = report["missing"]
    assert problem.startswith(f"the state dir {state} does not exist and cannot be created")
    assert "install -d" in problem and "[state] dir" in problem

    run = ws.ssp("sync", "run")
    assert run.code == 2
    assert "Traceback" not in run.stderr and "Errno" not in run.stderr
    assert f"ssp: error: the state dir {state.parent}" in run.stderr
    assert "cannot be created" in run.stderr


def test_a_missing_feed_folder_is_named_by_the_check(ws: Workspace) -> None:
    (ws.root / "feeds" / "cgc" / "out").rmdir()

    code, report = check(ws)
    assert code == 1
    assert any(
        m.startswith(f"the outbox {ws.root}/feeds/cgc/out does not exist") for m in report["missing"]
    )


def test_a_shared_feed_folder_is_refused_before_anything_is_checked(ws: Workspace) -> None:
    """Two partners in one folder would read each other's files: the configuration itself is
    refused (exit 2) by every command, naming both keys, before any check or run starts."""
    ws.write_config(replace=[(BHCARE_CSV, BHCARE_CSV.replace("feeds/bhcare/in", "feeds/cgc/in"))])

    result = ws.ssp("check", "--format", "json")

    assert result.code == 2 and result.stdout == ""
    error = result.stderr.strip().splitlines()[-1]
    assert "partners[bhcare].feed.inbox" in error and "partners[cgc].feed.inbox" in error
    assert "same folder" in error


def test_an_unknown_mapping_fails_the_check_in_plain_words(ws: Workspace) -> None:
    ws.write_config(replace=[('mapping = "generic"', 'mapping = "acme"')])
    code, report = check(ws)
    assert code == 1
    assert report["missing"] == [
        'the mapping "acme" of partner "cgc" cannot be used: no packaged mapping \'acme\' '
        "(packaged: bhcare, fhir, generic; or give a path to a .toml file)"
    ]


@pytest.fixture
def partner_api() -> Iterator[str]:
    """A partner API on 127.0.0.1 that accepts only the token `good-token-123`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            ok = self.headers.get("Authorization") == "Bearer good-token-123"
            body = b'{"items": [], "next_cursor": null, "has_more": false}' if ok else b"{}"
            self.send_response(200 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _http_partner(ws: Workspace, base_url: str) -> None:
    feed = f'feed = {{ kind = "http", base_url = "{base_url}", token_env = "CGC_TOKEN" }}'
    ws.path.write_text(config_text(ws.sandbox.base_url, ws.today, replace=[(CGC_CSV, feed)]),
                       encoding="utf-8")


def test_a_partner_api_is_probed_for_reachability_and_the_token(
    ws: Workspace, partner_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _http_partner(ws, partner_api)
    monkeypatch.setenv("CGC_TOKEN", "good-token-123")
    assert check(ws)[0] == 0

    monkeypatch.setenv("CGC_TOKEN", "stale-token-456")
    code, report = check(ws)
    assert code == 1
    assert report["missing"] == [
        'the API of partner "cgc" refused the token (HTTP 401): check the value of CGC_TOKEN '
        "with the partner"
    ]
    assert "stale-token-456" not in json.dumps(report)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _http_partner(ws, f"http://127.0.0.1:{port}")
    code, report = check(ws)
    assert code == 1
    assert report["missing"][0].startswith(
        f'the API of partner "cgc" cannot be reached at 127.0.0.1:{port}: connection refused'
    )


def test_secret_files_are_checked_for_presence_and_permissions(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "client_secret"
    secret.write_text(ws.sandbox.client_secret + "\n", encoding="utf-8")
    monkeypatch.delenv("SSP_CLIENT_SECRET")
    monkeypatch.setenv("SSP_CLIENT_SECRET_FILE", str(secret))

    secret.chmod(0o600)
    assert check(ws) == (0, check(ws)[1]) and check(ws)[1]["warnings"] == []

    secret.chmod(0o644)  # readable by everyone: a warning, the run goes on
    code, report = check(ws)
    assert code == 0
    assert report["warnings"] == [
        f"{secret} (named by SSP_CLIENT_SECRET_FILE) is readable by other users (mode 644): "
        f"chmod 600 {secret}"
    ]
    run = ws.ssp("sync", "run")
    assert run.code == 0 and "is readable by other users" in run.stderr
    assert ws.sandbox.client_secret not in run.stderr + run.stdout

    secret.chmod(0o666)  # anyone may replace it: refused
    code, report = check(ws)
    assert code == 2
    assert f"{secret} (named by SSP_CLIENT_SECRET_FILE) is writable by every user" in (
        report["missing"][0]
    )
    assert ws.ssp("sync", "run").code == 2

    missing = tmp_path / "no-such-secret"
    monkeypatch.setenv("SSP_CLIENT_SECRET_FILE", str(missing))
    run = ws.ssp("sync", "run")
    assert run.code == 2
    assert f"{missing} (named by SSP_CLIENT_SECRET_FILE) does not exist" in run.stderr


def test_a_secret_given_twice_is_an_error_naming_both_variables(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "client_secret"
    secret.write_text("another-secret-0123", encoding="utf-8")
    secret.chmod(0o600)
    monkeypatch.setenv("SSP_CLIENT_SECRET_FILE", str(secret))  # SSP_CLIENT_SECRET is set too
    run = ws.ssp("sync", "run")
    assert run.code == 2
    assert "both SSP_CLIENT_SECRET and SSP_CLIENT_SECRET_FILE are set: unset one" in run.stderr
    code, report = check(ws)
    assert code == 2 and "both SSP_CLIENT_SECRET and SSP_CLIENT_SECRET_FILE" in report["missing"][0]


def test_a_time_zone_other_than_powerschools_is_a_warning(
    plugin_zips: tuple[Path, Path], ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Sandbox(plugins=list(plugin_zips), students=5, seed=1, timezone="America/Chicago") as sb:
        ws.sandbox = sb
        monkeypatch.setenv("SSP_CLIENT_ID", sb.client_id)
        monkeypatch.setenv("SSP_CLIENT_SECRET", sb.client_secret)
        ws.write_config()
        code, report = check(ws)
    assert code == 0
    assert report["warnings"] == [
        "PowerSchool reports the district time zone America/Chicago but "
        f'{ws.path} has [schedule] timezone = "America/New_York": dates such as today\'s '
        "consents and the nightly run time follow the configuration; make them agree"
    ]


def test_the_check_reads_as_sentences_on_a_terminal(ws: Workspace) -> None:
    ws.write_config(replace=[('mapping = "generic"', 'mapping = "acme"')])
    result = ws.ssp("check", "--format", "text")
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"Checking {ws.path}: everything a sync run needs"
    assert lines[1].startswith('  FAIL  the mapping "acme" of partner "cgc" cannot be used')
    assert f"  ok    state dir {ws.state_dir}" in lines
    assert any(line.startswith("  ok    PowerSchool at ") for line in lines)
    assert lines[-1].startswith("1 problem(s), 0 warning(s): fix the problems")


# -- ssp sync schedule --------------------------------------------------------------------------




def test_schedule_refuses_to_start_when_a_run_would_fail(ws: Workspace, monkeypatch) -> None:
    started = []
    monkeypatch.setattr(connector.schedule, "run_scheduler", lambda *a, **k: started.append(1))
    (ws.root / "feeds" / "cgc" / "in").rmdir()
    monkeypatch.setenv("SSP_CLIENT_SECRET", "wrong-secret-0123456")

    result = ws.ssp("sync", "schedule")
    assert result.code == 2 and started == []
    errors = [line["msg"] for line in result.log_lines() if line["level"] == "error"]
    assert any(e.startswith(f"the inbox {ws.root}/feeds/cgc/in does not exist") for e in errors)
    assert any("rejected the plugin credentials" in e for e in errors)
    assert "the scheduler did not start: 2 problem(s)" in result.stderr.splitlines()[-1]


def test_schedule_says_when_the_next_run_is_and_keeps_apscheduler_quiet(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, restore_signals: None
) -> None:
    import signal

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
    result = ws.ssp("sync", "schedule")
    assert result.code == 0
    when = next_fire_time(ws.config)
    expected = (f"Next sync run: {when.strftime('%A')} {when.day} {when.strftime('%B %Y')} at "
                f"04:15 America/New_York (in ")
    assert f"The preflight check passed. {expected}" in result.stderr
    assert "Adding job tentatively" not in result.stderr
    assert "apscheduler" not in result.stderr

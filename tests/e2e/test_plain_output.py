"""What district IT reads: configuration errors in plain words, and a clean terminal.

Configuration errors name the file, the partner by its id and the key, say what is wrong without
pydantic's vocabulary, and suggest the key that was meant. `-v` works after any command; a reader
that leaves early (`ssp sync status | head`) ends nothing in a traceback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest
from e2e_helpers import Workspace

from ssp.cli import build_parser

CGC_SERVICES = 'services = "Outpatient counseling; family therapy; crisis response"'
BHCARE_FEED = 'feed = { kind = "csv", inbox = "feeds/bhcare/in", outbox = "feeds/bhcare/out" }'


def test_config_errors_name_partners_by_id_in_plain_words_with_did_you_mean(
    ws: Workspace,
) -> None:
    ws.write_config(replace=[
        (CGC_SERVICES, CGC_SERVICES.replace("services", "servics")),
        (BHCARE_FEED, BHCARE_FEED.replace('"csv"', '"ftp"')),
        ('timezone = "America/New_York"', 'timezone = "America/New_York"\nmisfire_grace = 60'),
    ])
    result = ws.ssp("sync", "run")
    assert result.code == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"ssp: error: {ws.path}: ")
    assert 'schedule.misfire_grace: unknown key "misfire_grace" (did you mean ' \
        '"misfire_grace_seconds"?)' in error
    assert 'partners[cgc].servics: unknown key "servics" (did you mean "services"?)' in error
    assert 'partners[bhcare].feed: kind = "ftp" is not supported (use "csv", "http", "sftp" or "fhir")' in error
    for pydantic_words in ("Extra inputs", "Input tag", "partners[0]", "partners[1]", "Field required"):
        assert pydantic_words not in error


def test_a_key_with_no_near_match_lists_the_known_keys(ws: Workspace) -> None:
    ws.write_config(replace=[('[powerschool]', '[powerschool]\ncolour = "red"')])
    error = ws.ssp("check").stderr.strip().splitlines()[-1]
    assert 'powerschool.colour: unknown key "colour" (known keys: base_url, max_workers, ' \
        'timeout_seconds, retry_deadline_seconds)' in error


def test_verbose_is_accepted_after_every_command() -> None:
    parser = build_parser()
    for words in (["sync", "run"], ["sync", "status"], ["sync", "schedule"], ["check"],
                  ["plugin", "build"], ["demo"], ["report", "--out", "r.html"]):
        assert parser.parse_args([*words, "-v"]).verbose is True, words
        assert parser.parse_args(["-v", *words]).verbose is True, words
        assert parser.parse_args(words).verbose is False, words


def test_every_option_of_every_command_has_help_text() -> None:
    def parsers(parser):  # noqa: ANN001, ANN202 - argparse internals
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in dict.fromkeys(action.choices.values()):
                    yield from parsers(child)

    silent = [
        f"{p.prog} {'/'.join(a.option_strings) or a.dest}"
        for p in parsers(build_parser())
        for a in p._actions
        if not a.help and a.dest not in ("help", "command", "plugin_command", "sync_command")
    ]
    assert silent == []


def test_a_reader_that_leaves_early_ends_no_command_in_a_traceback(ws: Workspace) -> None:
    for _ in range(3):
        ws.sync()
    # `head -n 0` leaves before ssp has started: every write of ssp meets a closed pipe
    shell = f"{sys.executable} -m ssp sync status --config {ws.path} | head -n 0; " \
        "exit ${PIPESTATUS[0]}"
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode == 141  # 128 + SIGPIPE, as cat or grep report it


@pytest.mark.parametrize("words", [["sync", "status", "--help"], ["check", "--help"]])
def test_help_goes_to_a_closed_pipe_quietly(words: list[str]) -> None:
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m ssp {' '.join(words)} | head -n 1"],
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr


def _on_a_terminal(ws: Workspace, *words: str) -> tuple[int, list[str]]:
    """`ssp <words>` in a fresh process whose stderr is a pseudo-terminal, as a person sees it:
    the lines left on screen once each carriage return has redrawn its line."""
    import pty
    import re

    leader, follower = pty.openpty()
    env = {**os.environ, "SSP_CLIENT_ID": ws.sandbox.client_id,
           "SSP_CLIENT_SECRET": ws.sandbox.client_secret}
    proc = subprocess.Popen([sys.executable, "-m", "ssp", *words, "--config", str(ws.path)],
                            stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    code = proc.wait(timeout=120)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\x1b[2K", "")
    shown = [re.split(r"\r(?!\n)", line.rstrip("\r"))[-1] for line in text.split("\n")]
    return code, [line for line in shown if line.strip() or line == ""][:-1]


def test_a_run_on_a_terminal_shows_each_step_once_with_progress_while_sending(
    ws: Workspace,
) -> None:
    ws.seed(referrals=9)
    code, lines = _on_a_terminal(ws, "sync", "run")
    assert code == 0, lines
    assert "" not in lines  # no empty line
    assert len(lines) == len(set(lines))  # nothing said twice
    for repeat in ("stream read", "inbound file processed", "outbound file written"):
        assert not any(repeat in line for line in lines), repeat  # the progress line says it
    assert any(line.startswith("powerschool: referrals ") and line.endswith(" new or changed")
               for line in lines)
    assert any(line.startswith("cgc: referrals ") and " sent in referrals_" in line
               for line in lines)
    assert any(line.startswith("cgc: referrals ") and line.endswith(" marked sent in PowerSchool")
               for line in lines)
    assert any(line.startswith("powerschool: disclosures ") for line in lines)
    started = next(line for line in lines if "sync started" in line)
    assert "run_id=" in started  # what a log line knows is on it

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
        (BHCARE_FEED, BHCARE_FEED.replace('"csv"', '"sftp"')),
        ('timezone = "America/New_York"', 'timezone = "America/New_York"\nmisfire_grace = 60'),
    ])
    result = ws.ssp("sync", "run")
    assert result.code == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"ssp: error: {ws.path}: ")
    assert 'schedule.misfire_grace: unknown key "misfire_grace" (did you mean ' \
        '"misfire_grace_seconds"?)' in error
    assert 'partners[cgc].servics: unknown key "servics" (did you mean "services"?)' in error
    assert 'partners[bhcare].feed: kind = "sftp" is not supported (use "csv" or "http")' in error
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

"""Logs at DEBUG over a whole scenario: JSON lines, and never a student's name, date of birth,
a note or a secret (SPEC 8)."""

from __future__ import annotations

import datetime as dt
import json
import re

from e2e_helpers import Workspace, visit_row

from ssp.demo_scenario import revoke_one_consent


def _forbidden(ws: Workspace, dcids: set[int]) -> list[str]:
    words: set[str] = {
        ws.sandbox.client_secret,
        "Private note",
        "Parent of record",
        "Signer of record",
    }
    for student in ws.sandbox.students():
        if student["DCID"] not in dcids:
            continue
        dob = dt.date.fromisoformat(student["DOB"])
        words |= {
            student["FIRST_NAME"],
            student["LAST_NAME"],
            student["LASTFIRST"],
            dob.isoformat(),
            dob.strftime("%m/%d/%Y"),
            student["MOTHER"] or "",
            student["FATHER"] or "",
            student["HOME_PHONE"] or "",
        }
    return sorted(w for w in words if w)


def test_debug_logs_of_a_full_scenario_carry_no_names_dates_of_birth_notes_or_secrets(
    ws: Workspace,
) -> None:
    side = ws.seed(referrals=9)
    stderr = []
    first = ws.ssp("sync", "run", verbose=True)
    assert first.code == 0
    stderr.append(first.stderr)
    ws.reply(side)
    revoke_one_consent(ws.sandbox, side, ws.today)
    uid = side.sent["cgc"][1]
    number = str(ws.student(side.student_of[uid])["STUDENT_NUMBER"])
    student = ws.student(side.student_of[uid])
    # a partner echoing a name and a note into free-text fields
    ws.write_inbox(
        "cgc",
        "visits_names.csv",
        [
            visit_row(
                "CGC-N",
                number,
                ws.day(0),
                uid,
                clinician_name=f"{student['FIRST_NAME']} {student['LAST_NAME']}",
                time_in=student["DOB"],
            )
        ],
    )
    for args in (
        ("sync", "run"),
        ("sync", "run", "--dry-run"),
        ("sync", "status"),
        ("disclosures", "--student", number),
    ):
        result = ws.ssp(*args, verbose=True)
        assert result.code == 0, args
        stderr.append(result.stderr)
    ws.write_config(powerschool_extra="retry_deadline_seconds = 0.5")
    ws.sandbox.stop()
    failed = ws.ssp("sync", "run", verbose=True)
    assert failed.code == 1
    stderr.append(failed.stderr)

    text = "".join(stderr)
    lines = text.splitlines()
    assert len(lines) > 50 and any('"level": "debug"' in line for line in lines)
    for line in lines:
        if line.startswith("ssp: error:"):
            continue
        json.loads(line)  # JSON lines when stderr is not a terminal
    leaks = [
        w
        for w in _forbidden(ws, set(side.student_of.values()))
        if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)
    ]
    assert leaks == [], f"found in the logs: {len(leaks)} private value(s)"

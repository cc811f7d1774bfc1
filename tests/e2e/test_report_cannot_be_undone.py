"""`ssp report` after `ssp sync run` against the sandbox: no hidden count can be worked out, within
a table or across the tables of the report (issue 10, case 9)."""

from __future__ import annotations

import csv
from pathlib import Path

from e2e_helpers import Workspace

BHCARE = "Bridgeport Behavioral Health Care"
CGC = "Child Guidance Center"
STAFF = "School staff (no partner)"


def _enter(ws: Workspace, n: int, partner: str, status: str, start: int, **extra: str) -> None:
    students = ws.sandbox.students()
    for i in range(n):
        student = students[(start + i) % len(students)]
        ws.sandbox.insert_row(
            "U_SSP_REFERRALS",
            {
                "SSP_UID": f"r-{start + i:04d}",
                "REFERRAL_DATE": ws.day(-3),
                "REFERRED_BY": "J. Rivera, counselor",
                "REFERRAL_TYPE": "community" if partner else "school",
                "PARTNER_ID": partner,
                "REASON": "anxiety",
                "URGENCY": "routine",
                "STATUS": status,
                **extra,
            },
            student_dcid=student["DCID"],
        )


def _visits(ws: Workspace, n: int, source: str, purpose: str, start: int) -> None:
    students = ws.sandbox.students()
    for i in range(n):
        ws.sandbox.insert_row(
            "U_SSP_VISITS",
            {
                "SSP_UID": f"v-{start + i:04d}",
                "VISIT_DATE": ws.day(-2),
                "PURPOSE": purpose,
                "SERVICES": "individual_counseling",
                "TIER": "1",
                "SOURCE": source,
            },
            student_dcid=students[i % len(students)]["DCID"],
        )


def _report(ws: Workspace, tmp: Path) -> dict[tuple[str, str, str], str]:
    out = tmp / "report.csv"
    result = ws.ssp(
        "report", "--format", "csv", "--out", str(out), "--from", ws.day(-30), "--to", ws.day(0)
    )
    assert result.code == 0, result.stderr
    with open(out, encoding="utf-8", newline="") as fh:
        return {(r["table"], r["row"], r["column"]): r["value"] for r in csv.DictReader(fh)}


def _hidden(text: str) -> bool:
    return text in ("<10", "n/s")


def test_report_hides_what_other_figures_would_give_away(ws: Workspace, tmp_path: Path) -> None:
    # 12 referrals already sent to bhcare, 2 new ones the sync holds (no consent), 30 served by
    # cgc, 3 kept by school staff; visits: 11 check-ins of which 1 by school staff
    _enter(ws, 12, "bhcare", "sent", 0, STATUS_DATE=ws.day(-3))
    _enter(ws, 2, "bhcare", "new", 12)
    _enter(ws, 30, "cgc", "completed", 20, ACCESS_RESULT="yes", STATUS_DATE=ws.day(-1),
           FIRST_SERVICE_DATE=ws.day(-1))
    _enter(ws, 3, "", "new", 60)
    _visits(ws, 10, "partner:cgc", "check_in", 0)
    _visits(ws, 1, "school", "check_in", 10)
    summary = ws.sync()
    assert summary["partners"]["bhcare"]["referrals_held"]["total"] == 2
    report = _report(ws, tmp_path)

    held = report[("held", "Total", BHCARE)]
    referred, sent = report[("funnel", BHCARE, "Referred")], report[("funnel", BHCARE, "Sent")]
    assert held == "<10"
    assert _hidden(referred) or _hidden(sent), "Referred minus Sent would give the held total"

    staff = report[("grant", f"All schools / {STAFF}", "Students referred")]
    in_period = report[("summary", "Referrals in the period", "Count")]
    to_partners = report[("funnel", "All partners", "Referred")]
    assert staff == "<10"
    assert _hidden(in_period) or _hidden(to_partners), "summary minus funnel gives school staff"

    # within a table: a "<10" (1) beside a shown 10 and a shown total 11 would give it away;
    # the old rule's "<10", "n/s", 11 pinned both (1 + 10); now the total is hidden too
    row = [report[("visits_by_purpose", "Check-in", col)] for col in ("School staff", CGC, "Total")]
    assert row[0] == "<10" and _hidden(row[2]) and row != ["<10", "n/s", "11"], row

    # one figure, one state: the visits Total row is the same figure in every visits table
    for col in ("School staff", CGC, "Total"):
        states = {
            report[(table, "Total", col)]
            for table in ("visits_by_month", "visits_by_purpose", "visits_by_tier", "visits_by_school")
        }
        assert len(states) == 1, (col, states)
    assert report[("summary", "Support visits in the period", "Count")] == report[
        ("visits_by_month", "Total", "Total")
    ]

    # the report still informs: figures not at risk stay shown
    shown = [v for (table, _, _), v in report.items() if table in ("funnel", "grant")]
    assert sum(v.isdigit() and int(v) >= 10 for v in shown) >= 5, shown

"""Referral-to-access report: exact numbers from hand-computed fixtures, rendering, CSV, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from lxml import html as lxml_html

from documents.report import build_report, csv_safe, display_table, load_report_rows
from documents.report_data import Period, ReportData, compute_report, parse_period, school_year
from documents.suppression import CountGrid
from foundation.config import SSPConfig, parse_config_text
from foundation.errors import ConfigError
from ssp.cli import main

ROOT = Path(__file__).parents[2]
PERIOD = Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
IDENTITY = {
    "first_name": "Zebulonia",
    "last_name": "Quixfeather",
    "student_number": "S-998877",
    "dob": "1999-12-31",
    "mother": "Parentina Quixfeather",
    "home_phone": "203-555-0199",
}


def example_config(base_dir: Path | None = None) -> SSPConfig:
    text = (ROOT / "examples" / "ssp.toml").read_text("utf-8")
    return parse_config_text(text, source="ssp.toml", base_dir=base_dir or ROOT)


def referral(
    rid: str,
    student: str,
    school: str,
    partner: str,
    status: str,
    date: str = "2026-09-01",
    access: str = "pending",
    first: str = "",
    reason: str = "",
) -> dict[str, Any]:
    return {
        "id": rid,
        "ssp_uid": f"uid-{rid}",
        "studentsdcid": student,
        "student_dcid": student,
        "referral_date": date,
        "partner_id": partner,
        "status": status,
        "status_reason": reason,
        "first_service_date": first,
        "access_result": access,
        "school_name": school,
        "reason": "anxiety",
        "urgency": "routine",
        **IDENTITY,
    }


def visit(
    vid: str,
    student: str,
    date: str,
    source: str,
    purpose: str,
    services: str,
    tier: str,
    **extra: str,
) -> dict[str, Any]:
    return {
        "id": vid,
        "ssp_uid": f"v-{vid}",
        "studentsdcid": student,
        "visit_date": date,
        "source": source,
        "purpose": purpose,
        "services": services,
        "tier": tier,
        "student_number": "S-998877",
        **extra,
    }


# Hand-computed fixture (see the expected numbers in each test).
REFERRALS = [
    referral("1", "A", "Xavier School", "cgc", "new", reason="awaiting consent"),
    referral("2", "B", "Xavier School", "cgc", "sent", "2026-09-02"),
    referral("3", "C", "Xavier School", "cgc", "accepted", "2026-09-03"),
    referral("4", "D", "Yale School", "cgc", "attended", "2026-09-03", "yes", "2026-09-10"),
    referral("5", "D", "Yale School", "cgc", "completed", "2026-09-04", "yes", "2026-10-20"),
    referral("6", "E", "Yale School", "bhcare", "declined", "2026-09-05", "no"),
    referral("7", "F", "Yale School", "bhcare", "new", "2026-09-05", reason="consent expired"),
    referral("8", "G", "Xavier School", "", "new", "2026-09-06"),
    referral(
        "9", "A", "Xavier School", "cgc", "completed", "2025-05-01", "yes", "2025-05-02"
    ),  # before period
    referral("10", "B", "Xavier School", "cgc", "sent", "not a date"),  # left out
    referral("11", "H", "Xavier School", "bhcare", "in_service", "2026-09-05", "yes", "2026-09-05"),
]
VISITS = [
    visit("1", "A", "2026-09-15", "school", "crisis", "individual_counseling,safety_planning", "2"),
    visit("2", "D", "2026-11-02", "partner:cgc", "vaping", "family_contact", "3"),
    visit("3", "D", "", "partner:cgc", "crisis", "", "1"),  # left out
    visit("4", "Z", "2026-09-20", "partner:zzz", "", "", ""),
    visit("5", "Q", "2027-08-01", "school", "crisis", "", "1"),  # after period
]


def data() -> ReportData:
    config = example_config()
    return compute_report(
        REFERRALS, VISITS, partners=config.partners, catalogue=config.catalogue(), period=PERIOD
    )


def value(grid: CountGrid, row: tuple[str, ...], col: str) -> int:
    return grid.counts[grid.row_labels.index(row)][grid.col_labels.index(col)]


def column(grid: CountGrid, col: str) -> dict[tuple[str, ...], int]:
    return {r: value(grid, r, col) for r in grid.row_labels}


# --------------------------------------------------------------------------------- exact numbers


def test_funnel_counts_each_referral_at_every_stage_it_reached() -> None:
    f = data().funnel
    cgc, bh = ("Child Guidance Center",), ("Bridgeport Behavioral Health Care",)
    assert [value(f, cgc, s) for s in f.col_labels] == [5, 4, 3, 2, 2]
    assert [value(f, bh, s) for s in f.col_labels] == [3, 2, 1, 1, 1]
    assert [value(f, ("All partners",), s) for s in f.col_labels] == [8, 6, 4, 3, 3]


def test_time_to_first_service_buckets_and_medians() -> None:
    d = data()
    assert column(d.days_to_service, "0-7 days") == {("All referrals",): 2}
    assert column(d.days_to_service, "31-60 days") == {("All referrals",): 1}
    assert column(d.days_to_service, "Total") == {("All referrals",): 3}
    medians = {m.label: (m.n, m.median_days) for m in d.medians}
    assert medians == {
        "Child Guidance Center": (2, 26.5),
        "Bridgeport Behavioral Health Care": (1, 0),
        "All referrals": (3, 7),
    }


def test_held_referrals_by_reason_and_partner() -> None:
    held = data().held
    assert held.row_labels == (("awaiting consent",), ("consent expired",), ("Total",))
    assert value(held, ("awaiting consent",), "Child Guidance Center") == 1
    assert value(held, ("consent expired",), "Bridgeport Behavioral Health Care") == 1
    assert value(held, ("Total",), "Total") == 2


def test_grant_table_counts_students_not_referrals() -> None:
    g = data().grant
    referred, received = column(g, "Students referred"), column(g, "Students who received services")
    assert referred[("Xavier School", "Child Guidance Center")] == 3
    assert referred[("Yale School", "Child Guidance Center")] == 1, (
        "student D referred twice counts once"
    )
    assert received[("Yale School", "Child Guidance Center")] == 1
    assert referred[("Xavier School", "School staff (no partner)")] == 1
    assert (
        referred[("Xavier School", "All partners")],
        received[("Xavier School", "All partners")],
    ) == (5, 1)
    assert (
        referred[("Yale School", "All partners")],
        received[("Yale School", "All partners")],
    ) == (3, 1)
    assert (
        referred[("All schools", "Child Guidance Center")],
        received[("All schools", "Child Guidance Center")],
    ) == (4, 1)
    assert (
        referred[("All schools", "All partners")],
        received[("All schools", "All partners")],
    ) == (8, 2)


def test_visits_by_month_purpose_service_tier_school_and_source() -> None:
    d = data()
    month = d.visits_by_month
    assert month.row_labels == (("2026-09",), ("2026-10",), ("2026-11",), ("Total",)), (
        "gaps are filled"
    )
    assert month.col_labels == (
        "School staff",
        "Child Guidance Center",
        "zzz (not in configuration)",
        "Total",
    )
    assert (
        value(month, ("2026-09",), "School staff") == 1 and value(month, ("2026-09",), "Total") == 2
    )
    assert value(month, ("2026-10",), "Total") == 0
    assert column(d.visits_by_purpose, "Total") == {
        ("Crisis",): 1,
        ("Vaping concern",): 1,
        ("Not recorded",): 1,
        ("Total",): 3,
    }
    assert column(d.visits_by_service, "Total") == {
        ("Individual counseling",): 1,
        ("Family contact",): 1,
        ("Safety planning",): 1,
    }
    assert column(d.visits_by_tier, "Total") == {
        ("Tier 2 (targeted)",): 1,
        ("Tier 3 (intensive)",): 1,
        ("Not recorded",): 1,
        ("Total",): 3,
    }
    assert column(d.visits_by_school, "Total") == {
        ("School not recorded",): 1,
        ("Xavier School",): 1,
        ("Yale School",): 1,
        ("Total",): 3,
    }


def test_summary_counts_rows_in_the_period_and_rows_left_out() -> None:
    assert column(data().summary, "Count") == {
        ("Referrals in the period",): 9,
        ("Support visits in the period",): 3,
        ("Referral rows left out (no valid referral date)",): 1,
        ("Visit rows left out (no valid visit date)",): 1,
    }


def test_default_period_is_the_current_school_year() -> None:
    assert school_year(dt.date(2026, 11, 28)) == Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
    assert school_year(dt.date(2027, 6, 30)) == Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
    assert school_year(dt.date(2027, 7, 1)) == Period(dt.date(2027, 7, 1), dt.date(2028, 6, 30))
    assert parse_period("2026-09-01", None, dt.date(2026, 10, 1)) == Period(
        dt.date(2026, 9, 1), dt.date(2027, 6, 30)
    )
    with pytest.raises(ValueError):
        parse_period("2026-09-01", "2026-08-01", dt.date(2026, 10, 1))


# ------------------------------------------------------------------------ rendering, big fixture


def big_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """30 CGC referrals (all completed, 20 students), 14 BHcare (12 declined, 2 held), 11 visits."""
    refs = [
        referral(
            f"c{i}",
            f"S{i % 20}",
            "Xavier School",
            "cgc",
            "completed",
            "2026-10-01",
            "yes",
            "2026-10-11",
        )
        for i in range(30)
    ]
    refs += [
        referral(f"b{i}", f"T{i}", "Xavier School", "bhcare", "declined", "2026-10-02", "no")
        for i in range(12)
    ]
    refs += [
        referral(
            f"h{i}",
            f"U{i}",
            "Xavier School",
            "bhcare",
            "new",
            "2026-10-03",
            reason="awaiting consent",
        )
        for i in range(2)
    ]
    visits = [
        visit(f"v{i}", f"S{i}", "2026-10-05", "school", "check_in", "individual_counseling", "1")
        for i in range(11)
    ]
    return refs, visits


def rendered_tables(page: str) -> dict[str, lxml_html.HtmlElement]:
    tree = lxml_html.document_fromstring(page)
    return {str(s.get("data-table")): s for s in tree.xpath("//section[@data-table]")}


def row_cells(section: lxml_html.HtmlElement, *labels: str) -> list[str]:
    for tr in section.xpath(".//tbody/tr"):
        if tuple(th.text_content() for th in tr.xpath("./th")) == labels:
            return [td.text_content() for td in tr.xpath("./td")]
    raise AssertionError(f"no row {labels}")


def test_rendered_report_shows_the_expected_figures() -> None:
    refs, visits = big_rows()
    page = build_report(example_config(), refs, visits, period=PERIOD)
    t = rendered_tables(page)
    assert row_cells(t["funnel"], "Child Guidance Center") == ["30", "30", "30", "30", "30", "100%"]
    # Sent is hidden: Referred 14 minus Sent 12 would give away the held total (2, shown "<10")
    assert row_cells(t["funnel"], "Bridgeport Behavioral Health Care") == [
        "14",
        "n/s",
        "0",
        "0",
        "0",
        "0%",
    ]
    assert row_cells(t["funnel"], "All partners") == ["44", "n/s", "30", "30", "30", "68%"]
    assert row_cells(t["grant"], "Xavier School", "Child Guidance Center") == ["20", "20", "100%"]
    assert row_cells(t["grant"], "Xavier School", "Bridgeport Behavioral Health Care") == [
        "14",
        "0",
        "0%",
    ]
    assert row_cells(t["days_to_service"], "All referrals") == ["0", "30", "0", "0", "0", "30"]
    assert row_cells(t["median_days"], "Child Guidance Center") == ["30", "10"]
    assert row_cells(t["held"], "awaiting consent") == ["<10", "<10"]
    assert row_cells(t["visits_by_purpose"], "Check-in") == ["11", "11"]


def test_report_html_is_self_contained() -> None:
    refs, visits = big_rows()
    page = build_report(example_config(), refs, visits, period=PERIOD)
    tree = lxml_html.document_fromstring(page)
    assert not tree.xpath(
        "//script | //link | //iframe | //img | //object | //embed | //*[@src] | //*[@href]"
    )
    assert not re.search(r"https?:|//[a-z]|@import", page, re.IGNORECASE)
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {
        f"#{s}-h" for s in re.findall(r'<svg[^>]* id="([^"]+)"', page)
    }
    assert len(tree.xpath("//svg")) >= 8, "the charts are inline SVG"


def test_report_never_shows_student_identity() -> None:
    refs, visits = big_rows()
    refs += REFERRALS
    for fmt in ("html", "csv"):
        out = build_report(example_config(), refs, visits + VISITS, period=PERIOD, fmt=fmt)  # type: ignore[arg-type]
        for secret in IDENTITY.values():
            assert secret not in out, f"{fmt} report shows {secret!r}"
        assert "S1" not in re.findall(r"\bS\d+\b", out), "no DCIDs either"


def test_labels_are_escaped_in_the_report(tmp_path: Path) -> None:
    text = (
        (ROOT / "examples" / "ssp.toml")
        .read_text("utf-8")
        .replace('name = "Child Guidance Center"', 'name = "<script>alert(1)</script> ~[x]"')
    )
    config = parse_config_text(text, source="ssp.toml", base_dir=tmp_path)
    refs, visits = big_rows()
    refs.append(
        referral("x", "X", "<b>Evil</b> School", "cgc", "new", "2026-10-01", reason="<img src=x>")
    )
    page = build_report(config, refs, visits, period=PERIOD)
    assert "<script>alert" not in page and "<img" not in page and "<b>Evil" not in page
    assert "&lt;script&gt;" in page


# ------------------------------------------------------------------------------------------- CSV


def test_csv_holds_every_table_in_long_form() -> None:
    refs, visits = big_rows()
    rows = list(
        csv.DictReader(
            io.StringIO(build_report(example_config(), refs, visits, period=PERIOD, fmt="csv"))
        )
    )
    assert {r["table"] for r in rows} >= {
        "grant",
        "funnel",
        "days_to_service",
        "median_days",
        "held",
        "visits_by_month",
        "visits_by_purpose",
        "visits_by_service",
        "visits_by_tier",
        "visits_by_school",
        "summary",
    }
    funnel = {(r["row"], r["column"]): r["value"] for r in rows if r["table"] == "funnel"}
    assert funnel[("All partners", "Referred")] == "44"
    assert {r["period_from"] for r in rows} == {"2026-07-01"}


@pytest.mark.parametrize(
    "text, safe",
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("<10", "<10"),
        ("Crisis", "Crisis"),
    ],
)
def test_csv_safe_neutralises_formulas(text: str, safe: str) -> None:
    assert csv_safe(text) == safe


def test_csv_report_is_formula_safe_for_hostile_labels(tmp_path: Path) -> None:
    text = (
        (ROOT / "examples" / "ssp.toml")
        .read_text("utf-8")
        .replace('name = "Child Guidance Center"', "name = \"=cmd|' /C calc'!A0\"")
    )
    config = parse_config_text(text, source="ssp.toml", base_dir=tmp_path)
    refs, visits = big_rows()
    refs += [
        referral(f"q{i}", f"Q{i}", "+School", "cgc", "new", "2026-10-01", reason="@SUM(1)")
        for i in range(12)
    ]
    out = build_report(config, refs, visits, period=PERIOD, fmt="csv")
    for row in csv.reader(io.StringIO(out)):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


# -------------------------------------------------------------------------------- loader and CLI


def _state_config(tmp_path: Path) -> Path:
    path = tmp_path / "ssp.toml"
    path.write_text((ROOT / "examples" / "ssp.toml").read_text("utf-8"), "utf-8")
    return path


def test_loader_without_sync_state_says_run_sync_first(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    with pytest.raises(ConfigError, match="run `ssp sync run` first"):
        load_report_rows(config)


def _seed_state(config: SSPConfig) -> None:
    from connector.state import StateStore

    refs, visits = big_rows()
    with StateStore.open_dir(config.state_dir) as store:
        store.upsert_mirror("referrals", refs)
        store.upsert_mirror("visits", visits)


def test_loader_reads_the_mirrored_rows(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    _seed_state(config)
    referrals, visits = load_report_rows(config)
    assert len(referrals) == 44 and len(visits) == 11
    assert {r["status"] for r in referrals} == {"completed", "declined", "new"}


@pytest.mark.parametrize("fmt", ["html", "csv"])
def test_report_command_writes_the_report(tmp_path: Path, fmt: str) -> None:
    config_path = _state_config(tmp_path)
    _seed_state(example_config(tmp_path))
    out = tmp_path / "out" / f"report.{fmt}"
    argv = [
        "report",
        "--config",
        str(config_path),
        "--out",
        str(out),
        "--format",
        fmt,
        "--from",
        "2026-07-01",
        "--to",
        "2027-06-30",
    ]
    assert main(argv) == 0
    text = out.read_text("utf-8")
    assert (
        ("Referral-to-access report" in text) if fmt == "html" else text.startswith("period_from,")
    )
    assert "44" in text


def test_report_command_rejects_a_bad_period(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = _state_config(tmp_path)
    assert (
        main(
            [
                "report",
                "--config",
                str(config_path),
                "--out",
                str(tmp_path / "r.html"),
                "--from",
                "2026-13-01",
            ]
        )
        == 2
    )
    assert "bad period" in capsys.readouterr().err


def test_report_command_without_state_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_path = _state_config(tmp_path)
    assert main(["report", "--config", str(config_path), "--out", str(tmp_path / "r.html")]) == 2
    assert "ssp sync run" in capsys.readouterr().err


def test_display_table_lookup_helpers() -> None:
    table = display_table(data().funnel)
    assert table.row("All partners").cells[0].text == "<10"
    assert [c.text for c in table.column("Referred")] == ["<10", "<10", "<10"]

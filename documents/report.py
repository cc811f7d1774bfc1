"""`ssp report`: the referral-to-access report, as one self-contained HTML file or as CSV.

Pipeline: rows from the connector's state store -> exact numbers (`documents.report_data`) -> small-count
suppression (`documents.suppression`, the rule is in its docstring) -> HTML (inline CSS and SVG charts,
nothing loaded from the network) or CSV (one long table, spreadsheet-formula-safe). Only aggregates
ever reach a renderer: no student name, number or date of birth can appear in the output.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence
from zoneinfo import ZoneInfo

import jinja2

from foundation import __version__
from documents.charts import Bar, bar_chart, funnel_chart, spoken
from foundation.config import SSPConfig, load_config
from foundation.errors import ConfigError
from documents.report_data import (
    FUNNEL_STAGES,
    Median,
    Period,
    ReportData,
    compute_report,
    parse_period,
    school_year,
)
from documents.suppression import (
    MIN_SHOWN,
    SECONDARY_TEXT,
    Cell,
    CountGrid,
    percent_cell,
    suppress,
    suppress_report,
    text_cell,
)

__all__ = [
    "DisplayRow",
    "DisplayTable",
    "display_table",
    "build_report",
    "render_html",
    "render_csv",
    "load_report_rows",
    "write_report",
    "csv_safe",
    "local_time",
    "command",
]

Format = Literal["html", "csv"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_KEEP_ROWS = 16
"""A section with at most this many table rows (and its chart) is printed on one page, unsplit."""


@dataclass(frozen=True)
class DisplayRow:
    labels: tuple[str, ...]
    cells: tuple[Cell, ...]
    total: bool = False


@dataclass(frozen=True)
class DisplayTable:
    key: str
    title: str
    header: tuple[str, ...]
    label_columns: int
    rows: tuple[DisplayRow, ...]
    note: str = ""

    def column(self, heading: str) -> list[Cell]:
        i = self.header.index(heading) - self.label_columns
        return [row.cells[i] for row in self.rows]

    def row(self, *labels: str) -> DisplayRow:
        return next(r for r in self.rows if r.labels == labels)


def display_table(
    grid: CountGrid, cells: tuple[tuple[Cell, ...], ...] | None = None
) -> DisplayTable:
    """A grid's suppressed cells (`cells`, from the whole report's suppression; else the grid's
    own) and its derived percentage columns (shown only from shown counts)."""
    cells = suppress(grid) if cells is None else cells
    rows = []
    for r, (labels, row) in enumerate(zip(grid.row_labels, cells, strict=True)):
        derived = tuple(percent_cell(row[num], row[den]) for _, num, den in grid.percents)
        rows.append(DisplayRow(labels, row + derived, r in grid.total_rows))
    header = (*grid.row_header, *grid.col_labels, *(h for h, _, _ in grid.percents))
    return DisplayTable(grid.key, grid.title, header, len(grid.row_header), tuple(rows), grid.note)


def _median_table(
    grid: CountGrid, medians: Sequence[Median], cells: tuple[tuple[Cell, ...], ...]
) -> DisplayTable:
    """Referrals with a first service, per partner, and the median days (only from 10 or more)."""
    table = display_table(grid, cells)
    rows = []
    for row, m in zip(table.rows, medians, strict=True):
        count = row.cells[0]
        ok = count.shown and m.median_days is not None and m.n >= MIN_SHOWN
        days = (
            Cell(f"{m.median_days:g}", m.median_days, "days")
            if ok
            else text_cell("–" if m.n == 0 else SECONDARY_TEXT, "days")
        )
        rows.append(DisplayRow(row.labels, (count, days), row.total))
    return DisplayTable(
        table.key, table.title, (*table.header, "Median days"), 1, tuple(rows), table.note
    )


def _bars(table: DisplayTable, column: str, *, skip_totals: bool = True) -> list[Bar]:
    cells = table.column(column)
    return [
        Bar(" / ".join(r.labels), c)
        for r, c in zip(table.rows, cells, strict=True)
        if not (skip_totals and r.total)
    ]


_TOTAL_BAR_CHARTS = (
    ("held", "Held referrals by reason"),
    ("visits_by_month", "Visits by month"),
    ("visits_by_purpose", "Visits by purpose"),
    ("visits_by_service", "Services provided"),
    ("visits_by_tier", "Visits by tier"),
    ("visits_by_school", "Visits by school"),
)
"""Tables charted as one bar per row from their Total column, in report order, with the title."""


def _sections(data: ReportData) -> list[dict[str, Any]]:
    """Each report section: its display table and the chart drawn from that table's shown cells."""
    grids = data.grids()
    cells = suppress_report(grids, data.links)  # one suppression over every table
    t = {name: display_table(grid, cells[name]) for name, grid in grids.items()}
    funnel_total = t["funnel"].rows[-1]
    stage_cells = funnel_total.cells[: len(FUNNEL_STAGES)]  # the counts, not the derived %
    stages = [Bar(h, c) for h, c in zip(FUNNEL_STAGES, stage_cells, strict=True)]
    days_row = t["days_to_service"].rows[0]
    bucket_names = t["days_to_service"].header[1:-1]
    buckets = [Bar(h, c) for h, c in zip(bucket_names, days_row.cells[:-1], strict=True)]
    grant_partners = [r for r in t["grant"].rows if r.labels[0] == "All schools"]
    grant_pct = [Bar(r.labels[1], r.cells[2]) for r in grant_partners]
    return [
        {
            "table": t["grant"],
            "chart": bar_chart(
                grant_pct,
                title="% of referred students who received services, by partner",
                maximum=100.0,
            ),
        },
        {
            "table": t["funnel"],
            "chart": funnel_chart(stages, title="Referral funnel, all partners"),
        },
        {
            "table": t["days_to_service"],
            "chart": bar_chart(buckets, title="Days from referral to first service"),
        },
        {
            "table": _median_table(data.median_days, data.medians, cells["median_days"]),
            "chart": None,
        },
        *(
            {"table": t[key], "chart": bar_chart(_bars(t[key], "Total"), title=title)}
            for key, title in _TOTAL_BAR_CHARTS
        ),
        {"table": t["summary"], "chart": None},
    ]


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("page_templates", "report"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(data: ReportData, *, district: str, generated_at: dt.datetime) -> str:
    sections = _sections(data)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            district=district,
            period=data.period,
            sections=sections,
            generated_at=generated_at,
            version=__version__,
            min_shown=MIN_SHOWN,
            spoken=spoken,
            keep_rows=_KEEP_ROWS,
        )
    )


def csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas: a cell starting with = + - @ tab or CR gets a leading '."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(data: ReportData) -> str:
    """Every table, long format: period_from, period_to, table, row, column, value (suppressed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["period_from", "period_to", "table", "row", "column", "value"])
    for section in _sections(data):
        table: DisplayTable = section["table"]
        columns = table.header[table.label_columns :]
        for row in table.rows:
            for heading, cell in zip(columns, row.cells, strict=True):
                writer.writerow(
                    [
                        csv_safe(v)
                        for v in (
                            data.period.start.isoformat(),
                            data.period.end.isoformat(),
                            table.key,
                            " / ".join(row.labels),
                            heading,
                            cell.text,
                        )
                    ]
                )
    return out.getvalue()


def build_report(
    config: SSPConfig,
    referrals: Iterable[Mapping[str, object]],
    visits: Iterable[Mapping[str, object]],
    *,
    period: Period,
    fmt: Format = "html",
    generated_at: dt.datetime | None = None,
) -> str:
    """The report text for these rows: what `ssp report` and `ssp demo` write."""
    data = compute_report(
        referrals, visits, partners=config.partners, catalogue=config.catalogue(), period=period
    )
    if fmt == "csv":
        return render_csv(data)
    stamp = generated_at or dt.datetime.now(dt.timezone.utc)
    return render_html(
        data,
        district=config.district.name,
        generated_at=local_time(stamp, config.schedule.timezone),
    )


def local_time(moment: dt.datetime, timezone: str) -> dt.datetime:
    """`moment` in the district's time zone (`[schedule] timezone`), to the minute: readers of the
    report compare it with their own clock, not with UTC. A naive `moment` is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)


def load_report_rows(config: SSPConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Referral and visit rows mirrored by the last sync (connector state store); read-only use."""
    from connector.state import DB_FILENAME, StateStore

    if not (config.state_dir / DB_FILENAME).is_file():
        raise ConfigError(
            "no sync state yet: run `ssp sync run` first", file=str(config.state_dir / DB_FILENAME)
        )
    with StateStore.open_dir(config.state_dir) as store:
        referrals = [dict(m.row) for m in store.mirror_rows("referrals")]
        visits = [dict(m.row) for m in store.mirror_rows("visits")]
    return referrals, visits


def _write(out: Path, text: str) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def write_report(
    config: SSPConfig, out: Path, *, period: Period | None = None, fmt: Format = "html"
) -> Path:
    """Load the mirrored rows, build the report and write it atomically (for `ssp demo` too).

    The default period is the current school year (July 1 - June 30)."""
    period = period or school_year(dt.date.today())
    referrals, visits = load_report_rows(config)
    return _write(out, build_report(config, referrals, visits, period=period, fmt=fmt))


def command(args: argparse.Namespace) -> int:
    """`ssp report [--config F] --out FILE [--format html|csv] [--from D] [--to D]`."""
    config = load_config(args.config)
    try:
        period = parse_period(args.period_from, args.period_to, dt.date.today())
    except ValueError as exc:
        raise ConfigError(f"bad period: {exc} (use YYYY-MM-DD)", key="--from/--to") from None
    print(write_report(config, args.out, period=period, fmt=args.format or "html"))
    return 0

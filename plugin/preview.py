"""`ssp plugin preview`: every Student Support page with PowerSchool's tags simulated, offline.

The templates are the ones the UI plugin ships; only the tag set differs. Wildcards become a
plain header, a left menu holding the area's links (the space PowerSchool's own menu takes) and a
footer; `tlist_child` becomes a table shaped like PowerSchool's rendering (colgroup, plain header
cells, `td.td-<FIELD>` cells with `CF-[...]` names, Boolean as hidden + checkbox, a `deleteCB`
per row, and the hidden `tr.new` template whose inputs carry `data-name` and `data-addclass`);
`tlist_sql` becomes rows computed from the same example records (plugin.preview_data), and
preview_shim.js stands in for tlistCustomization.js and PowerSchool's add-row and widgets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from markupsafe import Markup

from foundation.catalogue import Catalogue
from plugin.escaping import html
from plugin.pages import (
    CLOSED_REFERRAL_STATUSES,
    LAST_VISITS,
    SAVE_URL,
    Area,
    Grid,
    GridColumn,
    Listing,
    PageLink,
    area_model,
    list_cell_attrs,
    render_pages,
)
from plugin.preview_data import PREVIEW_TODAY, STUDENT_NAME, example_records
from foundation.config import SSPConfig

__all__ = [
    "PreviewTags",
    "render_preview_pages",
    "render_preview_html",
    "write_preview",
    "PREVIEW_FILE",
    "EXAMPLE_STUDENT_DCID",
]

PREVIEW_FILE = "student_support.html"
EXAMPLE_STUDENT_DCID = 1001
_FIRST_ROW_ID = 101
_STOCK_STUDENT_PAGES = ("Demographics", "Enrollments", "Health", "Transcript", "Modify Schedule")
Record = dict[str, str]


def _asset(name: str) -> str:
    return resources.files("page_templates").joinpath(f"plugin/{name}").read_text("utf-8")


def _us_date(iso: str) -> str:
    """PowerSchool shows `$format=date` fields in the district's format (US: MM/DD/YYYY)."""
    if not iso:
        return ""
    return dt.date.fromisoformat(iso).strftime("%m/%d/%Y")


def _cf_name(grid: Grid, col: GridColumn, row_id: str) -> str:
    suffix = "$format=date" if col.type == "Date" else ""
    return f"CF-[STUDENTS:{EXAMPLE_STUDENT_DCID}.{grid.path.split('.', 1)[1]}:{row_id}]{col.name}{suffix}"


def _existing_input(grid: Grid, col: GridColumn, value: str, row_id: str) -> str:
    name = html(_cf_name(grid, col, row_id))
    if col.type == "Boolean":
        checked = " checked" if value else ""
        return (
            f'<input type="hidden" name="{name}" value="">'
            f'<input type="checkbox" class="{col.name}" name="{name}" value="1"{checked}>'
        )
    if col.type == "Date":
        return (
            f'<input type="text" class="{col.name} psDateWidget" value="{html(_us_date(value))}" '
            f'name="{name}">'
        )
    return (
        f'<input type="text" class="{col.name} psTextWidget" value="{html(value)}" name="{name}">'
    )


def _template_input(grid: Grid, col: GridColumn) -> str:
    name = html(_cf_name(grid, col, "-{INSERT_COUNTER}"))
    if col.type == "Boolean":
        return f'<input type="checkbox" class="{col.name}" data-name="{name}" value="1">'
    widget = "psDateWidget" if col.type == "Date" else "psTextWidget"
    return (
        f'<input type="text" class="{col.name}" data-addclass="{widget}" value="" '
        f'data-name="{name}">'
    )


def _grid_row(grid: Grid, record: Record, row_id: int) -> str:
    cells = "".join(
        f'<td id="{c.name}_{row_id}" class="td-{c.name}">'
        f"{_existing_input(grid, c, record.get(c.name, ''), str(row_id))}</td>"
        for c in grid.columns
    )
    table_path = grid.path.split(".", 1)[1]
    delete = (
        f'<td><input class="deleteCB" name="DC-STUDENTS:{EXAMPLE_STUDENT_DCID}.{table_path}:'
        f'{row_id}" type="checkbox"></td>'
    )
    return f'<tr id="rowId_{row_id}">{cells}{delete}</tr>'


def _template_row(grid: Grid) -> str:
    cells = "".join(
        f'<td id="{c.name}_-{{INSERT_COUNTER}}" class="td-{c.name}">{_template_input(grid, c)}</td>'
        for c in grid.columns
    )
    return f'<tr class="new">{cells}<td class="deleteCol"></td></tr>'


def _cell_text(col_name: str, kind: str, value: str) -> str:
    """What the column's SQL expression makes of the stored value (pages._list_column)."""
    if kind == "short_id":
        return value[:16] if value.startswith("consent:") else value[:8]
    return value


def _active(consent: Record, today: dt.date) -> bool:
    def date(name: str) -> dt.date | None:
        return dt.date.fromisoformat(consent[name]) if consent.get(name) else None

    effective, expires = date("EFFECTIVE_DATE"), date("EXPIRATION_DATE")
    return (
        not consent.get("REVOKED_DATE")
        and (effective is None or effective <= today)
        and (expires is None or expires >= today)
    )


class PreviewTags:
    """Simulated PowerSchool tags: same methods as pages.PowerSchoolTags, offline HTML out."""

    preview = True

    def __init__(
        self,
        area: Area,
        records: dict[str, list[Record]],
        *,
        student: str = STUDENT_NAME,
        today: dt.date = PREVIEW_TODAY,
    ) -> None:
        self.area, self.records, self.student, self.today = area, records, student, today

    # ------------------------------------------------------------------ page frame
    def wc(self, name: str) -> Markup:
        if name == "commonscripts":
            css, shim = _asset("preview.css"), _asset("preview_shim.js")
            today = f'window.sspPreviewToday = "{self.today.isoformat()}";'
            return Markup(f"<style>{css}</style>\n<script>{today}\n{shim}</script>")
        if name == "admin_header_frame_css":
            return Markup(
                '<div class="ssp-preview-banner"><strong>PowerSchool SIS</strong> &middot; '
                "offline preview of the Student Support pages: PowerSchool tags are simulated, "
                'example data only, nothing is saved</div>\n<div class="ssp-preview-layout">'
                '<div class="ssp-preview-crumbs">'
            )
        if name == "admin_navigation_frame_css":
            return Markup(f"</div>\n{self._menu()}\n<main class=\"ssp-preview-main\">")
        if name == "title_student_begin_css":
            return Markup('<h1 class="ssp-preview-title">')
        if name == "title_student_end_css":
            return Markup(f" <small>&middot; {html(self.student)}</small></h1>")
        if name == "admin_footer_frame_css":
            return Markup(
                '<pre id="ssp-preview-submitted" aria-live="polite"></pre>\n</main></div>\n'
                '<div class="ssp-preview-footer">Preview generated by ssp plugin preview.</div>'
            )
        return Markup("")

    def _menu(self) -> str:
        """The student menu PowerSchool draws, with the links the left-nav fragment adds."""
        stock = "".join(f"<li><span>{html(n)}</span></li>" for n in _STOCK_STUDENT_PAGES)
        subs = "".join(
            f'<li><a href="{html(link.file)}">{html(link.title)}</a></li>'
            for link in self.area.links[1:]
        )
        landing = self.area.landing
        return (
            '<nav class="ssp-preview-nav" aria-label="Student menu (simulated)">'
            '<h2 class="ssp-preview-nav-title">Information</h2><ul id="std_information">'
            f'{stock}<li><a href="{html(landing.file)}">{html(self.area.title)}</a>'
            f"<ul>{subs}</ul></li></ul></nav>"
        )

    def head_assets(self) -> Markup:
        return Markup("")

    def link(self, page: PageLink) -> Markup:
        return Markup(html(page.file))

    def guard_start(self) -> Markup:
        return Markup("")

    def guard_end(self) -> Markup:
        return Markup("")

    def save_action(self) -> Markup:
        return Markup(SAVE_URL)

    def submit_button(self) -> Markup:
        return Markup('<button type="submit" id="btnSubmit" name="btnSubmit">Submit</button>')

    # ------------------------------------------------------------------ tlist_child
    def tlist_child(self, grid: Grid) -> Markup:
        cols = "".join(f'<col class="col-{c.name}">' for c in grid.columns)
        head = "".join(f"<th>{html(c.label)}</th>" for c in grid.columns)
        rows = [
            _grid_row(grid, record, _FIRST_ROW_ID + i)
            for i, record in enumerate(self.records.get(grid.table, []))
        ]
        rows.append(_template_row(grid))
        return Markup(
            f'<div class="tlistCollectionTable"><table class="grid">'
            f'<colgroup>{cols}<col class="col-delete"></colgroup>'
            f"<thead><tr>{head}<th>Delete</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f'<button type="button" class="ssp-preview-add" data-table="{grid.table}">Add Row'
            "</button></div>"
        )

    # ------------------------------------------------------------------ tlist_sql
    def listing_rows(self, listing: Listing) -> Markup:
        rows = self._query(listing.key)()
        if listing.row == "option":
            return Markup(
                "".join(
                    f'<option value="{html(r.get("SSP_UID", ""))}" '
                    f'data-date="{html(r.get("VISIT_DATE", ""))}" '
                    f'data-purpose="{html(r.get("PURPOSE", ""))}">'
                    f'{html(r.get("VISIT_DATE", ""))}</option>'
                    for r in rows
                )
            )
        if not rows:
            return Markup(
                f'<tr><td colspan="{len(listing.columns)}">{html(listing.none_message)}</td></tr>'
            )
        out = []
        for record in rows:
            cells = "".join(
                f'<td data-field="{c.name}"{list_cell_attrs(c)}'
                + f">{html(_cell_text(c.name, c.kind, record.get(c.name, '')))}</td>"
                for c in listing.columns
            )
            out.append(f"<tr>{cells}</tr>")
        return Markup("".join(out))

    def _query(self, key: str) -> Callable[[], list[Record]]:
        """What each page's SQL selects, over the example records."""
        visits = self.records.get("U_SSP_VISITS", [])
        referrals = self.records.get("U_SSP_REFERRALS", [])
        newest_visits = sorted(
            visits, key=lambda r: (r["VISIT_DATE"], r["TIME_IN"]), reverse=True
        )
        newest_referrals = sorted(referrals, key=lambda r: r["REFERRAL_DATE"], reverse=True)
        queries: dict[str, Callable[[], list[Record]]] = {
            "active_consents": lambda: sorted(
                (c for c in self.records.get("U_SSP_CONSENTS", []) if _active(c, self.today)),
                key=lambda r: (r["PARTNER_ID"], r["EXPIRATION_DATE"]),
            ),
            "open_referrals": lambda: [
                r for r in newest_referrals if r.get("STATUS") not in CLOSED_REFERRAL_STATUSES
            ],
            "last_visits": lambda: newest_visits[:LAST_VISITS],
            "partner_status": lambda: newest_referrals,
            "visit_choices": lambda: [v for v in newest_visits if v.get("SSP_UID")],
            "disclosures": lambda: sorted(
                self.records.get("U_SSP_DISCLOSURES", []),
                key=lambda r: r["DISCLOSED_AT"],
                reverse=True,
            ),
        }
        return queries[key]


def render_preview_pages(config: SSPConfig, cat: Catalogue) -> dict[str, str]:
    """Every preview page by file name (UTF-8 HTML text)."""
    tags = PreviewTags(area_model(config, cat), example_records(cat))
    return render_pages(config, cat, tags)


def render_preview_html(config: SSPConfig, cat: Catalogue, file: str = PREVIEW_FILE) -> str:
    """One preview page (default: the landing page)."""
    return render_preview_pages(config, cat)[file]


def write_preview(config: SSPConfig, cat: Catalogue, out_dir: Path) -> Path:
    """Write every preview page into `out_dir` (each atomically); returns the landing page."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in render_preview_pages(config, cat).items():
        path = out_dir / name
        tmp = path.with_name(f".{name}.part")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return out_dir / PREVIEW_FILE

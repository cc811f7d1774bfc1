"""`ssp plugin preview`: the Student Support Page with PowerSchool's tags simulated, offline.

The page template is the same one the UI plugin ships; only the tag set differs. Wildcards become
a plain header and footer, `tlist_child` becomes an HTML table shaped like PowerSchool's (cells
`td.td-<FIELD>`, inputs named `CF-[...]FIELD`, a hidden template row for Add) with example rows,
`tlist_sql` becomes example disclosure rows, and preview_shim.js stands in for
tlistCustomization.js. Example rows are fictional and deterministic.
"""

from __future__ import annotations

import uuid
from importlib import resources

from markupsafe import Markup

from plugin.catalogue import Catalogue
from plugin.escaping import html
from plugin.pages import Grid, GridColumn, Listing, render_page
from ssp.config import SSPConfig

__all__ = ["PreviewTags", "render_preview_html", "PREVIEW_FILE", "EXAMPLE_STUDENT_DCID"]

PREVIEW_FILE = "student_support.html"
EXAMPLE_STUDENT_DCID = 1001
_EXAMPLE_ROWS = 2
_NAMESPACE = uuid.UUID("5d0c8f0e-3f6a-4c8e-9a51-6a1f4e1b2c3d")
_TEXT_EXAMPLES = {
    "STAFF_NAME": ("J. Rivera", "K. Osei"),
    "REFERRED_BY": ("M. Chen", "J. Rivera"),
    "SOURCE": ("school", "partner:example"),
    "PURPOSE": ("Coordinate counseling services", "Share referral status"),
    "SIGNER_NAME": ("A. Parent (example)", "B. Guardian (example)"),
    "FORM_VERSION": ("2026-1", "2026-1"),
    "DOCUMENT_REF": ("consent-form-0001.pdf", "consent-form-0002.pdf"),
    "STATUS_REASON": ("", "Partner confirmed first appointment"),
    "LAST_SENT": ("", "2026-09-16 04:15:02"),
    "DISCLOSED_AT": ("2026-09-16 04:15:02", "2026-09-12 04:15:07"),
    "PARTNER_VISIT_ID": ("", "v-1042"),
}
_TIME_EXAMPLES = {"TIME_IN": ("09:15", "13:40"), "TIME_OUT": ("09:45", "14:10")}


def _asset(name: str) -> str:
    return resources.files("page_templates").joinpath(f"plugin/{name}").read_text("utf-8")


def _example_uid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def _example(table: str, col: GridColumn, row: int, partners: tuple[str, ...] = ()) -> str:
    """A plausible, fictional value for one cell of example row `row`."""
    if col.name.endswith("_UID") or col.name == "RUN_ID":
        return _example_uid(table, col.name, row)
    if col.name == "PARTNER_ID" and not col.options:
        return partners[row % len(partners)] if partners else ""
    if col.name == "LEGAL_BASIS":
        return f"consent:{_example_uid('U_SSP_CONSENTS', 'SSP_UID', row)}"
    if col.name in _TIME_EXAMPLES:
        return _TIME_EXAMPLES[col.name][row % 2]
    if col.options:
        codes = [code for code, _ in col.options]
        if col.treatment == "multi" or (col.choice and "CATEGOR" in col.name):
            return ",".join(codes[row % len(codes):][:2])
        return codes[(row + (1 if col.treatment in ("static", "static_new") else 0)) % len(codes)]
    if col.type == "Date":
        return f"2026-09-{14 - 3 * row:02d}"
    if col.type == "Boolean":
        return "1" if row == 0 else ""
    if col.name in _TEXT_EXAMPLES:
        return _TEXT_EXAMPLES[col.name][row % 2]
    if col.treatment == "textarea":
        return "Example note (never shared)." if row == 0 else ""
    return ""


def _input(grid: Grid, col: GridColumn, value: str | None, row_id: str) -> str:
    suffix = "$format=date" if col.type == "Date" else ""
    name = f"CF-[STUDENTS:{EXAMPLE_STUDENT_DCID}.{grid.path.split('.', 1)[1]}:{row_id}]{col.name}{suffix}"
    widget = "psDateWidget" if col.type == "Date" else "psTextWidget"
    naming = f'name="{html(name)}"' if value is not None else f'data-name="{html(name)}" data-addclass=""'
    if col.type == "Boolean":
        checked = " checked" if value else ""
        return f'<input type="checkbox" {naming} value="1" class="{col.name}"{checked}>'
    return f'<input type="text" {naming} value="{html(value or "")}" class="{col.name} {widget}">'


def _row(grid: Grid, values: list[str | None], row_id: str, template: bool = False) -> str:
    cells = "".join(
        f'<td class="td-{c.name} col-{c.name} {c.name}" data-field="{c.name}">{_input(grid, c, v, row_id)}</td>'
        for c, v in zip(grid.columns, values)
    )
    action = '<td><button type="button" class="ssp-preview-delete">Delete</button></td>'
    attrs = ' class="ssp-preview-template" style="display:none"' if template else ""
    return f"<tr{attrs}>{cells}{action}</tr>"


class PreviewTags:
    """Simulated PowerSchool tags: same methods as pages.PowerSchoolTags, offline HTML out."""

    preview = True

    def __init__(self, partners: tuple[str, ...] = (), student: str = "Preview Student (example)") -> None:
        self.partners = partners
        self.student = student

    def wc(self, name: str) -> Markup:
        parts = {
            "commonscripts": f"<style>{_asset('preview.css')}</style>\n<script>{_asset('preview_shim.js')}</script>",
            "admin_header_frame_css": '<div class="ssp-preview-banner"><strong>PowerSchool SIS</strong> '
            "&middot; offline preview of the Student Support Page: PowerSchool tags are simulated, "
            "example data only, nothing is saved</div>\n<div class=\"ssp-preview-main\">",
            "admin_navigation_frame_css": "",
            "title_student_begin_css": '<h1 class="ssp-preview-title">',
            "title_student_end_css": f' <small>&middot; {html(self.student)}</small></h1>',
            "admin_footer_frame_css": '</div>\n<pre id="ssp-preview-submitted"></pre>\n'
            '<div class="ssp-preview-footer">Preview generated by ssp plugin preview.</div>',
        }
        return Markup(parts.get(name, ""))

    def head_assets(self) -> Markup:
        return Markup("")

    def form_action(self) -> Markup:
        return Markup("#")

    def saved_notice(self) -> Markup:
        return Markup("")

    def submit_button(self) -> Markup:
        return Markup('<input type="submit" id="btnSubmit" value="Submit">')

    def tlist_child(self, grid: Grid) -> Markup:
        head = "".join(f'<th class="col-{c.name}" data-field="{c.name}">{html(c.label)}</th>' for c in grid.columns)
        rows = [
            _row(grid, [_example(grid.table, c, i) for c in grid.columns], str(100 + i))
            for i in range(_EXAMPLE_ROWS)
        ]
        rows.append(_row(grid, [None] * len(grid.columns), "-{INSERT_COUNTER}", template=True))
        return Markup(
            f'<div class="tlistCollectionTable" id="tlist-{grid.table}" data-table="{grid.table}">'
            f'<table class="grid"><thead><tr>{head}<th></th></tr></thead><tbody>{"".join(rows)}</tbody>'
            f'</table><button type="button" class="ssp-preview-add" data-table="{grid.table}">Add</button></div>'
        )

    def listing_rows(self, listing: Listing) -> Markup:
        rows = []
        for i in range(_EXAMPLE_ROWS):
            cells = "".join(
                f'<td data-field="{c.name}"' + (f' data-choice="{html(c.choice)}"' if c.choice else "")
                + f">{html(_example(listing.table, c, i, self.partners))}</td>"
                for c in listing.columns
            )
            rows.append(f"<tr>{cells}</tr>")
        return Markup("".join(rows))


def render_preview_html(config: SSPConfig, cat: Catalogue) -> str:
    """The offline preview page (UTF-8 HTML text)."""
    return render_page(config, cat, PreviewTags(partners=cat.choice("partner").codes))

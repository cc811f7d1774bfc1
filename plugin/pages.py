"""The Student Support Page, its left-nav fragment and pagecataloging entry, from page_templates/.

The catalogue decides the grids: one editable `tlist_child` per table in GRID_TABLES (columns in
catalogue order, `page = "hidden"` fields left out), one read-only `tlist_sql` list of disclosures.
Each column gets one treatment (dropdown, checkbox group, time entry, date, read-only, ...) that
the template turns into PowerSchool's tlistCustomization.js calls or the page runtime's options.

Escaping cannot be forgotten: the Jinja environment autoescapes, and its `finalize` hook also
neutralises PowerSchool tag syntax in every plain `{{ value }}`; JavaScript goes through `|js`.
The PowerSchool tags themselves come from a tag set object (`ps`) so that the preview can render
the very same template with the tags simulated (plugin.preview).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from foundation.catalogue import Catalogue, Field, Table
from foundation.config import SSPConfig
from plugin.escaping import RawJson, html, html_in_js, js, json_text, ps_tag_arg

__all__ = [
    "PAGE_PATH",
    "PAGE_URL",
    "LEFTNAV_PATH",
    "PAGECATALOGING_PATH",
    "GRID_TABLES",
    "LISTING_TABLE",
    "GridColumn",
    "Grid",
    "Listing",
    "PageModel",
    "PowerSchoolTags",
    "page_model",
    "render_page",
    "render_leftnav",
    "pagecataloging_json",
    "page_files",
    "environment",
]

PAGE_URL = "/admin/students/student_support.html"
PAGE_PATH = "web_root" + PAGE_URL
LEFTNAV_PATH = "web_root/admin/students/more2.student_support.leftnav.footer.txt"
PAGECATALOGING_PATH = "pagecataloging/student_support.json"
PAGE_HTML_ID = "navSspStudentSupportPage"
"""pagecataloging htmlID: globally unique and never changed (reference 6)."""
GRID_TABLES = ("U_SSP_CONSENTS", "U_SSP_VISITS", "U_SSP_REFERRALS")
LISTING_TABLE = "U_SSP_DISCLOSURES"
UID_FIELD = "SSP_UID"
NEW_ROW_DEFAULTS: dict[str, dict[str, str]] = {
    "U_SSP_REFERRALS": {"STATUS": "new"},
    "U_SSP_VISITS": {"SOURCE": "school"},
}
"""Read-only fields that a row added on the page still needs (SPEC 5: a referral starts as `new`,
a visit recorded by staff has SOURCE `school`)."""
TEXTAREA_MIN_LENGTH = 1000

Treatment = Literal[
    "dropdown", "multi", "static", "static_new", "textarea", "time", "date", "checkbox", "text"
]


@dataclass(frozen=True)
class GridColumn:
    name: str
    label: str
    type: str
    treatment: Treatment
    choice: str | None = None
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Grid:
    table: str
    label: str
    description: str
    path: str
    columns: tuple[GridColumn, ...]
    defaults: dict[str, str] = field(default_factory=dict)

    def of(self, *treatments: str) -> list[GridColumn]:
        return [c for c in self.columns if c.treatment in treatments]

    @property
    def runtime_options(self) -> dict[str, Any]:
        """What the page runtime (ssp_page.js) needs beyond the tlistCustomization calls."""
        return {
            "uid": UID_FIELD,
            "defaults": self.defaults,
            "escape": [c.name for c in self.of("static", "static_new", "textarea")],
            "multi": {c.name: [list(o) for o in c.options] for c in self.of("multi")},
            "time": [c.name for c in self.of("time")],
            "date": [c.name for c in self.of("date")],
            "staticLabels": {c.name: c.choice for c in self.of("static", "static_new") if c.choice},
        }


@dataclass(frozen=True)
class Listing:
    """The read-only disclosure list (tlist_sql)."""

    table: str
    label: str
    description: str
    columns: tuple[GridColumn, ...]
    sql: str


@dataclass(frozen=True)
class PageModel:
    title: str
    grids: tuple[Grid, ...]
    listing: Listing
    labels: dict[str, dict[str, str]]


def _treatment(table: Table, f: Field) -> Treatment:
    if f.name == UID_FIELD or f.name in NEW_ROW_DEFAULTS.get(table.name, {}):
        return "static_new"
    if f.page == "readonly":
        return "static"
    if f.choice:
        return "multi" if f.multi else "dropdown"
    if f.widget == "time":
        return "time"
    if f.type == "Date":
        return "date"
    if f.type == "Boolean":
        return "checkbox"
    if f.type in ("String", "Clob") and (f.length or TEXTAREA_MIN_LENGTH) >= TEXTAREA_MIN_LENGTH:
        return "textarea"
    return "text"


def _column(cat: Catalogue, table: Table, f: Field) -> GridColumn:
    options = tuple((o.code, o.label) for o in cat.choice(f.choice).options) if f.choice else ()
    return GridColumn(f.name, f.label, f.type, _treatment(table, f), f.choice, options)


def _grid(cat: Catalogue, table: Table) -> Grid:
    columns = tuple(_column(cat, table, f) for f in table.fields if f.page != "hidden")
    return Grid(
        table=table.name,
        label=table.label,
        description=table.description,
        path=f"{cat.parent}.{cat.group}.{table.name}",
        columns=columns,
        defaults=dict(NEW_ROW_DEFAULTS.get(table.name, {})),
    )


def _listing(cat: Catalogue) -> Listing:
    table = cat.table(LISTING_TABLE)
    columns = tuple(_column(cat, table, f) for f in table.fields if f.page != "hidden")
    select = ", ".join(_listing_expr(c) for c in columns)
    sql = (
        f"SELECT {select} FROM {table.name} WHERE {cat.parent}DCID=~([students]dcid) "
        f"ORDER BY DISCLOSED_AT DESC, ID DESC"
    )
    return Listing(table.name, table.label, table.description, columns, sql)


def _listing_expr(col: GridColumn) -> str:
    # `~(col)` output is not known to be HTML-escaped by PowerSchool (UNVERIFIED), so text that
    # staff typed (the consent purpose) cannot open a tag: < and > become look-alike quotes.
    if col.type == "Date":
        return f"TO_CHAR({col.name}, 'YYYY-MM-DD') AS {col.name}"
    if col.type in ("String", "Clob"):
        return f"TRANSLATE({col.name}, '<>', '\u2039\u203a') AS {col.name}"
    return col.name


def page_model(config: SSPConfig, cat: Catalogue) -> PageModel:
    grids = tuple(_grid(cat, cat.table(name)) for name in GRID_TABLES)
    listing = _listing(cat)
    used = {c.choice for g in grids for c in g.columns if c.choice}
    used |= {c.choice for c in listing.columns if c.choice}
    labels = {name: {o.code: o.label for o in cat.choice(name).options} for name in sorted(used)}
    return PageModel(title=config.plugin.name, grids=grids, listing=listing, labels=labels)


class PowerSchoolTags:
    """The PowerSchool server tags the page uses. plugin.preview.PreviewTags simulates them."""

    preview = False

    def wc(self, name: str) -> Markup:
        return Markup(f"~[wc:{name}]")

    def head_assets(self) -> Markup:
        return Markup(
            '<link href="/images/css/screen.css" rel="stylesheet" media="screen">\n'
            '<link href="/images/css/print.css" rel="stylesheet" media="print">\n'
            '<script src="/scripts/tlistCustomization.js"></script>'
        )

    def form_action(self) -> Markup:
        return Markup("/~[self.page]?frn=~(studentfrn)&changesSaved=true")

    def saved_notice(self) -> Markup:
        return Markup(
            '~[if.~(gpv.changesSaved)=true]<div class="feedback-confirm">'
            "~[text:psx.common.changes_recorded]</div>[/if]"
        )

    def submit_button(self) -> Markup:
        return Markup("~[submitbutton]")

    def tlist_child(self, grid: Grid) -> Markup:
        cols = ",".join(c.name for c in grid.columns)
        names = ",".join(str(ps_tag_arg(c.label)) for c in grid.columns)
        return Markup(f"~[tlist_child:{grid.path};displaycols:{cols};fieldNames:{names};type:html]")

    def listing_rows(self, listing: Listing) -> Markup:
        cells = "".join(
            f'<td data-field="{c.name}"{_choice_attr(c)}>~({c.name.lower()})</td>'
            for c in listing.columns
        )
        return Markup(
            f"~[tlist_sql;{listing.sql};alternatecolor;nonemessage=No disclosures recorded]"
            f"<tr>{cells}</tr>[/tlist_sql]"
        )


def _choice_attr(col: GridColumn) -> str:
    return f' data-choice="{html(col.choice)}"' if col.choice else ""


def _runtime_js() -> Markup:
    text = resources.files("page_templates").joinpath("plugin/ssp_page.js").read_text("utf-8")
    if "~" in text or "</script" in text.lower():
        raise RuntimeError("ssp_page.js must not contain '~' or '</script'")
    return Markup(text)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("page_templates", "plugin"),
        autoescape=True,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(js=js, html_in_js=html_in_js, ps_html=html, ps_arg=ps_tag_arg)
    return env


def _finalize(value: Any) -> Any:
    """Every `{{ value }}` that is not already Markup is HTML-escaped *and* tag-neutralised."""
    if isinstance(value, Markup):
        return value
    if value is None:
        raise ValueError("a template printed None")
    return html(value)


def render_page(config: SSPConfig, cat: Catalogue, tags: Any = None, **extra: Any) -> str:
    """The page HTML. `tags` is PowerSchoolTags (default) or the preview's simulation."""
    template = environment().get_template("student_support.html.j2")
    return template.render(
        page=page_model(config, cat), ps=tags or PowerSchoolTags(), runtime=_runtime_js(), **extra
    )


def render_leftnav(config: SSPConfig) -> str:
    template = environment().get_template("leftnav.footer.txt.j2")
    return template.render(title=config.plugin.name, page_url=PAGE_URL)


def pagecataloging_json(config: SSPConfig, version: str) -> str:
    """Enhanced-navigation entry for the student pages (reference 6; fields partly UNVERIFIED)."""
    entry = {
        "htmlID": PAGE_HTML_ID,
        "title": config.plugin.name,
        "version": version,
        "districtLevelContext": 0,
        "contextType": "student",
        "requiredContext": "student",
        "pageURL": RawJson(f"{PAGE_URL}?frn=~(studentfrn)"),
        "parentHTMLID": "navStudentAcademicPerformanceSection",
    }
    return json_text({"pages": [entry]}) + "\n"


def page_files(config: SSPConfig, cat: Catalogue, version: str) -> dict[str, bytes]:
    return {
        PAGE_PATH: render_page(config, cat).encode("utf-8"),
        LEFTNAV_PATH: render_leftnav(config).encode("utf-8"),
        PAGECATALOGING_PATH: pagecataloging_json(config, version).encode("utf-8"),
    }

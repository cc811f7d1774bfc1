"""The Student Support area: a landing page per student, one grid page per record kind, the
disclosure record, the left-nav fragment and the pagecataloging entries, from page_templates/.

Shaped like published PowerSchool grid pages (one `tlist_child` per page, posting to
`/admin/changesrecorded.white.html` with `ac=prim`): several grids in one form would repeat the
rendered ids of columns that tables share (PURPOSE, PARTNER_ID, NOTES, ...). Every page of the area
sits behind the landing page's page-level permission (`~[if.security.pagenone=...]`), so a
district grants or withholds the whole area with one setting.

The catalogue decides the grids: one editable `tlist_child` per table in GRID_TABLES (catalogue
order, `page = "hidden"` fields and the partner-synced detail in NOT_ON_GRID left out), and
read-only `tlist_sql` lists for what staff only read (the landing page's summaries, the partner
status of referrals, the disclosures). Each column gets one treatment (dropdown, checkbox group,
time entry, date, read-only, ...) that the template turns into tlistCustomization.js calls or the
page runtime's options.

Escaping cannot be forgotten: the Jinja environment autoescapes, and its `finalize` hook also
neutralises PowerSchool tag syntax in every plain `{{ value }}`; JavaScript goes through `|js`;
values read from the database are written by PowerSchool's own encoder (`~(col;htmlencode)`).
The PowerSchool tags come from a tag set object (`ps`) so that the preview can render the very
same templates with the tags simulated (plugin.preview).
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
    "list_cell_attrs",
    "PAGE_URL",
    "PAGE_PATH",
    "PAGE_DIR",
    "LEFTNAV_PATH",
    "PAGECATALOGING_PATH",
    "GRID_TABLES",
    "GRID_PAGES",
    "DISCLOSURES_PAGE",
    "LISTING_TABLE",
    "NOT_ON_GRID",
    "ON_DEMAND",
    "REQUIRED",
    "GridColumn",
    "Grid",
    "ListColumn",
    "Listing",
    "PageLink",
    "Area",
    "PowerSchoolTags",
    "area_model",
    "page_model",
    "render_pages",
    "render_page",
    "render_leftnav",
    "pagecataloging_json",
    "page_files",
    "environment",
]

PAGE_DIR = "/admin/students/"
PAGE_URL = PAGE_DIR + "student_support.html"
"""The landing page; its page-level permission governs the whole area."""
PAGE_PATH = "web_root" + PAGE_URL
LEFTNAV_PATH = "web_root/admin/students/more2.student_support.leftnav.footer.txt"
PAGECATALOGING_PATH = "pagecataloging/student_support.json"
PAGE_HTML_ID = "navSspStudentSupportPage"
"""pagecataloging htmlID: globally unique and never changed (reference 6)."""
SAVE_URL = "/admin/changesrecorded.white.html"
GRID_TABLES = ("U_SSP_VISITS", "U_SSP_REFERRALS", "U_SSP_CONSENTS")
GRID_PAGES = {
    "U_SSP_VISITS": "student_support_visits.html",
    "U_SSP_REFERRALS": "student_support_referrals.html",
    "U_SSP_CONSENTS": "student_support_consents.html",
}
GRID_HTML_IDS = {
    "U_SSP_VISITS": "navSspStudentSupportVisits",
    "U_SSP_REFERRALS": "navSspStudentSupportReferrals",
    "U_SSP_CONSENTS": "navSspStudentSupportConsents",
}
DISCLOSURES_PAGE = "student_support_disclosures.html"
DISCLOSURES_HTML_ID = "navSspStudentSupportDisclosures"
LISTING_TABLE = "U_SSP_DISCLOSURES"
UID_FIELD = "SSP_UID"
NEW_ROW_DEFAULTS: dict[str, dict[str, str]] = {
    "U_SSP_REFERRALS": {"STATUS": "new"},
    "U_SSP_VISITS": {"SOURCE": "school"},
}
"""Read-only fields that a row added on the page still needs (a referral starts as `new`, a visit
recorded by staff has SOURCE `school`)."""
NOT_ON_GRID: dict[str, frozenset[str]] = {
    "U_SSP_VISITS": frozenset({"PARTNER_VISIT_ID"}),
    "U_SSP_REFERRALS": frozenset(
        {"STATUS_DATE", "STATUS_REASON", "FIRST_SERVICE_DATE", "ACCESS_RESULT", "LAST_SENT"}
    ),
}
"""Partner-synced fields shown read-only beside the grid (the referrals page's partner status
list), not as grid columns: they cannot be posted at all, and the grid stays readable at 1280 px."""
ON_DEMAND: dict[str, tuple[str, ...]] = {
    "U_SSP_VISITS": ("TIER", "REFERRAL_MADE", "SOURCE"),
    "U_SSP_REFERRALS": ("REFERRED_BY", "VISIT_UID"),
    "U_SSP_CONSENTS": (
        "SIGNER_NAME",
        "EFFECTIVE_DATE",
        "REVOKED_DATE",
        "FORM_VERSION",
        "DOCUMENT_REF",
    ),
}
"""Fields shown on demand: the page runtime moves their cells (inputs, names and all) into a
"More" disclosure in the column of the first of them, so every grid fits a 1280 px screen beside
PowerSchool's menu without horizontal scrolling. The landing page shows active consents (what
revocation changes) at a glance."""
REQUIRED: dict[str, tuple[str, ...]] = {
    "U_SSP_VISITS": ("VISIT_DATE", "PURPOSE"),
    "U_SSP_REFERRALS": ("REFERRAL_DATE", "REFERRAL_TYPE"),
    "U_SSP_CONSENTS": ("PARTNER_ID", "DIRECTION", "DATA_CATEGORIES", "SIGNER_TYPE", "SIGNED_DATE"),
}
"""Fields a new row must have: announced (aria-required) and checked before the form is sent.
A consent without partner, direction, categories or signature cannot release anything."""
CLOSED_REFERRAL_STATUSES = ("completed", "declined", "cancelled", "unable_to_contact")
LAST_VISITS = 5
TEXTAREA_MIN_LENGTH = 200
WIDE_TEXT_LENGTH = 120

Treatment = Literal[
    "dropdown",
    "multi",
    "static",
    "static_new",
    "textarea",
    "time",
    "date",
    "checkbox",
    "text",
    "visit",
]
_WIDTH_EM: dict[str, float] = {
    "multi": 9.5,
    "static": 5.5,
    "static_new": 5.5,
    "time": 4.2,
    "date": 8.2,
    "checkbox": 4.6,
    "text": 7.5,
    "visit": 9.0,
}
"""Column widths (em) the page's CSS gives each treatment; textareas and long text take the rest."""


@dataclass(frozen=True)
class GridColumn:
    name: str
    label: str
    type: str
    treatment: Treatment
    choice: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False
    width_em: float | None = None


@dataclass(frozen=True)
class PageLink:
    url: str
    file: str
    title: str
    html_id: str


@dataclass(frozen=True)
class Grid:
    table: str
    label: str
    description: str
    path: str
    columns: tuple[GridColumn, ...]
    link: PageLink
    defaults: dict[str, str] = field(default_factory=dict)
    on_demand: tuple[str, ...] = ()

    def of(self, *treatments: str) -> list[GridColumn]:
        return [c for c in self.columns if c.treatment in treatments]

    @property
    def runtime_options(self) -> dict[str, Any]:
        """What the page runtime (ssp_page.js) needs beyond the tlistCustomization calls."""
        return {
            "uid": UID_FIELD,
            "columns": [c.name for c in self.columns],
            "labels": {c.name: c.label for c in self.columns},
            "required": [c.name for c in self.columns if c.required],
            "hidden": [UID_FIELD],
            "onDemand": list(self.on_demand),
            "defaults": self.defaults,
            "escape": [c.name for c in self.of("static", "static_new", "textarea")],
            "multi": {c.name: [list(o) for o in c.options] for c in self.of("multi")},
            "time": [c.name for c in self.of("time")],
            "date": [c.name for c in self.of("date")],
            "visit": [c.name for c in self.of("visit")],
            "staticLabels": {c.name: c.choice for c in self.of("static", "static_new") if c.choice},
        }


@dataclass(frozen=True)
class ListColumn:
    name: str
    label: str
    kind: Literal["text", "date", "choice", "short_id"] = "text"
    """short_id: a UUID shown by its first 8 characters (enough to tell records apart)."""
    choice: str | None = None
    expr: str = ""

    @property
    def cell_tag(self) -> str:
        """The PowerSchool placeholder for this column: encoded unless it is a formatted date."""
        if self.kind == "date":
            return f"~({self.name.lower()})"
        return f"~({self.name.lower()};htmlencode)"


@dataclass(frozen=True)
class Listing:
    """A read-only list filled server-side by `tlist_sql` (never posted back)."""

    key: str
    label: str
    description: str
    columns: tuple[ListColumn, ...]
    sql: str
    none_message: str
    row: Literal["tr", "option"] = "tr"


@dataclass(frozen=True)
class Area:
    title: str
    landing: PageLink
    grids: tuple[Grid, ...]
    disclosures_link: PageLink
    disclosures: Listing
    summaries: tuple[Listing, ...]
    partner_status: Listing
    visit_choices: Listing
    labels: dict[str, dict[str, str]]

    @property
    def links(self) -> tuple[PageLink, ...]:
        return (self.landing, *(g.link for g in self.grids), self.disclosures_link)


def _treatment(table: Table, f: Field) -> Treatment:
    if f.name == UID_FIELD or f.name in NEW_ROW_DEFAULTS.get(table.name, {}):
        return "static_new"
    if f.page == "readonly":
        return "static"
    if table.name == "U_SSP_REFERRALS" and f.name == "VISIT_UID":
        return "visit"
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


def _width(f: Field, treatment: Treatment, options: tuple[tuple[str, str], ...]) -> float | None:
    if treatment == "text" and (f.length or 0) > WIDE_TEXT_LENGTH:
        return None
    if treatment == "dropdown":
        # wide enough for the longest label (about half an em per character), within limits
        longest = max((len(label) for _, label in options), default=8)
        return round(min(11.0, max(6.0, longest * 0.45 + 2.0)), 1)
    return _WIDTH_EM.get(treatment)


def _column(cat: Catalogue, table: Table, f: Field) -> GridColumn:
    options = tuple((o.code, o.label) for o in cat.choice(f.choice).options) if f.choice else ()
    treatment = _treatment(table, f)
    required = f.name in REQUIRED.get(table.name, ())
    return GridColumn(
        f.name, f.label, f.type, treatment, f.choice, options, required, _width(f, treatment, options)
    )


def _link(file: str, title: str, html_id: str) -> PageLink:
    return PageLink(PAGE_DIR + file, file, title, html_id)


def _grid(cat: Catalogue, table: Table) -> Grid:
    leave_out = NOT_ON_GRID.get(table.name, frozenset())
    columns = tuple(
        _column(cat, table, f)
        for f in table.fields
        if f.page != "hidden" and f.name not in leave_out
    )
    shown = {c.name for c in columns}
    return Grid(
        table=table.name,
        label=table.label,
        description=table.description,
        path=f"{cat.parent}.{cat.group}.{table.name}",
        columns=columns,
        link=_link(GRID_PAGES[table.name], table.label, GRID_HTML_IDS[table.name]),
        defaults=dict(NEW_ROW_DEFAULTS.get(table.name, {})),
        on_demand=tuple(c for c in ON_DEMAND.get(table.name, ()) if c in shown),
    )


def _list_column(cat: Catalogue, table: str, name: str, label: str | None = None) -> ListColumn:
    f = cat.table(table).field(name)
    label = label or f.label
    if f.type == "Date":
        return ListColumn(name, label, "date", expr=f"TO_CHAR({name}, 'YYYY-MM-DD') AS {name}")
    if name.endswith("_UID") or name == "RUN_ID":
        return ListColumn(name, label, "short_id", expr=f"SUBSTR({name}, 1, 8) AS {name}")
    if name == "LEGAL_BASIS":  # the connector writes `consent:<consent SSP_UID>`
        expr = (
            f"CASE WHEN {name} LIKE 'consent:%' THEN SUBSTR({name}, 1, 16) ELSE {name} END "
            f"AS {name}"
        )
        return ListColumn(name, label, "short_id", expr=expr)
    if f.choice or f.name == "PARTNER_ID":
        return ListColumn(name, label, "choice", f.choice or "partner", expr=name)
    return ListColumn(name, label, "text", expr=name)


def _listing(
    cat: Catalogue,
    key: str,
    table: str,
    names: tuple[str, ...],
    where: str,
    order: str,
    *,
    label: str,
    description: str,
    none: str,
    limit: int = 0,
    row: Literal["tr", "option"] = "tr",
) -> Listing:
    columns = tuple(_list_column(cat, table, n) for n in names)
    select = ", ".join(c.expr for c in columns)
    owner = f"{cat.parent}DCID=~([students]dcid)"
    where_sql = f"{owner} AND {where}" if where else owner
    sql = f"SELECT {select} FROM {table} WHERE {where_sql} ORDER BY {order}"
    if limit:
        sql = f"SELECT * FROM ({sql}) WHERE ROWNUM <= {limit}"
    return Listing(key, label, description, columns, sql, none, row)


def _quoted(codes: tuple[str, ...]) -> str:
    return ", ".join(f"'{c}'" for c in codes)


def _summaries(cat: Catalogue) -> tuple[Listing, ...]:
    consents = _listing(
        cat,
        "active_consents",
        "U_SSP_CONSENTS",
        ("PARTNER_ID", "DIRECTION", "DATA_CATEGORIES", "SIGNED_DATE", "EXPIRATION_DATE"),
        "REVOKED_DATE IS NULL AND (EFFECTIVE_DATE IS NULL OR EFFECTIVE_DATE <= TRUNC(SYSDATE)) "
        "AND (EXPIRATION_DATE IS NULL OR EXPIRATION_DATE >= TRUNC(SYSDATE))",
        "PARTNER_ID, EXPIRATION_DATE",
        label="Active consents",
        description="Signed, in effect, not expired and not revoked, per partner.",
        none="No active consent: nothing can be shared with a partner.",
    )
    referrals = _listing(
        cat,
        "open_referrals",
        "U_SSP_REFERRALS",
        ("REFERRAL_DATE", "PARTNER_ID", "STATUS", "STATUS_DATE", "STATUS_REASON", "ACCESS_RESULT"),
        f"(STATUS IS NULL OR STATUS NOT IN ({_quoted(CLOSED_REFERRAL_STATUSES)}))",
        "REFERRAL_DATE DESC, ID DESC",
        label="Open referrals",
        description="With the latest status the partner reported.",
        none="No open referral.",
    )
    visits = _listing(
        cat,
        "last_visits",
        "U_SSP_VISITS",
        ("VISIT_DATE", "TIME_IN", "STAFF_NAME", "PURPOSE", "SERVICES"),
        "",
        "VISIT_DATE DESC, TIME_IN DESC, ID DESC",
        label="Last visits",
        description=f"The {LAST_VISITS} most recent support visits.",
        none="No visit recorded.",
        limit=LAST_VISITS,
    )
    return consents, referrals, visits


def _partner_status(cat: Catalogue) -> Listing:
    return _listing(
        cat,
        "partner_status",
        "U_SSP_REFERRALS",
        (
            "REFERRAL_DATE",
            "PARTNER_ID",
            "STATUS",
            "STATUS_DATE",
            "STATUS_REASON",
            "FIRST_SERVICE_DATE",
            "ACCESS_RESULT",
            "LAST_SENT",
        ),
        "",
        "REFERRAL_DATE DESC, ID DESC",
        label="Partner status",
        description="Reported by the partner through the connector; read only.",
        none="No referral yet.",
    )


def _visit_choices(cat: Catalogue) -> Listing:
    return _listing(
        cat,
        "visit_choices",
        "U_SSP_VISITS",
        ("SSP_UID", "VISIT_DATE", "PURPOSE"),
        "SSP_UID IS NOT NULL",
        "VISIT_DATE DESC, ID DESC",
        label="Visits",
        description="",
        none="",
        row="option",
    )


def _disclosures(cat: Catalogue) -> Listing:
    table = cat.table(LISTING_TABLE)
    names = tuple(f.name for f in table.fields if f.page != "hidden" and f.name != UID_FIELD)
    return _listing(
        cat,
        "disclosures",
        LISTING_TABLE,
        names,
        "",
        "DISCLOSED_AT DESC, ID DESC",
        label=table.label,
        description=table.description,
        none="No disclosures recorded",
    )


def _full_uid(listing: Listing) -> Listing:
    """The visit choices need the whole SSP_UID (it is the stored value), not the short form."""
    columns = tuple(
        ListColumn(c.name, c.label, "text", expr=c.name) if c.name == UID_FIELD else c
        for c in listing.columns
    )
    sql = listing.sql.replace(f"SUBSTR({UID_FIELD}, 1, 8) AS {UID_FIELD}", UID_FIELD)
    return Listing(listing.key, listing.label, listing.description, columns, sql, "", listing.row)


def area_model(config: SSPConfig, cat: Catalogue) -> Area:
    grids = tuple(_grid(cat, cat.table(name)) for name in GRID_TABLES)
    disclosures = _disclosures(cat)
    summaries = _summaries(cat)
    partner_status = _partner_status(cat)
    used = {c.choice for g in grids for c in g.columns if c.choice}
    for listing in (disclosures, partner_status, *summaries):
        used |= {c.choice for c in listing.columns if c.choice}
    used.add("purpose")
    labels = {name: {o.code: o.label for o in cat.choice(name).options} for name in sorted(used)}
    title = config.plugin.name
    return Area(
        title=title,
        landing=_link("student_support.html", title, PAGE_HTML_ID),
        grids=grids,
        disclosures_link=_link(
            DISCLOSURES_PAGE, cat.table(LISTING_TABLE).label, DISCLOSURES_HTML_ID
        ),
        disclosures=disclosures,
        summaries=summaries,
        partner_status=partner_status,
        visit_choices=_full_uid(_visit_choices(cat)),
        labels=labels,
    )


page_model = area_model
"""Former name, kept for callers that read the model of the page."""


class PowerSchoolTags:
    """The PowerSchool server tags the pages use. plugin.preview.PreviewTags simulates them."""

    preview = False

    def wc(self, name: str) -> Markup:
        return Markup(f"~[wc:{name}]")

    def head_assets(self) -> Markup:
        return Markup(
            '<link href="/images/css/screen.css" rel="stylesheet" media="screen">\n'
            '<link href="/images/css/print.css" rel="stylesheet" media="print">\n'
            '<script src="/scripts/tlistCustomization.js"></script>'
        )

    def link(self, page: PageLink) -> Markup:
        return Markup(f"{page.file}?frn=~(studentfrn)")

    def guard_start(self) -> Markup:
        """Everything up to guard_end is served only to staff with access to the landing page."""
        return Markup(
            f"~[if.security.pagenone={PAGE_URL}]"
            '<div class="feedback-alert" role="alert">You do not have access to the Student '
            "Support pages. Ask your PowerSchool administrator.</div>[else]"
        )

    def guard_end(self) -> Markup:
        return Markup("[/if]")

    def save_action(self) -> Markup:
        return Markup(SAVE_URL)

    def submit_button(self) -> Markup:
        return Markup("~[submitbutton]")

    def tlist_child(self, grid: Grid) -> Markup:
        cols = ",".join(c.name for c in grid.columns)
        names = ",".join(str(ps_tag_arg(c.label)) for c in grid.columns)
        return Markup(f"~[tlist_child:{grid.path};displaycols:{cols};fieldNames:{names};type:html]")

    def listing_rows(self, listing: Listing) -> Markup:
        if listing.row == "option":
            uid, date, purpose = (c.cell_tag for c in listing.columns)
            row = f'<option value="{uid}" data-date="{date}" data-purpose="{purpose}">{date}</option>'
            return Markup(f"~[tlist_sql;{listing.sql}]{row}[/tlist_sql]")
        cells = "".join(
            f'<td data-field="{c.name}"{list_cell_attrs(c)}>{c.cell_tag}</td>' for c in listing.columns
        )
        none = str(ps_tag_arg(listing.none_message))
        return Markup(
            f"~[tlist_sql;{listing.sql};alternatecolor;nonemessage={none}]"
            f"<tr>{cells}</tr>[/tlist_sql]"
        )


def list_cell_attrs(col: ListColumn) -> str:
    """The extra attributes of a list cell: its choice list (labels) or no wrapping (ids, dates)."""
    if col.choice:
        return f' data-choice="{html(col.choice)}"'
    return ' class="ssp-nowrap"' if col.kind in ("short_id", "date") else ""


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


def render_pages(config: SSPConfig, cat: Catalogue, tags: Any = None) -> dict[str, str]:
    """Every page of the area by file name. `tags` is PowerSchoolTags or the preview's set."""
    area = area_model(config, cat)
    ps = tags or PowerSchoolTags()
    env = environment()
    common = {"area": area, "ps": ps, "runtime": _runtime_js()}
    pages = {
        area.landing.file: env.get_template("student_support.html.j2").render(
            page=area.landing, **common
        )
    }
    grid_template = env.get_template("student_support_grid.html.j2")
    for grid in area.grids:
        pages[grid.link.file] = grid_template.render(page=grid.link, grid=grid, **common)
    pages[area.disclosures_link.file] = env.get_template(
        "student_support_disclosures.html.j2"
    ).render(page=area.disclosures_link, **common)
    return pages


def render_page(config: SSPConfig, cat: Catalogue, tags: Any = None, file: str = "") -> str:
    """One page of the area (default: the landing page)."""
    pages = render_pages(config, cat, tags)
    return pages[file or "student_support.html"]


def render_leftnav(config: SSPConfig, cat: Catalogue | None = None) -> str:
    area = area_model(config, cat or config.catalogue())
    template = environment().get_template("leftnav.footer.txt.j2")
    return template.render(area=area, page_url=PAGE_URL)


def pagecataloging_json(config: SSPConfig, version: str, cat: Catalogue | None = None) -> str:
    """Enhanced-navigation entries for the student pages (reference 6; fields partly UNVERIFIED).

    The landing page keeps its htmlID; each sub-page has its own, never changed once shipped.
    """
    area = area_model(config, cat or config.catalogue())
    entries = [
        {
            "htmlID": link.html_id,
            "title": link.title if link is area.landing else f"{area.title}: {link.title}",
            "version": version,
            "districtLevelContext": 0,
            "contextType": "student",
            "requiredContext": "student",
            "pageURL": RawJson(f"{link.url}?frn=~(studentfrn)"),
            "parentHTMLID": "navStudentAcademicPerformanceSection",
        }
        for link in area.links
    ]
    return json_text({"pages": entries}) + "\n"


def page_files(config: SSPConfig, cat: Catalogue, version: str) -> dict[str, bytes]:
    files = {
        f"web_root{PAGE_DIR}{name}": text.encode("utf-8")
        for name, text in render_pages(config, cat).items()
    }
    files[LEFTNAV_PATH] = render_leftnav(config, cat).encode("utf-8")
    files[PAGECATALOGING_PATH] = pagecataloging_json(config, version, cat).encode("utf-8")
    return files

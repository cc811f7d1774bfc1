"""`ssp plugin lint`: clean on our builds and on published plugins; each planted defect found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lint_zips import connector_plugin_files, raw_zip
from plugin.build import build_plugins, data_files, ui_files
from plugin.lint import lint_zips
from plugin.lint.manifest import PLUGIN_NS
from plugin_configs import DATA
from ssp.cli import main

REAL = DATA / "real"
QUERIES = "queries_root/org.bridgeport.ssp.named_queries.xml"
SCHEMA = "user_schema_root/U_SSP.xml"
PAGE = "web_root/admin/students/student_support.html"
LEFTNAV = "web_root/admin/students/more2.student_support.leftnav.footer.txt"
GRID = "web_root/admin/students/student_support_consents.html"  # one tlist_child grid page
AREA_GUARD = "~[if.security.pagenone=/admin/students/student_support.html]"
NAV = "pagecataloging/student_support.json"


def _lines(report) -> list[str]:
    return [str(f) for f in report.findings]


# --- our own builds -------------------------------------------------------------------------


def test_our_builds_linted_together_have_no_findings(demo_config, tmp_path: Path) -> None:
    report = lint_zips(list(build_plugins(demo_config, tmp_path)))
    assert _lines(report) == [] and report.summary() == "2 zips checked: 0 errors, 0 warnings"


def test_our_ui_with_its_data_plugin_named_has_no_findings(demo_config, tmp_path: Path) -> None:
    data, ui = build_plugins(demo_config, tmp_path)
    assert _lines(lint_zips([ui], data=[data])) == []


def test_our_ui_alone_asks_for_the_data_plugin_once_per_table(
    demo_config, tmp_path: Path
) -> None:
    _, ui = build_plugins(demo_config, tmp_path)
    report = lint_zips([ui])
    assert report.errors == 0 and report.warnings == 5
    assert all("pass its DATA plugin with --data" in f.message for f in report.findings)


def test_cli_prints_one_line_per_finding_and_a_summary(demo_config, tmp_path: Path, capsys) -> None:
    data, ui = build_plugins(demo_config, tmp_path)
    broken = raw_zip(tmp_path / "broken.zip", {**_files(demo_config, "ui"), "Thumbs.db": b""})
    assert main(["plugin", "lint", str(data), str(ui)]) == 0
    assert capsys.readouterr().out == "2 zips checked: 0 errors, 0 warnings\n"
    assert main(["plugin", "lint", str(broken), "--data", str(data)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{broken}:Thumbs.db:0: warning: junk entry")
    assert out[-1] == "1 zip checked: 0 errors, 1 warning"


def test_cli_exits_1_on_an_error_and_2_on_a_missing_file(
    demo_config, tmp_path: Path, capsys
) -> None:
    broken = raw_zip(tmp_path / "b.zip", {"web_root/a.html": b"<p>"})
    assert main(["plugin", "lint", str(broken)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{broken}:plugin.xml:0: error: no plugin.xml at the zip root",
        "1 zip checked: 1 error, 0 warnings",
    ]
    assert main(["plugin", "lint", str(tmp_path / "nope.zip")]) == 2
    assert "nope.zip: no such file" in capsys.readouterr().err


# --- published plugins ----------------------------------------------------------------------

REAL_FINDINGS = {
    # Real problems of theirs, each a warning (they install and work):
    "isa-pd-log-1.00.zip": [
        # the staff left-menu link is appended for everyone, without the pagenone guard their
        # own SDS plugin uses
        "WEB_ROOT/admin/faculty/more2.pdlog.leftnav.footer.txt:4: warning: navigation link to "
        "/admin/faculty/pdlog.html is not inside",
        # the published page breaks 'fieldNames' across a line, so the option is not recognised
        "WEB_ROOT/admin/faculty/pdlog.html:26: warning: ~[tlist_child]: unknown option "
        "'fieldNa\\r\\nmes'",
    ],
    "isa-sds-powerquery-1.0.zip": [
        # zipped on a Mac: AppleDouble files next to the plugin
        "__MACOSX/._plugin.xml:0: warning: junk entry",
        "__MACOSX/._queries_root:0: warning: junk entry",
        # its only ORDER BY is inside LISTAGG(...) WITHIN GROUP, so pages have no stable order
        "queries_root/sds.named_queries.xml:3: warning: query "
        "tech.finnlestrange.sdsexport.sds.exportquery: SQL without ORDER BY",
    ],
    "isa-sds-1.71.zip": [],
    "tesd-teacher-induction-log-25.07.06.zip": [],
    "tesd-teacher-induction-log-DATA-25.07.06.zip": [],
    "psd2l-bs-organization-1.4.18.20240524.zip": [],
}


@pytest.mark.parametrize("name", sorted(REAL_FINDINGS))
def test_published_plugins_pass_with_only_their_true_problems(name: str) -> None:
    report = lint_zips([REAL / name])
    assert report.errors == 0
    got = [str(f).removeprefix(f"{REAL / name}:") for f in report.findings]
    expected = REAL_FINDINGS[name]
    assert len(got) == len(expected)
    for line, start in zip(got, expected):
        assert line.startswith(start), line


def test_published_ui_and_data_plugins_linted_together(tmp_path: Path) -> None:
    zips = [REAL / "tesd-teacher-induction-log-25.07.06.zip",
            REAL / "tesd-teacher-induction-log-DATA-25.07.06.zip"]
    assert _lines(lint_zips(zips)) == []


def test_connector_plugin_structure_passes_with_its_naming_warning(tmp_path: Path) -> None:
    """ps-avela-enrollment's shape: four-part query name (a warning: it ships and works),
    every SCHOOLS field it requests read by its query, STUDENTS written by its client."""
    report = lint_zips([raw_zip(tmp_path / "c.zip", connector_plugin_files())])
    assert [(f.severity, f.path, f.line) for f in report.findings] == [
        ("warning", "queries_root/org.district.enrollment.named_queries.xml", 2)
    ]
    assert "five dot-separated parts" in report.findings[0].message


# --- planted defects ------------------------------------------------------------------------


def _files(config, kind: str) -> dict[str, bytes]:
    cat = config.catalogue()
    return dict(ui_files(config, cat) if kind == "ui" else data_files(config, cat))


def _edit(name: str, old: str, new: str, count: int = 1) -> Callable[[dict], dict]:
    def apply(files: dict[str, bytes]) -> dict[str, bytes]:
        text = files[name].decode()
        assert old in text, f"{old!r} not in {name}"
        return {**files, name: text.replace(old, new, count).encode()}

    return apply


def _add(name: str, data: bytes = b"x") -> Callable[[dict], dict]:
    return lambda files: {**files, name: data}


def _rename(old: str, new: str) -> Callable[[dict], dict]:
    return lambda files: {(new if n == old else n): d for n, d in files.items()}


@dataclass(frozen=True)
class Defect:
    kind: str  # "ui" or "data": which of our zips the defect is planted in
    plant: Callable[[dict], dict | list]
    severity: str
    path: str
    text: str
    line: int | None = None


def _dup(files: dict) -> list:
    return [*files.items(), ("plugin.xml", files["plugin.xml"])]


def _in_folder(files: dict) -> dict:
    return {f"Student Support/{n}": d for n, d in files.items()}


SINCE = '<arg name="since" '
DEFECTS: dict[str, Defect] = {
    # zip entries
    "junk __MACOSX": Defect("ui", _add("__MACOSX/._plugin.xml"), "warning", "__MACOSX/._plugin.xml",
                            "junk entry"),
    "junk .DS_Store": Defect("ui", _add("web_root/.DS_Store"), "warning", "web_root/.DS_Store",
                             "junk entry"),
    "junk Thumbs.db": Defect("ui", _add("web_root/images/Thumbs.db"), "warning",
                             "web_root/images/Thumbs.db", "junk entry"),
    "backslash": Defect("ui", _add("web_root\\admin\\x.html"), "error", "web_root\\admin\\x.html",
                        "backslash"),
    "absolute path": Defect("ui", _add("/web_root/x.html"), "error", "/web_root/x.html",
                            "absolute path"),
    "parent folder": Defect("ui", _add("web_root/../../x.html"), "error", "web_root/../../x.html",
                            "'..'"),
    "duplicate entry": Defect("ui", _dup, "error", "plugin.xml", "2 entries with this name"),
    "top-level folder": Defect("ui", _in_folder, "error", "Student Support/plugin.xml",
                               "inside the folder Student Support/"),
    "unknown root file": Defect("ui", _add("README.md"), "warning", "README.md",
                                "does not read this"),
    # plugin.xml
    "plugin.xml not well-formed": Defect("ui", _edit("plugin.xml", "<oauth/>", "<oauth>"),
                                         "error", "plugin.xml", "not well-formed XML"),
    "plugin.xml without namespace": Defect(
        "data", _edit("plugin.xml", ' xmlns="http://plugin.powerschool.pearson.com"', ""),
        "error", "plugin.xml", "root element must be <plugin", 2),
    "name over 40": Defect("ui", _edit("plugin.xml", 'name="Student Support Page"',
                                       f'name="{"N" * 41}"'),
                           "error", "plugin.xml", "exceeds the allowed maximum length of '40'"),
    "description over 256": Defect("ui", _edit("plugin.xml", 'description="Requires',
                                               f'description="{"d" * 300}'),
                                   "error", "plugin.xml", "maximum length of '256'"),
    "email over 40": Defect("ui", _edit("plugin.xml", 'email="sis@',
                                        f'email="{"e" * 40}@'),
                            "error", "plugin.xml", "maximum length of '40'", 4),
    "access field name over 30": Defect(
        "ui", _edit("plugin.xml", 'field="NAME"', f'field="{"F" * 31}"'), "error", "plugin.xml",
        "maximum length of '30'", 8),
    "access value": Defect("ui", _edit("plugin.xml", 'access="ViewOnly"', 'access="ReadOnly"'),
                           "error", "plugin.xml", "'ReadOnly' is not an element of the set", 8),
    "version charset": Defect("ui", _edit("plugin.xml", 'version="0.1.0.0001"',
                                          'version="1.0-beta"'),
                              "error", "plugin.xml", "version '1.0-beta' must be digits and dots"),
    "no version": Defect("ui", _edit("plugin.xml", ' version="0.1.0.0001"', ""),
                         "warning", "plugin.xml", "no version"),
    "bad accessLevelV1Api": Defect("ui", _edit("plugin.xml", "<oauth/>",
                                               '<oauth accessLevelV1Api="ALL"/>'),
                                   "error", "plugin.xml", "accessLevelV1Api='ALL'", 6),
    # user_schema_root
    "schema table name over 30": Defect(
        "data", _edit(SCHEMA, 'dbTableName="U_SSP_VISITS"', f'dbTableName="U_SSP_{"V" * 30}"'),
        "error", SCHEMA, "has 36 characters", 4),
    "schema reserved word": Defect("data", _edit(SCHEMA, 'name="TIER"', 'name="LEVEL"'),
                                   "error", SCHEMA, "field LEVEL is an Oracle reserved word"),
    "schema String over 4000": Defect(
        "data", _edit(SCHEMA, 'name="TIME_IN" type="String" length="5"',
                      'name="TIME_IN" type="String" length="5000"'),
        "error", SCHEMA, "a String needs a length of 1-4000", 7),
    "schema duplicate field": Defect(
        "data", _edit(SCHEMA, '<field name="TIME_OUT"', '<field name="TIME_IN"'),
        "error", SCHEMA, "field TIME_IN is declared twice", 8),
    "schema reserved column": Defect(
        "data", _edit(SCHEMA, '<field name="TIME_OUT" type="String" length="5"/>',
                      '<field name="WHENMODIFIED" type="Date"/>'),
        "error", SCHEMA, "PowerSchool adds this column itself", 8),
    # queries_root
    "namespaced queries": Defect(
        "ui", _edit(QUERIES, "<queries>", f'<queries xmlns="{PLUGIN_NS}">'),
        "error", QUERIES, "no namespace", 2),
    "four-part query name": Defect(
        "ui",
        _edit(QUERIES, "org.bridgeport.ssp.referrals.changed_since", "org.ssp.referrals.since"),
        "warning", QUERIES, "five dot-separated parts", 3),
    "query name over 200": Defect(
        "ui", _edit(QUERIES, "org.bridgeport.ssp.referrals.changed_since",
                    "org.bridgeport.ssp.referrals." + "x" * 180),
        "error", QUERIES, "query name has 209 characters (max 200)", 3),
    "summary over 50": Defect(
        "ui", _edit(QUERIES, "<summary>Referrals changed since a time",
                    "<summary>" + "s" * 51),
        "error", QUERIES, "summary has 51 characters (max 50)", 3),
    "columns and SQL differ": Defect(
        "ui", _edit(QUERIES, '      <column column="U_SSP_REFERRALS.STUDENTSDCID">'
                    'u_ssp_referrals.studentsdcid</column>\n', ""),
        "error", QUERIES, "SQL returns 28 columns but <columns> lists 27", 3),
    "undeclared argument": Defect("ui", _edit(QUERIES, SINCE, '<arg name="from" '),
                                  "error", QUERIES, "SQL uses :since but <args> does not declare"),
    "unused argument": Defect(
        "ui", _edit(QUERIES, "<args>\n", '<args>\n      <arg name="extra" type="primitive"/>\n'),
        "warning", QUERIES, "argument extra is declared but the SQL never uses it", 7),
    "timestamp argument with column": Defect(
        "ui", _edit(QUERIES, SINCE, SINCE + 'column="U_SSP_REFERRALS.WHENMODIFIED" '),
        "warning", QUERIES, "parsed with TO_DATE but declares column", 7),
    "no ORDER BY": Defect("ui", _edit(QUERIES, "ORDER BY x.WHENMODIFIED, x.ID", ""),
                          "warning", QUERIES, "without ORDER BY", 3),
    "tag in SQL": Defect(
        "ui", _edit(QUERIES, "FROM U_SSP_REFERRALS x", "FROM ~[wc:x] U_SSP_REFERRALS x"),
        "error", QUERIES, "PowerSchool tags", 3),
    # access_request
    "field a query reads not requested": Defect(
        "ui",
        _edit("plugin.xml", '    <field table="STUDENTS" field="DOB" access="ViewOnly"/>\n', ""),
        "error", QUERIES, "reads STUDENTS.DOB but the access_request does not list it"),
    "field requested but never read": Defect(
        "ui", _edit("plugin.xml", '<field table="STUDENTS" field="DOB" access="ViewOnly"/>',
                    '<field table="STUDENTS" field="DOB" access="ViewOnly"/>'
                    '<field table="STUDENTS" field="SSN" access="ViewOnly"/>'),
        "warning", "plugin.xml", "STUDENTS.SSN (ViewOnly) is requested but no query or page", 11),
    "field the DATA plugin does not define": Defect(
        "ui", _edit("plugin.xml", '<field table="U_SSP_VISITS" field="ID" access="ViewOnly"/>',
                    '<field table="U_SSP_VISITS" field="MOOD" access="ViewOnly"/>'),
        "error", "plugin.xml", "U_SSP_VISITS.MOOD is requested but the DATA plugin does not"),
    "table the DATA plugin does not define": Defect(
        "ui", _edit("plugin.xml", '<field table="U_SSP_VISITS" field="ID" access="ViewOnly"/>',
                    '<field table="U_SSP_MOODS" field="ID" access="ViewOnly"/>'),
        "error", "plugin.xml", "U_SSP_MOODS is requested but no DATA plugin given defines it"),
    # web_root
    "unclosed if": Defect("ui", _edit(PAGE, "\n[/if]\n", "\n"),
                          "error", PAGE, "~[if...] is never closed with [/if]"),
    "stray closer": Defect("ui", _edit(PAGE, "</body>", "[/if]</body>"),
                           "error", PAGE, "[/if] closes nothing"),
    "else outside if": Defect("ui", _edit(PAGE, "</body>", "[else]</body>"),
                              "error", PAGE, "[else] outside any ~[if...]"),
    "unclosed tlist_sql": Defect("ui", _edit(PAGE, "[/tlist_sql]", ""),
                                 "error", PAGE, "~[tlist_sql...] is never closed"),
    "labelled if closed without label": Defect(
        "ui", _edit(GRID, AREA_GUARD, AREA_GUARD.replace("~[if.", "~[if#area.")),
        "error", GRID, "[/if] closes nothing (the open block is ~[if#area from line"),
    "tlist_child path": Defect(
        "ui", _edit(GRID, "STUDENTS.U_SSP.U_SSP_CONSENTS;", "U_SSP_CONSENTS;"),
        "error", GRID, "must name CORE.GROUP.TABLE"),
    "tlist_child headings": Defect("ui", _edit(GRID, "fieldNames:", "fieldNames:Extra,"),
                                   "warning", GRID, "displaycols but"),
    "tlist_child unknown column": Defect(
        "ui", _edit(GRID, "displaycols:SSP_UID,", "displaycols:SSP_UID,MOOD,"),
        "error", GRID, "uses U_SSP_CONSENTS.MOOD, which the DATA plugin does not define"),
    "nav link without guard": Defect(
        "ui", lambda f: _edit(LEFTNAV, "\n[/if]\n", "\n")(_edit(LEFTNAV, AREA_GUARD + " [else]", "")(f)),
        "warning", LEFTNAV,
        "is not inside ~[if.security.pagenone=/admin/students/student_support.html]"),
    "nav link guarded by another page": Defect(
        "ui", lambda f: _edit(LEFTNAV, "[/if#p1]\n", "")(
            _edit(LEFTNAV, "~[if#p1.security.pagenone=/admin/students/student_support_visits.html]"
                  " [else#p1]", "")(f)),
        "warning", LEFTNAV, "navigation link to /admin/students/student_support_visits.html is "
        "guarded by the permission of /admin/students/student_support.html"),
    # pagecataloging
    "pagecataloging not JSON": Defect("ui", _edit(NAV, '{"pages":[', '{"pages":[,\n'),
                                      "error", NAV, "not valid JSON", 1),
    "pagecataloging without htmlID": Defect(
        "ui", _edit(NAV, '"htmlID":"navSspStudentSupportPage",', ""),
        "error", NAV, "htmlID is missing or empty"),
    "pagecataloging duplicate htmlID": Defect(
        "ui", lambda f: {**f, "pagecataloging/copy.json": f[NAV]},
        "error", "pagecataloging/student_support.json", "htmlID is also used in"),
    "pagecataloging relative URL": Defect(
        "ui", _edit(NAV, '"pageURL":"/admin', '"pageURL":"admin'),
        "error", NAV, "pageURL must be a server path"),
    "pagecataloging version": Defect("ui", _edit(NAV, '"version":"0.1.0.0001"', '"version":"v1"'),
                                     "warning", NAV, "version 'v1' is not digits and dots"),
    # permissions_root
    "permission for an unknown query": Defect(
        "ui", _add("permissions_root/x.permission_mappings.xml",
                   b'<permission_mappings><permission name="/admin/students/student_support.html">'
                   b'<implies allow="post">/ws/schema/query/org.bridgeport.ssp.x.nothing</implies>'
                   b"</permission></permission_mappings>"),
        "warning", "permissions_root/x.permission_mappings.xml", "defines no such query"),
}


@pytest.mark.parametrize("case", sorted(DEFECTS))
def test_each_planted_defect_is_reported(case: str, demo_config, tmp_path: Path) -> None:
    defect = DEFECTS[case]
    data_zip, _ = build_plugins(demo_config, tmp_path / "ours")
    broken = raw_zip(tmp_path / "broken.zip", defect.plant(_files(demo_config, defect.kind)))
    report = lint_zips([broken], data=[data_zip] if defect.kind == "ui" else [])
    matches = [
        f for f in report.findings
        if (f.severity, f.path) == (defect.severity, defect.path) and defect.text in f.message
    ]
    assert matches, "\n".join(_lines(report))
    if defect.line is not None:
        assert matches[0].line == defect.line, matches[0]
    assert report.errors == 0 if defect.severity == "warning" else report.errors >= 1


# --- the page shapes published grid plugins use (what the Student Support area is built from) --

_GRID_PAGE = """<!DOCTYPE html><html><head><title>{title}</title>~[wc:commonscripts]
<script src="/scripts/tlistCustomization.js"></script></head><body>
~[wc:admin_header_frame_css]~[wc:admin_navigation_frame_css]
~[wc:title_student_begin_css]{title}~[wc:title_student_end_css]
<form action="/admin/changesrecorded.white.html" method="POST">
~[tlist_child:STUDENTS.U_SSP.{table};displaycols:{cols};fieldNames:{names};type:html]
<div class="button-row"><input type="hidden" name="ac" value="prim">~[submitbutton]</div>
</form>
~[wc:admin_footer_frame_css]</body></html>
"""

_LANDING = """<!DOCTYPE html><html><head><title>Student Support</title>~[wc:commonscripts]</head>
<body>~[wc:admin_header_frame_css]~[wc:admin_navigation_frame_css]
<table>~[tlist_sql;SELECT c.PARTNER_ID, TO_CHAR(c.EXPIRATION_DATE, 'YYYY-MM-DD')
 FROM U_SSP_CONSENTS c WHERE c.STUDENTSDCID = ~([students]dcid) AND c.REVOKED_DATE IS NULL
 ORDER BY c.EXPIRATION_DATE;nonemessage=No active consents]
<tr><td>~(c.partner_id;htmlencode)</td><td>~(expires;htmlencode)</td></tr>[/tlist_sql]</table>
<script>var visits = [~[tlist_sql;SELECT SSP_UID, VISIT_DATE FROM U_SSP_VISITS
 WHERE STUDENTSDCID = ~([students]dcid) ORDER BY VISIT_DATE DESC]
{"uid": ~(ssp_uid;json), "date": "~(visit_date;js)"},[/tlist_sql]];</script>
~[if#saved.~(gpv.changesSaved)=true]<p>~[text:psx.common.changes_recorded]</p>[/if#saved]
<a href="ssp_visits.html?frn=~(studentfrn)">Visits</a>
~[wc:admin_footer_frame_css]</body></html>
"""

_LEFTNAV = """<script>$j(function () {
~[if.security.pagenone=/admin/students/student_support.html] [else]
$j("ul#std_information").append("<li><a href='student_support.html?frn=~(frn)'>Support</a></li>");
[/if]
~[if.security.pagenone=/admin/students/ssp_visits.html] [else]
$j("ul#std_information").append("<li><a href='ssp_visits.html?frn=~(frn)'>Visits</a></li>");
[/if]
});</script>
"""


def test_one_grid_per_page_area_with_encoders_and_guarded_links_lints_clean(
    demo_config, tmp_path: Path
) -> None:
    """A landing page (tlist_sql with ~(col;htmlencode|json|js) encoders), a grid page posting to
    changesrecorded.white.html with ac=prim, a left-nav fragment guarding each link, and a
    pagecataloging entry per page."""
    data, _ = build_plugins(demo_config, tmp_path / "ours")
    files = _files(demo_config, "ui")
    files[PAGE] = _LANDING.encode()
    files["web_root/admin/students/ssp_visits.html"] = _GRID_PAGE.format(
        title="Visits", table="U_SSP_VISITS", cols="VISIT_DATE,TIME_IN,PURPOSE",
        names="Date,Time in,Purpose",
    ).encode()
    files[LEFTNAV] = _LEFTNAV.encode()
    files[NAV] = (
        '{"pages":[{"htmlID":"navSspSupport","title":"Student Support","version":"0.1.0.0002",'
        '"pageURL":"/admin/students/student_support.html?frn=~(studentfrn)",'
        '"parentHTMLID":"navStudentInformation","contextType":"student","checkParams":true},'
        '{"htmlID":"navSspVisits","title":"Support visits","version":"0.1.0.0002",'
        '"pageURL":"/admin/students/ssp_visits.html?frn=~(studentfrn)",'
        '"parentHTMLID":"navSspSupport","contextType":"student"}]}'
    ).encode()
    report = lint_zips([raw_zip(tmp_path / "area.zip", files)], data=[data])
    assert _lines(report) == []


_HEADING = (
    '{"pages":[{"htmlID":"navSspHeading","title":"Student Support","version":"1",'
    '"parentHTMLID":"navStudentHealthSection","children":[{"htmlID":"navSspPage",'
    '"title":"Support page","checkParams":true,'
    '"pageURL":"/admin/students/student_support.html?frn=~(studentfrn)"}]}]}'
)


def test_pagecataloging_heading_with_children_needs_no_page_url(
    demo_config, tmp_path: Path
) -> None:
    """The nested shape a production health-log plugin ships: a heading entry whose children
    open the pages (children hang under the heading, so they need no parentHTMLID)."""
    data, _ = build_plugins(demo_config, tmp_path / "ours")
    files = {**_files(demo_config, "ui"), NAV: _HEADING.encode()}
    assert _lines(lint_zips([raw_zip(tmp_path / "nav.zip", files)], data=[data])) == []


def test_pagecataloging_child_without_page_url_is_an_error(demo_config, tmp_path: Path) -> None:
    files = {**_files(demo_config, "ui"), NAV: _HEADING.replace('"pageURL"', '"page"').encode()}
    report = lint_zips([raw_zip(tmp_path / "nav.zip", files)])
    assert [f.message for f in report.findings if f.path == NAV] == [
        "pages[0] (navSspHeading).children[0] (navSspPage): pageURL is missing or empty"
    ]


def test_ui_needing_a_newer_data_version_than_the_one_given_is_an_error(
    demo_config, tmp_path: Path
) -> None:
    cat = demo_config.catalogue()
    data = raw_zip(tmp_path / "data.zip", data_files(demo_config, cat, version="0.1.0.0001"))
    ui = raw_zip(tmp_path / "ui.zip", ui_files(demo_config, cat, data_version="0.1.0.0002"))
    report = lint_zips([data, ui])
    assert [(f.zip, f.severity, f.message) for f in report.findings] == [
        (str(ui), "error", "needs Student Support Page DATA 0.1.0.0002 or later, but the "
         "Student Support Page DATA zip given is 0.1.0.0001: build both from the same "
         "configuration")
    ]

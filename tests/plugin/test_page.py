"""The Student Support Page: grids, dropdowns, widgets, read-only fields, disclosures, fragment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import pytest
from pagehelpers import grids, strip_allowed_tags, tlists

from foundation.catalogue import Catalogue, load_catalogue
from foundation.config import SSPConfig
from plugin.escaping import html
from plugin.pages import GRID_TABLES, page_model, pagecataloging_json, render_leftnav, render_page


@pytest.fixture
def page(demo_config: SSPConfig) -> str:
    return render_page(demo_config, demo_config.catalogue())


def _editable(cat: Catalogue, table: str, *, multi: bool) -> list:
    return [
        f for f in cat.table(table).fields if f.choice and f.page == "edit" and f.multi == multi
    ]


def test_every_single_choice_field_is_a_dropdown_with_every_option_and_a_blank(
    page: str, demo_config
) -> None:
    cat = demo_config.catalogue()
    found = grids(page)
    checked = 0
    for table in GRID_TABLES:
        for f in _editable(cat, table, multi=False):
            expected = [["", ""]] + [
                [o.code, str(html(o.label))] for o in cat.choice(f.choice).options
            ]
            assert found[table].dropdowns[f.name] == expected, f"{table}.{f.name}"
            checked += 1
    names = {c for g in found.values() for c in g.dropdowns}
    assert {
        "STAFF_ROLE",
        "PURPOSE",
        "TIER",
        "REFERRAL_TYPE",
        "PARTNER_ID",
        "URGENCY",
        "DIRECTION",
        "SIGNER_TYPE",
    } <= names
    assert checked == sum(len(g.dropdowns) for g in found.values())


def test_district_choice_edits_reach_the_dropdown(page: str) -> None:
    purpose = dict(grids(page)["U_SSP_VISITS"].dropdowns["PURPOSE"])
    assert purpose["vaping"] == "Vaping concern"  # demo config: [choices.purpose] add


def test_partner_dropdown_lists_the_configured_partners(page: str) -> None:
    for table in ("U_SSP_REFERRALS", "U_SSP_CONSENTS"):
        assert grids(page)[table].dropdowns["PARTNER_ID"] == [
            ["", ""],
            ["cgc", "Child Guidance Center"],
            ["bhcare", "Bridgeport Behavioral Health Care"],
        ]


def test_multichoice_fields_get_a_checkbox_group_with_every_option(page: str, demo_config) -> None:
    cat = demo_config.catalogue()
    found = grids(page)
    for table in GRID_TABLES:
        for f in _editable(cat, table, multi=True):
            options = found[table].options["multi"][f.name]
            assert options == [[o.code, o.label] for o in cat.choice(f.choice).options]
            assert f.name not in found[table].dropdowns  # a single-select would lose codes
    assert set(found["U_SSP_VISITS"].options["multi"]) == {"SERVICES"}
    assert set(found["U_SSP_REFERRALS"].options["multi"]) == {"REASON"}
    assert set(found["U_SSP_CONSENTS"].options["multi"]) == {"DATA_CATEGORIES"}


def test_dates_get_the_date_widget_and_times_the_time_entry(page: str, demo_config) -> None:
    cat = demo_config.catalogue()
    found = grids(page)
    for table in GRID_TABLES:
        dates = [f.name for f in cat.table(table).fields if f.type == "Date" and f.page == "edit"]
        assert found[table].options["date"] == dates
    assert found["U_SSP_VISITS"].options["time"] == ["TIME_IN", "TIME_OUT"]
    runtime = page.split("sspPage(")[0]
    assert 'classList.add("psDateWidget")' in runtime and 'classList.add("timeEntry")' in runtime
    assert "([01][0-9]|2[0-3]):[0-5][0-9]" in runtime


def test_readonly_fields_are_static_and_new_rows_keep_uid_and_default_inputs(
    page: str, demo_config
) -> None:
    cat = demo_config.catalogue()
    found = grids(page)
    for table in GRID_TABLES:
        for f in cat.table(table).fields:
            calls = found[table].calls.get(f.name, set())
            if f.name == "SSP_UID" or f.name in found[table].options["defaults"]:
                assert calls == {"tlistText2StaticTextAllowNew"}, f.name
            elif f.page == "readonly":
                assert calls == {"tlistText2StaticText"}, f"{table}.{f.name}"
                assert f.name in found[table].options["escape"]  # helpers insert raw HTML
    referrals = found["U_SSP_REFERRALS"].options
    assert referrals["defaults"] == {"STATUS": "new"} and referrals["uid"] == "SSP_UID"
    assert found["U_SSP_VISITS"].options["defaults"] == {"SOURCE": "school"}
    assert found["U_SSP_CONSENTS"].options["defaults"] == {}
    assert referrals["staticLabels"] == {
        "STATUS": "referral_status",
        "ACCESS_RESULT": "access_result",
    }
    assert {
        "STATUS_DATE",
        "STATUS_REASON",
        "FIRST_SERVICE_DATE",
        "ACCESS_RESULT",
        "LAST_SENT",
    } <= set(c for c, h in found["U_SSP_REFERRALS"].calls.items() if h == {"tlistText2StaticText"})


def test_notes_are_text_areas(page: str) -> None:
    for table in ("U_SSP_VISITS", "U_SSP_REFERRALS"):
        assert grids(page)[table].calls["NOTES"] == {"tlistText2TextArea"}
        assert "NOTES" in grids(page)[table].options["escape"]


def test_same_column_name_in_two_tables_gets_each_tables_own_treatment(page: str) -> None:
    found = grids(page)
    assert "PURPOSE" in found["U_SSP_VISITS"].dropdowns  # choice `purpose`
    assert "PURPOSE" not in found["U_SSP_CONSENTS"].calls  # free text on consents
    assert "function isolate(grid, fn)" in page


def test_grids_show_catalogue_fields_in_order_with_labels(page: str, demo_config) -> None:
    cat = demo_config.catalogue()
    shown = tlists(page)
    assert list(shown) == list(GRID_TABLES)
    for table in GRID_TABLES:
        fields = cat.table(table).fields
        assert shown[table] == ([f.name for f in fields], [f.label for f in fields])
    assert "~[tlist_child:STUDENTS.U_SSP.U_SSP_VISITS;" in page


def test_hidden_fields_are_left_off_the_page(
    demo_config, catalogue_variant: Callable[[str, str], Path]
) -> None:
    path = catalogue_variant(
        'label = "Notes (never shared)", shared = false }',
        'label = "Notes (never shared)", shared = false, page = "hidden" }',
    )
    cat = load_catalogue(path, partners=[])
    page = render_page(demo_config, cat)
    cols, _ = tlists(page)["U_SSP_VISITS"]
    assert "NOTES" not in cols and "NOTES" not in grids(page)["U_SSP_VISITS"].calls
    assert "NOTES" in tlists(page)["U_SSP_REFERRALS"][0]  # only the visits' NOTES was hidden


def test_page_uses_the_admin_student_page_skeleton(page: str) -> None:
    for part in (
        "~[wc:commonscripts]",
        '<link href="/images/css/screen.css"',
        "~[wc:admin_header_frame_css]",
        "<!-- breadcrumb start -->",
        "~[wc:admin_navigation_frame_css]",
        "~[wc:title_student_begin_css]",
        "~[wc:title_student_end_css]",
        'action="/~[self.page]?frn=~(studentfrn)&changesSaved=true" method="POST"',
        '<input type="hidden" name="ac" value="prim">',
        "~[submitbutton]",
        "~[wc:admin_footer_frame_css]",
        '<script src="/scripts/tlistCustomization.js"></script>',
    ):
        assert part in page, part
    assert (
        page.index("~[wc:commonscripts]")
        < page.index("tlistCustomization.js")
        < page.index("</head>")
    )


def test_disclosures_are_a_read_only_server_side_list(page: str, demo_config) -> None:
    listing = page_model(demo_config, demo_config.catalogue()).listing
    assert "~[tlist_sql;SELECT " in page
    assert (
        "FROM U_SSP_DISCLOSURES WHERE STUDENTSDCID=~([students]dcid) ORDER BY DISCLOSED_AT DESC"
        in page
    )
    assert "nonemessage=No disclosures recorded]" in page and "[/tlist_sql]" in page
    for col in listing.columns:
        assert f'<td data-field="{col.name}"' in page and f"~({col.name.lower()})" in page
    assert "CF-[" not in page  # nothing editable is hand-built for disclosures
    sql = re.search(r"~\[tlist_sql;(.*?);alternatecolor", page).group(1)
    assert ";" not in sql and "]" not in sql.replace("[students]", "")


def test_only_known_powerschool_tags_appear(page: str) -> None:
    assert "~" not in strip_allowed_tags(page)


def test_leftnav_link_is_hidden_from_staff_without_page_access(demo_config) -> None:
    fragment = render_leftnav(demo_config)
    head, rest = fragment.split("~[if.security.pagenone=/admin/students/student_support.html]", 1)
    shown_to_allowed, tail = rest.split("[else]", 1)[1].split("[/if]", 1)
    assert "<script>" in head and "</script>" in tail
    assert "student_support.html?frn=~(frn)" in shown_to_allowed
    assert (
        "ul#std_information" in shown_to_allowed
        and '.text("Student Support Page")' in shown_to_allowed
    )


def test_pagecataloging_entry_points_at_the_student_page(demo_config) -> None:
    data = json.loads(pagecataloging_json(demo_config, "1.2.3"))
    (entry,) = data["pages"]
    assert entry["pageURL"] == "/admin/students/student_support.html?frn=~(studentfrn)"
    assert entry["version"] == "1.2.3" and entry["title"] == "Student Support Page"
    assert entry["htmlID"] == "navSspStudentSupportPage"
    assert entry["contextType"] == entry["requiredContext"] == "student"


def test_runtime_script_is_inlined_and_tag_free(page: str) -> None:
    from importlib import resources

    runtime = resources.files("page_templates").joinpath("plugin/ssp_page.js").read_text("utf-8")
    assert runtime.strip() in page
    assert "~" not in runtime and "</script" not in runtime.lower()
    assert "c.randomUUID" in runtime and "getRandomValues" in runtime

"""The Student Support Page: grids, dropdowns, widgets, read-only fields, disclosures, fragment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import pytest
from pagehelpers import grids, strip_allowed_tags, tlists

from foundation.catalogue import Catalogue, load_catalogue
from plugin.escaping import html
from plugin.pages import (
    GRID_PAGES,
    GRID_TABLES,
    NOT_ON_GRID,
    page_model,
    pagecataloging_json,
    render_leftnav,
    render_pages,
)
from foundation.config import SSPConfig


@pytest.fixture
def pages(demo_config: SSPConfig) -> dict[str, str]:
    return render_pages(demo_config, demo_config.catalogue())


@pytest.fixture
def page(pages: dict[str, str]) -> str:
    """Every page of the area, one after the other (each grid is on its own page)."""
    return "\n".join(pages.values())


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
    assert 'widget(input, "psDateWidget")' in runtime and 'widget(input, "timeEntry")' in runtime
    assert "([01][0-9]|2[0-3]):[0-5][0-9]" in runtime


def test_widget_classes_go_to_data_addclass_on_the_template_row_never_its_class() -> None:
    from importlib import resources

    runtime = resources.files("page_templates").joinpath("plugin/ssp_page.js").read_text("utf-8")
    body = runtime[runtime.index("function widget(input, cls)") :]
    body = body[: body.index("\n  }\n") + 4]
    assert "if (isTemplate(input))" in body
    assert 'input.classList.remove(cls)' in body and '"data-addclass"' in body
    assert "classList.add(cls)" in body.split("} else {")[1]  # rows that exist carry the class


def test_readonly_fields_are_static_and_new_rows_keep_uid_and_default_inputs(
    page: str, demo_config
) -> None:
    cat = demo_config.catalogue()
    found = grids(page)
    for table in GRID_TABLES:
        for f in cat.table(table).fields:
            if f.name in NOT_ON_GRID.get(table, ()):
                assert f.name not in found[table].options["columns"]
                continue
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
    assert referrals["staticLabels"] == {"STATUS": "referral_status"}
    assert referrals["hidden"] == ["SSP_UID"]  # the record id is never shown, still posted


def test_partner_synced_referral_fields_are_a_read_only_list_not_grid_columns(
    pages: dict[str, str],
) -> None:
    referrals = pages[GRID_PAGES["U_SSP_REFERRALS"]]
    cols, _ = tlists(referrals)["U_SSP_REFERRALS"]
    synced = {"STATUS_DATE", "STATUS_REASON", "FIRST_SERVICE_DATE", "ACCESS_RESULT", "LAST_SENT"}
    assert not synced & set(cols) and "STATUS" in cols
    status_list = referrals[referrals.index('id="ssp-listing-partner_status"') :]
    for name in synced:
        assert f'<td data-field="{name}"' in status_list
    assert "CF-[" not in referrals  # nothing editable is hand-built


def test_from_visit_is_a_dropdown_of_the_students_visits(pages: dict[str, str]) -> None:
    referrals = pages[GRID_PAGES["U_SSP_REFERRALS"]]
    found = grids(referrals)["U_SSP_REFERRALS"]
    assert found.calls["VISIT_UID"] == {"tlistText2DropDownValNamePair"}
    assert 'keep("VISIT_UID", sspVisitChoices("ssp-visit-choices"))' in referrals
    choices = re.search(r'<select id="ssp-visit-choices" hidden>\n(.*?)\n</select>', referrals, re.S)
    sql = choices.group(1)
    assert sql.startswith("~[tlist_sql;SELECT SSP_UID, TO_CHAR(VISIT_DATE, 'YYYY-MM-DD') AS VISIT_DATE")
    assert "FROM U_SSP_VISITS WHERE STUDENTSDCID=~([students]dcid)" in sql
    assert '<option value="~(ssp_uid;htmlencode)"' in sql
    assert 'data-purpose="~(purpose;htmlencode)"' in sql


def test_notes_are_text_areas(page: str) -> None:
    for table in ("U_SSP_VISITS", "U_SSP_REFERRALS"):
        assert grids(page)[table].calls["NOTES"] == {"tlistText2TextArea"}
        assert "NOTES" in grids(page)[table].options["escape"]


def test_same_column_name_in_two_tables_gets_each_tables_own_treatment(page: str) -> None:
    found = grids(page)
    assert "PURPOSE" in found["U_SSP_VISITS"].dropdowns  # choice `purpose`
    assert found["U_SSP_CONSENTS"].calls["PURPOSE"] == {"tlistText2TextArea"}  # free text
    assert "function isolate(grid, fn)" in page


def test_each_record_kind_has_its_own_page_with_exactly_one_grid(pages: dict[str, str]) -> None:
    for table, file in GRID_PAGES.items():
        page = pages[file]
        assert list(tlists(page)) == [table], file
        assert page.count("~[tlist_child:") == 1
        assert page.count("<form ") == 1
        assert '<form id="ssp-form" action="/admin/changesrecorded.white.html" method="POST"' in page
        assert '<input type="hidden" name="ac" value="prim">~[submitbutton]' in page
    for file in ("student_support.html", "student_support_disclosures.html"):
        assert "~[tlist_child:" not in pages[file] and "<form" not in pages[file]


def test_grids_show_catalogue_fields_in_order_with_labels(page: str, demo_config) -> None:
    cat = demo_config.catalogue()
    shown = tlists(page)
    assert list(shown) == list(GRID_TABLES)
    for table in GRID_TABLES:
        fields = [f for f in cat.table(table).fields if f.name not in NOT_ON_GRID.get(table, ())]
        assert shown[table] == ([f.name for f in fields], [f.label for f in fields])
    assert "~[tlist_child:STUDENTS.U_SSP.U_SSP_VISITS;" in page


def test_grid_columns_have_widths_that_fit_a_1280_px_screen(demo_config) -> None:
    from plugin.pages import area_model

    for grid in area_model(demo_config, demo_config.catalogue()).grids:
        hidden = {"SSP_UID", *grid.on_demand[1:]}
        fixed = sum(
            (5.5 if c.name == (grid.on_demand or ("",))[0] else c.width_em or 0)
            for c in grid.columns
            if c.name not in hidden
        )
        # about 79em of 13 px text beside a 200 px menu; text areas take what is left
        assert fixed + 4.2 <= 70, (grid.table, fixed)


def test_hidden_fields_are_left_off_the_page(
    demo_config, catalogue_variant: Callable[[str, str], Path]
) -> None:
    path = catalogue_variant(
        'label = "Notes (never shared)", shared = false }',
        'label = "Notes (never shared)", shared = false, page = "hidden" }',
    )
    cat = load_catalogue(path, partners=[])
    page = "\n".join(render_pages(demo_config, cat).values())
    cols, _ = tlists(page)["U_SSP_VISITS"]
    assert "NOTES" not in cols and "NOTES" not in grids(page)["U_SSP_VISITS"].calls
    assert "NOTES" in tlists(page)["U_SSP_REFERRALS"][0]  # only the visits' NOTES was hidden


def test_every_page_uses_the_admin_student_page_skeleton_and_the_area_guard(
    pages: dict[str, str],
) -> None:
    assert set(pages) == {"student_support.html", *GRID_PAGES.values(), "student_support_disclosures.html"}
    for file, page in pages.items():
        assert page.startswith('<!DOCTYPE html>\n<html lang="en">'), file
        for part in (
            "~[wc:commonscripts]",
            '<link href="/images/css/screen.css"',
            "~[wc:admin_header_frame_css]",
            "<!-- breadcrumb start -->",
            "~[wc:admin_navigation_frame_css]",
            "~[wc:title_student_begin_css]",
            "~[wc:title_student_end_css]",
            "~[wc:admin_footer_frame_css]",
            '<script src="/scripts/tlistCustomization.js"></script>',
        ):
            assert part in page, (file, part)
        guard = "~[if.security.pagenone=/admin/students/student_support.html]"
        assert page.count(guard) == 1 and page.count("[else]") == 1 and page.count("[/if]") == 1
        content = page.split("[else]", 1)[1].split("[/if]", 1)[0]
        assert "<nav" in content and ("tlist_" in content), file
        for other in pages:
            assert f'href="{other}?frn=~(studentfrn)"' in content, (file, other)


def test_landing_page_shows_consents_referrals_visits_at_a_glance(pages: dict[str, str]) -> None:
    landing = pages["student_support.html"]
    sqls = re.findall(r"~\[tlist_sql;(.*?);alternatecolor", landing)
    assert len(sqls) == 3
    consents, referrals, visits = sqls
    assert "FROM U_SSP_CONSENTS" in consents and "REVOKED_DATE IS NULL" in consents
    assert "EXPIRATION_DATE >= TRUNC(SYSDATE)" in consents and "EXPIRATION_DATE" in consents.split("FROM")[0]
    assert "FROM U_SSP_REFERRALS" in referrals and "STATUS NOT IN ('completed'" in referrals
    assert "STATUS_DATE" in referrals.split("FROM")[0]
    assert visits.startswith("SELECT * FROM (SELECT ") and visits.endswith("WHERE ROWNUM <= 5")
    for sql in sqls:
        assert "STUDENTSDCID=~([students]dcid)" in sql and ";" not in sql
    assert 'href="student_support_disclosures.html?frn=~(studentfrn)"' in landing


def test_lists_use_powerschools_own_encoder_never_translate(page: str) -> None:
    assert "TRANSLATE(" not in page
    cells = re.findall(r"<td data-field=\"\w+\"[^>]*>(~\([^)]*\))</td>", page)
    assert cells
    for cell in cells:
        assert cell.endswith(";htmlencode)") or re.fullmatch(r"~\(\w*date\w*\)", cell), cell


def test_disclosures_are_a_read_only_server_side_list(pages: dict[str, str], demo_config) -> None:
    page = pages["student_support_disclosures.html"]
    listing = page_model(demo_config, demo_config.catalogue()).disclosures
    assert "~[tlist_sql;SELECT " in page
    assert (
        "FROM U_SSP_DISCLOSURES WHERE STUDENTSDCID=~([students]dcid) ORDER BY DISCLOSED_AT DESC"
        in page
    )
    assert "SUBSTR(REFERRAL_UID, 1, 8) AS REFERRAL_UID" in page  # ids shortened
    assert "WHEN LEGAL_BASIS LIKE 'consent:%' THEN SUBSTR(LEGAL_BASIS, 1, 16)" in page
    assert "SSP_UID" not in page.split("FROM U_SSP_DISCLOSURES")[0].rsplit("SELECT", 1)[1]
    assert "nonemessage=No disclosures recorded]" in page and "[/tlist_sql]" in page
    for col in listing.columns:
        assert f'<td data-field="{col.name}"' in page and f"~({col.name.lower()}" in page
    assert "CF-[" not in page  # nothing editable is hand-built for disclosures
    sql = re.search(r"~\[tlist_sql;(.*?);alternatecolor", page).group(1)
    assert ";" not in sql and "]" not in sql.replace("[students]", "")


def test_only_known_powerschool_tags_appear(page: str) -> None:
    assert "~" not in strip_allowed_tags(page)


def test_leftnav_links_are_hidden_from_staff_without_page_access(demo_config) -> None:
    fragment = render_leftnav(demo_config)
    head, rest = fragment.split("~[if.security.pagenone=/admin/students/student_support.html]", 1)
    shown_to_allowed, tail = rest.split("[else]", 1)[1].split("\n[/if]", 1)
    assert "<script>" in head and "</script>" in tail
    assert "ul#std_information" in shown_to_allowed
    assert '.attr("href", "student_support.html?frn=~(frn)")' in shown_to_allowed
    assert 'item(landing, "Student Support Page")' in shown_to_allowed
    # each sub-page's link also sits behind that page's own permission
    for n, file in enumerate((*GRID_PAGES.values(), "student_support_disclosures.html"), 1):
        guard = f"~[if#p{n}.security.pagenone=/admin/students/{file}] [else#p{n}]"
        inner = shown_to_allowed.split(guard, 1)[1].split(f"[/if#p{n}]", 1)[0]
        assert f'.attr("href", "{file}?frn=~(frn)")' in inner


def test_pagecataloging_entries_point_at_every_student_page(demo_config) -> None:
    data = json.loads(pagecataloging_json(demo_config, "1.2.3"))
    landing, *subs = data["pages"]
    assert landing["pageURL"] == "/admin/students/student_support.html?frn=~(studentfrn)"
    assert landing["version"] == "1.2.3" and landing["title"] == "Student Support Page"
    assert landing["htmlID"] == "navSspStudentSupportPage"
    assert [s["pageURL"].split("?")[0].rsplit("/", 1)[1] for s in subs] == [
        *GRID_PAGES.values(),
        "student_support_disclosures.html",
    ]
    assert len({e["htmlID"] for e in data["pages"]}) == 5
    for entry in data["pages"]:
        assert entry["contextType"] == entry["requiredContext"] == "student"
        assert entry["pageURL"].endswith("?frn=~(studentfrn)") and entry["version"] == "1.2.3"


def test_runtime_script_is_inlined_and_tag_free(page: str) -> None:
    from importlib import resources

    runtime = resources.files("page_templates").joinpath("plugin/ssp_page.js").read_text("utf-8")
    assert runtime.strip() in page
    assert "~" not in runtime and "</script" not in runtime.lower()
    assert "c.randomUUID" in runtime and "getRandomValues" in runtime

"""`ssp plugin preview`: every page offline, PowerSchool tags simulated, consistent example data.

What the preview does in a browser (add-row, date picker, keyboard, widths) is checked in
tests/browser/test_support_area.py.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from lxml import html as lxml_html

from plugin.build import render_preview
from plugin.pages import GRID_PAGES, GRID_TABLES, NOT_ON_GRID, render_pages
from plugin.preview import render_preview_pages
from plugin.preview_data import PREVIEW_TODAY, STUDENT_NAME, example_records
from foundation.config import SSPConfig


@pytest.fixture
def previews(demo_config: SSPConfig) -> dict[str, str]:
    return render_preview_pages(demo_config, demo_config.catalogue())


def test_preview_has_every_page_no_powerschool_tags_and_needs_no_network(
    previews: dict[str, str],
) -> None:
    assert set(previews) == {
        "student_support.html",
        *GRID_PAGES.values(),
        "student_support_disclosures.html",
    }
    for name, preview in previews.items():
        assert "~[" not in preview and "~(" not in preview and "[/if]" not in preview, name
        assert "<link" not in preview and "<script src" not in preview
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", preview)
        assert preview.startswith('<!DOCTYPE html>\n<html lang="en">')


def test_preview_grid_is_shaped_like_powerschools_rendering(
    previews: dict[str, str], demo_config: SSPConfig
) -> None:
    cat = demo_config.catalogue()
    records = example_records(cat)
    for table in GRID_TABLES:
        doc = lxml_html.fromstring(previews[GRID_PAGES[table]])
        tlist = doc.get_element_by_id(f"ssp-grid-{table}").find_class("tlistCollectionTable")[0]
        assert len(doc.find_class("tlistCollectionTable")) == 1  # one grid per page
        rows = tlist.xpath("./table/tbody/tr")
        template = rows[-1]
        assert template.get("class") == "new" and len(rows) == len(records[table]) + 1
        assert tlist.xpath("./table/colgroup/col")[0].get("class").startswith("col-")
        fields = [f for f in cat.table(table).fields if f.name not in NOT_ON_GRID.get(table, ())]
        for f in fields:
            cells = tlist.xpath(f"./table/tbody/tr/td[@class='td-{f.name}']")
            assert len(cells) == len(rows), f"{table}.{f.name}"
            shown = cells[0].xpath(".//input[@name][not(@type='hidden')]")[0]
            suffix = "$format=date" if f.type == "Date" else ""
            assert shown.get("name").endswith(f"]{f.name}{suffix}")
            new = cells[-1].find("input")
            assert "{INSERT_COUNTER}" in new.get("data-name") and new.get("name") is None
            if f.type == "Date":
                assert "psDateWidget" in shown.get("class").split()
                assert new.get("data-addclass") == "psDateWidget"
                assert "psDateWidget" not in new.get("class").split()  # never on the template
        assert all(r.xpath(".//input[@class='deleteCB']") for r in rows[:-1])


def test_example_data_agrees_with_itself(demo_config: SSPConfig) -> None:
    records = example_records(demo_config.catalogue())
    visits = {v["SSP_UID"]: v for v in records["U_SSP_VISITS"]}
    for r in records["U_SSP_REFERRALS"]:
        assert r["VISIT_UID"] in visits
        assert visits[r["VISIT_UID"]]["VISIT_DATE"] <= r["REFERRAL_DATE"]
        assert r["STATUS_DATE"] >= r["REFERRAL_DATE"]
        if r.get("FIRST_SERVICE_DATE"):
            assert r["ACCESS_RESULT"] == "yes" and r["FIRST_SERVICE_DATE"] >= r["REFERRAL_DATE"]
        else:
            assert r["ACCESS_RESULT"] != "yes"
        if r["ACCESS_RESULT"] == "no":
            assert not r.get("FIRST_SERVICE_DATE")
    for v in visits.values():
        assert v["TIME_IN"] < v["TIME_OUT"]
    for c in records["U_SSP_CONSENTS"]:
        assert c["SIGNED_DATE"] <= c["EFFECTIVE_DATE"] < c["EXPIRATION_DATE"]
        assert not c.get("REVOKED_DATE") or c["EFFECTIVE_DATE"] <= c["REVOKED_DATE"]
        if c["SIGNER_TYPE"] == "eligible_student":
            assert c["SIGNER_NAME"] == STUDENT_NAME
        assert "guardian" not in c["SIGNER_NAME"].lower() or c["SIGNER_TYPE"] == "parent_guardian"
    consents = records["U_SSP_CONSENTS"]
    for d in records["U_SSP_DISCLOSURES"]:
        consent = next(c for c in consents if d["LEGAL_BASIS"] == f"consent:{c['SSP_UID']}")
        assert consent["SIGNED_DATE"] <= d["DISCLOSED_AT"][:10] <= consent["EXPIRATION_DATE"]
        assert consent["PARTNER_ID"] == d["PARTNER_ID"]
    assert max(v["VISIT_DATE"] for v in visits.values()) < PREVIEW_TODAY.isoformat()


def test_landing_preview_lists_only_active_consents_and_open_referrals(
    previews: dict[str, str], demo_config: SSPConfig
) -> None:
    doc = lxml_html.fromstring(previews["student_support.html"])
    records = example_records(demo_config.catalogue())
    consents = doc.get_element_by_id("ssp-listing-active_consents").xpath(".//tbody/tr")
    revoked = [c for c in records["U_SSP_CONSENTS"] if c.get("REVOKED_DATE")]
    assert revoked and len(consents) == len(records["U_SSP_CONSENTS"]) - len(revoked)
    expiries = [r.xpath("./td[@data-field='EXPIRATION_DATE']")[0].text for r in consents]
    assert all(dt.date.fromisoformat(e) >= PREVIEW_TODAY for e in expiries)
    visits = doc.get_element_by_id("ssp-listing-last_visits").xpath(".//tbody/tr/td[1]/text()")
    assert visits == sorted(visits, reverse=True)
    links = doc.xpath("//main//a/@href")
    for file in (*GRID_PAGES.values(), "student_support_disclosures.html"):
        assert file in links


def test_preview_carries_the_same_page_script_and_a_helper_shim(
    previews: dict[str, str], demo_config: SSPConfig
) -> None:
    real = render_pages(demo_config, demo_config.catalogue())
    for name, page in real.items():
        script = page[page.rindex("<script>\n") : page.index("</script>\n~[wc:admin_footer")]
        assert script in previews[name], name
    assert "window.tlistText2DropDownValNamePair = function" in previews["student_support.html"]


def test_preview_files_are_written_atomically(demo_config: SSPConfig, tmp_path: Path) -> None:
    path = render_preview(demo_config, tmp_path / "out")
    assert path.name == "student_support.html"
    assert path.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        ["student_support.html", *GRID_PAGES.values(), "student_support_disclosures.html"]
    )

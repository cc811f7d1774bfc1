"""Hostile district text comes out inert in every file the generator writes."""

from __future__ import annotations

import json
import re

import pytest
from lxml import etree
from pagehelpers import grids, strip_allowed_tags
from plugin_configs import DATA, PARTNER

from foundation.config import SSPConfig
from plugin.build import data_files, ui_files
from plugin.preview import render_preview_pages

SCRIPT = "</script><script>alert(1)</script>"  # 35 characters: fits the plugin name limit
TAG = "~[wc:commonscripts]"
IMG = "<img src=x onerror=alert(2)> ~(frn) [/if][else]"

HOSTILE = f"""
[plugin]
name = "{SCRIPT}"
description = "{TAG} <b>bold</b> & ~(studentfrn)"

[choices.purpose]
add = [{{ code = "script", label = "{SCRIPT}" }}, {{ code = "tag", label = "{TAG}" }}]
""" + PARTNER.format(name=IMG)


@pytest.fixture
def hostile(make_config) -> SSPConfig:
    return make_config(HOSTILE)


@pytest.fixture
def hostile_publisher(write_config) -> SSPConfig:
    from plugin_configs import BASE_CONFIG

    from foundation.config import load_config

    base = BASE_CONFIG.replace('publisher = "Test District"', f'publisher = "{TAG} {SCRIPT}"')
    return load_config(write_config(HOSTILE, base=base))


def test_plugin_xml_keeps_the_text_exactly_but_no_tag_or_markup(
    hostile_publisher: SSPConfig,
) -> None:
    xsd = etree.XMLSchema(etree.parse(str(DATA / "plugin.xsd")))
    cat = hostile_publisher.catalogue()
    for files in (ui_files(hostile_publisher, cat), data_files(hostile_publisher, cat)):
        raw = files["plugin.xml"]
        assert b"~" not in raw and b"<script" not in raw
        root = etree.fromstring(raw)
        assert xsd.validate(root), xsd.error_log
        assert root.get("name").startswith(SCRIPT)
        assert root.find("{*}publisher").get("name") == f"{TAG} {SCRIPT}"
    description = etree.fromstring(ui_files(hostile_publisher, cat)["plugin.xml"]).get(
        "description"
    )
    assert description.endswith(f"(install it first). {TAG} <b>bold</b> & ~(studentfrn)")


PAGE_FILES = (
    "student_support.html",
    "student_support_visits.html",
    "student_support_referrals.html",
    "student_support_consents.html",
    "student_support_disclosures.html",
)


def _pages(config: SSPConfig) -> dict[str, str]:
    files = ui_files(config, config.catalogue())
    return {name: files[f"web_root/admin/students/{name}"].decode() for name in PAGE_FILES}


def test_page_text_and_script_strings_are_inert(hostile: SSPConfig) -> None:
    for name, page in _pages(hostile).items():
        assert page.count("<script") == 2, name  # tlistCustomization.js and the page's script
        assert page.lower().count("</script") == 2
        assert "<script>alert" not in page and "</script><script>" not in page
        assert page.count(TAG) == 1  # the page's own wildcard; the label's copy is neutralised
        assert "~" not in strip_allowed_tags(page)
        assert "<img" not in page
        assert page.count("[/if]") == 1 and page.count("[else]") == 1  # only the area's guard
        assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page.split("</title>")[0]


def test_dropdown_labels_reach_the_helper_as_escaped_html(hostile: SSPConfig) -> None:
    page = "\n".join(_pages(hostile).values())
    purpose = dict(grids(page)["U_SSP_VISITS"].dropdowns["PURPOSE"])
    # tlistText2DropDownValNamePair inserts labels as raw HTML, so they are HTML-escaped first.
    assert purpose["script"] == "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert purpose["tag"] == "&#126;&#91;wc:commonscripts&#93;"
    partner = dict(grids(page)["U_SSP_REFERRALS"].dropdowns["PARTNER_ID"])
    assert "<" not in partner["cgc"] and "~" not in partner["cgc"]
    labels = json.loads(re.search(r"sspPage\(\{labels: (\{.*?\}\}), form", page).group(1))
    assert labels["purpose"]["script"] == SCRIPT  # shown with textContent: raw text is right here


def test_leftnav_fragment_cannot_break_out_of_its_if_block(hostile: SSPConfig) -> None:
    fragment = ui_files(hostile, hostile.catalogue())[
        "web_root/admin/students/more2.student_support.leftnav.footer.txt"
    ].decode()
    assert fragment.count("[/if]") == 1 and fragment.count("[else]") == 1
    # the area's guard and one per sub-page; ~(frn) in each link
    assert fragment.count("~[") == 5 and fragment.count("~(") == 5
    assert fragment.lower().count("</script") == 1
    assert (
        'item(landing, "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e")'
        in fragment
    )


def test_pagecataloging_json_keeps_the_title_but_no_tags(hostile: SSPConfig) -> None:
    raw = ui_files(hostile, hostile.catalogue())["pagecataloging/student_support.json"].decode()
    assert raw.count("~") == 5  # the deliberate ~(studentfrn) in each page's pageURL
    assert json.loads(raw)["pages"][0]["title"] == SCRIPT
    assert all(p["title"].startswith(SCRIPT) for p in json.loads(raw)["pages"])


def test_preview_is_inert_too(hostile: SSPConfig) -> None:
    for name, preview in render_preview_pages(hostile, hostile.catalogue()).items():
        assert "~[" not in preview and "~(" not in preview, name
        assert preview.count("<script") == 2 and preview.lower().count("</script") == 2
        assert "<img" not in preview and "[/if]" not in preview

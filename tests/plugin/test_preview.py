"""`ssp plugin preview`: the same page offline, PowerSchool tags simulated; checked in Chromium."""

from __future__ import annotations

import html as htmllib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import html as lxml_html

from foundation.config import SSPConfig
from plugin.build import render_preview
from plugin.pages import GRID_TABLES
from plugin.preview import render_preview_html


@pytest.fixture
def preview(demo_config: SSPConfig) -> str:
    return render_preview_html(demo_config, demo_config.catalogue())


def test_preview_has_no_powerschool_tags_and_needs_no_network(preview: str) -> None:
    assert "~[" not in preview and "~(" not in preview and "[/if]" not in preview
    assert "<link" not in preview and "<script src" not in preview
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", preview)


def test_preview_simulates_each_grid_like_powerschool(preview: str, demo_config: SSPConfig) -> None:
    cat = demo_config.catalogue()
    doc = lxml_html.fromstring(preview)
    for table in GRID_TABLES:
        grid = doc.get_element_by_id(f"ssp-grid-{table}")
        tlist = grid.find_class("tlistCollectionTable")[0]
        rows = tlist.xpath("./table/tbody/tr")
        assert len(rows) == 3 and rows[-1].get("class") == "ssp-preview-template"
        for f in cat.table(table).fields:
            cells = tlist.xpath(
                f"./table/tbody/tr/td[contains(concat(' ', @class, ' '), ' td-{f.name} ')]"
            )
            assert len(cells) == 3, f"{table}.{f.name}"
            template_input = cells[-1].find("input")
            assert "{INSERT_COUNTER}" in template_input.get("data-name")
            assert (
                cells[0]
                .find("input")
                .get("name")
                .endswith(f"]{f.name}" + ("$format=date" if f.type == "Date" else ""))
            )


def test_preview_carries_the_same_page_script_and_a_helper_shim(
    preview: str, demo_config: SSPConfig
) -> None:
    from plugin.pages import render_page

    real = render_page(demo_config, demo_config.catalogue())
    real_script = real[real.index("<script>\n") : real.index("</script>\n~[wc:admin_footer")]
    assert real_script in preview
    assert "window.tlistText2DropDownValNamePair = function" in preview


def test_preview_file_is_written_atomically(demo_config: SSPConfig, tmp_path: Path) -> None:
    path = render_preview(demo_config, tmp_path / "out")
    assert path.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["student_support.html"]


# ---------------------------------------------------------------- in a real (headless) browser
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)


def _dump_dom(path: Path, fragment: str = "") -> lxml_html.HtmlElement:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--dump-dom",
        path.as_uri() + fragment,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return lxml_html.fromstring(result.stdout)


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_in_a_browser_dropdowns_hold_the_catalogue_options_and_widgets_exist(
    demo_config, tmp_path: Path
) -> None:
    cat = demo_config.catalogue()
    doc = _dump_dom(render_preview(demo_config, tmp_path))
    assert doc.get("data-ssp-ready") == "true"
    for table in GRID_TABLES:
        grid = doc.get_element_by_id(f"ssp-grid-{table}")
        for f in cat.table(table).fields:
            if f.page != "edit" or not f.choice:
                continue
            codes = [o.code for o in cat.choice(f.choice).options]
            if f.multi:
                boxes = grid.xpath(f".//span[@class='ssp-multi'][@data-field='{f.name}']")
                assert len(boxes) == 3  # two example rows and the template row
                assert [i.get("value") for i in boxes[0].xpath(".//input")] == codes
            else:
                selects = grid.xpath(f".//select[@data-field='{f.name}']")
                assert len(selects) == 3, f"{table}.{f.name}"
                assert [o.get("value") for o in selects[0].findall("option")] == [""] + codes
    visits = doc.get_element_by_id("ssp-grid-U_SSP_VISITS")
    assert len(visits.xpath(".//input[@type='time'][@name]")) == 4
    assert len(visits.xpath(".//input[@type='date'][@name]")) == 2
    consents = doc.get_element_by_id("ssp-grid-U_SSP_CONSENTS")
    assert not consents.xpath(
        ".//select[@data-field='PURPOSE']"
    )  # free text there, not the visit list
    referrals = doc.get_element_by_id("ssp-grid-U_SSP_REFERRALS")
    assert not referrals.xpath(".//td[contains(@class,'td-STATUS_REASON')]//input")  # read-only
    assert [p.text for p in referrals.xpath(".//td[contains(@class,'td-STATUS ')]/p")] == [
        "Sent",
        "Received",
    ]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_in_a_browser_new_rows_post_a_uuid_defaults_and_joined_codes(
    demo_config, tmp_path: Path
) -> None:
    doc = _dump_dom(render_preview(demo_config, tmp_path), "#ssp-selftest")
    assert doc.get("data-ssp-selftest") == "done"
    posted = dict(
        line.split(" = ", 1)
        for line in doc.get_element_by_id("ssp-preview-submitted").text_content().splitlines()[1:]
    )
    new = {
        k.split("]", 1)[1]: v for k, v in posted.items() if ":-3]" in k
    }  # the added referral row
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", new["SSP_UID"]
    )
    assert (
        new["STATUS"] == "new"
        and new["REASON"] == "anxiety,behavior"
        and new["PARTNER_ID"] == "cgc"
    )
    visit = {k.split("]", 1)[1]: v for k, v in posted.items() if ":-2]" in k}
    assert visit["SOURCE"] == "school" and visit["TIME_IN"] == "10:30"
    assert visit["SERVICES"] == "individual_counseling,crisis_intervention"
    assert posted["ac"] == "prim"
    existing = [k for k in posted if k.endswith(":100]SSP_UID")]
    assert not existing  # existing rows' ids are shown, never re-posted


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_in_a_browser_hostile_labels_stay_text(make_config, tmp_path: Path) -> None:
    from plugin_configs import PARTNER

    marker = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
    config = make_config(
        '[choices.purpose]\nadd = [{ code = "x", label = "'
        + marker.replace('"', '\\"')
        + '" }]\n'
        + PARTNER.format(
            name="</script><script>document.documentElement.setAttribute('data-pwned','2')</script>"
        )
    )
    doc = _dump_dom(render_preview(config, tmp_path))
    assert doc.get("data-ssp-ready") == "true" and doc.get("data-pwned") is None
    assert not doc.xpath("//img")
    option = doc.xpath("//select[@data-field='PURPOSE']/option[@value='x']")[0]
    assert option.text == marker
    assert htmllib.unescape(option.text) == marker


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_in_a_browser_a_missing_helper_does_not_stop_ids_defaults_or_checkboxes(
    demo_config, tmp_path: Path
) -> None:
    page = render_preview(demo_config, tmp_path)
    broken = page.read_text("utf-8").replace(
        "window.tlistText2DropDownValNamePair = function", "window.unusedHelper = function"
    )
    page.write_text(broken, "utf-8")
    doc = _dump_dom(page, "#ssp-selftest")
    assert doc.get("data-ssp-selftest") == "done"
    lines = doc.get_element_by_id("ssp-preview-submitted").text_content().splitlines()
    posted = dict(line.split(" = ", 1) for line in lines[1:])
    new = {k.split("]", 1)[1]: v for k, v in posted.items() if ":-3]" in k}
    assert len(new["SSP_UID"]) == 36 and new["STATUS"] == "new" and new["REASON"] == "anxiety,behavior"

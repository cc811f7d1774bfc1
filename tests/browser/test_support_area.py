"""The Student Support pages as staff use them: the preview in headless Chromium at 1280 x 800.

Real interaction through Playwright (`pw_page`, tests/browser/conftest.py): clicks, typing, the
Tab key. The preview's shim does what PowerSchool does when a row is added (clone `tr.new`, turn
data-name into name, add data-addclass classes, set up the new row's widgets), so these tests see
whether a new row gets a working date picker the way it would on the server. Screenshots of
every page are kept in $SSP_ARTIFACTS_DIR when that is set.
"""

from __future__ import annotations

import html as htmllib
import os
import re
import shutil
from pathlib import Path

import pytest

from plugin.pages import GRID_PAGES, GRID_TABLES
from ssp.cli import main
from foundation.config import load_config

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[2]
PAGES = ("student_support.html", *GRID_PAGES.values(), "student_support_disclosures.html")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "ssp.toml"
    path.write_text((ROOT / "examples" / "ssp.toml").read_text("utf-8"), "utf-8")
    return path


@pytest.fixture
def preview(config_path: Path, tmp_path: Path) -> Path:
    out = tmp_path / "preview"
    assert main(["plugin", "preview", "--config", str(config_path), "--out", str(out)]) == 0
    return out


def _open(page, path: Path) -> None:  # noqa: ANN001
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-ssp-ready='true']", state="attached")
    errors = page.js_errors  # collected by conftest's pw_page
    assert errors == [], errors


def _shot(page, name: str, tmp_path: Path) -> None:  # noqa: ANN001
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    target = os.environ.get("SSP_ARTIFACTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, Path(target) / shot.name)


def _add_row(page, table: str):  # noqa: ANN001, ANN202
    page.click(f"#ssp-grid-{table} .ssp-preview-add")
    return page.locator(f"#ssp-grid-{table} tbody tr[id^='rowId_-']").last


def _posted(page) -> dict[str, str]:  # noqa: ANN001
    text = page.locator("#ssp-preview-submitted").text_content()
    assert text.startswith("Preview: nothing was saved."), text
    assert "/admin/changesrecorded.white.html" in text.splitlines()[0]
    return dict(line.split(" = ", 1) for line in text.splitlines()[1:])


def _new_row_values(posted: dict[str, str], row: str = "-1") -> dict[str, str]:
    return {k.split("]", 1)[1]: v for k, v in posted.items() if f":{row}]" in k}


# ------------------------------------------------------------------------------------ layout
def test_no_page_or_grid_scrolls_sideways_at_1280_px(pw_page, preview: Path, tmp_path: Path) -> None:
    for name in PAGES:
        _open(pw_page, preview / name)
        if name in GRID_PAGES.values():
            _add_row(pw_page, next(t for t, f in GRID_PAGES.items() if f == name))
        widths = pw_page.evaluate(
            """() => ({
              page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
              tables: Array.from(document.querySelectorAll('.ssp-grid table, table.ssp-listing'))
                .map(t => [t.id || t.closest('[id]').id, t.scrollWidth, t.parentElement.clientWidth,
                           Math.round(t.getBoundingClientRect().right)]),
              spills: Array.from(document.querySelectorAll(
                  '.ssp-grid td input:not([type=hidden]), .ssp-grid td select, .ssp-grid td textarea'))
                .filter(el => el.offsetParent !== null && !el.closest('details:not([open])'))
                .filter(el => el.getBoundingClientRect().right > el.closest('td').getBoundingClientRect().right + 1)
                .map(el => el.getAttribute('aria-label'))
            })"""
        )
        scroll, client = widths["page"]
        assert scroll <= client, f"{name}: the page scrolls sideways ({scroll} > {client})"
        for table_id, table_scroll, room, right in widths["tables"]:
            assert table_scroll <= room and right <= 1280, f"{name}: {table_id} is too wide"
        assert widths["spills"] == [], f"{name}: controls wider than their cell"
        _shot(pw_page, name.replace(".html", ""), tmp_path)


def test_every_time_field_shows_its_full_value(pw_page, preview: Path) -> None:
    _open(pw_page, preview / GRID_PAGES["U_SSP_VISITS"])
    row = _add_row(pw_page, "U_SSP_VISITS")
    row.locator("input[data-field='TIME_IN']").fill("13:40")
    row.locator("input[data-field='TIME_OUT']").fill("14:10")
    times = pw_page.evaluate(
        """() => Array.from(document.querySelectorAll('#ssp-grid-U_SSP_VISITS input[name]'))
          .filter(i => /TIME_(IN|OUT)$/.test(i.name))
          .map(i => [i.value, i.scrollWidth, i.clientWidth, i.type, i.className])"""
    )
    assert len(times) == 8  # three example rows and the new one, in and out
    for value, scroll, client, kind, classes in times:
        assert re.fullmatch(r"[0-2][0-9]:[0-5][0-9]", value)
        assert scroll <= client, f"{value!r} is cut off ({scroll} > {client})"
        assert kind == "text" and "timeEntry" in classes.split()
    assert "13:40" in [t[0] for t in times]


# ------------------------------------------------------------------------------------ widgets
@pytest.mark.parametrize("table", GRID_TABLES)
def test_adding_a_row_gives_a_working_date_picker(pw_page, preview: Path, table: str) -> None:
    _open(pw_page, preview / GRID_PAGES[table])
    template = pw_page.locator(f"#ssp-grid-{table} tr.new input[data-addclass~='psDateWidget']")
    assert template.count() >= 1
    assert pw_page.locator(f"#ssp-grid-{table} tr.new .psDateWidget").count() == 0
    row = _add_row(pw_page, table)
    date = row.locator("input.psDateWidget.hasDatepicker").first
    assert date.get_attribute("name").endswith("$format=date")
    assert ":-1]" in date.get_attribute("name") and date.get_attribute("data-addclass") is None
    date.evaluate("el => el.closest('details') && (el.closest('details').open = true)")
    row.locator(".ssp-preview-datebutton").first.click()
    calendar = pw_page.locator("#ssp-preview-calendar")
    assert calendar.is_visible() and "October 2026" in calendar.text_content()
    calendar.get_by_role("button", name="October 15, 2026").click()
    assert date.input_value() == "10/15/2026"
    assert pw_page.locator("#ssp-preview-calendar").count() == 0


def test_a_widget_class_on_the_template_row_gives_new_rows_a_dead_picker(
    pw_page, preview: Path
) -> None:
    """What issue 12 describes: the shim's widget set-up mirrors PowerSchool's, so a class put on
    the template (as the page script once did) is caught here."""
    pw_page.add_init_script(
        """document.addEventListener('ssp:ready', () => {
             document.querySelectorAll('tr.new input[data-addclass~="psDateWidget"]')
               .forEach(i => i.classList.add('psDateWidget'));
           });"""
    )
    _open(pw_page, preview / GRID_PAGES["U_SSP_VISITS"])
    row = _add_row(pw_page, "U_SSP_VISITS")
    row.locator(".ssp-preview-datebutton").first.click()
    assert pw_page.locator("#ssp-preview-calendar").count() == 0


def test_dropdowns_hold_the_catalogue_options_and_from_visit_lists_the_visits(
    pw_page, preview: Path, config_path: Path
) -> None:
    cat = load_config(config_path).catalogue()
    for table in GRID_TABLES:
        _open(pw_page, preview / GRID_PAGES[table])
        for f in cat.table(table).fields:
            if f.page != "edit" or not f.choice:
                continue
            codes = [o.code for o in cat.choice(f.choice).options]
            if f.multi:
                group = pw_page.locator(f"#ssp-grid-{table} .ssp-multi[data-field='{f.name}']")
                values = group.first.locator("input[type=checkbox]").evaluate_all(
                    "els => els.map(e => e.value)"
                )
                assert values == codes, f"{table}.{f.name}"
            else:
                select = pw_page.locator(f"#ssp-grid-{table} select[data-field='{f.name}']").first
                options = select.locator("option").evaluate_all("els => els.map(e => e.value)")
                assert options == ["", *codes], f"{table}.{f.name}"
    assert "vaping" in options or table != "U_SSP_VISITS"
    _open(pw_page, preview / GRID_PAGES["U_SSP_REFERRALS"])
    visit = pw_page.locator("#ssp-grid-U_SSP_REFERRALS select[data-field='VISIT_UID']").first
    labels = visit.locator("option").all_text_contents()
    assert labels[1:] == ["2026-09-21 · Follow-up", "2026-09-14 · Family concern", "2026-09-08 · Check-in"]
    assert re.fullmatch(r"[0-9a-f-]{36}", visit.input_value())
    assert pw_page.locator("#ssp-grid-U_SSP_REFERRALS td.td-STATUS p").all_text_contents() == [
        "In service",
        "Sent",
    ]


# ------------------------------------------------------------------------------------ keyboard
def _focused(page) -> dict:  # noqa: ANN001
    return page.evaluate(
        """() => { const el = document.activeElement, r = el.getBoundingClientRect();
           return {tag: el.tagName, name: el.getAttribute('name') || '', label: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30),
                   id: el.id, cls: el.className, x: r.left, y: r.top,
                   outline: getComputedStyle(el).outlineStyle, row: el.closest('tr') ? el.closest('tr').id : ''}; }"""
    )


def _tab_to(page, predicate, limit: int = 200) -> list[dict]:  # noqa: ANN001
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused(page)
        seen.append(focused)
        if predicate(focused):
            return seen
    raise AssertionError(f"never reached the target; last: {seen[-5:]}")


def test_keyboard_only_walkthrough_of_the_visits_grid(pw_page, preview: Path) -> None:
    _open(pw_page, preview / GRID_PAGES["U_SSP_VISITS"])
    walked = _tab_to(pw_page, lambda f: f["cls"] == "ssp-preview-add")
    in_grid = [f for f in walked if f["row"].startswith("rowId_")]
    assert in_grid, "Tab never entered the grid"
    for before, after in zip(in_grid, in_grid[1:]):
        same_row = before["row"] == after["row"]
        assert (same_row and after["x"] > before["x"]) or (
            not same_row and after["y"] > before["y"]
        ), f"focus jumped back: {before['label']} -> {after['label']}"
    assert all(f["outline"] != "none" for f in walked if f["tag"] in ("INPUT", "SELECT", "A")), (
        "focus is not visible"
    )
    pw_page.keyboard.press("Enter")  # Add Row: focus moves into the new row
    assert _focused(pw_page)["name"].endswith(":-1]VISIT_DATE$format=date")
    pw_page.keyboard.type("09/30/2026")
    pw_page.keyboard.press("Tab")
    assert "Choose" in _focused(pw_page)["label"]  # the date picker's button, then on
    pw_page.keyboard.press("Tab")
    pw_page.keyboard.type("13:40")
    pw_page.keyboard.press("Tab")
    pw_page.keyboard.type("14:10")
    pw_page.keyboard.press("Tab")
    pw_page.keyboard.type("J. Rivera")
    pw_page.keyboard.press("Tab")
    assert _focused(pw_page)["label"] == "Staff role"
    pw_page.keyboard.type("Couns")
    pw_page.keyboard.press("Tab")
    assert _focused(pw_page)["label"] == "Purpose of visit (required)" or _focused(pw_page)[
        "label"
    ].startswith("Purpose of visit")
    pw_page.keyboard.type("Check")
    pw_page.keyboard.press("Tab")
    assert _focused(pw_page)["tag"] == "SUMMARY"  # Services provided: a checkbox group
    pw_page.keyboard.press("Enter")
    pw_page.keyboard.press("Tab")
    pw_page.keyboard.press("Space")
    _tab_to(pw_page, lambda f: f["id"] == "btnSubmit")
    pw_page.keyboard.press("Enter")
    new = _new_row_values(_posted(pw_page))
    assert new["VISIT_DATE$format=date"] == "09/30/2026"
    assert new["TIME_IN"] == "13:40" and new["TIME_OUT"] == "14:10"
    assert new["STAFF_NAME"] == "J. Rivera" and new["STAFF_ROLE"] == "counselor"
    assert new["PURPOSE"] == "check_in" and new["SERVICES"] == "individual_counseling"
    assert UUID.fullmatch(new["SSP_UID"]) and new["SOURCE"] == "school"


def test_a_bad_time_is_tied_to_its_field_and_stops_the_save(pw_page, preview: Path) -> None:
    _open(pw_page, preview / GRID_PAGES["U_SSP_VISITS"])
    row = _add_row(pw_page, "U_SSP_VISITS")
    time_in = row.locator("input[data-field='TIME_IN']")
    time_in.fill("25:99")
    time_in.press("Tab")
    assert time_in.get_attribute("aria-invalid") == "true"
    message = pw_page.locator(f"#{time_in.get_attribute('aria-describedby')}")
    assert "HH:MM" in message.text_content()
    pw_page.click("#btnSubmit")
    assert pw_page.locator("#ssp-preview-submitted").text_content() == ""  # not sent
    # the first problem in reading order gets the focus: the empty (required) visit date
    assert pw_page.evaluate("document.activeElement.getAttribute('data-field')") == "VISIT_DATE"
    errors = pw_page.locator("#ssp-errors")
    assert errors.get_attribute("role") == "alert"
    assert re.search(r"Visit date, Time in, Purpose of visit\.$", errors.text_content())
    time_in.fill("9:05")
    time_in.press("Tab")
    assert time_in.input_value() == "09:05" and time_in.get_attribute("aria-invalid") is None
    assert time_in.get_attribute("aria-describedby") is None


def test_every_grid_control_is_named_and_required_ones_are_announced(
    pw_page, preview: Path
) -> None:
    for table in GRID_TABLES:
        _open(pw_page, preview / GRID_PAGES[table])
        _add_row(pw_page, table)
        report = pw_page.evaluate(
            """(table) => {
              const grid = document.getElementById('ssp-grid-' + table);
              const controls = Array.from(grid.querySelectorAll('input, select, textarea'))
                .filter(el => el.type !== 'hidden' && !el.closest('tr.new'));
              const unnamed = controls.filter(el => !(el.getAttribute('aria-label') || (el.closest('label') && el.closest('label').textContent.trim())));
              const required = Array.from(grid.querySelectorAll('[aria-required=true]')).map(el => el.getAttribute('data-field'));
              const groups = Array.from(grid.querySelectorAll('.ssp-multi')).map(g => [g.getAttribute('role'), g.getAttribute('aria-label')]);
              return {count: controls.length, unnamed: unnamed.map(el => el.outerHTML.slice(0, 80)), required, groups};
            }""",
            table,
        )
        assert report["count"] > 10 and report["unnamed"] == [], (table, report["unnamed"])
        assert report["required"], table
        assert all(role == "group" and label for role, label in report["groups"]), table
    assert pw_page.evaluate("document.documentElement.lang") == "en"


# ------------------------------------------------------------------------------------ safety
def test_new_referral_posts_a_uuid_status_new_and_joined_codes(pw_page, preview: Path) -> None:
    _open(pw_page, preview / GRID_PAGES["U_SSP_REFERRALS"])
    row = _add_row(pw_page, "U_SSP_REFERRALS")
    row.locator("input[data-field='REFERRAL_DATE']").fill("09/30/2026")
    row.locator("select[data-field='REFERRAL_TYPE']").select_option("community")
    row.locator("select[data-field='PARTNER_ID']").select_option("cgc")
    row.locator(".ssp-multi[data-field='REASON'] summary").click()
    row.locator(".ssp-multi[data-field='REASON'] input[value='anxiety']").check()
    row.locator(".ssp-multi[data-field='REASON'] input[value='behavior']").check()
    pw_page.click("#btnSubmit")
    posted = _posted(pw_page)
    new = _new_row_values(posted)
    assert UUID.fullmatch(new["SSP_UID"]) and new["STATUS"] == "new"
    assert new["REASON"] == "anxiety,behavior" and new["PARTNER_ID"] == "cgc"
    assert posted["ac"] == "prim"
    assert not [k for k in posted if k.endswith(":101]SSP_UID")]  # existing ids never re-posted


def test_hostile_labels_stay_text(pw_page, config_path: Path, tmp_path: Path) -> None:
    marker = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
    partner = "</script><script>document.documentElement.setAttribute('data-pwned','2')</script>"
    text = config_path.read_text("utf-8")
    text = text.replace(
        'add = [{ code = "vaping", label = "Vaping concern" }]',
        'add = [{ code = "x", label = "' + marker.replace('"', '\\"') + '" }]',
    ).replace('name = "Child Guidance Center"', f'name = "{partner}"')
    assert marker.replace('"', '\\"') in text and partner in text
    config_path.write_text(text, "utf-8")
    out = tmp_path / "hostile"
    assert main(["plugin", "preview", "--config", str(config_path), "--out", str(out)]) == 0
    for name in PAGES:
        _open(pw_page, out / name)
        assert pw_page.evaluate("document.documentElement.getAttribute('data-pwned')") is None
        assert pw_page.locator("img").count() == 0
    _open(pw_page, out / GRID_PAGES["U_SSP_VISITS"])
    option = pw_page.locator("select[data-field='PURPOSE'] option[value='x']").first
    assert option.text_content() == marker and htmllib.unescape(option.text_content()) == marker
    _open(pw_page, out / "student_support.html")
    assert partner in pw_page.locator("#ssp-listing-active_consents").text_content()


def test_a_missing_helper_does_not_stop_ids_defaults_or_checkboxes(pw_page, preview: Path) -> None:
    page_file = preview / GRID_PAGES["U_SSP_REFERRALS"]
    page_file.write_text(
        page_file.read_text("utf-8").replace(
            "window.tlistText2DropDownValNamePair = function", "window.unusedHelper = function"
        ),
        "utf-8",
    )
    pw_page.goto(page_file.as_uri())
    pw_page.wait_for_selector("html[data-ssp-ready='true']", state="attached")
    row = _add_row(pw_page, "U_SSP_REFERRALS")
    row.locator("input[data-field='REFERRAL_DATE']").fill("09/30/2026")
    row.locator("input[data-field='REFERRAL_TYPE']").fill("community")
    row.locator(".ssp-multi[data-field='REASON'] summary").click()
    row.locator(".ssp-multi[data-field='REASON'] input[value='anxiety']").check()
    pw_page.click("#btnSubmit")
    new = _new_row_values(_posted(pw_page))
    assert UUID.fullmatch(new["SSP_UID"]) and new["STATUS"] == "new" and new["REASON"] == "anxiety"

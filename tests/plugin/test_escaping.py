"""Escaping per output context: the text survives exactly, and nothing in it can run."""

from __future__ import annotations

import html as htmllib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from markupsafe import Markup

from plugin.escaping import (
    RawJson,
    html,
    html_in_js,
    js,
    json_text,
    neutralise_xml,
    ps_tag_arg,
    xml_bytes,
)

HOSTILE = [
    "</script><script>alert(1)</script>",
    "~[wc:commonscripts]",
    "~(studentfrn)",
    "[/if][else]",
    "<!-- <script>",
    "a\u2028b\u2029c",
    "quote\" and 'apostrophe' and \\backslash",
    "<img src=x onerror=alert(1)>",
    "&amp; &#126; &lt;",
]
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(text)
def test_html_round_trips_and_has_no_markup_or_tags(value: str) -> None:
    out = str(html(value))
    assert htmllib.unescape(out) == value
    for ch in "<>\"'~[]":
        assert ch not in out


@given(text)
def test_js_string_round_trips_and_cannot_close_script(value: str) -> None:
    out = str(js(value))
    assert json.loads(out) == value  # double-quoted JSON string is a valid JS string literal
    for bad in ("<", ">", "&", "~", "[", "]", "'", "\u2028", "\u2029", "\n", "\r"):
        assert bad not in out[1:-1]


@given(st.lists(st.tuples(text, text), max_size=5))
def test_js_structures_stay_valid_and_exact(pairs: list[tuple[str, str]]) -> None:
    value = {"pairs": [list(p) for p in pairs], "n": 3, "flag": True, "none": None}
    out = str(js(value))
    assert json.loads(out) == value
    assert "~" not in out and "<" not in out


@given(text)
def test_html_in_js_gives_html_that_displays_the_text(value: str) -> None:
    inner = json.loads(str(html_in_js(value)))
    assert htmllib.unescape(inner) == value
    assert "<" not in inner and "~" not in inner


@given(text)
def test_ps_tag_arg_has_no_argument_markup_or_tag_syntax(value: str) -> None:
    out = str(ps_tag_arg(value))
    assert len(out) == len(value)  # one look-alike per syntax character, nothing dropped
    for ch in ";,:[]~<>&\"'":
        assert ch not in out


def test_ps_tag_arg_keeps_ordinary_labels_unchanged() -> None:
    assert ps_tag_arg("Notes (never shared) / 2026") == "Notes (never shared) / 2026"


@given(text)
def test_json_text_round_trips_without_tags(value: str) -> None:
    out = json_text({"title": value, "url": RawJson("/x.html?frn=~(studentfrn)")})
    assert json.loads(out) == {"title": value, "url": "/x.html?frn=~(studentfrn)"}
    assert out.count("~") == 1  # only the trusted RawJson keeps its deliberate tag


@settings(max_examples=50)
@given(text.filter(lambda s: all(ch.isprintable() or ch in "\t" for ch in s)))
def test_xml_attribute_round_trips_with_tags_neutralised(value: str) -> None:
    root = etree.Element("plugin", name=value)
    etree.SubElement(root, "description").text = value or None
    data = xml_bytes(root)
    assert b"~" not in data
    parsed = etree.fromstring(data)
    assert parsed.get("name") == value
    assert (parsed.find("description").text or "") == value


def test_neutralise_xml_leaves_cdata_alone() -> None:
    data = b'<a b="~x">~y<![CDATA[select 1 from t where a ~ b]]></a>'
    assert (
        neutralise_xml(data) == b'<a b="&#126;x">&#126;y<![CDATA[select 1 from t where a ~ b]]></a>'
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_examples_are_inert_in_every_context(value: str) -> None:
    assert "<" not in html(value) and "~" not in html(value)
    assert "</script" not in js(value).lower() and "<!--" not in js(value)
    assert "~" not in ps_tag_arg(value)
    assert "~" not in json_text(value) and "<" not in json_text(value)


def test_js_refuses_markup_so_nothing_is_escaped_twice() -> None:
    with pytest.raises(TypeError):
        js(Markup("<b>x</b>"))


def test_outputs_are_markup_so_jinja_does_not_reescape() -> None:
    assert isinstance(html("x"), Markup)
    assert isinstance(js("x"), Markup)
    assert isinstance(html_in_js("x"), Markup)

"""Escaping of district text for every output context the plugin generator writes.

District text (dropdown labels, partner names, the plugin name, the publisher) must never run as
markup, script or a PowerSchool server tag. PowerSchool expands `~[...]` and `~(...)` anywhere in a
page, fragment or JSON file it serves, *before* the browser sees it, so every context below also
neutralises `~` (and the `[`/`]` of `[else]`/`[/if]`, which could close a server-side `~[if]`
block around the text). One function per context:

    html(text)        HTML text and double- or single-quoted attribute values
    js(value)         a JavaScript literal inside <script>: survives </script>, <!--, U+2028/2029
    html_in_js(text)  a JS string whose value is inserted as HTML by PowerSchool's tlist helpers
    ps_tag_arg(text)  a value inside a PowerSchool tag argument list (tlist fieldNames), lossy
    json_text(value)  JSON for files PowerSchool serves (pagecataloging)
    xml_bytes(root)   XML documents (lxml escapes markup; `~` becomes a character reference)
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree
from markupsafe import Markup, escape

__all__ = [
    "html",
    "js",
    "html_in_js",
    "ps_tag_arg",
    "json_text",
    "xml_bytes",
    "neutralise_xml",
    "RawJson",
]

# Characters that could start or end a PowerSchool tag, as HTML character references.
_HTML_PS = str.maketrans({"~": "&#126;", "[": "&#91;", "]": "&#93;"})
# A tag's argument list has no escape mechanism and `;` ends an argument, so even character
# references (which end in `;`) cannot be used: syntax characters become full-width look-alikes.
_PS_ARG = str.maketrans(
    {
        ";": "\uff1b",
        ",": "\uff0c",
        ":": "\uff1a",
        "~": "\uff5e",
        "[": "\uff3b",
        "]": "\uff3d",
        "<": "\u2039",
        ">": "\u203a",
        "&": "\uff06",
        '"': "\u201d",
        "'": "\u2019",
    }
)
# In JS string literals: no closing tag, comment opener, entity, tag syntax or line separator.
_JS_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
    "~": "\\u007e",
    "[": "\\u005b",
    "]": "\\u005d",
}
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.S)


def html(text: object) -> Markup:
    """HTML text or a quoted attribute value: markupsafe escaping plus PowerSchool tag syntax."""
    return Markup(str(escape(str(text))).translate(_HTML_PS))


def ps_tag_arg(text: object) -> Markup:
    """A value inside `~[tlist_child:...;fieldNames:a,b;...]`: no markup, no argument syntax.

    Lossy on purpose: `; , : ~ [ ] < > & " '` become look-alike characters, because the tag
    has no escape mechanism and PowerSchool may copy the value into HTML as-is (UNVERIFIED).
    """
    return Markup(str(text).translate(_PS_ARG))


def _js_string(text: str) -> str:
    # ensure_ascii escapes every non-ASCII character, U+2028 and U+2029 included.
    encoded = json.dumps(text, ensure_ascii=True)
    return "".join(_JS_UNSAFE.get(ch, ch) for ch in encoded)


def _js_literal(value: Any) -> str:
    if isinstance(value, Markup):
        raise TypeError("js() takes plain values; Markup would be escaped twice or not at all")
    if isinstance(value, str):
        return _js_string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        items = (f"{_js_string(str(k))}: {_js_literal(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_js_literal(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as a JavaScript literal")


def js(value: Any) -> Markup:
    """A JavaScript literal (string, number, list, dict) safe inside a <script> element.

    Structure characters stay as they are; only string contents are escaped, so the result is
    valid JavaScript and the strings hold exactly the original text.
    """
    return Markup(_js_literal(value))


def html_in_js(text: object) -> Markup:
    """A JS string for PowerSchool's tlistText2* helpers, which insert their strings as raw HTML."""
    return js(str(html(text)))


class RawJson(str):
    """A trusted JSON string value written verbatim (e.g. a URL holding a deliberate `~(frn)`)."""


def json_text(value: Any) -> str:
    """JSON with `~`, `<`, `>` and `&` escaped inside district strings; RawJson kept verbatim."""
    if isinstance(value, RawJson):
        return json.dumps(str(value), ensure_ascii=True)
    if isinstance(value, str):
        return _js_string(value)
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json_text(str(k))}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def neutralise_xml(data: bytes) -> bytes:
    """Replace `~` by its character reference everywhere outside CDATA sections.

    The parsed document is unchanged (`&#126;` is `~`), but no PowerSchool tag appears in the
    file's text. CDATA holds only generated SQL, which never contains `~`.
    """
    parts = _CDATA.split(data)
    return b"".join(p if p.startswith(b"<![CDATA[") else p.replace(b"~", b"&#126;") for p in parts)


def xml_bytes(root: etree._Element, *, standalone: bool | None = None) -> bytes:
    """Serialise an XML document: UTF-8 declaration, two-space indent, tags neutralised."""
    etree.indent(root, space="  ")
    flag = "" if standalone is None else f' standalone="{"yes" if standalone else "no"}"'
    declaration = f'<?xml version="1.0" encoding="UTF-8"{flag}?>\n'.encode()
    return neutralise_xml(declaration + etree.tostring(root, encoding="UTF-8") + b"\n")

"""Helpers that read the generated page back: grids, tlistCustomization calls, PowerSchool tags."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_GRID = re.compile(
    r'sspGrid\("(?P<table>\w+)", (?P<options>\{.*?\}), function \(keep\) \{\n(?P<body>.*?)\}\);',
    re.S,
)
_DROPDOWN = re.compile(r'tlistText2DropDownValNamePair\("(\w+)", keep\("(\w+)", (\[.*\])\)\);')
_CALL = re.compile(r'(tlistText2\w+)\("(\w+)"')
_TLIST = re.compile(
    r"~\[tlist_child:(?P<path>[^;]+);displaycols:(?P<cols>[^;]+);fieldNames:(?P<names>[^;]+);type:html\]"
)

# Every PowerSchool tag the page may contain; anything else with a tilde is a bug.
ALLOWED_TAGS = [
    r"~\(\[students\]dcid\)",
    r"~\[wc:[a-z_]+\]",
    r"~\[tlist_child:[^\]]+\]",
    r"~\[tlist_sql;SELECT [^\]]+\]",
    r"~\[if\.security\.pagenone=/admin/students/student_support\.html\]",
    r"~\[text:psx\.common\.changes_recorded\]",
    r"~\[self\.page\]",
    r"~\[submitbutton\]",
    r"~\(studentfrn\)",
    r"~\([a-z_]+(;htmlencode)?\)",
]


@dataclass
class GridCalls:
    table: str
    options: dict
    dropdowns: dict[str, list[list[str]]] = field(default_factory=dict)
    calls: dict[str, set[str]] = field(default_factory=dict)


def grids(page: str) -> dict[str, GridCalls]:
    out: dict[str, GridCalls] = {}
    for m in _GRID.finditer(page):
        grid = GridCalls(m["table"], json.loads(m["options"]))
        for col, kept, pairs in _DROPDOWN.findall(m["body"]):
            assert col == kept
            grid.dropdowns[col] = json.loads(pairs)
        for helper, col in _CALL.findall(m["body"]):
            grid.calls.setdefault(col, set()).add(helper)
        out[grid.table] = grid
    return out


def tlists(page: str) -> dict[str, tuple[list[str], list[str]]]:
    """table -> (displaycols, fieldNames) of every tlist_child tag."""
    return {
        m["path"].split(".")[-1]: (m["cols"].split(","), m["names"].split(","))
        for m in _TLIST.finditer(page)
    }


def strip_allowed_tags(page: str) -> str:
    for pattern in ALLOWED_TAGS:
        page = re.sub(pattern, "", page)
    return page

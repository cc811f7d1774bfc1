"""pagecataloging/*.json rules: enhanced-navigation entries PowerSchool can read.

Each file is JSON `{"pages": [...]}`; an entry needs `htmlID` (unique, never changed) and
`title`; a top-level entry needs `parentHTMLID` (where it hangs in the menu); an entry opens
`pageURL` (a server path) unless it is a heading whose `children` are entries themselves (as in
a production health-log plugin); `version` follows the plugin's digits-and-dots form.
"""

from __future__ import annotations

import json
import re

from plugin.lint.model import PluginArchive, decode

__all__ = ["check_pagecataloging"]

_REQUIRED = ("htmlID", "title")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def _line(text: str, key: str, value: object) -> int:
    needle = re.search(rf'"{re.escape(key)}"\s*:\s*{re.escape(json.dumps(value))}', text)
    return text.count("\n", 0, needle.start()) + 1 if needle else 0


def check_pagecataloging(archive: PluginArchive) -> None:
    ids: dict[str, str] = {}
    for path in archive.under("pagecataloging"):
        if not path.lower().endswith(".json"):
            archive.warning(path, 0, "PowerSchool reads pagecataloging/*.json")
            continue
        text = decode(archive.files[path])
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            archive.error(path, exc.lineno, f"not valid JSON: {exc.msg}")
            continue
        pages = doc.get("pages") if isinstance(doc, dict) else None
        if not isinstance(pages, list):
            archive.error(path, 1, 'the document must be {"pages": [ ... ]}')
            continue
        _entries(archive, path, text, pages, "pages", ids, top=True)


def _entries(
    archive: PluginArchive, path: str, text: str, entries: list, where: str,
    ids: dict[str, str], *, top: bool,
) -> None:
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            archive.error(path, 0, f"{where}[{i}] is not an object")
            continue
        _entry(archive, path, text, f"{where}[{i}]", entry, ids, top=top)


def _entry(
    archive: PluginArchive, path: str, text: str, where: str, entry: dict, ids: dict[str, str],
    *, top: bool,
) -> None:
    html_id = entry.get("htmlID")
    line = _line(text, "htmlID", html_id) if html_id else 0
    label = where + (f" ({html_id})" if html_id else "")
    children = entry.get("children")
    required = [*_REQUIRED, *(["parentHTMLID"] if top else [])]
    if children is None:
        required.append("pageURL")
    elif not isinstance(children, list):
        archive.error(path, line, f"{label}: children must be a list of entries")
    else:
        _entries(archive, path, text, children, f"{label}.children", ids, top=False)
    for key in required:
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            archive.error(path, line, f"{label}: {key} is missing or empty")
    if isinstance(html_id, str):
        if html_id in ids:
            archive.error(path, line, f"{label}: htmlID is also used in {ids[html_id]} "
                          "(it must be unique)")
        ids.setdefault(html_id, path)
    version = entry.get("version")
    if version is not None and not (isinstance(version, str) and _VERSION.match(version)):
        archive.warning(path, line, f"{label}: version {version!r} is not digits and dots")
    url = entry.get("pageURL")
    if isinstance(url, str) and url.strip():
        page = url.split("?")[0].split("#")[0].lower()
        if not page.startswith("/"):
            archive.error(path, line, f"{label}: pageURL must be a server path starting with /")
        elif archive.pages and page not in archive.pages:
            archive.warning(path, line, f"{label}: pageURL {page} is not a page of this plugin")

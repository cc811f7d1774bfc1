"""Zip entry rules: plugin.xml at the root, safe names, no junk, folders PowerSchool reads.

PowerSchool needs `plugin.xml` at the zip root with no top-level folder. A backslash, an absolute
path or `..` puts a file somewhere other than where its name says (or outside the plugin), so
those are errors. Finder and Explorer junk (`__MACOSX/`, `.DS_Store`, `Thumbs.db`) installs as
ordinary custom files: harmless but clutter, so a warning (published plugins ship it).
"""

from __future__ import annotations

import re
from collections import Counter

from plugin.lint.model import PluginArchive

__all__ = ["check_entries", "KNOWN_ROOTS"]

KNOWN_ROOTS = {
    "plugin.xml",
    "web_root",
    "queries_root",
    "permissions_root",
    "user_schema_root",
    "pagecataloging",
    "messagekeys",
}
_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
_DRIVE = re.compile(r"^[A-Za-z]:")


def _junk(name: str) -> bool:
    parts = name.rstrip("/").split("/")
    return (
        parts[0] == "__MACOSX"
        or parts[-1].lower() in _JUNK_NAMES
        or parts[-1].startswith("._")
    )


def check_entries(archive: PluginArchive) -> None:
    for name, count in sorted(Counter(archive.names).items()):
        if count > 1:
            archive.error(name, 0, f"the zip holds {count} entries with this name")
    for name in archive.names:
        if "\\" in name:
            archive.error(
                name, 0, "backslash in the entry name: PowerSchool reads it as part of a file "
                "name, not as a folder (zip with forward slashes)"
            )
        elif name.startswith("/") or _DRIVE.match(name):
            archive.error(name, 0, "absolute path: entries must be relative to the zip root")
        elif ".." in name.split("/"):
            archive.error(name, 0, "'..' in the entry name points outside the plugin")
        elif _junk(name):
            archive.warning(
                name, 0, "junk entry (Finder/Explorer metadata): it installs as a custom file; "
                "zip without it"
            )
    if "plugin.xml" not in archive.files:
        nested = sorted(n for n in archive.files if n.endswith("/plugin.xml") and not _junk(n))
        if nested:
            folder = nested[0].rsplit("/", 1)[0]
            archive.error(
                nested[0], 0, f"plugin.xml is inside the folder {folder}/: PowerSchool needs it "
                "at the zip root (zip the folder's contents, not the folder)"
            )
        else:
            archive.error("plugin.xml", 0, "no plugin.xml at the zip root")
        return
    unknown = sorted(
        {
            n.split("/")[0]
            for n in archive.names
            if n.split("/")[0].lower() not in KNOWN_ROOTS
            and not _junk(n)
            and "\\" not in n
            and not n.startswith("/")
        }
    )
    for root in unknown:
        archive.warning(
            root, 0, "PowerSchool does not read this from a plugin zip (it reads plugin.xml, "
            "web_root/, queries_root/, permissions_root/, user_schema_root/, pagecataloging/, "
            "MessageKeys/)"
        )

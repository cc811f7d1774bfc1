"""Two kinds of safety at the edge of a partner feed: spreadsheet cells and file names.

Formula injection (OWASP "CSV Injection"): a cell that starts with `=`, `+`, `-`, `@`, a tab or a
carriage return may be run as a formula when someone opens the file in a spreadsheet, which can
exfiltrate data (HYPERLINK, WEBSERVICE) or launch programs (DDE). Every cell we write to a CSV
that a person may open (outbound files, quarantine files) goes through `neutralise_cell`, which
prefixes such a cell with a single quote, as OWASP recommends. Leading spaces are looked through,
and the full-width forms (＝＋－＠) are treated like their ASCII twins because some spreadsheets
normalise them.

One deliberate exception: a value made only of an optional leading sign followed by digits,
spaces, dots, parentheses and dashes (a signed number or a phone number such as
"+1 (203) 555-0100") is kept as it is. Such a value holds no function name, cell reference or
operator other than the sign and dashes, so it can at worst be shown as arithmetic; mangling every
international phone number would cost the partner more than it protects.

File names: inbound names come from a directory listing the partner controls, so they are never
trusted as paths. Archive and quarantine names are rebuilt from a safe alphabet, and every name
the feed is asked about must be one plain component.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "FORMULA_TRIGGERS",
    "neutralise_cell",
    "is_neutralised",
    "safe_component",
    "require_plain_name",
    "require_run_id",
    "is_partial_upload",
    "child_path",
]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"^[+\-\uff0b\uff0d]?[0-9][0-9 ().\-]*$")
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".filepart", ".crdownload")


def neutralise_cell(value: str) -> str:
    """The value, made inert for spreadsheets: `=1+1` -> `'=1+1`; `+1 203 555 0100` unchanged."""
    stripped = value.lstrip(" ")
    if not stripped or not stripped.startswith(FORMULA_TRIGGERS):
        return value
    if stripped[0] not in "\t\r\n" and _PLAIN_NUMBER.match(stripped):
        return value
    return "'" + value


def is_neutralised(value: str) -> bool:
    """True if a spreadsheet would read `value` as text (the property the tests check)."""
    stripped = value.lstrip(" ")
    if not stripped or not stripped.startswith(FORMULA_TRIGGERS):
        return True
    return stripped[0] not in "\t\r\n" and bool(_PLAIN_NUMBER.match(stripped))


def safe_component(name: str, *, max_length: int = 120) -> str:
    """A file-name component built from `name` that is safe on Linux and Windows.

    Only letters, digits, `.`, `_` and `-` survive; runs of anything else become `_`; leading
    and trailing dots are removed, runs of dots collapsed and leading dashes dropped (no hidden
    files, no `..`, nothing a shell tool would take for an option); Windows device names are
    prefixed. The result is never empty.
    """
    cleaned = _DOTS.sub(".", _SAFE_CHARS.sub("_", name)).lstrip("._-").rstrip("._") or "file"
    stem = cleaned.split(".", 1)[0].upper()
    if stem in _WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    if len(cleaned) > max_length:
        head, dot, ext = cleaned.rpartition(".")
        keep = ext if dot and len(ext) <= 10 else ""
        cleaned = cleaned[: max_length - len(keep) - 1].rstrip("._") + ("." + keep if keep else "")
    return cleaned


def require_plain_name(name: str) -> str:
    """`name` if it is one plain file name (no separators, no `..`, no drive); else ValueError."""
    if not _PLAIN_NAME.match(name) or ".." in name:
        raise ValueError(f"refused file name {name[:80]!r}: only letters, digits, '.', '_' and '-'")
    if name.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        raise ValueError(f"refused file name {name!r}: a Windows device name")
    return name


def require_run_id(run_id: str) -> str:
    """Run ids become part of file names: a UUID-like token only (no ':' for Windows)."""
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id[:80]!r} must be letters, digits, '_' or '-' (a UUID)")
    return run_id


def is_partial_upload(name: str) -> bool:
    """A file still being written by an uploader: left for the next run (SPEC 5)."""
    lowered = name.lower()
    return name.startswith((".", "~")) or lowered.endswith(PARTIAL_SUFFIXES)


def child_path(directory: Path, name: str) -> Path:
    """directory/name, refusing anything that is not a plain child of `directory`."""
    require_plain_name(name)
    path = directory / name
    if path.parent != directory:
        raise ValueError(f"refused file name {name!r}: not directly inside {directory}")
    return path

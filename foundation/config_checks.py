"""Cross-key checks of `ssp.toml` that a single field cannot make: folders that would share files,
and a partner token variable that would send the PowerSchool credentials to a partner.

Folders are compared as the operating system would open them: relative paths against the file's
folder, `..` and trailing separators removed, symbolic links followed (for the part of the path
that exists), existing folders compared by identity (so a bind mount or a second spelling of the
same folder is caught), and letter case ignored where the file system ignores it (Windows, and a
case-insensitive volume found by probing the nearest existing folder).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from foundation.errors import ConfigError

__all__ = ["POWERSCHOOL_CREDENTIAL_VARIABLES", "check_folders", "check_token_env", "Folder"]

POWERSCHOOL_CREDENTIAL_VARIABLES = (
    "SSP_CLIENT_ID",
    "SSP_CLIENT_SECRET",
    "SSP_CLIENT_ID_FILE",
    "SSP_CLIENT_SECRET_FILE",
)
"""Variables `ssp` reads the PowerSchool plugin credentials from; never a partner's token."""


@dataclass(frozen=True)
class Folder:
    key: str  # e.g. partners[1].feed.inbox
    path: Path  # as resolved against the configuration file's folder
    kind: str  # "feed" or "state"


def check_token_env(name: str, *, source: str, key: str) -> None:
    """Refuse a partner token variable that is (or whose `_FILE` form is) a PowerSchool credential.

    Compared without regard to case: Windows environment names ignore it."""
    if not name:
        return
    folded = name.strip().casefold()
    for credential in POWERSCHOOL_CREDENTIAL_VARIABLES:
        if folded in (credential.casefold(), f"{credential}_FILE".casefold()):
            raise ConfigError(
                f"'{name}' is the PowerSchool credential variable {credential} (the plugin's "
                "[powerschool] client id or secret): the partner would receive it as its API "
                "token. Name a variable that holds only this partner's token, e.g. "
                "CGC_SSP_TOKEN",
                file=source,
                key=key,
            )


def _case_insensitive_fs(path: str) -> bool:
    """Whether the file system holding `path` ignores letter case: probe the nearest existing
    ancestor whose name has letters by asking for it with the case swapped."""
    current = path
    while True:
        parent, name = os.path.split(current)
        if name and os.path.exists(current) and name.swapcase() != name:
            swapped = os.path.join(parent, name.swapcase())
            try:
                return os.path.exists(swapped) and os.path.samefile(current, swapped)
            except OSError:
                return False
        if not name or parent == current:
            return False
        current = parent


def _canonical(path: Path, case_insensitive: Callable[[str], bool]) -> tuple[str, ...]:
    real = os.path.normcase(os.path.realpath(path))
    if case_insensitive(real):
        real = real.casefold()
    return Path(real).parts


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _relation(
    a: Folder, b: Folder, case_insensitive: Callable[[str], bool]
) -> str | None:
    """How `a` stands to `b`: 'the same folder as', 'inside', 'a folder holding', or None."""
    if _same_folder(a.path, b.path):
        return "the same folder as"
    pa, pb = _canonical(a.path, case_insensitive), _canonical(b.path, case_insensitive)
    if pa == pb:
        return "the same folder as"
    if pa[: len(pb)] == pb:
        return "inside"
    if pb[: len(pa)] == pa:
        return "a folder holding"
    if any(_same_folder(parent, b.path) for parent in a.path.parents):
        return "inside"
    if any(_same_folder(parent, a.path) for parent in b.path.parents):
        return "a folder holding"
    return None


_WHY_FEEDS = (
    "each partner's inbox and outbox must be a folder of its own, not shared with or inside "
    "another (files would overwrite each other or be read as the other partner's, and one "
    "partner's drop account would reach the other's files)"
)
_WHY_STATE = (
    "the state directory (sync state, archived partner files, receipts) must not share a folder "
    "with a partner feed: the partner's drop account could read or delete it, and the sync could "
    "take its own files for partner files"
)


def check_folders(
    folders: Sequence[Folder],
    *,
    source: str,
    case_insensitive: Callable[[str], bool] = _case_insensitive_fs,
) -> None:
    """Refuse two configured folders that are the same folder or one inside the other."""
    for i, later in enumerate(folders):
        for earlier in folders[:i]:
            if later.kind == "state" and earlier.kind == "state":
                continue
            how = _relation(later, earlier, case_insensitive)
            if how is None:
                continue
            why = _WHY_STATE if "state" in (later.kind, earlier.kind) else _WHY_FEEDS
            raise ConfigError(
                f"'{later.path}' is {how} {earlier.key} ('{earlier.path}'): {why}",
                file=source,
                key=later.key,
            )

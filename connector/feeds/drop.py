"""Where a file feed's files come from and go to: a local folder pair or a partner's SFTP server.

The file rules (which names are inbound files, oldest first, partial uploads and dot files left
alone, one batch per file keyed by its sha256, archive before anything else, notice before data,
temp name then rename, receipts) live once, in `csv_feed.FileFeed`. A `Drop` only moves bytes:

    entries()           the inbox's entries, as listed (name, plain file or not, time, size)
    pull(entry)         a local file holding the entry's bytes and their sha256, or None when
                        the file changed while it was read (left for the next run)
    settle(path, hash)  the batch of that local file is applied: local folder -> move the file
                        into the archive; sftp -> delete the remote file if the mapping allows
    put(name, write)    write an outbound file so it appears whole or not at all; its sha256
    has(name)           an outbound file of that name is in the outbox
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from connector.feeds.files import HashingWriter

__all__ = ["Drop", "DropEntry", "Pulled"]


@dataclass(frozen=True)
class DropEntry:
    """One inbox entry as listed. `regular` is False for links, folders and anything else."""

    name: str
    regular: bool
    mtime_ns: int  # sorts files oldest first (sftp: whole seconds)
    size: int


@dataclass(frozen=True)
class Pulled:
    """An inbound file's bytes on this machine (the file itself, or its archived copy)."""

    path: Path
    content_hash: str


class Drop(Protocol):
    inbox_label: str  # for messages: "inbox folder feeds/cgc/in", "sftp inbox /out"

    def entries(self) -> list[DropEntry]: ...

    def pull(self, entry: DropEntry) -> Pulled | None: ...

    def settle(self, path: Path, content_hash: str) -> None: ...

    def put(self, name: str, write: Callable[[HashingWriter], object]) -> str: ...

    def has(self, name: str) -> bool: ...

    def close(self) -> None: ...

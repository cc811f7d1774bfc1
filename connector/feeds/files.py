"""Files a feed keeps under the state directory, and writing files so they appear only when whole.

    <state_dir>/partners/<partner_id>/                      0700
        archive/<YYYY-MM-DD>/<hash8>_<name>                  inbound files and API pages, 0600
        quarantine/<YYYY-MM-DD>/<hash8>_<kind>_<name>.csv    refused rows + reason, 0600
        sent/<outbound file name>.json                       receipt: name, sha256, rows, time
        incoming/<name>                                      sftp: a download in progress, 0600

Inbound files are moved into the archive (a copy first when the inbox is on another file system),
never deleted; an identical file already archived lets the duplicate go. Quarantine files hold the
original columns, then `reason`, `source_row` and `extra_fields`; their cells are neutralised
against formula injection because district staff open them in spreadsheets. On Windows the modes
are not enforced; the state directory should sit in a folder only the service account can read.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import glob
import hashlib
import io
import json
import os
import shutil
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol, TextIO

from connector.feeds.safety import child_path, neutralise_cell, safe_component

__all__ = [
    "PartnerFiles",
    "HashingWriter",
    "QuarantineWriter",
    "QuarantineBook",
    "atomic_write",
    "file_sha256",
    "make_private_dir",
    "fsync_dir",
    "QUARANTINE_CELL_LIMIT",
]

QUARANTINE_CELL_LIMIT = 32 << 10
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def make_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; existing folders keep their mode."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    return path


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """sha256 of a regular file, streamed; refuses symlinks and anything that is not a file."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return hashlib.file_digest(fh, "sha256").hexdigest()


class HashingWriter(io.BufferedIOBase):
    """A write-only binary stream that hashes what passes through (TextIOWrapper can wrap it)."""

    def __init__(self, fh: BinaryIO) -> None:
        super().__init__()
        self.fh = fh
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.sha256.update(data)
        self.size += len(data)
        self.fh.write(data)
        return len(data)


def atomic_write(path: Path, write: Callable[[HashingWriter], object], *, mode: int = 0o640) -> str:
    """Write `path` through a temp name, fsync, rename: readers see nothing or the whole file.

    The temp file is `.<name>.tmp` in the same folder (partners skip dot files and *.tmp, SPEC 5).
    Returns the sha256 of what was written. On any failure the temp file is removed.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW | _BINARY, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = HashingWriter(fh)
            write(writer)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return writer.sha256.hexdigest()


class QuarantineWriter:
    """Appends refused rows of one batch to its quarantine CSV (created 0600 on first row).

    A rerun after a crash may refuse rows again that a killed run had already written (the row
    ledger is updated after the quarantine): rows whose `source_row` the file holds are skipped,
    so each refused row appears once.
    """

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        self.meta = tuple(
            _free_name(n, self.columns) for n in ("reason", "source_row", "extra_fields")
        )
        self._fh: TextIO | None = None
        self._csv: csv.DictWriter[str] | None = None
        self._written: set[str] = set()
        self.rows = 0

    def write(
        self, row_number: int, raw: Mapping[str, str], reason: str, extra: Sequence[str] = ()
    ) -> None:
        writer = self._writer()
        if str(row_number) in self._written:
            return
        row = {c: _cell(raw.get(c, "")) for c in self.columns}
        stray = [f"{k}={v}" for k, v in raw.items() if k not in row]
        row[self.meta[0]] = _cell(reason)
        row[self.meta[1]] = str(row_number)
        row[self.meta[2]] = _cell(" | ".join([*extra, *stray]))
        writer.writerow(row)
        assert self._fh is not None
        self._fh.flush()
        self._written.add(str(row_number))
        self.rows += 1

    def _writer(self) -> csv.DictWriter[str]:
        if self._csv is None:
            make_private_dir(self.path.parent)
            fd = os.open(
                self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _NOFOLLOW | _BINARY, 0o600
            )
            os.chmod(self.path, 0o600)
            size = os.fstat(fd).st_size
            if size:
                self._written = self._rows_already_in(fd)
            self._fh = os.fdopen(fd, "a", encoding="utf-8", newline="")
            self._csv = csv.DictWriter(self._fh, fieldnames=[*self.columns, *self.meta])
            if size == 0:
                self._fh.write("\ufeff")  # lets spreadsheets read the file as UTF-8
                self._csv.writeheader()
        return self._csv

    def _rows_already_in(self, fd: int) -> set[str]:
        """`source_row`s of a file a crashed run left; ends a row it cut off mid-write."""
        with os.fdopen(os.dup(fd), "rb") as fh:
            fh.seek(0)
            data = fh.read()
        if not data.endswith(b"\n"):
            os.write(fd, b"\r\n")
        text = data.decode("utf-8-sig", errors="replace")
        return {r.get(self.meta[1]) or "" for r in csv.DictReader(io.StringIO(text, newline=""))}

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None
            self._csv = None


class QuarantineBook:
    """The open quarantine writers of one feed, one per (batch hash, kind)."""

    def __init__(self, files: PartnerFiles) -> None:
        self.files = files
        self._writers: dict[tuple[str, str], QuarantineWriter] = {}

    def write(
        self,
        batch: _BatchLike,
        row_number: int,
        raw: Mapping[str, str],
        reason: str,
        extra: Sequence[str] = (),
    ) -> None:
        key = (batch.content_hash, batch.kind)
        writer = self._writers.get(key)
        if writer is None:
            path = self.files.quarantine_path(
                batch.content_hash, batch.kind, Path(batch.source).stem
            )
            writer = self._writers[key] = QuarantineWriter(path, batch.columns)
        writer.write(row_number, raw, reason, extra)

    def path(self, batch: _BatchLike) -> Path | None:
        writer = self._writers.get((batch.content_hash, batch.kind))
        return writer.path if writer else None

    def close(self, batch: _BatchLike) -> None:
        writer = self._writers.pop((batch.content_hash, batch.kind), None)
        if writer:
            writer.close()

    def close_all(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


class _BatchLike(Protocol):
    @property
    def content_hash(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def columns(self) -> tuple[str, ...]: ...


def _free_name(name: str, taken: Sequence[str]) -> str:
    folded = {t.casefold() for t in taken}
    return name if name.casefold() not in folded else f"quarantine_{name}"


def _cell(value: str) -> str:
    if len(value) > QUARANTINE_CELL_LIMIT:
        value = value[:QUARANTINE_CELL_LIMIT] + " ...[cut; see the archived file]"
    return neutralise_cell(value)


class PartnerFiles:
    """The partner's folder under the state directory (see the module docstring for the layout)."""

    def __init__(
        self, state_dir: Path, partner_id: str, *, today: Callable[[], dt.date] = dt.date.today
    ) -> None:
        self.root = state_dir / "partners" / safe_component(partner_id)
        self.today = today

    def _dated(self, area: str) -> Path:
        return make_private_dir(self.root / area / self.today().isoformat())

    def quarantine_path(self, content_hash: str, kind: str, name: str) -> Path:
        return self._dated("quarantine") / f"{content_hash[:8]}_{kind}_{safe_component(name)}.csv"

    def archive_file(self, path: Path, content_hash: str) -> Path:
        """Move `path` into today's archive; never deletes unless an identical copy is kept."""
        folder = self._dated("archive")
        target = _free_target(
            folder, f"{content_hash[:8]}_{safe_component(path.name)}", content_hash
        )
        if target.exists():  # the same bytes are already archived under this name
            path.unlink()
            return target
        _move(path, target)
        os.chmod(target, 0o600)
        fsync_dir(folder)
        return target

    def archived_copy(self, name: str, content_hash: str) -> Path | None:
        """The archived file holding these bytes under this name, from any day (or None)."""
        folder = self.root / "archive"
        full = f"{content_hash[:8]}_{safe_component(name)}"
        stem = full.rpartition(".")[0] or full  # also matches name_1.csv (see _free_target)
        for candidate in sorted(folder.glob(f"*/{glob.escape(stem)}*")):
            with contextlib.suppress(OSError):
                if file_sha256(candidate) == content_hash:
                    return candidate
        return None

    def archive_bytes(self, data: bytes, content_hash: str, name: str) -> Path:
        folder = self._dated("archive")
        target = _free_target(folder, f"{content_hash[:8]}_{safe_component(name)}", content_hash)
        if not target.exists():
            atomic_write(target, lambda fh: fh.write(data), mode=0o600)
        return target

    def write_receipt(
        self, name: str, sha256: str, rows: int, *, now: dt.datetime | None = None
    ) -> None:
        folder = make_private_dir(self.root / "sent")
        stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M:%S")
        body = json.dumps(
            {"name": name, "sha256": sha256, "rows": rows, "written_at": stamp}, indent=1
        )
        atomic_write(
            child_path(folder, f"{name}.json"), lambda fh: fh.write(body.encode()), mode=0o600
        )

    def has_receipt(self, name: str) -> bool:
        return child_path(self.root / "sent", f"{name}.json").is_file()


def _free_target(folder: Path, name: str, content_hash: str) -> Path:
    """`name` in `folder`, or `name` with a counter if a different file already holds it."""
    stem, dot, ext = name.rpartition(".")
    stem, ext = (stem, f".{ext}") if dot else (name, "")
    candidate = folder / name
    counter = 1
    while candidate.exists() and file_sha256(candidate) != content_hash:
        candidate = folder / f"{stem}_{counter}{ext}"
        counter += 1
    return candidate


def _move(source: Path, target: Path) -> None:
    try:
        os.replace(source, target)
        return
    except OSError:
        if source.stat().st_dev == target.parent.stat().st_dev:
            raise
    tmp = target.with_name(f".{target.name}.tmp")  # another file system: copy, sync, then let go
    with open(source, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, target)
    source.unlink()

"""The file rules of the `csv` and `sftp` feeds, and the `csv` feed (SPEC 5): an inbox and an
outbox folder on this machine, as an SFTP drop the district runs would fill. The `sftp` feed
(sftp_feed.py) applies the same rules to folders on the partner's own server (see drop.py).

Inbound: regular files directly in the inbox whose names match the mapping's patterns (compared
without regard to case), oldest first. Files still being uploaded (`*.part`, `*.tmp`, names
starting with `.` or `~`), symlinks, folders and anything else are left alone. Each file becomes a
`CsvBatch` whose sha256 is computed (streaming) before any row is read, so the engine can skip a
file it has processed; the rows are then streamed by `CsvRowReader`.

Outbound: `referrals_<run_id>.csv` / `revocations_<run_id>.csv` are written to `.<name>.tmp`,
fsynced and renamed, after `NOTICE_<run_id>.txt` (the redisclosure notice) has been written the
same way, so a partner never sees a partial file or a file without its notice. Every cell is
neutralised against formula injection. A receipt under the state directory remembers what was
written, so `outbound_exists` still answers after the partner has collected the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
import logging
import os
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from connector.feeds.base import InboundKind, InboundRow, OutboundKind
from connector.feeds.csv_reader import CsvRowReader
from connector.feeds.drop import Drop, DropEntry, Pulled
from connector.feeds.files import (
    HashingWriter,
    PartnerFiles,
    QuarantineBook,
    atomic_write,
    file_sha256,
)
from connector.feeds.safety import (
    child_path,
    is_partial_upload,
    neutralise_cell,
    require_plain_name,
    require_run_id,
    safe_component,
)
from connector.mapping import PartnerMapping
from connector.records import REDISCLOSURE_NOTICE, Provenance
from foundation.errors import ConfigError
from foundation.logs import SHOWN_BY_PROGRESS

__all__ = ["FileFeed", "CsvFeed", "LocalDrop", "CsvBatch", "notice_text", "OUTBOX_FILE_MODE"]

log = logging.getLogger("ssp.feeds.csv")
OUTBOX_FILE_MODE = 0o640  # owner read/write, group read: the drop account collects through a group
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def notice_text(run_id: str) -> str:
    return (
        f"{REDISCLOSURE_NOTICE}\n\nThis notice applies to every file of sync run {run_id} "
        "in this folder.\n"
    )


class CsvBatch:
    """One inbound file. `rows()` may be iterated once; it opens the file afresh."""

    next_cursor: str | None = None

    def __init__(
        self,
        feed: FileFeed,
        kind: InboundKind,
        path: Path,
        content_hash: str,
        *,
        source: str | None = None,
    ) -> None:
        self.partner_id = feed.partner_id
        self.kind = kind
        self.path = path
        self.source = source or path.name
        self.content_hash = content_hash
        self.changed = False
        self._mapping = feed.mapping
        self._rows: Iterator[InboundRow] | None = None
        with _open_regular(path) as fh:
            header = CsvRowReader(fh, feed.mapping, kind)
        self.columns = header.columns
        self.errors = list(header.errors)
        self.notes = list(header.notes)

    def rows(self) -> Iterator[InboundRow]:
        self._rows = self._stream()
        return self._rows

    def _stream(self) -> Iterator[InboundRow]:
        with _open_regular(self.path) as fh:
            reader = CsvRowReader(fh, self._mapping, self.kind)
            self.columns, self.errors = reader.columns, list(reader.errors)
            yield from reader
            self.notes = list(reader.notes)
            if reader.sha256 != self.content_hash:
                self.changed = True
                self.errors.append("the file changed while it was read; it stays in the inbox")

    def provenance(self, row: InboundRow) -> Provenance:
        return Provenance(self.partner_id, self.source, row.number, row.values)

    def release(self) -> None:
        """Close the file if the engine stopped reading part-way (Windows cannot move it open)."""
        if self._rows is not None:
            self._rows.close()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"CsvBatch({self.kind!r}, {self.source!r}, {self.content_hash[:8]})"


class FileFeed:
    """The file rules of a partner feed, over a `Drop` (a local folder pair or an SFTP server);
    archive and quarantine under the state directory."""

    def __init__(
        self,
        partner_id: str,
        mapping: PartnerMapping,
        drop: Drop,
        files: PartnerFiles,
    ) -> None:
        self.partner_id = partner_id
        self.mapping = mapping
        self.drop = drop
        self.files = files
        self._quarantine = QuarantineBook(files)

    # ------------------------------------------------------------------ inbound
    def inbound(self, kind: InboundKind, *, since: str | None = None) -> Iterator[CsvBatch]:
        """One batch per waiting file of `kind`, oldest first. `since` is ignored (http only)."""
        for entry in self.inbound_entries(kind):
            try:
                pulled = self.drop.pull(entry)
                if pulled is None:
                    continue  # changed while it was read: the next run reads it again
                batch = CsvBatch(self, kind, pulled.path, pulled.content_hash, source=entry.name)
            except OSError as exc:  # vanished, or replaced by a symlink since listed
                log.warning(
                    "inbound file skipped",
                    extra={
                        "partner": self.partner_id,
                        "file": safe_component(entry.name),
                        "why": exc.__class__.__name__,
                    },
                )
                continue
            yield batch

    def inbound_entries(self, kind: InboundKind) -> list[DropEntry]:
        """The inbox entries that are whole files of `kind`, oldest first."""
        patterns = [p.lower() for p in self.mapping.inbound_patterns(kind)]
        found: list[DropEntry] = []
        for entry in self.drop.entries():
            name = entry.name
            if not any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns):
                continue
            if is_partial_upload(name):
                log.info(
                    "file still uploading; left for the next run",
                    extra={"partner": self.partner_id, "file": safe_component(name)},
                )
            elif not entry.regular:
                log.warning(
                    "not a regular file; refused",
                    extra={"partner": self.partner_id, "file": safe_component(name)},
                )
            else:
                found.append(entry)
        return sorted(found, key=lambda e: (e.mtime_ns, e.name))

    def unexpected_files(self) -> list[tuple[str, str]]:
        """(name, fingerprint) of inbox entries no pattern of the mapping matches, e.g. a
        `random_notes.txt` or a file named to the wrong pattern: never read, so worth a word.
        Partial uploads and hidden files are not counted. The fingerprint (size and modification
        time, from the listing the run reads anyway) changes when the file does, so a file is
        named once, and again only after it changed; a folder or link is named by its kind."""
        patterns = [p.lower() for kind in ("status_update", "visit")
                    for p in self.mapping.inbound_patterns(kind)]  # type: ignore[arg-type]
        found: list[tuple[str, str]] = []
        for entry in self.drop.entries():
            name = entry.name
            if is_partial_upload(name) or any(fnmatch.fnmatchcase(name.lower(), p) for p in patterns):
                continue
            fingerprint = f"{entry.size}:{entry.mtime_ns}" if entry.regular else "not a file"
            found.append((name, fingerprint))
        return sorted(found)

    def archive(self, batch: CsvBatch) -> None:
        """Settle the file (archive it, or let the remote copy go); a file that changed while it
        was read stays for the next run."""
        batch.release()
        self._quarantine.close(batch)
        if batch.changed:
            return
        self.drop.settle(batch.path, batch.content_hash)

    def quarantine(
        self,
        batch: CsvBatch,
        row_number: int,
        raw_row: Mapping[str, str],
        reason: str,
        *,
        extra: Sequence[str] = (),
    ) -> None:
        """Append the row, its reason and any fields beyond the header to the quarantine file."""
        self._quarantine.write(batch, row_number, raw_row, reason, extra)

    def quarantine_path(self, batch: CsvBatch) -> Path | None:
        """Where the batch's refused rows went (None if none was refused)."""
        return self._quarantine.path(batch)

    # ------------------------------------------------------------------ outbound
    def outbound_name(self, kind: OutboundKind, run_id: str) -> str:
        return self.mapping.outbound_file_name(kind, require_run_id(run_id))

    def write_outbound(self, kind: OutboundKind, run_id: str, rows: list[dict[str, str]], *,
                       details: Sequence[Mapping[str, Any]] | None = None) -> str:
        """Write the file atomically (notice first) and return its name."""
        name = self.outbound_name(kind, run_id)
        self.write_notice(run_id)
        columns = self.mapping.outbound_columns(kind)
        sha256 = self.drop.put(name, lambda fh: _write_csv(fh, columns, rows, self.mapping))
        self.files.write_receipt(name, sha256, len(rows))
        log.info(
            "outbound file written",
            extra={"partner": self.partner_id, "file": name, "rows": len(rows),
                   SHOWN_BY_PROGRESS: True},
        )
        return name

    def write_notice(self, run_id: str) -> str:
        name = self.mapping.notice_file_name(require_run_id(run_id))
        data = notice_text(run_id).encode("utf-8")
        self.drop.put(name, lambda fh: fh.write(data))
        return name

    def outbound_exists(self, name: str) -> bool:
        """True if `name` was written: still in the outbox, or collected but receipted."""
        require_plain_name(name)
        return self.files.has_receipt(name) or self.drop.has(name)

    def close(self) -> None:
        self._quarantine.close_all()
        self.drop.close()


class LocalDrop:
    """An inbox and an outbox folder on this machine (the district runs the SFTP server)."""

    def __init__(self, partner_id: str, inbox: Path, outbox: Path, files: PartnerFiles) -> None:
        self.partner_id = partner_id
        self.inbox = inbox
        self.outbox = outbox
        self.files = files
        self.inbox_label = f"inbox folder {inbox}"

    def entries(self) -> list[DropEntry]:
        try:
            with os.scandir(self.inbox) as scan:
                listed = list(scan)
        except FileNotFoundError:
            raise ConfigError(
                f"inbox folder {self.inbox} does not exist",
                key=f"partners[{self.partner_id}].feed.inbox",
            ) from None
        entries = []
        for entry in listed:
            try:
                regular = not entry.is_symlink() and entry.is_file(follow_symlinks=False)
                info = entry.stat(follow_symlinks=False)
            except OSError:  # gone since listed
                continue
            entries.append(DropEntry(entry.name, regular, info.st_mtime_ns, info.st_size))
        return entries

    def pull(self, entry: DropEntry) -> Pulled:
        path = self.inbox / entry.name
        return Pulled(path, file_sha256(path))

    def settle(self, path: Path, content_hash: str) -> None:
        """Move the file into the archive (never deleted)."""
        if not path.exists():
            return  # archived already (a rerun after a crash)
        self.files.archive_file(path, content_hash)

    def put(self, name: str, write: Callable[[HashingWriter], object]) -> str:
        if not self.outbox.is_dir():
            raise ConfigError(
                f"outbox folder {self.outbox} does not exist",
                key=f"partners[{self.partner_id}].feed.outbox",
            )
        return atomic_write(child_path(self.outbox, name), write, mode=OUTBOX_FILE_MODE)

    def has(self, name: str) -> bool:
        return child_path(self.outbox, name).is_file()

    def close(self) -> None:
        pass


class CsvFeed(FileFeed):
    """The `csv` feed: inbox/outbox folders of one partner on this machine."""

    def __init__(
        self,
        partner_id: str,
        mapping: PartnerMapping,
        *,
        inbox: Path,
        outbox: Path,
        state_dir: Path,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        files = PartnerFiles(state_dir, partner_id, today=today)
        super().__init__(partner_id, mapping, LocalDrop(partner_id, inbox, outbox, files), files)
        self.inbox = inbox
        self.outbox = outbox

    def inbound_files(self, kind: InboundKind) -> list[Path]:
        return [self.inbox / entry.name for entry in self.inbound_entries(kind)]


def _write_csv(
    fh: HashingWriter, columns: Sequence[str], rows: list[dict[str, str]], mapping: PartnerMapping
) -> None:
    text = io.TextIOWrapper(fh, encoding=mapping.encoding, newline="", write_through=True)  # type: ignore[type-var]
    try:
        if mapping.write_bom:
            text.write("\ufeff")
        writer = csv.writer(text, delimiter=mapping.delimiter, lineterminator="\r\n")
        writer.writerow([neutralise_cell(c) for c in columns])
        for index, row in enumerate(rows):
            unknown = set(row) - set(columns)
            if unknown:
                raise ValueError(
                    f"outbound row {index} has columns the mapping does not write: "
                    f"{sorted(unknown)}"
                )
            writer.writerow([neutralise_cell(row.get(c) or "") for c in columns])
        text.flush()
    finally:
        text.detach()


def _open_regular(path: Path) -> BinaryIO:
    """Open for reading without following a symlink; refuse anything but a regular file."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path.name} is not a regular file")
    return os.fdopen(fd, "rb", buffering=1 << 16)

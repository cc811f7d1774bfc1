"""Streaming, hostile-input-proof reading of one partner CSV file.

The file is read as bytes, one physical line at a time (at most `LINE_LIMIT` bytes are held),
decoded line by line, and handed to the csv module, which never reads ahead of the record it is
building. That lets us know, for every record, its exact bytes' fate: where a byte that is not
UTF-8 sits (offset from the start of the file), whether it held NUL bytes (stripped before the
csv module sees them), whether a line was longer than the limit (the rest is skipped, not held
in memory), and its raw text for the quarantine. Nothing here raises on bad content: every
record comes out as an `InboundRow`, good or with its `problem`.

Encoding: the mapping's encoding (default UTF-8; a UTF-8 BOM is tolerated). There is no silent
fallback to cp1252: a guessed encoding would write mojibake into PowerSchool, so a row with
bytes that are not UTF-8 is quarantined ("not UTF-8 at byte 1234") and a partner that exports
Windows-1252 says so in its mapping (`encoding = "cp1252"`).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from typing import BinaryIO

from connector.feeds.base import InboundKind, InboundRow
from connector.mapping import PartnerMapping

__all__ = ["CsvRowReader", "LINE_LIMIT", "FIELD_LIMIT", "RAW_LINE"]

LINE_LIMIT = 1 << 20  # bytes in one physical line; longer lines are quarantined, never held whole
FIELD_LIMIT = 1 << 20  # characters in one field (the csv module's limit is process-wide)
RAW_KEEP = 64 << 10  # characters of a record's raw text kept for the quarantine
HEAD_KEEP = 4096  # bytes of an over-long line kept for the quarantine
RAW_LINE = "raw_line"  # the one column of a file whose header cannot be used
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_LOOKS_LIKE_DELIMITERS = (";", "\t", "|", ",")

csv.field_size_limit(FIELD_LIMIT)


class _Lines:
    """Physical lines of a binary file, decoded, with what the current record went through."""

    def __init__(self, fh: BinaryIO, encoding: str) -> None:
        self.fh = fh
        self.encoding = encoding
        self.sha256 = hashlib.sha256()
        self.offset = 0
        self.line_no = 0
        self.bom = False
        self.utf16 = False
        self.reset()

    def reset(self) -> None:
        self.raw: list[str] = []
        self.raw_len = 0
        self.quotes = 0
        self.first_line = self.line_no + 1
        self.bad_byte: int | None = None
        self.nul = False
        self.huge: int | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        start = self.offset
        chunk = self._read(LINE_LIMIT)
        if not chunk:
            raise StopIteration
        self.line_no += 1
        if start == 0:
            chunk, start = self._file_start(chunk)
        if len(chunk) >= LINE_LIMIT and not chunk.endswith(b"\n"):
            self.huge = self.huge or len(chunk) + self._skip_rest()
            self._keep(chunk[:HEAD_KEEP].decode(self.encoding, "backslashreplace") + "\n")
            return "\n"  # keeps the csv module's state; the record is refused as over-long
        text = self._decode(chunk, start)
        if "\x00" in text:
            self.nul = True
            text = text.replace("\x00", "")
        self._keep(text)
        return text

    def _read(self, limit: int) -> bytes:
        chunk = self.fh.readline(limit)
        self.offset += len(chunk)
        self.sha256.update(chunk)
        return chunk

    def _file_start(self, chunk: bytes) -> tuple[bytes, int]:
        if chunk.startswith(_UTF16_BOMS):
            self.utf16 = True
        if chunk.startswith(b"\xef\xbb\xbf") and self.encoding.replace("-", "").lower() in (
            "utf8",
            "utf8sig",
        ):
            self.bom = True
            return chunk[3:], 3
        return chunk, 0

    def _skip_rest(self) -> int:
        skipped = 0
        while True:
            chunk = self._read(LINE_LIMIT)
            skipped += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return skipped

    def _decode(self, chunk: bytes, start: int) -> str:
        try:
            return chunk.decode(self.encoding)
        except UnicodeDecodeError as exc:
            if self.bad_byte is None:
                self.bad_byte = start + exc.start
            return chunk.decode(self.encoding, "backslashreplace")

    def _keep(self, text: str) -> None:
        self.quotes += text.count('"')
        if self.raw_len < RAW_KEEP:
            self.raw.append(text)
            self.raw_len += len(text)

    def raw_text(self) -> str:
        text = "".join(self.raw)
        if self.raw_len > RAW_KEEP:
            text = text[:RAW_KEEP] + " ...[cut; see the archived file]"
        return text.rstrip("\r\n")

    def swallow_quoted(self) -> None:
        """After a csv error inside a quoted field, skip to the line that closes the quote."""
        while self.quotes % 2:
            try:
                next(self)
            except StopIteration:
                return


class CsvRowReader:
    """Header check and row stream of one file, for one inbound kind of one mapping.

    `columns`, `errors` (file-level problems, given to every row) and `notes` are known once the
    object exists: only the header has been read. Iterate it once for the rows.
    """

    def __init__(self, fh: BinaryIO, mapping: PartnerMapping, kind: InboundKind) -> None:
        self.mapping = mapping
        self.kind = kind
        self.label = (
            "UTF-8"
            if mapping.encoding.replace("-", "").lower() in ("utf8", "utf8sig")
            else mapping.encoding
        )
        self.lines = _Lines(fh, mapping.encoding)
        self.csv = csv.reader(
            self.lines, delimiter=mapping.delimiter, quotechar='"', doublequote=True, strict=False
        )
        self.columns: tuple[str, ...] = ()
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.raw_mode = False
        self.header_unreadable = ""
        self.blank_rows = 0
        self._read_header()

    @property
    def sha256(self) -> str:
        return self.lines.sha256.hexdigest()

    # ------------------------------------------------------------------ header
    def _read_header(self) -> None:
        while True:
            fields, error = self._next_record()
            if fields is None and error is None:
                self.notes.append("empty file")
                return
            if error or self._flags() or fields:
                break
        if self.lines.bom:
            self.notes.append("UTF-8 byte order mark ignored")
        problem = self._header_problem(error)
        if problem:
            self.header_unreadable = self.lines.raw_text()
            self._raw(problem)
            return
        assert fields is not None
        self._set_columns([f.strip() for f in fields])

    def _header_problem(self, error: str | None) -> str | None:
        lines = self.lines
        if lines.utf16:
            return "the file is UTF-16: export it as UTF-8 CSV"
        if lines.huge:
            cr = "\r" in lines.raw_text()
            return f"header line is longer than {LINE_LIMIT} bytes" + (
                " (lines end with CR only?)" if cr else ""
            )
        if lines.bad_byte is not None:
            return f"header: not {self.label} at byte {lines.bad_byte}"
        if lines.nul:
            return "header contains NUL bytes"
        if error:
            if "new-line character" in error:
                return (
                    "header: lines end with CR only (old Mac format): "
                    "export with LF or CRLF line ends"
                )
            return f"header: unreadable CSV ({error})"
        return None

    def _raw(self, problem: str) -> None:
        self.errors.append(problem)
        self.raw_mode = True
        self.columns = (RAW_LINE,)

    def _set_columns(self, names: list[str]) -> None:
        names = [n or f"column_{i + 1}" for i, n in enumerate(names)]
        folded = [n.casefold() for n in names]
        duplicates = sorted({n for n, f in zip(names, folded, strict=True) if folded.count(f) > 1})
        if duplicates:
            self._raw(f"duplicate column {', '.join(duplicates)}")
            return
        delimiter = self.mapping.delimiter
        if len(names) == 1:
            other = next(
                (d for d in _LOOKS_LIKE_DELIMITERS if d != delimiter and d in names[0]), None
            )
            if other:
                shown = "tab" if other == "\t" else f"'{other}'"
                self._raw(
                    f"wrong delimiter: the header is one column containing {shown}; "
                    f"expected '{delimiter}'-separated columns"
                )
                return
        self.columns = tuple(names)
        present = set(folded)
        for field, column in self.mapping.required_columns(self.kind).items():
            if column.casefold() not in present:
                self.errors.append(
                    f"missing column {column}" + (f" ({field})" if field != column else "")
                )
        known = {c.casefold() for c in self.mapping.inbound_columns(self.kind)}
        extra = [n for n in names if n.casefold() not in known]
        if extra:
            self.notes.append(f"extra columns ignored: {', '.join(extra)}")

    # ------------------------------------------------------------------ rows
    def __iter__(self) -> Iterator[InboundRow]:
        if self.header_unreadable:
            yield InboundRow(0, {RAW_LINE: self.header_unreadable}, "; ".join(self.errors))
        number = 0
        lines, columns, width = self.lines, self.columns, len(self.columns)
        clean_file = not self.errors and not self.raw_mode
        while True:
            fields, error = self._next_record()
            if (
                clean_file
                and fields is not None
                and len(fields) == width
                and fields[0]
                and not fields[0].isspace()
                and lines.huge is None
                and lines.bad_byte is None
                and not lines.nul
            ):  # the common case, kept cheap for million-row files
                number += 1
                yield InboundRow(number, dict(zip(columns, fields, strict=True)))
                continue
            if fields is None and error is None:
                break
            problems = self._row_problems(fields, error)
            if not problems and not any(f.strip() for f in fields or ()):
                self.blank_rows += 1
                continue
            number += 1
            yield self._row(number, fields, problems)
        if self.blank_rows:
            self.notes.append(f"{self.blank_rows} blank rows skipped")

    def _next_record(self) -> tuple[list[str] | None, str | None]:
        """(fields, None), (None, csv error) or (None, None) at the end of the file."""
        self.lines.reset()
        try:
            return next(self.csv), None
        except StopIteration:
            return None, None
        except csv.Error as exc:
            self.lines.swallow_quoted()
            return None, str(exc)

    def _flags(self) -> bool:
        lines = self.lines
        return bool(lines.huge or lines.nul or lines.bad_byte is not None or lines.utf16)

    def _row_problems(self, fields: list[str] | None, error: str | None) -> list[str]:
        lines = self.lines
        problems = list(self.errors)
        if lines.huge:
            problems.append(
                f"line {lines.first_line} is longer than {LINE_LIMIT} bytes ({lines.huge} bytes)"
            )
        if lines.bad_byte is not None:
            problems.append(f"not {self.label} at byte {lines.bad_byte}")
        if lines.nul:
            problems.append("contains NUL bytes")
        if error:
            problems.append(f"unreadable CSV ({error})")
        elif (
            fields is not None
            and not self.raw_mode
            and not lines.huge
            and len(fields) != len(self.columns)
        ):
            if fields or self._flags():
                problems.append(f"row has {len(fields)} fields, header has {len(self.columns)}")
        if len(problems) > len(self.errors) and lines.line_no > lines.first_line:
            problems.append(f"row spans lines {lines.first_line}-{lines.line_no}")
        return problems

    def _row(self, number: int, fields: list[str] | None, problems: list[str]) -> InboundRow:
        problem = "; ".join(problems) or None
        if self.raw_mode:
            return InboundRow(number, {RAW_LINE: self.lines.raw_text()}, problem)
        if fields is None or self.lines.huge:
            fields = _best_effort_fields(self.lines.raw_text(), self.mapping.delimiter)
        width = len(self.columns)
        values = dict(zip(self.columns, fields + [""] * (width - len(fields)), strict=False))
        return InboundRow(number, values, problem, tuple(fields[width:]))


def _best_effort_fields(raw: str, delimiter: str) -> list[str]:
    """The fields of a record the csv module refused, for the quarantine copy only."""
    try:
        return next(csv.reader(io.StringIO(raw), delimiter=delimiter), [raw])
    except csv.Error:
        return [raw]

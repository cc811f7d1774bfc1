"""Partner mappings: a partner's columns and codes <-> the canonical records of SPEC 5.

    mapping = load_mapping("bhcare", base_dir=config.base_dir, catalogue=config.catalogue())
    update = mapping.parse_status_update(row, provenance, today=day)    # RecordError if bad
    row = mapping.outbound_referral_row(referral)                        # partner columns and codes

A name without a path separator or `.toml` suffix is a packaged mapping
(`field_mappings/partners/<name>.toml`, read with importlib.resources so it works from a wheel);
anything else is a path relative to the folder of ssp.toml. Codes are validated against the
catalogue's choice lists, so a row can never put a code into PowerSchool that the page's dropdown
does not know. Reasons name the canonical field first: "status_date: in the future".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from connector.mapping_file import (
    SECTION_COLUMNS,
    CodeTable,
    KindSpec,
    compile_kinds,
    parse_mapping_file,
)
from connector.mapping_values import DateFormat, Problem, TimeFormat, check_id, check_text, show
from connector.records import OutboundReferral, PartnerVisit, Provenance, Revocation, StatusUpdate
from foundation.catalogue import Catalogue, load_catalogue
from foundation.errors import ConfigError, RecordError
from foundation.tomlfile import parse_toml, read_toml

__all__ = ["PartnerMapping", "load_mapping", "packaged_mappings", "InboundKind", "OutboundKind"]

InboundKind = Literal["status_update", "visit"]
OutboundKind = Literal["referrals", "revocations"]
_OUTBOUND_SECTION = {"referrals": "referral", "revocations": "revocation"}
_REQUIRED = {
    "status_update": ("referral_id", "status", "status_date"),
    "visit": ("partner_visit_id", "student_number", "visit_date"),
}
_REFERRAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
_VISIT_ID = re.compile(r"^[!-~]{1,64}$")
_STUDENT_NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_ONE_DAY = dt.timedelta(days=1)
_OUTBOUND_DATES = {"referral_date", "date_of_birth", "consent_expires", "revoked_date"}


@functools.lru_cache(maxsize=1)
def _packaged_catalogue() -> Catalogue:
    return load_catalogue()


def packaged_mappings() -> list[str]:
    """Names of the mappings shipped in field_mappings/partners/."""
    folder = resources.files("field_mappings").joinpath("partners")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_mapping(
    name_or_path: str, *, base_dir: Path, catalogue: Catalogue | None = None
) -> PartnerMapping:
    """Load and validate a mapping. ConfigError (exit 2) names the file and the key."""
    if re.match(r"^[a-z0-9_-]+$", name_or_path):
        source = f"field_mappings/partners/{name_or_path}.toml"
        entry = resources.files("field_mappings").joinpath("partners", f"{name_or_path}.toml")
        if not entry.is_file():
            known = ", ".join(packaged_mappings())
            raise ConfigError(
                f"no packaged mapping '{name_or_path}' (packaged: {known}; or give a "
                "path to a .toml file)",
                file=source,
            )
        raw = parse_toml(entry.read_text("utf-8"), source)
    else:
        path = Path(name_or_path)
        path = path if path.is_absolute() else base_dir / path
        source = str(path)
        raw = read_toml(path)
    model = parse_mapping_file(raw, source)
    known_catalogue = _packaged_catalogue()
    kinds = compile_kinds(model, catalogue or known_catalogue, known_catalogue, source)
    common = model.mapping
    return PartnerMapping(
        name=common.name,
        source=source,
        encoding=common.encoding,
        delimiter=common.delimiter,
        list_separator=common.list_separator,
        write_bom=common.write_bom,
        dates=DateFormat(common.date_formats),
        times=TimeFormat(common.time_formats),
        notice_template=model.notice.file,
        kinds=kinds,
        delete_remote_files=common.delete_remote_files,
    )


@dataclass(frozen=True, eq=False)
class PartnerMapping:
    """A loaded mapping. Immutable; safe to share between feeds and threads."""

    name: str
    source: str
    encoding: str
    delimiter: str
    list_separator: str
    write_bom: bool
    dates: DateFormat
    times: TimeFormat
    notice_template: str
    kinds: dict[str, KindSpec]
    delete_remote_files: bool = False
    """A remote (sftp) feed may delete a partner's file once it is archived and applied; without
    it the file is left on the partner's server and recognised by its hash on the next run."""

    def __repr__(self) -> str:
        return f"PartnerMapping({self.name!r}, source={self.source!r})"

    @property
    def _utf8(self) -> bool:
        return self.encoding.replace("-", "").replace("_", "").lower() in ("utf8", "utf8sig")

    # ----------------------------------------------------------------- file names and columns
    def inbound_patterns(self, kind: InboundKind) -> tuple[str, ...]:
        return self.kinds[kind].files

    def inbound_columns(self, kind: InboundKind) -> tuple[str, ...]:
        """The partner's column names for `kind`, in canonical order."""
        return tuple(self.kinds[kind].columns.values())

    def required_columns(self, kind: InboundKind) -> dict[str, str]:
        """canonical field -> partner column, for the columns a file must have."""
        return {f: self.kinds[kind].columns[f] for f in _REQUIRED[kind]}

    def outbound_columns(self, kind: OutboundKind) -> tuple[str, ...]:
        return tuple(self.kinds[_OUTBOUND_SECTION[kind]].columns.values())

    def outbound_file_name(self, kind: OutboundKind, run_id: str) -> str:
        return self.kinds[_OUTBOUND_SECTION[kind]].template.replace("{run_id}", run_id)

    def notice_file_name(self, run_id: str) -> str:
        return self.notice_template.replace("{run_id}", run_id)

    # ----------------------------------------------------------------- inbound
    def parse_inbound(
        self,
        kind: InboundKind,
        row: Mapping[str, str],
        prov: Provenance,
        *,
        today: dt.date | None = None,
    ) -> StatusUpdate | PartnerVisit:
        if kind == "status_update":
            return self.parse_status_update(row, prov, today=today)
        return self.parse_visit(row, prov, today=today)

    def parse_status_update(
        self, row: Mapping[str, str], prov: Provenance, *, today: dt.date | None = None
    ) -> StatusUpdate:
        """A partner row -> StatusUpdate, or RecordError naming the field and the reason."""
        v = self._read("status_update", row, prov, today)
        return StatusUpdate(
            v["referral_id"],
            v["status"],
            v["status_date"],
            v["first_service_date"],
            v["status_reason"] or "",
            prov,
        )

    def parse_visit(
        self, row: Mapping[str, str], prov: Provenance, *, today: dt.date | None = None
    ) -> PartnerVisit:
        """A partner row -> PartnerVisit, or RecordError naming the field and the reason."""
        v = self._read("visit", row, prov, today)
        time_in, time_out = v["time_in"] or "", v["time_out"] or ""
        if time_in and time_out and time_out < time_in:
            raise _error(prov, "time_out", f"{time_out} is before time_in {time_in}")
        return PartnerVisit(
            v["partner_visit_id"],
            v["student_number"],
            v["referral_id"] or "",
            v["visit_date"],
            time_in,
            time_out,
            v["service_codes"] or (),
            v["purpose_code"] or "",
            v["clinician_name"] or "",
            prov,
        )

    def _read(
        self, kind: str, row: Mapping[str, str], prov: Provenance, today: dt.date | None
    ) -> dict[str, Any]:
        """Every canonical field of `kind` parsed, in column order; the first bad one raises."""
        latest = (today or dt.date.today()) + _ONE_DAY
        out: dict[str, Any] = {}
        for field, column, folded, parse, required in self._plans[kind]:
            text = row.get(column)
            if text is None:  # tolerate a header that differs in case or surrounding spaces
                text = next(
                    (val for key, val in row.items() if key.strip().casefold() == folded), ""
                )
            text = text.strip() if text else ""
            if not text:
                if required:
                    raise _error(prov, field, "missing")
                out[field] = None
                continue
            try:
                value = parse(text)
            except Problem as exc:
                raise _error(prov, field, str(exc)) from None
            if type(value) is dt.date and value > latest:
                raise _error(prov, field, "in the future")
            out[field] = value
        return out

    @functools.cached_property
    def _plans(self) -> dict[str, tuple[_Step, ...]]:
        """Per inbound kind: (field, partner column, casefolded, parser, required), column order."""

        def code(kind: str, field: str) -> Callable[[str], Any]:
            table = self.kinds[kind].codes[field]
            return functools.partial(self._codes if table.multi else self._code, table)

        parsers: dict[str, dict[str, Callable[[str], Any]]] = {
            "status_update": {
                "referral_id": functools.partial(
                    check_id, pattern=_REFERRAL_ID, what="referral id"
                ),
                "status": code("status_update", "status"),
                "status_date": self._date,
                "first_service_date": self._date,
                "status_reason": functools.partial(check_text, max_length=200),
            },
            "visit": {
                "partner_visit_id": functools.partial(check_id, pattern=_VISIT_ID, what="visit id"),
                "student_number": functools.partial(
                    check_id, pattern=_STUDENT_NUMBER, what="student number", echo=False
                ),
                "referral_id": functools.partial(
                    check_id, pattern=_REFERRAL_ID, what="referral id"
                ),
                "visit_date": self._date,
                "time_in": self.times.parse,
                "time_out": self.times.parse,
                "service_codes": code("visit", "service_codes"),
                "purpose_code": code("visit", "purpose_code"),
                "clinician_name": functools.partial(check_text, max_length=80),
            },
        }
        return {
            kind: tuple(
                (
                    f,
                    self.kinds[kind].columns[f],
                    self.kinds[kind].columns[f].casefold(),
                    parse,
                    f in _REQUIRED[kind],
                )
                for f, parse in fields.items()
            )
            for kind, fields in parsers.items()
        }

    def _date(self, text: str) -> dt.date:
        day = self.dates.parse(text)
        if day.year < 1900:
            raise Problem(f"{show(text)} is before 1900")
        return day

    def _code(self, table: CodeTable, text: str) -> str:
        canonical = table.from_partner.get(text.casefold())
        if canonical is None:
            if (
                not table.explicit
                and text.casefold() in ("new", "sent")
                and table.choice == "referral_status"
            ):
                raise Problem(
                    f"'{text}' is a school-side status; a partner reports received..cancelled"
                )
            raise Problem(f"unknown code {show(text)}")
        if canonical in table.retired:
            raise Problem(
                f"{show(text)} means '{canonical}', which is no longer in the district's "
                f"{table.choice} list"
            )
        return canonical

    def _codes(self, table: CodeTable, text: str) -> tuple[str, ...]:
        parts = [p.strip() for p in text.split(self.list_separator) if p.strip()]
        return tuple(dict.fromkeys(self._code(table, p) for p in parts))

    # ----------------------------------------------------------------- outbound
    def outbound_referral_row(self, ref: OutboundReferral) -> dict[str, str]:
        """A referral in the partner's columns, codes and date format (empty stays empty)."""
        return self._outbound("referral", ref.as_row(), ref.referral_id)

    def outbound_revocation_row(self, rev: Revocation) -> dict[str, str]:
        return self._outbound("revocation", rev.as_row(), rev.referral_id)

    def outbound_row(
        self, kind: OutboundKind, record: OutboundReferral | Revocation
    ) -> dict[str, str]:
        return self._outbound(_OUTBOUND_SECTION[kind], record.as_row(), record.referral_id)

    def _outbound(self, section: str, values: dict[str, str], record_id: str) -> dict[str, str]:
        spec = self.kinds[section]
        out: dict[str, str] = {}
        for field in SECTION_COLUMNS[section]:
            value = (values.get(field) or "").strip()
            try:
                out[spec.columns[field]] = self._outbound_value(spec, field, value)
            except Problem as exc:
                raise RecordError(f"{field}: {exc}", field=field) from None
        return out

    def _outbound_value(self, spec: KindSpec, field: str, value: str) -> str:
        if not value:
            return ""
        if not self._utf8:
            try:
                value.encode(self.encoding)
            except UnicodeEncodeError:
                raise Problem(f"cannot be written in {self.encoding}") from None
        if field in _OUTBOUND_DATES:
            try:
                return self.dates.write(dt.date.fromisoformat(value[:10]))
            except ValueError:
                # never echoed: the value may be a date of birth
                raise Problem("is not a date (expected YYYY-MM-DD)") from None
        table = spec.codes.get(field)
        if table is None:
            return value
        codes = [c.strip() for c in value.split(",") if c.strip()] if table.multi else [value]
        written = []
        for code in codes:
            partner_code = table.to_partner.get(code)
            if partner_code is None and table.explicit:
                raise Problem(f"no partner code for {show(code)} (add it to {self.source})")
            if partner_code is None:
                raise Problem(f"{show(code)} is not a {table.choice} code")
            written.append(partner_code)
        return self.list_separator.join(written)


_Step = tuple[str, str, str, Callable[[str], Any], bool]


def _error(prov: Provenance, field: str, reason: str) -> RecordError:
    return RecordError(f"{field}: {reason}", file=prov.source, row=prov.row, field=field)

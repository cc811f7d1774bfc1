"""The partner mapping file (`field_mappings/partners/*.toml`): its schema and its compilation.

A mapping file says, for each record kind, which partner column holds each canonical field
(`columns`, canonical = "PartnerColumn"; unlisted fields keep their canonical name) and how the
partner's codes translate (`codes.<field>`, canonical = "PARTNER" or ["PARTNER", "ALIAS"]; the
first partner code is the one written, all are accepted). A code table that is present is
complete; a field without one uses the catalogue's own codes. Errors name the file and the key.

    [mapping]                  name, encoding, delimiter, list_separator, date_formats, time_formats,
                               delete_remote_files (sftp feeds; default false: files are left)
    [status_update] / [visit]  files (inbound name patterns), columns, codes
    [referral] / [revocation]  file (outbound name template with {run_id}), columns, codes
    [notice]                   file (the redisclosure notice's name template)
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.feeds.safety import is_partial_upload, require_plain_name
from connector.records import (
    OUTBOUND_REFERRAL_COLUMNS,
    REVOCATION_COLUMNS,
    STATUS_UPDATE_COLUMNS,
    VISIT_COLUMNS,
)
from foundation.catalogue import Catalogue
from foundation.errors import ConfigError
from foundation.tomlfile import validate_model

__all__ = [
    "MappingFile",
    "CodeTable",
    "KindSpec",
    "parse_mapping_file",
    "compile_kinds",
    "SECTION_COLUMNS",
    "CODE_FIELDS",
    "SCHOOL_SIDE_STATUSES",
]

Section = Literal["status_update", "visit", "referral", "revocation"]
SECTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "status_update": STATUS_UPDATE_COLUMNS,
    "visit": VISIT_COLUMNS,
    "referral": OUTBOUND_REFERRAL_COLUMNS,
    "revocation": REVOCATION_COLUMNS,
}
# (section, canonical field) -> (catalogue choice list, multi-valued)
CODE_FIELDS: dict[tuple[str, str], tuple[str, bool]] = {
    ("status_update", "status"): ("referral_status", False),
    ("visit", "service_codes"): ("service", True),
    ("visit", "purpose_code"): ("purpose", False),
    ("referral", "reason_codes"): ("referral_reason", True),
    ("referral", "urgency"): ("urgency", False),
}
SCHOOL_SIDE_STATUSES = ("new", "sent")
"""Statuses the school sets itself (SPEC 5); a partner may not report them."""
_SAMPLE_DAY = dt.date(2026, 12, 31)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Common(_Model):
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    encoding: str = "utf-8"
    delimiter: str = ","
    list_separator: str = ","
    date_formats: tuple[str, ...] = Field(default=("%Y-%m-%d",), min_length=1)
    time_formats: tuple[str, ...] = Field(default=("%H:%M",), min_length=1)
    write_bom: bool = False
    delete_remote_files: bool = False  # sftp feeds: remove a partner file once it is applied


CodeValue = str | list[str]


class _Inbound(_Model):
    files: tuple[str, ...] | None = Field(default=None, min_length=1)  # None: the SPEC 5 default
    columns: dict[str, str] = {}
    codes: dict[str, dict[str, CodeValue]] = {}


class _Outbound(_Model):
    file: str | None = None  # None: the SPEC 5 default
    columns: dict[str, str] = {}
    codes: dict[str, dict[str, CodeValue]] = {}


class _Notice(_Model):
    file: str = "NOTICE_{run_id}.txt"


class MappingFile(_Model):
    mapping: _Common
    status_update: _Inbound = _Inbound()
    visit: _Inbound = _Inbound()
    referral: _Outbound = _Outbound()
    revocation: _Outbound = _Outbound()
    notice: _Notice = _Notice()


DEFAULT_FILES: dict[str, tuple[str, ...]] = {
    "status_update": ("status_updates*.csv",),
    "visit": ("visits*.csv",),
}
DEFAULT_TEMPLATES = {"referral": "referrals_{run_id}.csv", "revocation": "revocations_{run_id}.csv"}


@dataclass(frozen=True)
class CodeTable:
    """One translated field: canonical -> written partner code; partner code (casefolded) ->
    canonical."""

    field: str
    choice: str
    multi: bool
    explicit: bool
    to_partner: dict[str, str]
    from_partner: dict[str, str]
    retired: frozenset[str] = frozenset()  # canonical codes the district removed from its list


@dataclass(frozen=True)
class KindSpec:
    columns: dict[str, str]  # canonical -> partner column, every canonical field present
    codes: dict[str, CodeTable]
    files: tuple[str, ...] = ()  # inbound name patterns
    template: str = ""  # outbound name template


def parse_mapping_file(raw: dict[str, Any], source: str) -> MappingFile:
    model = validate_model(MappingFile, raw, source)
    _check_common(model.mapping, source)
    _check_template(model.notice.file, ".txt", source, "notice.file")
    return model


def _check_common(common: _Common, source: str) -> None:
    if len(common.delimiter) != 1 or common.delimiter in '"\r\n':
        raise ConfigError(
            "must be one character other than a quote or a line break",
            file=source,
            key="mapping.delimiter",
        )
    if len(common.list_separator) != 1 or common.list_separator in '"\r\n':
        raise ConfigError("must be one character", file=source, key="mapping.list_separator")
    try:
        info = codecs.lookup(common.encoding)
    except LookupError:
        raise ConfigError(
            f"unknown encoding '{common.encoding}'", file=source, key="mapping.encoding"
        ) from None
    if "16" in info.name or "32" in info.name or 'a,\n"'.encode(info.name) != b'a,\n"':
        raise ConfigError(
            "must be an ASCII-compatible encoding such as utf-8 or cp1252",
            file=source,
            key="mapping.encoding",
        )
    for key, formats in (
        ("date_formats", common.date_formats),
        ("time_formats", common.time_formats),
    ):
        for i, fmt in enumerate(formats):
            _check_format(fmt, source, f"mapping.{key}[{i}]", time=key == "time_formats")


def _check_format(fmt: str, source: str, key: str, *, time: bool) -> None:
    sample = (
        dt.datetime(2026, 12, 31, 13, 45) if time else dt.datetime.combine(_SAMPLE_DAY, dt.time())
    )
    try:
        back = dt.datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError:
        back = None
    expected = (sample.hour, sample.minute) if time else sample.date()
    got = None if back is None else ((back.hour, back.minute) if time else back.date())
    if got != expected:
        what = "hours and minutes" if time else "a full date (year, month, day)"
        raise ConfigError(f"'{fmt}' does not round-trip {what}", file=source, key=key)


def _check_template(template: str, suffix: str, source: str, key: str) -> None:
    if template.count("{run_id}") != 1 or not template.endswith(suffix):
        raise ConfigError(
            f"must contain {{run_id}} once and end with {suffix}", file=source, key=key
        )
    try:
        require_plain_name(template.replace("{run_id}", "0" * 36))
    except ValueError:
        raise ConfigError(
            "only letters, digits, '.', '_' and '-' besides {run_id}", file=source, key=key
        ) from None


def compile_kinds(
    model: MappingFile, catalogue: Catalogue, known: Catalogue, source: str
) -> dict[str, KindSpec]:
    """Check every section against the canonical columns and the catalogue; build lookups.

    `catalogue` is the district's (edited) catalogue, `known` the packaged one: a code table may
    name a code from either, so a district removing a code does not break a packaged mapping
    (rows using it are then record errors, not a configuration error).
    """
    kinds: dict[str, KindSpec] = {}
    for section in SECTION_COLUMNS:
        spec = getattr(model, section)
        columns = _columns(section, spec.columns, source)
        codes = _codes(section, spec.codes, model.mapping.list_separator, catalogue, known, source)
        if isinstance(spec, _Inbound):
            files = spec.files or DEFAULT_FILES[section]
            _check_patterns(section, files, source)
            kinds[section] = KindSpec(columns, codes, files=files)
        else:
            template = spec.file or DEFAULT_TEMPLATES[section]
            _check_template(template, ".csv", source, f"{section}.file")
            kinds[section] = KindSpec(columns, codes, template=template)
    _check_templates_apart(kinds["referral"].template, kinds["revocation"].template, source)
    return kinds


_RUN_ID_SHAPE = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"  # a uuid4 as text: hex digits and dashes


def _name_classes(template: str) -> list[frozenset[str]]:
    """The characters each position of a file name made from `template` can hold, any run id."""
    head, tail = template.split("{run_id}")
    hex_digits = frozenset("0123456789abcdef")
    run_id = [frozenset("-") if c == "-" else hex_digits for c in _RUN_ID_SHAPE]
    return [frozenset(c.casefold()) for c in head] + run_id + [frozenset(c.casefold()) for c in tail]


def _check_templates_apart(referral: str, revocation: str, source: str) -> None:
    """Refuse referral and revocation templates that can name the same file (for any two run
    ids; letter case ignored, as on a Windows share): one file would overwrite the other."""
    a, b = _name_classes(referral), _name_classes(revocation)
    if len(a) == len(b) and all(x & y for x, y in zip(a, b)):
        raise ConfigError(
            f"'{revocation}' can produce the same file name as referral.file ('{referral}'): "
            "a revocation file would overwrite a referral file in the outbox; give them names "
            "that differ outside {run_id}, e.g. referrals_{run_id}.csv and "
            "revocations_{run_id}.csv",
            file=source,
            key="revocation.file",
        )


def _columns(section: str, renames: dict[str, str], source: str) -> dict[str, str]:
    canonical = SECTION_COLUMNS[section]
    for name, column in renames.items():
        key = f"{section}.columns.{name}"
        if name not in canonical:
            raise ConfigError(
                f"unknown field '{name}' (fields: {', '.join(canonical)})", file=source, key=key
            )
        if not column.strip() or column != column.strip() or any(c in column for c in '\r\n"\x00'):
            raise ConfigError(
                "a column name must be non-empty text without quotes, line breaks "
                "or surrounding spaces",
                file=source,
                key=key,
            )
    columns = {name: renames.get(name, name) for name in canonical}
    seen: dict[str, str] = {}
    for name, column in columns.items():
        folded = column.casefold()
        if folded in seen:
            raise ConfigError(
                f"column '{column}' is used for both {seen[folded]} and {name}",
                file=source,
                key=f"{section}.columns.{name}",
            )
        seen[folded] = name
    return columns


def _codes(
    section: str,
    tables: dict[str, dict[str, CodeValue]],
    separator: str,
    catalogue: Catalogue,
    known: Catalogue,
    source: str,
) -> dict[str, CodeTable]:
    out: dict[str, CodeTable] = {}
    for (sec, field), (choice, multi) in CODE_FIELDS.items():
        if sec != section:
            continue
        table = tables.get(field)
        district = _allowed_codes(catalogue, choice)
        if table is None:
            out[field] = _identity_table(field, choice, multi, catalogue)
            continue
        allowed = district | _allowed_codes(known, choice)
        compiled = _explicit_table(section, field, choice, multi, table, allowed, separator, source)
        out[field] = replace(compiled, retired=frozenset(set(compiled.to_partner) - district))
    for field in tables:
        if (section, field) not in CODE_FIELDS:
            fields = [f for (s, f) in CODE_FIELDS if s == section]
            raise ConfigError(
                f"'{field}' has no codes to translate (translated here: "
                f"{', '.join(fields) or 'none'})",
                file=source,
                key=f"{section}.codes.{field}",
            )
    return out


def _allowed_codes(catalogue: Catalogue, choice: str) -> set[str]:
    codes = set(catalogue.choice(choice).codes)
    return codes - set(SCHOOL_SIDE_STATUSES) if choice == "referral_status" else codes


def _identity_table(field: str, choice: str, multi: bool, catalogue: Catalogue) -> CodeTable:
    codes = _allowed_codes(catalogue, choice)
    return CodeTable(
        field, choice, multi, False, {c: c for c in codes}, {c.casefold(): c for c in codes}
    )


def _explicit_table(
    section: str,
    field: str,
    choice: str,
    multi: bool,
    table: dict[str, CodeValue],
    allowed: set[str],
    separator: str,
    source: str,
) -> CodeTable:
    to_partner: dict[str, str] = {}
    from_partner: dict[str, str] = {}
    for canonical, value in table.items():
        key = f"{section}.codes.{field}.{canonical}"
        if canonical not in allowed:
            raise ConfigError(
                f"'{canonical}' is not a {choice} code (codes: {', '.join(sorted(allowed))})",
                file=source,
                key=key,
            )
        partner_codes = [value] if isinstance(value, str) else list(value)
        if not partner_codes:
            raise ConfigError("give at least one partner code", file=source, key=key)
        for code in partner_codes:
            _check_partner_code(code, multi, separator, source, key)
            folded = code.strip().casefold()
            if folded in from_partner and from_partner[folded] != canonical:
                raise ConfigError(
                    f"partner code '{code}' is also used for '{from_partner[folded]}'",
                    file=source,
                    key=key,
                )
            from_partner[folded] = canonical
        to_partner[canonical] = partner_codes[0]
    return CodeTable(field, choice, multi, True, to_partner, from_partner)


def _check_partner_code(code: str, multi: bool, separator: str, source: str, key: str) -> None:
    if (
        not code.strip()
        or code != code.strip()
        or len(code) > 40
        or any(c in code for c in '\r\n"\x00')
    ):
        raise ConfigError(
            "a partner code is 1-40 characters without quotes, line breaks or surrounding spaces",
            file=source,
            key=key,
        )
    if multi and separator in code:
        raise ConfigError(
            f"a code of a list field may not contain the list separator '{separator}'",
            file=source,
            key=key,
        )


def _check_patterns(section: str, patterns: tuple[str, ...], source: str) -> None:
    for i, pattern in enumerate(patterns):
        key = f"{section}.files[{i}]"
        if not re.match(r"^[A-Za-z0-9*?._\-\[\]!]+$", pattern) or pattern.startswith("."):
            raise ConfigError(
                "a file pattern is a plain name with * or ? wildcards (no folders, "
                "not starting with '.')",
                file=source,
                key=key,
            )
        if is_partial_upload(pattern.replace("*", "x").replace("?", "x")):
            raise ConfigError(
                "names files still being uploaded (*.part, *.tmp); those are always "
                "left for the next run",
                file=source,
                key=key,
            )

"""The Student Support catalogue: tables, fields and dropdowns, validated against PowerSchool's limits.

The catalogue is the one source of truth for the schema. It is read from the packaged
`field_mappings/student_support.toml` (or a path given by the caller), the district's
`[choices.<list>]` edits are applied, and the result is checked against the rules that
PowerSchool (and its Oracle database) enforce, so a bad name fails here with a clear message
instead of at install time on the district's server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PydField

from foundation.errors import CatalogueError
from foundation.tomlfile import parse_toml, read_toml, validate_model

__all__ = [
    "Catalogue",
    "ChoiceEdit",
    "ChoiceList",
    "ChoiceOption",
    "Field",
    "Table",
    "PartnerChoice",
    "load_catalogue",
    "DEFAULT_CATALOGUE",
    "ORACLE_RESERVED_WORDS",
    "TRACKING_COLUMNS",
    "CODE_PATTERN",
    "PARTNER_CHOICE",
]

DEFAULT_CATALOGUE = "student_support.toml"
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,20}$")
"""Codes a district adds (SPEC 3)."""
PACKAGED_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,30}$")
"""Codes in the packaged catalogue: SPEC 3's own default `individual_counseling` has 21 characters,
so the product's file is held to the field-length limit instead of the 20-character rule."""
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_NAME = 30
MAX_FIELDS_PER_GROUP = 999
PARTNER_CHOICE = "partner"
"""The one choice list whose options come from ssp.toml [[partners]], not from the catalogue."""

# Columns PowerSchool adds to every extension table; a catalogue may not define them itself.
TRACKING_COLUMNS = ("WHOCREATED", "WHENCREATED", "WHOMODIFIED", "WHENMODIFIED")

# Oracle SQL reserved words (V$RESERVED_WORDS with RESERVED='Y', plus the classic SQL reference list).
ORACLE_RESERVED_WORDS = frozenset(
    """
    ACCESS ADD ALL ALTER AND ANY AS ASC AUDIT BETWEEN BY CHAR CHECK CLUSTER COLUMN COLUMN_VALUE
    COMMENT COMPRESS CONNECT CREATE CURRENT DATE DECIMAL DEFAULT DELETE DESC DISTINCT DROP ELSE
    EXCLUSIVE EXISTS FILE FLOAT FOR FROM GRANT GROUP HAVING IDENTIFIED IMMEDIATE IN INCREMENT INDEX
    INITIAL INSERT INTEGER INTERSECT INTO IS LEVEL LIKE LOCK LONG MAXEXTENTS MINUS MLSLABEL MODE
    MODIFY NESTED_TABLE_ID NOAUDIT NOCOMPRESS NOT NOWAIT NULL NUMBER OF OFFLINE ON ONLINE OPTION OR
    ORDER PCTFREE PRIOR PRIVILEGES PUBLIC RAW RENAME RESOURCE REVOKE ROW ROWID ROWNUM ROWS SELECT
    SESSION SET SHARE SIZE SMALLINT START SUCCESSFUL SYNONYM SYSDATE TABLE THEN TO TRIGGER UID UNION
    UNIQUE UPDATE USER VALIDATE VALUES VARCHAR VARCHAR2 VIEW WHENEVER WHERE WITH
    """.split()
)

FieldType = Literal["String", "Integer", "Double", "Date", "Boolean", "Clob"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChoiceOption(_Model):
    """One dropdown entry: the stored code and the label staff see."""

    code: str
    label: str = PydField(min_length=1, max_length=200)


class ChoiceList(_Model):
    name: str
    label: str
    options: tuple[ChoiceOption, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(o.code for o in self.options)

    def label_for(self, code: str) -> str:
        for option in self.options:
            if option.code == code:
                return option.label
        return code


class ChoiceEdit(_Model):
    """A district's edit of one dropdown (`[choices.<list>]` in ssp.toml)."""

    add: tuple[ChoiceOption, ...] = ()
    remove: tuple[str, ...] = ()


class Field(_Model):
    name: str
    type: FieldType
    length: int | None = None
    label: str
    choice: str | None = None
    multi: bool = False
    widget: Literal["time"] | None = None
    page: Literal["edit", "readonly", "hidden"] = "edit"
    shared: bool = True


class Table(_Model):
    name: str
    kind: Literal["child", "standalone"]
    label: str
    description: str = ""
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


class _Extension(_Model):
    group: str
    parent: str = "STUDENTS"


class _CatalogueFile(_Model):
    extension: _Extension
    tables: tuple[Table, ...]
    choices: dict[str, "_ChoiceFileEntry"]


class _ChoiceFileEntry(_Model):
    label: str
    options: tuple[ChoiceOption, ...]


_CatalogueFile.model_rebuild()


class Catalogue(_Model):
    """The validated catalogue, with the district's edits applied."""

    group: str
    parent: str
    tables: tuple[Table, ...]
    choices: dict[str, ChoiceList]
    source: str = ""

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"catalogue has no table {name}")

    def choice(self, name: str) -> ChoiceList:
        return self.choices[name]


@dataclass(frozen=True)
class PartnerChoice:
    """A partner as the `partner` dropdown shows it (from ssp.toml)."""

    id: str
    name: str


def load_catalogue(
    path: Path | None = None,
    *,
    edits: dict[str, ChoiceEdit] | None = None,
    partners: list[PartnerChoice] | tuple[PartnerChoice, ...] = (),
    edits_source: str = "ssp.toml",
) -> Catalogue:
    """Load, edit and validate the catalogue. Raises CatalogueError naming the file, key and rule."""
    if path is None:
        source = f"field_mappings/{DEFAULT_CATALOGUE}"
        text = resources.files("field_mappings").joinpath(DEFAULT_CATALOGUE).read_text("utf-8")
        raw = parse_toml(text, source)
    else:
        source = str(path)
        raw = read_toml(path)
    parsed = _validate_structure(raw, source)
    choices = {
        name: ChoiceList(name=name, label=entry.label, options=entry.options)
        for name, entry in parsed.choices.items()
    }
    for name, lst in choices.items():
        _check_choice_list(lst, source, f"choices.{name}", PACKAGED_CODE_PATTERN)
    if PARTNER_CHOICE in choices:
        raise CatalogueError(
            "the partner list comes from ssp.toml [[partners]]; do not define it here",
            file=source, key=f"choices.{PARTNER_CHOICE}",
        )
    choices[PARTNER_CHOICE] = ChoiceList(
        name=PARTNER_CHOICE,
        label="Partner",
        options=tuple(ChoiceOption(code=p.id, label=p.name) for p in partners),
    )
    for name, edit in (edits or {}).items():
        choices[name] = _apply_edit(choices, name, edit, edits_source)
    catalogue = Catalogue(
        group=parsed.extension.group,
        parent=parsed.extension.parent,
        tables=parsed.tables,
        choices=choices,
        source=source,
    )
    _check_schema(catalogue, source, edited=frozenset(edits or ()), edits_source=edits_source)
    return catalogue


def _validate_structure(raw: dict, source: str) -> _CatalogueFile:
    # Re-key choice entries so pydantic errors read `choices.purpose.options[2].code`.
    return validate_model(_CatalogueFile, raw, source)


def _apply_edit(choices: dict[str, ChoiceList], name: str, edit: ChoiceEdit, source: str) -> ChoiceList:
    key = f"choices.{name}"
    if name == PARTNER_CHOICE:
        raise CatalogueError("partners are edited in [[partners]], not here", file=source, key=key)
    if name not in choices:
        known = ", ".join(sorted(n for n in choices if n != PARTNER_CHOICE))
        raise CatalogueError(f"unknown choice list '{name}' (known: {known})", file=source, key=key)
    current = choices[name]
    existing = {c.lower() for c in current.codes}
    for code in edit.remove:
        if code.lower() not in existing:
            raise CatalogueError(
                f"cannot remove '{code}': not in the list ({', '.join(current.codes)})",
                file=source, key=f"{key}.remove",
            )
    removed = {c.lower() for c in edit.remove}
    kept = tuple(o for o in current.options if o.code.lower() not in removed)
    for i, option in enumerate(edit.add):
        if not CODE_PATTERN.match(option.code):
            raise CatalogueError(
                f"code '{option.code}' must match ^[A-Za-z0-9_]{{1,20}}$",
                file=source, key=f"{key}.add[{i}].code",
            )
    edited = ChoiceList(name=name, label=current.label, options=kept + tuple(edit.add))
    _check_choice_list(edited, source, key, PACKAGED_CODE_PATTERN)
    if not edited.options:
        raise CatalogueError("removing every option leaves an empty dropdown", file=source, key=key)
    return edited


def _check_choice_list(lst: ChoiceList, source: str, key: str, pattern: re.Pattern[str]) -> None:
    seen: dict[str, str] = {}
    for i, option in enumerate(lst.options):
        if not pattern.match(option.code):
            raise CatalogueError(
                f"code '{option.code}' must match {pattern.pattern}",
                file=source, key=f"{key}.options[{i}].code",
            )
        folded = option.code.lower()
        if folded in seen:
            raise CatalogueError(
                f"duplicate code '{option.code}' (same as '{seen[folded]}' ignoring case)",
                file=source, key=f"{key}.options[{i}].code",
            )
        seen[folded] = option.code


def _check_name(name: str, source: str, key: str, *, table: bool = False) -> None:
    if not NAME_PATTERN.match(name):
        raise CatalogueError(
            f"'{name}' must start with a letter and hold only letters, digits and _",
            file=source, key=key,
        )
    if len(name) > MAX_NAME:
        raise CatalogueError(
            f"'{name}' is {len(name)} characters; PowerSchool allows at most {MAX_NAME}",
            file=source, key=key,
        )
    if name.upper() in ORACLE_RESERVED_WORDS:
        raise CatalogueError(f"'{name}' is an Oracle reserved word", file=source, key=key)
    if table and not name.upper().startswith("U_"):
        raise CatalogueError(f"'{name}' must start with U_ (extension naming rule)", file=source, key=key)


def _check_schema(
    cat: Catalogue, source: str, *, edited: frozenset[str] = frozenset(), edits_source: str = ""
) -> None:
    _check_name(cat.group, source, "extension.group", table=True)
    _check_name(cat.parent, source, "extension.parent")
    table_names: set[str] = set()
    total_fields = 0
    reserved_columns = {"ID", f"{cat.parent.upper()}DCID", *TRACKING_COLUMNS}
    for ti, table in enumerate(cat.tables):
        tkey = f"tables[{ti}] ({table.name})"
        _check_name(table.name, source, f"{tkey}.name", table=True)
        if table.name.upper() in table_names:
            raise CatalogueError(f"duplicate table '{table.name}'", file=source, key=f"{tkey}.name")
        table_names.add(table.name.upper())
        if not table.fields:
            raise CatalogueError("a table needs at least one field", file=source, key=tkey)
        field_names: set[str] = set()
        for fi, field in enumerate(table.fields):
            fkey = f"{tkey}.fields[{fi}] ({field.name})"
            _check_field(cat, field, source, fkey, reserved_columns, field_names)
            if field.choice is not None:
                _check_choice_field(cat, field, source, fkey, edited, edits_source)
        total_fields += len(table.fields)
    if total_fields > MAX_FIELDS_PER_GROUP:
        raise CatalogueError(
            f"{total_fields} fields; PowerSchool allows at most {MAX_FIELDS_PER_GROUP} per extension group",
            file=source, key="tables",
        )


def _check_field(
    cat: Catalogue, field: Field, source: str, key: str, reserved: set[str], seen: set[str]
) -> None:
    _check_name(field.name, source, f"{key}.name")
    if field.name.upper() in reserved:
        raise CatalogueError(
            f"'{field.name}' is a column PowerSchool adds itself", file=source, key=f"{key}.name"
        )
    if field.name.upper() in seen:
        raise CatalogueError(f"duplicate field '{field.name}'", file=source, key=f"{key}.name")
    seen.add(field.name.upper())
    if field.type == "String":
        if field.length is None or not 1 <= field.length <= 4000:
            raise CatalogueError(
                f"String length must be between 1 and 4000, got {field.length}",
                file=source, key=f"{key}.length",
            )
    elif field.length is not None:
        raise CatalogueError(f"length applies to String fields only, not {field.type}",
                             file=source, key=f"{key}.length")
    if field.widget == "time" and (field.type != "String" or (field.length or 0) < 5):
        raise CatalogueError("a time field is a String of length 5 or more (HH:MM)",
                             file=source, key=f"{key}.widget")
    if field.multi and field.choice is None:
        raise CatalogueError("multi needs a choice list", file=source, key=f"{key}.multi")


def _check_choice_field(
    cat: Catalogue, field: Field, source: str, key: str, edited: frozenset[str], edits_source: str
) -> None:
    if field.choice not in cat.choices:
        raise CatalogueError(f"unknown choice list '{field.choice}'", file=source, key=f"{key}.choice")
    if field.type != "String":
        raise CatalogueError("a dropdown field must be a String", file=source, key=f"{key}.type")
    codes = cat.choices[field.choice].codes
    if not codes:
        return
    # Every possible value must fit: the longest code, or all codes comma-joined for a multichoice.
    need = len(",".join(codes)) if field.multi else max(len(c) for c in codes)
    assert field.length is not None
    if need <= field.length:
        return
    if field.choice in edited:  # the district's edit overflowed it: name their file and key
        raise CatalogueError(
            f"the edited list no longer fits {key} (String {field.length}, needs {need}): "
            "add fewer or shorter codes",
            file=edits_source, key=f"choices.{field.choice}.add",
        )
    raise CatalogueError(
        f"String length {field.length} cannot hold every value of '{field.choice}' (needs {need})",
        file=source, key=f"{key}.length",
    )

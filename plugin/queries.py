"""What the connector reads and writes in PowerSchool, declared once.

The plugin generator turns these definitions into `queries_root/*.named_queries.xml` and the
`<access_request>`; the connector calls the same queries and writes the same fields; the sandbox
runs the same SQL. Nothing here is listed twice by hand, so the plugin and the connector cannot
drift apart: a field the connector touches but the plugin does not request is impossible.

SQL is plain Oracle SQL with only `TO_CHAR`, `TO_DATE` and `NVL`, which the sandbox also
implements on SQLite. The streams are incremental on the extension table's `WHENMODIFIED` and
ordered by (WHENMODIFIED, ID) so pages are stable; the snapshot queries read, for a batch of
referral SSP_UIDs or student numbers, everything a consent decision depends on (the referral rows,
the student now, every consent for the partner), ordered by row ID so pages are stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from foundation.catalogue import Catalogue

__all__ = [
    "Arg",
    "Column",
    "Query",
    "AccessField",
    "connector_queries",
    "table_reads",
    "table_writes",
    "access_request",
    "STUDENT_IDENTITY",
    "TIMESTAMP_FORMAT",
    "CONSENT_PREFIX",
]

TIMESTAMP_FORMAT = "YYYY-MM-DD HH24:MI:SS"
"""Oracle format of the `since` argument and of every timestamp column the queries return."""

Access = Literal["ViewOnly", "FullAccess"]


@dataclass(frozen=True)
class Arg:
    """A PowerQuery argument. `column` only for a key argument compared with that column as is
    (shipped plugins put it on numeric keys such as `students.id`); a timestamp or cursor argument
    that the SQL parses with TO_DATE carries none, as in shipped connector plugins."""

    name: str
    column: str | None = None
    type: Literal["primitive", "array"] = "primitive"
    description: str = ""


@dataclass(frozen=True)
class Column:
    """One output column: `key` is the row key the connector reads (unique within the query)."""

    table: str
    field: str
    key: str
    kind: Literal["text", "date", "timestamp"] = "text"

    @property
    def alias(self) -> str:
        """The PowerQuery `<column>` text: `<table>.<key>` in lower case (letters, digits, _)."""
        return f"{self.table.lower()}.{self.key}"

    def select_expr(self, table_alias: str) -> str:
        ref = f"{table_alias}.{self.field}"
        if self.kind == "date":
            return f"TO_CHAR({ref}, 'YYYY-MM-DD')"
        if self.kind == "timestamp":
            return f"TO_CHAR({ref}, '{TIMESTAMP_FORMAT}')"
        return ref


@dataclass(frozen=True)
class AccessField:
    table: str
    field: str
    access: Access


@dataclass(frozen=True)
class Query:
    """A PowerQuery the connector calls, with everything needed to emit it and to check access."""

    name: str
    area: str
    summary: str
    description: str
    args: tuple[Arg, ...]
    columns: tuple[Column, ...]
    sql: str
    touches: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    core_table: str = "students"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)


# The student identity the connector may share (SPEC 5): what an outbound referral is built from.
STUDENT_IDENTITY: tuple[tuple[str, str, str], ...] = (
    # (field, key, kind)
    ("DCID", "student_dcid", "text"),
    ("STUDENT_NUMBER", "student_number", "text"),
    ("FIRST_NAME", "first_name", "text"),
    ("LAST_NAME", "last_name", "text"),
    ("DOB", "dob", "date"),
    ("GRADE_LEVEL", "grade_level", "text"),
    ("SCHOOLID", "schoolid", "text"),
    ("MOTHER", "mother", "text"),
    ("FATHER", "father", "text"),
    ("HOME_PHONE", "home_phone", "text"),
)

_DATE_TYPES = {"Date"}
# Fields that never leave the district, and personal fields the connector has no need to read.
_NOT_READ = {
    "U_SSP_VISITS": {"NOTES", "STAFF_NAME"},
    "U_SSP_REFERRALS": {"NOTES"},
    "U_SSP_CONSENTS": {"SIGNER_NAME", "DOCUMENT_REF"},
}


def _extension_columns(cat: Catalogue, table: str, prefix_key: str = "") -> list[Column]:
    t = cat.table(table)
    cols = [Column(table, "ID", "id"), Column(table, f"{cat.parent}DCID", "studentsdcid")]
    skip = _NOT_READ.get(table, set())
    for f in t.fields:
        if f.name in skip or not f.shared:
            continue
        kind = "date" if f.type in _DATE_TYPES else "text"
        cols.append(Column(table, f.name, prefix_key + f.name.lower(), kind))
    cols.append(Column(table, "WHENMODIFIED", "whenmodified", "timestamp"))
    return cols


def _select(columns: list[Column], aliases: dict[str, str]) -> str:
    return ",\n  ".join(f"{c.select_expr(aliases[c.table])} AS {c.key}" for c in columns)


def _incremental_query(
    cat: Catalogue, namespace: str, area: str, table: str, *, identity: bool, summary: str, description: str
) -> Query:
    ext = _extension_columns(cat, table)
    aliases = {table: "x", "STUDENTS": "s", "SCHOOLS": "sch"}
    if identity:
        student_cols = [Column("STUDENTS", f, k, kind) for f, k, kind in STUDENT_IDENTITY]  # type: ignore[arg-type]
        school_cols = [Column("SCHOOLS", "NAME", "school_name")]
        joins = (
            "JOIN STUDENTS s ON s.DCID = x.STUDENTSDCID\n"
            "LEFT JOIN SCHOOLS sch ON sch.SCHOOL_NUMBER = s.SCHOOLID"
        )
        extra_touch = {("SCHOOLS", "SCHOOL_NUMBER")}
    else:
        student_cols = [Column("STUDENTS", "DCID", "student_dcid"),
                        Column("STUDENTS", "STUDENT_NUMBER", "student_number")]
        school_cols = []
        joins = "JOIN STUDENTS s ON s.DCID = x.STUDENTSDCID"
        extra_touch = set()
    columns = ext + student_cols + school_cols
    sql = (
        f"SELECT\n  {_select(columns, aliases)}\nFROM {table} x\n{joins}\n"
        f"WHERE x.WHENMODIFIED >= TO_DATE(:since, '{TIMESTAMP_FORMAT}')\n"
        "ORDER BY x.WHENMODIFIED, x.ID"
    )
    touches = {(c.table, c.field) for c in columns} | extra_touch | {("STUDENTS", "DCID")}
    return Query(
        name=f"{namespace}.{area}.changed_since",
        area=area,
        summary=summary,
        description=description,
        args=(Arg("since",
                  description="rows modified at or after this time, 'YYYY-MM-DD HH:MM:SS'"),),
        columns=tuple(columns),
        sql=sql,
        touches=frozenset(touches),
    )


def _students_by_number(namespace: str) -> Query:
    columns = [Column("STUDENTS", "DCID", "student_dcid"),
               Column("STUDENTS", "STUDENT_NUMBER", "student_number"),
               Column("STUDENTS", "DOB", "dob", "date")]  # who may consent: the 18th birthday
    sql = (
        f"SELECT\n  {_select(columns, {'STUDENTS': 's'})}\nFROM STUDENTS s\n"
        "WHERE s.STUDENT_NUMBER IN (:student_numbers)\nORDER BY s.STUDENT_NUMBER"
    )
    return Query(
        name=f"{namespace}.students.dcid_by_number",
        area="students",
        summary="Student DCIDs for student numbers",
        description="Maps the student numbers on partner visit rows to STUDENTS.DCID, with the date "
        "of birth the consent rules need.",
        args=(Arg("student_numbers", "STUDENTS.STUDENT_NUMBER", "array",
                  "student numbers to look up"),),
        columns=tuple(columns),
        sql=sql,
        touches=frozenset({("STUDENTS", "DCID"), ("STUDENTS", "STUDENT_NUMBER"), ("STUDENTS", "DOB")}),
    )


CONSENT_PREFIX = "consent_"
"""Key prefix of the consent columns a snapshot query joins to each referral or student row."""


def _consent_columns(cat: Catalogue) -> list[Column]:
    """Every consent field a decision depends on, keyed `consent_<field>` (a LEFT JOIN: absent
    when the student has no consent for the partner)."""
    table = "U_SSP_CONSENTS"
    cols = [Column(table, "ID", f"{CONSENT_PREFIX}id"),
            Column(table, f"{cat.parent}DCID", f"{CONSENT_PREFIX}studentsdcid")]
    for f in cat.table(table).fields:
        if f.name in _NOT_READ[table] or not f.shared:
            continue
        kind = "date" if f.type in _DATE_TYPES else "text"
        key = CONSENT_PREFIX + f.name.lower()
        cols.append(Column(table, f.name, key, kind))  # type: ignore[arg-type]
    return cols


def _referral_snapshot(cat: Catalogue, namespace: str) -> Query:
    """The referral rows (every row carrying one of the SSP_UIDs, so a duplicate shows), the
    student as PowerSchool has it now, and every consent of that student for the referral's
    partner: all an outbound decision or an inbound status update depends on, in one read."""
    table, consents = "U_SSP_REFERRALS", "U_SSP_CONSENTS"
    stream = _incremental_query(
        cat, namespace, "referrals", table, identity=True, summary="", description=""
    )
    columns = [*stream.columns, *_consent_columns(cat)]
    aliases = {table: "x", "STUDENTS": "s", "SCHOOLS": "sch", consents: "c"}
    sql = (
        f"SELECT\n  {_select(columns, aliases)}\nFROM {table} x\n"
        "JOIN STUDENTS s ON s.DCID = x.STUDENTSDCID\n"
        "LEFT JOIN SCHOOLS sch ON sch.SCHOOL_NUMBER = s.SCHOOLID\n"
        "LEFT JOIN U_SSP_CONSENTS c\n"
        "  ON c.STUDENTSDCID = x.STUDENTSDCID AND c.PARTNER_ID = x.PARTNER_ID\n"
        "WHERE x.SSP_UID IN (:referral_uids)\n"
        "ORDER BY x.ID, c.ID"
    )
    touches = {(c.table, c.field) for c in columns} | {
        ("SCHOOLS", "SCHOOL_NUMBER"), ("STUDENTS", "DCID"), (table, "SSP_UID"),
        (table, "PARTNER_ID"), (table, "STUDENTSDCID"), (consents, "STUDENTSDCID"),
        (consents, "PARTNER_ID"),
    }
    return Query(
        name=f"{namespace}.referrals.snapshot",
        area="referral_snapshot",
        summary="Referrals, students and consents now",
        description="The referral rows with these SSP_UIDs, the student's identity, enrollment and "
        "guardian fields as they are now, and each of the student's consents for the referral's "
        "partner: what a disclosure is decided on, read just before it. NOTES are never read.",
        args=(Arg("referral_uids", f"{table}.SSP_UID", "array", "referral SSP_UIDs to read"),),
        columns=tuple(columns),
        sql=sql,
        touches=frozenset(touches),
    )


def _student_consent_snapshot(cat: Catalogue, namespace: str) -> Query:
    """Students by number with their date of birth and every consent for one partner: what a
    partner's visit rows are accepted on, read once per chunk of rows."""
    consents = "U_SSP_CONSENTS"
    columns = [Column("STUDENTS", "DCID", "student_dcid"),
               Column("STUDENTS", "STUDENT_NUMBER", "student_number"),
               Column("STUDENTS", "DOB", "dob", "date"), *_consent_columns(cat)]
    sql = (
        f"SELECT\n  {_select(columns, {'STUDENTS': 's', consents: 'c'})}\nFROM STUDENTS s\n"
        "LEFT JOIN U_SSP_CONSENTS c ON c.STUDENTSDCID = s.DCID AND c.PARTNER_ID = :partner_id\n"
        "WHERE s.STUDENT_NUMBER IN (:student_numbers)\n"
        "ORDER BY s.STUDENT_NUMBER, c.ID"
    )
    touches = {(c.table, c.field) for c in columns}
    touches |= {(consents, "STUDENTSDCID"), (consents, "PARTNER_ID")}
    return Query(
        name=f"{namespace}.students.consent_snapshot",
        area="student_consent_snapshot",
        summary="Students and their consents for a partner now",
        description="Student DCIDs and dates of birth for student numbers, each with every consent "
        "the student has for :partner_id, read just before a partner's rows are accepted.",
        args=(
            Arg("student_numbers", "STUDENTS.STUDENT_NUMBER", "array", "student numbers to look up"),
            Arg("partner_id", f"{consents}.PARTNER_ID",
                description="the partner whose consents to read"),
        ),
        columns=tuple(columns),
        sql=sql,
        touches=frozenset(touches),
    )


def _disclosures_of_student(cat: Catalogue, namespace: str) -> Query:
    """One student's 99.32 record as PowerSchool keeps it, with the partner directory's names.

    Read from STUDENTS outward (LEFT JOINs), so a known student with no disclosure still returns
    one row (the student's, with empty disclosure columns) and an unknown student number returns
    none: one request tells "none" from "no such student"."""
    disclosures = cat.table("U_SSP_DISCLOSURES")
    student_cols = [Column("STUDENTS", "DCID", "student_dcid"),
                    Column("STUDENTS", "STUDENT_NUMBER", "student_number")]
    record_cols = [Column("U_SSP_DISCLOSURES", "ID", "id")] + [
        Column("U_SSP_DISCLOSURES", f.name, f.name.lower()) for f in disclosures.fields
    ]
    partner_cols = [Column("U_SSP_PARTNERS", "NAME", "partner_name")]
    columns = student_cols + record_cols + partner_cols
    aliases = {"STUDENTS": "s", "U_SSP_DISCLOSURES": "d", "U_SSP_PARTNERS": "p"}
    sql = (
        f"SELECT\n  {_select(columns, aliases)}\nFROM STUDENTS s\n"
        f"LEFT JOIN U_SSP_DISCLOSURES d ON d.{cat.parent}DCID = s.DCID\n"
        "LEFT JOIN U_SSP_PARTNERS p ON p.PARTNER_ID = d.PARTNER_ID\n"
        "WHERE s.STUDENT_NUMBER = :student_number\n"
        "ORDER BY d.DISCLOSED_AT, d.SSP_UID, p.ID"
    )
    touches = {(c.table, c.field) for c in columns} | {
        ("U_SSP_DISCLOSURES", f"{cat.parent}DCID"),
        ("U_SSP_PARTNERS", "PARTNER_ID"),
        ("U_SSP_PARTNERS", "ID"),
    }
    return Query(
        name=f"{namespace}.disclosures.for_student",
        area="disclosures",
        summary="A student's record of disclosures",
        description="The FERPA 34 CFR 99.32 record of one student (by student number), with the "
        "partner's name from the partner directory. A known student without disclosures gives "
        "one row with empty disclosure columns; an unknown student number gives no row.",
        args=(Arg("student_number", "STUDENTS.STUDENT_NUMBER",
                  description="the student's student number"),),
        columns=tuple(columns),
        sql=sql,
        touches=frozenset(touches),
    )


def connector_queries(cat: Catalogue, namespace: str) -> tuple[Query, ...]:
    """Every PowerQuery the connector calls, named under the district's `query_namespace`."""
    return (
        _incremental_query(
            cat, namespace, "referrals", "U_SSP_REFERRALS", identity=True,
            summary="Referrals changed since a time",
            description="Referrals modified since :since, with the student identity, enrollment and "
            "guardian fields an outbound referral may carry. NOTES are never read.",
        ),
        _incremental_query(
            cat, namespace, "consents", "U_SSP_CONSENTS", identity=False,
            summary="Consents changed since a time",
            description="Consents for release of information modified since :since.",
        ),
        _incremental_query(
            cat, namespace, "visits", "U_SSP_VISITS", identity=False,
            summary="Support visits changed since a time",
            description="Support visits modified since :since (no staff names, no notes).",
        ),
        _students_by_number(namespace),
        _referral_snapshot(cat, namespace),
        _student_consent_snapshot(cat, namespace),
        _disclosures_of_student(cat, namespace),
    )


def table_reads(cat: Catalogue) -> dict[str, tuple[str, ...]]:
    """Fields read directly through GET /ws/schema/table/{table}.

    The partner directory is read whole; for the tables the connector inserts into, the row ID is
    looked up by SSP_UID after an ambiguous failure, so a retried insert never duplicates a row.
    """
    partners = cat.table("U_SSP_PARTNERS")
    return {
        partners.name: ("ID", *partners.field_names),
        "U_SSP_VISITS": ("ID", "SSP_UID"),
        "U_SSP_DISCLOSURES": ("ID", "SSP_UID"),
    }


def table_writes(cat: Catalogue) -> dict[str, tuple[str, ...]]:
    """Fields the connector writes through POST/PUT /ws/schema/table/{table} (need FullAccess)."""
    parent_dcid = f"{cat.parent}DCID"
    return {
        "U_SSP_REFERRALS": ("SSP_UID", "STATUS", "STATUS_DATE", "STATUS_REASON",
                            "FIRST_SERVICE_DATE", "ACCESS_RESULT", "LAST_SENT"),
        "U_SSP_VISITS": (parent_dcid, "SSP_UID", "VISIT_DATE", "TIME_IN", "TIME_OUT", "STAFF_NAME",
                         "STAFF_ROLE", "PURPOSE", "SERVICES", "SOURCE", "PARTNER_VISIT_ID"),
        "U_SSP_CONSENTS": ("SSP_UID",),
        "U_SSP_DISCLOSURES": (parent_dcid, *cat.table("U_SSP_DISCLOSURES").field_names),
        "U_SSP_PARTNERS": cat.table("U_SSP_PARTNERS").field_names,
    }


def access_request(cat: Catalogue, namespace: str) -> tuple[AccessField, ...]:
    """The least-privilege access request: exactly what the queries and writes touch.

    ViewOnly for what is only read, FullAccess for what is written; sorted for a stable plugin.xml.
    """
    access: dict[tuple[str, str], Access] = {}
    for query in connector_queries(cat, namespace):
        for key in query.touches:
            access.setdefault(key, "ViewOnly")
    for table, fields in table_reads(cat).items():
        for f in fields:
            access.setdefault((table, f), "ViewOnly")
    for table, fields in table_writes(cat).items():
        for f in fields:
            access[(table, f)] = "FullAccess"
    return tuple(AccessField(t, f, a) for (t, f), a in sorted(access.items()))

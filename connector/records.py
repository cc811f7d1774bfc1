"""Canonical exchange records (SPEC section 5): what flows between the district and a partner.

Partner mappings translate a partner's own columns and codes to and from these; the policy decides
on them; the engine writes them to PowerSchool or to a feed. Column tuples give the canonical CSV
order used by the `generic` mapping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = [
    "OUTBOUND_REFERRAL_COLUMNS",
    "ALWAYS_SENT_COLUMNS",
    "CATEGORY_COLUMNS",
    "REVOCATION_COLUMNS",
    "STATUS_UPDATE_COLUMNS",
    "VISIT_COLUMNS",
    "OutboundReferral",
    "Revocation",
    "StatusUpdate",
    "PartnerVisit",
    "Provenance",
    "REDISCLOSURE_NOTICE",
]

ALWAYS_SENT_COLUMNS = ("referral_id", "referral_date", "partner_id", "consent_id", "consent_expires")
CATEGORY_COLUMNS: dict[str, tuple[str, ...]] = {
    "identity": ("student_number", "first_name", "last_name", "date_of_birth"),
    "enrollment": ("school_name", "grade"),
    "guardian_contact": ("guardian_name", "guardian_phone"),
    "referral": ("reason_codes", "urgency", "referred_by"),
}
OUTBOUND_REFERRAL_COLUMNS = (
    "referral_id", "referral_date", "partner_id", "student_number", "first_name", "last_name",
    "date_of_birth", "school_name", "grade", "guardian_name", "guardian_phone", "reason_codes",
    "urgency", "referred_by", "consent_id", "consent_expires",
)
REVOCATION_COLUMNS = ("referral_id", "partner_id", "consent_id", "revoked_date", "instruction")
STATUS_UPDATE_COLUMNS = ("referral_id", "status", "status_date", "first_service_date", "status_reason")
VISIT_COLUMNS = (
    "partner_visit_id", "student_number", "referral_id", "visit_date", "time_in", "time_out",
    "service_codes", "purpose_code", "clinician_name",
)

REDISCLOSURE_NOTICE = (
    "NOTICE OF LIMITS ON REDISCLOSURE (34 CFR 99.33; 45 CFR 164.508; 42 CFR Part 2 where it applies). "
    "The information in this file is disclosed from a student's education records with the prior "
    "written consent of the parent or eligible student. It may be used only for the purpose for "
    "which the disclosure was made, and the recipient may not disclose it to any other party "
    "without the prior written consent of the parent or eligible student, except as the law allows."
)


@dataclass(frozen=True)
class Provenance:
    """Where an inbound record came from: enough to quarantine it and to name it in an error."""

    partner_id: str
    source: str  # file name or API endpoint
    row: int  # 1-based data row number (header is row 0)
    raw: dict[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class OutboundReferral:
    """A referral as sent to a partner. Columns of a category not allowed are empty strings."""

    referral_id: str
    referral_date: str
    partner_id: str
    consent_id: str
    consent_expires: str
    student_number: str = ""
    first_name: str = ""
    last_name: str = ""
    date_of_birth: str = ""
    school_name: str = ""
    grade: str = ""
    guardian_name: str = ""
    guardian_phone: str = ""
    reason_codes: str = ""
    urgency: str = ""
    referred_by: str = ""

    def as_row(self) -> dict[str, str]:
        return {c: getattr(self, c) for c in OUTBOUND_REFERRAL_COLUMNS}

    def __repr__(self) -> str:  # never print personal data
        return f"OutboundReferral(referral_id={self.referral_id!r}, partner_id={self.partner_id!r})"


@dataclass(frozen=True)
class Revocation:
    referral_id: str
    partner_id: str
    consent_id: str
    revoked_date: str
    instruction: str = (
        "Consent revoked: make no further disclosures under it; records already received may be "
        "kept only as the law requires."
    )

    def as_row(self) -> dict[str, str]:
        return {c: getattr(self, c) for c in REVOCATION_COLUMNS}


@dataclass(frozen=True)
class StatusUpdate:
    referral_id: str
    status: str  # canonical status code (SPEC 5)
    status_date: dt.date
    first_service_date: dt.date | None
    status_reason: str
    provenance: Provenance

    def __repr__(self) -> str:  # status_reason is partner free text: keep it out of logs
        return f"StatusUpdate(referral_id={self.referral_id!r}, status={self.status!r})"


@dataclass(frozen=True)
class PartnerVisit:
    partner_visit_id: str
    student_number: str
    referral_id: str
    visit_date: dt.date
    time_in: str  # HH:MM or ""
    time_out: str
    service_codes: tuple[str, ...]
    purpose_code: str
    clinician_name: str
    provenance: Provenance

    def __repr__(self) -> str:
        return f"PartnerVisit(partner_visit_id={self.partner_visit_id!r})"

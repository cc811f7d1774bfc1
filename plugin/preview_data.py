"""The preview's example records: one fictional student whose records agree with each other.

Visits come before the referrals made at them, a referral's first service is a visit the partner
reported, consents are signed before anything is disclosed under them, an "eligible student"
signs with the student's own name, a revoked consent is not shown as active. Codes that a
district removed from its dropdowns are replaced by the list's first code; unknown fields stay
empty. Every value is a stored value (codes, ISO dates); plugin.preview formats them the way
PowerSchool would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping

from foundation.catalogue import Catalogue

__all__ = ["PREVIEW_TODAY", "STUDENT_NAME", "example_records", "uid"]

PREVIEW_TODAY = dt.date(2026, 10, 1)
"""The date the preview pretends it is (SYSDATE in the landing page's queries)."""
STUDENT_NAME = "Preview Student (example)"
_NAMESPACE = uuid.UUID("5d0c8f0e-3f6a-4c8e-9a51-6a1f4e1b2c3d")

Record = dict[str, str]


def uid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def _visits(p0: str) -> list[Record]:
    return [
        {
            "SSP_UID": uid("visit", 1),
            "VISIT_DATE": "2026-09-08",
            "TIME_IN": "09:15",
            "TIME_OUT": "09:45",
            "STAFF_NAME": "J. Rivera",
            "STAFF_ROLE": "counselor",
            "PURPOSE": "check_in",
            "SERVICES": "individual_counseling,referral_made",
            "TIER": "2",
            "REFERRAL_MADE": "1",
            "SOURCE": "school",
            "NOTES": "Example note (never shared).",
        },
        {
            "SSP_UID": uid("visit", 2),
            "VISIT_DATE": "2026-09-14",
            "TIME_IN": "13:40",
            "TIME_OUT": "14:25",
            "STAFF_NAME": "K. Osei",
            "STAFF_ROLE": "social_worker",
            "PURPOSE": "family_concern",
            "SERVICES": "family_contact,case_management,referral_made",
            "TIER": "2",
            "REFERRAL_MADE": "1",
            "SOURCE": "school",
        },
        {
            "SSP_UID": uid("visit", 3),
            "VISIT_DATE": "2026-09-21",
            "TIME_IN": "10:00",
            "TIME_OUT": "10:50",
            "STAFF_NAME": "L. Moreno",
            "STAFF_ROLE": "partner_clinician",
            "PURPOSE": "follow_up",
            "SERVICES": "individual_counseling",
            "TIER": "3",
            "SOURCE": f"partner:{p0}",
            "PARTNER_VISIT_ID": "v-1042",
        },
    ]


def _referrals(p0: str, p1: str) -> list[Record]:
    return [
        {
            "SSP_UID": uid("referral", 1),
            "REFERRAL_DATE": "2026-09-08",
            "REFERRED_BY": "J. Rivera",
            "REFERRAL_TYPE": "community",
            "PARTNER_ID": p0,
            "REASON": "anxiety,family_stress",
            "URGENCY": "routine",
            "VISIT_UID": uid("visit", 1),
            "STATUS": "in_service",
            "STATUS_DATE": "2026-09-21",
            "STATUS_REASON": "First session held",
            "FIRST_SERVICE_DATE": "2026-09-21",
            "ACCESS_RESULT": "yes",
            "LAST_SENT": "2026-09-09 04:15:02",
        },
        {
            "SSP_UID": uid("referral", 2),
            "REFERRAL_DATE": "2026-09-14",
            "REFERRED_BY": "K. Osei",
            "REFERRAL_TYPE": "community",
            "PARTNER_ID": p1,
            "REASON": "grief",
            "URGENCY": "urgent",
            "VISIT_UID": uid("visit", 2),
            "STATUS": "sent",
            "STATUS_DATE": "2026-09-15",
            "ACCESS_RESULT": "pending",
            "LAST_SENT": "2026-09-15 04:15:03",
            "NOTES": "Family asked for an afternoon appointment.",
        },
    ]


def _consents(p0: str, p1: str) -> list[Record]:
    return [
        {
            "SSP_UID": uid("consent", 1),
            "PARTNER_ID": p0,
            "DIRECTION": "both",
            "DATA_CATEGORIES": "identity,enrollment,referral,referral_status,visit_summary",
            "PURPOSE": "Coordinate counseling services",
            "SIGNER_TYPE": "parent_guardian",
            "SIGNER_NAME": "A. Parent (example)",
            "SIGNED_DATE": "2026-09-03",
            "EFFECTIVE_DATE": "2026-09-03",
            "EXPIRATION_DATE": "2027-06-30",
            "FORM_VERSION": "ssp-c-en-1",
            "DOCUMENT_REF": "consent-0001.pdf",
        },
        {
            "SSP_UID": uid("consent", 2),
            "PARTNER_ID": p1,
            "DIRECTION": "to_partner",
            "DATA_CATEGORIES": "identity,referral",
            "PURPOSE": "Referral for grief counseling",
            "SIGNER_TYPE": "eligible_student",
            "SIGNER_NAME": STUDENT_NAME,
            "SIGNED_DATE": "2026-09-14",
            "EFFECTIVE_DATE": "2026-09-14",
            "EXPIRATION_DATE": "2027-06-30",
            "FORM_VERSION": "ssp-c-en-1",
            "DOCUMENT_REF": "consent-0002.pdf",
        },
        {
            "SSP_UID": uid("consent", 3),
            "PARTNER_ID": p1,
            "DIRECTION": "to_partner",
            "DATA_CATEGORIES": "identity,referral",
            "PURPOSE": "Earlier referral (revoked)",
            "SIGNER_TYPE": "parent_guardian",
            "SIGNER_NAME": "A. Parent (example)",
            "SIGNED_DATE": "2026-02-02",
            "EFFECTIVE_DATE": "2026-02-02",
            "EXPIRATION_DATE": "2026-08-31",
            "REVOKED_DATE": "2026-05-15",
            "FORM_VERSION": "ssp-c-en-1",
            "DOCUMENT_REF": "consent-0000.pdf",
        },
    ]


def _disclosures(p0: str, p1: str) -> list[Record]:
    return [
        {
            "SSP_UID": uid("disclosure", 3),
            "DISCLOSED_AT": "2026-09-22 04:15:04",
            "PARTNER_ID": p0,
            "DIRECTION": "from_partner",
            "DATA_CATEGORIES": "referral_status,visit_summary",
            "PURPOSE": "Coordinate counseling services",
            "LEGAL_BASIS": f"consent:{uid('consent', 1)}",
            "REFERRAL_UID": uid("referral", 1),
            "RUN_ID": uid("run", 3),
        },
        {
            "SSP_UID": uid("disclosure", 2),
            "DISCLOSED_AT": "2026-09-15 04:15:03",
            "PARTNER_ID": p1,
            "DIRECTION": "to_partner",
            "DATA_CATEGORIES": "identity,referral",
            "PURPOSE": "Referral for grief counseling",
            "LEGAL_BASIS": f"consent:{uid('consent', 2)}",
            "REFERRAL_UID": uid("referral", 2),
            "RUN_ID": uid("run", 2),
        },
        {
            "SSP_UID": uid("disclosure", 1),
            "DISCLOSED_AT": "2026-09-09 04:15:02",
            "PARTNER_ID": p0,
            "DIRECTION": "to_partner",
            "DATA_CATEGORIES": "identity,enrollment,referral",
            "PURPOSE": "Coordinate counseling services",
            "LEGAL_BASIS": f"consent:{uid('consent', 1)}",
            "REFERRAL_UID": uid("referral", 1),
            "RUN_ID": uid("run", 1),
        },
    ]


def _fit(cat: Catalogue, table: str, record: Mapping[str, str]) -> Record:
    """Keep only the table's fields; codes a district removed become the list's first code."""
    out: Record = {}
    for f in cat.table(table).fields:
        value = record.get(f.name, "")
        if value and f.choice:
            codes = cat.choice(f.choice).codes
            if not codes:
                value = ""
            elif f.multi:
                kept = [c for c in value.split(",") if c in codes]
                value = ",".join(kept or [codes[0]])
            elif value not in codes:
                value = codes[0]
        out[f.name] = value
    return out


def example_records(cat: Catalogue) -> dict[str, list[Record]]:
    """Table name -> example rows (stored values), for the grids and the read-only lists."""
    partners = cat.choice("partner").codes or ("partner",)
    p0, p1 = partners[0], partners[1 % len(partners)]
    raw = {
        "U_SSP_VISITS": _visits(p0),
        "U_SSP_REFERRALS": _referrals(p0, p1),
        "U_SSP_CONSENTS": _consents(p0, p1),
        "U_SSP_DISCLOSURES": _disclosures(p0, p1),
    }
    return {table: [_fit(cat, table, r) for r in rows] for table, rows in raw.items()}

"""Building what leaves the district: outbound referral rows with only the allowed categories.

Pure functions: the engine decides with `connector.policy`, then calls these to shape the record.
A category that the MOU or the consent does not allow is left as empty columns, never filled.
"""

from __future__ import annotations

import hashlib
import json
import uuid

from connector.records import ALWAYS_SENT_COLUMNS, CATEGORY_COLUMNS, OutboundReferral

__all__ = ["build_outbound_referral", "record_hash", "stable_uid", "SSP_NAMESPACE"]

SSP_NAMESPACE = uuid.UUID("6b0f3c52-9a51-4c0e-8d67-5f1d2a9e7c11")
"""Namespace for deterministic UUIDs, so a rerun after a crash derives the same identities."""


def stable_uid(*parts: str) -> str:
    """A UUID derived from `parts`: the same inputs always give the same record identity."""
    return str(uuid.uuid5(SSP_NAMESPACE, "\x1f".join(parts)))


def record_hash(row: dict[str, str]) -> str:
    """Content hash of a record, independent of key order."""
    return hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _guardian(row: dict[str, str]) -> str:
    return (row.get("mother") or "").strip() or (row.get("father") or "").strip()


def build_outbound_referral(
    referral: dict[str, str], *, categories: frozenset[str], consent_id: str, consent_expires: str
) -> OutboundReferral:
    """Shape a referral row from the connector's referrals query into what the partner receives."""
    values: dict[str, str] = {
        "referral_id": referral["ssp_uid"],
        "referral_date": referral.get("referral_date", ""),
        "partner_id": referral.get("partner_id", ""),
        "consent_id": consent_id,
        "consent_expires": consent_expires,
    }
    available = {
        "student_number": referral.get("student_number", ""),
        "first_name": referral.get("first_name", ""),
        "last_name": referral.get("last_name", ""),
        "date_of_birth": referral.get("dob", ""),
        "school_name": referral.get("school_name", ""),
        "grade": referral.get("grade_level", ""),
        "guardian_name": _guardian(referral),
        "guardian_phone": referral.get("home_phone", ""),
        "reason_codes": referral.get("reason", ""),
        "urgency": referral.get("urgency", ""),
        "referred_by": referral.get("referred_by", ""),
    }
    for category, columns in CATEGORY_COLUMNS.items():
        if category in categories:
            for column in columns:
                values[column] = (available[column] or "").strip()
    assert set(ALWAYS_SENT_COLUMNS) <= values.keys()
    return OutboundReferral(**values)

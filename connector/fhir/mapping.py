"""Our canonical records <-> FHIR R4 resources of the SDOH Clinical Care referral pattern.

The one place where the mapping lives (docs/partner-formats.md shows it as a table):

- outbound, a referral the consent gate allowed becomes one transaction Bundle: Organization
  (district, partner), Patient, RelatedPerson (guardian, only with `guardian_contact`), Consent,
  ServiceRequest and Task, each a conditional create keyed by our identifiers, so a Bundle posted
  again after a crash creates nothing new;
- a revocation marks the Consent `inactive`, cancels the Task and revokes the ServiceRequest;
- inbound, a Task becomes a canonical status update row and a Procedure a canonical visit row,
  which the partner's mapping file then parses exactly like a CSV row (codes translated, dates
  checked, quarantined with a reason when wrong).

Pure functions over plain dicts (the JSON as sent and received): no I/O. References that need a
look-up on the partner's server (a Task's focus, a Procedure's subject) go through `resolve`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from connector.fhir.codes import (
    CONSENT_ACTION,
    CONSENT_POLICY,
    CONSENT_SCOPE,
    POLICY_URIS,
    PROFILE,
    REFERRAL_TASK_STATUSES,
    SDOHCC_TEMPORARY_CODES,
    TASK_CODE,
    V3_ACT_CODE,
    V3_ACT_REASON,
    V3_PARTICIPATION,
    V3_ROLE_CODE,
    Systems,
)
from foundation.errors import RecordError

__all__ = [
    "ConsentFacts",
    "Parties",
    "referral_bundle",
    "revoked_consent",
    "cancelled_task",
    "revoked_service_request",
    "task_status_row",
    "procedure_visit_row",
    "BUSINESS_STATUS",
    "Resolver",
]

Resource = dict[str, Any]
Resolver = Callable[[str], Resource | None]
"""Reads a reference ("ServiceRequest/12") on the partner's server; None when it is not there."""

# Our statuses that FHIR's Task.status cannot tell apart travel in Task.businessStatus.
BUSINESS_STATUS: Mapping[str, str] = {
    "received": "received",
    "scheduled": "scheduled",
    "attended": "attended",
    "in_service": "in-service",
    "unable_to_contact": "unable-to-contact",
}
_FROM_BUSINESS = {code: ours for ours, code in BUSINESS_STATUS.items()}
# Task.status -> our status when no businessStatus of ours says more. `requested` is what we
# wrote ourselves, `on-hold` says nothing new: neither is a status update.
_FROM_TASK_STATUS: Mapping[str, str | None] = {
    "requested": None,
    "on-hold": None,
    "accepted": "accepted",
    "rejected": "declined",
    "in-progress": "attended",
    "completed": "completed",
    "failed": "unable_to_contact",
    "cancelled": "cancelled",
}
_PRIORITY = {"routine": "routine", "urgent": "urgent", "crisis": "stat"}
_NAMESPACE = uuid.UUID("2f6b0c1e-7d43-4e0b-9a55-0c6f3b1d8e21")


def _urn(*parts: str) -> str:
    """A stable `urn:uuid:` for a Bundle entry: the same referral always gives the same Bundle."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, chr(31).join(parts))}"


@dataclass(frozen=True)
class ConsentFacts:
    """The signed release a referral goes out under, as read from U_SSP_CONSENTS at send time."""

    consent_id: str
    signed: str  # YYYY-MM-DD
    effective: str
    expires: str  # as sent: the earlier of the consent's expiration and the MOU's end
    signer_type: str  # parent_guardian, eligible_student, minor_self, legal_representative
    direction: str  # to_partner or both
    categories: tuple[str, ...]
    form_version: str = ""
    document_ref: str = ""


@dataclass(frozen=True)
class Parties:
    """Who sends and who receives, and how the district names things."""

    systems: Systems
    district_id: str  # the district's query namespace: its Organization identifier
    district_name: str
    partner_id: str
    partner_name: str
    # ServiceRequest.code (1..1, US Core Procedure Codes): agreed with each partner.
    service_request_code: Mapping[str, Any] = field(
        default_factory=lambda: {"text": "Referral to community behavioral health services"}
    )


def _identifier(system: str, value: str) -> dict[str, str]:
    return {"system": system, "value": value}


def _entry(full_url: str, resource: Resource, system: str, value: str) -> Resource:
    kind = resource["resourceType"]
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": kind, "ifNoneExist": f"identifier={system}|{value}"},
    }


def _codes(row: Mapping[str, str], column: str) -> list[str]:
    return [c.strip() for c in (row.get(column) or "").split(",") if c.strip()]


def _require(row: Mapping[str, str], *columns: str) -> None:
    missing = [c for c in columns if not (row.get(c) or "").strip()]
    if missing:
        raise RecordError(
            f"a FHIR referral needs {', '.join(missing)} (identity and referral categories)",
            field=missing[0],
        )


def referral_bundle(row: Mapping[str, str], consent: ConsentFacts, parties: Parties) -> Resource:
    """One outbound referral row (only the allowed categories filled) -> a transaction Bundle."""
    _require(row, "referral_id", "referral_date", "student_number", "last_name", "date_of_birth")
    sys_ = parties.systems
    rid = row["referral_id"]
    urls = {
        name: _urn(rid, name)
        for name in ("district", "partner", "patient", "guardian", "consent", "request", "task")
    }
    district = {
        "resourceType": "Organization",
        "identifier": [_identifier(sys_.organization, parties.district_id)],
        "name": parties.district_name,
    }
    partner = {
        "resourceType": "Organization",
        "identifier": [_identifier(sys_.organization, parties.partner_id)],
        "name": parties.partner_name,
    }
    patient = _patient(row, sys_)
    entries = [
        _entry(urls["district"], district, sys_.organization, parties.district_id),
        _entry(urls["partner"], partner, sys_.organization, parties.partner_id),
        _entry(urls["patient"], patient, sys_.student_number, row["student_number"]),
    ]
    guardian = _guardian(row, sys_, urls["patient"])
    if guardian is not None:
        entries.append(_entry(urls["guardian"], guardian, sys_.guardian, f"{rid}/guardian"))
    entries.append(
        _entry(
            urls["consent"],
            _consent(consent, parties, urls, with_guardian=guardian is not None),
            sys_.consent_id,
            consent.consent_id,
        )
    )
    entries.append(
        _entry(urls["request"], _service_request(row, parties, urls), sys_.referral_id, rid)
    )
    entries.append(_entry(urls["task"], _task(row, parties, urls), sys_.referral_id, rid))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _patient(row: Mapping[str, str], sys_: Systems) -> Resource:
    name: dict[str, Any] = {"family": row["last_name"].strip()}
    if (row.get("first_name") or "").strip():
        name["given"] = [row["first_name"].strip()]
    patient: Resource = {
        "resourceType": "Patient",
        "identifier": [_identifier(sys_.student_number, row["student_number"].strip())],
        "name": [name],
        # US Core Patient needs a gender; the district shares none, so it says so.
        "gender": "unknown",
        "birthDate": row["date_of_birth"].strip(),
    }
    enrollment = [
        {"url": sys_.extension(url), "valueString": row[column].strip()}
        for column, url in (("school_name", "school-name"), ("grade", "grade-level"))
        if (row.get(column) or "").strip()
    ]
    if enrollment:  # only when the MOU and the consent allow `enrollment`
        patient["extension"] = enrollment
    return patient


def _guardian(row: Mapping[str, str], sys_: Systems, patient_url: str) -> Resource | None:
    name, phone = (
        (row.get("guardian_name") or "").strip(),
        (row.get("guardian_phone") or "").strip(),
    )
    if not name and not phone:  # `guardian_contact` not allowed, or nothing on file
        return None
    person: Resource = {
        "resourceType": "RelatedPerson",
        "identifier": [_identifier(sys_.guardian, f"{row['referral_id']}/guardian")],
        "patient": {"reference": patient_url},
        "relationship": [{"coding": [{"system": V3_ROLE_CODE, "code": "GUARD"}]}],
    }
    if name:
        person["name"] = [{"text": name}]
    if phone:
        person["telecom"] = [{"system": "phone", "value": phone}]
    return person


def _consent(
    consent: ConsentFacts, parties: Parties, urls: Mapping[str, str], *, with_guardian: bool
) -> Resource:
    sys_ = parties.systems
    if consent.signer_type in ("eligible_student", "minor_self"):
        performer = {"reference": urls["patient"]}
    elif with_guardian:
        performer = {"reference": urls["guardian"]}
    else:  # the signer's name is never sent without guardian_contact: say who, not which
        performer = {"display": consent.signer_type.replace("_", " ")}
    source = f"Consent for Release of Information {consent.consent_id}"
    if consent.form_version:
        source += f", form {consent.form_version}"
    if consent.document_ref:
        source += f", signed copy {consent.document_ref}"
    partner_actor = [
        {
            "role": {"coding": [{"system": V3_PARTICIPATION, "code": "IRCP"}]},
            "reference": {"reference": urls["partner"]},
        }
    ]
    actions = {
        "to_partner": ["disclose"],
        "from_partner": ["collect"],
        "both": ["disclose", "collect"],
    }
    return {
        "resourceType": "Consent",
        "meta": {"profile": [PROFILE["Consent"]]},
        "identifier": [_identifier(sys_.consent_id, consent.consent_id)],
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": V3_ACT_CODE, "code": "IDSCL"}]}],
        "patient": {"reference": urls["patient"]},
        "dateTime": consent.signed,
        "performer": [performer],
        "organization": [{"reference": urls["district"]}],
        "sourceAttachment": {"title": source},
        "policy": [{"uri": uri} for uri in POLICY_URIS],
        "policyRule": {"coding": [{"system": CONSENT_POLICY, "code": "hipaa-auth"}]},
        "provision": {
            "type": "permit",
            "period": {"start": consent.effective, "end": consent.expires},
            "purpose": [{"system": V3_ACT_REASON, "code": "TREAT"}],
            "provision": [
                {
                    "type": "permit",
                    "action": [{"coding": [{"system": CONSENT_ACTION, "code": action}]}],
                    "actor": partner_actor,
                    "code": [
                        {"coding": [{"system": sys_.data_category, "code": category}]}
                        for category in consent.categories
                    ],
                }
                for action in actions.get(consent.direction, ["disclose"])
            ],
        },
    }


def _service_request(row: Mapping[str, str], parties: Parties, urls: Mapping[str, str]) -> Resource:
    sys_ = parties.systems
    request: Resource = {
        "resourceType": "ServiceRequest",
        "meta": {"profile": [PROFILE["ServiceRequest"]]},
        "identifier": [_identifier(sys_.referral_id, row["referral_id"])],
        "status": "active",
        "intent": "order",
        # No SDOH category covers behavioural health: the IG's escape hatch, with a text.
        "category": [
            {
                "coding": [{"system": SDOHCC_TEMPORARY_CODES, "code": "sdoh-category-unspecified"}],
                "text": "Student behavioral health and social-emotional support",
            }
        ],
        "code": dict(parties.service_request_code),
        "subject": {"reference": urls["patient"]},
        "authoredOn": row["referral_date"],
        "requester": {"reference": urls["district"]},
        "performer": [{"reference": urls["partner"]}],
        "supportingInfo": [{"reference": urls["consent"]}],
    }
    priority = _PRIORITY.get((row.get("urgency") or "").strip())
    if priority:
        request["priority"] = priority
    reasons = _codes(row, "reason_codes")
    if reasons:
        system = sys_.choice_list("referral_reason")
        request["reasonCode"] = [
            {"coding": [{"system": system, "code": code}], "text": code.replace("_", " ")}
            for code in reasons
        ]
    if (row.get("referred_by") or "").strip():
        request["note"] = [{"text": f"Referred by {row['referred_by'].strip()}"}]
    return request


def _task(row: Mapping[str, str], parties: Parties, urls: Mapping[str, str]) -> Resource:
    task: Resource = {
        "resourceType": "Task",
        "meta": {"profile": [PROFILE["Task"]]},
        "identifier": [_identifier(parties.systems.referral_id, row["referral_id"])],
        "status": "requested",
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
        "focus": {"reference": urls["request"]},
        "for": {"reference": urls["patient"]},
        "authoredOn": row["referral_date"],
        "requester": {"reference": urls["district"]},
        "owner": {"reference": urls["partner"]},
    }
    priority = _PRIORITY.get((row.get("urgency") or "").strip())
    if priority:
        task["priority"] = priority
    return task


# -- revocation -----------------------------------------------------------------------------


def revoked_consent(consent: Resource, revoked_date: str) -> Resource:
    """The Consent as stored on the partner's server, made `inactive` from the revoked date."""
    updated = dict(consent)
    updated["status"] = "inactive"
    provision = dict(updated.get("provision") or {})
    period = dict(provision.get("period") or {})
    period["end"] = revoked_date
    provision["period"] = period
    updated["provision"] = provision
    return updated


def cancelled_task(task: Resource) -> Resource:
    """The Task cancelled by the requester because the consent was revoked."""
    updated = dict(task)
    updated["status"] = "cancelled"
    updated["statusReason"] = {"text": "consent revoked"}
    return updated


def revoked_service_request(request: Resource) -> Resource:
    updated = dict(request)
    updated["status"] = "revoked"
    return updated


# -- inbound ---------------------------------------------------------------------------------


def _our_identifier(resource: Resource | None, system: str) -> str:
    for ident in (resource or {}).get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return ""


def _referenced_identifier(reference: Any, system: str, resolve: Resolver) -> str:
    """Our identifier behind a Reference: logical identifier first, then the referenced resource."""
    if not isinstance(reference, dict):
        return ""
    if _our_identifier({"identifier": [reference.get("identifier")]}, system):
        return str(reference["identifier"]["value"])
    target = reference.get("reference")
    if isinstance(target, str) and target:
        return _our_identifier(resolve(target), system)
    return ""


def _local(instant: str, tz: ZoneInfo) -> tuple[str, str]:
    """A FHIR date or dateTime -> (YYYY-MM-DD, HH:MM) in the district's time zone."""
    text = instant.strip()
    if len(text) == 10:  # a date: no time of day
        dt.date.fromisoformat(text)
        return text, ""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.date().isoformat(), moment.strftime("%H:%M")


def _date(instant: Any, tz: ZoneInfo, what: str) -> str:
    if not instant:
        return ""
    try:
        return _local(str(instant), tz)[0]
    except ValueError:
        raise RecordError(f"{what} is not a FHIR date or dateTime: {str(instant)[:40]!r}") from None


def _coding_code(concept: Any, system: str) -> str:
    for coding in (concept or {}).get("coding") or []:
        if isinstance(coding, dict) and coding.get("system") == system and coding.get("code"):
            return str(coding["code"])
    return ""


def task_status_row(
    task: Resource, *, systems: Systems, resolve: Resolver, tz: ZoneInfo
) -> dict[str, str] | None:
    """A partner's Task -> a canonical status update row; None when it says nothing new.

    Raises RecordError (quarantined with the reason) for a Task that is not a referral Task of
    the SDOHCC profile, has a status outside the referral value set, or names no referral of ours.
    """
    if task.get("resourceType") != "Task":
        raise RecordError(f"expected a Task, got {str(task.get('resourceType'))[:40]!r}")
    if task.get("intent") != "order" or _coding_code(task.get("code"), TASK_CODE) != "fulfill":
        raise RecordError("not a referral Task (intent must be order, code task-code#fulfill)")
    status = task.get("status")
    if status not in REFERRAL_TASK_STATUSES:
        raise RecordError(
            f"Task.status {str(status)[:40]!r} is not in the referral status value set"
        )
    reason = task.get("statusReason")
    if isinstance(reason, dict) and not (reason.get("text") or "").strip():
        raise RecordError("Task.statusReason without the text the profile requires")
    referral_id = _our_identifier(task, systems.referral_id) or _referenced_identifier(
        task.get("focus"), systems.referral_id, resolve
    )
    if not referral_id:
        raise RecordError("the Task names no referral of ours (identifier or focus ServiceRequest)")
    business = _coding_code(task.get("businessStatus"), systems.business_status)
    if business and business not in _FROM_BUSINESS:
        raise RecordError(f"Task.businessStatus {business[:40]!r} is not one we agreed")
    if status in ("draft", "entered-in-error"):
        raise RecordError(f"Task.status {status!r} is the requester's own; review with the partner")
    ours = _FROM_BUSINESS.get(business) if business else _FROM_TASK_STATUS.get(status)
    if ours is None:
        return None
    tz_date = _date(
        task.get("lastModified") or (task.get("meta") or {}).get("lastUpdated"),
        tz,
        "Task.lastModified",
    )
    first_service = _date(
        (task.get("executionPeriod") or {}).get("start"), tz, "Task.executionPeriod.start"
    )
    return {
        "referral_id": referral_id,
        "status": ours,
        "status_date": tz_date,
        "first_service_date": first_service,
        "status_reason": ((reason or {}).get("text") or "").strip(),
    }


def procedure_visit_row(
    procedure: Resource, *, systems: Systems, resolve: Resolver, tz: ZoneInfo, partner_base: str
) -> dict[str, str]:
    """A partner's Procedure -> a canonical visit row (codes still in the partner's terms)."""
    if procedure.get("resourceType") != "Procedure":
        raise RecordError(f"expected a Procedure, got {str(procedure.get('resourceType'))[:40]!r}")
    if procedure.get("status") != "completed":
        raise RecordError(
            f"Procedure.status {str(procedure.get('status'))[:40]!r}: only completed visits are recorded"
        )
    visit_id = next(
        (
            str(i["value"])
            for i in procedure.get("identifier") or []
            if isinstance(i, dict) and i.get("value") and i.get("system") != systems.referral_id
        ),
        "",
    ) or (f"{partner_base.rstrip('/')}/Procedure/{procedure['id']}" if procedure.get("id") else "")
    if not visit_id:
        raise RecordError("the Procedure has neither an identifier nor an id")
    student = _referenced_identifier(procedure.get("subject"), systems.student_number, resolve)
    if not student:
        raise RecordError("the Procedure's subject is no student of ours (Patient.identifier)")
    referral = next(
        (
            found
            for ref in procedure.get("basedOn") or []
            if (found := _referenced_identifier(ref, systems.referral_id, resolve))
        ),
        "",
    )
    period = procedure.get("performedPeriod") or {}
    try:
        if period.get("start"):
            visit_date, time_in = _local(period["start"], tz)
            time_out = _local(period["end"], tz)[1] if period.get("end") else ""
        elif procedure.get("performedDateTime"):
            visit_date, time_in = _local(procedure["performedDateTime"], tz)
            time_out = ""
        else:
            raise RecordError("a completed Procedure needs performed[x] (us-core-7)")
    except ValueError:
        raise RecordError("Procedure.performed[x] is not a FHIR date or dateTime") from None
    service = _coding_code(procedure.get("code"), systems.choice_list("service")) or next(
        (
            str(c["code"])
            for c in (procedure.get("code") or {}).get("coding") or []
            if c.get("code")
        ),
        "",
    )
    purpose = next(
        (
            code
            for concept in procedure.get("reasonCode") or []
            if (code := _coding_code(concept, systems.choice_list("purpose")))
        ),
        "",
    )
    performer = next(
        (
            str((p.get("actor") or {}).get("display") or "")
            for p in procedure.get("performer") or []
            if isinstance(p, dict)
        ),
        "",
    )
    return {
        "partner_visit_id": visit_id,
        "student_number": student,
        "referral_id": referral,
        "visit_date": visit_date,
        "time_in": time_in,
        "time_out": time_out,
        "service_codes": service,
        "purpose_code": purpose,
        "clinician_name": performer,
    }

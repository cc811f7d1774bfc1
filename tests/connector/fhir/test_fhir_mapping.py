"""Our records <-> FHIR R4 (SDOH Clinical Care referral pattern): connector/fhir/mapping.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connector.fhir.codes import PROFILE, Systems
from connector.fhir.mapping import (
    ConsentFacts,
    Parties,
    cancelled_task,
    procedure_visit_row,
    referral_bundle,
    revoked_consent,
    task_status_row,
)
from connector.fhir.validate import bundle_problems, profile_problems, structural_problem
from foundation.errors import RecordError

DATA = Path(__file__).parent / "data"
SYSTEMS = Systems("https://bridgeport.example.org/fhir")
PARTIES = Parties(
    SYSTEMS, "org.bridgeport.ssp", "Bridgeport Public Schools", "cgc", "Child Guidance Center"
)
TZ = ZoneInfo("America/New_York")
CONSENT = ConsentFacts(
    consent_id="c-1",
    signed="2026-09-01",
    effective="2026-09-02",
    expires="2027-06-30",
    signer_type="parent_guardian",
    direction="to_partner",
    categories=("identity", "referral", "guardian_contact"),
    form_version="2026-1",
    document_ref="scan 4411",
)
FULL_ROW = {
    "referral_id": "r-1",
    "referral_date": "2026-10-01",
    "partner_id": "cgc",
    "student_number": "12345",
    "first_name": "Ana",
    "last_name": "Diaz",
    "date_of_birth": "2012-03-04",
    "school_name": "Central High",
    "grade": "8",
    "guardian_name": "Maria Diaz",
    "guardian_phone": "203-555-0101",
    "reason_codes": "anxiety,grief",
    "urgency": "urgent",
    "referred_by": "J. Smith",
    "consent_id": "c-1",
    "consent_expires": "2027-06-30",
}
NO_OPTIONAL = {
    **FULL_ROW,
    "school_name": "",
    "grade": "",
    "guardian_name": "",
    "guardian_phone": "",
}


def _by_type(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        e["resource"]["resourceType"]
        + (
            ":" + e["resource"]["name"] if e["resource"]["resourceType"] == "Organization" else ""
        ): e["resource"]
        for e in bundle["entry"]
    }


def _load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text("utf-8"))


def test_a_referral_becomes_a_valid_transaction_bundle_meeting_the_sdohcc_profiles() -> None:
    bundle = referral_bundle(FULL_ROW, CONSENT, PARTIES)

    assert bundle_problems(bundle) == []
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == [
        "Organization",
        "Organization",
        "Patient",
        "RelatedPerson",
        "Consent",
        "ServiceRequest",
        "Task",
    ]
    for entry in bundle["entry"]:
        assert structural_problem(entry["resource"]) is None
        assert entry["request"]["method"] == "POST"
        assert entry["request"]["ifNoneExist"].startswith(
            "identifier=https://bridgeport.example.org/fhir/sid/"
        )


def test_the_task_is_a_referral_management_order_owned_by_the_partner() -> None:
    resources = _by_type(referral_bundle(FULL_ROW, CONSENT, PARTIES))
    task, request = resources["Task"], resources["ServiceRequest"]
    urls = {
        (r["name"] if r["resourceType"] == "Organization" else r["resourceType"]): e["fullUrl"]
        for e in referral_bundle(FULL_ROW, CONSENT, PARTIES)["entry"]
        for r in [e["resource"]]
    }

    assert task["meta"]["profile"] == [PROFILE["Task"]]
    assert (task["status"], task["intent"]) == ("requested", "order")
    assert task["code"]["coding"][0]["code"] == "fulfill"
    assert task["owner"]["reference"] == urls["Child Guidance Center"]
    assert task["requester"]["reference"] == urls["Bridgeport Public Schools"]
    assert task["focus"]["reference"] == urls["ServiceRequest"]
    assert task["for"]["reference"] == urls["Patient"] == request["subject"]["reference"]
    assert request["supportingInfo"] == [{"reference": urls["Consent"]}]
    assert task["priority"] == request["priority"] == "urgent"
    assert [c["coding"][0]["code"] for c in request["reasonCode"]] == ["anxiety", "grief"]
    assert (
        task["identifier"]
        == request["identifier"]
        == [{"system": SYSTEMS.referral_id, "value": "r-1"}]
    )


def test_the_consent_resource_describes_the_signed_release() -> None:
    consent = _by_type(referral_bundle(FULL_ROW, CONSENT, PARTIES))["Consent"]

    assert consent["status"] == "active"
    assert consent["dateTime"] == "2026-09-01"
    assert consent["provision"]["period"] == {"start": "2026-09-02", "end": "2027-06-30"}
    assert {p["uri"] for p in consent["policy"]} >= {
        "https://www.ecfr.gov/current/title-34/subtitle-A/part-99"
    }
    (permit,) = consent["provision"]["provision"]
    assert permit["action"][0]["coding"][0]["code"] == "disclose"
    assert permit["actor"][0]["role"]["coding"][0]["code"] == "IRCP"
    assert [c["coding"][0]["code"] for c in permit["code"]] == [
        "identity",
        "referral",
        "guardian_contact",
    ]
    assert "scan 4411" in consent["sourceAttachment"]["title"]
    assert list(profile_problems(consent)) == []


def test_categories_the_consent_does_not_allow_never_reach_the_bundle() -> None:
    bundle = referral_bundle(NO_OPTIONAL, CONSENT, PARTIES)
    text = json.dumps(bundle)

    assert "RelatedPerson" not in text
    assert "Maria" not in text and "203-555" not in text and "Central High" not in text
    assert "extension" not in _by_type(bundle)["Patient"]
    # Without a guardian on file the consent still says who signed, by role only.
    assert _by_type(bundle)["Consent"]["performer"] == [{"display": "parent guardian"}]
    assert bundle_problems(bundle) == []


def test_enrollment_travels_as_local_patient_extensions_only_when_allowed() -> None:
    patient = _by_type(referral_bundle(FULL_ROW, CONSENT, PARTIES))["Patient"]

    assert patient["extension"] == [
        {"url": SYSTEMS.extension("school-name"), "valueString": "Central High"},
        {"url": SYSTEMS.extension("grade-level"), "valueString": "8"},
    ]


def test_the_same_referral_always_gives_the_same_bundle() -> None:
    assert json.dumps(referral_bundle(FULL_ROW, CONSENT, PARTIES)) == json.dumps(
        referral_bundle(dict(FULL_ROW), CONSENT, PARTIES)
    )


@pytest.mark.parametrize("column", ["student_number", "last_name", "date_of_birth"])
def test_a_referral_without_identity_cannot_become_a_fhir_patient(column: str) -> None:
    with pytest.raises(RecordError, match=column):
        referral_bundle({**FULL_ROW, column: ""}, CONSENT, PARTIES)


def test_a_revocation_makes_the_consent_inactive_and_cancels_the_task() -> None:
    resources = _by_type(referral_bundle(FULL_ROW, CONSENT, PARTIES))

    consent = revoked_consent(resources["Consent"], "2026-11-02")
    task = cancelled_task(resources["Task"])

    assert consent["status"] == "inactive"
    assert consent["provision"]["period"]["end"] == "2026-11-02"
    assert resources["Consent"]["status"] == "active"  # the input is left alone
    assert (task["status"], task["statusReason"]) == ("cancelled", {"text": "consent revoked"})
    assert list(profile_problems(task)) == []


# -- inbound ---------------------------------------------------------------------------------

IG_REQUEST = "ServiceRequest/SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample"
IG_PATIENT = "Patient/pat-53234"


def _ig_resolver(reference: str) -> dict[str, Any] | None:
    """The partner's server as seen through the IG examples, our identifiers added to its copies."""
    if reference == IG_REQUEST:
        request = _load("SDOHCC-ServiceRequestActiveFoodPantryApplicationAssistExample.json")
        request["identifier"] = [{"system": SYSTEMS.referral_id, "value": "r-ig"}]
        return request
    if reference == IG_PATIENT:
        return {
            "resourceType": "Patient",
            "id": "pat-53234",
            "identifier": [{"system": SYSTEMS.student_number, "value": "53234"}],
        }
    return None


@pytest.mark.parametrize(
    ("example", "status"),
    [
        ("SDOHCC-TaskReferralManagementOrderFulfillmentAcceptedExample.json", "accepted"),
        ("SDOHCC-TaskReferralManagementOrderFulfillmentCompletedExample.json", "completed"),
    ],
)
def test_the_igs_example_tasks_are_read_as_status_updates(example: str, status: str) -> None:
    task = _load(example)
    assert structural_problem(task) is None

    row = task_status_row(
        {**task, "lastModified": "2020-09-17T02:30:00Z"},
        systems=SYSTEMS,
        resolve=_ig_resolver,
        tz=TZ,
    )

    assert row == {
        "referral_id": "r-ig",
        "status": status,
        "status_date": "2020-09-16",  # 02:30 UTC is the evening before in Connecticut
        "first_service_date": "",
        "status_reason": "",
    }


def test_the_igs_example_procedure_is_read_as_a_visit() -> None:
    procedure = _load("SDOHCC-ProcedureFoodPantryApplicationAssistanceExample.json")
    assert structural_problem(procedure) is None

    row = procedure_visit_row(
        procedure,
        systems=SYSTEMS,
        resolve=_ig_resolver,
        tz=TZ,
        partner_base="https://cgc.example.org/fhir",
    )

    assert row == {
        "partner_visit_id": "https://cgc.example.org/fhir/Procedure/SDOHCC-ProcedureFoodPantryApplicationAssistanceExample",
        "student_number": "53234",
        "referral_id": "r-ig",
        "visit_date": "2020-09-16",
        "time_in": "",
        "time_out": "",
        "service_codes": "467771000124109",  # the partner's code: its mapping file translates it
        "purpose_code": "",
        "clinician_name": "",
    }


def _task(**changes: Any) -> dict[str, Any]:
    task = {
        "resourceType": "Task",
        "id": "9",
        "identifier": [{"system": SYSTEMS.referral_id, "value": "r-1"}],
        "status": "accepted",
        "intent": "order",
        "code": {
            "coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]
        },
        "meta": {"lastUpdated": "2026-10-05T14:00:00Z"},
    }
    task.update(changes)
    return {k: v for k, v in task.items() if v is not None}


def _business(code: str) -> dict[str, Any]:
    return {"coding": [{"system": SYSTEMS.business_status, "code": code}]}


@pytest.mark.parametrize(
    ("status", "business", "ours"),
    [
        ("accepted", None, "accepted"),
        ("rejected", None, "declined"),
        ("in-progress", None, "attended"),
        ("completed", None, "completed"),
        ("failed", None, "unable_to_contact"),
        ("cancelled", None, "cancelled"),
        ("requested", "received", "received"),
        ("accepted", "scheduled", "scheduled"),
        ("in-progress", "attended", "attended"),
        ("in-progress", "in-service", "in_service"),
        ("on-hold", "unable-to-contact", "unable_to_contact"),
    ],
)
def test_task_status_and_business_status_map_onto_our_statuses(
    status: str, business: str | None, ours: str
) -> None:
    task = _task(status=status, businessStatus=_business(business) if business else None)
    if status in ("rejected", "cancelled", "failed"):
        task["statusReason"] = {"text": "family moved"}

    row = task_status_row(task, systems=SYSTEMS, resolve=lambda _: None, tz=TZ)

    assert row is not None and row["status"] == ours
    assert row["status_date"] == "2026-10-05"


@pytest.mark.parametrize("status", ["requested", "on-hold"])
def test_a_task_that_says_nothing_new_is_no_status_update(status: str) -> None:
    assert (
        task_status_row(_task(status=status), systems=SYSTEMS, resolve=lambda _: None, tz=TZ)
        is None
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "received"}, "value set"),  # excluded by the SDOHCC binding
        ({"status": "ready"}, "value set"),
        ({"status": "entered-in-error"}, "review"),
        ({"intent": "plan"}, "not a referral Task"),
        ({"code": None}, "not a referral Task"),
        ({"identifier": None}, "names no referral"),
        ({"statusReason": {"coding": [{"code": "x"}]}}, "text"),
        (
            {"businessStatus": {"coding": [{"system": SYSTEMS.business_status, "code": "lost"}]}},
            "agreed",
        ),
        ({"resourceType": "Patient"}, "expected a Task"),
        ({"lastModified": "yesterday"}, "not a FHIR date"),
    ],
)
def test_a_task_we_cannot_trust_is_refused_with_a_reason(
    changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(RecordError, match=reason):
        task_status_row(_task(**changes), systems=SYSTEMS, resolve=lambda _: None, tz=TZ)


def test_a_visit_period_is_read_in_the_districts_time_zone() -> None:
    procedure = {
        "resourceType": "Procedure",
        "id": "p1",
        "identifier": [{"system": "https://cgc.example.org/sid/visit", "value": "V-77"}],
        "status": "completed",
        "code": {
            "coding": [{"system": SYSTEMS.choice_list("service"), "code": "individual_counseling"}]
        },
        "subject": {"identifier": {"system": SYSTEMS.student_number, "value": "12345"}},
        "basedOn": [{"identifier": {"system": SYSTEMS.referral_id, "value": "r-1"}}],
        "performedPeriod": {"start": "2026-10-06T17:40:00Z", "end": "2026-10-06T18:25:00Z"},
        "reasonCode": [
            {"coding": [{"system": SYSTEMS.choice_list("purpose"), "code": "check_in"}]}
        ],
        "performer": [{"actor": {"display": "R. Lee, LCSW"}}],
    }

    row = procedure_visit_row(
        procedure, systems=SYSTEMS, resolve=lambda _: None, tz=TZ, partner_base="x"
    )

    assert row == {
        "partner_visit_id": "V-77",
        "student_number": "12345",
        "referral_id": "r-1",
        "visit_date": "2026-10-06",
        "time_in": "13:40",
        "time_out": "14:25",
        "service_codes": "individual_counseling",
        "purpose_code": "check_in",
        "clinician_name": "R. Lee, LCSW",
    }


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "not-done"}, "only completed"),
        ({"subject": {"reference": "Patient/unknown"}}, "no student of ours"),
        ({"performedPeriod": None}, "performed"),
        ({"performedPeriod": {"start": "soon"}}, "not a FHIR date"),
        ({"resourceType": "Task"}, "expected a Procedure"),
    ],
)
def test_a_procedure_we_cannot_read_is_refused_with_a_reason(
    changes: dict[str, Any], reason: str
) -> None:
    procedure = {
        "resourceType": "Procedure",
        "id": "p1",
        "status": "completed",
        "code": {"text": "counseling"},
        "subject": {"identifier": {"system": SYSTEMS.student_number, "value": "12345"}},
        "performedPeriod": {"start": "2026-10-06T17:40:00Z"},
    }
    procedure.update(changes)
    procedure = {k: v for k, v in procedure.items() if v is not None}

    with pytest.raises(RecordError, match=reason):
        procedure_visit_row(
            procedure, systems=SYSTEMS, resolve=lambda _: None, tz=TZ, partner_base="x"
        )


@pytest.mark.parametrize(
    ("resource", "problem"),
    [
        ({"resourceType": "Task", "intent": "order"}, "status"),
        ({**_task(), "authoredOn": "2025-13-45"}, "authoredOn"),
        ({**_task(), "colour": "blue"}, "colour"),
        ({"resourceType": "Spaceship"}, "unknown resourceType"),
        (["not", "a", "resource"], "not a FHIR resource"),
    ],
)
def test_structural_validation_names_what_is_wrong(resource: Any, problem: str) -> None:
    found = structural_problem(resource)
    assert found is not None and problem in found

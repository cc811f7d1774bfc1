"""The FHIR partner test server (sandbox/fhir_partner.py) behaves as a FHIR R4 server must."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from connector.fhir.codes import Systems
from connector.fhir.mapping import (
    ConsentFacts,
    Parties,
    procedure_visit_row,
    referral_bundle,
    task_status_row,
)
from sandbox.fhir_partner import FhirPartner

SYSTEMS = Systems("https://bridgeport.example.org/fhir")
PARTIES = Parties(SYSTEMS, "org.bridgeport.ssp", "Bridgeport Public Schools", "cgc", "CGC")
CONSENT = ConsentFacts(
    "c-1",
    "2026-09-01",
    "2026-09-01",
    "2027-06-30",
    "parent_guardian",
    "to_partner",
    ("identity", "referral"),
)


def _row(referral_id: str, student: str = "12345") -> dict[str, str]:
    return {
        "referral_id": referral_id,
        "referral_date": "2026-10-01",
        "partner_id": "cgc",
        "student_number": student,
        "first_name": "Ana",
        "last_name": "Diaz",
        "date_of_birth": "2012-03-04",
        "reason_codes": "anxiety",
        "urgency": "routine",
        "referred_by": "J. Smith",
        "consent_id": "c-1",
        "consent_expires": "2027-06-30",
    }


@pytest.fixture
def partner() -> Iterator[FhirPartner]:
    with FhirPartner(page_size=3, district_base=SYSTEMS.base) as server:
        yield server


@pytest.fixture
def http(partner: FhirPartner) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {partner.token}"
    return session


def _post(
    http: requests.Session, partner: FhirPartner, bundle: dict[str, Any]
) -> requests.Response:
    return http.post(partner.base_url, json=bundle, timeout=5)


def test_a_transaction_creates_each_resource_once_and_links_them(
    partner: FhirPartner, http: requests.Session
) -> None:
    response = _post(http, partner, referral_bundle(_row("r-1"), CONSENT, PARTIES))

    assert response.status_code == 200
    assert [e["response"]["status"] for e in response.json()["entry"]] == ["201 Created"] * 6
    (task,) = partner.resources("Task")
    (request,) = partner.resources("ServiceRequest")
    (patient,) = partner.resources("Patient")
    assert task["focus"]["reference"] == f"ServiceRequest/{request['id']}"
    assert task["for"]["reference"] == request["subject"]["reference"] == f"Patient/{patient['id']}"


def test_posting_the_same_bundle_again_creates_nothing(
    partner: FhirPartner, http: requests.Session
) -> None:
    bundle = referral_bundle(_row("r-1"), CONSENT, PARTIES)
    first = _post(http, partner, bundle).json()

    second = _post(http, partner, bundle).json()

    assert [e["response"]["status"] for e in second["entry"]] == ["200 OK"] * 6
    assert [e["response"]["location"] for e in second["entry"]] == [
        e["response"]["location"] for e in first["entry"]
    ]
    assert len(partner.resources("Task")) == 1


def test_a_second_referral_for_the_same_student_reuses_the_patient(
    partner: FhirPartner, http: requests.Session
) -> None:
    _post(http, partner, referral_bundle(_row("r-1"), CONSENT, PARTIES))
    _post(http, partner, referral_bundle(_row("r-2"), CONSENT, PARTIES))

    assert len(partner.resources("Patient")) == 1
    assert len(partner.resources("Task")) == 2


def test_a_bundle_applied_before_the_connection_dropped_is_not_duplicated_on_retry(
    partner: FhirPartner, http: requests.Session
) -> None:
    bundle = referral_bundle(_row("r-1"), CONSENT, PARTIES)
    partner.fail_next("POST", "/", "reset_after_write")

    with pytest.raises(requests.ConnectionError):
        _post(http, partner, bundle)
    retried = _post(http, partner, bundle)

    assert retried.status_code == 200
    assert len(partner.resources("Task")) == 1


def test_search_by_last_updated_pages_with_next_links(
    partner: FhirPartner, http: requests.Session
) -> None:
    for n in range(7):
        _post(http, partner, referral_bundle(_row(f"r-{n}", student=str(n)), CONSENT, PARTIES))
    seen: list[str] = []
    url: str | None = f"{partner.base_url}/Task?_lastUpdated=ge2000-01-01T00:00:00Z"
    pages = 0
    while url:
        page = http.get(url, timeout=5).json()
        pages += 1
        seen += [e["resource"]["id"] for e in page["entry"]]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)

    assert pages == 3 and len(seen) == len(set(seen)) == 7
    newest = max(t["meta"]["lastUpdated"] for t in partner.resources("Task"))
    later = http.get(f"{partner.base_url}/Task", params={"_lastUpdated": f"gt{newest}"}, timeout=5)
    assert later.json()["entry"] == []


def test_updates_need_the_current_version(partner: FhirPartner, http: requests.Session) -> None:
    _post(http, partner, referral_bundle(_row("r-1"), CONSENT, PARTIES))
    (task,) = partner.resources("Task")
    url = f"{partner.base_url}/Task/{task['id']}"
    read = http.get(url, timeout=5)
    etag = read.headers["ETag"]

    assert http.put(url, json={**read.json(), "status": "cancelled"}, timeout=5).status_code == 428
    assert (
        http.put(url, json=read.json(), headers={"If-Match": 'W/"99"'}, timeout=5).status_code
        == 412
    )
    updated = http.put(
        url, json={**read.json(), "status": "cancelled"}, headers={"If-Match": etag}, timeout=5
    )
    assert updated.status_code == 200 and updated.headers["ETag"] == 'W/"2"'


def test_a_wrong_token_is_refused(partner: FhirPartner) -> None:
    response = requests.get(
        f"{partner.base_url}/Task", headers={"Authorization": "Bearer nope"}, timeout=5
    )

    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_capability_statement_says_conditional_create_is_supported(
    partner: FhirPartner,
) -> None:
    statement = requests.get(f"{partner.base_url}/metadata", timeout=5).json()

    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    assert statement["fhirVersion"] == "4.0.1" and task["conditionalCreate"] is True


def test_what_the_partner_does_reads_back_through_our_mapping(
    partner: FhirPartner, http: requests.Session
) -> None:
    tz = ZoneInfo("America/New_York")
    _post(http, partner, referral_bundle(_row("r-1"), CONSENT, PARTIES))

    def resolve(reference: str) -> dict[str, Any] | None:
        return partner.read(reference)

    def status() -> str | None:
        row = task_status_row(partner.task_for("r-1"), systems=SYSTEMS, resolve=resolve, tz=tz)
        return row["status"] if row else None

    assert status() is None  # still `requested`: nothing new
    partner.accept("r-1")
    assert status() == "accepted"
    partner.schedule("r-1")
    assert status() == "scheduled"
    procedure = partner.attend(
        "r-1",
        visit_id="V-1",
        start="2026-10-06T17:40:00Z",
        end="2026-10-06T18:25:00Z",
        service_code="individual_counseling",
    )
    assert status() == "attended"
    partner.complete("r-1")
    assert status() == "completed"
    assert partner.task_for("r-1")["output"][0]["valueReference"]["reference"] == (
        f"Procedure/{procedure['id']}"
    )
    visit = procedure_visit_row(
        procedure, systems=SYSTEMS, resolve=resolve, tz=tz, partner_base=partner.base_url
    )
    assert (visit["student_number"], visit["referral_id"], visit["service_codes"]) == (
        "12345",
        "r-1",
        "individual_counseling",
    )
    assert (visit["visit_date"], visit["time_in"], visit["time_out"]) == (
        "2026-10-06",
        "13:40",
        "14:25",
    )

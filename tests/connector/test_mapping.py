"""Partner mappings: packaged files, both directions, every row-level reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.mapping import load_mapping, packaged_mappings
from connector.records import (
    OUTBOUND_REFERRAL_COLUMNS,
    REVOCATION_COLUMNS,
    STATUS_UPDATE_COLUMNS,
    VISIT_COLUMNS,
    OutboundReferral,
    Provenance,
    Revocation,
)
from foundation.catalogue import ChoiceEdit, ChoiceOption, load_catalogue
from foundation.errors import RecordError

TODAY = dt.date(2026, 9, 15)
PROV = Provenance("cgc", "status_updates_1.csv", 7)
GENERIC = load_mapping("generic", base_dir=Path("."))
BHCARE = load_mapping("bhcare", base_dir=Path("."))
REFERRAL = OutboundReferral(
    referral_id="0b6f3c2e-1111-4c1e-9a51-3f1d2a9c0001",
    referral_date="2026-09-01",
    partner_id="bhcare",
    consent_id="c-9",
    consent_expires="2027-06-30",
    student_number="10001",
    first_name="Ana",
    last_name="Diaz",
    date_of_birth="2011-04-03",
    school_name="Central High",
    grade="9",
    guardian_name="M. Diaz",
    guardian_phone="+1 203 555 0100",
    reason_codes="anxiety,self_harm_risk",
    urgency="urgent",
    referred_by="J. Counselor",
)


def status_row(**values: str) -> dict[str, str]:
    row = {
        "referral_id": "R-1",
        "status": "accepted",
        "status_date": "2026-09-01",
        "first_service_date": "",
        "status_reason": "",
    }
    row.update(values)
    return row


def visit_row(**values: str) -> dict[str, str]:
    row = {
        "partner_visit_id": "V-1",
        "student_number": "10001",
        "referral_id": "",
        "visit_date": "2026-09-02",
        "time_in": "09:00",
        "time_out": "09:45",
        "service_codes": "individual_counseling",
        "purpose_code": "check_in",
        "clinician_name": "A. Clinician",
    }
    row.update(values)
    return row


def reason_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(RecordError) as info:
        call()
    return info.value.reason


# ---------------------------------------------------------------- packaged mappings


def test_packaged_mappings_include_generic_and_bhcare() -> None:
    assert {"generic", "bhcare"} <= set(packaged_mappings())


def test_generic_mapping_is_exactly_the_canonical_columns_and_file_names() -> None:
    assert GENERIC.inbound_columns("status_update") == STATUS_UPDATE_COLUMNS
    assert GENERIC.inbound_columns("visit") == VISIT_COLUMNS
    assert GENERIC.outbound_columns("referrals") == OUTBOUND_REFERRAL_COLUMNS
    assert GENERIC.outbound_columns("revocations") == REVOCATION_COLUMNS
    assert GENERIC.inbound_patterns("status_update") == ("status_updates*.csv",)
    assert GENERIC.inbound_patterns("visit") == ("visits*.csv",)
    assert GENERIC.outbound_file_name("referrals", "abc") == "referrals_abc.csv"
    assert GENERIC.outbound_file_name("revocations", "abc") == "revocations_abc.csv"
    assert GENERIC.notice_file_name("abc") == "NOTICE_abc.txt"
    assert (GENERIC.delimiter, GENERIC.encoding) == (",", "utf-8")


def test_generic_outbound_referral_row_is_the_canonical_row() -> None:
    assert GENERIC.outbound_referral_row(REFERRAL) == REFERRAL.as_row()


def test_generic_outbound_revocation_row_is_the_canonical_row() -> None:
    rev = Revocation("R-1", "cgc", "c-9", "2026-09-14")
    assert GENERIC.outbound_revocation_row(rev) == rev.as_row()


def test_generic_status_update_parses_every_partner_status() -> None:
    for status in (
        "received",
        "accepted",
        "declined",
        "scheduled",
        "attended",
        "in_service",
        "completed",
        "unable_to_contact",
        "cancelled",
    ):
        update = GENERIC.parse_status_update(status_row(status=status), PROV, today=TODAY)
        assert update.status == status


def test_generic_status_update_fields() -> None:
    update = GENERIC.parse_status_update(
        status_row(
            status="Attended",
            first_service_date="2026-09-10",
            status_date="2026-09-10",
            status_reason=" first session ",
        ),
        PROV,
        today=TODAY,
    )
    assert (update.referral_id, update.status, update.status_date) == (
        "R-1",
        "attended",
        dt.date(2026, 9, 10),
    )
    assert update.first_service_date == dt.date(2026, 9, 10)
    assert update.status_reason == "first session"
    assert update.provenance is PROV


def test_generic_visit_parses_codes_times_and_optional_fields() -> None:
    visit = GENERIC.parse_visit(
        visit_row(
            time_in="9:05",
            service_codes="individual_counseling, Safety_Planning,",
            referral_id="R-1",
        ),
        PROV,
        today=TODAY,
    )
    assert visit.time_in == "09:05" and visit.time_out == "09:45"
    assert visit.service_codes == ("individual_counseling", "safety_planning")
    assert (visit.purpose_code, visit.referral_id, visit.visit_date) == (
        "check_in",
        "R-1",
        dt.date(2026, 9, 2),
    )
    bare = GENERIC.parse_visit(
        visit_row(time_in="", time_out="", service_codes="", purpose_code="", clinician_name=""),
        PROV,
        today=TODAY,
    )
    assert (bare.time_in, bare.service_codes, bare.purpose_code, bare.referral_id) == (
        "",
        (),
        "",
        "",
    )


def test_bhcare_inbound_status_codes_dates_and_columns() -> None:
    expected = {
        "RCVD": "received",
        "ACPT": "accepted",
        "DECL": "declined",
        "SCHD": "scheduled",
        "SEEN": "attended",
        "ACTIVE": "in_service",
        "DISCH": "completed",
        "NOCONTACT": "unable_to_contact",
        "CANC": "cancelled",
        "cxl": "cancelled",
    }
    for code, status in expected.items():
        row = {
            "ClientRefNo": "R-1",
            "StatusCode": code,
            "StatusDt": "09/14/2026",
            "FirstApptDate": "9/3/2026",
            "Notes/Reason": "ok",
        }
        update = BHCARE.parse_status_update(row, PROV, today=TODAY)
        assert update.status == status
        assert (update.status_date, update.first_service_date) == (
            dt.date(2026, 9, 14),
            dt.date(2026, 9, 3),
        )


def test_bhcare_inbound_visit_translates_services_purpose_and_12_hour_times() -> None:
    row = {
        "EncounterID": "E-77",
        "StudentID": "10001",
        "ClientRefNo": "",
        "EncounterDt": "09/02/2026",
        "StartTime": "1:30 pm",
        "EndTime": "14:15",
        "SvcCodes": "IND;90839; SAFETY",
        "VisitReason": "PEER",
        "Clinician": "B. Clinician",
    }
    visit = BHCARE.parse_visit(row, PROV, today=TODAY)
    assert (visit.time_in, visit.time_out) == ("13:30", "14:15")
    assert visit.service_codes == (
        "individual_counseling",
        "crisis_intervention",
        "safety_planning",
    )
    assert visit.purpose_code == "peer_conflict"


def test_bhcare_outbound_referral_uses_its_columns_codes_and_dates() -> None:
    row = BHCARE.outbound_referral_row(REFERRAL)
    assert list(row) == list(BHCARE.outbound_columns("referrals"))
    assert row["ClientRefNo"] == REFERRAL.referral_id
    assert (row["ReferralDt"], row["DOB"], row["ReleaseExpDt"]) == (
        "09/01/2026",
        "04/03/2011",
        "06/30/2027",
    )
    assert row["PresentingProblems"] == "ANX;SHR"
    assert row["Priority"] == "URGENT"
    assert row["GuardianPhone"] == "+1 203 555 0100"


def test_outbound_empty_category_columns_stay_empty() -> None:
    held_back = OutboundReferral(
        referral_id="R-1",
        referral_date="2026-09-01",
        partner_id="bhcare",
        consent_id="c-1",
        consent_expires="",
        student_number="10001",
    )
    row = BHCARE.outbound_referral_row(held_back)
    assert (
        row["School"]
        == row["GuardianName"]
        == row["PresentingProblems"]
        == row["ReleaseExpDt"]
        == ""
    )


def test_bhcare_outbound_revocation() -> None:
    row = BHCARE.outbound_revocation_row(Revocation("R-1", "bhcare", "c-9", "2026-09-14"))
    assert (
        row["ClientRefNo"] == "R-1"
        and row["RevokedDt"] == "09/14/2026"
        and row["ReleaseID"] == "c-9"
    )
    assert row["Instruction"].startswith("Consent revoked")


# ---------------------------------------------------------------- district catalogue


def district_catalogue():  # type: ignore[no-untyped-def]
    return load_catalogue(
        edits={
            "purpose": ChoiceEdit(
                add=(ChoiceOption(code="vaping", label="Vaping"),), remove=("peer_conflict",)
            ),
            "referral_reason": ChoiceEdit(add=(ChoiceOption(code="vaping", label="Vaping"),)),
        }
    )


def test_district_added_code_is_accepted_by_generic_and_unknown_to_bhcare() -> None:
    generic = load_mapping("generic", base_dir=Path("."), catalogue=district_catalogue())
    bhcare = load_mapping("bhcare", base_dir=Path("."), catalogue=district_catalogue())
    assert (
        generic.parse_visit(visit_row(purpose_code="vaping"), PROV, today=TODAY).purpose_code
        == "vaping"
    )
    referral = OutboundReferral("R-1", "2026-09-01", "bhcare", "c-1", "", reason_codes="vaping")
    assert generic.outbound_referral_row(referral)["reason_codes"] == "vaping"
    assert reason_of(lambda: bhcare.outbound_referral_row(referral)) == (
        "reason_codes: no partner code for 'vaping' (add it to field_mappings/partners/bhcare.toml)"
    )


def test_district_removed_code_is_a_row_error_not_a_config_error() -> None:
    bhcare = load_mapping("bhcare", base_dir=Path("."), catalogue=district_catalogue())
    row = {
        "EncounterID": "E-1",
        "StudentID": "10001",
        "EncounterDt": "09/02/2026",
        "VisitReason": "PEER",
    }
    assert reason_of(lambda: bhcare.parse_visit(row, PROV, today=TODAY)) == (
        "purpose_code: 'PEER' means 'peer_conflict', which is no longer in the district's "
        "purpose list"
    )
    generic = load_mapping("generic", base_dir=Path("."), catalogue=district_catalogue())
    assert reason_of(
        lambda: generic.parse_visit(visit_row(purpose_code="peer_conflict"), PROV, today=TODAY)
    ) == ("purpose_code: unknown code 'peer_conflict'")


# ---------------------------------------------------------------- record errors


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"status": "XYZ"}, "status: unknown code 'XYZ'"),
        ({"status": ""}, "status: missing"),
        (
            {"status": "new"},
            "status: 'new' is a school-side status; a partner reports received..cancelled",
        ),
        (
            {"status_date": "2026-13-01"},
            "status_date: '2026-13-01' is not a date (expected YYYY-MM-DD)",
        ),
        (
            {"status_date": "01/09/2026"},
            "status_date: '01/09/2026' is not a date (expected YYYY-MM-DD)",
        ),
        ({"status_date": "2026-09-17"}, "status_date: in the future"),
        ({"status_date": "1899-12-31"}, "status_date: '1899-12-31' is before 1900"),
        ({"status_date": ""}, "status_date: missing"),
        ({"referral_id": ""}, "referral_id: missing"),
        (
            {"referral_id": "x" * 37},
            "referral_id: (a 37-character value) is not a valid referral id",
        ),
        ({"first_service_date": "2026-09-30"}, "first_service_date: in the future"),
        (
            {"first_service_date": "soon"},
            "first_service_date: 'soon' is not a date (expected YYYY-MM-DD)",
        ),
        ({"status_reason": "x" * 201}, "status_reason: longer than 200 characters (201)"),
        ({"status_reason": "bell\x07"}, "status_reason: contains control characters"),
    ],
)
def test_status_update_reasons(values: dict[str, str], reason: str) -> None:
    assert (
        reason_of(lambda: GENERIC.parse_status_update(status_row(**values), PROV, today=TODAY))
        == reason
    )


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"time_in": "25:00"}, "time_in: '25:00' is not HH:MM"),
        ({"time_out": "9.45"}, "time_out: '9.45' is not HH:MM"),
        ({"time_in": "10:00", "time_out": "09:00"}, "time_out: 09:00 is before time_in 10:00"),
        ({"partner_visit_id": ""}, "partner_visit_id: missing"),
        ({"partner_visit_id": "V 1"}, "partner_visit_id: 'V 1' is not a valid visit id"),
        ({"student_number": ""}, "student_number: missing"),
        ({"student_number": "10 001"}, "student_number: value is not a valid student number"),
        ({"visit_date": "2026-09-20"}, "visit_date: in the future"),
        ({"service_codes": "individual_counseling,yoga"}, "service_codes: unknown code 'yoga'"),
        ({"purpose_code": "vaping"}, "purpose_code: unknown code 'vaping'"),
        ({"clinician_name": "x" * 81}, "clinician_name: longer than 80 characters (81)"),
    ],
)
def test_visit_reasons(values: dict[str, str], reason: str) -> None:
    assert reason_of(lambda: GENERIC.parse_visit(visit_row(**values), PROV, today=TODAY)) == reason


def test_bhcare_reasons_name_its_own_formats() -> None:
    row = {"ClientRefNo": "R-1", "StatusCode": "ACPT", "StatusDt": "2026/09/01"}
    assert reason_of(lambda: BHCARE.parse_status_update(row, PROV, today=TODAY)) == (
        "status_date: '2026/09/01' is not a date (expected MM/DD/YYYY or YYYY-MM-DD)"
    )
    visit = {
        "EncounterID": "E-1",
        "StudentID": "1",
        "EncounterDt": "09/01/2026",
        "StartTime": "13:75",
    }
    assert reason_of(lambda: BHCARE.parse_visit(visit, PROV, today=TODAY)) == (
        "time_in: '13:75' is not hh:MM AM/PM or HH:MM"
    )


def test_record_error_names_file_row_and_field() -> None:
    with pytest.raises(RecordError) as info:
        GENERIC.parse_status_update(status_row(status="XYZ"), PROV, today=TODAY)
    assert (info.value.file, info.value.row, info.value.field) == (
        "status_updates_1.csv",
        7,
        "status",
    )


def test_free_text_in_a_code_column_is_never_echoed() -> None:
    note = "Student said she feels hopeless"
    reason = reason_of(
        lambda: GENERIC.parse_status_update(status_row(status=note), PROV, today=TODAY)
    )
    assert reason == f"status: unknown code (a {len(note)}-character value)"
    assert "hopeless" not in reason
    number = reason_of(
        lambda: GENERIC.parse_visit(visit_row(student_number="12/34"), PROV, today=TODAY)
    )
    assert "12/34" not in number


def test_outbound_date_that_is_not_iso_is_a_record_error_without_the_value() -> None:
    bad = OutboundReferral("R-1", "2026-09-01", "bhcare", "c-1", "", date_of_birth="Apr 3 2011")
    reason = reason_of(lambda: BHCARE.outbound_referral_row(bad))
    assert reason == "date_of_birth: is not a date (expected YYYY-MM-DD)"


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(STATUS_UPDATE_COLUMNS + VISIT_COLUMNS + ("other",)), st.text(max_size=30)
    )
)
def test_any_row_gives_a_record_or_a_record_error(row: dict[str, str]) -> None:
    for parse in (GENERIC.parse_status_update, GENERIC.parse_visit):
        try:
            parse(row, PROV, today=TODAY)
        except RecordError as exc:
            assert exc.reason.split(":")[0] in STATUS_UPDATE_COLUMNS + VISIT_COLUMNS

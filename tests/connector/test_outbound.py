from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connector.outbound import build_outbound_referral, record_hash, stable_uid
from connector.records import CATEGORY_COLUMNS, OUTBOUND_REFERRAL_COLUMNS

REFERRAL = {
    "ssp_uid": "r-1", "referral_date": "2026-11-02", "partner_id": "cgc", "student_number": "100234",
    "first_name": "Ada", "last_name": "Quill", "dob": "2011-04-05", "school_name": "Harding High",
    "grade_level": "9", "mother": "", "father": "Ben Quill", "home_phone": "203-555-0101",
    "reason": "anxiety,grief", "urgency": "urgent", "referred_by": "Ms. Counselor",
}


@given(st.sets(st.sampled_from(sorted(CATEGORY_COLUMNS))))
def test_columns_of_categories_not_allowed_are_always_empty(categories):
    row = build_outbound_referral(REFERRAL, categories=frozenset(categories), consent_id="c-1",
                                  consent_expires="2027-06-30").as_row()
    assert list(row) == list(OUTBOUND_REFERRAL_COLUMNS)
    for category, columns in CATEGORY_COLUMNS.items():
        for column in columns:
            assert (row[column] != "") == (category in categories)


def test_guardian_falls_back_from_mother_to_father():
    row = build_outbound_referral(REFERRAL, categories=frozenset({"guardian_contact"}),
                                  consent_id="c", consent_expires="").as_row()
    assert row["guardian_name"] == "Ben Quill"


def test_repr_of_outbound_referral_carries_no_personal_data():
    ref = build_outbound_referral(REFERRAL, categories=frozenset(CATEGORY_COLUMNS), consent_id="c",
                                  consent_expires="")
    assert "Quill" not in repr(ref) and "2011" not in repr(ref)


def test_stable_uid_and_hash_are_deterministic():
    assert stable_uid("visit", "cgc", "V1") == stable_uid("visit", "cgc", "V1")
    assert stable_uid("visit", "cgc", "V1") != stable_uid("visit", "cgc", "V2")
    assert record_hash({"a": "1", "b": "2"}) == record_hash({"b": "2", "a": "1"})

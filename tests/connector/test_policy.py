"""connector/policy.py: the consent and MOU gate, one rule and one reason at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from connector.policy import (
    Consent,
    age_on,
    consent_expires,
    decide_inbound,
    decide_outbound,
    parse_ps_date,
    revocations_due,
    student_age,
)
from foundation.config import Mou
from foundation.errors import RecordError

TODAY = dt.date(2026, 10, 15)
MINOR_DOB = dt.date(2012, 3, 4)
ADULT_DOB = dt.date(2007, 1, 2)
MOU = Mou(
    effective=dt.date(2026, 8, 1),
    expires=dt.date(2027, 7, 31),
    to_partner=("identity", "enrollment", "guardian_contact", "referral"),
    to_school=("referral_status", "visit_summary"),
)


def mou(**changes: object) -> Mou:
    return Mou(**{**MOU.model_dump(), **changes})


ALL_OUT = frozenset({"identity", "enrollment", "guardian_contact", "referral"})


def consent(**changes: object) -> Consent:
    base = Consent(
        ssp_uid="c-1",
        student_dcid="101",
        partner_id="cgc",
        direction="both",
        data_categories=ALL_OUT | {"referral_status", "visit_summary"},
        purpose="Referral for counseling",
        signer_type="parent_guardian",
        signed_date=dt.date(2026, 9, 1),
        effective_date=None,
        expiration_date=dt.date(2027, 6, 30),
        revoked_date=None,
        form_version="2026-1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def out(
    *consents: Consent,
    dob: dt.date | None = MINOR_DOB,
    mou: Mou | None = MOU,
    today: dt.date = TODAY,
):
    return decide_outbound(
        partner_id="cgc", mou=mou, consents=consents, student_dob=dob, today=today
    )


def inbound(
    *consents: Consent,
    category: str = "visit_summary",
    dob: dt.date | None = None,
    mou: Mou | None = MOU,
):
    return decide_inbound(
        partner_id="cgc",
        mou=mou,
        consents=consents,
        category=category,  # type: ignore[arg-type]
        today=TODAY,
        student_dob=dob,
    )


# ---------------------------------------------------------------- outbound: allowed


def test_valid_parent_consent_releases_referral_with_every_category_both_allow():
    decision = out(consent())
    assert decision.allowed and decision.reason == "" and decision.reason_code == ""
    assert decision.categories == ALL_OUT
    assert decision.consent is not None and decision.consent.ssp_uid == "c-1"


def test_optional_category_left_out_when_consent_does_not_allow_it():
    decision = out(consent(data_categories=frozenset({"identity", "referral", "enrollment"})))
    assert decision.allowed and decision.categories == {"identity", "referral", "enrollment"}


def test_optional_category_left_out_when_mou_does_not_allow_it():
    decision = out(consent(), mou=mou(to_partner=("identity", "referral", "guardian_contact")))
    assert decision.allowed and decision.categories == {"identity", "referral", "guardian_contact"}


def test_boundary_days_count_as_valid():
    c = consent(signed_date=TODAY, expiration_date=TODAY, revoked_date=TODAY + dt.timedelta(days=1))
    assert out(c, mou=mou(effective=TODAY, expires=TODAY)).allowed


def test_effective_date_defaults_to_signed_date():
    assert out(consent(signed_date=TODAY, effective_date=None)).allowed


def test_latest_expiring_then_latest_signed_consent_is_used():
    a = consent(ssp_uid="a", expiration_date=dt.date(2027, 1, 1), signed_date=dt.date(2026, 10, 1))
    b = consent(ssp_uid="b", expiration_date=dt.date(2027, 6, 1), signed_date=dt.date(2026, 9, 1))
    c = consent(ssp_uid="c", expiration_date=dt.date(2027, 6, 1), signed_date=dt.date(2026, 9, 2))
    assert out(a, b, c).consent.ssp_uid == "c"  # type: ignore[union-attr]
    assert out(c, b, a).consent.ssp_uid == "c"  # type: ignore[union-attr]


def test_categories_come_from_the_one_consent_used_not_a_union():
    narrow = consent(
        ssp_uid="narrow",
        data_categories=frozenset({"identity", "referral"}),
        expiration_date=dt.date(2027, 7, 1),
    )
    wide_but_expired = consent(ssp_uid="wide", expiration_date=dt.date(2026, 1, 1))
    decision = out(narrow, wide_but_expired)
    assert decision.allowed and decision.categories == {"identity", "referral"}


def test_eligible_student_consent_releases_an_adults_referral():
    assert out(consent(signer_type="eligible_student"), dob=ADULT_DOB).allowed


def test_legal_representative_may_consent_for_a_minor():
    assert out(consent(signer_type="legal_representative")).allowed


# ---------------------------------------------------------------- outbound: held, one reason each


@pytest.mark.parametrize(
    ("consents", "kwargs", "reason", "code"),
    [
        ((), {}, "awaiting consent", "awaiting_consent"),
        ((consent(partner_id="other"),), {}, "awaiting consent", "awaiting_consent"),
        (
            (consent(expiration_date=dt.date(2026, 10, 14)),),
            {},
            "consent expired",
            "consent_expired",
        ),
        ((consent(revoked_date=TODAY),), {}, "consent revoked", "consent_revoked"),
        (
            (consent(direction="from_partner"),),
            {},
            "consent direction does not allow sending",
            "consent_wrong_direction",
        ),
        (
            (consent(data_categories=frozenset({"enrollment"})),),
            {},
            "consent does not cover identity, referral",
            "consent_categories",
        ),
        (
            (consent(data_categories=frozenset({"identity"})),),
            {},
            "consent does not cover referral",
            "consent_categories",
        ),
        ((consent(),), {"mou": mou(expires=dt.date(2026, 10, 14))}, "MOU expired", "mou_expired"),
        (
            (consent(),),
            {"mou": mou(effective=dt.date(2026, 10, 16), expires=dt.date(2027, 1, 1))},
            "MOU not yet in force",
            "mou_not_in_force",
        ),
        (
            (consent(),),
            {"mou": mou(to_partner=("identity",))},
            "MOU does not allow referral",
            "mou_categories",
        ),
        ((consent(),), {"mou": None}, "no MOU with this partner", "mou_missing"),
        (
            (consent(),),
            {"dob": ADULT_DOB},
            "student is 18: needs the student's own consent",
            "student_is_18",
        ),
        (
            (consent(effective_date=dt.date(2026, 10, 16)),),
            {},
            "consent not yet effective",
            "consent_not_effective",
        ),
        ((consent(signed_date=None),), {}, "consent not signed", "consent_not_signed"),
        (
            (consent(signed_date=dt.date(2026, 10, 16)),),
            {},
            "consent not signed",
            "consent_not_signed",
        ),
        (
            (consent(expiration_date=None),),
            {},
            "consent has no expiration date",
            "consent_no_expiration",
        ),
        (
            (consent(signer_type="minor_self"),),
            {},
            "a minor's own consent cannot release school records",
            "minor_self_outbound",
        ),
        (
            (consent(signer_type="eligible_student"),),
            {},
            "student is under 18: needs a parent's consent",
            "student_under_18",
        ),
        (
            (consent(),),
            {"dob": None},
            "student date of birth unknown: cannot check who may consent",
            "student_dob_missing",
        ),
    ],
)
def test_held_referral_gets_its_reason(consents, kwargs, reason, code):
    decision = out(*consents, **kwargs)
    assert not decision.allowed
    assert (decision.reason, decision.reason_code) == (reason, code)
    assert decision.consent is None and decision.categories == frozenset()


def test_student_turned_18_today_needs_own_consent():
    dob = dt.date(TODAY.year - 18, TODAY.month, TODAY.day)
    assert out(consent(), dob=dob).reason_code == "student_is_18"
    assert out(consent(), dob=dob + dt.timedelta(days=1)).allowed


def test_parent_consent_signed_before_18th_birthday_stops_on_it():
    dob = dt.date(2008, 11, 1)
    c = consent(signed_date=dt.date(2026, 9, 1))
    assert out(c, dob=dob, today=dt.date(2026, 10, 31)).allowed
    assert (
        out(c, dob=dob, today=dt.date(2026, 11, 1)).reason
        == "student is 18: needs the student's own consent"
    )


def test_leap_day_birthday_turns_18_on_first_of_march_in_common_years():
    dob = dt.date(2008, 2, 29)
    assert age_on(dob, dt.date(2026, 2, 28)) == 17
    assert age_on(dob, dt.date(2026, 3, 1)) == 18


def test_mou_reason_wins_over_consent_reasons():
    assert (
        out(mou=mou(effective=dt.date(2025, 9, 1), expires=dt.date(2026, 9, 1))).reason
        == "MOU expired"
    )


# ---------------------------------------------------------------- most informative reason


def test_revoked_consent_is_reported_not_awaiting_consent():
    assert out(consent(revoked_date=dt.date(2026, 10, 1))).reason == "consent revoked"


def test_newer_revoked_consent_beats_older_expired_one():
    old = consent(
        ssp_uid="old", signed_date=dt.date(2025, 9, 1), expiration_date=dt.date(2026, 6, 30)
    )
    new = consent(ssp_uid="new", signed_date=dt.date(2026, 9, 1), revoked_date=dt.date(2026, 10, 1))
    assert out(old, new).reason == "consent revoked"
    assert out(new, old).reason == "consent revoked"


def test_renewal_awaiting_signature_is_reported_over_an_expired_consent():
    old = consent(
        ssp_uid="old", signed_date=dt.date(2025, 9, 1), expiration_date=dt.date(2026, 6, 30)
    )
    draft = consent(ssp_uid="draft", signed_date=None)
    assert out(old, draft).reason == "consent not signed"


def test_consent_of_the_right_direction_beats_a_newer_wrong_direction_one():
    expired = consent(
        ssp_uid="a", signed_date=dt.date(2025, 9, 1), expiration_date=dt.date(2026, 6, 30)
    )
    inbound_only = consent(ssp_uid="b", direction="from_partner", signed_date=dt.date(2026, 10, 1))
    assert out(expired, inbound_only).reason == "consent expired"


def test_reason_is_the_same_whatever_the_order_of_consents():
    cs = [
        consent(ssp_uid=str(i), signed_date=dt.date(2026, 9, 1), data_categories=frozenset(cats))
        for i, cats in enumerate([{"identity"}, {"enrollment"}, {"referral", "enrollment"}])
    ]
    assert out(*cs).reason == out(*reversed(cs)).reason == "consent does not cover identity"


def test_revoked_consent_does_not_block_another_valid_one():
    assert out(consent(ssp_uid="r", revoked_date=TODAY), consent(ssp_uid="ok")).allowed


# ---------------------------------------------------------------- inbound


def test_inbound_accepted_under_a_from_partner_consent():
    decision = inbound(consent(direction="from_partner"))
    assert decision.accepted and decision.reason == "" and decision.consent is not None


@pytest.mark.parametrize(
    ("consents", "kwargs", "reason"),
    [
        ((), {}, "no consent on file for this partner"),
        ((consent(direction="to_partner"),), {}, "consent direction does not allow receiving"),
        (
            (consent(data_categories=frozenset({"referral_status"})),),
            {},
            "consent does not cover visit_summary",
        ),
        ((consent(revoked_date=TODAY),), {}, "consent revoked"),
        ((consent(expiration_date=dt.date(2026, 1, 1)),), {}, "consent expired"),
        (
            (consent(),),
            {"mou": mou(to_school=("referral_status",))},
            "MOU does not allow visit_summary from the partner",
        ),
        (
            (consent(),),
            {"mou": mou(effective=dt.date(2025, 8, 1), expires=dt.date(2026, 1, 1))},
            "MOU expired",
        ),
        ((consent(),), {"dob": ADULT_DOB}, "student is 18: needs the student's own consent"),
        (
            (consent(signer_type="eligible_student"),),
            {"dob": MINOR_DOB},
            "student is under 18: needs a parent's consent",
        ),
    ],
)
def test_inbound_row_quarantined_with_reason(consents, kwargs, reason):
    decision = inbound(*consents, **kwargs)
    assert not decision.accepted and decision.reason == reason and decision.reason_code
    assert decision.consent is None


def test_minor_self_consent_accepts_status_from_the_minors_own_provider():
    assert inbound(
        consent(signer_type="minor_self"), category="referral_status", dob=MINOR_DOB
    ).accepted
    assert inbound(consent(signer_type="minor_self"), dob=ADULT_DOB).accepted


def test_inbound_without_date_of_birth_does_not_check_age():
    assert inbound(consent(signer_type="parent_guardian")).accepted


# ---------------------------------------------------------------- revocations


def test_revocations_due_lists_referrals_sent_under_revoked_consents():
    revoked = consent(ssp_uid="c-r", revoked_date=dt.date(2026, 10, 1))
    future = consent(ssp_uid="c-f", revoked_date=dt.date(2026, 11, 1))
    active = consent(ssp_uid="c-a")
    sent = {"c-r": ["ref-2", "ref-1"], "c-f": ["ref-3"], "c-a": ["ref-4"], "c-unknown": ["ref-5"]}
    due = revocations_due([revoked, future, active], sent, today=TODAY)
    assert [(d.referral_id, d.partner_id, d.consent.ssp_uid) for d in due] == [
        ("ref-1", "cgc", "c-r"),
        ("ref-2", "cgc", "c-r"),
    ]


# ---------------------------------------------------------------- parsing rows


ROW = {
    "id": "7",
    "studentsdcid": "101",
    "ssp_uid": "c-9",
    "partner_id": "cgc",
    "direction": "to_partner",
    "data_categories": "identity, referral,Enrollment",
    "purpose": "Counseling referral",
    "signer_type": "parent_guardian",
    "signed_date": "2026-09-01",
    "effective_date": "",
    "expiration_date": "2027-06-30",
    "revoked_date": "",
    "form_version": "v2",
    "whenmodified": "2026-09-01 10:00:00",
}


def test_consent_from_row_parses_query_row():
    c = Consent.from_row(ROW)
    assert c.ssp_uid == "c-9" and c.student_dcid == "101" and c.partner_id == "cgc"
    assert c.data_categories == {"identity", "referral", "enrollment"}
    assert (
        c.signed_date == dt.date(2026, 9, 1) and c.effective_date is None and c.revoked_date is None
    )
    assert c.expiration_date == dt.date(2027, 6, 30) and c.form_version == "v2"


def test_consent_repr_names_it_by_uid_without_purpose_text():
    assert "Counseling" not in repr(Consent.from_row(ROW))


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("signed_date", "yesterday", "signed_date"),
        ("expiration_date", "2026-02-30", "expiration_date"),
        ("direction", "sideways", "direction"),
        ("direction", "", "direction"),
        ("signer_type", "aunt", "signer_type"),
        ("data_categories", "identity,bad code!", "data_categories"),
        ("ssp_uid", "", "ssp_uid"),
        ("partner_id", " ", "partner_id"),
        ("studentsdcid", "", "studentsdcid"),
    ],
)
def test_consent_from_row_rejects_bad_values_naming_the_field(key, value, field):
    with pytest.raises(RecordError) as info:
        Consent.from_row({**ROW, key: value})
    assert info.value.field == field
    assert "consent" in info.value.reason


def test_dates_accept_powerschool_forms():
    assert parse_ps_date("2026-09-01") == dt.date(2026, 9, 1)
    assert parse_ps_date("2026-09-01 00:00:00") == dt.date(2026, 9, 1)
    assert parse_ps_date("9/1/2026") == dt.date(2026, 9, 1)
    assert parse_ps_date("") is None and parse_ps_date(None) is None
    with pytest.raises(ValueError):
        parse_ps_date("01-09-2026")


# ---------------------------------------------------------------- impossible dates of birth (issue 10)


@pytest.mark.parametrize(
    "dob",
    [TODAY + dt.timedelta(days=1), dt.date(2040, 1, 1), dt.date(1899, 12, 31), "1850-01-01",
     "2012-02-30", "not a date", "2012-13-01"],
)
def test_an_impossible_date_of_birth_holds_the_referral_instead_of_counting_as_a_minor(dob):
    decision = out(consent(), dob=dob)  # type: ignore[arg-type]
    assert (decision.allowed, decision.reason_code) == (False, "student_dob_invalid")
    assert "impossible" in decision.reason


def test_a_date_of_birth_given_as_powerschool_text_is_read():
    assert out(consent(), dob="2012-03-04").allowed  # type: ignore[arg-type]
    assert out(consent(), dob="").reason_code == "student_dob_missing"  # type: ignore[arg-type]


def test_student_age_says_why_it_cannot_tell():
    assert student_age(dt.date(1900, 1, 1), TODAY) == (126, "")
    assert student_age(None, TODAY) == (None, "missing")
    assert student_age(TODAY + dt.timedelta(days=1), TODAY) == (None, "impossible")
    assert student_age("03/04/2012", TODAY) == (14, "")


def test_inbound_treats_an_impossible_date_of_birth_like_an_unknown_one():
    assert inbound(consent(), dob=TODAY + dt.timedelta(days=3)).accepted
    assert inbound(consent(signer_type="eligible_student"), dob=dt.date(1850, 1, 1)).accepted


@pytest.mark.parametrize(
    ("expiration", "mou_end", "expected"),
    [
        (dt.date(2027, 6, 30), dt.date(2027, 7, 31), dt.date(2027, 6, 30)),
        (dt.date(2028, 6, 30), dt.date(2027, 7, 31), dt.date(2027, 7, 31)),
        (dt.date(2027, 7, 31), dt.date(2027, 7, 31), dt.date(2027, 7, 31)),
    ],
)
def test_consent_expires_is_the_earlier_of_the_consent_and_the_mou(expiration, mou_end, expected):
    assert consent_expires(consent(expiration_date=expiration), mou(expires=mou_end)) == expected

"""Property tests: no generated consent history lets a record out that SPEC 7 forbids.

The oracle below restates the rules independently and as plainly as possible (a different way of
finding the 18th birthday, no shared helpers); the policy must agree with it in both directions:
nothing forbidden goes out, and nothing allowed is held.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import event, given, settings
from hypothesis import strategies as st

from connector.policy import Consent, decide_inbound, decide_outbound
from foundation.config import Mou

TODAY = dt.date(2026, 10, 15)
PARTNER = "cgc"
OUT_CATEGORIES = ("identity", "referral", "enrollment", "guardian_contact")
IN_CATEGORIES = ("referral_status", "visit_summary")
SIGNERS = ("parent_guardian", "eligible_student", "minor_self", "legal_representative")


def eighteenth_birthday(dob: dt.date) -> dt.date:
    try:
        return dob.replace(year=dob.year + 18)
    except ValueError:  # 29 February in a common year
        return dt.date(dob.year + 18, 3, 1)


def consent_valid_on(c: Consent, today: dt.date) -> bool:
    if c.signed_date is None or c.signed_date > today:
        return False
    start = c.effective_date if c.effective_date is not None else c.signed_date
    if start > today:
        return False
    if c.expiration_date is None or c.expiration_date < today:
        return False
    return c.revoked_date is None or c.revoked_date > today


def oracle_may_send(
    c: Consent, mou: Mou, dob: dt.date | None, today: dt.date, sent: frozenset[str]
) -> bool:
    """One consent authorises sending `sent` to the partner today."""
    if not (mou.effective <= today <= mou.expires) or not sent <= set(mou.to_partner):
        return False
    if c.partner_id != PARTNER or c.direction not in ("to_partner", "both"):
        return False
    if not consent_valid_on(c, today) or not sent <= c.data_categories:
        return False
    if dob is None or not possible(dob, today):  # eligibility cannot be decided: held
        return False
    if today >= eighteenth_birthday(dob):
        return c.signer_type == "eligible_student"
    return c.signer_type in ("parent_guardian", "legal_representative")


def oracle_may_receive(
    c: Consent, mou: Mou, dob: dt.date | None, today: dt.date, category: str
) -> bool:
    if not (mou.effective <= today <= mou.expires) or category not in mou.to_school:
        return False
    if c.partner_id != PARTNER or c.direction not in ("from_partner", "both"):
        return False
    if not consent_valid_on(c, today) or category not in c.data_categories:
        return False
    if dob is None or not possible(dob, today):  # inbound does not check an unknown age
        return True
    if today >= eighteenth_birthday(dob):
        return c.signer_type in ("eligible_student", "minor_self")
    return c.signer_type != "eligible_student"


# ---------------------------------------------------------------- strategies


def mostly(likely: st.SearchStrategy, other: st.SearchStrategy) -> st.SearchStrategy:
    """Nine times in ten `likely` (so valid histories are common), else anything from `other`."""
    return st.sampled_from(range(10)).flatmap(lambda i: other if i == 9 else likely)


# Dates are drawn as day offsets from "today" (built once, so generation stays fast).
NEAR = st.integers(-40, 40)
PAST, FUTURE = st.integers(-40, 0), st.integers(0, 40)
MAYBE_NEAR = st.one_of(st.none(), NEAR)
CATEGORIES = st.frozensets(st.sampled_from(OUT_CATEGORIES + IN_CATEGORIES + ("screening",)))
CONSENT_FIELDS = st.fixed_dictionaries(
    {
        "ssp_uid": st.text("abc123", min_size=1, max_size=4),
        "partner_id": mostly(st.just(PARTNER), st.just("other")),
        "direction": st.sampled_from(("to_partner", "from_partner", "both")),
        "data_categories": mostly(
            CATEGORIES.map(lambda c: c | {"identity", "referral", "visit_summary"}), CATEGORIES
        ),
        "signer_type": st.sampled_from(SIGNERS),
        "signed_date": mostly(PAST, MAYBE_NEAR),
        "effective_date": st.one_of(st.none(), PAST, NEAR),
        "expiration_date": mostly(FUTURE, MAYBE_NEAR),
        "revoked_date": mostly(st.none(), NEAR),
    }
)
MOU_FIELDS = st.fixed_dictionaries(
    {
        "effective": mostly(st.integers(-400, 0), NEAR),
        "expires": mostly(st.integers(0, 400), NEAR),
        "to_partner": mostly(
            st.frozensets(st.sampled_from(OUT_CATEGORIES)).map(
                lambda c: c | {"identity", "referral"}
            ),
            st.frozensets(st.sampled_from(OUT_CATEGORIES)),
        ),
        "to_school": mostly(
            st.just(frozenset(IN_CATEGORIES)), st.frozensets(st.sampled_from(IN_CATEGORIES))
        ),
    }
)
DOB = mostly(
    st.one_of(
        st.integers(-3, 3).map(lambda d: ("turns_18", d)),
        st.sampled_from(
            (dt.date(2008, 2, 29), dt.date(2012, 2, 29), dt.date(2010, 5, 5), dt.date(2001, 1, 1))
        ),
        st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2016, 1, 1)),
    ),
    st.one_of(  # no date of birth, or an impossible one (a typo: future, before 1900)
        st.none(),
        st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2040, 1, 1)),
        st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(1899, 12, 31)),
    ),
)


def possible(dob: dt.date | None, today: dt.date) -> bool:
    """A date of birth the rules can use: known, not in the future, not before 1900."""
    return dob is not None and dob.year >= 1900 and dob <= today
DAY = st.one_of(
    st.just(TODAY),
    st.sampled_from((dt.date(2026, 2, 28), dt.date(2026, 3, 1), dt.date(2028, 2, 29))),
    st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2030, 12, 31)),
)


def _on(today: dt.date, offset: int | None) -> dt.date | None:
    return None if offset is None else today + dt.timedelta(days=offset)


def _consent(today: dt.date, f: dict) -> Consent:
    dates = {
        k: _on(today, f[k])
        for k in ("signed_date", "effective_date", "expiration_date", "revoked_date")
    }
    return Consent(
        ssp_uid=f["ssp_uid"],
        student_dcid="101",
        partner_id=f["partner_id"],
        direction=f["direction"],
        data_categories=f["data_categories"],
        purpose="",
        signer_type=f["signer_type"],
        **dates,
    )


def _mou(today: dt.date, f: dict) -> Mou:
    effective = _on(today, f["effective"])
    expires = max(effective, _on(today, f["expires"]))
    return Mou(
        effective=effective,
        expires=expires,
        to_partner=tuple(sorted(f["to_partner"])),
        to_school=tuple(sorted(f["to_school"])),
    )


def _dob(today: dt.date, value: object) -> dt.date | None:
    if isinstance(value, tuple):  # a day or two either side of the 18th birthday
        return dt.date(today.year - 18, today.month, min(today.day, 28)) + dt.timedelta(
            days=value[1]
        )
    return value  # type: ignore[return-value]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Consent], Mou, dt.date | None, dt.date]:
    """A day, the partner's MOU, the student's date of birth and consent history around that day."""
    today = draw(DAY)
    fields = draw(
        st.lists(
            CONSENT_FIELDS,
            min_size=draw(st.sampled_from((0, 1, 1, 1))),
            max_size=5,
            unique_by=lambda f: f["ssp_uid"],
        )
    )
    history = [_consent(today, f) for f in fields]
    return history, _mou(today, draw(MOU_FIELDS)), _dob(today, draw(DOB)), today


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_outbound_decision_agrees_with_the_rules(scenario):
    history, mou, dob, today = scenario
    decision = decide_outbound(
        partner_id=PARTNER, mou=mou, consents=history, student_dob=dob, today=today
    )
    event("allowed" if decision.allowed else f"held: {decision.reason_code}")
    required = frozenset({"identity", "referral"})
    # Nothing the rules allow is held, and nothing they forbid goes out.
    assert decision.allowed == any(oracle_may_send(c, mou, dob, today, required) for c in history)
    if decision.allowed:
        assert decision.consent in history
        assert oracle_may_send(decision.consent, mou, dob, today, decision.categories)
        assert required <= decision.categories
        both = set(mou.to_partner) & decision.consent.data_categories
        assert decision.categories == both & set(
            OUT_CATEGORIES
        )  # a subset of MOU and consent, and maximal
        assert decision.reason == "" and decision.reason_code == ""
    else:
        assert decision.reason and decision.reason_code
        assert decision.consent is None and decision.categories == frozenset()


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios(), category=st.sampled_from(IN_CATEGORIES))
def test_inbound_accepted_exactly_when_the_rules_allow(scenario, category):
    history, mou, dob, today = scenario
    decision = decide_inbound(
        partner_id=PARTNER,
        mou=mou,
        consents=history,
        category=category,
        today=today,
        student_dob=dob,
    )
    event("accepted" if decision.accepted else f"quarantined: {decision.reason_code}")
    assert decision.accepted == any(
        oracle_may_receive(c, mou, dob, today, category) for c in history
    )
    if decision.accepted:
        assert oracle_may_receive(decision.consent, mou, dob, today, category)
    else:
        assert decision.reason and decision.reason_code and decision.consent is None


@settings(max_examples=100, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_decision_does_not_depend_on_the_order_of_consents(scenario, data):
    history, mou, dob, today = scenario
    shuffled = data.draw(st.permutations(history))
    first = decide_outbound(
        partner_id=PARTNER, mou=mou, consents=history, student_dob=dob, today=today
    )
    second = decide_outbound(
        partner_id=PARTNER, mou=mou, consents=shuffled, student_dob=dob, today=today
    )
    assert (first.allowed, first.reason, first.categories) == (
        second.allowed,
        second.reason,
        second.categories,
    )
    if first.allowed:
        assert first.consent.ssp_uid == second.consent.ssp_uid  # type: ignore[union-attr]

"""The consent and MOU gate (SPEC 7): pure decisions on what may leave or enter the district.

No I/O and no clock: `today` is always passed in, so every rule can be tested exhaustively.
A "no" always comes with a short, stable, human `reason` (written to STATUS_REASON or to the
quarantine file) and a snake_case `reason_code` (counted in the run summary).

Outbound (school -> partner), all on the day of sending:
  1. the partner's MOU is in force and its `to_partner` lists every category sent;
  2. the student has a consent for that partner with direction `to_partner` or `both` that is
     signed (signed_date set and <= today), effective (effective_date, else signed_date, <= today),
     has an expiration date (HIPAA 164.508(c)(1)(v) requires one; FERPA does not, but one combined
     form serves both, so a consent without one is treated as not valid), not expired
     (expiration_date >= today), not revoked (revoked_date empty or after today), and whose
     categories cover every category sent;
  3. the signer had the authority on that day (below).
The referral itself needs `identity` and `referral`; each optional category (`enrollment`,
`guardian_contact`) is added only when both the MOU and the chosen consent allow it.

Signer authority (age computed on `today` from the date of birth):
  * 18 or over: only `eligible_student` authorises new outbound disclosures (34 CFR 99.3, 99.5:
    rights transfer to the student; a parent's consent signed before the 18th birthday no longer
    does). Outbound with an unknown date of birth is held: eligibility cannot be decided, and so
    is one with an impossible date of birth (unreadable, in the future, or before 1900: a typo
    that would otherwise make an adult look like a minor, or give a negative age).
  * under 18, outbound: `parent_guardian` or `legal_representative` only. `minor_self` does NOT
    release school records: CGS 19a-14c lets a minor consent to outpatient mental-health
    *treatment* and controls what the *provider* discloses about it, but it gives the minor no
    authority over education records, which stay the parent's under FERPA until 18.
    `eligible_student` is refused too (the student is not yet eligible).
  * inbound (partner -> school; HIPAA 164.502(g)(3), CGS 52-146e, 19a-14c): under 18 any of
    `parent_guardian`, `legal_representative`, `minor_self` (a minor who consented to their own
    treatment controls disclosure of it, so their consent is exactly what the partner needs); from
    18 only the student's own consent (`eligible_student`, or a `minor_self` consent, which the
    student signed personally). With no date of birth known (or an impossible one), inbound does
    not check age.

Several consents: among those that qualify, the latest-expiring, then latest-signed, is used. When
none qualifies, the reason is the most informative one: "awaiting consent" only when the student
has no consent at all for the partner; otherwise the failure of the family's most recent word
(a consent of the right direction, the most recently signed, an unsigned form counting as newest),
so a consent revoked yesterday is reported rather than an older one that merely expired.
Each consent reports the first check it fails, in this order: direction, revoked, signed,
effective, expiration, signer authority, categories.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from foundation.config import Mou
from foundation.errors import RecordError

__all__ = [
    "Consent",
    "OutboundDecision",
    "InboundDecision",
    "RevocationDue",
    "decide_outbound",
    "decide_inbound",
    "revocations_due",
    "age_on",
    "parse_ps_date",
    "student_age",
    "consent_expires",
    "DIRECTIONS",
    "SIGNER_TYPES",
    "REQUIRED_OUTBOUND",
    "OPTIONAL_OUTBOUND",
    "INBOUND_CATEGORIES",
    "AGE_OF_ELIGIBILITY",
]

DIRECTIONS = ("to_partner", "from_partner", "both")
SIGNER_TYPES = ("parent_guardian", "eligible_student", "minor_self", "legal_representative")
REQUIRED_OUTBOUND = ("identity", "referral")
OPTIONAL_OUTBOUND = ("enrollment", "guardian_contact")
INBOUND_CATEGORIES = ("referral_status", "visit_summary")
AGE_OF_ELIGIBILITY = 18
EARLIEST_BIRTH_YEAR = 1900

_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+Z?)?$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_CODE = re.compile(r"^[A-Za-z0-9_]{1,30}$")
Flow = Literal["outbound", "inbound"]


def parse_ps_date(value: str | None) -> dt.date | None:
    """A PowerSchool date string -> date; empty -> None. Raises ValueError if unparseable.

    PowerQueries return `YYYY-MM-DD` (TO_CHAR); a time suffix and the US `MM/DD/YYYY` form that
    some PowerSchool screens use are tolerated.
    """
    text = str(value or "").strip()
    if not text:
        return None
    try:
        if m := _ISO.match(text):
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if m := _US.match(text):
            return dt.date(int(m[3]), int(m[1]), int(m[2]))
    except ValueError:
        pass
    raise ValueError(f"'{text[:20]}' is not a date (YYYY-MM-DD)")


def age_on(dob: dt.date, day: dt.date) -> int:
    """Completed years on `day` (a 29 February birthday counts from 1 March in common years)."""
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


DobInput = dt.date | str | None


def student_age(dob: DobInput, today: dt.date) -> tuple[int | None, str]:
    """(age on `today`, "") for a possible date of birth; (None, "missing") when there is none;
    (None, "impossible") when it is unreadable, in the future or before 1900. `dob` may be the
    PowerSchool text (YYYY-MM-DD) or a date."""
    if isinstance(dob, str) or dob is None:
        try:
            dob = parse_ps_date(dob)
        except ValueError:
            return None, "impossible"
    if dob is None:
        return None, "missing"
    if dob > today or dob.year < EARLIEST_BIRTH_YEAR:
        return None, "impossible"
    return age_on(dob, today), ""


@dataclass(frozen=True)
class Consent:
    """One U_SSP_CONSENTS row. The repr names it by SSP_UID only."""

    ssp_uid: str
    student_dcid: str
    partner_id: str
    direction: str
    data_categories: frozenset[str]
    purpose: str = field(repr=False)
    signer_type: str
    signed_date: dt.date | None
    effective_date: dt.date | None
    expiration_date: dt.date | None
    revoked_date: dt.date | None
    form_version: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> Consent:
        """Parse a row of the consents PowerQuery; RecordError names the consent and field."""
        uid = _text(row, "ssp_uid")
        name = f"consent {uid}" if uid else f"consent id {_text(row, 'id') or '?'}"
        if not uid:
            raise RecordError(f"{name}: has no SSP_UID", field="ssp_uid")
        dcid = _text(row, "studentsdcid") or _text(row, "student_dcid")
        if not dcid:
            raise RecordError(f"{name}: has no student DCID", field="studentsdcid")
        partner = _text(row, "partner_id")
        if not partner:
            raise RecordError(f"{name}: has no PARTNER_ID", field="partner_id")
        return cls(
            ssp_uid=uid,
            student_dcid=dcid,
            partner_id=partner,
            direction=_choice(row, "direction", DIRECTIONS, name),
            data_categories=_categories(row, name),
            purpose=_text(row, "purpose"),
            signer_type=_choice(row, "signer_type", SIGNER_TYPES, name),
            signed_date=_date(row, "signed_date", name),
            effective_date=_date(row, "effective_date", name),
            expiration_date=_date(row, "expiration_date", name),
            revoked_date=_date(row, "revoked_date", name),
            form_version=_text(row, "form_version"),
        )

    @property
    def starts(self) -> dt.date | None:
        """The first day the consent counts: the effective date, else the signing date."""
        return self.effective_date or self.signed_date

    def allows(self, flow: Flow) -> bool:
        wanted = "to_partner" if flow == "outbound" else "from_partner"
        return self.direction in (wanted, "both")


def _text(row: Mapping[str, str], key: str) -> str:
    return str(row.get(key) or "").strip()


def _choice(row: Mapping[str, str], key: str, allowed: tuple[str, ...], name: str) -> str:
    value = _text(row, key).lower()  # codes are unique ignoring case (SPEC 3)
    if value not in allowed:
        shown = f"'{value[:30]}'" if value else "empty"
        raise RecordError(
            f"{name}: {key} is {shown} (expected one of {', '.join(allowed)})", field=key
        )
    return value


def _categories(row: Mapping[str, str], name: str) -> frozenset[str]:
    codes = [c.strip().lower() for c in _text(row, "data_categories").split(",") if c.strip()]
    bad = [c for c in codes if not _CODE.match(c)]
    if bad:
        raise RecordError(
            f"{name}: data_categories holds a bad code '{bad[0][:30]}'", field="data_categories"
        )
    return frozenset(codes)


def _date(row: Mapping[str, str], key: str, name: str) -> dt.date | None:
    try:
        return parse_ps_date(row.get(key))
    except ValueError as exc:
        raise RecordError(f"{name}: {key} {exc}", field=key) from None


# ---------------------------------------------------------------- checks on one consent


@dataclass(frozen=True)
class _Ask:
    """What is being decided: the flow, the day, the student's age and the categories needed."""

    flow: Flow
    today: dt.date
    age: int | None
    need: tuple[str, ...]
    dob_problem: str = ""  # "missing" | "impossible" when age is None


@dataclass(frozen=True)
class _Failure:
    code: str
    reason: str
    stage: int = 0  # index of the failed check: higher means the consent got further
    missing: int = 0  # categories not covered (for consent_categories)


def _direction(c: Consent, ask: _Ask) -> _Failure | None:
    if c.allows(ask.flow):
        return None
    verb = "sending" if ask.flow == "outbound" else "receiving"
    return _Failure("consent_wrong_direction", f"consent direction does not allow {verb}")


def _revoked(c: Consent, ask: _Ask) -> _Failure | None:
    if c.revoked_date is not None and c.revoked_date <= ask.today:
        return _Failure("consent_revoked", "consent revoked")
    return None


def _signed(c: Consent, ask: _Ask) -> _Failure | None:
    if c.signed_date is None or c.signed_date > ask.today:
        return _Failure("consent_not_signed", "consent not signed")
    return None


def _effective(c: Consent, ask: _Ask) -> _Failure | None:
    if c.starts is None or c.starts > ask.today:
        return _Failure("consent_not_effective", "consent not yet effective")
    return None


def _expiry(c: Consent, ask: _Ask) -> _Failure | None:
    if c.expiration_date is None:
        return _Failure("consent_no_expiration", "consent has no expiration date")
    if c.expiration_date < ask.today:
        return _Failure("consent_expired", "consent expired")
    return None


def _authority(c: Consent, ask: _Ask) -> _Failure | None:
    signer, inbound = c.signer_type, ask.flow == "inbound"
    if ask.age is None:
        if inbound:
            return None
        if ask.dob_problem == "impossible":
            return _Failure(
                "student_dob_invalid",
                "student date of birth is impossible (unreadable, in the future or before 1900): "
                "correct it in PowerSchool",
            )
        return _Failure(
            "student_dob_missing", "student date of birth unknown: cannot check who may consent"
        )
    if ask.age >= AGE_OF_ELIGIBILITY:
        if signer == "eligible_student" or (inbound and signer == "minor_self"):
            return None
        return _Failure("student_is_18", "student is 18: needs the student's own consent")
    if signer == "eligible_student":
        return _Failure("student_under_18", "student is under 18: needs a parent's consent")
    if signer == "minor_self" and not inbound:
        return _Failure(
            "minor_self_outbound", "a minor's own consent cannot release school records"
        )
    return None


def _covers(c: Consent, ask: _Ask) -> _Failure | None:
    missing = [cat for cat in ask.need if cat not in c.data_categories]
    if missing:
        return _Failure(
            "consent_categories",
            f"consent does not cover {', '.join(missing)}",
            missing=len(missing),
        )
    return None


# Order matters: it decides which reason a consent reports and how far it got.
_CHECKS = (_direction, _revoked, _signed, _effective, _expiry, _authority, _covers)


def _first_failure(c: Consent, ask: _Ask) -> _Failure | None:
    for stage, check in enumerate(_CHECKS, start=1):
        failure = check(c, ask)
        if failure is not None:
            return _Failure(failure.code, failure.reason, stage, failure.missing)
    return None


def _preference(c: Consent) -> tuple[dt.date, dt.date, str]:
    """Among valid consents: latest-expiring, then latest-signed, then SSP_UID for determinism."""
    return (c.expiration_date or dt.date.min, c.signed_date or dt.date.min, c.ssp_uid)


def _relevance(c: Consent, failure: _Failure) -> tuple[bool, dt.date, int, int, str]:
    """Among failing consents, whose reason to report: the family's most recent word.

    A consent of the right direction beats one of the wrong direction; then the most recently
    signed (an unsigned form counts as newest: it is the one in progress); then the one that got
    furthest through the checks, with the fewest categories missing.
    """
    right_way = failure.code != "consent_wrong_direction"
    return (right_way, c.signed_date or dt.date.max, failure.stage, -failure.missing, c.ssp_uid)


def _choose(
    consents: Iterable[Consent], partner_id: str, ask: _Ask
) -> tuple[Consent | None, _Failure | None]:
    """The best valid consent, or (None, the most informative failure); (None, None) if there
    is no consent for the partner at all."""
    valid: list[Consent] = []
    failing: list[tuple[Consent, _Failure]] = []
    for consent in consents:
        if consent.partner_id != partner_id:
            continue
        failure = _first_failure(consent, ask)
        if failure is None:
            valid.append(consent)
        else:
            failing.append((consent, failure))
    if valid:
        return max(valid, key=_preference), None
    if failing:
        return None, max(failing, key=lambda cf: _relevance(*cf))[1]
    return None, None


# ---------------------------------------------------------------- MOU


def _mou_failure(
    mou: Mou | None, today: dt.date, listed: Iterable[str], need: tuple[str, ...], flow: Flow
) -> _Failure | None:
    if mou is None:
        return _Failure("mou_missing", "no MOU with this partner")
    if today < mou.effective:
        return _Failure("mou_not_in_force", "MOU not yet in force")
    if today > mou.expires:
        return _Failure("mou_expired", "MOU expired")
    allowed = set(listed)
    missing = [cat for cat in need if cat not in allowed]
    if missing:
        what = "" if flow == "outbound" else " from the partner"
        return _Failure("mou_categories", f"MOU does not allow {', '.join(missing)}{what}")
    return None


# ---------------------------------------------------------------- decisions


@dataclass(frozen=True)
class OutboundDecision:
    allowed: bool
    reason: str  # "" when allowed
    reason_code: str  # "" when allowed
    consent: Consent | None
    categories: frozenset[str]  # empty when not allowed


@dataclass(frozen=True)
class InboundDecision:
    accepted: bool
    reason: str
    reason_code: str
    consent: Consent | None


def decide_outbound(
    *,
    partner_id: str,
    mou: Mou | None,
    consents: Iterable[Consent],
    student_dob: DobInput,
    today: dt.date,
    required: tuple[str, ...] = REQUIRED_OUTBOUND,
    optional: tuple[str, ...] = OPTIONAL_OUTBOUND,
) -> OutboundDecision:
    """May this student's record go to `partner_id` today, and with which categories?"""
    mou_failure = _mou_failure(mou, today, mou.to_partner if mou else (), required, "outbound")
    if mou_failure is not None:
        return OutboundDecision(False, mou_failure.reason, mou_failure.code, None, frozenset())
    age, problem = student_age(student_dob, today)
    consent, failure = _choose(
        consents, partner_id, _Ask("outbound", today, age, tuple(required), problem)
    )
    if consent is None:
        failure = failure or _Failure("awaiting_consent", "awaiting consent")
        return OutboundDecision(False, failure.reason, failure.code, None, frozenset())
    assert mou is not None
    extra = {cat for cat in optional if cat in mou.to_partner and cat in consent.data_categories}
    return OutboundDecision(True, "", "", consent, frozenset(required) | extra)


def decide_inbound(
    *,
    partner_id: str,
    mou: Mou | None,
    consents: Iterable[Consent],
    category: Literal["referral_status", "visit_summary"],
    today: dt.date,
    student_dob: DobInput = None,
) -> InboundDecision:
    """May a `category` record from `partner_id` about this student be accepted today?"""
    need = (category,)
    mou_failure = _mou_failure(mou, today, mou.to_school if mou else (), need, "inbound")
    if mou_failure is not None:
        return InboundDecision(False, mou_failure.reason, mou_failure.code, None)
    age, problem = student_age(student_dob, today)
    consent, failure = _choose(consents, partner_id, _Ask("inbound", today, age, need, problem))
    if consent is None:
        failure = failure or _Failure("no_consent", "no consent on file for this partner")
        return InboundDecision(False, failure.reason, failure.code, None)
    return InboundDecision(True, "", "", consent)


def consent_expires(consent: Consent, mou: Mou | None) -> dt.date | None:
    """The last day a disclosure under `consent` may be used: the consent's expiration or the
    MOU's end, whichever comes first (the signed form says it ends with the MOU)."""
    ends = [d for d in (consent.expiration_date, mou.expires if mou else None) if d is not None]
    return min(ends) if ends else None


@dataclass(frozen=True)
class RevocationDue:
    referral_id: str
    partner_id: str
    consent: Consent


def revocations_due(
    consents: Iterable[Consent], sent: Mapping[str, Iterable[str]], *, today: dt.date
) -> list[RevocationDue]:
    """Referrals sent under a consent that is revoked as of `today`.

    `sent` maps a consent's SSP_UID to the ids of the referrals sent under it. The caller filters
    out revocations already notified (its outbound ledger); this only says which are due.
    """
    by_uid = {c.ssp_uid: c for c in consents}
    due: list[RevocationDue] = []
    for uid, referral_ids in sent.items():
        consent = by_uid.get(uid)
        if consent is None or consent.revoked_date is None or consent.revoked_date > today:
            continue
        due.extend(RevocationDue(rid, consent.partner_id, consent) for rid in referral_ids)
    return sorted(due, key=lambda d: (d.partner_id, d.referral_id, d.consent.ssp_uid))

"""Demo data: what school staff enter on the Student Support Page, and what partners send back.

Deterministic for a seed. Used by `ssp demo` and by the end-to-end tests, so the demo shows the
same cases the tests check: referrals sent, referrals held for each consent reason, partner
status updates in both the generic and a partner-specific format, partner visits, hostile rows
that end in quarantine, and a consent revoked after its referral went out.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SchoolSide", "SeedCodes", "seed_school_side", "write_partner_replies", "revoke_one_consent",
           "HELD_CASES", "DEMO_PARTNERS"]

ALL_CATEGORIES = "identity,enrollment,guardian_contact,referral,referral_status,visit_summary"
HELD_CASES = ("consent_expired", "consent_revoked", "consent_wrong_direction", "consent_categories",
              "awaiting_consent", "student_is_18")
REASONS = ("anxiety", "depression", "behavior", "trauma", "family_stress", "grief", "attendance",
           "social_skills")
PURPOSES = ("self_referral", "staff_referral", "parent_request", "crisis", "check_in",
            "academic_concern", "family_concern", "grief_loss", "follow_up", "vaping")
SERVICES = ("individual_counseling", "group_counseling", "crisis_intervention", "family_contact",
            "staff_consultation", "safety_planning", "skill_building", "case_management")
ROLES = ("counselor", "social_worker", "psychologist", "nurse")
DEMO_PARTNERS = {"cgc": ALL_CATEGORIES, "bhcare": "identity,referral,referral_status"}
"""The demo's partners and the data categories their consents cover."""


@dataclass(frozen=True)
class SeedCodes:
    """The dropdown codes the seeded rows use (a district's edited lists for a rehearsal)."""

    reasons: tuple[str, ...] = REASONS
    purposes: tuple[str, ...] = PURPOSES
    services: tuple[str, ...] = SERVICES
    roles: tuple[str, ...] = ROLES
    urgencies: tuple[str, ...] = ("routine", "routine", "urgent")  # repeats weight the choice
    tiers: tuple[str, ...] = ("1", "1", "2", "2", "3")


def _some(rng: random.Random, codes: tuple[str, ...], low: int, high: int) -> str:
    """A sorted comma list of low..high distinct codes (fewer when the list is shorter)."""
    picked = rng.sample(codes, min(len(codes), rng.randint(low, high)))
    return ",".join(sorted(picked))


@dataclass
class SchoolSide:
    """What was entered, by case, so the demo and the tests know what to expect."""

    sent: dict[str, list[str]] = field(default_factory=dict)  # partner -> referral uids
    held: dict[str, str] = field(default_factory=dict)  # referral uid -> expected reason code
    school_based: list[str] = field(default_factory=list)
    consents: dict[str, str] = field(default_factory=dict)  # referral uid -> consent uid
    student_of: dict[str, int] = field(default_factory=dict)  # referral uid -> student DCID
    visits: int = 0


def _day(today: dt.date, offset: int) -> str:
    return (today + dt.timedelta(days=offset)).isoformat()


def _consent(sb: Any, dcid: int, uid: str, partner: str, today: dt.date, **overrides: str) -> None:
    values = {
        "SSP_UID": uid, "PARTNER_ID": partner, "DIRECTION": "both", "DATA_CATEGORIES": ALL_CATEGORIES,
        "PURPOSE": "Referral to and coordination of behavioral health services",
        "SIGNER_TYPE": "parent_guardian", "SIGNER_NAME": "Parent of record",
        "SIGNED_DATE": _day(today, -20), "EFFECTIVE_DATE": _day(today, -20),
        "EXPIRATION_DATE": _day(today, 345), "FORM_VERSION": "2026.1",
        "DOCUMENT_REF": f"scan://consents/{uid}.pdf",
    }
    values.update(overrides)
    sb.insert_row("U_SSP_CONSENTS", values, student_dcid=dcid)


def _referral(sb: Any, dcid: int, uid: str, partner: str, today: dt.date, rng: random.Random,
              codes: SeedCodes) -> None:
    sb.insert_row("U_SSP_REFERRALS", {
        "SSP_UID": uid, "REFERRAL_DATE": _day(today, -rng.randint(5, 40)),
        "REFERRED_BY": rng.choice(("J. Rivera, counselor", "M. Chen, social worker", "A. Okafor, psychologist")),
        "REFERRAL_TYPE": "community" if partner else "school_based", "PARTNER_ID": partner,
        "REASON": _some(rng, codes.reasons, 1, 2),
        "URGENCY": rng.choice(codes.urgencies), "STATUS": "new",
        "NOTES": "Private note: never leaves the district.",
    }, student_dcid=dcid)


def _visits(sb: Any, dcid: int, today: dt.date, rng: random.Random, uid_prefix: str, codes: SeedCodes) -> int:
    count = rng.randint(1, 3)
    for n in range(count):
        start = rng.randint(8, 14)
        sb.insert_row("U_SSP_VISITS", {
            "SSP_UID": f"{uid_prefix}-v{n}", "VISIT_DATE": _day(today, -rng.randint(1, 60)),
            "TIME_IN": f"{start:02d}:{rng.choice(('00', '15', '30'))}", "TIME_OUT": f"{start:02d}:50",
            "STAFF_NAME": "Support staff", "STAFF_ROLE": rng.choice(codes.roles),
            "PURPOSE": rng.choice(codes.purposes), "SERVICES": _some(rng, codes.services, 1, 3),
            "TIER": rng.choice(codes.tiers), "REFERRAL_MADE": "1" if n == 0 else "0",
            "SOURCE": "school", "NOTES": "Private note: never leaves the district.",
        }, student_dcid=dcid)
    return count


def _eighteen_today_or_before(student: dict[str, Any], today: dt.date) -> bool:
    dob = dt.date.fromisoformat(str(student["DOB"]))
    try:
        birthday = dob.replace(year=dob.year + 18)
    except ValueError:  # 29 February
        birthday = dt.date(dob.year + 18, 3, 1)
    return birthday <= today


def _plan(partners: list[str], referrals: int) -> list[str]:
    """Two thirds of the referrals to the first partner, the rest shared by the others in turn."""
    if len(partners) == 1:
        return partners * (referrals * 2 // 3 + referrals // 3)
    rest = [partners[1 + n % (len(partners) - 1)] for n in range(referrals // 3)]
    return [partners[0]] * (referrals * 2 // 3) + sorted(rest, key=partners.index)


def seed_school_side(sb: Any, today: dt.date, *, referrals: int = 40, seed: int = 11,
                     partners: dict[str, str] | None = None, codes: SeedCodes = SeedCodes()) -> SchoolSide:
    """Consents, referrals and visits as staff would enter them on the page.

    `partners` maps each partner id to the data categories its consents cover (default: the demo's
    two partners); the first partner also gets one referral held for each consent case.
    """
    partners = dict(partners or DEMO_PARTNERS)
    if not partners:
        raise ValueError("no partners to refer students to")
    first = next(iter(partners))
    rng = random.Random(seed)
    side = SchoolSide(sent={p: [] for p in partners})
    students = sorted((s for s in sb.students() if 3 <= int(s["GRADE_LEVEL"]) <= 11), key=lambda s: s["DCID"])
    adults = [s for s in sb.students() if int(s["GRADE_LEVEL"]) == 12 and _eighteen_today_or_before(s, today)]
    plan = _plan(list(partners), referrals)
    for i, partner in enumerate(plan):
        student = students[i % len(students)]
        uid, cuid = f"demo-ref-{i:03d}", f"demo-con-{i:03d}"
        _consent(sb, student["DCID"], cuid, partner, today, DATA_CATEGORIES=partners[partner])
        _referral(sb, student["DCID"], uid, partner, today, rng, codes)
        side.sent[partner].append(uid)
        side.consents[uid] = cuid
        side.student_of[uid] = student["DCID"]
        side.visits += _visits(sb, student["DCID"], today, rng, uid, codes)
    held_students = students[len(plan):len(plan) + len(HELD_CASES)]
    overrides = {
        "consent_expired": {"SIGNED_DATE": _day(today, -400), "EFFECTIVE_DATE": _day(today, -400),
                            "EXPIRATION_DATE": _day(today, -35)},
        "consent_revoked": {"REVOKED_DATE": _day(today, -3)},
        "consent_wrong_direction": {"DIRECTION": "from_partner"},
        "consent_categories": {"DATA_CATEGORIES": "identity,referral_status"},
    }
    for n, case in enumerate(HELD_CASES):
        student = adults[0] if case == "student_is_18" and adults else held_students[n]
        uid = f"demo-held-{case}"
        if case != "awaiting_consent":
            _consent(sb, student["DCID"], f"demo-con-{case}", first, today,
                     **{"DATA_CATEGORIES": partners[first], **overrides.get(case, {})})
        _referral(sb, student["DCID"], uid, first, today, rng, codes)
        side.held[uid] = case
        side.student_of[uid] = student["DCID"]
    for n in range(4):
        student = students[-(n + 1)]
        uid = f"demo-school-{n}"
        _referral(sb, student["DCID"], uid, "", today, rng, codes)
        side.school_based.append(uid)
        side.visits += _visits(sb, student["DCID"], today, rng, uid, codes)
    return side


PROGRESS = ("received", "accepted", "scheduled", "attended")


def _cgc_rows(side: SchoolSide, today: dt.date, numbers: dict[str, str]) -> tuple[list[dict], list[dict]]:
    updates, visits = [], []
    day = today.isoformat()
    for i, uid in enumerate(side.sent["cgc"]):
        path = {0: PROGRESS, 1: PROGRESS + ("in_service",), 2: ("received", "declined"),
                3: ("received", "accepted"), 4: ("received", "unable_to_contact")}[i % 5]
        for status in path:
            served = status in ("attended", "in_service")
            reason = "Family chose another provider" if status == "declined" else ""
            updates.append({"referral_id": uid, "status": status, "status_date": day,
                            "first_service_date": day if served else "", "status_reason": reason})
        if path[-1] in ("attended", "in_service"):
            visits.append({"partner_visit_id": f"CGC-{i:04d}", "student_number": numbers[uid],
                           "referral_id": uid, "visit_date": day, "time_in": "10:00", "time_out": "10:50",
                           "service_codes": "individual_counseling", "purpose_code": "follow_up",
                           "clinician_name": "CGC clinician"})
    hostile = [
        {"referral_id": "no-such-referral", "status": "received", "status_date": day,
         "first_service_date": "", "status_reason": ""},
        {"referral_id": side.sent["cgc"][0], "status": "received", "status_date": "2026-13-45",
         "first_service_date": "", "status_reason": ""},
        {"referral_id": side.sent["cgc"][2], "status": "attended", "status_date": day,
         "first_service_date": day, "status_reason": "=HYPERLINK(\"http://example.invalid\")"},
        {"referral_id": side.sent["bhcare"][0], "status": "received", "status_date": day,
         "first_service_date": "", "status_reason": ""},
    ]
    if visits:
        visits.append(dict(visits[0]))  # the same partner_visit_id twice: never a second row
        visits.append({**visits[0], "partner_visit_id": "CGC-BAD", "time_in": "25:00"})
    return updates + hostile, visits


def _bhcare_rows(side: SchoolSide, today: dt.date, numbers: dict[str, str]) -> tuple[list[dict], list[dict]]:
    us = today.strftime("%m/%d/%Y")
    updates, encounters = [], []
    for i, uid in enumerate(side.sent["bhcare"]):
        codes = ("RCVD", "ACPT", "SCHD", "SEEN") if i % 3 else ("RCVD", "DECL")
        for code in codes:
            updates.append({"ClientRefNo": uid, "StatusCode": code, "StatusDt": us,
                            "FirstApptDate": us if code == "SEEN" else "", "Notes/Reason": ""})
        encounters.append({"EncounterID": f"BHC-E-{i:04d}", "StudentID": numbers[uid], "ClientRefNo": uid,
                           "EncounterDt": us, "StartTime": "01:15 PM", "EndTime": "02:00 PM",
                           "SvcCodes": "IND", "VisitReason": "SCHOOL", "Clinician": "BHcare clinician"})
    return updates, encounters[:2]  # the MOU does not cover visit summaries: these are quarantined


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_partner_replies(side: SchoolSide, sb: Any, today: dt.date, inboxes: dict[str, Path]) -> None:
    """Each partner's answer to what it received: status updates and visits in its own format."""
    by_dcid = {s["DCID"]: str(s["STUDENT_NUMBER"]) for s in sb.students()}
    numbers = {uid: by_dcid[dcid] for uid, dcid in side.student_of.items()}
    stamp = today.strftime("%Y%m%d")
    updates, visits = _cgc_rows(side, today, numbers)
    _write_csv(inboxes["cgc"] / f"status_updates_{stamp}.csv", updates)
    _write_csv(inboxes["cgc"] / f"visits_{stamp}.csv", visits)
    (inboxes["cgc"] / f"status_updates_{stamp}_2.csv.part").write_text("referral_id,status\n")  # still uploading
    updates, encounters = _bhcare_rows(side, today, numbers)
    _write_csv(inboxes["bhcare"] / f"BHC_STATUS_{stamp}.csv", updates)
    _write_csv(inboxes["bhcare"] / f"BHC_ENCOUNTERS_{stamp}.csv", encounters)


def revoke_one_consent(sb: Any, side: SchoolSide, today: dt.date) -> str:
    """The parent of the first cgc student revokes consent after the referral went out."""
    uid = side.sent["cgc"][0]
    consent_uid = side.consents[uid]
    row = next(r for r in sb.rows("U_SSP_CONSENTS") if r["SSP_UID"] == consent_uid)
    sb.update_row("U_SSP_CONSENTS", row["ID"], {"REVOKED_DATE": today.isoformat()})
    return uid


FHIR_PARTNER = "northside"
"""The demo's partner on a FHIR R4 server (SDOH Clinical Care referrals), beside the CSV ones."""


def fhir_partner_block(base_url: str, today: dt.date, token_env: str) -> str:
    """The ssp.toml lines of the demo's FHIR partner (its MOU in force around `today`)."""
    return f"""
[[partners]]
id = "{FHIR_PARTNER}"
name = "Northside Family Health"
services = "Integrated behavioral health; telehealth counseling"
mapping = "fhir"
feed = {{ kind = "fhir", base_url = "{base_url}", token_env = "{token_env}" }}
mou = {{ effective = {_day(today, -60)}, expires = {_day(today, 300)}, to_partner = ["identity", "enrollment", "guardian_contact", "referral"], to_school = ["referral_status", "visit_summary"] }}
[partners.labels.es]
services = "Salud conductual integrada; consejería por telesalud"
"""


def play_fhir_partner(server: Any, side: SchoolSide, today: dt.date) -> dict[str, str]:
    """The FHIR partner works its Tasks: accepts, schedules, sees (a Procedure), completes,
    declines, and one Task carries a status outside the referral value set (quarantined).
    Returns referral uid -> what the partner did."""
    done: dict[str, str] = {}
    sent = [uid for uid in side.sent.get(FHIR_PARTNER, []) if _has_task(server, uid)]
    actions = ("accept", "schedule", "attend", "complete", "reject", "hostile")
    for uid, action in zip(sent, actions):
        if action == "accept":
            server.accept(uid)
        elif action == "schedule":
            server.schedule(uid)
        elif action in ("attend", "complete"):
            start = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(14, 0))
            server.attend(uid, visit_id=f"nfh-{uid}", start=f"{start.isoformat()}-05:00",
                          end=f"{(start + dt.timedelta(minutes=50)).isoformat()}-05:00",
                          service_code="90834", clinician="Northside clinician")
            if action == "complete":
                server.complete(uid)
        elif action == "reject":
            server.reject(uid, "family chose another provider")
        else:
            server.set_task(uid, "paused-forever")
        done[uid] = action
    return done


def _has_task(server: Any, uid: str) -> bool:
    try:
        server.task_for(uid)
    except KeyError:
        return False
    return True

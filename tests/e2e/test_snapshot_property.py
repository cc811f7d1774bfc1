"""Property (issue 10): whatever staff do on the page, and whenever they do it, no outbound row
contradicts what PowerSchool said at the moment of its batch read.

Hypothesis generates a sequence of page edits (consents signed, revoked, narrowed, deleted;
students' date of birth, guardians and phone changed; referrals added, deleted, copied) and runs
of `ssp sync run`. An edit lands either between two runs or at the worst moment: when the run's
snapshot request arrives, after the streams were read (`sandbox.on_request`). At every snapshot
request the sandbox's tables are captured as they are then; each row of the referrals file the
run writes is checked against that capture by an oracle written from the consent rules, not from
the connector's code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import TIMEZONE, Workspace, read_csv, reset_logging
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import Sandbox

CATEGORY_SETS = ("identity,referral", "identity,referral,guardian_contact",
                 "identity,enrollment,guardian_contact,referral,referral_status,visit_summary",
                 "identity", "referral_status,visit_summary")
SIGNERS = ("parent_guardian", "eligible_student", "minor_self", "legal_representative")
STUDENTS = 3

def _mostly(likely: Any, other: Any) -> Any:
    return st.one_of(likely, likely, likely, other)


edit = st.one_of(
    st.tuples(st.just("sign"), st.integers(0, STUDENTS - 1), _mostly(st.just("parent_guardian"), st.sampled_from(SIGNERS)),
              _mostly(st.just(CATEGORY_SETS[2]), st.sampled_from(CATEGORY_SETS)),
              _mostly(st.just(300), st.integers(-5, 400)),
              _mostly(st.just("both"), st.sampled_from(("to_partner", "from_partner")))),
    st.tuples(st.just("revoke"), st.integers(0, 9)),
    st.tuples(st.just("narrow"), st.integers(0, 9), st.sampled_from(CATEGORY_SETS)),
    st.tuples(st.just("delete_consent"), st.integers(0, 9)),
    st.tuples(st.just("dob"), st.integers(0, STUDENTS - 1), st.sampled_from(("minor", "adult", "turns_18", "future", "1850"))),
    st.tuples(st.just("custody"), st.integers(0, STUDENTS - 1), st.integers(0, 99)),
    st.tuples(st.just("refer"), st.integers(0, STUDENTS - 1)),
    st.tuples(st.just("refer"), st.integers(0, STUDENTS - 1)),
    st.tuples(st.just("delete_referral"), st.integers(0, 9)),
    st.tuples(st.just("copy_referral"), st.integers(0, 9)),
)
step = st.one_of(st.just(("run",)), st.tuples(st.just("now"), edit), st.tuples(st.just("at_snapshot"), edit))


class Page:
    """Applies generated edits to the sandbox as staff would."""

    def __init__(self, ws: Workspace) -> None:
        self.ws, self.sb = ws, ws.sandbox
        self.students = [ws.minor(n) for n in range(STUDENTS)]
        self.made = 0

    def _row(self, table: str, k: int) -> dict[str, Any] | None:
        rows = self.sb.rows(table)
        return rows[k % len(rows)] if rows else None

    def apply(self, action: tuple[Any, ...]) -> None:
        kind, ws, sb = action[0], self.ws, self.sb
        self.made += 1
        if kind == "sign":
            _, s, signer, cats, days, direction = action
            ws.add_consent(self.students[s]["DCID"], f"con-{self.made}", SIGNER_TYPE=signer,
                           DATA_CATEGORIES=cats, EXPIRATION_DATE=ws.day(days), DIRECTION=direction)
        elif kind in ("revoke", "narrow", "delete_consent"):
            row = self._row("U_SSP_CONSENTS", action[1])
            if row is None:
                return
            if kind == "revoke":
                sb.update_row("U_SSP_CONSENTS", row["ID"], {"REVOKED_DATE": ws.day(0)})
            elif kind == "narrow":
                sb.update_row("U_SSP_CONSENTS", row["ID"], {"DATA_CATEGORIES": action[2]})
            else:
                sb.delete_row("U_SSP_CONSENTS", row["ID"])
        elif kind == "dob":
            today = ws.today
            dob = {"minor": today.replace(year=today.year - 12), "adult": today.replace(year=today.year - 19),
                   "turns_18": today.replace(year=today.year - 18) - dt.timedelta(days=1),
                   "future": today + dt.timedelta(days=40), "1850": dt.date(1850, 1, 1)}[action[2]]
            sb.update_row("STUDENTS", self.students[action[1]]["DCID"], {"DOB": dob.isoformat()})
        elif kind == "custody":
            n = action[2]
            sb.update_row("STUDENTS", self.students[action[1]]["DCID"],
                          {"MOTHER": "" if n % 2 else f"Mother {n}", "FATHER": f"Father {n}",
                           "HOME_PHONE": f"555-555-{n:04d}"})
        elif kind == "refer":
            ws.add_referral(self.students[action[1]]["DCID"], f"ref-{self.made}")
        elif kind in ("delete_referral", "copy_referral"):
            row = self._row("U_SSP_REFERRALS", action[1])
            if row is None:
                return
            if kind == "delete_referral":
                sb.delete_row("U_SSP_REFERRALS", row["ID"])
            else:
                copy = {k: v for k, v in row.items() if k not in ("ID", "WHOCREATED", "WHENCREATED",
                                                                  "WHOMODIFIED", "WHENMODIFIED")}
                sb.insert_row("U_SSP_REFERRALS", copy)

    def capture(self) -> dict[str, list[dict[str, Any]]]:
        return {t: self.sb.rows(t) for t in ("STUDENTS", "U_SSP_CONSENTS", "U_SSP_REFERRALS", "SCHOOLS")}


def _possible_age(dob_text: str, today: dt.date) -> int | None:
    dob = dt.date.fromisoformat(dob_text)
    if dob > today or dob.year < 1900:
        return None
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def contradictions(row: dict[str, str], seen: dict[str, list[dict[str, Any]]], today: dt.date,
                   mou_end: dt.date) -> list[str]:
    """What in an outbound referral row PowerSchool's data at the batch read does not support."""
    uid = row["referral_id"]
    referrals = [r for r in seen["U_SSP_REFERRALS"] if r["SSP_UID"] == uid]
    if len(referrals) != 1:
        return [f"{uid}: {len(referrals)} referral rows at the batch read"]
    referral = referrals[0]
    if (referral["STATUS"], referral["PARTNER_ID"]) != ("new", "cgc"):
        return [f"{uid}: referral was {referral['STATUS']} for {referral['PARTNER_ID']}"]
    student = next(s for s in seen["STUDENTS"] if s["DCID"] == referral["STUDENTSDCID"])
    consent = next((c for c in seen["U_SSP_CONSENTS"] if c["SSP_UID"] == row["consent_id"]
                    and c["STUDENTSDCID"] == student["DCID"] and c["PARTNER_ID"] == "cgc"), None)
    if consent is None:
        return [f"{uid}: consent {row['consent_id']} not on the page"]
    problems = []
    cats = set((consent["DATA_CATEGORIES"] or "").split(","))
    age = _possible_age(student["DOB"], today)
    if consent["DIRECTION"] not in ("to_partner", "both"):
        problems.append("wrong direction")
    if consent["REVOKED_DATE"] and consent["REVOKED_DATE"] <= today.isoformat():
        problems.append("revoked")
    if not (consent["SIGNED_DATE"] or "9999") <= today.isoformat() or \
            not (consent["EFFECTIVE_DATE"] or consent["SIGNED_DATE"] or "9999") <= today.isoformat():
        problems.append("not in effect")
    if not consent["EXPIRATION_DATE"] or consent["EXPIRATION_DATE"] < today.isoformat():
        problems.append("expired")
    if not {"identity", "referral"} <= cats:
        problems.append("categories")
    if age is None:
        problems.append("impossible date of birth")
    elif age >= 18 and consent["SIGNER_TYPE"] != "eligible_student":
        problems.append("adult without own consent")
    elif age < 18 and consent["SIGNER_TYPE"] not in ("parent_guardian", "legal_representative"):
        problems.append("minor without a parent's consent")
    expected = {"student_number": str(student["STUDENT_NUMBER"]), "first_name": student["FIRST_NAME"],
                "last_name": student["LAST_NAME"], "date_of_birth": student["DOB"],
                "consent_expires": min(consent["EXPIRATION_DATE"], mou_end.isoformat())}
    school = next((s["NAME"] for s in seen["SCHOOLS"] if s["SCHOOL_NUMBER"] == student["SCHOOLID"]), "")
    expected.update({"school_name": school, "grade": str(student["GRADE_LEVEL"])} if "enrollment" in cats
                    else {"school_name": "", "grade": ""})
    expected.update({"guardian_name": (student["MOTHER"] or "").strip() or (student["FATHER"] or "").strip(),
                     "guardian_phone": student["HOME_PHONE"] or ""} if "guardian_contact" in cats
                    else {"guardian_name": "", "guardian_phone": ""})
    problems += [f"{k} differs" for k, v in expected.items() if row[k] != v]
    return [f"{uid}: {p}" for p in problems]


@contextlib.contextmanager
def _workspace(root: Path, zips: tuple[Path, Path], today: dt.date, capsys: Any) -> Iterator[Workspace]:
    root.mkdir(parents=True)
    with Sandbox(plugins=list(zips), students=40, seed=7, timezone=TIMEZONE) as sandbox, reset_logging():
        yield Workspace(root, sandbox, today, capsys)


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=3, max_size=14))
def test_no_outbound_row_contradicts_powerschool_at_its_batch_read(
    steps: list[tuple[Any, ...]], plugin_zips: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory,
    today: dt.date, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path_factory.mktemp("prop") / "ws"
    with _workspace(root, plugin_zips, today, capsys) as ws:
        monkeypatch.setenv("SSP_CLIENT_ID", ws.sandbox.client_id)
        monkeypatch.setenv("SSP_CLIENT_SECRET", ws.sandbox.client_secret)
        page = Page(ws)
        for n in range(STUDENTS):  # every student starts with a parent's valid consent
            page.apply(("sign", n, "parent_guardian", CATEGORY_SETS[2], 300, "both"))
        mou_end = ws.config.partner("cgc").mou.expires
        waiting: list[tuple[Any, ...]] = []
        checked = 0
        for item in [*steps, ("run",)]:
            if item[0] == "now":
                page.apply(item[1])
                continue
            if item[0] == "at_snapshot":
                waiting.append(item[1])
                continue
            captures: list[dict[str, list[dict[str, Any]]]] = []

            def at_snapshot(edits: list[tuple[Any, ...]] = list(waiting)) -> None:
                for action in edits:
                    page.apply(action)
                edits.clear()
                captures.append(page.capture())

            ws.sandbox.on_request("POST", "referrals.snapshot", at_snapshot, times=100)
            before = set(p.name for p in ws.outbox("cgc").glob("referrals_*.csv"))
            result = ws.ssp("sync", "run")
            assert result.code == 0, result.stderr[-1500:]
            ws.sandbox.cancel_hooks()  # the next run gets its own
            waiting = []
            new_files = [p for p in ws.outbox("cgc").glob("referrals_*.csv") if p.name not in before]
            for path in new_files:
                assert len(captures) == 1, "a referrals file was written without one snapshot read"
                for row in read_csv(path):
                    problems = contradictions(row, captures[0], ws.today, mou_end)
                    assert not problems, problems
                    checked += 1

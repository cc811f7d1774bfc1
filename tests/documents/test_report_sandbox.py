"""End to end: rows entered in the sandbox, read back through the connector's own PowerQueries and
mirrored in its state store, give the report the counts computed straight from what was entered."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from connector.client import PowerSchoolClient
from connector.state import StateStore
from documents.report import display_table, load_report_rows
from documents.report_data import Period, compute_report
from foundation.config import Credentials, SSPConfig, demo_config_text, parse_config_text
from plugin.build import build_plugins
from plugin.queries import connector_queries
from sandbox import Sandbox

PERIOD = Period(dt.date(2026, 7, 1), dt.date(2027, 6, 30))
DONE = ("attended", "in_service", "completed")


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> SSPConfig:
    return parse_config_text(
        demo_config_text(), source="demo_ssp.toml", base_dir=tmp_path_factory.mktemp("cfg")
    )


@pytest.fixture(scope="module")
def sandbox(config: SSPConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    zips = build_plugins(config, tmp_path_factory.mktemp("dist"))
    with Sandbox(plugins=zips, students=80, seed=11) as sb:
        yield sb


def _enter_rows(sb: Sandbox) -> tuple[list[dict], list[dict]]:
    """What staff (and synced partners) put on the page: 120 referrals and 150 visits."""
    rnd = random.Random(5)
    students = sb.students()
    referrals, visits = [], []
    for i in range(120):
        student = rnd.choice(students)
        status = rnd.choice(["new", "sent", "accepted", "declined", "attended", "completed"])
        values = {
            "SSP_UID": str(uuid.UUID(int=i + 1)),
            "REFERRAL_DATE": f"2026-{rnd.randint(9, 12):02d}-0{rnd.randint(1, 9)}",
            "PARTNER_ID": rnd.choice(["cgc", "bhcare", "cgc"]),
            "STATUS": status,
            "ACCESS_RESULT": "yes"
            if status in DONE
            else ("no" if status == "declined" else "pending"),
            "REFERRAL_TYPE": "community",
            "REASON": "anxiety",
            "URGENCY": "routine",
        }
        sb.insert_row("U_SSP_REFERRALS", values, student_dcid=student["DCID"])
        referrals.append({**values, "DCID": student["DCID"], "SCHOOLID": student["SCHOOLID"]})
    for i in range(150):
        student = rnd.choice(students)
        values = {
            "SSP_UID": str(uuid.UUID(int=10_000 + i)),
            "VISIT_DATE": f"2026-10-{rnd.randint(10, 28)}",
            "PURPOSE": rnd.choice(["crisis", "check_in"]),
            "SERVICES": "individual_counseling",
            "TIER": rnd.choice(["1", "2"]),
            "SOURCE": rnd.choice(["school", "partner:cgc"]),
        }
        sb.insert_row("U_SSP_VISITS", values, student_dcid=student["DCID"])
        visits.append(values)
    return referrals, visits


def _mirror(config: SSPConfig, sb: Sandbox) -> None:
    """The connector's read path: its PowerQueries through its client, into its state store."""
    queries = {
        q.area: q.name
        for q in connector_queries(config.catalogue(), config.district.query_namespace)
    }
    creds = Credentials(sb.client_id, SecretStr(sb.client_secret))
    with (
        PowerSchoolClient(sb.base_url, creds) as ps,
        StateStore.open_dir(config.state_dir) as store,
    ):
        for kind in ("referrals", "visits"):
            store.upsert_mirror(kind, ps.query(queries[kind], {"since": "2000-01-01 00:00:00"}))


def test_report_counts_match_the_sandbox_data(config: SSPConfig, sandbox: Sandbox) -> None:
    entered_refs, entered_visits = _enter_rows(sandbox)
    _mirror(config, sandbox)
    referrals, visits = load_report_rows(config)
    assert len(referrals) == 120 and len(visits) == 150
    data = compute_report(
        referrals, visits, partners=config.partners, catalogue=config.catalogue(), period=PERIOD
    )

    cgc = [r for r in entered_refs if r["PARTNER_ID"] == "cgc"]
    funnel = dict(zip(data.funnel.row_labels, data.funnel.counts, strict=True))
    assert funnel[("Child Guidance Center",)][0] == len(cgc)
    assert funnel[("Child Guidance Center",)][4] == sum(r["ACCESS_RESULT"] == "yes" for r in cgc)
    assert funnel[("All partners",)][1] == sum(r["STATUS"] != "new" for r in entered_refs)

    schools = {s["SCHOOL_NUMBER"]: s["NAME"] for s in sandbox.schools()}
    grant = dict(zip(data.grant.row_labels, data.grant.counts, strict=True))
    for number, name in schools.items():
        at_school = [r for r in entered_refs if r["SCHOOLID"] == number]
        if not at_school:
            continue
        assert grant[(name, "All partners")] == (
            len({r["DCID"] for r in at_school}),
            len({r["DCID"] for r in at_school if r["ACCESS_RESULT"] == "yes"}),
        ), name
    purposes = dict(
        zip(data.visits_by_purpose.row_labels, data.visits_by_purpose.counts, strict=True)
    )
    assert purposes[("Crisis",)][-1] == sum(v["PURPOSE"] == "crisis" for v in entered_visits)
    by_source = dict(
        zip(data.visits_by_month.col_labels, data.visits_by_month.counts[-1], strict=True)
    )
    assert by_source["Child Guidance Center"] == sum(
        v["SOURCE"] == "partner:cgc" for v in entered_visits
    )
    assert display_table(data.funnel).row("All partners").cells[0].text == str(len(entered_refs))

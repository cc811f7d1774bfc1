"""Fault injection: the spec grammar, scripting, targeting, and every fault kind on the wire,
including write faults that fail before and after the write is applied."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import pytest
import requests
from sandbox_helpers import authorised_session, token

from foundation.errors import ConfigError
from sandbox import FaultPlan, Sandbox
from sandbox.faults import parse_spec

PARTNERS = "/ws/schema/table/u_ssp_partners"
BRIEF_SPEC = (
    "429:0.1,503:0.05,500:0.02,502:0.02,504:0.02,reset:0.02,timeout:0.01,html:0.02,expire:0.01,"
    "single:1"
)


def test_spec_grammar_reads_faults_and_quirks() -> None:
    faults, quirks = parse_spec(BRIEF_SPEC + ",reset_after_write:0.01,norecord:0.5")
    assert faults["429"] == 0.1 and faults["reset_after_write"] == 0.01 and len(faults) == 10
    assert quirks == {"single": 1.0, "norecord": 0.5}


@pytest.mark.parametrize(
    "spec",
    [
        "429",
        "429:x",
        "429:1.5",
        "teapot:0.1",
        "ok:0.1",
        "429:0.6,503:0.6",
        "expire_after_write:0.1",
    ],
)
def test_bad_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError, match="faults"):
        FaultPlan(spec)


def test_script_applies_in_order_then_probabilities_resume() -> None:
    plan = FaultPlan("503:1").script(["429", "ok", "reset_after_write"])
    names = [getattr(plan.decide("GET", "/x"), "name", "ok") for _ in range(4)]
    assert names == ["429", "ok", "reset_after_write", "503"]
    assert plan.injected == ["429", "reset_after_write", "503"]


def test_only_targets_paths_and_methods_without_consuming_the_script() -> None:
    plan = FaultPlan().script(["500"]).only(path_prefix="/ws/schema/table", methods=["POST", "PUT"])
    assert plan.decide("GET", "/ws/schema/table/t") is None
    assert plan.decide("POST", "/ws/schema/query/q") is None
    assert plan.decide("POST", "/ws/schema/table/t").kind == "500"


def test_random_faults_are_reproducible_for_a_seed() -> None:
    def draws(seed: int) -> list[str]:
        plan = FaultPlan("429:0.3,503:0.3", seed=seed)
        return [getattr(plan.decide("GET", "/"), "name", "ok") for _ in range(50)]

    assert draws(1) == draws(1) and draws(1) != draws(2)
    assert {"429", "503", "ok"} == set(draws(1))


# -- on the wire ----------------------------------------------------------------------------


@pytest.fixture
def sb(plugin_zips: list) -> Iterator[Sandbox]:
    with Sandbox(plugins=plugin_zips, students=5) as box:
        box.faults.timeout_seconds = 0.6
        box.faults.retry_after_seconds = 2
        yield box


@pytest.fixture
def session(sb: Sandbox) -> Iterator[requests.Session]:
    s = authorised_session(sb)
    yield s
    s.close()


def read(sb: Sandbox, session: requests.Session, **kwargs: object) -> requests.Response:
    return session.get(f"{sb.base_url}{PARTNERS}", params={"projection": "*"}, timeout=5, **kwargs)


def insert(
    sb: Sandbox, session: requests.Session, uid: str, timeout: float = 5
) -> requests.Response:
    body = {"tables": {"u_ssp_partners": {"ssp_uid": uid, "partner_id": "p"}}}
    return session.post(f"{sb.base_url}{PARTNERS}", json=body, timeout=timeout)


def test_429_alternates_retry_after_seconds_and_http_date(
    sb: Sandbox, session: requests.Session
) -> None:
    sb.faults.script(["429", "429"])
    first, second = read(sb, session), read(sb, session)
    assert first.status_code == second.status_code == 429
    assert first.headers["Retry-After"] == "2"
    when = email.utils.parsedate_to_datetime(second.headers["Retry-After"])
    assert when.tzinfo is not None and second.headers["Retry-After"].endswith("GMT")
    assert read(sb, session).status_code == 200


@pytest.mark.parametrize(
    ("kind", "html"), [("500", False), ("502", True), ("503", True), ("504", True)]
)
def test_server_errors(sb: Sandbox, session: requests.Session, kind: str, html: bool) -> None:
    sb.faults.script([kind])
    reply = read(sb, session)
    assert reply.status_code == int(kind)
    assert reply.headers["Content-Type"].startswith("text/html" if html else "application/json")


def test_reset_drops_the_connection_without_a_response(
    sb: Sandbox, session: requests.Session
) -> None:
    sb.faults.script(["reset"])
    with pytest.raises(requests.ConnectionError):
        read(sb, session)
    assert sb.request_log[-1].status == 0
    assert read(sb, session).status_code == 200


def test_timeout_holds_the_request_past_the_read_timeout(
    sb: Sandbox, session: requests.Session
) -> None:
    sb.faults.script(["timeout"])
    with pytest.raises(requests.ReadTimeout):
        session.get(f"{sb.base_url}{PARTNERS}", params={"projection": "*"}, timeout=0.2)


def test_html_outage_page_is_a_200(sb: Sandbox, session: requests.Session) -> None:
    sb.faults.script(["html"])
    reply = read(sb, session)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/html")
    assert "<title>PowerSchool page unavailable</title>" in reply.text


def test_redirect_points_at_powerschools_outage_page_like_a_server_that_is_down(
    sb: Sandbox, session: requests.Session
) -> None:
    sb.faults.script(["redirect"])
    reply = read(sb, session, allow_redirects=False)
    assert reply.status_code == 302
    assert reply.headers["Location"] == "https://message.powerschool.com/?server=127.0.0.1"
    assert read(sb, session).status_code == 200


def test_nothing_is_served_at_the_old_local_outage_path(
    sb: Sandbox, session: requests.Session
) -> None:
    assert session.get(f"{sb.base_url}/__outage", timeout=5).status_code == 404


def test_expire_invalidates_the_token_mid_run(sb: Sandbox, session: requests.Session) -> None:
    sb.faults.script(["expire"])
    reply = read(sb, session)
    assert reply.status_code == 401 and "invalid_token" in reply.headers["WWW-Authenticate"]
    assert read(sb, session).status_code == 401  # the old token stays dead
    session.headers["Authorization"] = f"Bearer {token(sb)}"
    assert read(sb, session).status_code == 200


@pytest.mark.parametrize(
    ("kind", "applied"),
    [
        ("reset", False),
        ("timeout", False),
        ("503", False),
        ("429", False),
        ("reset_after_write", True),
        ("timeout_after_write", True),
        ("503_after_write", True),
        ("html_after_write", True),
    ],
)
def test_write_faults_before_or_after_applying(
    sb: Sandbox, session: requests.Session, kind: str, applied: bool
) -> None:
    sb.faults.script([kind]).only(path_prefix="/ws/schema/table", methods=["POST"])
    try:
        reply = insert(sb, session, "w-1", timeout=0.3)
        assert reply.status_code != 200 or "html" in kind
    except requests.RequestException:
        pass
    assert [r["SSP_UID"] for r in sb.rows("U_SSP_PARTNERS")] == (["w-1"] if applied else [])


def test_faults_only_hit_the_targeted_requests(sb: Sandbox, session: requests.Session) -> None:
    sb.faults.set("503:1").only(methods=["POST"], path_prefix="/ws/schema/table")
    assert read(sb, session).status_code == 200
    assert insert(sb, session, "x").status_code == 503
    sb.faults.clear()
    assert insert(sb, session, "x").status_code == 200


def test_random_faults_from_the_spec_mix_with_successes(plugin_zips: list) -> None:
    with Sandbox(plugins=plugin_zips, students=3, faults="503:0.5", seed=3) as box:
        box.faults.only(path_prefix="/ws/schema")
        s = authorised_session(box)
        codes = [s.get(f"{box.base_url}{PARTNERS}/count", timeout=5).status_code for _ in range(30)]
        assert {200, 503} == set(codes)


def test_latency_delays_every_request(plugin_zips: list) -> None:
    with Sandbox(plugins=plugin_zips, students=3, latency_ms=60) as box:
        started = time.monotonic()
        requests.get(f"{box.base_url}/ws/v1/metadata", timeout=5)
        assert time.monotonic() - started >= 0.06

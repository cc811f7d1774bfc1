"""The http feed: the partner API contract of docs/partner-http-api.md, tested with `responses`."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import requests
import responses
from hostile.corpus import TODAY
from hostile.drive import drive
from responses import matchers

from connector.feeds.base import PublishRefused
from connector.feeds.factory import open_feed
from connector.feeds.http_feed import HttpFeed
from connector.mapping import load_mapping
from connector.records import REDISCLOSURE_NOTICE
from connector.retry import RetryPolicy
from foundation.config import parse_config_text
from foundation.errors import ConfigError, RunError

BASE = "https://api.partner.example/ssp/v1"
TOKEN = "tok-3f9a8b7c6d5e4f3a2b1c"
RUN = "2f1c7a7e-5d1b-4a8e-9c7e-0d6c1b2a3f40"
GENERIC = load_mapping("generic", base_dir=Path("."))
UPDATE = {"referral_id": "R-1", "status": "accepted", "status_date": "2026-09-01"}


def make_feed(tmp_path: Path, base: str = BASE, **kwargs) -> HttpFeed:  # type: ignore[no-untyped-def]
    policy = RetryPolicy(sleep=lambda _s: None, max_attempts=3, base_delay=0.0)
    return HttpFeed(
        "cgc",
        GENERIC,
        base_url=base,
        token=TOKEN,
        state_dir=tmp_path / "state",
        policy=policy,
        today=lambda: TODAY,
        **kwargs,
    )


def page(items, cursor=None, has_more=None):  # type: ignore[no-untyped-def]
    body = {"items": items, "next_cursor": cursor}
    if has_more is not None:
        body["has_more"] = has_more
    return body


@responses.activate
def test_pages_are_batches_with_their_cursor_and_the_token(tmp_path: Path) -> None:
    responses.get(
        f"{BASE}/status_updates",
        json=page([UPDATE], "c1", True),
        match=[
            matchers.query_param_matcher({"since": "c0"}),
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
        ],
    )
    responses.get(
        f"{BASE}/status_updates",
        json=page([{**UPDATE, "referral_id": "R-2"}], "c2", False),
        match=[matchers.query_param_matcher({"since": "c1"})],
    )
    feed = make_feed(tmp_path)
    batches = list(feed.inbound("status_update", since="c0"))
    assert [b.next_cursor for b in batches] == ["c1", "c2"]
    assert [b.source for b in batches] == [
        "GET /status_updates since c0",
        "GET /status_updates since c1",
    ]
    rows = [row for b in batches for row in b.rows()]
    assert [r.values["referral_id"] for r in rows] == ["R-1", "R-2"]
    assert (
        GENERIC.parse_status_update(
            rows[0].values, batches[0].provenance(rows[0]), today=TODAY
        ).status
        == "accepted"
    )


@responses.activate
def test_a_run_with_nothing_new_makes_one_request_and_no_batch(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", json=page([], "c5"))
    assert list(make_feed(tmp_path).inbound("visit", since="c5")) == []
    assert len(responses.calls) == 1


@responses.activate
def test_first_run_without_cursor_sends_no_since(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", json=page([], None), match=[matchers.query_string_matcher("")])
    assert list(make_feed(tmp_path).inbound("visit")) == []


@responses.activate
def test_empty_page_with_a_new_cursor_is_an_empty_batch_so_the_cursor_moves(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", json=page([], "c6"))
    (batch,) = make_feed(tmp_path).inbound("visit", since="c5")
    assert batch.next_cursor == "c6" and list(batch.rows()) == []


@responses.activate
def test_without_has_more_paging_stops_at_the_first_empty_page(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", json=page([{"partner_visit_id": "V-1"}], "c1"))
    responses.get(f"{BASE}/visits", json=page([], "c1"))
    assert len(list(make_feed(tmp_path).inbound("visit"))) == 1
    assert len(responses.calls) == 2


@responses.activate
def test_a_repeated_cursor_stops_paging(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", json=page([{"partner_visit_id": "V-1"}], "c1", True))
    assert len(list(make_feed(tmp_path).inbound("visit", since="c1"))) == 1
    assert len(responses.calls) == 1


@responses.activate
def test_single_object_instead_of_a_list_is_one_item(tmp_path: Path) -> None:
    responses.get(f"{BASE}/status_updates", json={"items": UPDATE, "next_cursor": "c1"})
    responses.get(f"{BASE}/status_updates", json=page([], "c1"))
    (batch,) = make_feed(tmp_path).inbound("status_update")
    assert [r.values for r in batch.rows()] == [UPDATE]


@responses.activate
def test_transient_failures_are_retried(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", status=503)
    responses.get(f"{BASE}/visits", status=429, headers={"Retry-After": "1"})
    responses.get(f"{BASE}/visits", body="<html>down for maintenance</html>")
    responses.get(f"{BASE}/visits", json=page([], None))
    feed = make_feed(
        tmp_path,
    )
    feed.policy = RetryPolicy(sleep=lambda _s: None, max_attempts=5, base_delay=0.0)
    assert list(feed.inbound("visit")) == []
    assert len(responses.calls) == 4


@responses.activate
def test_retries_exhausted_is_a_run_error(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", status=502)
    with pytest.raises(RunError, match="gave up after 3 attempt"):
        list(make_feed(tmp_path).inbound("visit"))


@responses.activate
def test_refusal_is_a_run_error_without_the_token(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", status=401, json={"error": "bad token"})
    with pytest.raises(RunError) as info:
        list(make_feed(tmp_path).inbound("visit"))
    assert "HTTP 401" in str(info.value) and TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "body", [[1, 2], {"items": "nope"}, {"items": [], "next_cursor": {"a": 1}}]
)
@responses.activate
def test_a_page_that_breaks_the_contract_is_a_run_error(tmp_path: Path, body: object) -> None:
    responses.get(f"{BASE}/visits", json=body)
    with pytest.raises(RunError, match="partner API /visits"):
        list(make_feed(tmp_path).inbound("visit"))


@responses.activate
def test_items_become_text_rows_and_bad_items_are_refused_with_a_reason(tmp_path: Path) -> None:
    items = [
        {
            "partner_visit_id": "V-1",
            "student_number": 10001,
            "service_codes": ["individual_counseling", "safety_planning"],
            "referral_id": None,
            "visit_date": "2026-09-02",
            "flag": True,
        },
        "not an object",
        {"partner_visit_id": "V-3", "student_number": {"id": 1}},
    ]
    responses.get(f"{BASE}/visits", json=page(items, "c1", False))
    feed = make_feed(tmp_path)
    (batch,) = feed.inbound("visit")
    first, second, third = batch.rows()
    assert first.values == {
        "partner_visit_id": "V-1",
        "student_number": "10001",
        "referral_id": "",
        "service_codes": "individual_counseling,safety_planning",
        "visit_date": "2026-09-02",
        "flag": "true",
    }
    assert first.problem is None
    assert GENERIC.parse_visit(
        first.values, batch.provenance(first), today=TODAY
    ).service_codes == ("individual_counseling", "safety_planning")
    assert second.problem == "item is not a JSON object" and second.values == {
        "raw_item": '"not an object"'
    }
    assert third.problem == "student_number: a nested object or list is not allowed here"


@responses.activate
def test_pages_are_archived_and_bad_rows_quarantined_under_the_state_dir(tmp_path: Path) -> None:
    responses.get(
        f"{BASE}/status_updates", json=page([UPDATE, {**UPDATE, "status": "XYZ"}], "c1", False)
    )
    feed = make_feed(tmp_path)
    outcome = drive(feed, "status_update", today=TODAY)
    assert outcome.quarantined == [
        ("GET /status_updates since start", 2, "status: unknown code 'XYZ'")
    ]
    (archived,) = (tmp_path / "state").glob("partners/cgc/archive/*/*_status_update.json")
    assert json.loads(archived.read_bytes())["items"][0] == UPDATE
    (quarantine,) = (tmp_path / "state").glob("partners/cgc/quarantine/*/*.csv")
    assert "status: unknown code 'XYZ'" in quarantine.read_text(encoding="utf-8-sig")
    if os.name == "posix":
        assert (
            stat.S_IMODE(archived.stat().st_mode)
            == stat.S_IMODE(quarantine.stat().st_mode)
            == 0o600
        )


@responses.activate
def test_post_carries_notice_items_and_idempotency_key_and_is_receipted(tmp_path: Path) -> None:
    responses.post(f"{BASE}/referrals", status=503)
    responses.post(f"{BASE}/referrals", status=201, json={"id": "remote-7"})
    feed = make_feed(tmp_path)
    name = feed.write_outbound("referrals", RUN, [{"referral_id": "R-1"}])
    assert name == f"{RUN}-referrals" == feed.outbound_name("referrals", RUN)
    keys = {call.request.headers["Idempotency-Key"] for call in responses.calls}
    assert keys == {f"{RUN}-referrals"}
    body = json.loads(responses.calls[-1].request.body)
    assert body == {
        "run_id": RUN,
        "kind": "referrals",
        "notice": REDISCLOSURE_NOTICE,
        "items": [{"referral_id": "R-1"}],
    }
    assert responses.calls[-1].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert feed.outbound_exists(name) and not feed.outbound_exists(f"{RUN}-revocations")


@responses.activate
def test_refused_post_is_a_run_error_and_not_receipted(tmp_path: Path) -> None:
    responses.post(f"{BASE}/revocations", status=400)
    feed = make_feed(tmp_path)
    with pytest.raises(RunError, match="POST /ssp/v1/revocations answered HTTP 400") as caught:
        feed.write_outbound("revocations", RUN, [])
    assert isinstance(caught.value, PublishRefused)  # certainly not stored: the plan is withdrawn
    assert not feed.outbound_exists(f"{RUN}-revocations")


@responses.activate
def test_a_post_failing_with_a_server_error_is_not_taken_as_refused(tmp_path: Path) -> None:
    responses.post(f"{BASE}/referrals", status=500)
    feed = make_feed(tmp_path)  # retried, then given up
    with pytest.raises(RunError) as caught:
        feed.write_outbound("referrals", RUN, [])
    assert not isinstance(caught.value, PublishRefused)  # it may have been stored: keep the plan


def test_plain_http_is_refused_except_on_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="https is required"):
        make_feed(tmp_path, base="http://api.partner.example")
    assert make_feed(tmp_path, base="http://127.0.0.1:8080").base_url == "http://127.0.0.1:8080"


def test_token_never_appears_in_repr(tmp_path: Path) -> None:
    assert TOKEN not in repr(make_feed(tmp_path))


@responses.activate
def test_redirects_are_not_followed_so_the_token_stays_home(tmp_path: Path) -> None:
    responses.get(f"{BASE}/visits", status=302, headers={"Location": "https://elsewhere.example/x"})
    with pytest.raises(RunError, match="HTTP 302"):
        list(make_feed(tmp_path).inbound("visit"))
    assert len(responses.calls) == 1


# ---------------------------------------------------------------- building feeds from ssp.toml

CONFIG = """
[district]
name = "Test District"
publisher = "Test District"
contact_email = "it@district.example.org"
query_namespace = "org.test.ssp"
[powerschool]
base_url = "https://ps.example.org"
[state]
dir = "var/ssp"
[[partners]]
id = "cgc"
name = "Child Guidance Center"
feed = {{ kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }}
mou = {{ effective = 2026-08-01, expires = 2027-07-31 }}
[[partners]]
id = "api"
name = "API Partner"
mapping = "bhcare"
feed = {{ kind = "http", base_url = "{base}", token_env = "{env}" }}
mou = {{ effective = 2026-08-01, expires = 2027-07-31 }}
"""


def config(tmp_path: Path, base: str = BASE, env: str = "API_TOKEN"):  # type: ignore[no-untyped-def]
    return parse_config_text(
        CONFIG.format(base=base, env=env), source="ssp.toml", base_dir=tmp_path
    )


def test_open_feed_builds_a_csv_feed_with_resolved_folders(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    feed = open_feed(cfg.partner("cgc"), cfg)
    assert feed.inbox == tmp_path / "feeds/cgc/in" and feed.outbox == tmp_path / "feeds/cgc/out"
    assert feed.files.root == tmp_path / "var/ssp/partners/cgc"
    assert feed.mapping.name == "generic"


def test_open_feed_builds_an_http_feed_with_the_token_from_the_environment(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    feed = open_feed(cfg.partner("api"), cfg, env={"API_TOKEN": TOKEN}, session=requests.Session())
    assert isinstance(feed, HttpFeed) and feed.mapping.name == "bhcare"
    assert feed._headers["Authorization"] == f"Bearer {TOKEN}"


def test_open_feed_reads_the_token_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n", encoding="utf-8")
    cfg = config(tmp_path)
    feed = open_feed(cfg.partner("api"), cfg, env={"API_TOKEN_FILE": str(tmp_path / "token")})
    assert feed._headers["Authorization"] == f"Bearer {TOKEN}"


def test_missing_token_names_the_variable_and_key(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    with pytest.raises(
        ConfigError, match=r"ssp.toml: partners\[api\].feed.token_env: environment variable API_TOKEN"
    ):
        open_feed(cfg.partner("api"), cfg, env={})


def test_a_remote_partner_api_needs_a_token(tmp_path: Path) -> None:
    cfg = config(tmp_path, env="")
    with pytest.raises(ConfigError, match=r"partners\[api\].feed.token_env"):
        open_feed(cfg.partner("api"), cfg, env={})
    local = config(tmp_path, base="http://127.0.0.1:9000", env="")
    assert "Authorization" not in open_feed(local.partner("api"), local, env={})._headers

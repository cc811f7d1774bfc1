"""`ssp sync run` as district IT meets it: one partner at a time, and clear exits when something
is wrong (SPEC 8: 0 success, 1 the run failed, 2 bad usage or configuration)."""

from __future__ import annotations

from e2e_helpers import Workspace, status_row


def test_partner_option_limits_the_run_to_that_partner(ws: Workspace) -> None:
    side = ws.seed(referrals=6)
    ws.write_inbox(
        "cgc", "status_updates_x.csv", [status_row("no-such-referral", "received", ws.day(0))]
    )
    summary = ws.sync("--partner", "bhcare")
    assert set(summary["partners"]) == {"bhcare"}
    assert summary["partners"]["bhcare"]["referrals_sent"] == len(side.sent["bhcare"])
    assert ws.outbox_files("cgc") == []
    assert [p.name for p in ws.inbox("cgc").iterdir()] == ["status_updates_x.csv"]
    for uid in [*side.sent["cgc"], *side.held]:
        row = ws.referral(uid)
        assert (row["STATUS"], row["STATUS_REASON"]) == ("new", None), uid
    assert {r["PARTNER_ID"] for r in ws.sandbox.rows("U_SSP_DISCLOSURES")} == {"bhcare"}

    summary = ws.sync("--partner", "cgc")
    assert set(summary["partners"]) == {"cgc"}
    assert summary["partners"]["cgc"]["referrals_sent"] == len(side.sent["cgc"])
    assert summary["partners"]["cgc"]["quarantined"] == 1
    runs = ws.ssp("sync", "status").json["runs"]
    assert [r["partner"] for r in runs[:2]] == ["cgc", "bhcare"]


def test_unknown_partner_exits_2_naming_the_configured_ones(ws: Workspace) -> None:
    ws.seed(referrals=3)
    result = ws.ssp("sync", "run", "--partner", "nosuch")
    assert result.code == 2
    assert "nosuch" in result.stderr and "cgc" in result.stderr and "bhcare" in result.stderr
    assert ws.sandbox.rows("U_SSP_DISCLOSURES") == []
    assert ws.outbox_files("cgc") == [] and ws.outbox_files("bhcare") == []


def test_bad_configuration_exits_2_naming_file_and_key(ws: Workspace) -> None:
    ws.write_config(powerschool_extra="max_workers = 99")
    result = ws.ssp("sync", "run")
    assert result.code == 2
    assert str(ws.path) in result.stderr and "powerschool.max_workers" in result.stderr
    assert result.stdout == ""


def test_configuration_with_a_syntax_error_exits_2_naming_the_file(ws: Workspace) -> None:
    ws.path.write_text(
        ws.path.read_text(encoding="utf-8").replace("[state]", "[state"), encoding="utf-8"
    )
    result = ws.ssp("sync", "run")
    assert result.code == 2 and str(ws.path) in result.stderr


def test_missing_configuration_file_exits_2(ws: Workspace) -> None:
    result = ws.ssp("sync", "run", "--config", str(ws.root / "nope.toml"))
    assert result.code == 2 and "nope.toml" in result.stderr


def test_missing_credentials_exit_2_naming_the_variables(ws: Workspace, monkeypatch) -> None:
    monkeypatch.delenv("SSP_CLIENT_SECRET")
    result = ws.ssp("sync", "run")
    assert result.code == 2 and "SSP_CLIENT_SECRET" in result.stderr


def test_unreachable_powerschool_exits_1_and_the_run_is_recorded_failed(ws: Workspace) -> None:
    ws.write_config(powerschool_extra="retry_deadline_seconds = 0.5\ntimeout_seconds = 2")
    ws.seed(referrals=3)
    ws.sync()
    base_url = ws.sandbox.base_url
    ws.sandbox.stop()

    result = ws.ssp("sync", "run")
    assert result.code == 1
    assert result.json["status"] == "failed"
    message = result.stderr.splitlines()[-1]
    assert message.startswith(f"ssp: error: PowerSchool at {base_url}: "), message
    host = base_url.removeprefix("http://")
    assert f"cannot reach {host}: connection refused" in message  # at once, not after retries
    assert "Traceback" not in result.stderr

    runs = ws.ssp("sync", "status").json["runs"]
    assert runs[0]["status"] == "failed" and runs[1]["status"] == "ok"
    assert runs[0]["finished_at"]

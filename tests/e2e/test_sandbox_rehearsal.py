"""`ssp sandbox --config F`: a district rehearses its own setup (its plugins, its time zone, seeded
consents, referrals and visits) with `ssp check`, `ssp sync run`, `ssp report` and `ssp disclosures`
before go-live."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
import requests
from e2e_helpers import reset_logging
from sandbox_process import sandbox_process

from sandbox import Sandbox
from foundation.config import load_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "ssp.toml"
NAMESPACE = "org.springfield.support"


def _district_config(tmp_path: Path, *, timezone: str = "America/Denver") -> Path:
    """examples/ssp.toml as another district edits it: its own namespace and time zone."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('query_namespace = "org.bridgeport.ssp"', f'query_namespace = "{NAMESPACE}"')
    text = text.replace('timezone = "America/New_York"', f'timezone = "{timezone}"')
    today = dt.date.today()
    for fixed in ("effective = 2026-08-01, expires = 2027-07-31", "effective = 2026-07-01, expires = 2028-06-30"):
        assert fixed in text  # MOUs in force whatever the date the suite runs
        text = text.replace(fixed, f"effective = {today - dt.timedelta(days=120)}, "
                                   f"expires = {today + dt.timedelta(days=245)}")
    assert NAMESPACE in text and timezone in text
    path = tmp_path / "etc" / "ssp.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def _ssp(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from ssp.cli import main

    capsys.readouterr()
    with reset_logging():
        code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _use_credentials(monkeypatch: pytest.MonkeyPatch, client_id: str, secret: str) -> None:
    monkeypatch.setenv("SSP_CLIENT_ID", client_id)
    monkeypatch.setenv("SSP_CLIENT_SECRET", secret)
    for name in ("SSP_CLIENT_ID_FILE", "SSP_CLIENT_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_sandbox_rehearses_a_districts_own_config_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _district_config(tmp_path)
    rehearsal_dir = tmp_path / "rehearsal"
    with sandbox_process("--config", str(config), "--seed-demo", "--rehearsal-dir", str(rehearsal_dir)) as sb:
        assert sb.fields["time zone"] == "America/Denver"
        assert NAMESPACE in sb.fields["configuration"]
        assert f"export SSP_CLIENT_ID='{sb.client_id}'" in sb.text
        assert f"export SSP_CLIENT_SECRET='{sb.client_secret}'" in sb.text
        assert f"ssp check --config {sb.rehearsal_config}" in sb.text
        metadata = requests.get(f"{sb.base_url}/ws/v1/metadata", timeout=5).json()
        assert metadata["metadata"]["district_timezone"] == "America/Denver"

        rehearsal = load_config(sb.rehearsal_config)
        assert rehearsal.powerschool.base_url == sb.base_url
        assert rehearsal.state_dir == rehearsal_dir.resolve() / "var"
        assert rehearsal.district.query_namespace == NAMESPACE
        assert all(rehearsal_dir.resolve() in p.feed.outbox.parents for p in rehearsal.partners)

        _use_credentials(monkeypatch, sb.client_id, sb.client_secret)
        path = str(sb.rehearsal_config)
        code, out, err = _ssp(capsys, "check", "--config", path)
        assert code == 0 and json.loads(out)["ok"] is True, out + err
        assert NAMESPACE in out

        code, out, err = _ssp(capsys, "sync", "run", "--config", path)
        assert code == 0, out + err
        partners = json.loads(out)["partners"]
        assert partners["cgc"]["referrals_sent"] > 0 and partners["bhcare"]["referrals_sent"] > 0
        assert partners["cgc"]["referrals_held"]["total"] == 6  # one per consent case

        code, out, err = _ssp(capsys, "report", "--config", path, "--out", str(rehearsal_dir / "report.html"))
        assert code == 0, err
        assert "Child Guidance Center" in (rehearsal_dir / "report.html").read_text(encoding="utf-8")

        outbox = rehearsal.partner("cgc").feed.outbox
        sent = next(outbox.glob("referrals_*.csv"))
        with open(sent, newline="", encoding="utf-8-sig") as fh:
            sent_to = {row["student_number"] for row in csv.DictReader(fh)}
        printed = re.search(r"ssp disclosures --config \S+ --student (\d+)", sb.text)
        assert printed and printed[1] in sent_to  # the printed example is a student with a referral
        code, out, err = _ssp(capsys, "disclosures", "--config", path, "--student", printed[1])
        assert code == 0 and json.loads(out)["disclosures"], out + err
        first_credentials = (sb.client_id, sb.client_secret)

    # A second start on the same folder resumes: same credentials, rows kept, nothing seeded twice.
    with sandbox_process("--config", str(config), "--seed-demo", "--rehearsal-dir", str(rehearsal_dir)) as sb:
        assert (sb.client_id, sb.client_secret) == first_credentials
        assert sb.fields["seeded"] == "kept from the rehearsal folder"
        code, out, err = _ssp(capsys, "sync", "run", "--config", str(sb.rehearsal_config))
        assert code == 0 and json.loads(out)["partners"]["cgc"]["referrals_sent"] == 0, out + err


def test_demo_plugins_fail_check_for_another_namespace_so_the_sandbox_builds_from_config(
    tmp_path: Path, plugin_zips: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The old behaviour, kept as the control: plugins built from the demo config lack the
    district's PowerQueries, which is why `--config` must build from the district's file."""
    config = _district_config(tmp_path)
    with Sandbox(plugins=list(plugin_zips), students=20) as sb:
        text = config.read_text(encoding="utf-8").replace("https://district.powerschool.com", sb.base_url)
        config.write_text(text, encoding="utf-8")
        _use_credentials(monkeypatch, sb.client_id, sb.client_secret)
        code, out, _ = _ssp(capsys, "check", "--config", str(config))
    assert code == 1 and json.loads(out)["ok"] is False


def test_timezone_option_overrides_the_config(tmp_path: Path) -> None:
    config = _district_config(tmp_path)
    with sandbox_process("--config", str(config), "--timezone", "Pacific/Honolulu", "--students", "5") as sb:
        assert sb.fields["time zone"] == "Pacific/Honolulu"
        metadata = requests.get(f"{sb.base_url}/ws/v1/metadata", timeout=5).json()
        assert metadata["metadata"]["district_timezone"] == "Pacific/Honolulu"
        assert "rehearsal" not in sb.fields  # no folder asked for: nothing written


def test_seed_demo_uses_only_codes_the_district_still_offers(tmp_path: Path) -> None:
    from plugin.build import build_plugins
    from ssp.rehearsal import seed_demo

    config_path = _district_config(tmp_path)
    text = config_path.read_text(encoding="utf-8").replace(
        "[choices.purpose]",
        '[choices.referral_reason]\nremove = ["anxiety", "depression"]\n\n'
        '[choices.urgency]\nremove = ["urgent"]\n\n[choices.purpose]')
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path)
    with Sandbox(plugins=list(build_plugins(config, tmp_path / "dist")), students=150) as sb:
        side = seed_demo(sb, config, dt.date.today())
        reasons = {r for row in sb.rows("U_SSP_REFERRALS") for r in str(row["REASON"]).split(",")}
        assert side is not None and reasons and not reasons & {"anxiety", "depression"}
        assert {row["URGENCY"] for row in sb.rows("U_SSP_REFERRALS")} == {"routine"}
        assert seed_demo(sb, config, dt.date.today()) is None  # never twice


@pytest.mark.parametrize("args, message", [
    (["--rehearsal-dir", "x"], "--rehearsal-dir needs --config"),
    (["--timezone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--seed-demo", "--students", "10"], "--seed-demo needs --students 100"),
])
def test_sandbox_refuses_bad_options_with_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _ssp(capsys, "sandbox", *args)
    assert code == 2 and message in err


def test_rehearsal_toml_reads_back_as_the_same_values() -> None:
    import tomllib

    from foundation.config import demo_config_text
    from ssp.rehearsal import toml_text

    for text in (EXAMPLE.read_text(encoding="utf-8"), demo_config_text()):
        raw = tomllib.loads(text)
        raw["district"]["name"] = 'Saint "Mary\'s" Schools \\ Año\tescolar'
        assert tomllib.loads(toml_text(raw)) == raw


def test_rehearsal_config_keeps_real_partners_apis_and_folders_out(tmp_path: Path) -> None:
    from ssp.rehearsal import write_rehearsal_config

    config_path = _district_config(tmp_path)
    (config_path.parent / "mappings").mkdir()
    mapping = Path(__file__).parents[2] / "field_mappings" / "partners" / "generic.toml"
    (config_path.parent / "mappings" / "acme.toml").write_text(mapping.read_text(encoding="utf-8"))
    config_path.write_text(config_path.read_text(encoding="utf-8") + '''
[[partners]]
id = "acme"
name = "Acme Counseling"
mapping = "mappings/acme.toml"
feed = { kind = "http", base_url = "https://api.acme.example/ssp/v1", token_env = "ACME_TOKEN" }
mou = { effective = 2026-07-01, expires = 2028-06-30, to_partner = ["identity", "referral"] }

[[partners]]
id = "local"
name = "Local test partner"
mapping = "mappings/acme.toml"
feed = { kind = "http", base_url = "http://127.0.0.1:9000" }
mou = { effective = 2026-07-01, expires = 2028-06-30, to_partner = ["identity", "referral"] }
''', encoding="utf-8")
    rehearsal = write_rehearsal_config(load_config(config_path), "http://127.0.0.1:8765", tmp_path / "r")
    copy = load_config(rehearsal.config_path)
    assert [p.id for p in copy.partners] == ["cgc", "bhcare", "local"]
    assert len(rehearsal.left_out) == 1
    assert "acme" in rehearsal.left_out[0] and "api.acme.example" in rehearsal.left_out[0]
    assert copy.partner("local").mapping == str((config_path.parent / "mappings" / "acme.toml").resolve())
    assert copy.powerschool.base_url == "http://127.0.0.1:8765"
    original = load_config(config_path)
    for partner in copy.partners[:2]:
        assert partner.feed.inbox != original.partner(partner.id).feed.inbox
        assert partner.feed.inbox.is_dir() and (tmp_path / "r") in partner.feed.inbox.parents


def test_sandbox_exits_0_when_stopped_the_moment_it_says_ready() -> None:
    """The stop signals are in place before "Press Ctrl-C to stop." is printed (a supervisor or a
    test that stops it at once got a SIGTERM death, exit -15, about half the time)."""
    for _ in range(3):
        with sandbox_process("--students", "5"):
            pass  # sandbox_process asserts exit 0 after SIGTERM

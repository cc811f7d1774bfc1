"""`ssp check` end to end against the sandbox: what district IT sees after installing the plugins.

Driven exactly as from a shell: `ssp.cli.main(["check", "--config", path])` with the plugin's
credentials in the environment. The JSON report goes to stdout; the exit code says whether
anything the connector needs is missing (1) or the check could not run (2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from foundation.config import SSPConfig, demo_config_text, parse_config_text
from plugin.queries import access_request, connector_queries
from sandbox import Sandbox
from ssp.cli import main

DEMO_URL = 'base_url = "http://127.0.0.1:8765"'


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> SSPConfig:
    base = tmp_path_factory.mktemp("cfg")
    return parse_config_text(demo_config_text(), source="demo_ssp.toml", base_dir=base)


@pytest.fixture(scope="module")
def plugin_zips(demo_config: SSPConfig, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from plugin.build import build_plugins

    return list(build_plugins(demo_config, tmp_path_factory.mktemp("dist")))


@pytest.fixture
def sandbox(plugin_zips: list[Path]) -> Iterator[Sandbox]:
    with Sandbox(plugins=plugin_zips, students=20, seed=3) as sb:
        yield sb


def write_config(sb: Sandbox, tmp_path: Path) -> Path:
    text = demo_config_text()
    assert DEMO_URL in text
    path = tmp_path / "ssp.toml"
    path.write_text(text.replace(DEMO_URL, f'base_url = "{sb.base_url}"'), encoding="utf-8")
    for partner in ("cgc", "bhcare"):  # the feed folders a run needs (the check looks at them)
        for folder in ("in", "out"):
            (tmp_path / "feeds" / partner / folder).mkdir(parents=True, exist_ok=True)
    return path


def credentials(mp: pytest.MonkeyPatch, sb: Sandbox, secret: str | None = None) -> None:
    for name in ("SSP_CLIENT_ID_FILE", "SSP_CLIENT_SECRET_FILE"):
        mp.delenv(name, raising=False)
    mp.setenv("SSP_CLIENT_ID", sb.client_id)
    mp.setenv("SSP_CLIENT_SECRET", secret or sb.client_secret)


def run_check(
    sb: Sandbox, tmp_path: Path, mp: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    credentials(mp, sb)
    code = main(["check", "--config", str(write_config(sb, tmp_path))])
    out = capsys.readouterr().out
    return code, json.loads(out)


def not_ok(report: dict[str, Any], part: str) -> dict[str, Any]:
    return {name: e for name, e in report[part].items() if not e["ok"]}


def needed_tables(config: SSPConfig) -> set[str]:
    return {a.table for a in access_request(config.catalogue(), config.district.query_namespace)}


def query_names(config: SSPConfig) -> set[str]:
    return {q.name for q in connector_queries(config.catalogue(), config.district.query_namespace)}


# -- all good ----------------------------------------------------------------------------------


def test_a_complete_install_passes_with_every_table_and_query_ok(
    sandbox: Sandbox, demo_config: SSPConfig, tmp_path: Path, monkeypatch, capsys
) -> None:
    code, report = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 0
    assert report["ok"] is True and report["missing"] == []
    assert report["authenticated"] is True
    assert set(report["tables"]) == needed_tables(demo_config)
    assert set(report["queries"]) == query_names(demo_config)
    assert not_ok(report, "tables") == {} and not_ok(report, "queries") == {}
    assert report["metadata"]["plugin_id"] is not None


def test_the_check_costs_the_same_requests_however_many_rows_the_tables_hold(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    _, empty = run_check(sandbox, tmp_path, monkeypatch, capsys)
    sandbox.insert_rows(
        "U_SSP_PARTNERS", [{"SSP_UID": f"p{i}", "PARTNER_ID": f"p{i}"} for i in range(250)]
    )
    dcid = sandbox.students()[0]["DCID"]
    sandbox.insert_rows(
        "U_SSP_VISITS", [{"SSP_UID": f"v{i}"} for i in range(250)], student_dcid=dcid
    )
    code, full = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 0 and full["tables"]["U_SSP_PARTNERS"]["rows"] == 250
    assert full["http_requests"] == empty["http_requests"]


# -- what the administrator did not approve ------------------------------------------------------


def test_a_field_not_approved_for_writing_is_named_exactly(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    sandbox.revoke("U_SSP_REFERRALS", "STATUS", keep_read=True)
    code, report = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 1 and report["ok"] is False
    assert report["missing"] == ["U_SSP_REFERRALS.STATUS: write access not approved"]
    bad = not_ok(report, "tables")
    assert list(bad) == ["U_SSP_REFERRALS"]
    assert bad["U_SSP_REFERRALS"]["fields_not_writable"] == ["STATUS"]
    assert "fields_not_readable" not in bad["U_SSP_REFERRALS"]
    assert not_ok(report, "queries") == {}


def test_a_written_field_not_approved_at_all_is_named_for_reading_and_writing(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    sandbox.revoke("U_SSP_REFERRALS", "STATUS")
    code, report = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 1
    entry = report["tables"]["U_SSP_REFERRALS"]
    assert entry["fields_not_readable"] == ["STATUS"] and entry["fields_not_writable"] == ["STATUS"]
    assert list(not_ok(report, "tables")) == ["U_SSP_REFERRALS"]
    assert "U_SSP_REFERRALS.STATUS: read and write access not approved" in report["missing"]
    assert all("U_SSP_REFERRALS.STATUS" in line for line in report["missing"])


def test_a_field_not_approved_for_reading_is_named_and_blames_the_query_that_reads_it(
    sandbox: Sandbox, demo_config: SSPConfig, tmp_path: Path, monkeypatch, capsys
) -> None:
    sandbox.revoke("U_SSP_CONSENTS", "PURPOSE")
    code, report = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 1
    bad_tables = not_ok(report, "tables")
    assert list(bad_tables) == ["U_SSP_CONSENTS"]
    assert bad_tables["U_SSP_CONSENTS"]["fields_not_readable"] == ["PURPOSE"]
    assert "fields_not_writable" not in bad_tables["U_SSP_CONSENTS"]
    bad_queries = not_ok(report, "queries")
    # the consent stream and both snapshot queries (which join every consent) read it
    assert sorted(q.rsplit(".", 2)[-2] for q in bad_queries) == ["consents", "referrals", "students"]
    assert all(q["fields_not_readable"] == ["U_SSP_CONSENTS.PURPOSE"] for q in bad_queries.values())
    assert report["missing"][0] == "U_SSP_CONSENTS.PURPOSE: read access not approved"
    assert all("U_SSP_CONSENTS.PURPOSE" in line for line in report["missing"])


def test_a_core_student_field_not_approved_is_named(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    sandbox.revoke("STUDENTS", "DOB")
    code, report = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 1
    assert list(not_ok(report, "tables")) == ["STUDENTS"]
    assert report["tables"]["STUDENTS"]["fields_not_readable"] == ["DOB"]
    assert "STUDENTS.DOB: read access not approved" in report["missing"]
    for entry in not_ok(report, "queries").values():
        assert entry["fields_not_readable"] == ["STUDENTS.DOB"]


def test_a_field_revoked_on_an_empty_table_is_still_found(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    assert sandbox.rows("U_SSP_PARTNERS") == []  # a fresh install: nothing to read yet
    sandbox.revoke("U_SSP_PARTNERS", "PARTNER_ID")
    code, report = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 1
    assert report["tables"]["U_SSP_PARTNERS"]["fields_not_readable"] == ["PARTNER_ID"]


# -- plugins missing ---------------------------------------------------------------------------


def test_without_the_ui_plugin_every_query_is_reported_not_found(
    plugin_zips: list[Path], demo_config: SSPConfig, tmp_path: Path, monkeypatch, capsys
) -> None:
    data_zip, _ = plugin_zips
    with Sandbox(plugins=[data_zip], students=5) as sb:
        code, report = run_check(sb, tmp_path, monkeypatch, capsys)
    assert code == 1
    assert set(not_ok(report, "queries")) == query_names(demo_config)
    assert all("PowerQuery not found" in e["problem"] for e in report["queries"].values())
    assert any("UI plugin" in line for line in report["missing"])


def test_without_the_data_plugin_every_extension_table_is_reported_not_found(
    plugin_zips: list[Path], demo_config: SSPConfig, tmp_path: Path, monkeypatch, capsys
) -> None:
    _, ui_zip = plugin_zips
    with Sandbox(plugins=[ui_zip], students=5, strict_queries=False) as sb:
        code, report = run_check(sb, tmp_path, monkeypatch, capsys)
    assert code == 1
    extension = {t for t in needed_tables(demo_config) if t.startswith("U_")}
    assert set(not_ok(report, "tables")) == extension
    assert all("table not found" in report["tables"][t]["problem"] for t in extension)
    assert any("DATA plugin" in line for line in report["missing"])


# -- cannot run ---------------------------------------------------------------------------------


def test_bad_credentials_exit_2_with_a_clear_message_and_no_secret(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    wrong = "not-the-secret-0123456789"
    credentials(monkeypatch, sandbox, secret=wrong)
    code = main(["check", "--config", str(write_config(sandbox, tmp_path))])
    captured = capsys.readouterr()
    assert code == 2
    assert "rejected the plugin credentials" in captured.err
    assert "SSP_CLIENT_SECRET" in captured.err
    assert wrong not in captured.err + captured.out


def test_a_missing_client_id_exits_2_naming_it(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys
) -> None:
    credentials(monkeypatch, sandbox)
    monkeypatch.delenv("SSP_CLIENT_ID")
    code = main(["check", "--config", str(write_config(sandbox, tmp_path))])
    captured = capsys.readouterr()
    assert code == 2 and "SSP_CLIENT_ID" in captured.err
    assert sandbox.request_log == []  # nothing was sent without credentials


# -- transient faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        ["429", "503", "reset"],
        ["ok", "ok", "redirect", "ok", "html", "ok", "expire", "502", "504"],
    ],
)
def test_transient_faults_during_the_check_are_ridden_out(
    sandbox: Sandbox, tmp_path: Path, monkeypatch, capsys, faults: list[str]
) -> None:
    sandbox.faults.retry_after_seconds = 0
    sandbox.faults.only("/ws/").script(faults)
    code, report = run_check(sandbox, tmp_path, monkeypatch, capsys)
    assert code == 0 and report["missing"] == []
    assert sandbox.faults.pending == 0
    assert [f for f in sandbox.faults.injected] == [f for f in faults if f != "ok"]

"""`run_check` against a scripted client: the paths the sandbox does not take (a server without
table metadata, a DATA plugin older than the UI plugin, PowerSchool unreachable)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.check import PROBE_ROW_ID, run_check
from foundation.config import SSPConfig, demo_config_text, parse_config_text
from foundation.errors import AccessDeniedError, NotFoundError, PowerSchoolError
from plugin.queries import access_request, connector_queries


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> SSPConfig:
    base = tmp_path_factory.mktemp("cfg")
    return parse_config_text(demo_config_text(), source="demo_ssp.toml", base_dir=base)


class FakeClient:
    """Grants everything the access_request asks for, minus what a test takes away."""

    def __init__(self, config: SSPConfig, *, metadata: bool = True) -> None:
        namespace = config.district.query_namespace
        self.columns = {
            (a.table, a.field): a.access for a in access_request(config.catalogue(), namespace)
        }
        self.grants = dict(self.columns)
        self.queries = {q.name: q for q in connector_queries(config.catalogue(), namespace)}
        self.with_metadata = metadata
        self.missing_columns: set[tuple[str, str]] = set()
        self.fail: Exception | None = None
        self.query_error: Exception | None = None
        self.probes: list[tuple[str, str]] = []
        self.request_count = 0

    def metadata(self) -> dict[str, Any]:
        return {"plugin_id": 7, "powerschool_version": "25.1", "district_timezone": "UTC"}

    def max_page_size(self) -> int:
        return 100

    def table_count(self, table: str) -> int:
        if self.fail is not None:
            raise self.fail
        return 0

    def table_metadata(self, table: str) -> dict[str, Any]:
        if not self.with_metadata:
            raise NotFoundError("not found", endpoint="GET .../metadata", status=404)
        columns = [
            {"name": f.lower(), "access": self.grants.get((t, f), "NoAccess")}
            for (t, f) in self.columns
            if t == table and (t, f) not in self.missing_columns
        ]
        return {"name": table.lower(), "columns": columns[0] if len(columns) == 1 else columns}

    def get_row(self, table: str, row_id: int, *, projection: str) -> dict[str, Any]:
        assert row_id == PROBE_ROW_ID
        self.probes.append((table, projection))
        fields = [f.upper() for f in projection.split(",")]
        if any((table, f) not in self.grants for f in fields):
            raise AccessDeniedError("denied", endpoint=f"GET {table}", status=403)
        raise NotFoundError("no such row", endpoint=f"GET {table}", status=404)

    def query_count(self, name: str, args: dict[str, Any]) -> int:
        if self.query_error is not None:
            raise self.query_error
        if any(key not in self.grants for key in self.queries[name].touches):
            raise AccessDeniedError("denied", endpoint=f"POST {name}", status=403)
        return 0


def test_without_table_metadata_reads_are_probed_field_by_field_and_writes_deferred(
    config: SSPConfig,
) -> None:
    client = FakeClient(config, metadata=False)
    del client.grants[("U_SSP_PARTNERS", "PARTNER_ID")]
    report = run_check(client, config)
    entry = report["tables"]["U_SSP_PARTNERS"]
    assert entry["fields_not_readable"] == ["PARTNER_ID"]
    assert report["missing"] == [
        "U_SSP_PARTNERS.PARTNER_ID: read access not approved",
        # the record-of-disclosures query joins the partner directory on PARTNER_ID
        "org.bridgeport.ssp.disclosures.for_student: access denied to U_SSP_PARTNERS.PARTNER_ID",
    ]
    assert "checked at the first write" in report["tables"]["U_SSP_REFERRALS"]["write_access"]
    assert report["tables"]["STUDENTS"] == {
        "ok": True,
        "note": "access checked through the PowerQueries only",
    }
    per_field = [p for t, p in client.probes if t == "U_SSP_PARTNERS" and "," not in p]
    assert len(per_field) == len([k for k in client.grants if k[0] == "U_SSP_PARTNERS"]) + 1


def test_all_good_costs_one_read_probe_per_extension_table(config: SSPConfig) -> None:
    client = FakeClient(config)
    report = run_check(client, config)
    assert report["ok"] is True and report["missing"] == []
    assert sorted(t for t, _ in client.probes) == sorted(
        t for t in report["tables"] if t.startswith("U_")
    )


def test_a_column_the_installed_data_plugin_lacks_says_upgrade_it(config: SSPConfig) -> None:
    client = FakeClient(config)
    client.missing_columns.add(("U_SSP_REFERRALS", "ACCESS_RESULT"))
    report = run_check(client, config)
    assert report["ok"] is False
    assert report["tables"]["U_SSP_REFERRALS"]["fields_not_in_table"] == ["ACCESS_RESULT"]
    assert report["missing"] == [
        "U_SSP_REFERRALS.ACCESS_RESULT: field not in the table: upgrade the DATA plugin"
    ]


def test_a_query_refused_for_another_reason_is_reported_not_fatal(config: SSPConfig) -> None:
    client = FakeClient(config)
    client.query_error = PowerSchoolError("Validation Failed", endpoint="POST q", status=400)
    report = run_check(client, config)
    assert report["ok"] is False
    assert all(e["problem"].startswith("PowerQuery failed") for e in report["queries"].values())
    assert len(report["missing"]) == len(report["queries"])


def test_powerschool_unreachable_stops_the_check_instead_of_guessing(config: SSPConfig) -> None:
    client = FakeClient(config)
    client.fail = PowerSchoolError("gave up after 9 attempt(s)", endpoint="GET count")
    with pytest.raises(PowerSchoolError, match="gave up"):
        run_check(client, config)


def test_cli_exits_1_when_retries_run_out(tmp_path: Path, monkeypatch, capsys) -> None:
    from sandbox import Sandbox
    from ssp.cli import main

    with Sandbox(students=3, faults="503:1") as sb:
        sb.faults.only("/ws/")
        text = demo_config_text().replace(
            'base_url = "http://127.0.0.1:8765"',
            f'base_url = "{sb.base_url}"\nretry_deadline_seconds = 0.3',
        )
        (tmp_path / "ssp.toml").write_text(text, encoding="utf-8")
        monkeypatch.setenv("SSP_CLIENT_ID", sb.client_id)
        monkeypatch.setenv("SSP_CLIENT_SECRET", sb.client_secret)
        code = main(["check", "--config", str(tmp_path / "ssp.toml")])
    captured = capsys.readouterr()
    assert code == 1
    assert "gave up" in captured.err and "HTTP 503" in captured.err


NEEDED = sorted(
    (a.table, a.field, a.access)
    for a in access_request(
        parse_config_text(demo_config_text(), source="demo", base_dir=Path(".")).catalogue(),
        "org.bridgeport.ssp",
    )
)
FIELD_NAME = re.compile(r"\b(STUDENTS|SCHOOLS|U_[A-Z_]+)\.([A-Z_]+)\b")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    withheld=st.lists(
        st.tuples(st.sampled_from(NEEDED), st.booleans()), max_size=6, unique_by=lambda x: x[0]
    )
)
def test_every_withheld_field_is_named_and_nothing_else_is(
    config: SSPConfig, withheld: list[tuple[tuple[str, str, str], bool]]
) -> None:
    """Whatever the administrator withholds (read, or only write), `missing` names exactly that."""
    client = FakeClient(config)
    expected: set[str] = set()
    for (table, field, access), keep_read in withheld:
        if keep_read and access == "ViewOnly":
            continue  # nothing withheld: it was only ever read
        if keep_read:
            client.grants[(table, field)] = "ViewOnly"
        else:
            del client.grants[(table, field)]
        expected.add(f"{table}.{field}")
    report = run_check(client, config)
    text = "\n".join(report["missing"])
    named = {f"{t}.{f}" for t, f in FIELD_NAME.findall(text)}
    collapsed = {line.split(":")[0] for line in report["missing"] if "none of the fields" in line}
    assert report["ok"] is (not expected)
    assert named <= expected
    assert all(name in named or name.split(".")[0] in collapsed for name in expected)

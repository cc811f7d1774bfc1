"""`ssp demo` shows a partner on FHIR beside the CSV ones (issue 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from e2e_helpers import reset_logging

from ssp.demo import FHIR_TOKEN_ENV, run_demo


def test_the_demo_sends_to_a_fhir_partner_and_pulls_its_tasks_and_procedures_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(FHIR_TOKEN_ENV, raising=False)
    with reset_logging():
        result = run_demo(tmp_path / "demo")
    sent = result["first_sync"]["partners"]["northside"]
    assert sent["referrals_sent"] == sent["disclosures_recorded"] == 6
    pulled = result["second_sync"]["partners"]["northside"]
    assert pulled["status_updates_applied"] == 5 and pulled["visits_created"] == 2
    assert pulled["quarantined"] == 1  # the Task with a status outside the value set
    fhir = result["fhir_partner"]
    assert fhir["resources"]["Task"] == 6 and fhir["resources"]["Procedure"] == 2
    assert sorted(fhir["partner_did"].values()) == [
        "accept -> accepted", "attend -> attended", "complete -> completed",
        "hostile -> sent", "reject -> declined", "schedule -> scheduled"]
    assert "cgc" in result["outboxes"] and "northside" not in result["outboxes"]
    assert FHIR_TOKEN_ENV not in os.environ  # the demo's token left with it

"""connector/state.py ledgers: outbound two-phase protocol, disclosures, inbound files and rows."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.state import DB_FILENAME, Disclosure, StateStore
from foundation.errors import RunError

T0 = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path):
    with StateStore.open(tmp_path / DB_FILENAME, clock=lambda: T0) as s:
        yield s


def disclosure(
    uid: str,
    referral: str = "r-1",
    student: str = "1001",
    at: str = "2026-10-01 12:00:00",
    consent: str = "c-1",
    partner: str = "cgc",
) -> Disclosure:
    return Disclosure(
        ssp_uid=uid,
        student_dcid="101",
        student_number=student,
        disclosed_at=at,
        partner_id=partner,
        direction="to_partner",
        data_categories=("identity", "referral"),
        purpose="referral for services",
        legal_basis=f"consent:{consent}",
        referral_uid=referral,
        run_id="run-1",
    )


def send_file(
    store: StateStore,
    outbox: Path,
    run_id: str,
    records: dict[str, str],
    *,
    crash_before_rename: bool = False,
    crash_after_rename: bool = False,
) -> list[str]:
    """The engine's side of the protocol, with crash points; returns the record ids written."""
    name = f"referrals_{run_id}.csv"
    plan = store.plan_outbound("cgc", "referral", records.items(), file_name=name, run_id=run_id)
    if not plan.planned:
        return []
    tmp = outbox / f".{name}.tmp"
    tmp.write_text("\n".join(plan.planned))
    if crash_before_rename:
        return []
    tmp.rename(outbox / name)
    if crash_after_rename:
        return []
    store.mark_written("cgc", name, disclosures=[disclosure(f"d-{r}", r) for r in plan.planned])
    store.mark_recorded("cgc", "referral", plan.planned)
    return list(plan.planned)


def outbox_records(outbox: Path) -> list[str]:
    return sorted(
        line for f in outbox.glob("referrals_*.csv") for line in f.read_text().splitlines()
    )


def reconcile(store: StateStore, outbox: Path) -> tuple[list[str], list[str]]:
    return store.reconcile_outbound(
        "cgc",
        lambda name: (outbox / name).exists(),
        lambda entries: [disclosure(f"d-{e.record_id}", e.record_id) for e in entries],
    )


# ---------------------------------------------------------------- outbound


def test_outbound_record_moves_planned_written_recorded(store):
    plan = store.plan_outbound(
        "cgc", "referral", [("r-1", "h1")], file_name="referrals_a.csv", run_id="a"
    )
    assert plan.planned == ("r-1",) and plan.already == {}
    assert store.get_outbound("cgc", "referral", "r-1").state == "planned"
    assert store.mark_written("cgc", "referrals_a.csv") == 1
    assert store.get_outbound("cgc", "referral", "r-1").state == "written"
    assert store.mark_recorded("cgc", "referral", ["r-1"]) == 1
    entry = store.get_outbound("cgc", "referral", "r-1")
    assert (
        entry.state == "recorded"
        and entry.file_name == "referrals_a.csv"
        and entry.content_hash == "h1"
    )
    assert entry.written_at == entry.recorded_at == "2026-10-01 12:00:00"


def test_record_already_in_the_ledger_is_never_planned_again(store, tmp_path):
    outbox = tmp_path / "out"
    outbox.mkdir()
    assert send_file(store, outbox, "a", {"r-1": "h1", "r-2": "h2"}) == ["r-1", "r-2"]
    assert send_file(store, outbox, "b", {"r-1": "h1-changed", "r-3": "h3"}) == ["r-3"]
    assert outbox_records(outbox) == ["r-1", "r-2", "r-3"]


def test_crash_before_rename_then_rerun_sends_each_record_once(store, tmp_path):
    outbox = tmp_path / "out"
    outbox.mkdir()
    send_file(store, outbox, "a", {"r-1": "h1"}, crash_before_rename=True)
    assert reconcile(store, outbox) == ([], ["referrals_a.csv"])
    assert store.get_outbound("cgc", "referral", "r-1") is None
    assert send_file(store, outbox, "b", {"r-1": "h1"}) == ["r-1"]
    assert outbox_records(outbox) == ["r-1"]
    assert [d.ssp_uid for d in store.disclosures_for_student("1001")] == ["d-r-1"]


def test_crash_after_rename_then_rerun_does_not_write_again(store, tmp_path):
    outbox = tmp_path / "out"
    outbox.mkdir()
    send_file(store, outbox, "a", {"r-1": "h1", "r-2": "h2"}, crash_after_rename=True)
    assert reconcile(store, outbox) == (["referrals_a.csv"], [])
    assert [e.state for e in store.outbound_entries("cgc")] == ["written", "written"]
    assert [d.referral_uid for d in store.disclosures_for_student("1001")] == ["r-1", "r-2"]
    assert send_file(store, outbox, "b", {"r-1": "h1", "r-2": "h2"}) == []
    assert outbox_records(outbox) == ["r-1", "r-2"]
    # written but not recorded: the engine finishes the PowerSchool side, then records it
    assert [e.record_id for e in store.outbound_entries("cgc", state="written")] == ["r-1", "r-2"]


def test_planning_is_refused_while_an_older_plan_is_unsettled(store):
    store.plan_outbound("cgc", "referral", [("r-1", "h")], file_name="referrals_a.csv", run_id="a")
    with pytest.raises(RunError, match="reconcile first"):
        store.plan_outbound(
            "cgc", "referral", [("r-2", "h")], file_name="referrals_b.csv", run_id="b"
        )
    store.plan_outbound(
        "other", "referral", [("r-2", "h")], file_name="referrals_b.csv", run_id="b"
    )


def test_mark_written_adds_disclosures_in_the_same_transaction(store):
    store.plan_outbound("cgc", "referral", [("r-1", "h")], file_name="f.csv", run_id="a")
    store.mark_written("cgc", "f.csv", disclosures=[disclosure("d-1"), disclosure("d-1")])
    assert [d.ssp_uid for d in store.unpushed_disclosures()] == ["d-1"]


def test_revocation_ledger_is_separate_from_referrals(store):
    store.plan_outbound("cgc", "referral", [("r-1", "h")], file_name="referrals_a.csv", run_id="a")
    store.mark_written("cgc", "referrals_a.csv")
    plan = store.plan_outbound(
        "cgc", "revocation", [("r-1", "h")], file_name="revocations_b.csv", run_id="b"
    )
    assert plan.planned == ("r-1",)
    assert [e.kind for e in store.outbound_entries("cgc", kind="revocation")] == ["revocation"]


# ---------------------------------------------------------------- disclosures


def test_add_disclosure_is_idempotent_on_ssp_uid(store):
    assert store.add_disclosure(disclosure("d-1"))
    assert not store.add_disclosure(disclosure("d-1", at="2026-10-09 00:00:00"))
    assert store.disclosures_for_student("1001")[0].disclosed_at == "2026-10-01 12:00:00"


def test_disclosures_for_student_in_date_order(store):
    store.add_disclosure(disclosure("d-2", at="2026-10-02 00:00:00"))
    store.add_disclosure(disclosure("d-1", at="2026-10-01 00:00:00"))
    store.add_disclosure(disclosure("d-3", student="2002"))
    found = store.disclosures_for_student("1001")
    assert [d.ssp_uid for d in found] == ["d-1", "d-2"]
    assert found[0].data_categories == ("identity", "referral")
    assert found[0].as_dict()["data_categories"] == "identity,referral"
    assert store.disclosures_for_student("9999") == []


def test_push_marks_progress_and_leaves_a_trace_after_a_crash(store):
    store.add_disclosure(disclosure("d-1"))
    store.add_disclosure(disclosure("d-2"))
    store.begin_push("d-1")
    pending = {d.ssp_uid: d.push_started for d in store.unpushed_disclosures()}
    assert pending == {
        "d-1": True,
        "d-2": False,
    }  # d-1 may already exist in PowerSchool: look it up
    store.mark_pushed("d-1", "55")
    assert [d.ssp_uid for d in store.unpushed_disclosures()] == ["d-2"]
    assert store.disclosures_for_student("1001")[0].ps_id == "55"
    with pytest.raises(RunError):
        store.mark_pushed("nope", "1")


def test_sent_under_consents_maps_consent_to_referrals(store):
    store.add_disclosure(disclosure("d-1", referral="r-1", consent="c-1"))
    store.add_disclosure(disclosure("d-2", referral="r-2", consent="c-1"))
    store.add_disclosure(disclosure("d-3", referral="r-3", consent="c-2", partner="other"))
    assert store.sent_under_consents() == {"c-1": ["r-1", "r-2"], "c-2": ["r-3"]}
    assert store.sent_under_consents("cgc") == {"c-1": ["r-1", "r-2"]}


# ---------------------------------------------------------------- inbound


def test_inbound_file_is_processed_once_by_content_hash(store):
    first = store.begin_inbound_file("cgc", "status_updates_1.csv", "abc")
    assert not first.done and first.state == "processing"
    store.finish_inbound_file("cgc", "abc", applied=3, quarantined=1)
    again = store.begin_inbound_file("cgc", "status_updates_copy.csv", "abc")
    assert again.done and again.file_name == "status_updates_1.csv"
    assert (again.rows_applied, again.rows_quarantined) == (3, 1)
    assert store.inbound_file("other", "abc") is None


def test_crash_mid_file_resumes_without_reapplying_rows(store):
    store.begin_inbound_file("cgc", "visits.csv", "h")
    assert store.record_inbound_row("cgc", "h", 1, "applied", natural_key="PV-1", row_hash="x")
    assert store.record_inbound_row("cgc", "h", 2, "quarantined", detail="bad date")
    # crash; the rerun sees the file still processing and skips recorded rows
    resumed = store.begin_inbound_file("cgc", "visits.csv", "h")
    assert not resumed.done
    done = store.inbound_rows("cgc", "h")
    assert {n: r.outcome for n, r in done.items()} == {1: "applied", 2: "quarantined"}
    assert not store.record_inbound_row("cgc", "h", 1, "duplicate")
    assert store.inbound_rows("cgc", "h")[1].outcome == "applied"


def test_same_record_in_another_file_is_recognised(store):
    store.record_inbound_row(
        "cgc", "file-1", 4, "applied", natural_key="r-1|accepted", row_hash="x"
    )
    seen = store.find_inbound_record("cgc", "r-1|accepted", "x")
    assert seen is not None and (seen.batch, seen.row_number) == ("file-1", 4)
    assert store.find_inbound_record("cgc", "r-1|accepted", "y") is None


def test_finishing_an_unknown_file_is_an_error(store):
    with pytest.raises(RunError):
        store.finish_inbound_file("cgc", "nope", applied=0, quarantined=0)


# ---------------------------------------------------------------- crash anywhere, many runs

CRASH_POINTS = ("none", "after_plan", "before_rename", "after_rename", "after_written")


def engine_run(
    store: StateStore, outbox: Path, run_id: str, records: dict[str, str], crash: str
) -> None:
    """One run of the engine's outbound step, stopping dead at `crash`."""
    reconcile(store, outbox)
    written = [e.record_id for e in store.outbound_entries("cgc", state="written")]
    store.mark_recorded("cgc", "referral", written)  # finish the PowerSchool side left by a crash
    name = f"referrals_{run_id}.csv"
    plan = store.plan_outbound("cgc", "referral", records.items(), file_name=name, run_id=run_id)
    if crash == "after_plan" or not plan.planned:
        return
    (outbox / f".{name}.tmp").write_text("\n".join(plan.planned))
    if crash == "before_rename":
        return
    (outbox / f".{name}.tmp").rename(outbox / name)
    if crash == "after_rename":
        return
    store.mark_written("cgc", name, disclosures=[disclosure(f"d-{r}", r) for r in plan.planned])
    if crash == "after_written":
        return
    store.mark_recorded("cgc", "referral", plan.planned)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(
        st.tuples(
            st.sets(st.sampled_from([f"r-{i}" for i in range(6)])), st.sampled_from(CRASH_POINTS)
        ),
        min_size=1,
        max_size=5,
    )
)
def test_crash_at_any_point_of_any_run_neither_loses_nor_duplicates(runs):
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Path(tmp) / "out"
        outbox.mkdir()
        with StateStore.open(Path(tmp) / DB_FILENAME, clock=lambda: T0) as store:
            wanted: set[str] = set()
            for n, (records, crash) in enumerate(runs):
                wanted |= records
                pending = {r: "h" for r in sorted(wanted)}
                engine_run(store, outbox, f"run{n}", pending, crash)
            engine_run(store, outbox, "final", {r: "h" for r in sorted(wanted)}, "none")
            assert outbox_records(outbox) == sorted(
                wanted
            )  # each record in the outbox exactly once
            disclosed = sorted(d.referral_uid for d in store.disclosures_for_student("1001"))
            assert disclosed == sorted(wanted)  # and disclosed exactly once
            assert {e.state for e in store.outbound_entries("cgc")} <= {"recorded"}

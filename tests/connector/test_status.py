"""connector/status.py: the referral status machine, ACCESS_RESULT and FIRST_SERVICE_DATE."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.fhir.codes import REFERRAL_TASK_STATUSES
from connector.status import (
    FHIR_TASK_STATUS,
    PARTNER_STATUSES,
    PROGRESS,
    STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    ReferralState,
    access_result,
    apply_update,
)
from foundation.errors import RecordError

D = dt.date(2026, 10, 1)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


SENT = ReferralState("sent", D)


def walk(*steps: tuple[str, int]) -> ReferralState:
    state = SENT
    for status, n in steps:
        outcome = apply_update(state, status, day(n))
        assert outcome.kind == "applied", outcome
        state = outcome.state
    return state


def test_first_partner_status_is_applied_and_dated():
    outcome = apply_update(SENT, "received", day(1), reason="in review")
    assert outcome.kind == "applied"
    assert outcome.state == ReferralState("received", day(1), "in review", None, "pending")


def test_referral_progresses_through_every_stage():
    state = walk(
        ("received", 1),
        ("accepted", 2),
        ("scheduled", 3),
        ("attended", 4),
        ("in_service", 5),
        ("completed", 9),
    )
    assert state.status == "completed" and state.access_result == "yes"
    assert state.first_service_date == day(4)


def test_stages_may_be_skipped_forwards():
    assert walk(("attended", 3)).status == "attended"


def test_status_never_moves_backwards():
    state = walk(("scheduled", 2))
    outcome = apply_update(state, "accepted", day(3))
    assert (
        outcome.kind == "invalid"
        and outcome.reason == "status cannot move from scheduled to accepted"
    )
    assert outcome.state == state


def test_completed_is_terminal():
    outcome = apply_update(walk(("completed", 2)), "accepted", day(5))
    assert (outcome.kind, outcome.reason) == (
        "invalid",
        "status cannot move from completed to accepted",
    )


@pytest.mark.parametrize("terminal", ["declined", "unable_to_contact", "cancelled"])
def test_stopped_referral_cannot_restart(terminal):
    outcome = apply_update(walk((terminal, 2)), "scheduled", day(3))
    assert (
        outcome.kind == "invalid"
        and outcome.reason == f"status cannot move from {terminal} to scheduled"
    )


def test_partner_cannot_decline_after_scheduling():
    assert apply_update(walk(("scheduled", 2)), "declined", day(3)).kind == "invalid"


def test_update_older_than_stored_status_is_stale():
    state = walk(("accepted", 5))
    outcome = apply_update(state, "scheduled", day(4))
    assert outcome.kind == "stale" and outcome.state == state


def test_same_day_earlier_stage_is_stale_not_invalid():
    state = walk(("scheduled", 5))
    assert apply_update(state, "accepted", day(5)).kind == "stale"


def test_update_on_school_dated_status_is_never_stale():
    assert apply_update(SENT, "received", day(-1)).kind == "applied"


def test_update_for_referral_still_marked_new_is_applied():
    assert apply_update(ReferralState("new"), "received", day(1)).kind == "applied"


def test_repeated_update_is_a_duplicate():
    state = walk(("accepted", 2))
    outcome = apply_update(state, "accepted", day(2))
    assert outcome.kind == "duplicate" and outcome.state == state


def test_same_status_later_with_new_reason_updates_reason_but_keeps_date():
    state = walk(("scheduled", 2))
    outcome = apply_update(state, "scheduled", day(4), reason="rescheduled")
    assert outcome.kind == "applied"
    assert outcome.state.status_date == day(2) and outcome.state.status_reason == "rescheduled"
    assert apply_update(outcome.state, "scheduled", day(6)).kind == "duplicate"


def test_first_service_date_taken_from_update():
    outcome = apply_update(SENT, "in_service", day(6), first_service_date=day(3))
    assert outcome.state.first_service_date == day(3) and outcome.state.access_result == "yes"


def test_first_service_date_never_moves_later():
    state = walk(("attended", 3))
    outcome = apply_update(state, "in_service", day(8), first_service_date=day(7))
    assert outcome.state.first_service_date == day(3)
    earlier = apply_update(outcome.state, "completed", day(9), first_service_date=day(2))
    assert earlier.state.first_service_date == day(2)


def test_earlier_first_service_date_on_same_status_is_applied():
    state = walk(("attended", 3))
    outcome = apply_update(state, "attended", day(3), first_service_date=day(1))
    assert outcome.kind == "applied" and outcome.state.first_service_date == day(1)


def test_cancelled_after_service_keeps_access_yes():
    state = walk(("attended", 3), ("cancelled", 6))
    assert state.access_result == "yes" and state.first_service_date == day(3)


def test_unable_to_contact_after_service_keeps_access_yes():
    assert walk(("in_service", 3), ("unable_to_contact", 9)).access_result == "yes"


@pytest.mark.parametrize("stop", ["declined", "unable_to_contact", "cancelled"])
def test_stop_without_service_means_no_access(stop):
    state = walk(("received", 1), (stop, 2))
    assert state.access_result == "no" and state.first_service_date is None


def test_cancelled_with_a_first_service_date_counts_as_served():
    outcome = apply_update(walk(("scheduled", 1)), "cancelled", day(5), first_service_date=day(4))
    assert outcome.state.access_result == "yes" and outcome.state.first_service_date == day(4)


def test_pending_until_service_or_stop():
    assert walk(("received", 1), ("accepted", 2), ("scheduled", 3)).access_result == "pending"


@pytest.mark.parametrize(
    ("status", "when", "fsd", "reason"),
    [
        ("sent", 1, None, "status sent is set by the school, not by a partner"),
        ("new", 1, None, "status new is set by the school, not by a partner"),
        ("lost", 1, None, "unknown status 'lost'"),
        ("received", 30, None, "status_date is in the future"),
        ("attended", 3, day(4), "first_service_date is after status_date"),
        ("scheduled", 3, day(2), "first_service_date given with status scheduled (no service yet)"),
    ],
)
def test_malformed_update_is_invalid_with_reason(status, when, fsd, reason):
    outcome = apply_update(SENT, status, day(when), fsd, today=day(10))
    assert (outcome.kind, outcome.reason) == ("invalid", reason) and outcome.state == SENT


def test_status_codes_are_matched_ignoring_case():
    assert apply_update(SENT, " Received ", day(1)).state.status == "received"


def test_unknown_stored_status_makes_update_invalid():
    outcome = apply_update(ReferralState("weird"), "received", day(1))
    assert outcome.kind == "invalid" and "stored status" in outcome.reason


# ---------------------------------------------------------------- tables and fields


def test_transition_table_covers_every_status_and_terminals_have_no_exit():
    assert set(TRANSITIONS) == set(STATUSES)
    assert all(TRANSITIONS[s] == frozenset() for s in TERMINAL_STATUSES)
    assert all(targets <= set(PARTNER_STATUSES) for targets in TRANSITIONS.values())
    for i, status in enumerate(PROGRESS):
        assert not TRANSITIONS[status] & set(PROGRESS[: i + 1])


def test_fhir_task_status_mapping_follows_spec():
    assert (
        FHIR_TASK_STATUS["received"] == "requested" and FHIR_TASK_STATUS["declined"] == "rejected"
    )
    assert (
        FHIR_TASK_STATUS["scheduled"] == "accepted"
        and FHIR_TASK_STATUS["in_service"] == "in-progress"
    )
    assert (
        FHIR_TASK_STATUS["unable_to_contact"] == "failed"
        and FHIR_TASK_STATUS["cancelled"] == "cancelled"
    )
    referral_task_codes = REFERRAL_TASK_STATUSES  # the SDOHCC referral Task status value set
    assert (
        set(FHIR_TASK_STATUS) == set(STATUSES)
        and set(FHIR_TASK_STATUS.values()) <= referral_task_codes
    )


def test_access_result_function():
    assert access_result("received", None) == "pending"
    assert access_result("declined", None) == "no"
    assert access_result("cancelled", None, served=True) == "yes"
    assert access_result("attended", None) == "yes"


def test_state_from_row_and_changed_fields():
    row = {
        "ssp_uid": "r-1",
        "status": "scheduled",
        "status_date": "2026-10-03",
        "status_reason": "",
        "first_service_date": "",
        "access_result": "pending",
    }
    state = ReferralState.from_row(row)
    assert state == ReferralState("scheduled", day(2), "", None, "pending")
    new = apply_update(state, "attended", day(4)).state
    assert new.changed_fields(state) == {
        "STATUS": "attended",
        "STATUS_DATE": "2026-10-05",
        "FIRST_SERVICE_DATE": "2026-10-05",
        "ACCESS_RESULT": "yes",
    }


def test_state_from_row_defaults_and_bad_date():
    assert ReferralState.from_row({"ssp_uid": "r-2"}) == ReferralState("new")
    with pytest.raises(RecordError) as info:
        ReferralState.from_row({"ssp_uid": "r-3", "status_date": "soon"})
    assert info.value.field == "status_date" and "r-3" in info.value.reason

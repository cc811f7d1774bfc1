"""Property tests of the status machine over arbitrary sequences of partner updates."""

from __future__ import annotations

import datetime as dt

from hypothesis import event, given, settings
from hypothesis import strategies as st

from connector.status import (
    PARTNER_STATUSES,
    PROGRESS,
    SCHOOL_STATUSES,
    SERVICE_STATUSES,
    TRANSITIONS,
    ReferralState,
    apply_update,
)

D = dt.date(2026, 10, 1)
RANK = {s: i for i, s in enumerate(PROGRESS)}
STOPS = {"declined", "unable_to_contact", "cancelled"}

updates = st.lists(
    st.tuples(
        st.one_of(
            st.sampled_from(PARTNER_STATUSES),
            st.sampled_from(PARTNER_STATUSES),
            st.sampled_from((*SCHOOL_STATUSES, "bogus")),
        ),
        st.integers(0, 15),  # status date, days after D
        st.one_of(st.none(), st.integers(-3, 15)),  # first service date offset
        st.sampled_from(("", "", "note")),
    ),
    max_size=12,
)


def _well_formed(status: str, on: dt.date, fsd: dt.date | None) -> bool:
    no_service_yet = {"received", "accepted", "scheduled", "declined"}
    return status in PARTNER_STATUSES and (
        fsd is None or (fsd <= on and status not in no_service_yet)
    )


@settings(max_examples=400, deadline=None)
@given(start=st.sampled_from(("new", "sent")), steps=updates)
def test_any_sequence_of_updates_keeps_the_rules(start, steps):
    state = ReferralState(start, D)
    best_rank, served = -1, False
    for status, offset, fsd_offset, reason in steps:
        on = D + dt.timedelta(days=offset)
        fsd = None if fsd_offset is None else D + dt.timedelta(days=fsd_offset)
        before = state
        outcome = apply_update(state, status, on, fsd, reason)
        older = (
            before.status not in SCHOOL_STATUSES
            and before.status_date is not None
            and on < before.status_date
        )

        if outcome.kind != "applied":
            assert outcome.state == before  # nothing changes unless applied
        if _well_formed(status, on, fsd) and older:
            assert outcome.kind == "stale"  # stale updates are ignored
        if (
            _well_formed(status, on, fsd)
            and status != before.status
            and before.status_date is not None
            and on > before.status_date
            and status not in TRANSITIONS[before.status]
        ):
            assert (
                outcome.kind == "invalid" and outcome.reason
            )  # forbidden transitions are quarantined
        if outcome.kind == "invalid":
            assert outcome.reason
        event(outcome.kind)

        state = outcome.state
        if outcome.kind == "applied":
            served = served or status in SERVICE_STATUSES or fsd is not None
            if state.status in RANK:  # never backwards along the progress order
                assert RANK[state.status] >= best_rank
                best_rank = RANK[state.status]
            if before.status_date is not None and before.status not in SCHOOL_STATUSES:
                assert state.status_date is not None and state.status_date >= before.status_date
            if before.first_service_date is not None:  # never moved later once set
                assert state.first_service_date is not None
                assert state.first_service_date <= before.first_service_date
        # ACCESS_RESULT: yes once served (for good), no after a stop without service, else pending.
        expected = "yes" if served else ("no" if state.status in STOPS else "pending")
        assert state.access_result == expected
        if state.status in SERVICE_STATUSES:
            assert (
                state.first_service_date is not None
                and state.first_service_date <= state.status_date
            )


@settings(max_examples=200, deadline=None)
@given(steps=updates)
def test_replaying_the_same_updates_changes_nothing(steps):
    """A partner file delivered twice (or a rerun after a crash) writes nothing the second time."""
    state = ReferralState("sent", D)
    for status, offset, fsd_offset, reason in steps:
        fsd = None if fsd_offset is None else D + dt.timedelta(days=fsd_offset)
        state = apply_update(state, status, D + dt.timedelta(days=offset), fsd, reason).state
    for status, offset, fsd_offset, reason in steps:
        fsd = None if fsd_offset is None else D + dt.timedelta(days=fsd_offset)
        outcome = apply_update(state, status, D + dt.timedelta(days=offset), fsd, reason)
        assert outcome.kind in ("stale", "duplicate", "invalid") and outcome.state == state

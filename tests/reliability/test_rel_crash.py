"""A sync killed with SIGKILL at any point and run again: nothing lost, nothing duplicated.

A real `python -m ssp -v sync run` subprocess syncs a few thousand records (hundreds of referrals
with their consents and visits, then the partners' status updates and visits) against the sandbox
in this process, which kills it at chosen points spread over every phase of both syncs of the
scenario: reading PowerSchool, deciding and holding, writing the outbox file, writing back
STATUS=sent, recording disclosures, inbound status and visit chunks, the revocation notice. The
run is then started again and must finish; the result must equal a run that was never killed
(PowerSchool rows, outbound records, quarantine, disclosures), with the invariants of
reliability_kit/invariants.py holding and the state database passing integrity_check.

CI runs 11 kill points on 240 referrals (about 2,000 records); `python -m pytest -m slow
tests/reliability` runs 95 more on 600 referrals (about 5,000 records): 50 spread evenly over
both syncs, 40 at set places in each phase, 5 on outbox and quarantine files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from reliability_kit import figures
from reliability_kit.crashlab import Bench, CrashLab, Kill, RunResult, classify
from reliability_kit.invariants import problems
from reliability_kit.privacy import canary_students, needles_for
from reliability_kit.snapshot import Snapshot, take

from ssp.demo_scenario import SchoolSide, seed_school_side


@dataclass
class Reference:
    lab: CrashLab
    stages: dict[int, Path]  # sync number -> the stage it starts from
    expected: dict[int, Snapshot]  # sync number -> what it leaves when never killed
    logs: dict[int, list[tuple[str, str, int]]]

    def point(self, sync: int, phase: str, fraction: float) -> int:
        """The request number (1-based) at `fraction` of `phase` in the unkilled run."""
        found = [
            i
            for i, (m, p, _) in enumerate(self.logs[sync])
            if phase == "any" or classify(m, p, sync) == phase
        ]
        assert found, f"sync {sync} has no {phase} requests"
        return found[min(int(fraction * len(found)), len(found) - 1)] + 1


def _base_dir() -> Path:
    shm = Path("/dev/shm")
    return Path(
        tempfile.mkdtemp(
            prefix="ssp-crash-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        )
    )


def build_reference(zips: list[Path], *, referrals: int, students: int) -> Reference:
    lab = CrashLab(_base_dir(), zips, students=students)
    side = SchoolSide()

    def seed(sandbox: object) -> None:
        canary_students(sandbox)  # names a log scan can find (reliability_kit/privacy.py)
        seeded = seed_school_side(sandbox, lab.today, referrals=referrals)
        side.__dict__.update(seeded.__dict__)

    seeded = lab.seed_stage("seeded", seed)
    ref = lab.copy_stage(seeded, "reference")
    expected, logs = {}, {}
    with lab.open(ref) as bench:
        logs[1] = _complete(bench.run()).log
        expected[1] = take(bench.world(), ignore_run_times=True)
        world = bench.world()
        world.side = side
        world.partners_reply()
    before2 = lab.copy_stage(ref, "before-sync-2")
    with lab.open(ref) as bench:
        logs[2] = _complete(bench.run()).log
        expected[2] = take(bench.world(), ignore_run_times=True)
        assert problems(bench.world()) == []
    return Reference(lab, {1: seeded, 2: before2}, expected, logs)


def _complete(result: RunResult) -> RunResult:
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.summary()["status"] == "ok"
    return result


def crash_and_rerun(ref: Reference, sync: int, kill: Kill, name: str) -> None:
    stage = ref.lab.copy_stage(ref.stages[sync], name)
    try:
        with ref.lab.open(stage) as bench:
            killed = bench.run(kill=kill)
            assert killed.killed, f"the run ended (exit {killed.returncode}) before {kill}"
            phase = (
                classify(*killed.killed_at.split(" ", 1), sync)
                if kill.when != "file"
                else kill.pattern
            )
            rerun = _complete(bench.run())
            assert_as_if_never_killed(bench, ref.expected[sync])
            assert_logs_clean(bench, killed.stderr + rerun.stderr)
        figures.add("kill points survived")
        figures.add(f"kill points survived in sync {sync}, {phase}")
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def assert_logs_clean(bench: Bench, logs: str) -> None:
    """The `-v` (DEBUG) JSON logs of both runs hold no personal data and no secret."""
    needles = needles_for(bench.sandbox, [bench.sandbox.client_secret])
    lines = logs.splitlines()
    assert len(lines) > 5 and any('"level": "debug"' in line for line in lines)
    assert [line[:200] for line in lines if needles.found(line)] == []
    figures.add("log lines scanned", len(lines))


def assert_as_if_never_killed(bench: Bench, expected: Snapshot) -> None:
    world = bench.world()
    assert problems(world) == []
    assert take(world, ignore_run_times=True).differences(expected) == []


@pytest.fixture(scope="module")
def reference(plugin_zips: list[Path]) -> Iterator[Reference]:
    ref = build_reference(plugin_zips, referrals=240, students=480)
    yield ref
    shutil.rmtree(ref.lab.base, ignore_errors=True)


# (sync, phase of the killed request, position within that phase, before/after, delay ms)
CI_POINTS = [
    (1, "reading PowerSchool", 0.5, "after", 0),
    (1, "writing back (referral sent/held)", 0.02, "after", 1.0),
    (1, "writing back (referral sent/held)", 0.5, "before", 0),
    (1, "recording disclosures", 0.7, "before", 0),
    (2, "reading PowerSchool", 0.3, "after", 0.5),
    (2, "inbound status chunk", 0.2, "after", 0),
    (2, "inbound status chunk", 0.6, "before", 0),
    (2, "inbound visit chunk", 0.5, "after", 0.5),
]
QUARANTINE = "var/ssp/partners/*/quarantine/*/*.csv"
CI_FILES = [(1, "referrals_*.csv"), (2, "revocations_*.csv"), (2, QUARANTINE)]


@pytest.mark.parametrize(
    ("sync", "phase", "fraction", "when", "delay"),
    CI_POINTS,
    ids=[f"sync{s}-{p.split()[0]}-{f}-{w}" for s, p, f, w, _ in CI_POINTS],
)
def test_sigkill_at_a_request_then_rerun_loses_and_duplicates_nothing(
    reference: Reference, sync: int, phase: str, fraction: float, when: str, delay: float
) -> None:
    n = reference.point(sync, phase, fraction)
    crash_and_rerun(
        reference, sync, Kill(n=n, when=when, delay_ms=delay), f"kill-{sync}-{n}-{when}"
    )


@pytest.mark.parametrize(
    ("sync", "pattern"), CI_FILES, ids=["referrals", "revocations", "quarantine"]
)
def test_sigkill_while_writing_the_outbox_or_quarantine_then_rerun_writes_each_record_once(
    reference: Reference, sync: int, pattern: str
) -> None:
    crash_and_rerun(
        reference,
        sync,
        Kill(when="file", pattern=pattern),
        f"kill-{sync}-{pattern[:5]}-{len(pattern)}",
    )


# -- the full run: many more points, a larger scenario ---------------------------------------------

SLOW_PER_SYNC = 25
DELAYS = (0.0, 0.3, 1.0, 3.0)


@pytest.fixture(scope="module")
def big_reference(plugin_zips: list[Path]) -> Iterator[Reference]:
    ref = build_reference(plugin_zips, referrals=600, students=1100)
    yield ref
    shutil.rmtree(ref.lab.base, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("i", range(2 * SLOW_PER_SYNC))
def test_sigkill_at_evenly_spread_points_of_a_larger_sync(big_reference: Reference, i: int) -> None:
    sync, k = 1 + i // SLOW_PER_SYNC, i % SLOW_PER_SYNC
    n = big_reference.point(sync, "any", (k + 0.5) / SLOW_PER_SYNC)
    kill = Kill(n=n, when="before" if i % 2 else "after", delay_ms=DELAYS[i % len(DELAYS)])
    crash_and_rerun(big_reference, sync, kill, f"slow-{sync}-{n}")


PHASES = {
    1: (
        "reading PowerSchool",
        "partner directory",
        "writing back (referral sent/held)",
        "recording disclosures",
    ),
    2: ("reading PowerSchool", "partner directory", "inbound status chunk", "inbound visit chunk"),
}
PHASE_POINTS = [
    (sync, phase, fraction)
    for sync, phases in PHASES.items()
    for phase in phases
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9)
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sync", "phase", "fraction"),
    PHASE_POINTS,
    ids=[f"sync{s}-{p.split()[0]}-{f}" for s, p, f in PHASE_POINTS],
)
def test_sigkill_in_every_phase_of_a_larger_sync(
    big_reference: Reference, sync: int, phase: str, fraction: float
) -> None:
    n = big_reference.point(sync, phase, fraction)
    kill = Kill(n=n, when="before" if fraction in (0.3, 0.7) else "after", delay_ms=fraction * 4)
    crash_and_rerun(big_reference, sync, kill, f"phase-{sync}-{n}")


@pytest.mark.slow
@pytest.mark.parametrize(("sync", "pattern"), [*CI_FILES, (1, "NOTICE_*.txt"), (2, "NOTICE_*.txt")])
def test_sigkill_while_writing_the_outbox_of_a_larger_sync(
    big_reference: Reference, sync: int, pattern: str
) -> None:
    crash_and_rerun(
        big_reference,
        sync,
        Kill(when="file", pattern=pattern),
        f"slow-{sync}-{pattern[:5]}-{len(pattern)}",
    )


# -- the window SIGKILL rarely hits: refused rows written, not yet recorded ------------------------


class Died(BaseException):
    """The process ends here: not an Exception, so no handler of the engine runs."""


def test_rows_quarantined_by_a_run_that_died_before_recording_them_are_quarantined_once(
    plugin_zips: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fixed: the rerun used to append every refused row of the chunk to the quarantine again."""
    from reliability_kit.snapshot import quarantine_rows
    from reliability_kit.world import make_world

    from connector.state import StateStore

    world = make_world(tmp_path, plugin_zips)
    try:
        world.sync()
        world.partners_reply()
        record = StateStore.record_inbound_rows

        def dies(*args: object, **kwargs: object) -> None:
            raise Died

        monkeypatch.setattr(StateStore, "record_inbound_rows", dies)
        with pytest.raises(Died):
            world.sync()
        assert quarantine_rows(world.state_dir)  # the refused rows of the first chunk were written
        monkeypatch.setattr(StateStore, "record_inbound_rows", record)
        assert world.sync()["status"] == "ok"
        for name, rows in quarantine_rows(world.state_dir).items():
            numbers = [dict(r)["source_row"] for r in rows]
            assert len(numbers) == len(set(numbers)), f"{name} repeats rows"
        assert problems(world) == []
    finally:
        world.sandbox.stop()

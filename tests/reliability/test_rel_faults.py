"""Under every fault kind of TARGETS.md, on reads and on writes, the same scenario ends exactly as
it does without faults: the same PowerSchool rows, outbound records, quarantine and disclosures.

The scenario (reliability_kit/world.py): a first sync sends referrals (and holds the ones the
consents do not allow), the partners reply with status updates, visits and a few hostile rows,
a consent is revoked, a second sync applies the replies and sends the revocation notice.

CI runs each fault kind on every request (reads and writes in one run, and checks that both were
hit); the slow variant runs each kind on reads only and on writes only, at higher rates.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import figures
from reliability_kit.snapshot import Snapshot, take
from reliability_kit.world import FAST_CLIENT, World, make_world, pinned_now

from sandbox.faults import Fault

NOW = pinned_now()
COUNTED = (
    "referrals_sent",
    "referrals_held",
    "revocations_sent",
    "status_updates_applied",
    "visits_created",
    "quarantined",
    "disclosures_recorded",
    "duplicates_skipped",
    "stale_skipped",
)
Scope = Callable[[str, str], bool]


def is_read(method: str, path: str) -> bool:
    return method == "GET" or path.startswith(("/ws/schema/query/", "/oauth/", "/ws/v1/"))


def is_write(method: str, path: str) -> bool:
    return method in ("POST", "PUT", "DELETE") and path.startswith("/ws/schema/table/")


def everything(method: str, path: str) -> bool:
    return True


SCOPES: dict[str, Scope] = {"reads": is_read, "writes": is_write}
# kind -> (spec, script period): a probability, or one request in `period` (deterministic count)
FAULTS: dict[str, tuple[str, int]] = {
    "429": ("429:0.15", 0),
    "500": ("500:0.12", 0),
    "502": ("502:0.12", 0),
    "503": ("503:0.12", 0),
    "504": ("504:0.12", 0),
    "reset": ("reset:0.12", 0),
    "timeout": ("", 15),  # one request in 15 reaches reads and writes of the snapshot-based runs
    "html": ("html:0.12", 0),
    "redirect": ("redirect:0.12", 0),  # PowerSchool's maintenance redirect to its outage page
}
AFTER_WRITE = {
    "reset_after_write": ("reset_after_write:0.15", 0),
    "timeout_after_write": ("", 14),
    "500_after_write": ("500_after_write:0.15", 0),
}
MIX = {
    "429": 0.04,
    "500": 0.03,
    "502": 0.02,
    "503": 0.03,
    "504": 0.02,
    "reset": 0.03,
    "timeout": 0.01,
    "html": 0.03,
    "reset_after_write": 0.02,
    "500_after_write": 0.02,
    "timeout_after_write": 0.01,
}


def counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {p: {k: v for k, v in c.items() if k in COUNTED} for p, c in summary["partners"].items()}


@pytest.fixture(scope="module")
def baseline(
    plugin_zips: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Snapshot, list]]:
    world = make_world(tmp_path_factory.mktemp("baseline"), plugin_zips, now=NOW)
    try:
        summaries = world.run_scenario()
        assert [s["status"] for s in summaries] == ["ok", "ok"]
        yield take(world), [counts(s) for s in summaries]
    finally:
        world.sandbox.stop()


class FaultRun:
    """A world whose sandbox injects faults on the requests `scope` selects, and remembers where."""

    def __init__(
        self,
        tmp_path: Path,
        zips: list[Path],
        scope: Scope,
        spec: str = "",
        script: list[str] | None = None,
        quirks: str = "single:0,norecord:0",
        scripts: dict[Scope, list[str]] | None = None,
    ) -> None:
        """`spec`/`script` apply on `scope`; `scripts`: one more script per scope, used first."""
        self.world = make_world(tmp_path, zips, now=NOW, faults=quirks)
        self.hits: list[tuple[str, str, str]] = []
        plan = self.world.sandbox.faults
        plan.set(spec)
        plan.script(script or [])
        plan.matches = scope  # type: ignore[method-assign]  # a predicate: reads, writes, everything
        decide, lock = plan.decide, threading.Lock()
        own = {s: [Fault.parse(x) for x in items] for s, items in (scripts or {}).items()}

        def recording(method: str, path: str) -> Any:
            with lock:
                mine = next((q for s, q in own.items() if q and s(method, path)), None)
                fault = mine.pop(0) if mine is not None else decide(method, path)
                if fault is not None:
                    self.hits.append((method, path, fault.name))
            return fault

        plan.decide = recording  # type: ignore[method-assign]

    def run(self, client: dict[str, Any] | None = None) -> World:
        try:
            self.world.run_scenario(client=client)
        finally:
            self.world.sandbox.stop()
        return self.world

    def hit(self, scope: Scope, *, acting: bool = True) -> int:
        """Faults injected on requests of `scope` (`acting`: not an expire on the token call)."""
        return sum(
            1
            for m, p, name in self.hits
            if scope(m, p) and not (acting and name == "expire" and p.startswith("/oauth/"))
        )


def is_data_read(method: str, path: str) -> bool:
    return is_read(method, path) and not path.startswith("/oauth/")


def periodic(kind: str, period: int, n: int = 400) -> list[str]:
    return ([*(["ok"] * (period - 1)), kind] * (n // period + 1)) if period else []


def assert_same_as_baseline(world: World, baseline: tuple[Snapshot, list]) -> None:
    expected, expected_counts = baseline
    figures.add("fault runs ending equal to the fault-free run")
    assert [s["status"] for s in world.summaries] == ["ok", "ok"], world.summaries
    assert take(world).differences(expected) == []
    assert [counts(s) for s in world.summaries] == expected_counts


def fault_run(
    kind: str,
    table: dict[str, tuple[str, int]],
    scope: Scope,
    tmp_path: Path,
    zips: list[Path],
    *,
    boost: float = 1.0,
) -> FaultRun:
    spec, period = table[kind]
    if boost != 1.0 and spec:
        name, prob = spec.rsplit(":", 1)
        spec = f"{name}:{min(float(prob) * boost, 0.5)}"
    return FaultRun(
        tmp_path, zips, scope, spec, periodic(kind, max(1, int(period / boost)) if period else 0)
    )


@pytest.mark.parametrize("kind", FAULTS)
def test_fault_on_reads_and_writes_leaves_the_same_outcome_as_a_fault_free_run(
    kind: str, plugin_zips: list[Path], tmp_path: Path, baseline: tuple[Snapshot, list]
) -> None:
    run = fault_run(kind, FAULTS, everything, tmp_path, plugin_zips)
    world = run.run()
    reads, writes = run.hit(is_read), run.hit(is_write)
    assert reads >= 2 and writes >= 2, (
        f"faults did not reach both reads ({reads}) and writes ({writes})"
    )
    figures.add("faults injected", len(run.hits))
    assert_same_as_baseline(world, baseline)


def test_token_expiry_mid_run_on_reads_and_writes_leaves_the_same_outcome(
    plugin_zips: list[Path], tmp_path: Path, baseline: tuple[Snapshot, list]
) -> None:
    """Tokens expire every few reads and every 30 writes (spaced as real expiry is: one token
    serves many requests; a token rejected again right after its refresh is a real failure)."""
    run = FaultRun(
        tmp_path,
        plugin_zips,
        everything,
        scripts={is_data_read: periodic("expire", 4), is_write: periodic("expire", 30)},
    )
    world = run.run()
    assert run.hit(is_read) >= 3 and run.hit(is_write) >= 3, run.hits
    assert sum(1 for e in world.sandbox.request_log if e[1].startswith("/oauth/")) >= 8
    figures.add("faults injected", len(run.hits))
    assert_same_as_baseline(world, baseline)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("kind", FAULTS)
def test_fault_on_reads_only_or_writes_only_leaves_the_same_outcome(
    kind: str,
    scope: str,
    seed: int,
    plugin_zips: list[Path],
    tmp_path: Path,
    baseline: tuple[Snapshot, list],
) -> None:
    run = fault_run(kind, FAULTS, SCOPES[scope], tmp_path, plugin_zips, boost=1.5)
    run.world.sandbox.faults._rng.seed(seed)  # noqa: SLF001 - another draw of the same rates
    world = run.run()
    assert run.hit(SCOPES[scope]) >= 2 and run.hit(SCOPES[scope]) == len(run.hits)
    figures.add("faults injected", len(run.hits))
    assert_same_as_baseline(world, baseline)


@pytest.mark.parametrize("kind", AFTER_WRITE)
def test_write_applied_then_failed_leaves_no_duplicate_and_the_same_outcome(
    kind: str, plugin_zips: list[Path], tmp_path: Path, baseline: tuple[Snapshot, list]
) -> None:
    run = fault_run(kind, AFTER_WRITE, is_write, tmp_path, plugin_zips)
    world = run.run()
    inserts = [h for h in run.hits if h[0] == "POST"]
    assert inserts and len(run.hits) > len(inserts), (
        "both inserts and updates must be failed after applying"
    )
    figures.add("faults injected", len(run.hits))
    assert_same_as_baseline(world, baseline)


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_429_waits_as_long_as_retry_after_says_in_seconds_or_as_an_http_date(
    form: str, plugin_zips: list[Path], tmp_path: Path, baseline: tuple[Snapshot, list]
) -> None:
    """The waits asked for are recorded (and shortened): the test proves Retry-After is obeyed."""
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)
        time.sleep(min(seconds, 0.002))

    run = FaultRun(tmp_path, plugin_zips, everything, "429:0.15")
    plan = run.world.sandbox.faults
    plan.retry_after_forms, plan.retry_after_seconds = (form,), 3
    world = run.run({**FAST_CLIENT, "max_delay": 30.0, "sleep": sleep})
    told = sum(1 for w in waits if (w == 3.0 if form == "seconds" else 2.0 < w <= 3.0))
    assert len(run.hits) >= 5 and told >= len(run.hits), (len(run.hits), sorted(waits))
    figures.add("faults injected", len(run.hits))
    assert_same_as_baseline(world, baseline)


@pytest.mark.parametrize("quirks", ["single:1,norecord:1", "single:0.5,norecord:0.5"])
def test_powerschool_json_quirks_leave_the_same_outcome_as_clean_json(
    quirks: str, plugin_zips: list[Path], tmp_path: Path, baseline: tuple[Snapshot, list]
) -> None:
    """A one-row list as a bare object, an empty result without `record` (baseline: clean JSON)."""
    run = FaultRun(tmp_path, plugin_zips, everything, quirks=quirks)
    world = run.run()
    figures.add("quirk runs (single object, missing record)")
    assert_same_as_baseline(world, baseline)


def mixed_script(seed: int, n: int = 600, expire_every: int = 40) -> list[str]:
    rng = random.Random(seed)
    names, weights = list(MIX), list(MIX.values())
    script = []
    for i in range(n):
        roll = rng.random()
        if i % expire_every == expire_every - 1:
            script.append("expire")
        elif roll < sum(weights):
            script.append(rng.choices(names, weights)[0])
        else:
            script.append("ok")
    return script


@pytest.mark.parametrize(
    "seed", [3, pytest.param(4, marks=pytest.mark.slow), pytest.param(5, marks=pytest.mark.slow)]
)
def test_a_mix_of_every_fault_and_quirk_leaves_the_same_outcome(
    seed: int, plugin_zips: list[Path], tmp_path: Path, baseline: tuple[Snapshot, list]
) -> None:
    run = FaultRun(
        tmp_path,
        plugin_zips,
        everything,
        script=mixed_script(seed),
        quirks="single:0.5,norecord:0.5",
    )
    world = run.run()
    assert len({name for _, _, name in run.hits}) >= 8 and run.hit(is_read) and run.hit(is_write)
    figures.add("faults injected", len(run.hits))
    assert_same_as_baseline(world, baseline)

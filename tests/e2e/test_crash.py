"""A crash between any two effects of a sync, then a rerun: nothing lost, nothing duplicated.

Every effect boundary of a run (a PowerSchool insert or update, an outbox or receipt file, an
archive move, a quarantine row, each state-database transaction) is wrapped; a clean run of the
scenario counts them, then for crash point N the scenario is replayed on a fresh sandbox and
folder with the Nth boundary raising `InjectedCrash` (a BaseException, so no engine handler
tidies up, as after a kill) instead of running. The crashed sync is run again without the fault
and the scenario goes on. The final PowerSchool rows (without IDs, WHO/WHEN columns and run
stamps), the records in the outboxes (each exactly once), the disclosure record (one per record
sent, in PowerSchool and locally) and the quarantine must equal the clean run's.

The default run takes about thirty crash points covering every boundary kind of every sync;
`-m slow` runs all of them (about a hundred).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import TIMEZONE, Workspace, all_comparable_rows, read_csv, reset_logging

from connector.cli import run_sync
from connector.client import PowerSchoolClient
from connector.feeds import csv_feed
from connector.feeds.files import PartnerFiles, QuarantineBook
from connector.state import StateStore
from sandbox import Sandbox
from ssp.demo_scenario import revoke_one_consent

STATE_EFFECTS = (
    "upsert_mirror",
    "plan_outbound",
    "plan_publishing",
    "mark_written",
    "mark_recorded",
    "discard_planned",
    "begin_pushes",
    "mark_pushed_all",
    "begin_inbound_file",
    "record_inbound_rows",
    "finish_inbound_file",
    "finish_run",
)
DEFAULT_POINTS = 30


class InjectedCrash(BaseException):
    """The process 'dies' here: not an Exception, so the engine's handlers do not run."""


@dataclass
class Injector:
    """Counts effect boundaries in order; raises InjectedCrash instead of the `crash_at`-th."""

    crash_at: int | None = None
    calls: list[str] = field(default_factory=list)
    fired: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def boundary(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                fire = self.crash_at == len(self.calls)
                self.calls.append(label)
                if fire:
                    self.crash_at, self.fired = None, f"{len(self.calls) - 1}:{label}"
            if fire:
                raise InjectedCrash(label)
            return fn(*args, **kwargs)

        return boundary

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        targets: list[tuple[Any, str]] = [
            (PowerSchoolClient, "insert"),
            (PowerSchoolClient, "update"),
            (csv_feed, "atomic_write"),
            (PartnerFiles, "write_receipt"),
            (PartnerFiles, "archive_file"),
            (QuarantineBook, "write"),
        ]
        targets += [(StateStore, name) for name in STATE_EFFECTS]
        for owner, name in targets:
            label = f"{getattr(owner, '__name__', owner)}.{name}".replace(
                "connector.feeds.csv_feed", "csv_feed"
            )
            monkeypatch.setattr(owner, name, self.wrap(label, getattr(owner, name)))


@dataclass
class Replay:
    crashed: str
    phases: list[tuple[str, int]]  # (sync name, boundaries counted when it ended)
    outcome: dict[str, Any]


def _sync(ws: Workspace, injector: Injector, name: str, phases: list[tuple[str, int]]) -> None:
    try:
        run_sync(ws.config, credentials=ws.credentials)
    except InjectedCrash:
        summary = run_sync(ws.config, credentials=ws.credentials)  # the rerun, without the fault
        assert summary.status == "ok", summary.as_dict()
    phases.append((name, len(injector.calls)))


def _scenario(ws: Workspace, injector: Injector) -> list[tuple[str, int]]:
    """Staff data; sync; partners answer and a parent revokes a consent; sync."""
    phases: list[tuple[str, int]] = []
    side = ws.seed(referrals=5)  # cgc: 3 referrals, bhcare: 1, and the six held cases
    _sync(ws, injector, "first sync", phases)
    ws.reply(side)
    revoke_one_consent(ws.sandbox, side, ws.today)
    _sync(ws, injector, "second sync", phases)
    return phases


def _outcome(ws: Workspace) -> dict[str, Any]:
    outbox: dict[str, Any] = {}
    for partner in ("cgc", "bhcare"):
        files = ws.outbox_files(partner)
        for name in files:
            if name.endswith(".csv"):
                run_id = name.rsplit("_", 1)[1].removesuffix(".csv")
                assert f"NOTICE_{run_id}.txt" in files, f"{partner}/{name} has no notice"
        assert not [n for n in files if n.startswith(".") or n.endswith(".tmp")], files
        for kind in ("referrals_", "revocations_"):
            rows = ws.outbox_rows(partner, kind)
            ids = Counter(next(iter(r.values())) for r in rows)
            assert all(n == 1 for n in ids.values()), f"{partner} {kind}: written twice {ids}"
            outbox[f"{partner}/{kind}"] = sorted(tuple(sorted(r.items())) for r in rows)
    local = ws.state_rows("disclosures")
    disclosed = sorted(
        (
            d["partner_id"],
            d["referral_uid"],
            d["data_categories"],
            d["legal_basis"],
            d["student_number"],
            d["ssp_uid"],
            d["pushed"],
        )
        for d in local
    )
    assert len({d["referral_uid"] for d in local}) == len(local), (
        "a record sent was disclosed twice"
    )
    ledger = Counter((e["kind"], e["state"]) for e in ws.state_rows("outbound"))
    quarantine = sorted(
        {
            (q["_file"].split("_", 1)[1], q.get("source_row", ""), q["reason"])
            for p in ("cgc", "bhcare")
            for q in ws.quarantined(p)
        }
    )
    return {
        "powerschool": all_comparable_rows(ws.sandbox),
        "outbox": outbox,
        "disclosures": disclosed,
        "ledger": dict(ledger),
        "quarantine": quarantine,
        "inbox": {p: sorted(x.name for x in ws.inbox(p).iterdir()) for p in ("cgc", "bhcare")},
        "archive": {p: ws.archived(p) for p in ("cgc", "bhcare")},
    }


@contextlib.contextmanager
def _workspace(
    root: Path, zips: tuple[Path, Path], today: dt.date, capsys: Any
) -> Iterator[Workspace]:
    root.mkdir(parents=True)
    with Sandbox(plugins=list(zips), students=120, seed=7, timezone=TIMEZONE) as sandbox:
        yield Workspace(root, sandbox, today, capsys)


@dataclass
class Harness:
    tmp_path: Path
    zips: tuple[Path, Path]
    today: dt.date
    capsys: Any
    monkeypatch: pytest.MonkeyPatch

    def replay(self, crash_at: int | None) -> Replay:
        injector = Injector(crash_at=crash_at)
        name = "clean" if crash_at is None else f"crash-{crash_at}"
        with _workspace(self.tmp_path / name, self.zips, self.today, self.capsys) as ws:
            with self.monkeypatch.context() as patched:
                injector.install(patched)
                phases = _scenario(ws, injector)
            try:
                outcome = _outcome(ws)
            except AssertionError as exc:
                outcome = {"broken": str(exc)}
        return Replay(injector.fired, phases, outcome)

    def crash_points(self, clean: Replay, points: list[int]) -> list[str]:
        """Replay each crash point; the differences from the clean run, one line each."""
        problems = []
        for n in points:
            replay = self.replay(n)
            if not replay.crashed:
                problems.append(f"crash point {n} was never reached")
                continue
            for key, want in clean.outcome.items():
                got = replay.outcome.get(key)
                if got != want:
                    problems.append(
                        f"crash at {replay.crashed}: {key} differs: {_difference(want, got)}"
                    )
            if "broken" in replay.outcome:
                problems.append(f"crash at {replay.crashed}: {replay.outcome['broken']}")
        return problems


def _difference(want: Any, got: Any) -> str:
    if isinstance(want, dict) and isinstance(got, dict):
        keys = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        return "; ".join(f"{k}: {_difference(want.get(k), got.get(k))}" for k in keys)
    if isinstance(want, list) and isinstance(got, list):
        missing = [x for x in want if x not in got]
        extra = [x for x in got if x not in want]
        return f"missing {missing[:3]} extra {extra[:3]} (lengths {len(want)} vs {len(got)})"
    return f"{want!r} != {got!r}"


def spread(calls: list[str], phases: list[tuple[str, int]], count: int) -> list[int]:
    """Crash points: the first boundary of each kind in each sync, topped up with evenly spaced
    ones to about `count`."""
    chosen: set[int] = set()
    start = 0
    for _, end in phases:
        seen: set[str] = set()
        for n in range(start, end):
            if calls[n] not in seen:
                seen.add(calls[n])
                chosen.add(n)
        start = end
    missing = count - len(chosen)
    if missing > 0:
        chosen.update(range(0, len(calls), max(1, len(calls) // missing)))
    return sorted(chosen)


@pytest.fixture
def harness(
    tmp_path: Path,
    plugin_zips: tuple[Path, Path],
    today: dt.date,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Harness]:
    with reset_logging():
        yield Harness(tmp_path, plugin_zips, today, capsys, monkeypatch)


@pytest.fixture
def clean(harness: Harness) -> tuple[Replay, list[str]]:
    injector = Injector()
    with _workspace(harness.tmp_path / "count", harness.zips, harness.today, harness.capsys) as ws:
        with harness.monkeypatch.context() as patched:
            injector.install(patched)
            phases = _scenario(ws, injector)
        replay = Replay("", phases, _outcome(ws))
    return replay, injector.calls


def test_clean_scenario_touches_every_effect_boundary(
    clean: tuple[Replay, list[str]], today: dt.date
) -> None:
    replay, calls = clean
    kinds = set(calls)
    for wanted in (
        "PowerSchoolClient.insert",
        "PowerSchoolClient.update",
        "csv_feed.atomic_write",
        "PartnerFiles.write_receipt",
        "PartnerFiles.archive_file",
        "QuarantineBook.write",
        *(f"StateStore.{n}" for n in STATE_EFFECTS if n != "discard_planned"),
    ):
        assert wanted in kinds, wanted
    assert replay.outcome["ledger"] == {
        ("referrals", "recorded"): 4,
        ("revocations", "recorded"): 1,
    }
    still_uploading = f"status_updates_{today:%Y%m%d}_2.csv.part"  # the demo's partial upload
    assert replay.outcome["inbox"] == {"cgc": [still_uploading], "bhcare": []}
    assert len(replay.outcome["disclosures"]) == 4 and len(replay.outcome["quarantine"]) > 5


def test_crash_between_effects_then_rerun_loses_and_duplicates_nothing(
    harness: Harness, clean: tuple[Replay, list[str]]
) -> None:
    replay, calls = clean
    problems = harness.crash_points(replay, spread(calls, replay.phases, DEFAULT_POINTS))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_crash_at_every_effect_boundary_then_rerun_loses_and_duplicates_nothing(
    harness: Harness, clean: tuple[Replay, list[str]]
) -> None:
    replay, calls = clean
    problems = harness.crash_points(replay, list(range(len(calls))))
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- write-ahead publishing (issue 10)

PUBLISHING_FIRST, PUBLISHING_LAST = "StateStore.plan_publishing", "StateStore.mark_pushed_all"


def _publishing_scenario(ws: Workspace) -> list[str]:
    """Three consented referrals for cgc, one for bhcare; returns their ids."""
    uids = []
    for n, partner in enumerate(("cgc", "cgc", "cgc", "bhcare")):
        student = ws.minor(n)
        uid = f"ref-pub-{n}"
        ws.add_referral(student["DCID"], uid, partner=partner)
        ws.add_consent(student["DCID"], f"con-pub-{n}", partner=partner)
        uids.append(uid)
    return uids


def _collect(ws: Workspace, into: Path) -> None:
    """The partner collects (moves away) every referrals file in its outbox."""
    into.mkdir(exist_ok=True)
    for partner in ("cgc", "bhcare"):
        for path in ws.outbox(partner).glob("*.csv"):
            path.rename(into / f"{partner}-{path.name}")


def _referral_ids(rows: list[dict[str, str]]) -> list[str]:
    return [row.get("referral_id") or row.get("ClientRefNo") or "" for row in rows]


def _every_outbox_row_disclosed_once(ws: Workspace, collected: Path) -> list[str]:
    """Problems: a referral row in any outbox file (still there or collected) without exactly one
    disclosure in U_SSP_DISCLOSURES and one local entry, pushed, with the referral marked sent."""
    ids: set[str] = set()
    for partner in ("cgc", "bhcare"):
        ids.update(_referral_ids(ws.outbox_rows(partner)))
    for path in collected.glob("*referrals*.csv"):
        ids.update(_referral_ids(read_csv(path)))
    powerschool = Counter(r["REFERRAL_UID"] for r in ws.sandbox.rows("U_SSP_DISCLOSURES"))
    local = Counter(d["referral_uid"] for d in ws.state_rows("disclosures") if d["pushed"])
    problems = []
    for uid in sorted(ids):
        if powerschool[uid] != 1 or local[uid] != 1:
            problems.append(f"{uid}: {powerschool[uid]} PowerSchool, {local[uid]} local disclosures")
        if ws.referral(uid)["STATUS"] != "sent":
            problems.append(f"{uid}: STATUS {ws.referral(uid)['STATUS']}")
    return problems


def test_kill_at_every_point_of_publishing_then_rerun_records_each_outbox_row_once(
    harness: Harness,
) -> None:
    """Case 4 of issue 10: a crash anywhere from the write-ahead plan to the last disclosure
    POST, the partner collecting the file at once, a parent revoking the first consent before
    the rerun: every referral row the partner may have has exactly one disclosure, in
    PowerSchool and locally; the revoked referral is not written again after the revocation,
    and, if it may be in the partner's hands, the revocation notice reaches the partner."""
    counter = Injector()
    with _workspace(harness.tmp_path / "count-pub", harness.zips, harness.today, harness.capsys) as ws:
        _publishing_scenario(ws)
        with harness.monkeypatch.context() as patched:
            counter.install(patched)
            run_sync(ws.config, credentials=ws.credentials)
    first = counter.calls.index(PUBLISHING_FIRST)
    last = len(counter.calls) - 1 - counter.calls[::-1].index(PUBLISHING_LAST)
    labels = set(counter.calls[first:last + 1])
    assert {"csv_feed.atomic_write", "PartnerFiles.write_receipt", "StateStore.mark_written",
            "PowerSchoolClient.update", "PowerSchoolClient.insert"} <= labels, labels
    problems = []
    for n in range(first, last + 1):
        injector = Injector(crash_at=n)
        root = harness.tmp_path / f"pub-{n}"
        with _workspace(root, harness.zips, harness.today, harness.capsys) as ws:
            uids = _publishing_scenario(ws)
            with harness.monkeypatch.context() as patched:
                injector.install(patched)
                with contextlib.suppress(InjectedCrash):
                    run_sync(ws.config, credentials=ws.credentials)
            assert injector.fired, f"crash point {n} never reached"
            _collect(ws, root / "collected")
            consent = next(r for r in ws.sandbox.rows("U_SSP_CONSENTS") if r["SSP_UID"] == "con-pub-0")
            ws.sandbox.update_row("U_SSP_CONSENTS", consent["ID"], {"REVOKED_DATE": ws.today.isoformat()})
            assert run_sync(ws.config, credentials=ws.credentials).status == "ok"
            fired = injector.fired
            problems += [f"{fired}: {p}" for p in _every_outbox_row_disclosed_once(ws, root / "collected")]
            if uids[0] in _referral_ids(ws.outbox_rows("cgc")):
                problems.append(f"{fired}: written again after its consent was revoked")
            disclosed = {r["REFERRAL_UID"] for r in ws.sandbox.rows("U_SSP_DISCLOSURES")}
            if not set(uids[1:]) <= disclosed:
                problems.append(f"{fired}: disclosed only {sorted(disclosed)}")
            notices = _referral_ids(ws.outbox_rows("cgc", "revocations_"))
            if notices != ([uids[0]] if uids[0] in disclosed else []):
                problems.append(f"{fired}: revocation notices {notices}, disclosed {sorted(disclosed)}")
            if uids[0] not in disclosed and ws.referral(uids[0])["STATUS_REASON"] != "consent revoked":
                problems.append(f"{fired}: {uids[0]} neither disclosed nor held")
    assert not problems, "\n".join(problems)

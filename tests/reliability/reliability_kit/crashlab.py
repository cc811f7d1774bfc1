"""SIGKILL a real `python -m ssp sync run` at chosen points, then run it again.

The sandbox runs in the test process on a database file, so each kill point starts from a copy of
the same stage (PowerSchool database + the district's folder: ssp.toml, feeds, state). A kill is
triggered by the sandbox itself, which counts the run's requests: `before` kills when request N
arrives (the connector is waiting for the answer; PowerSchool still applies it, as a server does
for a client that vanished), `after` kills once request N has been handled and its answer goes
out, optionally `delay_ms` later, so the connector dies while handling the answer (recording
state, writing files). `file` kills when a file appears: an outbox file (the notice, or the
renamed referrals file before the ledger says so) or a quarantine file.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from foundation.config import Credentials, parse_config_text
from reliability_kit.world import TZ, World, config_text
from sandbox import Sandbox

__all__ = ["Kill", "CrashLab", "RunResult", "classify"]

SANDBOX_DB = "powerschool.sqlite3"
REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Kill:
    """Where to SIGKILL the run: at request `n` (`before` it is applied or `after` its answer,
    `delay_ms` later), or when a file matching `pattern` shows up in an outbox."""

    n: int = 0
    when: str = "after"  # before | after | file
    delay_ms: float = 0.0
    pattern: str = ""

    def __str__(self) -> str:
        if self.when == "file":
            return f"file:{self.pattern}"
        return f"{self.when}:{self.n}" + (f"+{self.delay_ms:g}ms" if self.delay_ms else "")


@dataclass
class RunResult:
    returncode: int
    requests: int
    log: list[tuple[str, str, int]]
    stdout: str
    stderr: str
    killed_at: str = ""
    killed: bool = False

    def summary(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def classify(method: str, path: str, sync: int) -> str:
    """The phase of the run a request belongs to (TARGETS: reading, sending, writing back, ...)."""
    if method == "PUT" and "u_ssp_referrals" in path:
        return "writing back (referral sent/held)" if sync == 1 else "inbound status chunk"
    if method == "POST" and "u_ssp_visits" in path:
        return "inbound visit chunk"
    if method == "POST" and "u_ssp_disclosures" in path:
        return "recording disclosures"
    if "u_ssp_partners" in path:
        return "partner directory"
    return "reading PowerSchool"


class _Trigger:
    """Counts the run's requests inside the sandbox and kills the child at the chosen point."""

    def __init__(self, kill: Kill | None) -> None:
        self.kill = kill
        self.pid = 0
        self.count = 0
        self.fired = ""
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()

    def _fire(self, what: str) -> None:
        if self.fired or not self.pid:
            return
        self.fired = what
        os.kill(self.pid, signal.SIGKILL)

    def on_arrival(self, method: str, path: str) -> None:
        with self.lock:
            self.count += 1
            if self.kill and self.kill.when == "before" and self.count == self.kill.n:
                self._fire(f"{method} {path}")

    def on_answer(self, entry: Any) -> None:
        with self.lock:
            self.log.append((entry.method, entry.path, entry.status))
            hit = self.kill and self.kill.when == "after" and len(self.log) == self.kill.n
        if hit:
            if self.kill.delay_ms:  # type: ignore[union-attr]
                time.sleep(self.kill.delay_ms / 1000)  # type: ignore[union-attr]
            with self.lock:
                self._fire(f"{entry.method} {entry.path}")


class CrashLab:
    """Stages (a PowerSchool database file + a district folder) and subprocess runs against them."""

    def __init__(self, base: Path, zips: list[Path], *, students: int, latency_ms: int = 1) -> None:
        self.base = base
        self.zips = zips
        self.students = students
        self.latency_ms = latency_ms
        self.today = dt.datetime.now(ZoneInfo(TZ)).date()

    # -- stages --------------------------------------------------------------------------------

    def seed_stage(self, name: str, seed: Any) -> Path:
        """A stage whose PowerSchool is seeded by `seed(sandbox)` (in memory, then saved)."""
        stage = self.base / name
        (stage / "district").mkdir(parents=True)
        sandbox = Sandbox(plugins=self.zips, students=self.students, seed=7, timezone=TZ)
        seed(sandbox)
        with closing(sqlite3.connect(stage / SANDBOX_DB)) as target:
            with sandbox.store.lock:
                sandbox.store.conn.backup(target)
        sandbox.close()
        return stage

    def copy_stage(self, stage: Path, name: str) -> Path:
        target = self.base / name
        shutil.copytree(stage, target, symlinks=True)
        return target

    def open(self, stage: Path, *, kill: Kill | None = None) -> Bench:
        return Bench(self, stage, kill)


class Bench:
    """A stage brought to life: its sandbox started, ssp.toml pointing at it."""

    def __init__(self, lab: CrashLab, stage: Path, kill: Kill | None) -> None:
        self.lab = lab
        self.stage = stage
        self.trigger = _Trigger(kill)
        self.sandbox = Sandbox(
            plugins=lab.zips,
            students=lab.students,
            seed=7,
            timezone=TZ,
            db_path=stage / SANDBOX_DB,
            latency_ms=lab.latency_ms,
        )
        self.sandbox._record = self._record  # type: ignore[method-assign]  # noqa: SLF001
        plan = self.sandbox.faults
        decide = plan.decide

        def arriving(method: str, path: str) -> Any:
            self.trigger.on_arrival(method, path)
            return decide(method, path)

        plan.decide = arriving  # type: ignore[method-assign]
        self.sandbox.start()
        root = stage / "district"
        text = config_text(self.sandbox.base_url)
        (root / "ssp.toml").write_text(text, encoding="utf-8")
        self.config = parse_config_text(text, source=str(root / "ssp.toml"), base_dir=root)
        for partner in self.config.partners:
            for folder in (partner.feed.inbox, partner.feed.outbox):  # type: ignore[union-attr]
                self.config.resolve(folder).mkdir(parents=True, exist_ok=True)

    def _record(self, entry: Any) -> None:
        self.trigger.on_answer(entry)

    def close(self) -> None:
        self.sandbox.close()

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def world(self) -> World:
        """A World view (for snapshots and the demo scenario helpers)."""
        now = dt.datetime.now(dt.UTC)
        return World(
            root=self.stage / "district",
            sandbox=self.sandbox,
            config=self.config,
            credentials=Credentials(self.sandbox.client_id, SecretStr(self.sandbox.client_secret)),
            today=self.lab.today,
            now=now,
        )

    def run(self, *, kill: Kill | None = None, timeout: float = 300.0) -> RunResult:
        """`ssp -v sync run` in a subprocess; with `kill`, SIGKILLed at that point."""
        trigger = self.trigger
        trigger.kill, trigger.fired, trigger.count, trigger.log, trigger.pid = kill, "", 0, [], 0
        env = {
            **os.environ,
            "SSP_CLIENT_ID": self.sandbox.client_id,
            "SSP_CLIENT_SECRET": self.sandbox.client_secret,
            "PYTHONPATH": str(REPO),
        }
        root = self.stage / "district"
        out, err = root / "stdout.txt", root / "stderr.txt"
        with open(out, "wb") as fo, open(err, "ab") as fe:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ssp",
                    "-v",
                    "sync",
                    "run",
                    "--config",
                    str(root / "ssp.toml"),
                ],
                cwd=root,
                env=env,
                stdout=fo,
                stderr=fe,
            )
            with trigger.lock:
                trigger.pid = proc.pid
            watcher = None
            if kill is not None and kill.when == "file":
                watcher = threading.Thread(
                    target=self._watch, args=(kill.pattern, proc), daemon=True
                )
                watcher.start()
            try:
                code = proc.wait(timeout=timeout)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if watcher is not None:
                watcher.join()
        return RunResult(
            returncode=code,
            requests=trigger.count,
            log=list(trigger.log),
            stdout=out.read_text("utf-8"),
            stderr=err.read_text("utf-8", errors="replace"),
            killed_at=trigger.fired,
            killed=code == -signal.SIGKILL,
        )

    def _watch(self, pattern: str, proc: subprocess.Popen[bytes]) -> None:
        """Kill when `pattern` matches a name in an outbox, or (with a `/`) a path under the
        district folder, e.g. `var/ssp/partners/*/quarantine/*/*.csv`."""
        root = self.stage / "district"
        folders = [self.config.resolve(p.feed.outbox) for p in self.config.partners]  # type: ignore[union-attr]
        while proc.poll() is None:
            if "/" in pattern:
                hit = next(root.glob(pattern), None) is not None
            else:
                hit = any(fnmatch.fnmatch(n, pattern) for folder in folders for n in _names(folder))
            if hit:
                with self.trigger.lock:
                    self.trigger._fire(f"file {pattern}")  # noqa: SLF001
                return
            time.sleep(0.0002)


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def integrity(state_dir: Path) -> str:
    with closing(sqlite3.connect(state_dir / "state.sqlite3")) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


__all__ += ["Bench", "integrity"]

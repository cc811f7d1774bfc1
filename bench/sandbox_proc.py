"""The PowerSchool sandbox in its own process, driven over a pipe.

Why a process: the sandbox is Python too. Served from a thread of the benchmark's own process, its
per-request CPU would compete with the client under test for one GIL and the figures would
measure the two together (an in-process read came out near 3x where the client alone does
better). A separate process gets its own interpreter and, on a 2-core machine, its own core.

    with RemoteSandbox(students=500, latency_ms=20, max_page_size=100) as sb:
        sb.call("seed_referrals", 100_000)
        with PowerSchoolClient(sb.base_url, sb.credentials) as ps: ...
        log = sb.call("request_log")

Commands are the `_op_*` functions below, run in the child against its `Sandbox`.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import tempfile
import time
import traceback
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["RemoteSandbox", "bench_config_text", "REFERRALS", "CONSENTS"]

REFERRALS = "U_SSP_REFERRALS"
CONSENTS = "U_SSP_CONSENTS"
ALL_CATEGORIES = "identity,enrollment,guardian_contact,referral,referral_status,visit_summary"


def bench_config_text(base_url: str, today: dt.date, *, max_workers: int = 4) -> str:
    """The demo configuration with the sandbox's URL, an MOU in force today, and `max_workers`."""
    from foundation.config import demo_config_text

    text = demo_config_text().replace("http://127.0.0.1:8765", base_url)
    effective, expires = today - dt.timedelta(days=60), today + dt.timedelta(days=300)
    text = text.replace("2026-08-01", effective.isoformat()).replace("2027-07-31", expires.isoformat())
    text = text.replace("2026-07-01", effective.isoformat()).replace("2028-06-30", expires.isoformat())
    return text.replace(f'base_url = "{base_url}"', f'base_url = "{base_url}"\nmax_workers = {max_workers}')


# -- the child's side ----------------------------------------------------------------------------


def _plugins(out_dir: Path) -> list[Path]:
    from foundation.config import demo_config_text, parse_config_text
    from plugin.build import build_plugins

    config = parse_config_text(demo_config_text(), source="demo configuration", base_dir=out_dir)
    return list(build_plugins(config, out_dir))


def _dcids(sb: Any, *, minors: bool = False) -> list[int]:
    """Student DCIDs; `minors`: only those under 18 today (a parent's consent covers them)."""
    today = dt.date.today()
    # born after this is under 18 today (a month of margin rather than leap-day arithmetic)
    adult_born_by = (dt.date(today.year - 18, today.month, 1) + dt.timedelta(days=31)).isoformat()
    return [int(s["DCID"]) for s in sb.students()
            if not minors or str(s.get("DOB") or "") > adult_born_by]


def _op_seed_referrals(
    sb: Any, count: int, *, prefix: str = "bench-ref", partner: str = "", status: str = "new",
    when: str | None = None,
) -> list[str]:
    """`count` referrals spread over the students under 18, one transaction per student; their
    SSP_UIDs."""
    dcids = _dcids(sb, minors=True)
    by_student: dict[int, list[dict[str, Any]]] = {}
    uids = []
    for i in range(count):
        uid = f"{prefix}-{i:07d}"
        uids.append(uid)
        by_student.setdefault(dcids[i % len(dcids)], []).append({
            "SSP_UID": uid, "REFERRAL_DATE": "2026-09-14", "REFERRED_BY": "J. Rivera, counselor",
            "REFERRAL_TYPE": "community" if partner else "school_based", "PARTNER_ID": partner,
            "REASON": "anxiety,family_stress", "URGENCY": "routine", "STATUS": status,
            "STATUS_DATE": "2026-09-15" if status != "new" else None,
            "NOTES": f"Private note {i}: never leaves the district.",
        })
    for dcid, rows in by_student.items():
        sb.insert_rows(REFERRALS, [{k: v for k, v in r.items() if v is not None} for r in rows],
                       student_dcid=dcid, when=when)
    return uids


def _op_seed_visits(sb: Any, count: int, *, when: str | None = None) -> int:
    """`count` school staff visits spread over the students."""
    dcids = _dcids(sb)
    by_student: dict[int, list[dict[str, Any]]] = {}
    for i in range(count):
        by_student.setdefault(dcids[i % len(dcids)], []).append({
            "SSP_UID": f"bench-visit-{i:07d}", "VISIT_DATE": "2026-09-20", "TIME_IN": "10:00",
            "TIME_OUT": "10:30", "STAFF_NAME": "Support staff", "STAFF_ROLE": "counselor",
            "PURPOSE": "check_in", "SERVICES": "individual_counseling", "SOURCE": "school",
        })
    for dcid, rows in by_student.items():
        sb.insert_rows("U_SSP_VISITS", rows, student_dcid=dcid, when=when)
    return count


def _op_seed_consents(sb: Any, partner: str, today: str, *, when: str | None = None) -> int:
    """One consent per student for `partner`, every category, both directions, in force today."""
    day = dt.date.fromisoformat(today)
    for n, dcid in enumerate(_dcids(sb)):
        sb.insert_row(CONSENTS, {
            "SSP_UID": f"bench-consent-{partner}-{n:05d}", "PARTNER_ID": partner, "DIRECTION": "both",
            "DATA_CATEGORIES": ALL_CATEGORIES, "PURPOSE": "Referral and coordination of services",
            "SIGNER_TYPE": "parent_guardian", "SIGNER_NAME": "Parent of record",
            "SIGNED_DATE": (day - dt.timedelta(days=20)).isoformat(),
            "EFFECTIVE_DATE": (day - dt.timedelta(days=20)).isoformat(),
            "EXPIRATION_DATE": (day + dt.timedelta(days=300)).isoformat(), "FORM_VERSION": "2026.1",
        }, student_dcid=dcid, when=when)
    return len(_dcids(sb))


def _op_referral_ids(sb: Any, prefix: str) -> dict[str, int]:
    """SSP_UID -> PowerSchool ID of the referrals whose SSP_UID starts with `prefix`."""
    return {r["SSP_UID"]: int(r["ID"]) for r in sb.rows(REFERRALS) if str(r["SSP_UID"]).startswith(prefix)}


def _op_status_counts(sb: Any, prefix: str) -> dict[str, int]:
    rows = sb.rows(REFERRALS)
    return dict(Counter(str(r["STATUS"]) for r in rows if str(r["SSP_UID"]).startswith(prefix)))


def _op_request_log(sb: Any) -> list[tuple[str, str, int]]:
    return [tuple(e) for e in sb.request_log]  # type: ignore[misc]


def _op_reset_log(sb: Any) -> None:
    sb.reset_log()


def _op_set_latency(sb: Any, latency_ms: int) -> None:
    sb.set_latency(latency_ms)


def _op_faults(sb: Any, spec: str = "", *, path_prefix: str | None = None,
               methods: list[str] | None = None, retry_after: int = 1) -> None:
    """Random faults at the given probabilities, limited to a path prefix and methods."""
    sb.faults.clear()
    sb.faults.retry_after_seconds = retry_after
    sb.faults.set(spec).only(path_prefix, methods)


def _op_injected(sb: Any) -> dict[str, int]:
    return dict(Counter(sb.faults.injected))


def _op_query_names(sb: Any) -> list[str]:
    return sb.queries


def _op_drop_caches(sb: Any) -> None:
    """Forget cached PowerQuery results and key lists, as a write would: each reader starts cold."""
    with sb.store.lock:
        sb.store.version += 1


def _op_cpu_seconds(sb: Any) -> float:
    """CPU time the sandbox process has used so far (to split a read's cost between the sides)."""
    return time.process_time()


_OPS = {name[4:]: fn for name, fn in globals().items() if name.startswith("_op_")}


def _child(conn: Connection, options: dict[str, Any]) -> None:
    from sandbox import Sandbox

    with tempfile.TemporaryDirectory(prefix="ssp-bench-sandbox-") as tmp:
        sb = Sandbox(_plugins(Path(tmp)), **options)
        sb.start()
        conn.send(("ready", sb.base_url, sb.client_id, sb.client_secret))
        try:
            while True:
                op, args, kwargs = conn.recv()
                if op == "stop":
                    break
                try:
                    conn.send(("ok", _OPS[op](sb, *args, **kwargs)))
                except Exception:  # report to the parent, keep serving
                    conn.send(("error", traceback.format_exc()))
        finally:
            sb.close()


# -- the parent's side ---------------------------------------------------------------------------


class RemoteSandbox:
    """A `Sandbox(**options)` running in a spawned child process."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._ctx = mp.get_context("spawn")
        self._conn: Connection | None = None
        self._proc: Any = None
        self.base_url = self.client_id = self.client_secret = ""

    def __enter__(self) -> RemoteSandbox:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_child, args=(child, self.options), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(120):
            raise RuntimeError("the sandbox process did not start within 120 s")
        _, self.base_url, self.client_id, self.client_secret = parent.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            try:
                self._conn.send(("stop", (), {}))
            except OSError:
                pass
        if self._proc is not None:
            self._proc.join(timeout=10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5)

    @property
    def credentials(self) -> Any:
        from pydantic import SecretStr

        from foundation.config import Credentials

        return Credentials(self.client_id, SecretStr(self.client_secret))

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        assert self._conn is not None, "use RemoteSandbox in a with block"
        self._conn.send((op, args, kwargs))
        status, value = self._conn.recv()
        if status == "error":
            raise RuntimeError(f"sandbox {op} failed:\n{value}")
        return value

    def requests_by_path(self) -> Counter[str]:
        return Counter(f"{m} {p}" for m, p, _ in self.call("request_log"))

"""Sending: 400 consented referrals through `run_sync` at 20 ms per request.

Issue 10: at most 2 requests per referral + 20 for the whole run, and an effective parallelism
(requests x latency / wall time) of at least 3. (A run in which nothing changed, snapshot reads
included, is measured by bench_nochange.py.)

One sandbox in its own process holds 500 students, each with a consent for partner `cgc`, and no
referral; a first sync (no latency) settles the partner directory and mirrors the consents. Then
400 referrals to `cgc` are entered (STATUS new, modified now) and, at 20 ms latency, one
`run_sync` is timed end to end: directory, the three streams, the snapshot reads the decisions
are made on (referral rows, students, consents: one request per batch), the outbox file, the
STATUS/LAST_SENT PUTs and the U_SSP_DISCLOSURES POSTs. Checked: all 400 sent, none held, every
referral `sent`, 400 disclosures recorded.

    python bench/bench_send.py [--referrals 400] [--latency-ms 20] [--workers 4,8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from bench_inbound import PARTNER, TZ, _config
from benchlib import STREAMS, report, section, timed
from sandbox_proc import RemoteSandbox

from connector.cli import run_sync


def _kind(method: str, path: str) -> str:
    for stream, prefix in STREAMS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return stream
    if method == "PUT" and "u_ssp_referrals" in path:
        return "PUT referral (sent)"
    if method == "POST" and "u_ssp_disclosures" in path:
        return "POST disclosure"
    if method == "GET" and path.rsplit("/", 1)[-1].isdigit():
        return "GET one row (re-check)"
    return f"{method} {path}"


def _measure(n: int, latency: int, workers: int) -> dict:
    """A fresh world, a warm-up sync, then the timed send of `n` referrals."""
    now = dt.datetime.now(ZoneInfo(TZ))
    today, past = now.date(), (now - dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    with RemoteSandbox(students=500, latency_ms=0, timezone=TZ) as sb, \
            tempfile.TemporaryDirectory(prefix="ssp-bench-send-") as tmp:
        sb.call("seed_consents", PARTNER, today.isoformat(), when=past)
        config = _config(Path(tmp), sb.base_url, today, workers)
        warm = run_sync(config, credentials=sb.credentials)
        print(f"  max_workers = {workers}: first sync (directory, "
              f"{warm.streams.get('consents', 0)} consents mirrored): {warm.status}", flush=True)
        uids = sb.call("seed_referrals", n, prefix="bench-send", partner=PARTNER, status="new")
        sb.call("set_latency", latency)
        sb.call("reset_log")
        seconds, summary = timed(lambda: run_sync(config, credentials=sb.credentials))
        log = sb.call("request_log")
        statuses = sb.call("status_counts", "bench-send")
    stats = summary.as_dict()["partners"][PARTNER]
    correct = (summary.status == "ok" and stats["referrals_sent"] == n
               and stats["referrals_held"]["total"] == 0 and stats["disclosures_recorded"] == n
               and statuses == {"sent": n} and len(uids) == n)
    requests = len(log)
    return {"workers": workers, "seconds": round(seconds, 2), "requests": requests,
            "parallelism": requests * latency / 1000 / seconds, "correct": correct,
            "by_kind": dict(Counter(_kind(m, p) for m, p, _ in log)), "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=400)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", default="4,8", help="max_workers values, comma-separated")
    opts = parser.parse_args()
    n, latency = opts.referrals, opts.latency_ms
    section(f"send: {n} consented referrals, {latency} ms latency")
    budget = 2 * n + 20
    for workers in [int(w) for w in opts.workers.split(",") if w]:
        run = _measure(n, latency, workers)
        report(f"send.{workers}_workers",
               figure=(f"{n} referrals sent in {run['seconds']} s with {run['requests']} requests "
                       f"({run['requests'] - 2 * n} besides one PUT and one POST per referral; "
                       f"budget {budget}); effective parallelism {run['parallelism']:.2f} "
                       f"({run['requests']} x {latency} ms / {run['seconds']} s) at max_workers = "
                       f"{workers}; all sent and checked: {run['correct']}"),
               target="<= 2 requests per referral + 20; effective parallelism >= 3",
               met=run["correct"] and run["requests"] <= budget and run["parallelism"] >= 3.0,
               how=(f"sandbox in its own process, {latency} ms per request; `run_sync` end to end "
                    "after a sync that settled the directory and the consents; requests from the "
                    "sandbox log: " + ", ".join(f"{k} {v}" for k, v in sorted(run["by_kind"].items()))),
               data=run)


if __name__ == "__main__":
    main()

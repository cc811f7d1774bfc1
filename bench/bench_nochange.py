"""Requests in a sync run in which nothing changed, at district scale.

TARGETS.md: a sync run in which nothing changed makes at most 3 HTTP requests per stream.

The sandbox (own process, 20 ms latency) holds 500 students with consents, 10,000 referrals (100
of them `new`, so the first sync sends and updates them) and 5,000 visits, all last modified two
days ago. Sync 1 does the work, sync 2 re-reads what sync 1 changed (within the 15-minute
lookback) and finds nothing new; sync 3 is measured: its requests are counted per stream from the
sandbox request log (`/ws/schema/table/u_ssp_partners` for the partner directory, each stream's
PowerQuery and its /count, and the snapshot reads a decision would be made on), and it must change nothing (no write request, zero counts).

    python bench/bench_nochange.py
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


def _stream(path: str) -> str:
    for stream, prefix in STREAMS.items():
        if path == prefix or path.startswith(prefix + "/"):
            return stream
    return "overhead: " + path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    opts = parser.parse_args()
    section(f"no-change sync: {opts.referrals:,} referrals, {opts.visits:,} visits")
    now = dt.datetime.now(ZoneInfo(TZ))
    today, past = now.date(), (now - dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    with RemoteSandbox(students=500, latency_ms=0, timezone=TZ) as sb, \
            tempfile.TemporaryDirectory(prefix="ssp-bench-nochange-") as tmp:
        sb.call("seed_consents", PARTNER, today.isoformat(), when=past)
        sb.call("seed_referrals", opts.referrals - 100, prefix="bench-old", partner=PARTNER,
                status="sent", when=past)
        sb.call("seed_referrals", 100, prefix="bench-new", partner=PARTNER, status="new", when=past)
        sb.call("seed_visits", opts.visits, when=past)
        config = _config(Path(tmp), sb.base_url, today, 4)
        sb.call("set_latency", opts.latency_ms)
        first = run_sync(config, credentials=sb.credentials).as_dict()
        second = run_sync(config, credentials=sb.credentials).as_dict()
        sb.call("reset_log")
        seconds, third = timed(lambda: run_sync(config, credentials=sb.credentials).as_dict())
        log = sb.call("request_log")
    per_stream = Counter(_stream(path) for _, path, _ in log)
    writes = [(m, p) for m, p, _ in log if m in ("PUT", "DELETE", "PATCH")
              or (m == "POST" and p.startswith("/ws/schema/table/"))]
    effects = {pid: {k: v for k, v in counts.items() if v and k not in ("http_requests",
                                                                          "referrals_held")}
               for pid, counts in third["partners"].items()}
    quiet = not writes and not any(effects.values()) and third["status"] == "ok"
    worst = max(per_stream[s] for s in STREAMS)
    figure = (f"{len(log)} requests in {seconds:.2f} s: "
              + ", ".join(f"{s} {per_stream[s]}" for s in STREAMS)
              + "; " + ", ".join(f"{k.split(': ')[1]} {v}" for k, v in per_stream.items()
                                 if k.startswith("overhead")))
    report("nochange.requests_per_stream", figure=figure, target="<= 3 requests per stream",
           met=quiet and worst <= 3,
           how=(f"third sync after two that settled {opts.referrals:,} referrals and "
                f"{opts.visits:,} visits (sync 1 sent {first['partners'][PARTNER]['referrals_sent']}); "
                "requests per stream from the sandbox request log; no write request and zero "
                f"counts checked (nothing changed: {quiet})"),
           data={"per_stream": dict(per_stream), "writes": writes, "effects": effects,
                 "second_sync_streams": second.get("streams"), "seconds": seconds})


if __name__ == "__main__":
    main()

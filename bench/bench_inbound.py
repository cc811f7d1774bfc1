"""Inbound status updates: 10,000 applied through the sync engine vs one request after another.

TARGETS.md: at least 4x faster than one request after another, within a bounded concurrency that
backs off on 429.

One sandbox in its own process (20 ms latency per request) holds 10,000 sent referrals for the
baseline and 10,000 for the engine, each student with a consent for partner `cgc`. A first sync
(no latency) mirrors them. Then, side by side:
  - baseline: the same PUT the engine sends, one after another (PowerSchoolClient.update);
  - engine:   a partner CSV of 10,000 status updates dropped in cgc's inbox and `run_sync` timed
              end to end (directory, three incremental streams, the inbound file, the ledger),
              at the default `max_workers = 4` and again at 8;
  - 429s:     the engine again with 0.2% of the writes answered 429 (Retry-After 1 s, seconds and
              HTTP-date forms alternating; each pauses all of the client's workers, see
              connector/retry.Throttle): it must finish with every referral updated.
Every engine run is checked: all updates applied, none quarantined, each referral's STATUS right.

    python bench/bench_inbound.py [--updates 10000] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from benchlib import report, section, timed
from sandbox_proc import REFERRALS, RemoteSandbox, bench_config_text

from connector.cli import run_sync
from connector.client import PowerSchoolClient
from foundation.config import SSPConfig, parse_config_text

PARTNER = "cgc"
TZ = "America/New_York"


def _config(base: Path, url: str, today: dt.date, workers: int) -> SSPConfig:
    text = bench_config_text(url, today, max_workers=workers)
    (base / "ssp.toml").write_text(text, encoding="utf-8")
    config = parse_config_text(text, source=str(base / "ssp.toml"), base_dir=base)
    for partner in config.partners:
        for folder in (partner.feed.inbox, partner.feed.outbox):  # type: ignore[union-attr]
            config.resolve(folder).mkdir(parents=True, exist_ok=True)
    return config


def _drop_updates(config: SSPConfig, uids: list[str], status: str, today: dt.date) -> Path:
    partner = config.partner(PARTNER)
    path = config.resolve(partner.feed.inbox) / f"status_updates_{status}.csv"  # type: ignore[union-attr]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["referral_id", "status", "status_date", "first_service_date", "status_reason"])
        out.writerows([uid, status, today.isoformat(), "", ""] for uid in uids)
    return path


def _baseline(sb: RemoteSandbox, uids: list[str], today: dt.date) -> dict[str, Any]:
    ids = sb.call("referral_ids", "bench-seq")
    values = {"STATUS": "received", "STATUS_DATE": today.isoformat(), "ACCESS_RESULT": "pending"}
    sb.call("reset_log")
    with PowerSchoolClient(sb.base_url, sb.credentials, max_workers=1) as ps:
        seconds, _ = timed(lambda: [ps.update(REFERRALS, ids[uid], values) for uid in uids])
    puts = sum(1 for m, _, s in sb.call("request_log") if m == "PUT" and s == 200)
    ok = sb.call("status_counts", "bench-seq") == {"received": len(uids)}
    return {"seconds": round(seconds, 2), "puts": puts, "correct": ok}


def _engine_run(sb: RemoteSandbox, config: SSPConfig, uids: list[str], status: str,
                today: dt.date) -> dict[str, Any]:
    _drop_updates(config, uids, status, today)
    sb.call("reset_log")
    seconds, summary = timed(lambda: run_sync(config, credentials=sb.credentials))
    log = sb.call("request_log")
    stats = summary.as_dict()["partners"][PARTNER]
    statuses = Counter(s for m, _, s in log if m == "PUT")
    return {
        "seconds": round(seconds, 2),
        "workers": config.powerschool.max_workers,
        "applied": stats["status_updates_applied"],
        "quarantined": stats["quarantined"],
        "requests": len(log),
        "put_statuses": {str(k): v for k, v in statuses.items()},
        "run_status": summary.status,
        "correct": summary.status == "ok" and stats["status_updates_applied"] == len(uids)
        and stats["quarantined"] == 0
        and sb.call("status_counts", "bench-in") == {status: len(uids)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--rate-429", type=float, default=0.002)
    parser.add_argument("--quick", action="store_true", help="2,000 updates")
    opts = parser.parse_args()
    if opts.quick:
        opts.updates = 2_000
    n = opts.updates
    section(f"inbound: {n:,} status updates, {opts.latency_ms} ms latency")
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    past = (dt.datetime.now(ZoneInfo(TZ)) - dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    with RemoteSandbox(students=500, latency_ms=0, timezone=TZ) as sb, \
            tempfile.TemporaryDirectory(prefix="ssp-bench-inbound-") as tmp:
        sb.call("seed_consents", PARTNER, today.isoformat(), when=past)
        engine_uids = sb.call("seed_referrals", n, prefix="bench-in", partner=PARTNER,
                              status="sent", when=past)
        seq_uids = sb.call("seed_referrals", n, prefix="bench-seq", partner=PARTNER,
                           status="sent", when=past)
        base = Path(tmp)
        config4, config8 = _config(base, sb.base_url, today, 4), _config(base, sb.base_url, today, 8)
        first = run_sync(config4, credentials=sb.credentials)
        print(f"  first sync (mirrors {2 * n:,} referrals, no latency): {first.status}", flush=True)
        sb.call("set_latency", opts.latency_ms)

        baseline = _baseline(sb, seq_uids, today)
        print(f"  one after another: {baseline['seconds']} s", flush=True)
        run4 = _engine_run(sb, config4, engine_uids, "received", today)
        print(f"  engine, 4 workers: {run4['seconds']} s", flush=True)
        run8 = _engine_run(sb, config4 if opts.quick else config8, engine_uids, "accepted", today)
        print(f"  engine, {run8['workers']} workers: {run8['seconds']} s", flush=True)
        sb.call("faults", f"429:{opts.rate_429}", path_prefix="/ws/schema/table/", methods=["PUT"])
        faulty = _engine_run(sb, config4, engine_uids, "scheduled", today)
        faulty["injected"] = sb.call("injected")
        sb.call("faults", "")
        print(f"  engine, 4 workers, 429s injected: {faulty['seconds']} s", flush=True)

    ratio4 = baseline["seconds"] / run4["seconds"]
    ratio8 = baseline["seconds"] / run8["seconds"]
    how = (f"sandbox in its own process, {opts.latency_ms} ms latency; baseline = the same PUT per "
           "referral, one after another; engine = `run_sync` end to end on a partner CSV in the "
           "inbox (directory, streams, inbound file, ledger); every run checked against the "
           "sandbox's rows")
    target = ">= 4x one request after another, bounded concurrency"
    for label, run, ratio in (("default_4_workers", run4, ratio4),
                              (f"{run8['workers']}_workers", run8, ratio8)):
        report(f"inbound.{label}",
               figure=(f"{n:,} status updates: engine {run['seconds']} s with max_workers = "
                       f"{run['workers']}, one request after another {baseline['seconds']} s -> "
                       f"{ratio:.2f}x; all applied and checked: {run['correct']}"),
               target=target, met=baseline["correct"] and run["correct"] and ratio >= 4.0, how=how,
               data={"baseline": baseline, "engine": run, "ratio": ratio})
    injected = faulty["injected"].get("429", 0)
    report("inbound.429_backoff",
           figure=(f"{n:,} status updates with {injected} injected 429s (Retry-After 1 s, each "
                   f"pausing all {faulty['workers']} workers): {faulty['seconds']} s, every update "
                   f"applied and every referral right: {faulty['correct']} (PUT answers "
                   f"{faulty['put_statuses']})"),
           target="backs off on 429 and finishes correctly", met=faulty["correct"] and injected > 0,
           how=how + f"; 429 on {opts.rate_429:.1%} of PUTs at random", data={"engine": faulty})


if __name__ == "__main__":
    main()

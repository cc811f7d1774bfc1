"""A FHIR partner: 1,000 consented referrals sent as transaction Bundles at 20 ms latency.

Issue 13. One sandbox in its own process holds students with a consent for partner `cgc`, whose
feed is a FHIR R4 server (sandbox/fhir_partner.py, in this process, `latency_ms` per request);
a first sync settles the partner directory and mirrors the consents. Then the referrals are
entered and one `run_sync` is timed end to end: PowerSchool reads, each referral decided (the
Bundle validated with fhir.resources before it is planned), one POST per Bundle with the feed's
bounded concurrency, then the PowerSchool PUTs and disclosure POSTs. Then every Task is accepted
and a second `run_sync` pulls them (Task search pages of 100 with `next` links). Checked: every
referral sent, one Task each, every referral `accepted` after the pull.

    python bench/bench_fhir.py [--referrals 1000] [--latency-ms 20] [--workers 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from bench_inbound import PARTNER, TZ
from benchlib import report, section, timed
from sandbox_proc import RemoteSandbox, bench_config_text

from connector.cli import run_sync
from foundation.config import parse_config_text
from sandbox.fhir_partner import FhirPartner

CSV_FEED = 'feed = { kind = "csv", inbox = "feeds/cgc/in", outbox = "feeds/cgc/out" }'


def _config(base: Path, url: str, fhir: FhirPartner, today: dt.date, workers: int):  # type: ignore[no-untyped-def]
    feed = (f'feed = {{ kind = "fhir", base_url = "{fhir.base_url}", token_env = "BENCH_FHIR_TOKEN", '
            f'max_workers = {workers} }}')
    text = bench_config_text(url, today, max_workers=workers).replace(CSV_FEED, feed)
    text = text.replace('mapping = "generic"', 'mapping = "fhir"', 1)
    (base / "ssp.toml").write_text(text, encoding="utf-8")
    config = parse_config_text(text, source=str(base / "ssp.toml"), base_dir=base)
    for partner in config.partners:
        if partner.feed.kind == "csv":
            for folder in (partner.feed.inbox, partner.feed.outbox):  # type: ignore[union-attr]
                config.resolve(folder).mkdir(parents=True, exist_ok=True)
    return config


def _measure(n: int, latency: int, workers: int) -> dict:
    import os

    now = dt.datetime.now(ZoneInfo(TZ))
    today, past = now.date(), (now - dt.timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    with RemoteSandbox(students=max(500, n), latency_ms=0, timezone=TZ) as sb, \
            FhirPartner(district_base="https://district.example.org/fhir", page_size=100) as fhir, \
            tempfile.TemporaryDirectory(prefix="ssp-bench-fhir-") as tmp:
        os.environ["BENCH_FHIR_TOKEN"] = fhir.token
        sb.call("seed_consents", PARTNER, today.isoformat(), when=past)
        config = _config(Path(tmp), sb.base_url, fhir, today, workers)
        run_sync(config, credentials=sb.credentials)
        uids = sb.call("seed_referrals", n, prefix="bench-fhir", partner=PARTNER, status="new")
        sb.call("set_latency", latency)
        fhir.latency_ms = latency
        sb.call("reset_log")
        fhir.requests.clear()
        send_seconds, summary = timed(lambda: run_sync(config, credentials=sb.credentials))
        sent_fhir = Counter(f"{m} {p if p == '/' else p.split('?')[0]}" for m, p, _ in fhir.requests)
        sent_ps = len(sb.call("request_log"))
        for uid in uids:
            fhir.accept(uid)
        sb.call("reset_log")
        fhir.requests.clear()
        pull_seconds, pulled = timed(lambda: run_sync(config, credentials=sb.credentials))
        pull_fhir = Counter(f"{m} {p}" for m, p, _ in fhir.requests)
        pull_ps = len(sb.call("request_log"))
        statuses = sb.call("status_counts", "bench-fhir")
        tasks = len(fhir.resources("Task"))
        os.environ.pop("BENCH_FHIR_TOKEN", None)
    stats = summary.as_dict()["partners"][PARTNER]
    applied = pulled.as_dict()["partners"][PARTNER]["status_updates_applied"]
    correct = (summary.status == "ok" and stats["referrals_sent"] == n and tasks == n
               and applied == n and statuses == {"accepted": n})
    return {"workers": workers, "send_seconds": round(send_seconds, 2),
            "pull_seconds": round(pull_seconds, 2), "send_fhir": dict(sent_fhir),
            "send_powerschool": sent_ps, "pull_fhir": dict(pull_fhir), "pull_powerschool": pull_ps,
            "tasks": tasks, "applied": applied, "statuses": statuses, "correct": correct}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", default="4", help="max_workers values, comma-separated")
    opts = parser.parse_args()
    n, latency = opts.referrals, opts.latency_ms
    section(f"fhir: {n} referrals to a FHIR partner, {latency} ms latency")
    for workers in [int(w) for w in opts.workers.split(",") if w]:
        run = _measure(n, latency, workers)
        posts = run["send_fhir"].get("POST /", 0)
        report(f"fhir.{workers}_workers",
               figure=(f"{n} referrals sent as {posts} transaction Bundles in {run['send_seconds']} s "
                       f"({sum(run['send_fhir'].values())} FHIR requests, {run['send_powerschool']} "
                       f"PowerSchool requests); {run['applied']} accepted Tasks pulled in "
                       f"{run['pull_seconds']} s ({sum(run['pull_fhir'].values())} FHIR requests, "
                       f"{run['pull_powerschool']} PowerSchool requests) at max_workers = {workers}; "
                       f"checked: {run['correct']}"),
               target="one POST per referral, no duplicate Task; measured, no target",
               met=run["correct"] and posts == n,
               how=(f"sandbox in its own process and the FHIR partner in this one, both {latency} ms "
                    f"per request; FHIR requests by kind: send {run['send_fhir']}, pull "
                    f"{run['pull_fhir']}"),
               data=run)


if __name__ == "__main__":
    main()

"""Partner CSV files of 100,000 and 1,000,000 rows: time and peak memory, streaming.

TARGETS.md: a 1,000,000-row partner CSV is processed streaming, peak memory under 200 MB, time
linear in rows.

Sizes 100,000, 300,000 and 1,000,000 (a third point shows the line). Each is a generic-format status-update file (one row in 1,000 has an unknown status, so it
is quarantined). A fresh Python process per size and per measurement reads it through the CSV
feed and the partner mapping exactly as a sync does (feed.inbound -> rows -> parse ->
quarantine or accept -> archive), keeping no records: tests/connector/hostile/drive.py.
  - time and peak RSS (resource.getrusage ru_maxrss: the whole process, interpreter included),
    median of three runs (a 2-second measurement on a shared VM varies by half);
  - in another fresh process, tracemalloc's peak of Python allocations (slower, so not timed).

    python bench/bench_csv.py [--sizes 100000,300000,1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchlib import ROOT, report, section

sys.path.insert(0, str(ROOT / "tests" / "connector"))
TODAY = dt.date(2026, 9, 30)  # the hostile corpus's dates are in September 2026


def _child(path: Path, work: Path, trace: bool) -> dict[str, float]:
    """Process one file in this (fresh) process; print what it cost."""
    from hostile.drive import drive

    from connector.feeds.csv_feed import CsvFeed
    from connector.mapping import load_mapping

    inbox, outbox = work / "in", work / "out"
    inbox.mkdir()
    outbox.mkdir()
    path.rename(inbox / path.name)
    feed = CsvFeed("cgc", load_mapping("generic", base_dir=work), inbox=inbox, outbox=outbox,
                   state_dir=work / "state", today=lambda: TODAY)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    outcome = drive(feed, "status_update", today=TODAY, keep_records=False)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
    return {"seconds": seconds, "accepted": outcome.accepted_count,
            "quarantined": len(outcome.quarantined), "rss_before_mb": rss_before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "tracemalloc_peak_mb": peak}


def _measure(rows: int, tmp: Path, trace: bool) -> dict[str, float]:
    from hostile.corpus import write_status_rows

    work = tmp / f"{rows}-{'trace' if trace else 'time'}"
    work.mkdir(parents=True)
    path = work / "status_updates_bench.csv"
    size = write_status_rows(path, rows, bad_every=1000)
    args = [sys.executable, __file__, "--child", str(path), str(work)] + (["--trace"] if trace else [])
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=3600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["file_mb"] = size / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--child", nargs=2, metavar=("FILE", "WORKDIR"))
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (median)")
    opts = parser.parse_args()
    if opts.child:
        print(json.dumps(_child(Path(opts.child[0]), Path(opts.child[1]), opts.trace)))
        return
    sizes = [int(s) for s in opts.sizes.split(",")]
    section(f"partner CSV: {', '.join(f'{s:,}' for s in sizes)} rows")
    results = {}
    with tempfile.TemporaryDirectory(prefix="ssp-bench-csv-") as tmp:
        for rows in sizes:
            runs = [_measure(rows, Path(tmp) / f"run{i}", trace=False) for i in range(opts.repeat)]
            timing = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]  # the median run
            traced = _measure(rows, Path(tmp) / "trace", trace=True)
            results[rows] = {**timing, "tracemalloc_peak_mb": traced["tracemalloc_peak_mb"],
                             "runs_s": [round(r["seconds"], 2) for r in runs],
                             "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)}
            print(f"  {rows:,} rows ({timing['file_mb']:.0f} MB): {timing['seconds']:.1f} s, "
                  f"peak RSS {timing['peak_rss_mb']:.0f} MB, Python heap peak "
                  f"{traced['tracemalloc_peak_mb']:.1f} MB", flush=True)
    small, large = results[min(sizes)], results[max(sizes)]
    growth = (large["seconds"] / small["seconds"]) / (max(sizes) / min(sizes))
    slope, intercept, r2 = _fit([(n, r["seconds"]) for n, r in results.items()])
    complete = all(r["accepted"] + r["quarantined"] == n for n, r in results.items())
    figure = "; ".join(
        f"{n:,} rows: {r['seconds']:.1f} s ({1e6 * r['seconds'] / n:.1f} us/row), peak RSS "
        f"{r['peak_rss_mb']:.0f} MB (after imports {r['rss_before_mb']:.0f} MB), Python heap "
        f"peak {r['tracemalloc_peak_mb']:.1f} MB" for n, r in results.items())
    figure += (f"; time per row at {max(sizes):,} / at {min(sizes):,} = {growth:.2f}; "
               f"least-squares line {1e6 * slope:.1f} us/row + {intercept:.1f} s, R^2 {r2:.4f}")
    report("csv.memory_and_time", figure=figure,
           target=("peak < 200 MB at 1,000,000 rows, time linear in rows (the time per row at "
                   "1M no more than 1.5x that at 100k; the straight-line fit is shown)"),
           met=complete and large["peak_rss_mb"] < 200 and growth <= 1.5,
           how=(f"one fresh process per size and measurement, median of {opts.repeat} timed "
                "runs; CSV feed + generic mapping "
                "(read, parse, quarantine 1 in 1,000, archive), no records kept; RSS from "
                "getrusage(ru_maxrss), heap from tracemalloc in a separate run"),
           data={str(k): v for k, v in results.items()}
           | {"growth_per_row": growth, "fit": {"s_per_row": slope, "intercept_s": intercept,
                                                "r2": r2}})


def _fit(points: list[tuple[int, float]]) -> tuple[float, float, float]:
    """Least-squares (slope, intercept, R^2) of seconds against rows."""
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - slope * x - intercept) ** 2 for x, y in points)
    return slope, intercept, 1 - ss_res / ss_tot if ss_tot else 1.0


if __name__ == "__main__":
    main()

"""Run every benchmark against its TARGETS.md figure and write the results.

    python bench/run_all.py            # everything, as quoted in docs/performance.md (~20 min)
    python bench/run_all.py --quick    # smaller sizes, one run each (~5 min): a smoke test
    python bench/run_all.py --only reads,cli

Each benchmark runs in its own process (scripts bench/bench_*.py, each runnable alone) and prints
its figure, how it was measured and the target; this script collects the `BENCH-RESULT` lines
into bench/results/latest.json and prints a summary table. Needs the project's environment (the
README's set-up); the read benchmark also creates bench/.venv for the PyPI `powerschool` client.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchlib import RESULT_PREFIX, machine

HERE = Path(__file__).resolve().parent
BENCHES = {
    "reads": ("bench_reads.py", ["--quick"]),
    "inbound": ("bench_inbound.py", ["--quick"]),
    "nochange": ("bench_nochange.py", ["--referrals", "2000", "--visits", "1000"]),
    "send": ("bench_send.py", []),
    "fhir": ("bench_fhir.py", ["--referrals", "200"]),
    "csv": ("bench_csv.py", ["--sizes", "20000,50000,100000", "--repeat", "1"]),
    "cli": ("bench_cli.py", ["--runs", "3"]),
    "unreachable": ("bench_unreachable.py", ["--runs", "3"]),
}


def _run(script: str, args: list[str]) -> list[dict]:
    results = []
    proc = subprocess.Popen([sys.executable, str(HERE / script), *args], stdout=subprocess.PIPE,
                            text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(RESULT_PREFIX):
            results.append(json.loads(line[len(RESULT_PREFIX):]))
        else:
            print(line, end="", flush=True)
    if proc.wait() != 0:
        results.append({"name": script, "figure": f"failed with exit code {proc.returncode}",
                        "target": "", "met": False, "how": "", "data": {}})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke test")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    opts = parser.parse_args()
    chosen = [b for b in opts.only.split(",") if b] or list(BENCHES)
    unknown = set(chosen) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started = time.time()
    print(f"machine: {json.dumps(machine())}", flush=True)
    results = []
    for name in chosen:
        script, quick_args = BENCHES[name]
        results += _run(script, quick_args if opts.quick else [])
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"quick": opts.quick, "machine_at_start": machine(), "minutes":
               round((time.time() - started) / 60, 1), "results": results}
    opts.out.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\n== summary ({summary['minutes']} min; results in {opts.out})")
    for r in results:
        verdict = {True: "MET    ", False: "NOT MET", None: "context"}[r["met"]]
        print(f"{verdict}  {r['name']}: {r['figure']}")
    return 0 if all(r["met"] is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

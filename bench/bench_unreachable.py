"""Time from `ssp sync run` to its error when PowerSchool cannot be reached, per cause.

TARGETS.md: an unreachable PowerSchool or partner (refused, unknown host, TLS failure) is reported
within 30 s, naming the host and the cause; transient faults keep their longer retry budget.

Three PowerSchool URLs, nothing leaving this machine: `http://127.0.0.1:1` (refused), a `.invalid`
name (never resolves), and a local TLS server with a self-signed certificate made by openssl. Each
runs `ssp sync run` in a fresh process with the default retry budget (300 s) and prints the wall
time to the exit and the error line.

    python bench/bench_unreachable.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import median, report, section, timed

from foundation.config import demo_config_text
from sandbox.tls import self_signed_server

DEMO_URL = 'base_url = "http://127.0.0.1:8765"'


def _ssp() -> list[str]:
    script = Path(sys.executable).parent / "ssp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ssp"]


def _measure(base_url: str, folder: Path, runs: int) -> tuple[list[float], str]:
    config = folder / "ssp.toml"
    config.write_text(demo_config_text().replace(DEMO_URL, f'base_url = "{base_url}"'), "utf-8")
    for sub in ("feeds/cgc/in", "feeds/cgc/out", "feeds/bhcare/in", "feeds/bhcare/out"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SSP_CLIENT_ID": "bench-id", "SSP_CLIENT_SECRET": "bench-secret-0123"}
    env.pop("SSP_CLIENT_ID_FILE", None)
    env.pop("SSP_CLIENT_SECRET_FILE", None)
    times, line = [], ""
    for _ in range(runs):
        seconds, done = timed(lambda: subprocess.run(
            [*_ssp(), "sync", "run", "--config", str(config)], cwd=folder, env=env,
            capture_output=True, text=True, timeout=600,
        ))
        if done.returncode != 1:
            raise RuntimeError(f"expected exit 1, got {done.returncode}: {done.stderr[-500:]}")
        times.append(seconds)
        line = [ln for ln in done.stderr.splitlines() if ln.startswith("ssp: error:")][-1]
    return times, line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("openssl") is None:
        sys.exit("openssl is needed for the TLS case")
    section("time to the error when PowerSchool cannot be reached (ssp sync run, fresh process)")
    with tempfile.TemporaryDirectory(prefix="ssp-bench-unreachable-") as tmp:
        root = Path(tmp)
        server, tls_url = self_signed_server(root)
        try:
            cases = {
                "refused": "http://127.0.0.1:1",
                "name not resolved": "https://powerschool.district.invalid",
                "TLS self-signed": tls_url,
            }
            for name, url in cases.items():
                folder = root / name.replace(" ", "_")
                folder.mkdir()
                times, line = _measure(url, folder, args.runs)
                report(
                    f"unreachable: {name}",
                    figure=f"error after {median(times):.2f} s median (max {max(times):.2f} s, "
                    f"{args.runs} runs): {line}",
                    target="reported within 30 s, naming the host and the cause",
                    met=max(times) < 30 and ("cannot reach" in line),
                    how=f"`ssp sync run` in a fresh process, PowerSchool at {url}, "
                    "default retry budget",
                    data={"seconds": times, "error": line},
                )
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()

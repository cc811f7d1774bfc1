"""`ssp plugin build` for the default catalogue, and `ssp --help`: wall time in fresh processes.

TARGETS.md: `ssp plugin build` under 1 s for the default catalogue; `ssp --help` under 0.5 s.

Each command runs as a user runs it (the `ssp` console script of this environment, a new process
each time, from a folder holding the demo configuration as ./ssp.toml) several times; the median
is the figure. Also shown: the build alone, in-process, to separate interpreter start-up and imports.

    python bench/bench_cli.py [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import median, report, section, timed


def _ssp() -> list[str]:
    script = Path(sys.executable).parent / "ssp"
    if script.exists():
        return [str(script)]
    found = shutil.which("ssp")
    return [found] if found else [sys.executable, "-m", "ssp"]


def _runs(cmd: list[str], cwd: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        seconds, done = timed(lambda: subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=120))
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
        times.append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    opts = parser.parse_args()
    section("CLI start-up and plugin build")
    from foundation.config import demo_config_text, parse_config_text
    from plugin.build import build_plugins

    ssp = _ssp()
    with tempfile.TemporaryDirectory(prefix="ssp-bench-cli-") as tmp:
        folder = Path(tmp)
        (folder / "ssp.toml").write_text(demo_config_text(), encoding="utf-8")
        _runs([*ssp, "--help"], folder, 1)  # warm the OS file cache once, as any second run is
        help_times = _runs([*ssp, "--help"], folder, opts.runs)
        build_times = _runs([*ssp, "plugin", "build", "--out", "dist"], folder, opts.runs)
        built = sorted(p.name for p in (folder / "dist").glob("*.zip"))
        config = parse_config_text(demo_config_text(), source="ssp.toml", base_dir=folder)
        inproc = [timed(lambda: build_plugins(config, folder / "again"))[0] for _ in range(opts.runs)]

    fmt = ", ".join
    report("cli.help", figure=f"ssp --help: median {median(help_times):.3f} s "
           f"(runs: {fmt(f'{t:.3f}' for t in help_times)})", target="< 0.5 s",
           met=median(help_times) < 0.5,
           how=f"{' '.join(ssp)} --help in a fresh process, {opts.runs} runs after one warm-up",
           data={"runs": help_times})
    report("cli.plugin_build", figure=f"ssp plugin build (default catalogue, {len(built)} zips): "
           f"median {median(build_times):.3f} s (runs: {fmt(f'{t:.3f}' for t in build_times)}); "
           f"the build alone in-process: median {median(inproc):.3f} s", target="< 1 s",
           met=median(build_times) < 1.0 and len(built) == 2,
           how=("`ssp plugin build --out dist` in a fresh process from a folder whose ./ssp.toml "
                f"is the demo configuration, {opts.runs} runs; in-process: build_plugins() alone"),
           data={"runs": build_times, "in_process": inproc, "zips": built})


if __name__ == "__main__":
    main()

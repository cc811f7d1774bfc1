"""bench/.venv: a separate environment holding only the `powerschool` PyPI client (GPL-3.0).

It is never installed into the project's environment and none of its code is copied; the read
benchmark runs it as a subprocess (pypi_client.py). Creating the venv needs the package index;
when that fails, the reason is returned so the benchmark can record it instead of a figure.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

__all__ = ["ensure_pypi_client", "VENV"]

VENV = Path(__file__).resolve().parent / ".venv"
PACKAGE = "powerschool==4.0.1"


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_pypi_client() -> tuple[Path | None, str]:
    """(python of the venv, "") when `powerschool` imports there, else (None, why not)."""
    python = _python()
    try:
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True,
                           capture_output=True, text=True, timeout=300)
        probe = [str(python), "-c", "import powerschool"]
        if subprocess.run(probe, capture_output=True, timeout=60).returncode != 0:
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            PACKAGE], check=True, capture_output=True, text=True, timeout=600)
            subprocess.run(probe, check=True, capture_output=True, text=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        return None, f"could not install {PACKAGE} into {VENV}: {' / '.join(tail) or exc}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not set up {VENV}: {exc}"
    return python, ""


if __name__ == "__main__":
    found, why = ensure_pypi_client()
    print(found or why)

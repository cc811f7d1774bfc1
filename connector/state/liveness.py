"""Is the process that started a run still there? So `ssp sync status` never shows a run whose
process was killed (kill -9, a power cut, an OOM kill) as `running` for ever.

A run records the host name, the process id and, where the system says, when that process
started (Linux: /proc/<pid>/stat field 22), so a process id reused by a later process is not
mistaken for the run's. Runs started on another host cannot be checked from here.
"""

from __future__ import annotations

import os
import socket
import sys

__all__ = ["this_process", "process_alive", "HOST"]

HOST = socket.gethostname()


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or '' where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return ""
    fields = text[text.rfind(")") + 2:].split()  # the name in (...) may hold spaces
    return fields[19] if len(fields) > 19 else ""


def this_process() -> tuple[str, int, str]:
    """(host, pid, start time) of this process, as a run records them."""
    pid = os.getpid()
    return HOST, pid, _started(pid)


def process_alive(host: str, pid: int | None, started: str) -> bool | None:
    """True/False for a process of this host; None when it cannot be told (another host)."""
    if not host or pid is None:
        return False  # a run recorded before runs kept their process: long gone
    if host != HOST:
        return None
    if sys.platform == "win32":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another account
    except OSError:
        return False
    now = _started(pid)
    return not (started and now and now != started)


def _alive_windows(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == 259
    finally:
        kernel32.CloseHandle(handle)

"""Inter-process locks so two processes never sync the same partner at once (Linux and Windows).

A lock is an OS-level lock on a small file under the state dir: it is released by the kernel when
the process dies, so a SIGKILLed sync never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from connector.feeds.files import make_private_dir
from foundation.errors import RunError

__all__ = ["LockBusyError", "partner_lock", "file_lock"]


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LockBusyError(RunError):
    """Another process holds the lock (a sync of the same partner is already running)."""


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def file_lock(path: Path, *, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` or raise LockBusyError at once (never wait).

    The folder is created 0700 and the file 0600 whatever the umask, like everything else under
    the state dir (a lock file others could open is a lock others could hold)."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | _NOFOLLOW, 0o600)
    handle = os.fdopen(fd, "a+b")
    if os.name == "posix":
        os.fchmod(handle.fileno(), 0o600)
    try:
        if not _try_lock(handle):
            raise LockBusyError(f"{what} is already running in another process (lock {path.name})")
        try:
            yield
        finally:
            _unlock(handle)
    finally:
        handle.close()


@contextmanager
def partner_lock(state_dir: Path, partner_id: str) -> Iterator[None]:
    with file_lock(state_dir / "locks" / f"partner-{partner_id}.lock", what=f"a sync of partner {partner_id}"):
        yield

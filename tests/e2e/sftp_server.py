"""A real OpenSSH server for the sftp feed tests: Debian's /usr/sbin/sshd on 127.0.0.1.

    with OpenSshServer(tmp_path) as server:     # host key, user key, free port, sshd -D -e
        server.root / "out"                     # the partner's folders, on this machine
        server.known_hosts_line()               # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."

sshd runs in the foreground (-D) with its log on stderr (-e) written to a file, as the current
user (CI runs as root), on an ephemeral port, with only public-key authentication against a
temporary authorized_keys file. Every session is forced into `internal-sftp -d <root>`, so the
partner's folders are `out` and `in` relative to a temp folder (a ChrootDirectory would need every
parent folder of the temp folder to be root-owned and not writable by others, which /tmp is not;
StrictModes is off for the same reason). internal-sftp logs to syslog, which a test machine may
not run: the tests count the connector's SFTP requests on the client side instead.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import time
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # compiled into Debian's sshd; its init script creates it


def sshd_available() -> bool:
    return SSHD.is_file() and os.access(SSHD, os.X_OK)


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A new key pair at `path` / `path`.pub (no passphrase)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "ssp-test", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenSshServer:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "partner"  # the session's start folder: "/out" in ssp.toml is root/out
        self.user = getpass.getuser()
        self.host_key = base / "ssh_host_ed25519_key"
        self.user_key = base / "district_ed25519"
        self.config = base / "sshd_config"
        self.log = base / "sshd.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> OpenSshServer:
        self.base.mkdir(parents=True, exist_ok=True)
        for folder in (self.root / "out", self.root / "in"):
            folder.mkdir(parents=True, exist_ok=True)
        keygen(self.host_key)
        keygen(self.user_key)
        (self.base / "authorized_keys").write_text(
            Path(f"{self.user_key}.pub").read_text(), encoding="utf-8"
        )
        if not PRIVSEP_DIR.exists() and os.geteuid() == 0:
            PRIVSEP_DIR.mkdir(mode=0o755)
        for _attempt in range(5):  # the free port may be taken between probe and bind
            self.port = _free_port()
            self._write_config()
            if self._start():
                return self
        raise RuntimeError(f"sshd did not start: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _write_config(self) -> None:
        self.config.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.base / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.base / 'authorized_keys'}",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "LogLevel VERBOSE",
                    f"ForceCommand internal-sftp -d {self.root}",
                    f"Subsystem sftp internal-sftp -d {self.root}",
                    "",
                ]
            ),
            encoding="utf-8",
        )

    def _start(self) -> bool:
        log = open(self.log, "ab")  # noqa: SIM115 - handed to the child process
        self._proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(self.config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=1
            ) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return True
            time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    # ------------------------------------------------------------------ what the tests use
    def known_hosts_line(self, key_file: Path | None = None) -> str:
        """A known_hosts line for this server with the public half of `key_file` (default: its
        real host key), as `ssh-keyscan -p PORT 127.0.0.1` would print it."""
        public = Path(f"{key_file or self.host_key}.pub").read_text().split()
        return f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n"

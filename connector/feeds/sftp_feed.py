"""The `sftp` feed: the csv feed's file rules on folders of the partner's own SFTP server.

    feed = { kind = "sftp", host = "sftp.partner.example.org", port = 22, user = "district",
             key_file_env = "SSP_CGC_SFTP_KEY", known_hosts = "keys/cgc_known_hosts",
             inbox = "/out", outbox = "/in" }

Connecting: TCP, then the server's host key must equal a key listed for the host in `known_hosts`
(`host`, or `[host]:port` off port 22, as ssh-keyscan writes it; hashed entries work). Nothing is
trusted on first use: an unknown host or a changed key refuses the connection (RunError, exit 1)
with both fingerprints in the message. Then public-key authentication with the private key whose
path is in the environment variable named by `key_file_env` (never agent keys or ~/.ssh).

Inbound: the inbox is listed once per run; every file the rules accept is downloaded into the
local archive (hashing as it goes) before any row is read, and read from there. A file whose size
or time changed while it was downloaded is left for the next run. Once its batch is applied, the
remote file is deleted only if the mapping says `delete_remote_files = true` (and it is still the
file that was downloaded); otherwise it stays and the next run recognises it by its hash.

Outbound: `.<name>.tmp` is created 0640, written, then renamed to `<name>`
(posix-rename@openssh.com where offered), notice first, so the partner never sees a partial file
under its final name. A temp file a killed run left behind is removed on the next upload.

Secrets: the key passphrase is registered with the log masker; paramiko's own logging is kept at
WARNING; messages carry host, port, user, folder and file names, never key material.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import hashlib
import logging
import os
import posixpath
import socket
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import paramiko

from connector.feeds.csv_feed import OUTBOX_FILE_MODE, FileFeed
from connector.feeds.drop import DropEntry, Pulled
from connector.feeds.files import HashingWriter, PartnerFiles, make_private_dir
from connector.feeds.safety import require_plain_name, safe_component
from connector.mapping import PartnerMapping
from foundation.config import SftpFeed as SftpSettings
from foundation.errors import ConfigError, RunError
from foundation.logs import register_secret

__all__ = [
    "SftpFeed",
    "SftpDrop",
    "SftpError",
    "SftpSession",
    "load_private_key",
    "load_known_hosts",
    "host_key_name",
    "fingerprint",
]

log = logging.getLogger("ssp.feeds.sftp")
logging.getLogger("paramiko").setLevel(logging.WARNING)  # its INFO/DEBUG lines are noise here
_CHUNK = 1 << 15
_RSA_TYPES = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


class SftpError(RunError):
    """The partner's SFTP server could not be used. `stage`: connect | host_key | auth | io."""

    def __init__(self, message: str, *, stage: str) -> None:
        self.stage = stage
        super().__init__(message)


def host_key_name(host: str, port: int) -> str:
    """The host's name in known_hosts: `host` on port 22, `[host]:port` otherwise (OpenSSH)."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """`SHA256:...`, as `ssh-keygen -lf` and ssh print it."""
    return f"{key.get_name()} {key.fingerprint}"


def load_known_hosts(settings: SftpSettings, path: Path, *, source: str, key: str) -> paramiko.HostKeys:
    """The pinned host keys; ConfigError (exit 2) when the file is missing or unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"known_hosts file {path} cannot be read ({exc.__class__.__name__}): create it with "
            f"`ssh-keyscan -p {settings.port} {settings.host}` and check the fingerprint with the "
            "partner out of band",
            file=source,
            key=key,
        ) from None
    keys = paramiko.HostKeys()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            raise ConfigError(
                f"known_hosts file {path} line {number}: markers such as @cert-authority and "
                "@revoked are not supported; list the server's own host key",
                file=source,
                key=key,
            )
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
        except (paramiko.SSHException, ValueError, TypeError) as exc:
            entry = None
            why = exc.__class__.__name__
        else:
            why = "not a host key line"
        if entry is None:
            raise ConfigError(
                f"known_hosts file {path} line {number}: {why} (expected 'host key-type base64')",
                file=source,
                key=key,
            )
        for name in entry.hostnames:
            keys.add(name, entry.key.get_name(), entry.key)
    return keys


def load_private_key(
    settings: SftpSettings, env: Mapping[str, str], *, source: str, partner_id: str
) -> paramiko.PKey:
    """The private key from the file named by the `key_file_env` variable; ConfigError (exit 2)
    if it is unset, unreadable, readable by other users, encrypted without a passphrase, or not
    a key."""
    key = f"partners[{partner_id}].feed.key_file_env"
    name = settings.key_file_env
    path_text = env.get(name, "").strip()
    if not path_text:
        raise ConfigError(
            f"environment variable {name} (the path of the SFTP private key file) is not set",
            file=source,
            key=key,
        )
    path = Path(path_text)
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(
            f"the SFTP private key file named by {name} cannot be read ({exc.__class__.__name__})",
            file=source,
            key=key,
        ) from None
    if os.name == "posix" and info.st_mode & 0o077:
        raise ConfigError(
            f"the SFTP private key file named by {name} is open to other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}): chmod 600 it",
            file=source,
            key=key,
        )
    passphrase = None
    if settings.key_passphrase_env:
        text = env.get(settings.key_passphrase_env, "")
        if text:
            register_secret(text)
            passphrase = text.encode("utf-8")
    try:
        return paramiko.PKey.from_path(path, passphrase)
    except (paramiko.PasswordRequiredException, TypeError) as exc:
        if isinstance(exc, TypeError) and "password" not in str(exc).lower():
            raise
        raise ConfigError(
            f"the SFTP private key named by {name} is encrypted: name the variable holding its "
            "passphrase in key_passphrase_env",
            file=source,
            key=key,
        ) from None
    except (paramiko.SSHException, OSError, ValueError) as exc:
        wrong = " or the passphrase is wrong" if passphrase else ""
        raise ConfigError(
            f"the file named by {name} is not a usable SSH private key{wrong} "
            f"({exc.__class__.__name__}; OpenSSH ed25519, ECDSA or RSA keys work)",
            file=source,
            key=key,
        ) from None


class SftpSession:
    """One connection to the partner's server: host key pinned, key authenticated, SFTP open."""

    def __init__(
        self,
        partner_id: str,
        settings: SftpSettings,
        pkey: paramiko.PKey,
        host_keys: paramiko.HostKeys,
    ) -> None:
        self.partner_id = partner_id
        self.settings = settings
        self.where = f"partner {partner_id}: SFTP server {settings.host} port {settings.port}"
        self._pkey = pkey
        self._host_keys = host_keys
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.host_key: str = ""  # fingerprint of the key the server presented, once verified

    def __repr__(self) -> str:
        return f"SftpSession({self.where!r})"

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The open SFTP client; connects (again, if the server dropped an idle connection
        between two steps of the run) on first use."""
        if self._sftp is not None and (self._transport is None or not self._transport.is_active()):
            self.close()
        if self._sftp is None:
            self._sftp = self._connect()
        return self._sftp

    def _connect(self) -> paramiko.SFTPClient:
        s = self.settings
        name = host_key_name(s.host, s.port)
        pinned = self._host_keys.lookup(name)
        if not pinned:
            raise SftpError(
                f"{self.where}: refused: {name} is not in the known_hosts file, and host keys are "
                "never trusted on first use. Add its key (ssh-keyscan) after checking the "
                "fingerprint with the partner out of band",
                stage="host_key",
            )
        try:
            sock = socket.create_connection((s.host, s.port), timeout=s.timeout_seconds)
        except OSError as exc:
            raise SftpError(f"{self.where}: not reachable ({_why(exc)})", stage="connect") from None
        transport = paramiko.Transport(sock)
        self._transport = transport
        transport.banner_timeout = transport.auth_timeout = s.timeout_seconds
        transport.set_keepalive(30)  # PowerSchool work between two feed steps can take minutes
        options = transport.get_security_options()
        wanted = [t for k in pinned.keys() for t in (_RSA_TYPES if k == "ssh-rsa" else (k,))]
        usable = [t for t in wanted if t in options.key_types]
        if not usable:
            self.close()
            raise SftpError(
                f"{self.where}: known_hosts pins {name} only with key types this connector cannot "
                f"verify ({', '.join(pinned.keys())}): add its ed25519, ECDSA or RSA host key",
                stage="host_key",
            )
        options.key_types = usable
        try:
            transport.start_client(timeout=s.timeout_seconds)
        except paramiko.SSHException as exc:
            self.close()
            if "host key" in str(exc).lower():
                raise SftpError(
                    f"{self.where}: refused: the server offers no host key of the type pinned in "
                    f"known_hosts ({', '.join(pinned.keys())}): its key changed, or known_hosts "
                    "holds another key. Check the fingerprint with the partner out of band",
                    stage="host_key",
                ) from None
            raise SftpError(f"{self.where}: SSH handshake failed ({_why(exc)})", stage="connect") from None
        except (OSError, EOFError) as exc:
            self.close()
            raise SftpError(f"{self.where}: connection lost during the SSH handshake ({_why(exc)})",
                            stage="connect") from None
        presented = transport.get_remote_server_key()
        expected = pinned.get(presented.get_name())
        if expected is None or expected != presented:
            self.close()
            known = ", ".join(fingerprint(k) for k in pinned.values())
            raise SftpError(
                f"{self.where}: refused: the host key does not match known_hosts (expected "
                f"{known}; the server presented {fingerprint(presented)}). Someone may be "
                "intercepting the connection, or the partner changed its key: check the new "
                "fingerprint with the partner out of band before updating known_hosts",
                stage="host_key",
            )
        self.host_key = fingerprint(presented)
        try:
            transport.auth_publickey(s.user, self._pkey)
        except paramiko.AuthenticationException:
            self.close()
            raise SftpError(
                f"{self.where}: user {s.user} was not accepted with the key named by "
                f"{s.key_file_env}: give the partner that key's public half (.pub)",
                stage="auth",
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise SftpError(f"{self.where}: authentication failed ({_why(exc)})", stage="auth") from None
        try:
            client = paramiko.SFTPClient.from_transport(transport)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise SftpError(f"{self.where}: the SFTP subsystem is not available ({_why(exc)})",
                            stage="connect") from None
        if client is None:
            self.close()
            raise SftpError(f"{self.where}: the SFTP subsystem is not available", stage="connect")
        client.get_channel().settimeout(s.timeout_seconds)
        log.info("sftp connected", extra={"partner": self.partner_id, "host": s.host,
                                          "port": s.port, "host_key": self.host_key})
        return client

    @contextlib.contextmanager
    def io(self, action: str, *, missing_ok: bool = False) -> Iterator[paramiko.SFTPClient]:
        """The SFTP client, with transport trouble turned into a RunError naming `action`.
        `missing_ok`: FileNotFoundError passes through (a file gone since it was listed)."""
        try:
            yield self.sftp
        except SftpError:
            raise
        except FileNotFoundError:
            if missing_ok:
                raise
            raise SftpError(f"{self.where}: {action}: no such file or folder", stage="io") from None
        except PermissionError:
            raise SftpError(f"{self.where}: {action}: permission denied", stage="io") from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SftpError(f"{self.where}: {action} failed ({_why(exc)})", stage="io") from None

    def close(self) -> None:
        for closeable in (self._sftp, self._transport):
            if closeable is not None:
                with contextlib.suppress(Exception):
                    closeable.close()
        self._sftp = self._transport = None


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or "no detail"
    return f"{exc.__class__.__name__}: {text[:200]}"


class SftpDrop:
    """The partner's inbox and outbox on its SFTP server (see the module docstring)."""

    def __init__(
        self,
        session: SftpSession,
        files: PartnerFiles,
        mapping: PartnerMapping,
        *,
        dry_run: bool = False,
    ) -> None:
        self.session = session
        self.files = files
        self.mapping = mapping
        self.dry_run = dry_run
        self.inbox = session.settings.inbox
        self.outbox = session.settings.outbox
        self.inbox_label = f"sftp inbox {self.inbox}"
        self._listing: list[DropEntry] | None = None
        self._pulled: dict[Path, DropEntry] = {}
        self._outbox_tidied = False
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        templates = [mapping.outbound_file_name(k, "*") for k in ("referrals", "revocations")]
        self._own_temps = [f".{t}.tmp" for t in (*templates, mapping.notice_file_name("*"))]

    # ------------------------------------------------------------------ inbound
    def entries(self) -> list[DropEntry]:
        """The inbox listing, read once per run (both inbound kinds share it)."""
        if self._listing is None:
            with self.session.io(f"listing inbox {self.inbox}") as sftp:
                attrs = sftp.listdir_attr(self.inbox)
            self._listing = [
                DropEntry(a.filename, stat.S_ISREG(a.st_mode or 0), int(a.st_mtime or 0) * 10**9,
                          int(a.st_size or 0))
                for a in attrs
            ]
        return self._listing

    def pull(self, entry: DropEntry) -> Pulled | None:
        """Download into the archive (a scratch folder in a dry run), hashing on the way."""
        remote = posixpath.join(self.inbox, entry.name)
        staging = self._staging_dir() / safe_component(entry.name)
        digest = hashlib.sha256()
        with self.session.io(f"downloading {remote}", missing_ok=True) as sftp:
            try:
                with sftp.open(remote, "rb") as src, open(_create_private(staging), "wb") as dst:
                    before = src.stat()
                    src.prefetch(before.st_size)
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
                    dst.flush()
                    os.fsync(dst.fileno())
                    after = sftp.stat(remote)
            except BaseException:
                staging.unlink(missing_ok=True)
                raise
        fingerprint_seen = (entry.size, entry.mtime_ns // 10**9)
        if {(int(s.st_size or 0), int(s.st_mtime or 0)) for s in (before, after)} != {fingerprint_seen}:
            staging.unlink(missing_ok=True)
            log.info("inbound file changed while downloaded; left for the next run",
                     extra={"partner": self.session.partner_id, "file": safe_component(entry.name)})
            return None
        content_hash = digest.hexdigest()
        path = staging if self.dry_run else self._archive(staging, entry.name, content_hash)
        self._pulled[path] = entry
        return Pulled(path, content_hash)

    def _archive(self, staging: Path, name: str, content_hash: str) -> Path:
        """Archive the download; a file pulled again (left on the server) keeps its first copy."""
        earlier = self.files.archived_copy(name, content_hash)
        if earlier is not None:
            staging.unlink()
            return earlier
        return self.files.archive_file(staging, content_hash)

    def settle(self, path: Path, content_hash: str) -> None:
        """The batch is applied: delete the remote file if the mapping allows and it is unchanged."""
        entry = self._pulled.get(path)
        if entry is None or self.dry_run or not self.mapping.delete_remote_files:
            return
        remote = posixpath.join(self.inbox, entry.name)
        with self.session.io(f"deleting {remote}") as sftp:
            try:
                now = sftp.stat(remote)
            except FileNotFoundError:
                return  # the partner already took it away
            if (int(now.st_size or 0), int(now.st_mtime or 0)) != (entry.size, entry.mtime_ns // 10**9):
                return  # replaced since it was downloaded: the next run reads the new file
            sftp.remove(remote)
        log.info("remote file deleted after archiving",
                 extra={"partner": self.session.partner_id, "file": safe_component(entry.name)})

    def _staging_dir(self) -> Path:
        if self.dry_run:
            if self._scratch is None:
                self._scratch = tempfile.TemporaryDirectory(prefix="ssp-sftp-dry-run-")
            return Path(self._scratch.name)
        folder = make_private_dir(self.files.root / "incoming")
        if not self._pulled:  # first download of the run: drop what a killed run left half-done
            for leftover in folder.iterdir():
                if leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
        return folder

    # ------------------------------------------------------------------ outbound
    def put(self, name: str, write: Callable[[HashingWriter], object]) -> str:
        """`.<name>.tmp` (0640), written, size checked, renamed: whole or not at all."""
        require_plain_name(name)
        self._tidy_outbox()
        final = posixpath.join(self.outbox, name)
        temp = posixpath.join(self.outbox, f".{name}.tmp")
        with self.session.io(f"uploading {final}") as sftp:
            try:
                with sftp.open(temp, "wb") as fh:
                    with contextlib.suppress(OSError):  # a server may refuse modes; keep going
                        fh.chmod(OUTBOX_FILE_MODE)
                    fh.set_pipelined(True)
                    writer = HashingWriter(fh)  # type: ignore[arg-type]
                    write(writer)
                size = sftp.stat(temp).st_size
                if size != writer.size:
                    raise OSError(f"the server holds {size} of {writer.size} bytes")
                _replace(sftp, temp, final)
            except Exception:
                with contextlib.suppress(Exception):
                    sftp.remove(temp)
                raise
        return writer.sha256.hexdigest()

    def _tidy_outbox(self) -> None:
        """Remove temp files of ours that a killed run left (once per run, before uploading)."""
        if self._outbox_tidied:
            return
        with self.session.io(f"listing outbox {self.outbox}") as sftp:
            for name in sftp.listdir(self.outbox):
                if any(fnmatch.fnmatchcase(name, p) for p in self._own_temps):
                    sftp.remove(posixpath.join(self.outbox, name))
                    log.info("stale upload removed", extra={"partner": self.session.partner_id,
                                                            "file": safe_component(name)})
        self._outbox_tidied = True

    def has(self, name: str) -> bool:
        remote = posixpath.join(self.outbox, require_plain_name(name))
        with self.session.io(f"looking for {remote}", missing_ok=True) as sftp:
            try:
                return stat.S_ISREG(sftp.stat(remote).st_mode or 0)
            except FileNotFoundError:
                return False

    def close(self) -> None:
        self.session.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    # ------------------------------------------------------------------ ssp check
    def probe(self) -> dict[str, Any]:
        """What `ssp check` reports: reachable, host key, authenticated, folders listable and
        writable (a `.ssp-check-<uuid>.tmp` file written and removed in each)."""
        report: dict[str, Any] = {"host": self.session.settings.host, "port": self.session.settings.port,
                                  "reachable": False, "host_key_ok": False, "authenticated": False}
        try:
            self.session.sftp
        except SftpError as exc:
            report["reachable"] = exc.stage != "connect"
            report["host_key_ok"] = exc.stage == "auth"
            report["problem"] = str(exc)
            return report
        report.update(reachable=True, host_key_ok=True, authenticated=True, host_key=self.session.host_key)
        for label, folder in (("inbox", self.inbox), ("outbox", self.outbox)):
            report[label] = self._probe_folder(folder)
        return report

    def _probe_folder(self, folder: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": folder, "listable": False, "writable": False}
        try:
            with self.session.io(f"listing {folder}") as sftp:
                entry["files"] = len(sftp.listdir(folder))
            entry["listable"] = True
            probe = posixpath.join(folder, f".ssp-check-{uuid.uuid4().hex}.tmp")
            with self.session.io(f"writing a test file in {folder}") as sftp:
                with sftp.open(probe, "wb") as fh:
                    fh.write(b"ssp check\n")
                sftp.remove(probe)
            entry["writable"] = True
        except SftpError as exc:
            entry["problem"] = str(exc).removeprefix(f"{self.session.where}: ")
        return entry


def _replace(sftp: paramiko.SFTPClient, temp: str, final: str) -> None:
    """Rename over `final` (posix-rename@openssh.com); plain SFTP rename where not offered."""
    try:
        sftp.posix_rename(temp, final)
        return
    except OSError as exc:
        if "unsupported" not in str(exc).lower() and "not supported" not in str(exc).lower():
            raise
    with contextlib.suppress(FileNotFoundError):
        sftp.remove(final)
    sftp.rename(temp, final)


def _create_private(path: Path) -> Path:
    """Create (truncate) `path` as 0600 before anything is written to it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


class SftpFeed(FileFeed):
    """The `sftp` feed of one partner: FileFeed's rules over an SftpDrop."""

    def __init__(
        self,
        partner_id: str,
        mapping: PartnerMapping,
        *,
        settings: SftpSettings,
        pkey: paramiko.PKey,
        host_keys: paramiko.HostKeys,
        state_dir: Path,
        today: Callable[[], dt.date] = dt.date.today,
        dry_run: bool = False,
    ) -> None:
        files = PartnerFiles(state_dir, partner_id, today=today)
        session = SftpSession(partner_id, settings, pkey, host_keys)
        super().__init__(partner_id, mapping, SftpDrop(session, files, mapping, dry_run=dry_run), files)
        self.settings = settings

    def probe(self) -> dict[str, Any]:
        return self.drop.probe()  # type: ignore[attr-defined]


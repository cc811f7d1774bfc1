"""Helpers for the sftp feed tests: an SftpFeed on the test server, a recorder of the SFTP
requests the connector makes, and a way to cut the connection in the middle of an upload."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import pytest
from sftp_server import OpenSshServer

from connector.feeds.sftp_feed import SftpFeed, load_known_hosts, load_private_key
from connector.mapping import load_mapping
from foundation.config import SftpFeed as SftpSettings

KEY_ENV = "SSP_TEST_SFTP_KEY"


def settings(server: OpenSshServer, known_hosts: Path, **overrides: Any) -> SftpSettings:
    values: dict[str, Any] = {
        "kind": "sftp",
        "host": "127.0.0.1",
        "port": server.port,
        "user": server.user,
        "key_file_env": KEY_ENV,
        "known_hosts": known_hosts,
        "inbox": "out",
        "outbox": "in",
        "timeout_seconds": 10,
    }
    values.update(overrides)
    return SftpSettings(**values)


def write_known_hosts(server: OpenSshServer, path: Path, key_file: Path | None = None) -> Path:
    path.write_text(server.known_hosts_line(key_file), encoding="utf-8")
    return path


def make_feed(
    server: OpenSshServer,
    work: Path,
    *,
    mapping: str = "generic",
    known_hosts: Path | None = None,
    dry_run: bool = False,
    **overrides: Any,
) -> SftpFeed:
    known = known_hosts or write_known_hosts(server, work / "known_hosts")
    chosen = settings(server, known, **overrides)
    env = {KEY_ENV: str(server.user_key)}
    return SftpFeed(
        "cgc",
        load_mapping(mapping, base_dir=work),
        settings=chosen,
        pkey=load_private_key(chosen, env, source="ssp.toml", partner_id="cgc"),
        host_keys=load_known_hosts(chosen, known, source="ssp.toml", key="known_hosts"),
        state_dir=work / "state",
        dry_run=dry_run,
    )


def sftp_mapping(work: Path, *, delete_remote_files: bool) -> str:
    """A copy of the generic mapping with delete_remote_files set; its path for ssp.toml."""
    from importlib import resources

    text = resources.files("field_mappings").joinpath("partners", "generic.toml").read_text("utf-8")
    old = "delete_remote_files = false"
    assert old in text
    path = work / "cgc_sftp_mapping.toml"
    path.write_text(
        text.replace(old, f"delete_remote_files = {str(delete_remote_files).lower()}"),
        encoding="utf-8",
    )
    return str(path)


@dataclass
class SftpCalls:
    """The SFTP requests the connector made, as (method, path) pairs, in order."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def of(self, method: str, path: str | None = None) -> list[str]:
        return [p for m, p in self.calls if m == method and (path is None or p == path)]

    def writes(self) -> list[str]:
        return [p for m, p in self.calls if m == "open_write"]


@pytest.fixture
def sftp_calls(monkeypatch: pytest.MonkeyPatch) -> SftpCalls:
    record = SftpCalls()

    def wrap(name: str) -> None:
        original = getattr(paramiko.SFTPClient, name)

        def recorded(self: paramiko.SFTPClient, path: str, *args: Any, **kwargs: Any) -> Any:
            method = name
            if name == "open":
                mode = args[0] if args else kwargs.get("mode", "r")
                method = "open_write" if any(c in mode for c in "wa+") else "open_read"
            record.calls.append((method, path))
            return original(self, path, *args, **kwargs)

        monkeypatch.setattr(paramiko.SFTPClient, name, recorded)

    # listdir() goes through listdir_attr(): one entry per listing
    for name in ("listdir_attr", "open", "stat", "remove", "rename", "posix_rename"):
        wrap(name)
    return record


@contextlib.contextmanager
def connection_cut_during_upload(
    monkeypatch: pytest.MonkeyPatch, name_part: str, *, crash: type[BaseException] | None = None
) -> Iterator[list[str]]:
    """The first upload whose remote name contains `name_part` sends half of its first write,
    then the TCP connection is cut (or, with `crash`, that exception is raised as if the process
    were killed there). Yields the names cut."""
    cut: list[str] = []
    original_open = paramiko.SFTPClient.open

    def open_(self: paramiko.SFTPClient, filename: str, mode: str = "r", bufsize: int = -1):  # noqa: ANN202
        handle = original_open(self, filename, mode, bufsize)
        if "w" not in mode or name_part not in filename or cut:
            return handle
        original_write = handle.write

        def write(data: bytes) -> None:
            if cut:
                return original_write(data)
            cut.append(filename)
            half = bytes(data)[: max(1, len(data) // 2)]
            original_write(half)
            handle.flush()
            self.sock.get_transport().sock.shutdown(socket.SHUT_RDWR)
            if crash is not None:
                raise crash(f"killed while uploading {filename}")
            return original_write(bytes(data)[len(half):])

        handle.write = write  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(paramiko.SFTPClient, "open", open_)
    try:
        yield cut
    finally:
        monkeypatch.setattr(paramiko.SFTPClient, "open", original_open)

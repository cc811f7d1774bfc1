"""The server itself: concurrent requests, clean shutdown, persistence across restarts, the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sandbox_helpers import CONSENTS_Q, EPOCH, REFERRALS_Q, VISITS_Q, authorised_session

from sandbox import LogEntry, Sandbox


def test_many_parallel_requests_are_all_served(sandbox: Sandbox) -> None:
    dcid = sandbox.students()[0]["DCID"]
    sandbox.insert_rows(
        "U_SSP_VISITS", [{"SSP_UID": f"v{i}"} for i in range(500)], student_dcid=dcid
    )
    session = authorised_session(sandbox)
    adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
    session.mount("http://", adapter)

    def fetch(page: int) -> int:
        reply = session.post(
            f"{sandbox.base_url}/ws/schema/query/{VISITS_Q}",
            json={"since": EPOCH},
            params={"page": page, "pagesize": 10},
            timeout=10,
        )
        return len(reply.json()["record"])

    def write(i: int) -> int:
        body = {"tables": {"u_ssp_partners": {"ssp_uid": f"p{i}", "partner_id": f"p{i}"}}}
        return session.post(
            f"{sandbox.base_url}/ws/schema/table/u_ssp_partners", json=body, timeout=10
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        reads = pool.map(fetch, range(1, 51))
        writes = pool.map(write, range(40))
        assert list(reads) == [10] * 50 and list(writes) == [200] * 40
    assert len(sandbox.rows("U_SSP_PARTNERS")) == 40
    assert len({r["ID"] for r in sandbox.rows("U_SSP_PARTNERS")}) == 40
    assert len(sandbox.request_log) == 91
    session.close()


def test_parallel_powerquery_pages_survive_result_cache_churn_and_writes(
    sandbox: Sandbox,
) -> None:
    """8 threads x 50 pages over more (query, arguments) results than the cache holds, while
    writes drop every cached result: no page may lose its temporary result table."""
    dcid = sandbox.students()[0]["DCID"]
    sandbox.insert_rows(
        "U_SSP_VISITS", [{"SSP_UID": f"v{i}"} for i in range(500)], student_dcid=dcid
    )
    session = authorised_session(sandbox)
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=10))
    sinces = [EPOCH, "2000-01-02 00:00:00", "2000-01-03 00:00:00"]
    errors: list[str] = []

    def pages(worker: int) -> list[int]:
        sizes = []
        for page in range(1, 51):
            query = (VISITS_Q, REFERRALS_Q, CONSENTS_Q, VISITS_Q)[(worker + page) % 4]
            reply = session.post(
                f"{sandbox.base_url}/ws/schema/query/{query}",
                json={"since": sinces[(worker * 7 + page) % 3]},
                params={"page": page if query == VISITS_Q else 1, "pagesize": 10},
                timeout=30,
            )
            if reply.status_code != 200:
                errors.append(reply.text[:200])
            elif query == VISITS_Q:
                sizes.append(len(reply.json()["record"]))
        return sizes

    def write(i: int) -> None:
        sandbox.insert_row("U_SSP_PARTNERS", {"SSP_UID": f"p{i}", "PARTNER_ID": f"p{i}"})

    with ThreadPoolExecutor(max_workers=9) as pool:
        readers = [pool.submit(pages, w) for w in range(8)]
        for i in range(60):
            pool.submit(write, i)
        sizes = [n for r in readers for n in r.result()]
    session.close()
    assert errors == []
    assert len(sizes) == 200 and set(sizes) == {10}


def test_a_request_is_logged_before_its_answer_reaches_the_client(plugin_zips: list) -> None:
    sb = Sandbox(plugins=plugin_zips, students=3)
    record = sb._record

    def slow_record(entry: LogEntry) -> None:  # widen the window a late log entry would need
        time.sleep(0.05)
        record(entry)

    sb._record = slow_record  # type: ignore[method-assign]
    with sb:
        reply = requests.get(f"{sb.base_url}/ws/v1/metadata", timeout=5)
        assert reply.status_code == 200
        assert sb.request_log == [LogEntry("GET", "/ws/v1/metadata", 200)]


def test_stop_closes_the_port_and_open_connections(plugin_zips: list) -> None:
    sb = Sandbox(plugins=plugin_zips, students=3).start()
    port = int(sb.base_url.rsplit(":", 1)[1])
    session = authorised_session(sb)  # keeps a keep-alive connection open
    sb.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(requests.ConnectionError):
        session.get(f"http://127.0.0.1:{port}/ws/v1/metadata", timeout=1)
    session.close()
    sb.close()


def test_binds_loopback_only(sandbox: Sandbox) -> None:
    assert sandbox.base_url.startswith("http://127.0.0.1:")


def test_a_persisted_sandbox_resumes_rows_credentials_and_tokens(
    plugin_zips: list, tmp_path: Path
) -> None:
    db = tmp_path / "ps.sqlite"
    first = Sandbox(plugins=plugin_zips, students=10, db_path=db).start()
    dcid = first.students()[0]["DCID"]
    first.insert_row("U_SSP_VISITS", {"SSP_UID": "kept"}, student_dcid=dcid)
    session = authorised_session(first)
    creds = (first.client_id, first.client_secret)
    first.close()
    with Sandbox(plugins=plugin_zips, students=10, db_path=db) as second:
        assert (second.client_id, second.client_secret) == creds
        assert [r["SSP_UID"] for r in second.rows("U_SSP_VISITS")] == ["kept"]
        assert len(second.students()) == 10
        reply = session.post(
            f"{second.base_url}/ws/schema/query/{VISITS_Q}", json={"since": EPOCH}, timeout=5
        )
        assert reply.json()["record"]["ssp_uid"] == "kept"  # the old token still works
    second.close()
    session.close()


def test_cli_prints_url_and_credentials_and_exits_0_on_sigterm(plugin_zips: list) -> None:
    args = [sys.executable, "-m", "ssp.cli", "sandbox", "--students", "5", "--latency-ms", "1"]
    for z in plugin_zips:
        args += ["--plugin", str(z)]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[0].split()[-1]
        client_id, secret = lines[1].split()[-1], lines[2].split()[-1]
        reply = requests.post(
            f"{url}/oauth/access_token",
            auth=(client_id, secret),
            data={"grant_type": "client_credentials"},
            timeout=5,
        )
        assert url.startswith("http://127.0.0.1:") and reply.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_cli_refuses_a_missing_zip_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssp.cli import main

    assert main(["sandbox", "--plugin", str(tmp_path / "missing.zip")]) == 2
    assert "missing.zip" in capsys.readouterr().err


def test_cli_refuses_a_busy_port_with_exit_2(
    plugin_zips: list, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssp.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = ["sandbox", "--port", str(port), "--students", "2"]
        assert main(args + [a for z in plugin_zips for a in ("--plugin", str(z))]) == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err

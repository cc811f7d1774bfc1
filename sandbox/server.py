"""The HTTP side: a threading server on 127.0.0.1 that adds latency and injects faults.

Each request: log it, sleep the configured latency, ask the fault plan, then either fail before the
work (the write is NOT applied), or run the API and fail afterwards (`*_after_write`: the write IS
applied, the client just never hears so), or answer normally. Stopping shuts every open
connection so a test's sandbox never outlives the test.
"""

from __future__ import annotations

import email.utils
import logging
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from sandbox.api import OUTAGE_HTML, unauthorized
from sandbox.faults import Fault, FaultPlan
from sandbox.shapes import Request, Response, error_response

__all__ = ["SandboxServer", "LogEntry", "OUTAGE_URL"]

log = logging.getLogger("ssp.sandbox")
NO_RESPONSE = 0
"""Status recorded in the request log when the connection was dropped (reset, time-out)."""

OUTAGE_URL = "https://message.powerschool.com/"
"""Where PowerSchool redirects every request while a server is down (reference 9.1)."""

_GATEWAY_HTML = (
    "<html><head><title>{code} {reason}</title></head><body><h1>{code} {reason}</h1></body></html>"
)


class LogEntry(NamedTuple):
    method: str
    path: str
    status: int


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        port: int,
        handle: Callable[[Request], Response],
        plan: FaultPlan,
        *,
        latency_ms: int = 0,
        expire: Callable[[str | None], None],
        record: Callable[[LogEntry], None],
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.handle_api = handle
        self.plan = plan
        self.latency_ms = latency_ms
        self.expire = expire
        self.stopping = threading.Event()
        self._record = record
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, method: str, path: str, status: int) -> None:
        self._record(LogEntry(method, path, status))

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (its own time-out, a test ending) is normal here: no traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("sandbox: a connection ended abruptly", exc_info=True)
        else:
            log.exception("sandbox: error while answering a request")

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers and drop keep-alive connections."""
        self.stopping.set()
        self.shutdown()
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer
    server_version = "PowerSchoolSandbox/1.0"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("sandbox %s", format % args)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _read_request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urllib.parse.urlsplit(self.path)
        return Request(
            method=self.command,
            path=urllib.parse.unquote(split.path),
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=self.server.base_url,
        )

    def _serve(self) -> None:
        srv = self.server
        req = self._read_request()
        if srv.latency_ms and srv.stopping.wait(srv.latency_ms / 1000):
            return self._drop(req)
        fault = srv.plan.decide(req.method, req.path)
        if fault is not None and fault.kind == "expire" and not req.path.startswith("/oauth"):
            srv.expire(_bearer(self.headers.get("Authorization")))
            return self._send(req, unauthorized("The access token has expired"))
        if fault is not None and not fault.after_write and fault.kind != "expire":
            return self._fail(req, fault)
        try:
            response = srv.handle_api(req)
        except Exception:  # the emulator's own bug: answer like a server error, keep serving
            log.exception("sandbox: unhandled error on %s %s", req.method, req.path)
            response = error_response(500, "Internal server error")
        if fault is not None and fault.after_write:
            return self._fail(req, fault)
        self._send(req, response)

    # -- answering ---------------------------------------------------------------------------

    def _send(self, req: Request, resp: Response) -> None:
        # Logged before the answer goes out: once a client has its answer, the log shows it.
        self.server.record(req.method, req.path, resp.status)
        self.send_response(resp.status)
        if resp.content_type:
            self.send_header("Content-Type", resp.content_type)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if req.method != "HEAD" and resp.body:
            self.wfile.write(resp.body)

    def _drop(self, req: Request) -> None:
        """Close the connection with a TCP reset and no response at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.server.record(req.method, req.path, NO_RESPONSE)

    def _fail(self, req: Request, fault: Fault) -> None:
        srv = self.server
        kind = fault.kind
        if kind == "reset":
            return self._drop(req)
        if kind == "timeout":
            srv.stopping.wait(srv.plan.timeout_seconds)
            return self._drop(req)
        if kind == "html":
            return self._send(req, Response(200, OUTAGE_HTML.encode(), "text/html;charset=UTF-8"))
        if kind == "redirect":  # what a PowerSchool server that is down does; never followed
            host = urllib.parse.urlsplit("//" + (req.header("Host") or "")).hostname
            location = f"{OUTAGE_URL}?server={urllib.parse.quote(host or '127.0.0.1', safe='')}"
            return self._send(req, Response(302, b"", "", {"Location": location}))
        if kind == "429":
            return self._send(req, self._too_many())
        code = int(kind)
        if code in (502, 503, 504):
            reason = self.responses.get(code, ("Error",))[0]
            page = _GATEWAY_HTML.format(code=code, reason=reason).encode()
            return self._send(req, Response(code, page, "text/html;charset=UTF-8"))
        return self._send(req, error_response(code, "Internal server error"))

    def _too_many(self) -> Response:
        plan = self.server.plan
        form = plan.next_retry_after_form()
        headers: dict[str, str] = {}
        if form == "seconds":
            headers["Retry-After"] = str(plan.retry_after_seconds)
        elif form == "date":
            when = time.time() + plan.retry_after_seconds
            headers["Retry-After"] = email.utils.formatdate(when, usegmt=True)
        resp = error_response(429, "Too many requests")
        resp.headers.update(headers)
        return resp


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None

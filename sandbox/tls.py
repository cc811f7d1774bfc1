"""A local HTTPS server with a self-signed certificate: the "TLS certificate not trusted" case.

Used by the network-error tests and bench/bench_unreachable.py to show that a TLS failure is named
at once. The certificate is made with the `openssl` command, valid one day, for 127.0.0.1.
"""

from __future__ import annotations

import http.server
import shutil
import ssl
import subprocess
import threading
from pathlib import Path

__all__ = ["self_signed_server"]


def self_signed_server(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start an HTTPS server on 127.0.0.1 (ephemeral port) in a daemon thread; return it and its
    URL. The caller stops it with `shutdown()` and `server_close()`."""
    if shutil.which("openssl") is None:
        raise FileNotFoundError("openssl is needed to make a self-signed certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}"

"""Read the benchmark's data with the open-source `powerschool` client from PyPI.

Runs inside bench/.venv (see pypi_venv.py), never in the project's environment: that package is
GPL-3.0, so it is only installed here and used through its public API, none of its code copied.
Reads one JSON request on stdin and prints one JSON answer on stdout:

    {"base_url", "client_id", "client_secret", "kind": "table"|"query", "name", "args", "page_size"}
    -> {"rows": n, "seconds": s}   (token + metadata + count + pages, as the client does them)

The client builds `https://{host}`; the sandbox speaks plain http on loopback, so its documented
`base_url` attribute is pointed there before `authorize()`, and oauthlib is told that loopback
http is acceptable (OAUTHLIB_INSECURE_TRANSPORT, set by the caller).
"""

from __future__ import annotations

import json
import sys
import time
from urllib.parse import urlsplit


def main() -> int:
    job = json.load(sys.stdin)
    import powerschool  # type: ignore[import-not-found]  # only in bench/.venv

    host = urlsplit(job["base_url"]).netloc
    start = time.perf_counter()
    client = powerschool.PowerSchool(host)
    client.base_url = job["base_url"]
    client.authorize((job["client_id"], job["client_secret"]))
    if job["kind"] == "table":
        rows = client.get_schema_table(job["name"].lower()).query(projection="*", sort="id")
    else:
        rows = client.get_named_query(job["name"]).query(body=job["args"], pagesize=job["page_size"])
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": len(rows), "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A FHIR R4 partner server for tests, `ssp demo` and bench: the agency side of the SDOHCC pattern.

It is the partner agency's FHIR server as the connector meets it (bearer token, JSON only):
- `POST /` a transaction Bundle: applied atomically; each entry's `request.ifNoneExist`
  (`identifier=system|value`) is enforced (no match: created, 201; one match: nothing created,
  200 with the existing resource's location; several: 412), and `urn:uuid:` references between
  entries are rewritten to the ids the server assigned;
- `GET /[type]?_lastUpdated=ge<instant>&_count=N` (plus `identifier=`, `_id=`) in
  `_lastUpdated` order, paged with Bundle `next` links; `GET /[type]/[id]` with an ETag;
- `PUT /[type]/[id]` with `If-Match` (412 on a stale version, 428 without one);
- `GET /metadata`: a CapabilityStatement that says conditional create is supported;
- `POST /oauth/token` (outside the FHIR base, `token_url`), when built with `client_id` and
  `client_secret`: OAuth2 client credentials (RFC 6749 section 4.4: HTTP Basic client
  authentication, `grant_type=client_credentials` form body) issue short-lived bearer tokens,
  accepted beside the static `token`; `revoke_tokens()` ends them early, as a partner may.

Tests play the partner through Python: `accept`, `schedule`, `attend` (a Procedure), `complete`,
`reject`, `set_task`. Faults: `fail_next(method, path, kind)` with kind `reset` (nothing applied),
`reset_after_write` (applied, then the connection drops), `revoke_tokens` (every issued OAuth2
token ends just before that request is checked) or an HTTP status such as "500".
It never imports the connector: it checks the wire format, not our code.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import secrets
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FhirPartner"]

Resource = dict[str, Any]
_SDOHCC_CODES = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
)
_TYPES = (
    "Organization",
    "Patient",
    "RelatedPerson",
    "Consent",
    "ServiceRequest",
    "Task",
    "Procedure",
)


@dataclass
class _Fault:
    method: str
    path: str
    kind: str
    times: int


class _Conflict(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _outcome(message: str, code: str = "invalid") -> Resource:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


class FhirPartner:
    """The partner's FHIR server on 127.0.0.1 (ephemeral port); use as a context manager."""

    def __init__(
        self,
        *,
        token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_lifetime_s: int = 3600,
        page_size: int = 50,
        latency_ms: int = 0,
        district_base: str = "https://district.example.org/fhir",
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        self._issued: dict[str, float] = {}  # OAuth2 access token -> monotonic expiry
        self.page_size = page_size
        self.latency_ms = latency_ms
        # The district's identifier and code systems live under this base (docs/partner-formats.md).
        self.district_base = district_base.rstrip("/")
        self._store: dict[str, dict[str, Resource]] = {kind: {} for kind in _TYPES}
        self._lock = threading.RLock()
        self._next_id = 1
        self._clock = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        self._faults: list[_Fault] = []
        self.requests: list[tuple[str, str, int]] = []
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FhirPartner:
        partner = self

        class Handler(_Handler):
            owner = partner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FhirPartner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the FHIR partner first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/fhir"

    @property
    def token_url(self) -> str:
        return self.base_url.removesuffix("/fhir") + "/oauth/token"

    def __repr__(self) -> str:  # never the token
        return f"FhirPartner({self.base_url if self._server else 'stopped'})"

    # -- OAuth2 client credentials -------------------------------------------------------------

    def issue_token(self, authorization: str | None, form: bytes) -> tuple[int, Resource]:
        """The token endpoint: (HTTP status, JSON body) as RFC 6749 sections 4.4 and 5 give them."""
        if self.client_id is None:
            return 404, {"error": "invalid_request", "error_description": "no token endpoint"}
        scheme, _, encoded = (authorization or "").partition(" ")
        try:
            given = base64.b64decode(encoded, validate=True).decode() if scheme == "Basic" else ""
        except (ValueError, UnicodeDecodeError):
            given = ""
        expected = f"{self.client_id}:{self.client_secret}"
        if not secrets.compare_digest(given.encode(), expected.encode()):
            return 401, {"error": "invalid_client"}
        fields = urllib.parse.parse_qs(form.decode("utf-8", "replace"))
        if fields.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = time.monotonic() + self.token_lifetime_s
        return 200, {"access_token": token, "token_type": "Bearer",
                     "expires_in": self.token_lifetime_s}

    def revoke_tokens(self) -> None:
        """End every issued OAuth2 token now (the static `token` stays valid)."""
        with self._lock:
            self._issued.clear()

    def _authorized(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or not token:
            return False
        if secrets.compare_digest(token.encode(), self.token.encode()):
            return True
        with self._lock:
            expiry = self._issued.get(token)
        return expiry is not None and time.monotonic() < expiry

    # -- the store -----------------------------------------------------------------------------

    def _tick(self) -> str:
        now = dt.datetime.now(dt.UTC)
        self._clock = max(now, self._clock + dt.timedelta(microseconds=1))
        return self._clock.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def _save(self, resource: Resource, *, new_id: str | None = None) -> Resource:
        kind = resource["resourceType"]
        rid = new_id or resource["id"]
        previous = self._store[kind].get(rid)
        version = int((previous or {}).get("meta", {}).get("versionId", "0")) + 1
        stored = copy.deepcopy(resource)
        stored["id"] = rid
        stored["meta"] = {
            **stored.get("meta", {}),
            "versionId": str(version),
            "lastUpdated": self._tick(),
        }
        self._store[kind][rid] = stored
        return stored

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def resources(self, kind: str) -> list[Resource]:
        with self._lock:
            return [copy.deepcopy(r) for r in self._store[kind].values()]

    def read(self, reference: str) -> Resource | None:
        kind, _, rid = reference.partition("/")
        with self._lock:
            found = self._store.get(kind, {}).get(rid)
            return copy.deepcopy(found) if found else None

    def _by_identifier(self, kind: str, token: str) -> list[Resource]:
        system, _, value = token.partition("|")
        return [
            r
            for r in self._store[kind].values()
            if any(
                i.get("value") == value and (not system or i.get("system") == system)
                for i in r.get("identifier") or []
            )
        ]

    def task_for(self, referral_id: str) -> Resource:
        """The stored Task of one of our referrals (found by its referral identifier)."""
        with self._lock:
            for task in self._store["Task"].values():
                if any(i.get("value") == referral_id for i in task.get("identifier") or []):
                    return copy.deepcopy(task)
        raise KeyError(f"no Task for referral {referral_id}")

    # -- playing the partner -------------------------------------------------------------------

    def set_task(
        self,
        referral_id: str,
        status: str,
        *,
        business_status: str | None = None,
        reason: str | None = None,
        execution_start: str | None = None,
        outputs: list[str] | None = None,
    ) -> Resource:
        with self._lock:
            task = self.task_for(referral_id)
            task["status"] = status
            task["lastModified"] = self._clock_now_text()
            if business_status:
                task["businessStatus"] = {
                    "coding": [
                        {
                            "system": self._code_system("referral-business-status"),
                            "code": business_status,
                        }
                    ]
                }
            else:
                task.pop("businessStatus", None)
            if reason:
                task["statusReason"] = {"text": reason}
            if execution_start:
                task["executionPeriod"] = {"start": execution_start}
            for procedure_ref in outputs or []:
                task.setdefault("output", []).append(
                    {
                        "type": {
                            "coding": [{"system": _SDOHCC_CODES, "code": "resulting-activity"}]
                        },
                        "valueReference": {"reference": procedure_ref},
                    }
                )
            return self._save(task)

    def _clock_now_text(self) -> str:
        return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    def _code_system(self, name: str) -> str:
        return f"{self.district_base}/CodeSystem/{name}"

    def accept(self, referral_id: str) -> Resource:
        return self.set_task(referral_id, "accepted")

    def schedule(self, referral_id: str) -> Resource:
        return self.set_task(referral_id, "accepted", business_status="scheduled")

    def reject(self, referral_id: str, reason: str = "outside our service area") -> Resource:
        return self.set_task(referral_id, "rejected", reason=reason)

    def attend(
        self,
        referral_id: str,
        *,
        visit_id: str,
        start: str,
        end: str,
        service_code: str,
        clinician: str = "Partner clinician",
    ) -> Resource:
        """Record a visit as a completed Procedure based on the referral, and mark attendance."""
        with self._lock:
            task = self.task_for(referral_id)
            procedure = {
                "resourceType": "Procedure",
                "identifier": [{"system": f"{self.base_url}/sid/visit", "value": visit_id}],
                "status": "completed",
                "code": {
                    "coding": [{"system": self._code_system("service"), "code": service_code}]
                },
                "subject": copy.deepcopy(task["for"]),
                "basedOn": [copy.deepcopy(task["focus"])],
                "performedPeriod": {"start": start, "end": end},
                "performer": [{"actor": {"display": clinician}}],
            }
            saved = self._save(procedure, new_id=self._new_id())
            self.set_task(
                referral_id, "in-progress", business_status="attended", execution_start=start
            )
            return saved

    def complete(self, referral_id: str, procedures: list[str] | None = None) -> Resource:
        refs = procedures
        if refs is None:
            focus = self.task_for(referral_id)["focus"]["reference"]
            refs = [
                f"Procedure/{p['id']}"
                for p in self.resources("Procedure")
                if any(b.get("reference") == focus for b in p.get("basedOn") or [])
            ]
        return self.set_task(referral_id, "completed", outputs=refs)

    def fail_next(self, method: str, path: str, kind: str, times: int = 1) -> None:
        """The next `times` requests `method` to a path starting with `path` fail with `kind`."""
        with self._lock:
            self._faults.append(_Fault(method.upper(), path, kind, times))

    def _fault_for(self, method: str, path: str) -> str | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault.kind
        return None

    # -- the REST operations -------------------------------------------------------------------

    def transaction(self, bundle: Resource) -> Resource:
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            raise _Conflict(400, "POST [base] takes a transaction Bundle")
        entries = bundle.get("entry") or []
        with self._lock:
            plan: list[tuple[Resource, str, bool]] = []  # (resource, id, created)
            ids: dict[str, str] = {}
            for entry in entries:
                resource = entry.get("resource") or {}
                kind = resource.get("resourceType")
                request = entry.get("request") or {}
                if kind not in _TYPES or request.get("method") != "POST":
                    raise _Conflict(400, f"unsupported entry {kind!r} {request.get('method')!r}")
                condition = request.get("ifNoneExist") or ""
                matches = (
                    self._by_identifier(
                        kind, urllib.parse.unquote(condition.removeprefix("identifier="))
                    )
                    if condition.startswith("identifier=")
                    else []
                )
                if len(matches) > 1:
                    raise _Conflict(412, f"{kind}?{condition} matches {len(matches)} resources")
                rid = matches[0]["id"] if matches else self._new_id()
                ids[entry.get("fullUrl", "")] = f"{kind}/{rid}"
                plan.append((resource, rid, not matches))
            responses = []
            for resource, rid, created in plan:
                if created:
                    stored = self._save(_rewrite(resource, ids), new_id=rid)
                else:
                    stored = self._store[resource["resourceType"]][rid]
                responses.append(
                    {
                        "response": {
                            "status": "201 Created" if created else "200 OK",
                            "location": f"{stored['resourceType']}/{rid}/_history/{stored['meta']['versionId']}",
                        }
                    }
                )
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}

    def search(self, kind: str, query: dict[str, list[str]]) -> Resource:
        if kind not in _TYPES:
            raise _Conflict(404, f"unknown resource type {kind}")
        count = min(int(query.get("_count", [self.page_size])[0]), self.page_size)
        offset = int(query.get("_offset", ["0"])[0])
        with self._lock:
            found = list(self._store[kind].values())
            for value in query.get("_lastUpdated", []):
                prefix, instant = value[:2], value[2:]
                if prefix not in ("ge", "gt"):
                    raise _Conflict(400, f"_lastUpdated supports ge and gt, not {prefix!r}")
                found = [
                    r
                    for r in found
                    if (
                        r["meta"]["lastUpdated"] >= instant
                        if prefix == "ge"
                        else r["meta"]["lastUpdated"] > instant
                    )
                ]
            for token in query.get("identifier", []):
                found = [r for r in found if r in self._by_identifier(kind, token)]
            for ids in query.get("_id", []):
                wanted = set(ids.split(","))
                found = [r for r in found if r["id"] in wanted]
            found.sort(key=lambda r: (r["meta"]["lastUpdated"], r["id"]))
            page = [copy.deepcopy(r) for r in found[offset : offset + count]]
        bundle: Resource = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": self._url(kind, query, offset)}],
            "entry": [
                {
                    "fullUrl": f"{self.base_url}/{kind}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in page
            ],
        }
        if offset + count < len(found):
            bundle["link"].append(
                {"relation": "next", "url": self._url(kind, query, offset + count)}
            )
        return bundle

    def _url(self, kind: str, query: dict[str, list[str]], offset: int) -> str:
        params = [(k, v) for k, values in query.items() if k != "_offset" for v in values]
        params.append(("_offset", str(offset)))
        return f"{self.base_url}/{kind}?{urllib.parse.urlencode(params)}"

    def update(self, kind: str, rid: str, resource: Resource, if_match: str | None) -> Resource:
        with self._lock:
            current = self._store.get(kind, {}).get(rid)
            if current is None:
                raise _Conflict(404, f"{kind}/{rid} not found")
            if not if_match:
                raise _Conflict(428, "updates need If-Match with the version read")
            if if_match.strip() != f'W/"{current["meta"]["versionId"]}"':
                raise _Conflict(412, f"{kind}/{rid} changed since it was read")
            if resource.get("resourceType") != kind or resource.get("id", rid) != rid:
                raise _Conflict(400, "the resource does not match the URL")
            return self._save(resource, new_id=rid)

    def capability_statement(self) -> Resource:
        return {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "interaction": [{"code": "transaction"}],
                    "resource": [
                        {
                            "type": kind,
                            "versioning": "versioned-update",
                            "conditionalCreate": True,
                            "searchParam": [
                                {"name": "_lastUpdated", "type": "date"},
                                {"name": "identifier", "type": "token"},
                            ],
                        }
                        for kind in _TYPES
                    ],
                }
            ],
        }


def _rewrite(value: Any, ids: dict[str, str]) -> Any:
    """Replace `urn:uuid:` references by the ids assigned in this transaction."""
    if isinstance(value, dict):
        return {
            k: (ids.get(v, v) if k == "reference" and isinstance(v, str) else _rewrite(v, ids))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(v, ids) for v in value]
    return value


class _Handler(BaseHTTPRequestHandler):
    owner: FhirPartner
    protocol_version = "HTTP/1.1"
    # headers and body go out as separate writes: with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms a request), which no real server adds
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        partner = self.owner
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/oauth/token" and method == "POST":
            status, answer = partner.issue_token(self.headers.get("Authorization"), body)
            return self._reply(method, url.path, status, answer, content_type="application/json")
        path = url.path.removeprefix("/fhir").rstrip("/") or "/"
        if partner.latency_ms:
            time.sleep(partner.latency_ms / 1000)
        fault = partner._fault_for(method, path)
        if fault == "reset":
            return self._drop(method, path)
        if fault == "revoke_tokens":
            partner.revoke_tokens()
        if not partner._authorized(self.headers.get("Authorization")) and path != "/metadata":
            return self._reply(
                method, path, 401, _outcome("missing or wrong bearer token", "login")
            )
        try:
            status, payload, headers = self._route(method, path, url.query, body)
        except _Conflict as exc:
            status, payload, headers = exc.status, _outcome(str(exc)), {}
        except (ValueError, KeyError, TypeError) as exc:
            status, payload, headers = 400, _outcome(f"bad request: {type(exc).__name__}"), {}
        if fault == "reset_after_write":
            return self._drop(method, path)
        if fault and fault.isdigit():
            status, payload, headers = int(fault), _outcome(f"injected {fault}", "transient"), {}
        self._reply(method, path, status, payload, headers)

    def _route(
        self, method: str, path: str, query: str, body: bytes
    ) -> tuple[int, Resource, dict[str, str]]:
        partner = self.owner
        parts = [p for p in path.split("/") if p]
        if method == "GET" and parts == ["metadata"]:
            return 200, partner.capability_statement(), {}
        if method == "POST" and not parts:
            return 200, partner.transaction(json.loads(body)), {}
        if method == "GET" and len(parts) == 1:
            return 200, partner.search(parts[0], urllib.parse.parse_qs(query)), {}
        if method == "GET" and len(parts) == 2:
            found = partner.read(f"{parts[0]}/{parts[1]}")
            if found is None:
                raise _Conflict(404, f"{parts[0]}/{parts[1]} not found")
            return 200, found, {"ETag": f'W/"{found["meta"]["versionId"]}"'}
        if method == "PUT" and len(parts) == 2:
            saved = partner.update(
                parts[0], parts[1], json.loads(body), self.headers.get("If-Match")
            )
            return 200, saved, {"ETag": f'W/"{saved["meta"]["versionId"]}"'}
        raise _Conflict(404, f"{method} {path} is not supported")

    def _reply(
        self,
        method: str,
        path: str,
        status: int,
        payload: Resource,
        headers: dict[str, str] | None = None,
        content_type: str = "application/fhir+json",
    ) -> None:
        data = json.dumps(payload).encode()
        self.owner.requests.append((method, path, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self, method: str, path: str) -> None:
        self.owner.requests.append((method, path, 0))
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

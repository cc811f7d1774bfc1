"""The `fhir` feed: a partner's FHIR R4 server, closed-loop referrals of the SDOH Clinical Care IG.

    POST [base]                       one transaction Bundle per referral (connector/fhir/mapping.py),
                                      every entry a conditional create keyed by our identifiers
    GET  [base]/Task?_lastUpdated=ge<cursor>&_sort=_lastUpdated   status updates, `next` links followed
    GET  [base]/Procedure?_lastUpdated=ge<cursor>                  visits
    GET/PUT [base]/Consent|Task|ServiceRequest/<id> (If-Match)     a revocation

Outbound: each referral row the policy allowed (in the canonical columns of the `fhir` mapping)
and the consent facts stored with its write-ahead plan become a Bundle, validated
(connector/fhir/validate.py) before anything is sent; the Bundles of one write go with bounded
concurrency. A re-POST after a crash creates nothing new: the server finds each resource by its
identifier. A local receipt, written once every Bundle is accepted, tells the engine's crash
reconciliation the write happened.

Inbound: each page of the search is one batch. Every resource becomes a canonical row (or a
problem, quarantined with the resource's JSON); the rows then go through the partner mapping like
CSV rows. The cursor (the server's own meta.lastUpdated, never our clock) and the versions already
applied at that instant are stored when the engine archives the batch, so the cursor never runs
ahead of what was applied, and a `ge` search that returns the boundary resources again skips them.
Task versions our own revocation wrote are skipped too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connector.feeds.base import InboundKind, InboundRow, OutboundKind, PublishRefused
from connector.feeds.files import PartnerFiles, QuarantineBook, atomic_write
from connector.feeds.safety import require_run_id
from connector.fhir.client import FhirClient
from connector.fhir.codes import TERMINAL_TASK_STATUSES, Systems
from connector.fhir.mapping import (
    ConsentFacts,
    Parties,
    cancelled_task,
    procedure_visit_row,
    referral_bundle,
    revoked_consent,
    revoked_service_request,
    task_status_row,
)
from connector.fhir.validate import bundle_problems, structural_problem
from connector.mapping import PartnerMapping
from connector.mapping_file import SECTION_COLUMNS
from connector.parallel import run_bounded
from connector.records import Provenance
from foundation.errors import ConfigError, RecordError, RunError
from foundation.logs import SHOWN_BY_PROGRESS

__all__ = ["FhirFeed", "FhirBatch", "RESOURCE_COLUMN", "parties_for",
           "require_canonical"]

log = logging.getLogger("ssp.feeds.fhir")
RESOURCE_COLUMN = "fhir_resource"
"""The quarantine column holding a refused resource's JSON (cut to the quarantine cell limit)."""
_SEARCH = {"status_update": "Task", "visit": "Procedure"}
_CANONICAL_INBOUND = {
    "status_update": SECTION_COLUMNS["status_update"],
    "visit": SECTION_COLUMNS["visit"],
}
_PAGE_SIZE = "100"
_CREATED = ("Organization", "Patient", "Consent", "ServiceRequest", "Task")


class FhirBatch:
    """One page of a Task or Procedure search: canonical rows, or problems with the raw JSON."""

    def __init__(self, partner_id: str, kind: InboundKind, source: str, body: bytes,
                 rows: list[InboundRow], versions: list[tuple[str, str]]) -> None:
        self.partner_id = partner_id
        self.kind = kind
        self.source = source
        self.body = body
        self.content_hash = hashlib.sha256(body).hexdigest()
        self.next_cursor: str | None = None
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.columns: tuple[str, ...] = (*_CANONICAL_INBOUND[kind], RESOURCE_COLUMN)
        self.versions = versions  # (lastUpdated, "id/versionId") of every resource on the page
        self._rows = rows

    def rows(self) -> Iterator[InboundRow]:
        yield from self._rows

    def provenance(self, row: InboundRow) -> Provenance:
        return Provenance(self.partner_id, self.source, row.number, row.values)

    def __repr__(self) -> str:
        return f"FhirBatch({self.kind!r}, {self.source!r}, {len(self._rows)} rows)"


class FhirFeed:
    """A partner's FHIR server behind the Feed protocol (connector/feeds/base.py)."""

    takes_details = True
    """write_outbound needs each row's plan detail (the consent facts of the Consent resource)."""

    def __init__(
        self,
        partner_id: str,
        mapping: PartnerMapping,
        *,
        client: FhirClient,
        parties: Parties,
        state_dir: Path,
        tz: ZoneInfo,
        max_workers: int = 4,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        require_canonical(mapping, partner_id)
        self.partner_id = partner_id
        self.mapping = mapping
        self.client = client
        self.parties = parties
        self.systems: Systems = parties.systems
        self.tz = tz
        self.max_workers = max_workers
        self.files = PartnerFiles(state_dir, partner_id, today=today)
        self._quarantine = QuarantineBook(self.files)
        self._cursor_path = self.files.root / "fhir_cursor.json"

    def __repr__(self) -> str:
        return f"FhirFeed({self.partner_id!r}, {self.client.base_url!r})"

    # ------------------------------------------------------------------ cursor
    def _cursors(self) -> dict[str, Any]:
        try:
            data = json.loads(self._cursor_path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise RunError(f"{self._cursor_path} is unreadable: restore it from a backup, or delete "
                           "it to read every Task and Procedure again (applied ones are skipped)") from None
        return data if isinstance(data, dict) else {}

    def _save_cursors(self, data: dict[str, Any]) -> None:
        self.files.root.mkdir(parents=True, exist_ok=True)
        body = json.dumps(data, indent=1, sort_keys=True).encode()
        atomic_write(self._cursor_path, lambda fh: fh.write(body), mode=0o600)

    def _skip_set(self, kind: str) -> tuple[str, set[str]]:
        entry = self._cursors().get(kind) or {}
        ours = {key for _, key in entry.get("ours") or []}
        return str(entry.get("since") or ""), set(entry.get("seen") or []) | ours

    # ------------------------------------------------------------------ inbound
    def inbound(self, kind: InboundKind, *, since: str | None = None) -> Iterator[FhirBatch]:
        """Pages of the resources changed since the stored cursor (or `since`)."""
        stored, skip = self._skip_set(kind)
        cursor = since or stored
        params = {"_count": _PAGE_SIZE, "_sort": "_lastUpdated"}
        if cursor:
            params["_lastUpdated"] = f"ge{cursor}"
        for source, body, bundle in self.client.search_pages(_SEARCH[kind], params):
            rows, versions, number = [], [], 0
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else entry
                if isinstance(entry, dict) and (entry.get("search") or {}).get("mode") == "include":
                    continue
                version = _version_key(resource)
                if version and version[1] in skip:
                    continue
                if version:
                    versions.append(version)
                number += 1
                row = self._row(kind, number, resource)
                if row is not None:
                    rows.append(row)
            if rows or versions:
                yield FhirBatch(self.partner_id, kind, source, body, rows, versions)

    def _row(self, kind: InboundKind, number: int, resource: Any) -> InboundRow | None:
        """A resource -> a canonical row; a problem keeps the resource's JSON for the quarantine."""
        raw = {RESOURCE_COLUMN: json.dumps(resource, ensure_ascii=False, sort_keys=True)}
        expected = _SEARCH[kind]
        if not isinstance(resource, dict) or resource.get("resourceType") != expected:
            got = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
            return InboundRow(number, raw, f"expected a {expected}, got {str(got)[:40]!r}")
        problem = structural_problem(resource)
        if problem is not None:
            return InboundRow(number, raw, problem)
        try:
            if kind == "status_update":
                values = task_status_row(resource, systems=self.systems, resolve=self.client.read,
                                         tz=self.tz)
                if values is None:  # requested / on-hold: nothing new to apply
                    return None
            else:
                values = procedure_visit_row(resource, systems=self.systems, resolve=self.client.read,
                                             tz=self.tz, partner_base=self.client.base_url)
        except RecordError as exc:
            return InboundRow(number, raw, exc.reason)
        return InboundRow(number, {**values, **raw})

    def archive(self, batch: FhirBatch) -> None:
        """Keep the page's bytes; then move the cursor past what the engine applied."""
        self._quarantine.close(batch)
        self.files.archive_bytes(batch.body, batch.content_hash, f"{batch.kind}.json")
        if not batch.versions:
            return
        data = self._cursors()
        entry = dict(data.get(batch.kind) or {})
        newest = max(stamp for stamp, _ in batch.versions)
        since = str(entry.get("since") or "")
        if newest > since:
            seen = {key for stamp, key in batch.versions if stamp == newest}
            since = newest
        else:
            seen = set(entry.get("seen") or []) | {k for s, k in batch.versions if s == since}
        # versions we wrote ourselves that the `ge` search can no longer return are forgotten
        ours = [[stamp, key] for stamp, key in entry.get("ours") or [] if stamp >= since]
        entry.update(since=since, seen=sorted(seen), ours=ours)
        data[batch.kind] = entry
        self._save_cursors(data)

    def quarantine(self, batch: FhirBatch, row_number: int, raw_row: Mapping[str, str], reason: str,
                   *, extra: Sequence[str] = ()) -> None:
        self._quarantine.write(batch, row_number, raw_row, reason, extra)

    def quarantine_path(self, batch: FhirBatch) -> Path | None:
        return self._quarantine.path(batch)

    # ------------------------------------------------------------------ outbound
    def outbound_name(self, kind: OutboundKind, run_id: str) -> str:
        return f"{require_run_id(run_id)}-{kind}"

    def outbound_exists(self, name: str) -> bool:
        return self.files.has_receipt(name)

    def referral_bundle(self, row: Mapping[str, str], detail: Mapping[str, Any]) -> dict[str, Any]:
        """The Bundle of one planned referral (RecordError when the facts cannot make one)."""
        facts = detail.get("consent")
        if not isinstance(facts, dict):
            raise RecordError("the plan holds no consent facts for the FHIR Consent resource")
        consent = ConsentFacts(**{**facts, "categories": tuple(facts.get("categories") or ())})
        return referral_bundle(row, consent, self.parties)

    def referral_problem(self, row: Mapping[str, str], detail: Mapping[str, Any]) -> str:
        """Why this referral cannot go as a valid SDOHCC Bundle ("" when it can): checked when the
        referral is decided, so a bad one is held with the reason before any disclosure."""
        try:
            problems = bundle_problems(self.referral_bundle(row, detail))
        except RecordError as exc:
            return exc.reason
        return "; ".join(problems[:3])

    def write_outbound(self, kind: OutboundKind, run_id: str, rows: list[dict[str, str]], *,
                       details: Sequence[Mapping[str, Any]] | None = None) -> str:
        name = self.outbound_name(kind, run_id)
        if kind == "referrals":
            digest = self._send_referrals(rows, details)
        else:
            digest = self._send_revocations(rows)
        self.files.write_receipt(name, digest, len(rows))
        log.info("outbound sent to the FHIR server", extra={
            "partner": self.partner_id, "kind": kind, "rows": len(rows), SHOWN_BY_PROGRESS: True})
        return name

    def _send_referrals(self, rows: list[dict[str, str]],
                        details: Sequence[Mapping[str, Any]] | None) -> str:
        if details is None or len(details) != len(rows):
            raise RunError(f"partner '{self.partner_id}': a FHIR referral needs its plan detail")
        bundles = []
        for row, detail in zip(rows, details, strict=True):
            try:
                bundle = self.referral_bundle(row, detail)
            except RecordError as exc:
                raise PublishRefused(f"referral {row.get('referral_id')}: {exc.reason}") from None
            problems = bundle_problems(bundle)
            if problems:  # decided as valid, so only a changed validator gets here: send nothing
                raise PublishRefused(f"referral {row.get('referral_id')}: the Bundle is not valid "
                                     f"FHIR: {'; '.join(problems[:3])}")
            bundles.append(bundle)
        results = run_bounded([lambda b=b: self._post(b) for b in bundles], self.max_workers)
        refused = [(row, exc) for row, (_, exc) in zip(rows, results, strict=True)
                   if isinstance(exc, PublishRefused)]
        failed = [exc for _, exc in results if exc is not None and not isinstance(exc, PublishRefused)]
        if refused and len(refused) == len(rows):
            raise refused[0][1]  # the server holds none of them: the plan is withdrawn
        if failed or refused:  # some went: the plan stays and is sent again (nothing duplicated)
            first = failed[0] if failed else refused[0][1]
            raise RunError(f"{len(failed) + len(refused)} of {len(rows)} referral Bundles not "
                           f"accepted: {first}")
        return hashlib.sha256(json.dumps(bundles, sort_keys=True).encode()).hexdigest()

    def _post(self, bundle: dict[str, Any]) -> None:
        response = self.client.request("POST", "", body=bundle)
        if 400 <= response.status < 500 and response.status not in (408, 429):
            raise PublishRefused(f"partner '{self.partner_id}' FHIR server refused a referral "
                                 f"Bundle (HTTP {response.status}{_short(response.data)})")
        if not response.ok:
            raise self.client.fail(response, "POST", "")
        for entry in (response.data or {}).get("entry") or []:
            status = str(((entry or {}).get("response") or {}).get("status") or "")
            if not status[:1] == "2":
                raise RunError(f"partner '{self.partner_id}' FHIR server answered a Bundle entry "
                               f"with {status[:40]!r}")

    # ------------------------------------------------------------------ revocations
    def _send_revocations(self, rows: list[dict[str, str]]) -> str:
        """Consent inactive, Task cancelled, ServiceRequest revoked, for each revoked referral."""
        ours: list[list[str]] = []
        results = run_bounded([lambda r=r: self._revoke(r) for r in rows], self.max_workers)
        for written, exc in results:
            if exc is not None:
                raise exc
            ours.extend([stamp, key] for stamp, key in written or [])
        if ours:  # our own Task versions: never read back as the partner's status update
            data = self._cursors()
            entry = dict(data.get("status_update") or {})
            entry["ours"] = [*(entry.get("ours") or []), *ours]
            data["status_update"] = entry
            self._save_cursors(data)
        return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()

    def _revoke(self, row: Mapping[str, str]) -> list[tuple[str, str]]:
        referral, consent_id = row.get("referral_id", ""), row.get("consent_id", "")
        revoked = (row.get("revoked_date") or "")[:10] or dt.date.today().isoformat()
        written = []
        if consent_id:
            self._update("Consent", f"{self.systems.consent_id}|{consent_id}",
                         lambda c: None if c.get("status") == "inactive" else revoked_consent(c, revoked))
        task = self._update("Task", f"{self.systems.referral_id}|{referral}",
                            lambda t: None if t.get("status") in TERMINAL_TASK_STATUSES else cancelled_task(t))
        version = _version_key(task)
        if version is not None:
            written.append(version)
        self._update("ServiceRequest", f"{self.systems.referral_id}|{referral}",
                     lambda s: revoked_service_request(s)
                     if s.get("status") in ("draft", "active", "on-hold") else None)
        return written

    def _update(self, kind: str, identifier: str,
                change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any] | None:
        """Read by identifier, PUT the change with If-Match; on 412 read again and retry once.
        None when there is nothing to change (not on the server, or already so)."""
        for attempt in range(2):
            current = self.client.find_one(kind, identifier)
            if current is None:
                log.warning("revocation: resource not on the partner's server",
                            extra={"partner": self.partner_id, "resource": kind})
                return None
            updated = change(current)
            if updated is None:
                return None
            version = str((current.get("meta") or {}).get("versionId") or "")
            path = f"{kind}/{current.get('id')}"
            response = self.client.request("PUT", path, body=updated,
                                           headers={"If-Match": f'W/"{version}"'})
            if response.status == 412 and attempt == 0:
                continue
            if not response.ok:
                raise self.client.fail(response, "PUT", kind)
            return response.data if isinstance(response.data, dict) else None
        return None

    # ------------------------------------------------------------------ ssp check
    def probe(self) -> dict[str, Any]:
        """What `ssp check` reports: reachable (GET metadata), FHIR 4.0.1, transactions and
        conditional create for every resource we create, the token accepted (a Task search)."""
        report: dict[str, Any] = {"base_url": self.client.base_url, "reachable": False,
                                  "fhir_version": "", "conditional_create": False,
                                  "authenticated": False}
        problems: list[str] = []
        try:
            meta = self.client.request("GET", "metadata", authenticated=False)
        except RunError as exc:
            report["problem"] = str(exc)
            return report
        statement = meta.data if isinstance(meta.data, dict) else {}
        if not meta.ok or statement.get("resourceType") != "CapabilityStatement":
            report["problem"] = (f"partner '{self.partner_id}': GET {self.client.base_url}/metadata "
                                 f"answered HTTP {meta.status} without a CapabilityStatement")
            return report
        report["reachable"] = True
        report["fhir_version"] = str(statement.get("fhirVersion") or "")
        if report["fhir_version"] != "4.0.1":
            problems.append(f"the server speaks FHIR {report['fhir_version'] or '(no version)'}, "
                            "not 4.0.1 (R4)")
        rest = next((r for r in statement.get("rest") or [] if r.get("mode") == "server"), {})
        if not any(i.get("code") == "transaction" for i in rest.get("interaction") or []):
            problems.append("the server does not say it accepts transaction Bundles")
        creates = {r.get("type") for r in rest.get("resource") or [] if r.get("conditionalCreate")}
        missing = [k for k in _CREATED if k not in creates]
        report["conditional_create"] = not missing
        if missing:
            problems.append(f"no conditional create for {', '.join(missing)}: a Bundle sent again "
                            "after a crash could duplicate them")
        try:
            answer = self.client.request("GET", "Task", params={"_count": "1"})
            report["authenticated"] = answer.ok
            if not answer.ok:
                problems.append(f"GET Task answered HTTP {answer.status}")
        except RunError as exc:
            problems.append(str(exc).removeprefix(f"partner '{self.partner_id}' FHIR server "))
        if problems:
            report["problem"] = f"partner {self.partner_id}: FHIR server: " + "; ".join(problems)
        return report

    def close(self) -> None:
        self._quarantine.close_all()


def _version_key(resource: Any) -> tuple[str, str] | None:
    if not isinstance(resource, dict):
        return None
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    rid, version, stamp = resource.get("id"), meta.get("versionId"), meta.get("lastUpdated")
    if not (isinstance(rid, str) and isinstance(stamp, str)):
        return None
    return stamp, f"{resource.get('resourceType')}/{rid}/{version or ''}"


def _short(data: Any) -> str:
    if isinstance(data, dict) and data.get("resourceType") == "OperationOutcome":
        for issue in data.get("issue") or []:
            if isinstance(issue, dict) and issue.get("diagnostics"):
                return f": {str(issue['diagnostics'])[:160]}"
    return ""


def require_canonical(mapping: PartnerMapping, partner_id: str) -> None:
    """A FHIR feed builds resources from canonical rows: the mapping must not rename outbound
    columns, translate outbound codes or write dates other than YYYY-MM-DD."""
    key = f"partners[{partner_id}].mapping"
    for section in ("referral", "revocation"):
        spec = mapping.kinds[section]
        if any(spec.columns[f] != f for f in SECTION_COLUMNS[section]) or \
                any(t.explicit for t in spec.codes.values()):
            raise ConfigError(
                f"a fhir feed needs a mapping whose [{section}] columns and codes are the canonical "
                f"ones (mapping = \"fhir\", or one without [{section}] renames or code tables); "
                f"{mapping.source} renames or translates them", key=key)
    if mapping.dates.write(dt.date(2001, 2, 3)) != "2001-02-03":
        raise ConfigError("a fhir feed needs a mapping whose first date format is %Y-%m-%d",
                          key=key)


def parties_for(systems_base: str, district_id: str, district_name: str, partner_id: str,
                partner_name: str, service_request_code: Mapping[str, str] | None) -> Parties:
    """The Parties of connector/fhir/mapping.py from ssp.toml's settings."""
    code: dict[str, Any] | None = None
    if service_request_code:
        coding = {k: v for k, v in service_request_code.items() if v}
        code = {"coding": [coding]}
        if coding.get("display"):
            code["text"] = coding["display"]
    extra = {"service_request_code": code} if code else {}
    return Parties(Systems(systems_base), district_id, district_name, partner_id, partner_name,
                   **extra)


"""Checking FHIR resources before they leave and when they arrive.

Two layers, because the model library checks only structure:
- `structural_problem`: the resource parses as FHIR R4 (R4B models of `fhir.resources`, which the
  IG's 4.0.1 resources fit): required elements, unknown elements, primitive formats, resourceType;
- `profile_problems`: what the SDOH Clinical Care profiles add for the resources we send (fixed
  intent and code, the referral status value set, the 1..1 and must-support elements we always
  fill, references inside the Bundle). `fhir.resources` checks none of these.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from connector.fhir.codes import PROFILE, REFERRAL_TASK_STATUSES, TASK_CODE

__all__ = ["structural_problem", "profile_problems", "bundle_problems"]

Resource = dict[str, Any]

# Elements the SDOHCC profiles make 1..1 or must-support and that we always have data for.
_MUST_HAVE: dict[str, tuple[str, ...]] = {
    "Task": ("status", "intent", "code", "focus", "for", "authoredOn", "requester", "owner"),
    "ServiceRequest": (
        "status",
        "intent",
        "code",
        "subject",
        "authoredOn",
        "requester",
        "performer",
        "supportingInfo",
    ),
    "Consent": (
        "status",
        "scope",
        "category",
        "patient",
        "dateTime",
        "organization",
        "sourceAttachment",
        "policy",
        "provision",
    ),
    "Patient": ("identifier", "name", "gender", "birthDate"),
}


def structural_problem(resource: Any) -> str | None:
    """None when `resource` parses as a FHIR R4 resource, else one plain sentence saying why."""
    if not isinstance(resource, dict):
        return f"not a FHIR resource (a JSON {type(resource).__name__})"
    kind = resource.get("resourceType")
    if not isinstance(kind, str):
        return "no resourceType"
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):
        return f"unknown resourceType {kind[:40]!r}"
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__")
        return f"invalid {kind}{' at ' + where if where else ''}: {first.get('msg', 'invalid')}"
    return None


def _codes(concept: Any, system: str) -> set[str]:
    return {
        c.get("code")
        for c in (concept or {}).get("coding") or []
        if isinstance(c, dict) and c.get("system") == system
    }


def profile_problems(resource: Resource) -> Iterator[str]:
    """What the SDOHCC profile (or US Core, for Patient) asks of a resource we send."""
    kind = resource.get("resourceType", "")
    for element in _MUST_HAVE.get(kind, ()):
        if resource.get(element) in (None, "", [], {}):
            yield f"{kind}.{element} is required by the profile and missing"
    if kind in PROFILE and PROFILE[kind] not in (resource.get("meta") or {}).get("profile", []):
        yield f"{kind} does not claim the {PROFILE[kind].rsplit('/', 1)[1]} profile"
    if kind == "Task":
        if resource.get("intent") != "order":
            yield "Task.intent must be order"
        if "fulfill" not in _codes(resource.get("code"), TASK_CODE):
            yield "Task.code must be task-code#fulfill"
        if resource.get("status") not in REFERRAL_TASK_STATUSES:
            yield f"Task.status {resource.get('status')!r} is outside the referral status value set"
        reason = resource.get("statusReason")
        if reason is not None and not (reason or {}).get("text"):
            yield "Task.statusReason needs a text"
    if kind == "Consent" and not (resource.get("policy") or resource.get("policyRule")):
        yield "Consent needs a policy or a policyRule (ppc-1)"


def bundle_problems(bundle: Resource) -> list[str]:
    """Every structural and profile problem of an outbound transaction Bundle, and of its parts."""
    problems = []
    if (problem := structural_problem(bundle)) is not None:
        problems.append(problem)
    if bundle.get("type") != "transaction":
        problems.append("the Bundle must be a transaction")
    full_urls = {entry.get("fullUrl") for entry in bundle.get("entry") or []}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") or {}
        problems.extend(profile_problems(resource))
        if not (entry.get("request") or {}).get("ifNoneExist"):
            problems.append(f"{resource.get('resourceType')} entry is not a conditional create")
        for target in _references(resource):
            if target.startswith("urn:uuid:") and target not in full_urls:
                problems.append(
                    f"{resource.get('resourceType')} refers to {target}, not in the Bundle"
                )
    return problems


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)

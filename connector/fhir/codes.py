"""The code systems, profiles and identifier systems of the FHIR partner feed.

Everything here is either fixed by FHIR R4 / the HL7 SDOH Clinical Care IG (STU 2.x-3.0, on FHIR
4.0.1) or minted by the district once and never changed (the identifier systems, built from one
base URL per district by `Systems`). Partners match our records by these systems: changing one
after go-live makes every earlier referral unrecognisable to them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "TASK_CODE",
    "SDOHCC_TEMPORARY_CODES",
    "PROFILE",
    "REFERRAL_TASK_STATUSES",
    "TERMINAL_TASK_STATUSES",
    "POLICY_URIS",
    "Systems",
]

TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
SDOHCC_TEMPORARY_CODES = (
    "http://hl7.org/fhir/us/sdoh-clinicalcare/CodeSystem/SDOHCC-CodeSystemTemporaryCodes"
)
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
CONSENT_POLICY = "http://terminology.hl7.org/CodeSystem/consentpolicycodes"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"

_SDOHCC = "http://hl7.org/fhir/us/sdoh-clinicalcare/StructureDefinition/"
PROFILE = {
    "Task": _SDOHCC + "SDOHCC-TaskForReferralManagement",
    "ServiceRequest": _SDOHCC + "SDOHCC-ServiceRequest",
    "Consent": _SDOHCC + "SDOHCC-Consent",
    "Procedure": _SDOHCC + "SDOHCC-Procedure",
}

# SDOHCCValueSetReferralTaskStatus: every R4 TaskStatus except `ready` and `received` (required).
REFERRAL_TASK_STATUSES = frozenset(
    {
        "draft",
        "requested",
        "accepted",
        "rejected",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    }
)
TERMINAL_TASK_STATUSES = frozenset({"rejected", "cancelled", "completed", "failed"})

# The law the release rests on (R4 invariant ppc-1 wants a policy or a policyRule; there is no
# HL7 code for FERPA, so each regime is named by its eCFR address).
POLICY_URIS = (
    "https://www.ecfr.gov/current/title-34/subtitle-A/part-99",  # FERPA
    "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-E/section-164.508",
)


@dataclass(frozen=True)
class Systems:
    """The district's own identifier and code systems, all under one base URL it controls.

    `base` is e.g. "https://bridgeport.example.org/fhir"; identifiers live under `/sid/`, our
    code systems under `/CodeSystem/`, our local extensions under `/StructureDefinition/`.
    """

    base: str

    def _sid(self, name: str) -> str:
        return f"{self.base.rstrip('/')}/sid/{name}"

    def _cs(self, name: str) -> str:
        return f"{self.base.rstrip('/')}/CodeSystem/{name}"

    @property
    def student_number(self) -> str:
        return self._sid("student-number")

    @property
    def referral_id(self) -> str:
        return self._sid("referral-id")

    @property
    def consent_id(self) -> str:
        return self._sid("consent-id")

    @property
    def organization(self) -> str:
        """District and partner Organizations: the district's query namespace or a partner id."""
        return self._sid("organization")

    @property
    def guardian(self) -> str:
        return self._sid("guardian")

    @property
    def business_status(self) -> str:
        return self._cs("referral-business-status")

    @property
    def data_category(self) -> str:
        return self._cs("data-category")

    def choice_list(self, name: str) -> str:
        """A catalogue choice list as a code system: service, purpose, referral_reason, ..."""
        return self._cs(name.replace("_", "-"))

    def extension(self, name: str) -> str:
        return f"{self.base.rstrip('/')}/StructureDefinition/{name}"

"""The FHIR R4 partner feed (HL7 SDOH Clinical Care referral pattern): mapping, codes, checks."""

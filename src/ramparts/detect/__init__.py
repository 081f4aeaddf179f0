"""Detectors for secrets, personal data and prompt injection; redaction and keyed fingerprints."""

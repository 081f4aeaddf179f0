"""Detectors for secrets, personal data and prompt injection; redaction and keyed fingerprints.

``Detectors`` (in :mod:`.scanner`) runs them all; ``secrets``, ``pii`` and ``injection`` are the
detectors; ``matcher`` is the multi-pattern prefilter they share; ``redact`` and ``excerpt`` make
what reports and records carry instead of values.
"""

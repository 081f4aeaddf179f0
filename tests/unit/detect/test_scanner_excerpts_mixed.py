"""Detectors.scan: an excerpt never shows another finding's value, whichever detector family found it."""

from __future__ import annotations

from ramparts._locations import detector_cache_dir
from ramparts.detect.scanner import Detectors

KEY = "AKIA" + "QYLPMN5HHHFPZAM2"
SSN = "536-22-8164"
CARD = "4111 1111 1111 1111"


def test_a_secrets_excerpt_masks_the_personal_data_beside_it_and_the_other_way_round() -> None:
    detectors = Detectors(("secret", "pii"), cache_dir=detector_cache_dir("/nonexistent"))
    text = f"ssn={SSN} key={KEY} card {CARD}"
    found = detectors.scan(text, b"k" * 32)
    assert {f.detector for f in found} >= {"aws-access-key-id", "pii-us-ssn", "pii-payment-card"}
    for finding in found:
        for value in (KEY, SSN, CARD, KEY[4:]):
            assert value not in finding.excerpt, (finding.detector, finding.excerpt)
    # a text with one family's findings keeps the family's own excerpts
    (alone,) = detectors.scan(f"key={KEY}", b"k" * 32)
    assert KEY not in alone.excerpt and "key=" in alone.excerpt

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


def test_one_familys_findings_keep_the_excerpts_the_family_gives() -> None:
    """Detectors.scan makes the excerpts once for both families (the families skip theirs): where one
    family alone found something, they are the ones that family's own scan gives."""
    detectors = Detectors(("secret", "pii"), cache_dir=detector_cache_dir("/nonexistent"))
    assert detectors.secrets is not None and detectors.pii is not None
    key = b"k" * 32
    secrets_only = f"aws_access_key_id = {KEY}\nsecondary = {KEY[:-1]}X\n"
    pii_only = f"ssn: {SSN}\ncard: {CARD}\nmail jane.roe@example.org\n"
    assert detectors.scan(secrets_only, key) == detectors.secrets.scan(secrets_only, key)
    assert detectors.scan(pii_only, key) == detectors.pii.scan(pii_only, key)
    assert all(f.excerpt == "" for f in detectors.pii.scan(pii_only, key, excerpt=False))
    assert all(f.excerpt == "" for f in detectors.secrets.scan(secrets_only, key, excerpt=False))

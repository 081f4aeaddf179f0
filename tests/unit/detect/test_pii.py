"""Personal data: each entity's true and false examples, context words, custom entities, no raw values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.detect.matcher import available_backends
from ramparts.detect.pii import SSN, PiiScanner, custom_entity, entity_from_policy

KEY = b"k" * 32
SCANNER = PiiScanner()


def found(text: str, scanner: PiiScanner = SCANNER) -> list[tuple[str, str]]:
    return [(entity.id, text[start:end]) for entity, start, end, _ in scanner.hits(text)]


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("write to jane.roe@acme-corp.io today", "pii-email", "jane.roe@acme-corp.io"),
        ("call me at +44 20 7946 0958", "pii-phone", "+44 20 7946 0958"),
        ("phone: (415) 555-2671", "pii-phone", "(415) 555-2671"),
        ("Mobile: 0490 39 07 81\nDesk: +44 20 7946 0958.", "pii-phone", "0490 39 07 81"),
        ("my SSN is 536-22-8842", "pii-us-ssn", "536-22-8842"),
        ("card 4111 1111 1111 1111 exp 12/29", "pii-payment-card", "4111 1111 1111 1111"),
        ("amex 3782 822463 10005", "pii-payment-card", "3782 822463 10005"),
        ("mastercard 5555555555554444", "pii-payment-card", "5555555555554444"),
        ("IBAN DE89 3704 0044 0532 0130 00", "pii-iban", "DE89 3704 0044 0532 0130 00"),
        ("pay GB82WEST12345698765432 now", "pii-iban", "GB82WEST12345698765432"),
        ("client 81.2.69.142 connected", "pii-ip-address", "81.2.69.142"),
        ("remote host 2a00:1450:4009:81f::200e", "pii-ip-address", "2a00:1450:4009:81f::200e"),
    ],
)
def test_entities_are_found(text: str, entity: str, value: str) -> None:
    assert (entity, value) in found(text)


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("logo@2x.png", "pii-email"),
        ("SSN 000-12-3456", "pii-us-ssn"),  # area 000 is never issued
        ("SSN 666-12-3456", "pii-us-ssn"),
        ("SSN 923-45-6789", "pii-us-ssn"),
        ("SSN 536-00-8842", "pii-us-ssn"),  # group 00
        ("card 4111 1111 1111 1112", "pii-payment-card"),  # Luhn fails
        ("card 9111 1111 1111 1110", "pii-payment-card"),  # no network starts with 9
        ("IBAN DE89 3704 0044 0532 0130 01", "pii-iban"),  # mod-97 fails
        ("IBAN DE89 3704 0044 0532 0130", "pii-iban"),  # wrong length for DE
        ("listen on 10.0.0.1", "pii-ip-address"),  # private: off by default
        ("loopback 127.0.0.1", "pii-ip-address"),
        ("version 1.2.3.4", "pii-ip-address"),
        ("build 1234567", "pii-phone"),
        # drawing data and numbers glued to words (Django's SVGs gave 939 such phones, third pass)
        ('<path d="M16 352q0-148-73-273t-198-198-273-73-273 73-273zm224 0"/>', "pii-phone"),
        ("tel is 0.03.742.4 here", "pii-phone"),  # a dotted version, not a phone
        ("transfer 1.225.185.84 today", "pii-phone"),  # an address, not a phone
    ],
)
def test_near_misses_are_not_found(text: str, entity: str) -> None:
    assert entity not in [e for e, _ in found(text)]


def test_context_words_raise_and_lower_confidence() -> None:
    def confidence(text: str) -> float:
        return next(c for e, _, _, c in SCANNER.hits(text) if e.id == "pii-us-ssn")

    assert confidence("SSN: 536-22-8842") > confidence("value 536-22-8842")
    plain = PiiScanner((SSN,), min_confidence=0.0)
    ssn = [c for e, _, _, c in plain.hits("routing 536-22-8842") if e.id == "pii-us-ssn"]
    assert ssn and ssn[0] < 0.5


def test_one_span_is_one_entity() -> None:
    assert [e for e, _ in found("card 4111111111111111")] == ["pii-payment-card"]


def test_private_ips_can_be_included() -> None:
    assert found("10.0.0.1", PiiScanner(private_ips=True)) == [("pii-ip-address", "10.0.0.1")]
    assert found("8.8.8.8", PiiScanner(ip_addresses=False)) == []


def test_custom_entities_from_the_policy() -> None:
    employee = entity_from_policy(
        {"name": "employee-id", "pattern": r"\bEMP-\d{6}\b", "context": ["employee"]}
    )
    project = custom_entity("project", r"\bProject (?:Bluebird|Nightjar)\b", base=0.9)
    scanner = PiiScanner((employee, project))
    assert found("employee EMP-004211 on Project Nightjar", scanner) == [
        ("pii-custom-employee-id", "EMP-004211"),
        ("pii-custom-project", "Project Nightjar"),
    ]
    with pytest.raises(ValueError, match="unknown validator"):
        custom_entity("x", "y", validator="nope")
    luhn_checked = custom_entity("acct", r"\b\d{16}\b", validator="luhn")
    assert found("4111111111111111 4111111111111112", PiiScanner((luhn_checked,))) == [
        ("pii-custom-acct", "4111111111111111")
    ]


def test_findings_carry_fingerprints_and_masked_excerpts() -> None:
    text = "mail jane.roe@acme-corp.io, SSN 536-22-8842"
    findings = SCANNER.scan(text, KEY)
    assert [f.detector for f in findings] == ["pii-email", "pii-us-ssn"]
    for f in findings:
        assert f.fingerprint.startswith("b2mac:")
        assert "jane.roe" not in f.excerpt and "536-22-8842" not in f.excerpt
        assert f.line == 1


@pytest.mark.parametrize("backend", available_backends())
def test_every_backend_finds_the_same(backend: str) -> None:
    text = "a jane.roe@acme-corp.io b +44 20 7946 0958 c 536-22-8842 d 4111 1111 1111 1111 e 81.2.69.142"
    assert found(text, PiiScanner(backend=backend)) == found(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_scan_never_raises_and_never_returns_values(text: str) -> None:
    for f in SCANNER.scan(text, KEY):
        value = text[f.start : f.end]
        assert len(value) < 6 or value not in f.excerpt


_SHAPES = st.text(alphabet="0123456789abcdefABCDEF.:@-_+%() \u00e9x", max_size=80)


@settings(max_examples=400, deadline=None)
@given(_SHAPES)
def test_prefilters_match_wherever_their_patterns_do(text: str) -> None:
    """An entity's looser prefilter (what Hyperscan runs) must never miss a text its pattern matches."""
    import re

    from ramparts.detect.matcher import ascii_bytes, flags
    from ramparts.detect.pii import BUILTIN

    for entity in BUILTIN:
        if entity.prefilter and re.search(entity.pattern, text, flags(entity.case_insensitive)):
            assert re.search(entity.prefilter.encode(), ascii_bytes(text)), (entity.id, text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789 .-+()x\u00e9", max_size=40))
def test_the_phone_prefilter_matches_wherever_the_phone_pattern_does(text: str) -> None:
    """Phone shapes (digit groups, separators, "+", parentheses) densely: the loose phone prefilter
    (two digits, a separator, two digits; or "+" and eight digits) must hold every phone match."""
    import re

    from ramparts.detect.matcher import ascii_bytes, flags
    from ramparts.detect.pii import PHONE

    if re.search(PHONE.pattern, text, flags(False)):
        assert re.search(PHONE.prefilter.encode(), ascii_bytes(text)), text


def test_non_ascii_text_keeps_character_offsets() -> None:
    text = "héllo wörld: jane.roe@acme-corp.io, SSN 536-22-8842"
    assert found(text) == [("pii-email", "jane.roe@acme-corp.io"), ("pii-us-ssn", "536-22-8842")]

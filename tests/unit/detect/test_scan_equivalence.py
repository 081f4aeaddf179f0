"""The scan's speed-ups against plain reference versions of what they replace, on generated texts.

The PII scan now lower-cases a 48-character window instead of the whole text (unless the text holds
İ or Σ), runs an entity's check before its context words, memoises phone validity and looks keywords
up in lower-cased ASCII bytes, and skips the regions whose ``phonenumbers`` parse cannot give a valid
number (see ``pii._may_be_valid``). Each is exact by argument; these tests hold them to it on texts built
from the pieces where they could differ (non-ASCII letters whose lower case is special, context words
at the window's edge, every entity's shapes).
"""

from __future__ import annotations

import bisect
import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.detect import pii
from ramparts.detect.matcher import Matcher, Pattern, ascii_bytes, available_backends, flags

SCANNER = pii.PiiScanner()
PRIVATE = pii.PiiScanner(private_ips=True)


def reference_phone(value: str) -> bool:
    """``pii._phone`` as it was before its regions were gated: ``phonenumbers`` parses the value for
    every region in turn (or once, as an international number, after a ``+``) until one is valid."""
    import phonenumbers

    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15 or len(set(digits)) < 3 or pii._DATE.search(value):
        return False
    for region in (None,) if value.lstrip().startswith("+") else pii._PHONE_REGIONS:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def reference_hits(scanner: pii.PiiScanner, text: str) -> list[tuple[str, int, int, float]]:
    """PiiScanner.hits as it was before the speed-ups: every pattern with Python's ``re`` over the
    text, the whole text lower-cased for the context, context before the entity's check."""
    lowered = text.lower()
    out: list[tuple[pii.Entity, int, int, float]] = []
    for entity in scanner.entities:
        phone = entity.id == "pii-phone"
        for match in re.finditer(entity.pattern, text, flags(entity.case_insensitive)):
            start, end = match.span()
            value = text[start:end]
            confidence = pii._with_context(entity, lowered, start)
            if phone:
                if entity.pattern == pii.PHONE.pattern and pii._inside_a_number_run(text, start, end):
                    continue  # a rule of what is found (drawing data), not a speed-up: the same here
                if not pii._phone_shaped(value):
                    confidence -= 0.2
                if confidence < scanner.min_confidence:
                    continue
                if not reference_phone(value):
                    if confidence - 0.2 < scanner.min_confidence or not pii.phone_possible(value):
                        continue
                    confidence -= 0.2
            elif (
                confidence < scanner.min_confidence
                or (entity.check and not pii.CHECKS[entity.check](value))
                or (
                    entity.id == "pii-ip-address"
                    and not scanner.private_ips
                    and ipaddress.ip_address(value).is_private
                )
            ):
                continue
            out.append((entity, start, end, confidence))
    out.sort(key=lambda h: (-h[3], h[0].id == "pii-phone", h[1]))
    kept: list[tuple[pii.Entity, int, int, float]] = []
    starts: list[int] = []
    ends: list[int] = []
    for hit in out:
        at = bisect.bisect_right(starts, hit[1])
        if (at and ends[at - 1] > hit[1]) or (at < len(starts) and starts[at] < hit[2]):
            continue
        starts.insert(at, hit[1])
        ends.insert(at, hit[2])
        kept.append(hit)
    return [(e.id, s, x, c) for e, s, x, c in sorted(kept, key=lambda h: h[1])]


def hits(scanner: pii.PiiScanner, text: str) -> list[tuple[str, int, int, float]]:
    return [(e.id, s, x, c) for e, s, x, c in scanner.hits(text)]


_PIECES = st.sampled_from(
    [
        "phone: ",
        "Tel ",
        "call ",
        "version ",
        "order #",
        "SSN ",
        "card ",
        "iban ",
        "host ",
        "e-mail ",
        "fax",
        "İ",
        "\u212a",
        "Σ",
        "ΑΣ ",
        "é",
        "ß",
        "\u200b",
        "\n",
        " ",
        "x" * 40,
        "+44 20 7946 0958",
        "(415) 555-2671",
        "415-555-2671",
        "030 1234 5678",
        "555 0100",
        "2006-10-25 14",
        "0001 116 229",
        "536-22-8842",
        "4111 1111 1111 1111",
        "5555555555554444",
        "3782 822463 10005",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "81.2.69.142",
        "10.0.0.1",
        "2a00:1450:4009:81f::200e",
        "jane.roe@acme-corp.io",
        "logo@2x.png",
    ]
)
TEXTS = st.lists(st.one_of(_PIECES, st.text(alphabet="0123456789 .-+()", max_size=12)), max_size=16).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_pii_hits_are_the_reference_ones(text: str) -> None:
    assert hits(SCANNER, text) == reference_hits(SCANNER, text)
    assert hits(PRIVATE, text) == reference_hits(PRIVATE, text)


def test_context_windows_with_characters_whose_lower_case_is_special() -> None:
    """İ lower-cases into two characters (every later offset in the lower-cased text shifts), Σ into ς
    or σ by its neighbours, the Kelvin sign into k: each must give what the whole text's lower case
    gave, however odd."""
    for prefix in ("İİİİ", "ΑΣ", "Σ", "\u212a", "é" * 60, "İ" * 50):
        for body in ("phone: 555 0100", "call 030 1234 5678", "ssn 536-22-8842", "version 415-555-2671"):
            text = prefix + " " + body + " " + prefix + body
            assert hits(SCANNER, text) == reference_hits(SCANNER, text), text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_ascii_bytes_is_one_del_per_non_ascii_character(text: str) -> None:
    for sample in (text, text + "\ud800", "\udfff" + text + "é\U0001f600"):  # lone surrogates too
        assert ascii_bytes(sample) == re.sub("[^\x00-\x7f]", "\x7f", sample).encode("ascii")


_KEYWORD_TEXT = st.text(alphabet="keyKEYabAB\u212a\u0130iIΣσ é\x7f:@-", max_size=30)


_PATTERN_SETS = {
    "ascii": [
        Pattern("[a-z]", ("key",), case_insensitive=True),
        Pattern("@|:", ("@",)),
        Pattern("[a-z]", ()),
    ],
    "non-ascii": [Pattern("[a-z]", ("i\u0307",)), Pattern("[a-z]", ("key",))],
}
_MATCHERS: dict[tuple[str, str], Matcher] = {}


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("patterns", sorted(_PATTERN_SETS))
@settings(max_examples=200, deadline=None)
@given(text=_KEYWORD_TEXT)
def test_keywords_are_looked_up_as_in_the_lower_cased_text(backend: str, patterns: str, text: str) -> None:
    key = (backend, patterns)
    if key not in _MATCHERS:
        _MATCHERS[key] = Matcher(_PATTERN_SETS[patterns], backend=backend)  # type: ignore[arg-type]
    matcher = _MATCHERS[key]
    assert matcher.candidates(text) == matcher.candidates(text, text.lower())


_KEYWORD_PATTERNS = [
    Pattern("[0-9]{40}", ("key", "k-y")),
    Pattern("x", ("token",)),
    Pattern("y", ()),
    Pattern("z", ("ey",), case_insensitive=True),
]
_KEYWORD_MATCHER: list[Matcher] = []


@pytest.mark.skipif("hyperscan" not in available_backends(), reason="the keyword database is Hyperscan's")
@settings(max_examples=300, deadline=None)
@given(text=_KEYWORD_TEXT)
def test_the_keyword_database_keeps_exactly_the_patterns_whose_keyword_occurs(text: str) -> None:
    if not _KEYWORD_MATCHER:
        _KEYWORD_MATCHER.append(Matcher(_KEYWORD_PATTERNS, backend="hyperscan", keyword_database=True))
    matcher = _KEYWORD_MATCHER[0]
    assert matcher.keywords_only
    lowered = text.lower()
    expected = [
        i for i, p in enumerate(_KEYWORD_PATTERNS) if not p.keywords or any(k in lowered for k in p.keywords)
    ]
    assert matcher.candidates(text) == matcher.candidates(text, lowered) == expected
    assert sorted(matcher.scan(text)[0]) == expected


_SPAN_PATTERNS = [(e.pattern, e.case_insensitive) for e in pii.BUILTIN] + [("x*", False), ("(a)|b?", True)]


@pytest.mark.parametrize("engine", ["auto", "re"])
@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_spans_are_those_of_finditer(engine: str, text: str) -> None:
    """matcher.spans (RE2's Match called directly) against the public finditer, empty matches too."""
    from ramparts.detect.matcher import compile_regex, spans

    data = ascii_bytes(text)
    for pattern, case_insensitive in _SPAN_PATTERNS:
        regex = compile_regex(pattern, case_insensitive, engine=engine, binary=True)
        assert list(spans(regex, data)) == [m.span() for m in regex.finditer(data)], pattern


# Long texts: candidates far apart (the windows jump), close together (one window holds several) and
# at either end, so every branch of the window search meets the full scan.
LONG_TEXTS = st.lists(
    st.one_of(
        _PIECES,
        st.text(alphabet="0123456789 .-+():@abcdef", max_size=12),
        st.sampled_from(["y" * 300, "7" * 90]),
    ),
    max_size=24,
).map("".join)
_POSITIONS: dict[str, Matcher] = {}


def _positions_matcher() -> Matcher:
    if "pii" not in _POSITIONS:
        entities = [*pii.BUILTIN, pii.custom_entity("ticket", r"\bTCK-\d{4,8}\b")]
        _POSITIONS["pii"] = Matcher(
            [Pattern(e.pattern, e.keywords, e.case_insensitive, e.prefilter) for e in entities],
            backend="hyperscan",
            positions=range(len(entities)),
        )
    return _POSITIONS["pii"]


@pytest.mark.skipif("hyperscan" not in available_backends(), reason="the match ends come from Hyperscan")
@settings(max_examples=300, deadline=None)
@given(LONG_TEXTS)
def test_window_spans_are_the_full_scans(text: str) -> None:
    """Every entity's pattern run only near where Hyperscan saw its prefilter end gives exactly the
    spans of a scan of the whole text (the prefilter lies inside each match; see window_spans)."""
    from ramparts.detect.matcher import compile_regex, pattern_width, spans, window_spans

    matcher = _positions_matcher()
    hits, ends = matcher.scan(text)
    data = ascii_bytes(text)
    for index, pattern in enumerate(matcher.patterns):
        regex = compile_regex(pattern.regex, pattern.case_insensitive, binary=True)
        full = list(spans(regex, data))
        if not full:
            continue
        assert index in hits and index in ends, (pattern.regex, text)  # the prefilter never misses
        width = pattern_width(pattern.regex, pattern.case_insensitive)
        assert width > 0
        windowed = window_spans(regex, data, ends[index], width)
        if windowed is not None:  # None: RE2 is not installed
            assert list(windowed) == full, (pattern.regex, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 .-+()x\u00e9:abcdefABCDEF@", max_size=60))
def test_prefilters_lie_inside_every_match(text: str) -> None:
    """What window_spans relies on: each match of an entity's pattern holds a match of its prefilter."""
    for entity in pii.BUILTIN:
        if not entity.prefilter:
            continue
        data = ascii_bytes(text)
        for match in re.finditer(entity.pattern.encode(), data, flags(entity.case_insensitive)):
            assert re.search(entity.prefilter.encode(), match.group(0)), (entity.id, text)


def test_pattern_widths() -> None:
    from ramparts.detect.matcher import pattern_width

    assert pattern_width(pii.SSN.pattern, False) == 11
    assert pattern_width(pii.PHONE.pattern, False) == 36
    assert pattern_width(r"\d+", False) == 0  # unbounded: the whole text is scanned
    assert pattern_width(r"a?", False) == 0  # may be empty
    assert pattern_width("(", False) == 0  # not a pattern
    assert pattern_width("a{5000}", False) == 0  # wider than a window is worth


def test_a_json_file_of_dates_and_numbers() -> None:
    """botocore's service models: thousands of dates and versions the phone prefilter stops at."""
    rows = [
        f'"v{i}": "20{i % 90 + 10:02d}-{i % 12 + 1:02d}-{i % 28 + 1:02d}", "n": {i * 7919 % 100000}.{i}'
        for i in range(3000)
    ]
    text = "{" + ",\n".join(rows) + ', "contact": "call 415-555-2671 or jane.roe@acme-corp.io"}'
    assert hits(SCANNER, text) == reference_hits(SCANNER, text)
    assert [h[0] for h in hits(SCANNER, text)] == ["pii-phone", "pii-email"]


_VALUES = [
    "415-555-2671 x",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "536-22-8842",
    "DE89 3704 0044 0532 0130 00",
    "81.2.69.142",
    "2a00:1450:4009:81f::200e",
    "jane.roe@acme-corp.io",
    "TCK-123456",
]


@pytest.mark.skipif("hyperscan" not in available_backends(), reason="the match ends come from Hyperscan")
def test_window_spans_at_every_window_edge() -> None:
    """Values placed where a window could cut one short or miss one: at either end of the text, just
    inside and outside a window's width from the previous value, in runs."""
    from ramparts.detect.matcher import compile_regex, pattern_width, spans, window_spans

    matcher = _positions_matcher()
    checked = 0
    gaps = (0, 1, 2, 10, 35, 36, 37, 70, 128, 255, 300, 329, 330, 331, 700, 1300)
    for value in _VALUES:
        for other in ("555 0100 1234", "4111-1111-1111-1111", value):
            for gap in gaps:
                for filler in ("y", "7", " "):
                    text = filler * gap + value + filler * gap + other + filler * (gap // 2) + value
                    hits, ends = matcher.scan(text)
                    data = ascii_bytes(text)
                    for index in hits:
                        pattern = matcher.patterns[index]
                        regex = compile_regex(pattern.regex, pattern.case_insensitive, binary=True)
                        width = pattern_width(pattern.regex, pattern.case_insensitive)
                        windowed = window_spans(regex, data, ends[index], width)
                        if windowed is None:
                            pytest.skip("RE2 is not installed")
                        assert list(windowed) == list(spans(regex, data)), (pattern.regex, text)
                        checked += 1
    assert checked > 1000


# Digit strings shaped like what the gate reasons about: international prefixes of the regions (00,
# 011, 010, 0011, 001x, 14xx0011 for Australia), calling codes of the regions and of their neighbours
# under the same code, national prefixes (0, 1, 01, 90, 0003768…), Brazil's and Japan's rewritten
# carrier prefixes, then real-looking subscriber numbers or noise, with the separators the phone
# pattern allows.
_PHONE_HEADS = st.sampled_from(
    (
        "",
        *("0", "00", "000", "011", "010", "0011", "0014", "14110011", "1", "01", "044", "045", "90"),
        *("9021", "0003768", "00037680", "0212", "44", "440", "49", "33", "91", "61", "55", "5521"),
        *("34", "39", "31", "41", "972", "81", "52", "521", "1876", "7", "8"),
    )
)
_PHONE_TAILS = st.one_of(
    st.text(alphabet="0123456789", min_size=4, max_size=13),
    st.sampled_from(
        (
            *("4155552671", "2079460958", "7946095", "3012345678", "123456789", "612345678"),
            *("9876543210", "1123456789", "11987654321", "312345678", "0312345678", "5512345678"),
            *("20123456", "2345678"),
        )
    ),
)
_SEPARATED = st.lists(
    st.tuples(st.sampled_from(["", " ", "-", ".", "(", ")", " (", ") "]), _PHONE_TAILS | _PHONE_HEADS),
    min_size=1,
    max_size=4,
)


@st.composite
def _phone_values(draw: st.DrawFn) -> str:
    head = draw(_PHONE_HEADS)
    parts = draw(_SEPARATED)
    value = head + "".join(sep + digits for sep, digits in parts)
    return draw(st.sampled_from(["", "+", "(", " "])) + value.strip()


@settings(max_examples=1500, deadline=None)
@given(_phone_values())
def test_phone_validity_is_the_reference_one(value: str) -> None:
    """Skipping the regions whose parse cannot give a valid number changes no answer (gated or not)."""
    assert pii._phone(value) == reference_phone(value), value
    gate_after, pii.PHONE_GATE_AFTER = pii.PHONE_GATE_AFTER, 0
    try:
        assert pii._phone(value) == reference_phone(value), value
    finally:
        pii.PHONE_GATE_AFTER = gate_after
    assert_gate_sound(value)


def assert_gate_sound(value: str) -> None:
    """Region by region (stronger than the answer over all of them): the gate never skips a region
    whose parse gives a valid number."""
    import phonenumbers

    if not pii._PLAIN_PHONE.fullmatch(value):
        return
    digits = re.sub(r"\D", "", value)
    for region, gate in pii._phone_gates().items():
        if pii._may_be_valid(gate, digits):
            continue
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        assert not phonenumbers.is_valid_number(number), (value, region)


_PHONE_CASES = [
    "415-555-2671",  # US
    "(415) 555-2671",
    "1 415 555 2671",  # the calling code without a +, then a number (US, CA share 1)
    "1-876-555-0123",  # Jamaica, also calling code 1
    "011 44 20 7946 0958",  # the US international prefix, then a British number
    "0044 20 7946 0958",
    "00 49 30 1234 5678",
    "0001 297 118",  # 00 then 0: no calling code starts with 0, not an international call
    "020 7946 0958",  # GB with its national prefix
    "44 20 7946 0958",
    "440 20 7946 0958",
    "030 1234 5678",  # DE
    "01 23 45 67 89",  # FR
    "06 12 34 56 78",
    "98765 43210",  # IN
    "02 9374 4000",  # AU
    "0011 44 20 7946 0958",  # AU's international prefix
    "(11) 98765-4321",  # BR
    "0 21 11 98765 4321",  # BR's national prefix with a carrier code (rewritten)
    "912 345 678",  # ES
    "06 6982 2211",  # IT, the leading zero kept
    "020 123 4567",  # NL
    "044 668 18 00",  # CH
    "03-123-4567",  # IL
    "03-1234-5678",  # JP
    "0003768 0 312345678",
    "55 1234 5678",  # MX
    "044 55 1234 5678",
    "41.757 547.428",  # coordinates in a drawing
    "9999 267.117 462",
    "2012-02-21 10",  # a date: never
    "+44 20 7946 0958",  # a +: parsed once, as an international number
    "+1 415 555 2671",
    "1-800-FLOWERS",  # letters: read as keypad digits, no gate
    "415 555 2671 ext 7",
]


def test_phone_validity_on_every_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    """International prefixes, calling codes without a +, national prefixes, rewritten carrier codes,
    and values the gate does not touch (a +, letters, an extension)."""
    monkeypatch.setattr(pii, "PHONE_GATE_AFTER", 0)  # gated from the first value
    for value in _PHONE_CASES:
        assert_gate_sound(value)
    answers = {value: pii._phone(value) for value in _PHONE_CASES}
    assert answers == {value: reference_phone(value) for value in _PHONE_CASES}
    assert answers["415-555-2671"] and answers["011 44 20 7946 0958"] and answers["020 7946 0958"]
    assert not answers["2012-02-21 10"]

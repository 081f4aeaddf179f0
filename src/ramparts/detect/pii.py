"""Personal data: email, phone, US SSN, payment card, IBAN, IP address, and custom entities.

Each entity is a candidate pattern (run through the same multi-pattern prefilter as the secret
rules) plus a check that the pattern cannot express: ``phonenumbers`` for phones (region-aware),
SSN area/group/serial rules, Luhn and issuer ranges for cards, ISO 13616 length and mod-97 for IBANs,
``ipaddress`` for IPs. Context words near a candidate ("phone", "ssn", "card") raise its confidence;
words that say it is something else ("version", "order", "isbn") lower it. Custom entities come from
the policy (a regex, optional context words, an optional validator). No result holds the value.
"""

from __future__ import annotations

import bisect

from .._recache import compile as re_compile
from .._tuples import NamedTuple
from ..model import Finding
from .excerpt import excerpts
from .matcher import (
    Matcher,
    Pattern,
    ascii_bytes,
    compile_regex,
    lower,
    pattern_width,
    spans,
    window_spans,
)
from .redact import fingerprint
from .secrets import line_index, luhn

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any

    from .matcher import Backend


class Entity(NamedTuple):
    id: str
    """Stable detector id: ``pii-email``, ``pii-phone``… (custom ones: ``pii-custom-NAME``)."""
    pattern: str
    keywords: tuple[str, ...] = ()
    base: float = 0.5
    """Confidence of a candidate that passes its check, before context."""
    context: tuple[str, ...] = ()
    """Words within :data:`CONTEXT_WINDOW` characters before it that raise the confidence."""
    against: tuple[str, ...] = ()
    """Words that say it is something else, lowering the confidence."""
    check: str = ""
    """A validator name from :data:`CHECKS`."""
    severity: str = "medium"
    case_insensitive: bool = False
    prefilter: str = ""
    """A looser pattern for the multi-pattern pass (see :class:`~ramparts.detect.matcher.Pattern`)."""


CONTEXT_WINDOW = 48
CONTEXT_BOOST = 0.35
AGAINST_PENALTY = 0.35

# -- checks -------------------------------------------------------------------------------------


def _ssn(value: str) -> bool:
    digits = re_compile(r"\D").sub("", value)
    if len(digits) != 9 or len(set(digits)) == 1:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    if digits in ("078051120", "219099999", "123456789"):  # the well-known invalid or advertised ones
        return False
    separators = re_compile(r"\d").sub("", value)
    return separators in ("", "--", "  ")


# Issuer ranges (IIN prefixes) and lengths of the card networks.
_CARD_NETWORKS: tuple[tuple[Callable[[str], bool], frozenset[int]], ...] = (
    (lambda d: d[0] == "4", frozenset({13, 16, 19})),  # Visa
    (lambda d: 51 <= int(d[:2]) <= 55 or 2221 <= int(d[:4]) <= 2720, frozenset({16})),  # Mastercard
    (lambda d: d[:2] in ("34", "37"), frozenset({15})),  # American Express
    (lambda d: d[:4] == "6011" or d[:2] == "65" or 644 <= int(d[:3]) <= 649, frozenset({16, 19})),  # Discover
    (lambda d: 3528 <= int(d[:4]) <= 3589, frozenset({16, 17, 18, 19})),  # JCB
    (lambda d: d[:4] in ("2131", "1800"), frozenset({15})),  # JCB, legacy 15-digit
    (lambda d: 300 <= int(d[:3]) <= 305 or d[:2] in ("36", "38", "39"), frozenset({14, 16, 19})),  # Diners
    (lambda d: d[:2] == "62", frozenset({16, 17, 18, 19})),  # UnionPay
    (lambda d: d[:2] in ("50", "56", "57", "58", "63", "67"), frozenset(range(12, 20))),  # Maestro
)


def _card(value: str) -> bool:
    digits = re_compile(r"[ \-]").sub("", value)
    if not digits.isdigit() or not luhn(digits):
        return False
    return any(prefix(digits) and len(digits) in lengths for prefix, lengths in _CARD_NETWORKS)


_DOUBLED = str.maketrans("0123456789", "0246813579")
"""Each digit doubled, its two digits summed (Luhn's every second digit from the right)."""


def _card_candidate(value: str) -> bool:
    """:func:`_card` for a value the built-in card pattern matched (12 to 19 ASCII digits, single spaces
    or dashes between them): the same answer, Luhn's sum done by ``str.translate`` and ``map``."""
    digits = value.replace(" ", "").replace("-", "")
    total = sum(map(int, digits[-1::-2])) + sum(map(int, digits[-2::-2].translate(_DOUBLED)))
    if total % 10:
        return False
    return any(prefix(digits) and len(digits) in lengths for prefix, lengths in _CARD_NETWORKS)


# ISO 13616 lengths per country.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def _iban(value: str) -> bool:
    compact = re_compile(r"[ \-]").sub("", value).upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _ip(value: str) -> bool:
    import ipaddress  # here: only an IP-address candidate is checked

    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified or address.is_multicast or address.is_reserved)


_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "BR", "ES", "IT", "NL", "CH", "IL", "JP", "MX")


_DATE = re_compile(
    r"(?:19|20)\d\d[-./](?:0[1-9]|1[0-2])[-./](?:0[1-9]|[12]\d|3[01])|\d\d?[-./]\d\d?[-./](?:19|20)\d\d"
)


_NON_DIGIT = re_compile(r"\D")


_PLAIN_PHONE = re_compile(r"[0-9 ().\-]+")
"""A value ``phonenumbers`` reads as exactly its ASCII digits, for every region: no ``+``, no letters
(which it would read as keypad digits), no extension marks (``x``, ``#``, ``,``, ``;``)."""


class _PhoneGate(NamedTuple):
    """What a region's ``phonenumbers.parse`` can do with a digit string that has no ``+`` (see
    :func:`_may_be_valid`)."""

    idd: re.Pattern[str]
    """The region's international dialling prefix (``00``, ``011``…), which starts another country's
    number: such a string is always handed to ``phonenumbers``."""
    valid: re.Pattern[str] | None
    """Matches (from its start, to its end) a national number that fits the general description (length
    and pattern) of some region of this calling code, as every valid one does. ``None``: none can."""
    code: str
    """The calling code, which the number may start with (stripped)."""
    prefixes: tuple[tuple[re.Pattern[str], bool] | None, ...]
    """The national prefix patterns for parsing (this region's, the calling code's main region's), and
    whether a transform rule rewrites the digits (then the string is always handed over)."""


def _desc_pattern(desc: Any) -> str | None:
    """A ``phonenumbers`` number description as lookaheads at a national number's start: one of its
    possible lengths, then its pattern to the end. ``None`` when it can match nothing. (The number
    types' descriptions would reject more, but compiling them costs about 0.1 s a process.)"""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = [n for n in desc.possible_length if n > 0]
    if desc.possible_length and not lengths:
        return None  # (-1,): no length is possible
    out = "(?=(?:" + "|".join(rf"\d{{{n}}}" for n in lengths) + r")\Z)" if lengths else ""
    return out + "(?=(?:" + str(desc.national_number_pattern) + r")\Z)"


def _phone_gates() -> dict[str, _PhoneGate]:
    """Per region of :data:`_PHONE_REGIONS`, built once from the installed ``phonenumbers`` metadata."""
    if _GATES:
        return _GATES[0]
    import re

    import phonenumbers
    from phonenumbers import PhoneMetadata

    def region_pattern(region: str) -> str | None:
        meta = PhoneMetadata.metadata_for_region(region, None)
        return None if meta is None else _desc_pattern(meta.general_desc)

    def prefix(meta: Any) -> tuple[re.Pattern[str], bool] | None:
        if meta is None or not meta.national_prefix_for_parsing:
            return None
        return re.compile(meta.national_prefix_for_parsing), bool(meta.national_prefix_transform_rule)

    gates: dict[str, _PhoneGate] = {}
    for region in _PHONE_REGIONS:
        meta = PhoneMetadata.metadata_for_region(region)
        code = meta.country_code if meta is not None else None
        if meta is None or code is None:
            continue  # no gate: every value is parsed for this region
        patterns = [p for p in map(region_pattern, phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]) if p]
        main = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(code), None)
        gates[region] = _PhoneGate(
            re.compile(meta.international_prefix or "NonMatch"),
            re.compile("|".join(patterns)) if patterns else None,
            str(code),
            (prefix(meta), prefix(main)),
        )
    _GATES.append(gates)
    return gates


_GATES: list[dict[str, _PhoneGate]] = []


PHONE_GATE_AFTER = 32
"""Values checked the plain way in a process before the gates are built (about the same cost)."""
_phones_checked = 0


class _Rewritten(Exception):
    """A national prefix with a transform rule matched: the digits may be rewritten, not only cut."""


def _strip_prefix(prefix: tuple[re.Pattern[str], bool] | None, digits: str) -> str:
    if prefix is None:
        return digits
    match = prefix[0].match(digits)
    if match is None:
        return digits
    if prefix[1] and match.groups() and match.groups()[-1] is not None:
        raise _Rewritten
    return digits[match.end() :]


def _may_be_valid(gate: _PhoneGate, digits: str) -> bool:
    """Whether ``phonenumbers.parse(value, region)`` of a value made of ``digits`` and separators can
    give a valid number: ``False`` only when it cannot (so skipping the region changes no answer).

    Without a ``+``, ``parse`` reads the number as the region's own unless it starts with the region's
    international prefix (then handed over). The national number it keeps is the digits, less the
    calling code when they start with it, less a national prefix (matched at the start, at most twice,
    with this region's pattern and then the calling code's main region's); ``is_valid_number`` then
    needs it to fit the general description of a region of that calling code (it validates for one of
    them). Every such candidate is tried against all those descriptions.
    """
    idd = gate.idd.match(digits)
    if idd is not None and (idd.end() >= len(digits) or digits[idd.end()] != "0"):
        return True  # an international call: the calling code that follows is read (0 starts none)
    if gate.valid is None:
        return False
    own, main = gate.prefixes
    try:
        candidates = [digits, _strip_prefix(own, digits)]
        if digits.startswith(gate.code):
            rest = digits[len(gate.code) :]
            stripped = _strip_prefix(own, rest)
            candidates += [rest, stripped, _strip_prefix(main, stripped)]
    except _Rewritten:
        return True
    return any(gate.valid.match(c) is not None for c in candidates)


def _phone(value: str) -> bool:
    import phonenumbers  # imported only when a candidate needs it (about 20 ms)

    digits = _NON_DIGIT.sub("", value)
    if not 7 <= len(digits) <= 15 or len(set(digits)) < 3 or _DATE.search(value):
        return False
    global _phones_checked
    _phones_checked += 1
    plain = digits.isascii() and _PLAIN_PHONE.fullmatch(value) is not None
    # a region whose parse cannot give a valid number is skipped: the same answer, without the
    # parse and validation (about 35 us a region, 15 regions for every value that is not a number);
    # the gates cost about 15 ms to build, so a process that checks a few values (a hook) does without
    gates = _phone_gates() if plain and _phones_checked > PHONE_GATE_AFTER else {}
    regions = (None,) if value.lstrip().startswith("+") else _PHONE_REGIONS
    for region in regions:
        if region in gates and not _may_be_valid(gates[region], digits):
            continue
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def phone_possible(value: str) -> bool:
    """A number of a possible length for some region, though not an assigned range (needs context)."""
    import phonenumbers

    regions = (None,) if value.lstrip().startswith("+") else _PHONE_REGIONS
    for region in regions:
        try:
            if phonenumbers.is_possible_number(phonenumbers.parse(value, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def _phone_shaped(value: str) -> bool:
    """An international prefix, an area code in parentheses, or ten digits and more."""
    stripped = value.strip()
    return stripped.startswith("+") or "(" in stripped or sum(c.isdigit() for c in stripped) >= 10


# A phone candidate's value is the same string many times over in a large tree (a number in a
# footer, a coordinate in a repeated drawing); ``phonenumbers`` tries up to 15 regions per value.
# Their caches are made on first use: ``functools`` is imported only where a phone candidate is checked.
def _phone_valid(value: str) -> bool:
    """:func:`_phone` through a 4096-value LRU cache."""
    cached = _PHONE_CACHES.get("valid")
    if cached is None:
        import functools

        cached = _PHONE_CACHES["valid"] = functools.lru_cache(maxsize=4096)(_phone)
    return cached(value)


def _phone_possible(value: str) -> bool:
    """:func:`phone_possible` through a 1024-value LRU cache."""
    cached = _PHONE_CACHES.get("possible")
    if cached is None:
        import functools

        cached = _PHONE_CACHES["possible"] = functools.lru_cache(maxsize=1024)(phone_possible)
    return cached(value)


_PHONE_CACHES: dict[str, Callable[[str], bool]] = {}


def _phone_candidate_shaped(value: str) -> bool:
    """:func:`_phone_shaped` for a value the built-in phone pattern matched (ASCII digits, spaces and
    ``+().-`` only, no leading or trailing space): the same answer without a loop in Python."""
    return value[0] == "+" or "(" in value or len(value) - len(value.translate(_DROP_DIGITS)) >= 10


_DROP_DIGITS = str.maketrans("", "", "0123456789")


def _inside_a_number_run(text: str, start: int, end: int) -> bool:
    """Whether a phone-shaped match is glued to a word: a letter right before or after it, or a
    separator and a letter or digit right before it. That is drawing data (SVG paths such as
    ``t-198-198-273-73-273 73-273zm``, ``q0-148-73-273t``) or part of an identifier, never how a phone
    number is written in text; a digit right before is not counted (the pattern starts at most four
    digits into a longer group: ``07700 063 966`` is matched from ``7700``)."""
    before = text[start - 1] if start else " "
    if before.isascii() and before.isalpha():
        return True
    if before in "-." and start >= 2 and text[start - 2].isascii() and text[start - 2].isalnum():
        return True
    after = text[end] if end < len(text) else " "
    return after.isascii() and after.isalpha()


def _email(value: str) -> bool:
    domain = value.rsplit("@", 1)[-1].lower()
    return "." in domain and not domain.endswith((".png", ".jpg", ".svg", ".gif", ".webp", ".css", ".js"))


CHECKS: dict[str, Callable[[str], bool]] = {
    "ssn": _ssn,
    "card": _card,
    "luhn": luhn,
    "iban": _iban,
    "ip": _ip,
    "phone": _phone,
    "email": _email,
}

# -- the built-in entities ----------------------------------------------------------------------------

EMAIL = Entity(
    "pii-email",
    r"\b[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62}\.){1,8}[A-Za-z]{2,24}\b",
    keywords=("@",),
    base=0.85,
    prefilter=r"[A-Za-z0-9._%+\-]@[A-Za-z0-9]",
    context=("email", "e-mail", "mail", "contact"),
    check="email",
)
PHONE = Entity(
    "pii-phone",
    r"(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,4}(?:[ .\-]\d{2,4}){1,4}\b|\+\d{8,15}\b",
    base=0.5,
    context=(
        "phone",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "call",
        "fax",
        "whatsapp",
        "contact",
        "desk",
        "office",
        "sms",
        "text me",
        "reach me",
        "answering",
        "dial",
    ),
    against=("version", "id", "order", "invoice", "isbn", "serial", "date", "port", "ip"),
    check="phone",
    # Every match holds two digits, a separator and two digits (the end of one group and the start of
    # the next) or "+" and eight digits. Hyperscan runs the pattern itself several times slower, and
    # slows the whole database down with it on digit-heavy text (botocore's JSON: 0.44 s against 0.20 s).
    prefilter=r"\d\d[ .\-]\d\d|\+\d{8}",
)
SSN = Entity(
    "pii-us-ssn",
    r"\b\d{3}[- ]?\d{2}[- ]?\d{4}\b",
    base=0.5,
    context=("ssn", "social security", "social-security", "ss#", "ss #", "taxpayer"),
    against=("phone", "tel", "order", "zip", "invoice", "routing", "account"),
    check="ssn",
    severity="high",
)
CARD = Entity(
    "pii-payment-card",
    r"\b(?:\d[ \-]?){11,18}\d\b",
    base=0.75,
    context=("card", "credit", "debit", "visa", "mastercard", "amex", "cc", "pan", "payment"),
    against=("order", "tracking", "isbn", "serial"),
    check="card",
    severity="high",
)
IBAN = Entity(
    "pii-iban",
    r"\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]{4}){2,7}(?:[ \-]?[A-Z0-9]{1,4})?\b",
    base=0.85,
    context=("iban", "bank", "account", "transfer"),
    check="iban",
    severity="high",
)
IPV4 = Entity(
    "pii-ip-address",
    r"\b(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\b",
    base=0.6,
    context=("ip", "address", "host", "client", "server", "remote"),
    against=("version", "v."),
    prefilter=r"\d\.\d{1,3}\.\d{1,3}\.\d",
    check="ip",
    severity="low",
)
IPV6 = Entity(
    "pii-ip-address",
    r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4}){0,6}\b",
    keywords=(":",),
    base=0.6,
    context=("ip", "address", "host", "client", "server", "remote"),
    check="ip",
    prefilter=r"[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:",
    severity="low",
)
BUILTIN = (EMAIL, PHONE, SSN, CARD, IBAN, IPV4, IPV6)


def custom_entity(
    name: str,
    pattern: str,
    *,
    context: Sequence[str] = (),
    validator: str = "",
    base: float = 0.6,
    severity: str = "medium",
) -> Entity:
    """An entity a policy defines (employee ids, project code names)."""
    if validator and validator not in CHECKS:
        raise ValueError(f"unknown validator {validator!r} (known: {', '.join(sorted(CHECKS))})")
    import re  # a policy's custom entity: its pattern checked

    re.compile(pattern)
    return Entity(
        f"pii-custom-{name}",
        pattern,
        base=base,
        context=tuple(c.lower() for c in context),
        check=validator,
        severity=severity,
    )


class PiiScanner:
    """The entities compiled once; ``scan`` any number of texts."""

    def __init__(
        self,
        entities: Sequence[Entity] = BUILTIN,
        *,
        ip_addresses: bool = True,
        private_ips: bool = False,
        backend: Backend | str = "auto",
        cache_dir: str | None = None,
        min_confidence: float = 0.4,
    ) -> None:
        self.entities = tuple(e for e in entities if ip_addresses or e.id != "pii-ip-address")
        self.private_ips = private_ips
        self.min_confidence = min_confidence
        self.matcher = Matcher(
            [Pattern(e.pattern, e.keywords, e.case_insensitive, e.prefilter) for e in self.entities],
            backend=backend,  # type: ignore[arg-type]
            cache_dir=cache_dir,
            positions=range(len(self.entities)),
        )
        self._engine = "re" if self.matcher.backend == "re" else "auto"
        self._compiled: dict[int, Any] = {}

    def hits(self, text: str, *, limit: int | None = None) -> list[tuple[Entity, int, int, float]]:
        """(entity, start, end, confidence) of every accepted candidate, in order."""
        if limit is not None:
            text = text[:limit]
        # the prefilter reports where each entity's prefilter matched: the pattern is run near there
        hit_ids, positions = self.matcher.scan(text)
        # Context words are looked for in the lower-cased 48 characters before a value. Lower-casing a
        # whole non-ASCII text is slow (a translation file: tens of ms), and a window lower-cased on its
        # own is the same string unless the text holds a character whose lower case is two characters
        # (İ, which would shift every offset after it) or depends on its neighbours (Σ): only then, and
        # for ASCII text (where it is nearly free), is the whole text lower-cased once.
        # keywords: in the bytes the secret scan lower-cased
        indices = self.matcher.candidates(text, hits=hit_ids)
        if not indices:
            return []
        lowered = lower(text) if text.isascii() or "\u0130" in text or "\u03a3" in text else None
        data = ascii_bytes(text)  # same offsets as the text; the prefilter made it already
        out: list[tuple[Entity, int, int, float]] = []
        minimum = self.min_confidence
        for index in indices:
            entity = self.entities[index]
            compiled = self._compiled.get(index)
            if compiled is None:
                binary = entity.pattern.isascii()
                regex = compile_regex(
                    entity.pattern, entity.case_insensitive, engine=self._engine, binary=binary
                )
                compiled = self._compiled[index] = (
                    regex,
                    binary,
                    _any_word(tuple(entity.context) + tuple(entity.against)),
                    pattern_width(entity.pattern, entity.case_insensitive) if binary else 0,
                )
            regex, binary, words, width = compiled
            phone = entity.id == "pii-phone"
            builtin_phone = phone and entity.pattern == PHONE.pattern
            check = CHECKS[entity.check] if entity.check and not phone else None
            if check is _card and entity.pattern == CARD.pattern:
                check = _card_candidate
            private = entity.id == "pii-ip-address" and not self.private_ips
            base = max(0.0, min(1.0, entity.base))
            near = positions.get(index) if width else None
            windowed = window_spans(regex, data, near, width) if near is not None else None
            if windowed is not None:
                matches: Iterable[tuple[int, int]] = windowed  # only near where the prefilter matched
            elif binary:
                matches = spans(regex, data)
            else:
                matches = (m.span() for m in regex.finditer(text))
            for start, end in matches:
                value = text[start:end]
                if not phone and check is not None and not check(value):
                    continue  # the entity's own check first: cheaper than the context words
                # the context (one search for any word in the window, most often none) before a
                # phonenumbers parse: a candidate that cannot reach min_confidence is not worth one
                at = start - CONTEXT_WINDOW if start > CONTEXT_WINDOW else 0
                window = lowered[at:start] if lowered is not None else text[at:start].lower()
                confidence = (
                    base if words is None or words.search(window) is None else _context(entity, window)
                )
                if phone:
                    if builtin_phone and _inside_a_number_run(text, start, end):
                        continue  # drawing or table data: `t-198-198-273-73-273`, `q0-148-73-273t`
                    if not (_phone_candidate_shaped(value) if builtin_phone else _phone_shaped(value)):
                        confidence -= 0.2  # 7-9 bare digits are as often a street number or a count
                    if confidence < minimum:
                        continue
                    if not _phone_valid(value):
                        # possible but unassigned: only with a context word
                        if confidence - 0.2 < minimum or not _phone_possible(value):
                            continue
                        confidence -= 0.2
                elif confidence < minimum or (private and _private_ip(value)):
                    continue
                out.append((entity, start, end, confidence))
        # One span, one entity: a card number is not also a phone number; the more confident wins.
        out.sort(key=lambda h: (-h[3], h[0].id == "pii-phone", h[1]))  # on a tie, the stricter check wins
        kept: list[tuple[Entity, int, int, float]] = []
        starts: list[int] = []
        ends: list[int] = []
        for hit in out:
            at = bisect.bisect_right(starts, hit[1])
            if (at and ends[at - 1] > hit[1]) or (at < len(starts) and starts[at] < hit[2]):
                continue
            starts.insert(at, hit[1])
            ends.insert(at, hit[2])
            kept.append(hit)
        return sorted(kept, key=lambda h: h[1])

    def scan(self, text: str, key: bytes, *, limit: int | None = None, excerpt: bool = True) -> list[Finding]:
        """Findings with fingerprints and redacted excerpts, never the values; ``excerpt=False``: every
        excerpt empty, for a caller that makes them itself (:class:`.scanner.Detectors`)."""
        hits = self.hits(text, limit=limit)
        if not hits:
            return []
        line = line_index(text)
        shown = (
            excerpts(text, [(start, end, entity.id) for entity, start, end, _ in hits], key)
            if excerpt
            else [""] * len(hits)
        )
        return [
            Finding(
                detector=entity.id,
                category="pii",
                severity=entity.severity,  # type: ignore[arg-type]
                confidence=round(confidence, 3),
                start=start,
                end=end,
                line=line(start),
                fingerprint=fingerprint(text[start:end], key),
                excerpt=shown[i],
            )
            for i, (entity, start, end, confidence) in enumerate(hits)
        ]


def _with_context(entity: Entity, lowered: str, start: int) -> float:
    """The base confidence, raised by a context word before the value or lowered by a word that says it
    is something else, whichever is nearer; nearer context counts slightly more (so ``SSN 536-22-8842``
    after ``call us`` is an SSN, not a phone number)."""
    return _context(entity, lowered[max(0, start - CONTEXT_WINDOW) : start])


def _context(entity: Entity, window: str) -> float:
    """:func:`_with_context` on the lower-cased window before the value."""
    near_for = _nearest(entity.context, window)
    near_against = _nearest(entity.against, window)
    confidence = entity.base
    if near_for is not None and (near_against is None or near_for <= near_against):
        confidence += CONTEXT_BOOST - near_for / 1000
    elif near_against is not None:
        confidence -= AGAINST_PENALTY
    return max(0.0, min(1.0, confidence))


def _private_ip(value: str) -> bool:
    import ipaddress  # here: only an IP-address candidate that passed its check

    return ipaddress.ip_address(value).is_private


def _any_word(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whether any of ``words`` occurs at all (whole word or not): the quick test before the exact one.
    ``None`` when there are no words (nothing to look for). Kept per tuple of words (at most 256)."""
    if not words:
        return None
    found = _ANY_WORD.get(words)
    if found is None:
        import re  # a candidate's context: re.escape (re is imported for its window already)

        found = re.compile("|".join(re.escape(w) for w in words))
        if len(_ANY_WORD) >= 256:
            _ANY_WORD.clear()
        _ANY_WORD[words] = found
    return found


_ANY_WORD: dict[tuple[str, ...], re.Pattern[str]] = {}


def _nearest(words: Sequence[str], window: str) -> int | None:
    """How far before the end of ``window`` the nearest of ``words`` (as a whole word) ends."""
    quick = _any_word(tuple(words))
    if quick is None or quick.search(window) is None:
        return None  # the common case, one C call instead of a ``rfind`` per word
    best: int | None = None
    for word in words:
        at = window.rfind(word)
        while at != -1:
            end = at + len(word)
            before = window[at - 1] if at else " "
            after = window[end] if end < len(window) else " "
            if not before.isalnum() and not after.isalnum():
                distance = len(window) - end
                best = distance if best is None else min(best, distance)
                break
            at = window.rfind(word, 0, at)
    return best


def entity_from_policy(item: dict[str, Any]) -> Entity:
    """A custom entity from the policy's ``detect.pii.custom`` list."""
    return custom_entity(
        str(item["name"]),
        str(item["pattern"]),
        context=item.get("context", ()),
        validator=str(item.get("validator", "")),
        base=float(item.get("confidence", 0.6)),
        severity=str(item.get("severity", "medium")),
    )

"""Secret detection: provider rules as YAML data, one multi-pattern pass, Python ``re`` for the values.

Rules live in ``detect/rules/secrets/*.yaml`` (see ``docs/detectors.md`` for the format). Each has a
pattern whose ``secret`` group is the value, keywords that gate it, and optionally a minimum
entropy and a validator (a GitHub token's CRC32, a JWT's header, a card's Luhn digit). A value that
is an obvious placeholder (``EXAMPLE``, ``xxxx``, ``<your-key>``, ``${VAR}``) is suppressed, and so
counted, not reported. Results never hold the value: a keyed fingerprint and a redacted excerpt.
"""

from __future__ import annotations

import binascii
import marshal
import math
import os
import zlib

from .._hashing import sha256
from .._json import loads as json_loads
from .._recache import compile as re_compile
from .._tuples import NamedTuple
from ..errors import ScanError
from ..model import Finding
from .excerpt import excerpts
from .keywords import KeywordIndex, KeywordMatcher, ascii_keywords
from .matcher import DOTALL, Matcher, Pattern, compile_regex, least_width
from .redact import fingerprint

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Any

    from .matcher import Backend

RULES_DIR = os.path.join(os.path.dirname(__file__), "rules", "secrets")
SEVERITIES = ("low", "medium", "high", "critical")
CHUNK = 1 << 20
"""Large inputs are scanned in pieces of this many characters ..."""
OVERLAP = 16 << 10
"""... overlapping by this much, so a secret (a PEM key is a few KB) is never cut in two."""


class SecretRule(NamedTuple):
    id: str
    name: str
    pattern: str
    keywords: tuple[str, ...] = ()
    case_insensitive: bool = False
    min_entropy: float = 0.0
    min_bits: int = 0
    """Least key material (length times bits per character of the value's alphabet) a value must carry."""
    validator: str = ""
    severity: str = "high"
    confidence: float = 0.8
    human_chosen: bool = False
    """The value is chosen by a person (a password), not generated: words in it are no sign of a name."""
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


class RuleError(ScanError, ValueError):
    """A rule file is malformed: the message names the file and the rule."""


# -- loading -------------------------------------------------------------------------------------

_KEYS = frozenset(
    {
        "id",
        "name",
        "pattern",
        "keywords",
        "case_insensitive",
        "min_entropy",
        "min_bits",
        "validator",
        "severity",
        "confidence",
        "human_chosen",
        "examples",
    }
)


def rule_files(folder: str = RULES_DIR) -> list[str]:
    return sorted(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith((".yaml", ".yml")))


def load_rules(files: Sequence[str] | None = None, *, cache_dir: str | None = None) -> tuple[SecretRule, ...]:
    """Parse and check the rule files; with ``cache_dir``, reuse a copy keyed by their content (which
    leaves out the rules' examples: only the tests read those).

    The copy is ``marshal`` data (tuples of strings, numbers and booleans), which a hook reads in a
    quarter of the time JSON took (0.6 against 2.4 ms for 732 rules: no parse, and the tuples come back
    as tuples). It is keyed by the files' names, sizes and CRC-32s (a tenth of the time SHA-256 of their
    450 KB took, 1.2 ms; the key tells versions of the rules apart, it guards against no one: the
    rules and the cache are both files only their owner can change) and by marshal's format version.
    A copy that does not load, or does not hold rules of the current shape, is rebuilt from the YAML."""
    paths, contents, key = _sources(files, cache_dir)
    if cache_dir is not None:
        rows = _cached_rows(cache_dir, key, paths, contents)
        if rows is not None:
            return tuple(SecretRule._make(row) for row in rows)
    rules = _parse(paths, contents)
    if cache_dir is not None:
        _write_rows(cache_dir, key, rules)
    return rules


def rule_rows(cache_dir: str) -> tuple[_Rows | tuple[Any, ...], str]:
    """The shipped rules as the cached rows :func:`load_rules` keeps (``SecretRule._make`` of a row is
    the rule, without its examples), each read on first use, and the key naming their version: the
    hook's scanner makes a rule only of a candidate (reading all 732 cost about as much as the scan of
    a short text)."""
    paths, contents, key = _sources(None, cache_dir)
    rows = _cached_rows(cache_dir, key, paths, contents)
    if rows is None:
        return _write_rows(cache_dir, key, _parse(paths, contents)), key
    return rows, key


def _sources(files: Sequence[str] | None, cache_dir: str | None) -> tuple[list[str], list[bytes], str]:
    """The rule files, their contents and (with ``cache_dir``) the key of their cached copy."""
    paths = list(files) if files is not None else rule_files()
    contents = []
    for path in paths:
        with open(path, "rb") as handle:
            contents.append(handle.read())
    key = ""
    if cache_dir is not None:
        parts = [f"ramparts-secret-rules-v5-marshal-{marshal.version}"]
        for path, data in zip(paths, contents, strict=True):
            parts.append(f"{os.path.basename(path)}:{len(data)}:{zlib.crc32(data):08x}")
        key = sha256("\0".join(parts).encode()).hexdigest()[:32]
    return paths, contents, key


_ROWS = "ramparts-secret-rule-rows"
"""The tag of the cached copy: one ``marshal`` record per rule."""
_WIDTH = len(SecretRule._fields)


class _Rows:
    """The cached rules, one ``marshal`` record each, read on first use of each (checked for shape
    then); a record that is not a row of the current shape has the copy rebuilt from the YAML
    (``rebuild``), which then serves every row."""

    __slots__ = ("_read", "_rebuild", "_records", "_whole")

    def __init__(self, records: tuple[bytes, ...], rebuild: Callable[[], tuple[Any, ...]]) -> None:
        self._records = records
        self._rebuild = rebuild
        self._read: dict[int, tuple[Any, ...]] = {}
        self._whole: tuple[Any, ...] | None = None

    def __len__(self) -> int:
        return len(self._records) if self._whole is None else len(self._whole)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if self._whole is not None:
            return self._whole[index]  # type: ignore[no-any-return]
        row = self._read.get(index)
        if row is None:
            try:
                row = marshal.loads(self._records[index])  # noqa: S302 - as _cached_rows
            except (EOFError, ValueError, TypeError):
                row = None
            if type(row) is not tuple or len(row) != _WIDTH:
                self._whole = self._rebuild()
                return self._whole[index]  # type: ignore[no-any-return]
            self._read[index] = row
        return row

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return (self[i] for i in range(len(self)))


def _cached_rows(cache_dir: str, key: str, paths: Sequence[str], contents: Sequence[bytes]) -> _Rows | None:
    """The cached rows when the copy loads and holds one record per rule, else ``None``."""
    try:
        with open(os.path.join(cache_dir, f"rules-{key}.marshal"), "rb") as handle:
            # the cache folder is the user's private state (0700), as for the Hyperscan databases
            # beside it, which are native code's input too; each row is checked for shape when read
            tag, records = marshal.loads(handle.read())  # noqa: S302
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if tag != _ROWS or type(records) is not tuple or (records and set(map(type, records)) != {bytes}):
        return None
    return _Rows(records, lambda: _write_rows(cache_dir, key, _parse(paths, contents)))


def _write_rows(cache_dir: str, key: str, rules: Sequence[SecretRule]) -> tuple[Any, ...]:
    """Keep the rules' rows in the cache, one record each (the cache is for scanning: without each
    rule's examples, it loads in half the time); the rows kept."""
    rows: Any = tuple(tuple(r._replace(positive=(), negative=())) for r in rules)
    records = tuple(marshal.dumps(row) for row in rows)
    _write_cache(os.path.join(cache_dir, f"rules-{key}.marshal"), marshal.dumps((_ROWS, records)))
    return rows  # type: ignore[no-any-return]


def _parse(paths: Sequence[str], contents: Sequence[bytes]) -> tuple[SecretRule, ...]:
    import re  # here: the rule files are parsed (no cached copy), not on every scan

    import yaml

    out: list[SecretRule] = []
    seen: set[str] = set()
    for path, data in zip(paths, contents, strict=True):
        name = os.path.basename(path)
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise RuleError(f"{name}: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            raise RuleError(f"{name}: expected a mapping with a 'rules' list")
        for i, item in enumerate(doc["rules"]):
            where = f"{name}: rule {i + 1}"
            if not isinstance(item, dict):
                raise RuleError(f"{where}: expected a mapping")
            unknown = set(item) - _KEYS
            if unknown:
                raise RuleError(f"{where}: unknown keys {sorted(unknown)}")
            rid = str(item.get("id", ""))
            if not re.fullmatch(r"[a-z0-9][a-z0-9\-]*", rid):
                raise RuleError(f"{where}: id {rid!r} must be kebab-case")
            if rid in seen:
                raise RuleError(f"{where}: duplicate id {rid!r}")
            seen.add(rid)
            pattern = str(item.get("pattern", ""))
            try:
                re.compile(pattern)
            except re.error as exc:
                raise RuleError(f"{name}: {rid}: bad pattern: {exc}") from exc
            severity = str(item.get("severity", "high"))
            if severity not in SEVERITIES:
                raise RuleError(f"{name}: {rid}: severity must be one of {SEVERITIES}")
            validator = str(item.get("validator", "") or "")
            if validator and validator not in VALIDATORS:
                raise RuleError(f"{name}: {rid}: unknown validator {validator!r}")
            examples = item.get("examples") or {}
            out.append(
                SecretRule(
                    id=rid,
                    name=str(item.get("name", rid)),
                    pattern=pattern,
                    keywords=tuple(str(k).lower() for k in item.get("keywords") or ()),
                    case_insensitive=bool(item.get("case_insensitive", False)),
                    min_entropy=float(item.get("min_entropy", 0.0) or 0.0),
                    min_bits=int(item.get("min_bits", 0) or 0),
                    validator=validator,
                    severity=severity,
                    confidence=float(item.get("confidence", 0.8)),
                    human_chosen=bool(item.get("human_chosen", False)),
                    positive=tuple(str(x) for x in examples.get("positive") or ()),
                    negative=tuple(str(x) for x in examples.get("negative") or ()),
                )
            )
    return tuple(out)


def _write_cache(path: str, data: bytes) -> None:
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # a cache only saves time


# -- checks on a value ------------------------------------------------------------------------------


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


class _Lazy:
    """A module-level regex compiled on its first use, which then takes its place in the module (so every
    later use is the compiled pattern's own, at no cost): the value checks below run only on a
    candidate's match, which most hook processes never meet (compiling them on import cost about 1 ms)."""

    __slots__ = ("_flags", "_name", "_pattern")

    def __init__(self, name: str, pattern: str, flags: int) -> None:
        self._name, self._pattern, self._flags = name, pattern, flags

    def __getattr__(self, attribute: str) -> Any:
        compiled = re_compile(self._pattern, self._flags)
        globals()[self._name] = compiled
        return getattr(compiled, attribute)


def _lazy(name: str, pattern: str, flags: int = 0) -> re.Pattern[str]:
    return _Lazy(name, pattern, flags)  # type: ignore[return-value]  # it stands for the pattern


PLACEHOLDER = _lazy(
    "PLACEHOLDER",
    r"(?i)example|x{4}|\*{4}|your[_\- ]|changeme|change_me|dummy|sample|fake|mock|placeholder|redacted|"
    r"<[^>]{0,40}>|\$\{[^}]{0,60}\}|\{\{[^}]{0,60}\}\}|%\([a-z_]+\)s",
)
SYNTHETIC = _lazy("SYNTHETIC", r"(?i)0123456789|1234567890|abcdefghij|abcdef0123|(.)\1{5,}")
"""Runs no random generator produces; a value with one is more likely made up than real."""


SYNTHETIC_FACTOR = 0.7
"""Confidence factor for a made-up looking value: a provider rule's finding (0.72 and up) stays at or
above ``ramparts scan``'s default 0.5, a generic assignment's (0.4-0.6) drops below it."""


_STAND_IN_WORD = _lazy(
    "_STAND_IN_WORD",
    r"(?i)pass(?:word|wd)?|pwd|secret|token|api[_\-]?key|key|credentials?|user(?:name|[_\-]?id)?|uid|login|"
    r"none|null|nil|undefined|true|false|string|value|test",
)
"""A word that names a field instead of filling it (``curl -u username:password``)."""
_FIELD_WORD_LIST = (
    "my your the some aws api access secret key id token pass password passwd pwd user username userid uid "
    "login credential credentials client auth db app account name"
)
_FIELD_WORDS = frozenset(_FIELD_WORD_LIST.split())


def _field_name(part: str) -> bool:
    """``password``, ``my_secret``, ``access_key_id``, ``myUsername``: only words that name fields."""
    if _STAND_IN_WORD.fullmatch(part):
        return True
    words = [w.lower() for w in _PIECES.findall(part) if w[0].isalpha()]
    letters = sum(len(w) for w in words)
    return (
        bool(words)
        and letters + part.count("_") + part.count("-") == len(part)
        and set(words) <= _FIELD_WORDS
    )


def is_stand_in(value: str) -> bool:
    """A ``user:password`` pair made only of field names (``username:token``, ``user:pass``,
    ``access_key_id:secret_access_key``). A lone ``password`` is not one: in a connection string it is
    as often the real, weak, password."""
    parts = value.split(":")
    return len(parts) == 2 and all(_field_name(p.strip("\"'[](){}<>")) for p in parts)


def is_placeholder(value: str) -> bool:
    """An obvious stand-in rather than a credential (documentation, templates, masked values)."""
    return PLACEHOLDER.search(value) is not None or SYNTHETIC.search(value) is not None or is_stand_in(value)


def alphabet_size(value: str) -> int:
    """The size of the alphabet a value is drawn from: hexadecimal when it fits, else the classes it
    uses (digits, lower and upper case letters) plus each distinct symbol."""
    lowered = value.lower()
    if all(ch in "0123456789abcdef-" for ch in lowered) and (value == lowered or value == value.upper()):
        return 16
    size = len({ch for ch in value if not ch.isalnum()})
    size += 10 * any(ch.isdigit() for ch in value)
    size += 26 * any(ch.islower() for ch in value) + 26 * any(ch.isupper() for ch in value)
    return max(size, 2)


def key_bits(value: str) -> float:
    """How much key material a value can hold: its length times log2 of its alphabet's size.
    16 hex digits hold 64 bits; 16 base62 characters, 95."""
    return len(value) * math.log2(alphabet_size(value)) if value else 0.0


def random_entropy(length: int, size: int) -> float:
    """The Shannon entropy a random string of ``length`` characters from ``size`` symbols shows on
    average (the exact expectation over each symbol's binomial count). Short strings and small
    alphabets show less than log2(size): 32 random hex digits average 3.61 bits, 16 random digits 2.84.
    Kept per ``(length, size)`` (at most :data:`_RANDOM_ENTROPY_MAX` of them)."""
    found = _random_entropy.get((length, size))
    if found is None:
        p = 1.0 / size
        expected = sum(
            math.comb(length, c) * p**c * (1 - p) ** (length - c) * c * math.log2(c)
            for c in range(2, length + 1)
        )
        found = math.log2(length) - size * expected / length
        if len(_random_entropy) >= _RANDOM_ENTROPY_MAX:
            _random_entropy.clear()
        _random_entropy[(length, size)] = found
    return found


_random_entropy: dict[tuple[int, int], float] = {}
_RANDOM_ENTROPY_MAX = 4096


ENTROPY_MARGIN = 0.4
"""How far below a random string's average entropy a value may fall and still pass: about three
standard deviations at 16 to 32 characters."""


def low_entropy(value: str, minimum: float, *, generated: bool = True) -> bool:
    """Below the rule's ``min_entropy`` (stated for its widest alphabet) and, for a generated hex or
    decimal value, also below what a random value of that length and alphabet shows: a random hex or
    decimal key cannot reach a threshold set for base62, and is not held to it. A value a person chose (a
    password) is held to the rule's threshold: its alphabet says nothing about how it was made."""
    measured = entropy(value)
    if measured >= minimum:
        return False
    size = alphabet_size(value)
    if not generated or size > 16:
        return True  # letters: a low figure means repetition or words, not a small alphabet
    return measured < random_entropy(min(len(value), 128), size) - ENTROPY_MARGIN


_NOT_ALNUM = _lazy("_NOT_ALNUM", r"[^a-z0-9]")
_ECHO_NOUNS = (
    ("password", "passwd", "passphrase", "pwd"),
    ("secret",),
    ("token",),
    ("apikey",),
    ("credential",),
)


def echoes_name(value: str, name: str) -> bool:
    """``password = "password"``, ``API_KEY=api-key``, ``TEST_PASSWORD = "test_password"``: a value
    that repeats the name it is assigned to, or the secret noun in it, labels the field instead of
    filling it (a template's or a test's stand-in). A rule marks the name with a ``name`` group."""
    bare = _NOT_ALNUM.sub("", value.lower().translate(_UNLEET))  # P@55w0rd spells password
    bare_name = _NOT_ALNUM.sub("", name.lower())
    if len(bare) >= 3 and bare in bare_name:
        return True
    return any(
        any(noun in bare for noun in family) and any(noun in bare_name for noun in family)
        for family in _ECHO_NOUNS
    )


_UNLEET = str.maketrans("0134578@$", "oieastbas")
_SECRET_NOUNS = ("password", "passwd", "passphrase", "passw", "pwd", "pswd", "secret", "token", "key", "cred")
_SECRET_ENDINGS = _SECRET_NOUNS + tuple(f"{n}s" for n in _SECRET_NOUNS) + ("credential", "credentials")
_QUALIFIER_WORDS = (
    "value val str string raw plain plaintext b64 base64 hex enc encoded prod production dev development "
    "test testing staging stage live sandbox local default new old current confirm confirmation again "
    "repeat here"
)
_QUALIFIERS = frozenset(_QUALIFIER_WORDS.split())


def names_a_secret(name: str) -> bool:
    """Whether an assignment's name says its value is a secret: its last word (after digits and
    qualifiers such as ``_prod`` or ``_b64``) ends in a secret noun (``db_password``, ``apiToken``,
    ``AWS_SECRET_ACCESS_KEY``, ``password2``). ``token_type``, ``password_change_template``,
    ``SecretTargetAttachment``, ``passenv`` and ``IPAssociation`` name something else; a bare ``pass``
    counts only as a whole word (``DB_PASS``, not ``bypass``)."""
    words: list[str] = [p.lower() for p in _PIECES.findall(name) if p[0].isalpha()]
    while words and words[-1] in _QUALIFIERS:
        words.pop()
    if not words:
        return False
    last = words[-1]
    return last == "pass" or last.endswith(_SECRET_ENDINGS)


_PIECES = _lazy("_PIECES", r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[^A-Za-z]+")
_VOWELS = frozenset("aeiouy")
_SEPARATORS = frozenset("_-. /:")
_SHORT_WORD_LIST = "a an as at be by db do go id if in io is it me my no of ok on or os so to up us we"
_SHORT_WORDS = frozenset(_SHORT_WORD_LIST.split())


def _word_like(piece: str) -> bool:
    """One piece of a name: pronounceable (a vowel at least every few letters), a short acronym, or
    one of the few one- and two-letter words names use."""
    lower = piece.lower()
    if len(piece) <= 2:
        return lower in _SHORT_WORDS or piece.isupper()  # AI, ML, IO
    vowels = sum(ch in _VOWELS for ch in lower)
    if not vowels:
        return len(piece) <= 4 and (piece.isupper() or len(piece) == 3)  # HTTP, XML, Vpn, Dns
    run = longest = 0
    for ch in lower:
        run = 0 if ch in _VOWELS else run + 1
        longest = max(longest, run)
    return longest <= (4 if len(piece) >= 7 else 3) and vowels * 6 >= len(piece)


def is_identifier(value: str) -> bool:
    """A name made of words (``StackRefactorActions``, ``content-transfer-encoding``,
    ``SYMMETRIC_DEFAULT``) rather than generated key material.

    Generated values of 16 or more characters almost always hold a digit (all but 6 % of base62 ones,
    all but 0.4 % at 32 characters), and the few that do not split into pronounceable camel-case or
    snake-case pieces less than one time in 300: a value with no digit whose every piece reads as a word
    is a name (a dictionary key, a type, a setting), not a secret. Not applied to values a person
    chooses (``human_chosen`` rules), where a passphrase of words is a real one."""
    if any(ch.isdigit() for ch in value):
        return False
    letters = words = 0
    for piece in _PIECES.findall(value):
        if piece[0].isalpha():
            if not _word_like(piece):
                return False
            letters += len(piece)
            words += 1
        elif not set(piece) <= _SEPARATORS:
            return False
    return letters >= 8 and letters >= 4 * words  # words, not the short runs a random string splits into


_CALL = _lazy("_CALL", r"[A-Za-z_$][\w$]*(?:(?:\.|->|::)[A-Za-z_$][\w$]*)*[(\[]")
_ATTRIBUTE = _lazy("_ATTRIBUTE", r"[A-Za-z_]+[0-9]{0,2}(?:(?:\.|->|::)[A-Za-z_]+[0-9]{0,2})+")
_COMPOUND = _lazy("_COMPOUND", r"[a-z][A-Z]|[A-Za-z]_[A-Za-z]")


def is_reference(value: str) -> bool:
    """An unquoted value that reads as code, naming a value instead of being one: a call or a
    subscript (``get_password()``, ``CharField(``, ``Optional[str]``), an attribute path (``settings.SECRET_KEY``, ``user.pass_word``)
    or a compound variable name (``raw_password``, ``newPassword``)."""
    return (
        (_CALL.match(value) is not None and value[-1] in ")]([,:")
        or _ATTRIBUTE.fullmatch(value) is not None
        or (_COMPOUND.search(value) is not None and is_identifier(value))
    )


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(number: int, width: int) -> str:
    out = ""
    while number:
        number, digit = divmod(number, 62)
        out = _BASE62[digit] + out
    return out.rjust(width, "0")


def github_crc32(value: str) -> bool:
    """GitHub's classic token format: 30 random base62 characters, then their CRC32 in 6 base62 digits."""
    body = value.rsplit("_", 1)[-1]
    if len(body) != 36:
        return False
    return _base62(zlib.crc32(body[:30].encode()) & 0xFFFFFFFF, 6) == body[30:]


def _b64url(part: str) -> bytes:
    import base64  # only a JWT-shaped match gets here: not imported by a hook that meets none

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt(value: str) -> bool:
    """Two or three base64url parts (an unsigned token has no third) whose header is JSON naming an
    algorithm."""
    parts = value.split(".")
    if len(parts) not in (2, 3):
        return False
    try:
        header = json_loads(_b64url(parts[0]))
    except (ValueError, binascii.Error):
        return False
    return isinstance(header, dict) and "alg" in header


def luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) < 12:
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return total % 10 == 0


_PEM = _lazy("_PEM", r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", DOTALL)


def pem(value: str) -> bool:
    """A whole PEM block whose body is base64 of a plausible key size."""
    match = _PEM.search(value)
    if match is None:
        return False
    body = "".join(line for line in match.group(2).splitlines() if line and ":" not in line)
    import base64  # only a PEM-shaped match gets here

    try:
        raw = base64.b64decode(body, validate=True)
    except (ValueError, binascii.Error):
        return False
    return len(raw) >= 32


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "github_crc32": github_crc32,
    "jwt": jwt,
    "luhn": luhn,
    "pem": pem,
}
STRICT_VALIDATORS = frozenset({"jwt", "luhn"})
"""A value failing these is not the thing at all; failing the others (a checksum, a truncated key
in a fixture) only lowers the confidence."""


# -- scanning ---------------------------------------------------------------------------------------


class Hit(NamedTuple):
    """A match before it becomes a :class:`Finding` (the value is still here: internal only)."""

    rule: SecretRule
    start: int
    end: int
    value: str
    confidence: float
    suppressed: str
    """Why it is not reported ('' when it is): ``placeholder`` (a stand-in, or a value repeating its
    name), ``name`` (assigned to a name that is not a secret's: ``token_type``), ``reference`` (code or a
    name made of words, not a value), ``entropy``, ``validator``."""


if TYPE_CHECKING:
    Verifier = Callable[[SecretRule, str], "bool | None"]
    """Checks a value against its provider: True live, False revoked or fake, None unknown (no answer)."""
_VERIFIERS: dict[str, Verifier] = {}


def register_verifier(rule_prefix: str, verifier: Verifier) -> None:
    """Plug in live verification for rules whose id starts with ``rule_prefix`` (``github-``).

    Ramparts ships none and never calls one unless a scanner is built with ``verify=True``: asking a
    provider whether a credential works sends it over the network, which a security team must choose.
    A verified value is reported with confidence 1.0; one the provider rejects is suppressed
    (``suppressed="verified-invalid"``); an error or no answer leaves the finding as it was.
    """
    _VERIFIERS[rule_prefix] = verifier


def unregister_verifier(rule_prefix: str) -> None:
    _VERIFIERS.pop(rule_prefix, None)


KEYWORD_TEXT_MAX = 64 * 1024
"""Longest text a keywords-only matcher (the hook's) prefilters; a longer one loads the rules' own
database: with every rule whose keyword occurs run over the whole text, a long text would cost more
than that database's load (about 6 ms)."""


class SecretScanner:
    """All rules compiled once; ``scan`` any number of texts."""

    def __init__(
        self,
        rules: Sequence[SecretRule] | None = None,
        *,
        backend: Backend | str = "auto",
        cache_dir: str | None = None,
        verify: bool = False,
        keyword_database: bool | None = None,
        on_cold: Callable[[], object] | None = None,
    ) -> None:
        """``keyword_database`` (default: with ``backend="cached"``, the hook's): prefilter texts up to
        ``KEYWORD_TEXT_MAX`` with the rules' keywords alone (:class:`Matcher`), whose database loads in
        a fraction of the time; the same findings (each candidate is run over the text).

        ``on_cold``: called when a text needs a compiled database that is not in the cache (with
        ``backend="cached"``, whose keywords-only matcher loads none up front)."""
        self.verify = verify
        self._backend = backend
        self._cache_dir = cache_dir
        self._on_cold = on_cold
        self._compiled: dict[int, tuple[Any, int, int, int]] = {}
        self._rules: tuple[SecretRule, ...] | None = tuple(rules) if rules is not None else None
        self._rows: _Rows | tuple[Any, ...] = ()
        self._made: dict[int, SecretRule] = {}
        self._full: Matcher | None = None
        self._engine = "auto"
        self.matcher: Matcher | KeywordMatcher
        if backend == "cached" and keyword_database is not False:
            keyword_matcher = self._keyword_matcher(cache_dir, on_cold)
            if keyword_matcher is not None:
                self.matcher = keyword_matcher
                return
        if self._rules is None and not self._rows:
            self._rules = load_rules(cache_dir=cache_dir)
        self.matcher = Matcher(
            self._patterns(),
            backend=backend,  # type: ignore[arg-type]
            cache_dir=cache_dir,
            keyword_database=backend == "cached" if keyword_database is None else keyword_database,
        )
        self._full = None if self.matcher.keywords_only else self.matcher
        self._engine = "re" if self.matcher.backend == "re" else "auto"

    def _keyword_matcher(
        self, cache_dir: str | None, on_cold: Callable[[], object] | None
    ) -> KeywordMatcher | None:
        """The hook's prefilter (:class:`.keywords.KeywordMatcher`) over these rules' keywords, its index
        from the cache (keyed as the rules' cached copy, or by the given rules' keywords); ``None`` when
        a keyword is not plain ASCII (the usual :class:`Matcher` then)."""
        if self._rules is None and cache_dir is not None:
            self._rows, key = rule_rows(cache_dir)
        elif self._rules is None:
            self._rules = load_rules()
        rows: Any = self._rows or self._rules or ()

        def keywords() -> list[tuple[str, ...]]:
            return [row[3] for row in rows]  # SecretRule.keywords

        def widths() -> list[int]:
            return [least_width(row[2], row[4]) for row in rows]  # SecretRule.pattern, case_insensitive

        try:
            if cache_dir is None:
                index = KeywordIndex.build(ascii_keywords(keywords()), widths())
            else:
                if self._rules is not None:  # keyed by what the index holds: keywords, patterns, flags
                    key = sha256(marshal.dumps(tuple((r[2], r[3], r[4]) for r in rows))).hexdigest()[:32]
                index = KeywordIndex.cached(lambda: ascii_keywords(keywords()), cache_dir, key, widths)
        except ValueError:
            return None
        return KeywordMatcher(index, keywords, cache_dir=cache_dir, on_cold=on_cold)

    @property
    def rules(self) -> tuple[SecretRule, ...]:
        """Every rule (made from the cached rows on first use, when the scanner was built from them)."""
        if self._rules is None:
            self._rules = tuple(SecretRule._make(row) for row in self._rows)
        return self._rules

    def _rule(self, index: int) -> SecretRule:
        if self._rules is not None:
            return self._rules[index]
        rule = self._made.get(index)
        if rule is None:
            rule = self._made[index] = SecretRule._make(self._rows[index])
        return rule

    def _patterns(self) -> list[Pattern]:
        return [Pattern(r.pattern, r.keywords, r.case_insensitive) for r in self.rules]

    def _matcher_for(self, text: str) -> Matcher | KeywordMatcher:
        """The keywords-only matcher for a short text, else the rules' own (loaded on first need)."""
        if self._full is not None:
            return self._full
        if len(text) <= KEYWORD_TEXT_MAX:
            return self.matcher
        self._full = Matcher(self._patterns(), backend=self._backend, cache_dir=self._cache_dir)  # type: ignore[arg-type]
        if self._full.cold and self._on_cold is not None:
            self._on_cold()
        if self._full.backend == "re":
            self._engine = "re"  # as when the scanner was built on the re backend
            self._compiled.clear()
        return self._full

    @property
    def backend(self) -> str:
        return self.matcher.backend

    def expect(self, characters: int) -> None:
        """A hint that about this many characters are about to be scanned, in one text or several (see
        :meth:`.keywords.KeywordMatcher.expect`); nothing for another matcher."""
        if isinstance(self.matcher, KeywordMatcher):
            self.matcher.expect(characters)

    def _regex(self, index: int) -> tuple[Any, int, int, int]:
        """The compiled rule and the numbers of its ``secret`` group (0: the whole match) and of its
        optional ``name`` (what the value is assigned to) and ``user`` (the account it goes with) groups."""
        found = self._compiled.get(index)
        if found is None:
            rule = self._rule(index)
            regex = compile_regex(rule.pattern, rule.case_insensitive, engine=self._engine)
            groups = regex.groupindex
            found = (regex, groups.get("secret", 0), groups.get("name", 0), groups.get("user", 0))
            self._compiled[index] = found
        return found

    def hits(self, text: str, *, limit: int | None = None) -> list[Hit]:
        """Every match, reported or suppressed, in order; only the first ``limit`` characters."""
        if limit is not None:
            text = text[:limit]
        out: dict[tuple[str, int], Hit] = {}
        matcher = self._matcher_for(text)
        for offset in range(0, max(len(text), 1), CHUNK):
            piece = text[offset : offset + CHUNK + OVERLAP]
            for index in matcher.candidates(piece):
                rule = self._rule(index)
                regex, group, name, user = self._regex(index)
                for match in regex.finditer(piece):
                    hit = _check(rule, match, (group, name, user), offset)
                    if hit is not None:
                        out.setdefault((rule.id, hit.start), hit)
            if offset + CHUNK >= len(text):
                break
        return _one_per_span(out.values())

    def scan(self, text: str, key: bytes, *, limit: int | None = None, excerpt: bool = True) -> list[Finding]:
        """Reported findings: fingerprints and redacted excerpts, never the values. ``excerpt=False``:
        every excerpt empty, for a caller that makes them itself (:class:`.scanner.Detectors`)."""
        hits = [h for h in self.hits(text, limit=limit) if not h.suppressed]
        if self.verify:
            hits = [h for h in map(_verified, hits) if not h.suppressed]
        return to_findings(text, hits, key, excerpt=excerpt)


def _verified(hit: Hit) -> Hit:
    for prefix, verifier in _VERIFIERS.items():
        if hit.rule.id.startswith(prefix):
            try:
                answer = verifier(hit.rule, hit.value)
            except Exception:  # noqa: BLE001 - a plug-in's failure must not lose the finding
                return hit
            if answer is True:
                return hit._replace(confidence=1.0)
            if answer is False:
                return hit._replace(suppressed="verified-invalid")
            return hit
    return hit


def _one_per_span(hits: Iterable[Hit]) -> list[Hit]:
    """Where reported matches overlap (a provider rule and the generic ``api_key=`` rule on one value),
    the most confident one is reported and the others are kept as ``suppressed="overlap"``."""
    ranked = sorted(hits, key=lambda h: (bool(h.suppressed), -h.confidence, h.start, h.rule.id))
    taken: list[tuple[int, int]] = []
    out: list[Hit] = []
    for hit in ranked:
        if not hit.suppressed:
            if any(hit.start < end and start < hit.end for start, end in taken):
                hit = hit._replace(suppressed="overlap")
            else:
                taken.append((hit.start, hit.end))
        out.append(hit)
    return sorted(out, key=lambda h: (h.start, h.rule.id))


def _check(rule: SecretRule, match: Any, groups: tuple[int, int, int], offset: int) -> Hit | None:
    group, name_group, user_group = groups
    value = match.group(group)
    if not value:
        return None
    start, end = match.start(group) + offset, match.end(group) + offset
    confidence = rule.confidence
    suppressed = ""
    name = match.group(name_group) if name_group else None
    user = match.group(user_group) if user_group else None
    before = match.start(group) - 1
    quoted = before >= 0 and match.string[before] in "\"'`"
    if SYNTHETIC.search(value):
        confidence = round(confidence * SYNTHETIC_FACTOR, 3)  # a consumer may want more before it blocks
    if (
        PLACEHOLDER.search(value)
        or is_stand_in(value)
        or (name and echoes_name(value, name))
        or (user and is_stand_in(f"{user}:{value}"))
    ):
        suppressed = "placeholder"
    elif name is not None and not names_a_secret(name):
        suppressed = "name"
    elif (name is not None and not quoted and is_reference(value)) or (
        not rule.human_chosen and is_identifier(value)
    ):
        suppressed = "reference"
    elif (rule.min_entropy and low_entropy(value, rule.min_entropy, generated=not rule.human_chosen)) or (
        rule.min_bits and key_bits(value) < rule.min_bits
    ):
        suppressed = "entropy"
    elif rule.validator:
        if VALIDATORS[rule.validator](match.group(0) if rule.validator == "pem" else value):
            confidence = max(confidence, 0.99) if rule.validator == "github_crc32" else confidence
        elif rule.validator in STRICT_VALIDATORS:
            suppressed = "validator"
        else:
            confidence = round(confidence * 0.6, 3)
    return Hit(rule, start, end, value, confidence, suppressed)


def line_index(text: str) -> Callable[[int], int]:
    """``line(offset)``: the 1-based line of an offset; cheap when asked in increasing order."""
    state = [0, 1]  # last offset asked, its line

    def line(offset: int) -> int:
        last, number = state
        if offset >= last:
            number += text.count("\n", last, offset)
        else:
            number = text.count("\n", 0, offset) + 1
        state[0], state[1] = offset, number
        return number

    return line


def to_findings(text: str, hits: Sequence[Hit], key: bytes, *, excerpt: bool = True) -> list[Finding]:
    line = line_index(text)
    shown = excerpts(text, [(h.start, h.end, h.rule.id) for h in hits], key) if excerpt else [""] * len(hits)
    return [
        Finding(
            detector=hit.rule.id,
            category="secret",
            severity=hit.rule.severity,  # type: ignore[arg-type]
            confidence=hit.confidence,
            start=hit.start,
            end=hit.end,
            line=line(hit.start),
            fingerprint=fingerprint(hit.value, key),
            excerpt=shown[i],
        )
        for i, hit in enumerate(hits)
    ]

"""Keyed fingerprints and redacted excerpts: what records, logs and reports carry instead of values.

The full secret detectors arrive with their own issue; until then :func:`redact_text` masks every
long token that looks like key material (high character entropy or a known credential prefix) and
the value of ``password=``/``token:``-style assignments, so audit summaries never carry one whole.
"""

from __future__ import annotations

import math
import os

from .._hashing import blake2b
from .._recache import compile as re_compile

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

KEY_BYTES = 32
_TOKEN = re_compile(r"[A-Za-z0-9+/_\-.=~:]{16,}")
_FIELDS = (
    # (name, source): each compiled on first use (``_fields``), since most texts need none of them
    (
        "assign",
        r"(?i)((?:pass(?:word|wd)?|secret|token|api[_-]?key|access[_-]?key|auth|credential|private[_-]?key)"
        r"[\"']?\s*[:=]\s*[\"']?)((?!«)[^\s\"'&;]{4,})",
    ),
    ("bearer", r"(?i)(bearer\s+|basic\s+)([A-Za-z0-9+/_\-.=~]{8,})"),
    ("userinfo", r"(?i)([a-z][a-z0-9+.\-]*://[^/\s:@]+:)([^/\s@]+)(@)"),
    (
        "query",
        r"(?i)([?&](?:key|api_?key|token|access_token|secret|sig|signature|password|passwd|pwd|pass|auth|code)=)"
        r"([^&\s#'\"]+)",
    ),
    ("option", r"(?i)((?:--password|--passwd|--token|--secret|--api-key)(?:=|\s+))(\S+)"),
    ("sshpass", r"(sshpass\s+-p\s*)(\S+)"),
    ("mysql", r"\b(?:mysql|mysqldump|mysqladmin|mariadb)\b"),
)
_MYSQL_P = r"(?<!\S)(-p)(\S{3,})"


def _scoped(source: str) -> str:
    return f"(?i:{source[4:]})" if source.startswith("(?i)") else f"(?:{source})"


_compiled: dict[str, re.Pattern[str]] = {}


def _fields() -> dict[str, re.Pattern[str]]:
    """The field patterns, compiled on first use: about 2 ms that a hook whose texts have no ``:``,
    ``=``, ``--``, ... (``_may_have_field``) never pays. ``any`` says whether any of them occurs at all:
    when none does, none of their substitutions (each over the previous one's unchanged output) changes
    anything, and only ``_TOKEN`` is left to run."""
    if not _compiled:
        out = {name: re_compile(source) for name, source in _FIELDS}
        out["mysql_p"] = re_compile(_MYSQL_P)
        out["any"] = re_compile("|".join(_scoped(source) for _, source in _FIELDS))
        _compiled.update(out)
    return _compiled


def _may_have_field(text: str) -> bool:
    """False only when no field pattern can match. On ASCII text each needs ``=``, ``--``, ``://``,
    ``bearer``/``basic`` in any case, ``sshpass`` or ``mysql``/``mariadb``, or a ``:`` with one of the
    assignment's key words (``pass``, ``secret``, ``token``, ``key``, ``auth``, ``credential``) in any
    case: a reason such as ``session_start: nothing to stop`` needs none (non-ASCII text gets the full
    test: under IGNORECASE, ``ſ`` matches ``s`` and the Kelvin sign ``k``)."""
    if not text.isascii():
        return True
    if (
        "=" in text
        or "--" in text
        or "://" in text
        or "sshpass" in text
        or "mysql" in text
        or "mariadb" in text
    ):
        return True
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        return True
    return ":" in text and any(word in lowered for word in _ASSIGN_WORDS)


_ASSIGN_WORDS = ("pass", "secret", "token", "key", "auth", "credential")
"""What the assignment pattern's key names all contain (``api_key``, ``access-key``, ``private_key``
contain ``key``)."""


_PREFIXES = (
    "sk-",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "xox",
    "AKIA",
    "ASIA",
    "glpat-",
    "npm_",
    "pypi-",
    "hf_",
)


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def load_key(path: str) -> bytes:
    """Read the per-install fingerprint key, creating it (mode 0600) on first use."""
    try:
        key = _read(path)
        if len(key) == KEY_BYTES:
            return key
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    key = os.urandom(KEY_BYTES)
    tmp = os.path.join(
        os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(6).hex()}"
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # first writer wins; a concurrent hook then reads the winner's key
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    key = _read(path)
    if len(key) != KEY_BYTES:
        raise OSError(f"fingerprint key {path} is corrupt")
    return key


def fingerprint(value: str | bytes, key: bytes) -> str:
    """A keyed, non-reversible fingerprint of a value: ``b2mac:`` and 16 hex digits.

    BLAKE2b in its keyed (MAC) mode, with a per-install key: without the key a fingerprint cannot be
    checked against guesses, so short secrets cannot be brute-forced from audit records.
    """
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    digest: str = blake2b(data, key=key, digest_size=8, person=b"ramparts-fp").hexdigest()
    return "b2mac:" + digest


def _entropy(token: str) -> float:
    counts: dict[str, int] = {}
    for ch in token:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_secret(token: str) -> bool:
    if token.startswith(_PREFIXES):
        return True
    if "/" in token and token.count("/") >= 2 and _entropy(token) < 4.5:
        return False  # a path
    classes = sum(bool(re_compile(p).search(token)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    return len(token) >= 20 and classes >= 2 and _entropy(token) >= 3.5


def redact_text(text: str, key: bytes, limit: int = 240) -> str:
    """Mask likely secrets in ``text`` (each as ``«redacted b2mac:…»``) and cut it to ``limit``."""

    def mask(value: str) -> str:
        return f"«redacted {fingerprint(value, key)}»"

    def keep_first(m: re.Match[str]) -> str:
        return m.group(1) + mask(m.group(2)) + (m.group(3) if m.lastindex == 3 else "")

    out = text
    fields = _fields() if _may_have_field(text) else None
    if fields is not None and fields["any"].search(text) is not None:  # most texts have none
        out = fields["assign"].sub(keep_first, text)
        for name in ("bearer", "userinfo", "query", "option", "sshpass"):
            out = fields[name].sub(keep_first, out)
        if fields["mysql"].search(out):
            out = fields["mysql_p"].sub(keep_first, out)
    out = _TOKEN.sub(
        lambda m: (
            mask(m.group(0))
            if _looks_secret(m.group(0)) and not m.group(0).startswith("b2mac:")
            else m.group(0)
        ),
        out,
    )
    if len(out) > limit:
        out = out[:limit] + f"… [{len(text)} chars]"
    return out


class Redactor:
    """Fingerprints and redaction bound to one install key."""

    def __init__(self, key: bytes, limit: int = 240) -> None:
        self._key = key
        self._limit = limit

    def fingerprint(self, value: str | bytes) -> str:
        return fingerprint(value, self._key)

    def text(self, value: str) -> str:
        return redact_text(value, self._key, self._limit)

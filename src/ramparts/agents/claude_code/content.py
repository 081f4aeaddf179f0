"""What the hook scans before deciding: files a call would read, the prompt, a tool's result.

I/O lives here (reading files, bounded); the findings go into :class:`~ramparts.model.Content`
values on the event, and :func:`ramparts.engine.decide` turns them into a decision. The text itself
never leaves this module: findings carry keyed fingerprints and redacted excerpts only.
"""

from __future__ import annotations

import os
import time

from ..._tuples import NamedTuple
from ...model import Content, Event, ToolCall

TYPE_CHECKING = False
if TYPE_CHECKING:  # the detectors are imported only when something is scanned
    from collections.abc import Iterator
    from typing import Any

    from ...detect.scanner import Category, Detectors
    from ...policy.types import Policy

SCANNED_RESULTS = frozenset(
    {"Bash", "BashOutput", "Read", "NotebookRead", "Grep", "WebFetch", "WebSearch", "Agent", "Task"}
)
"""Tools whose results carry outside text into the model (``mcp__*`` tools too)."""
MAX_FILES = 4096
"""Files a recursive read may scan before the rest is counted as unscanned (the bounded listing's size)."""
ALWAYS_FILES = 256
"""Files always scanned; past them the scan goes on while it is within its time budget (a quarter of
the hook's deadline), so ``git diff`` over 300 changed files is scanned, not asked about unseen."""
_DEVICES = ("/dev/", "/proc/", "/sys/")
_KEEP = frozenset({"type", "filePath", "file_path", "path", "url", "mode", "codeText", "tool_use_id"})
"""Keys of a tool result whose string values describe it rather than carry its text."""


def detectors_for(policy: Policy, categories: tuple[Category, ...], cache_dir: str) -> Detectors:
    """The policy's detectors, built within the hook's deadline: Hyperscan from the cache when it is
    there, else ``re`` (same findings), and a background warm-up builds the cache for the next call.
    The secret scanner looks a short text's keywords up without any database; a long text's scan that
    finds the database it needs missing starts the warm-up then.

    A process that serves many events (the resident hook server, which serves them one at a time)
    keeps the warm ones it loaded, so only its first event of a kind pays for loading them."""
    from ...detect.scanner import Detectors

    key = (policy.detect, categories, cache_dir)
    loaded = _LOADED.get(key)
    if loaded is not None:
        return loaded
    detectors = Detectors.from_settings(
        policy.detect,
        categories,
        cache_dir=cache_dir,
        backend="cached",
        on_cold=lambda: warm_in_background(cache_dir),  # a database a long text needs is not there
    )
    if "injection" in categories:
        from ...detect.injection import load_model_cached

        load_model_cached(
            cache_dir
        )  # the classifier's weights through their fast copy (first call writes it)
    if detectors.cold:
        warm_in_background(cache_dir)
    else:
        if len(_LOADED) >= 8:
            _LOADED.clear()
        _LOADED[key] = detectors
    return detectors


_LOADED: dict[tuple[object, ...], Detectors] = {}
_WARM = "import sys; sys.path.insert(0, sys.argv.pop(1)); from ramparts.cli import main; sys.exit(main())"
"""``python -I -c _WARM ROOT scan --warm ...``: the CLI of the Ramparts in ROOT (``-I`` keeps PYTHONPATH out)."""


def _ramparts_root() -> str:
    """The folder holding the ``ramparts`` package this code is."""
    import ramparts

    return os.path.dirname(os.path.dirname(os.path.abspath(ramparts.__file__)))


def warm_in_background(cache_dir: str) -> None:
    """Start ``ramparts scan --warm`` detached and at low priority (so it does not slow the hooks of the
    session that needs it), unless one started for this cache in the last two minutes.

    It runs the Ramparts this hook runs (its folder first on the path), not whatever ``-m ramparts``
    finds: the databases it builds are the ones this code loads (another tree's may be keyed apart)."""
    import sys

    marker = os.path.join(cache_dir, "warming")
    try:
        os.makedirs(os.path.dirname(marker), exist_ok=True)
        if os.path.exists(marker) and time.time() - os.path.getmtime(marker) < 120:
            return
    except OSError:
        return  # only a speed-up: the next call falls back to re again
    import subprocess  # only here, where a warm-up is really started (it imports signal, selectors...)

    try:
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write(str(os.getpid()))
        argv = [
            sys.executable,
            "-I",
            "-c",
            _WARM,
            _ramparts_root(),
            "scan",
            "--warm",
            "--cache-dir",
            cache_dir,
        ]
        if os.name == "posix":
            # a short-lived sh puts the warm-up in the background and exits at once: nothing of it is
            # left for this process to wait for (the words are sh's arguments, never parsed as code)
            launcher = ["/bin/sh", "-c", 'exec "$@" </dev/null >/dev/null 2>&1 &', "sh", *argv]
            subprocess.run(launcher, check=False, timeout=5, start_new_session=True)
        else:  # pragma: no cover - Windows
            _BACKGROUND.append(
                subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
    except (OSError, subprocess.SubprocessError):
        pass  # only a speed-up: the next call falls back to re again


_BACKGROUND: list[Any] = []
"""Windows: warm-up processes still running, kept so they are not reaped as garbage mid-run."""


# -- before a read ------------------------------------------------------------------------------------


def read_targets(call: ToolCall) -> Iterator[str]:
    """Regular files the call reads (recursive reads: the files of their bounded listing)."""
    for access in call.accesses:
        if access.mode != "read" or access.path.startswith(_DEVICES):
            continue
        if access.recursive:
            for path in access.below or ():
                if os.path.isfile(path):
                    yield path
        elif os.path.isfile(access.path):
            yield access.path


def scan_reads(call: ToolCall, policy: Policy, detectors: Detectors, key: bytes) -> tuple[Content, ...]:
    """Scan each file the call would read, up to ``dlp.max_scan_bytes`` in all.

    Nothing read is ever passed over silently: a file cut at the limit is ``truncated``, a file left
    when the budget ran out, past ``MAX_FILES`` or below a folder too big to list carries an ``error``,
    and the engine asks for each rather than lets it through unseen.
    """
    limit = policy.dlp.max_scan_bytes
    budget = limit
    out: list[Content] = []
    decoding = decodes(call)
    start = time.monotonic()
    seconds = policy.hook.deadline_ms / 4000
    for access in call.accesses:
        if (
            access.recursive
            and access.mode == "read"
            and access.below is None
            and os.path.isdir(access.path)
            and not access.path.startswith(_DEVICES)
        ):
            out.append(Content("file", access.path, error="too many files below it to list and scan"))
    targets = list(dict.fromkeys(read_targets(call)))
    if len(targets) > 1:
        detectors.expect(min(limit, sum(_size(path) for path in targets[:MAX_FILES])))
    for n, path in enumerate(targets):
        if n >= MAX_FILES:
            out.append(Content("file", path, error=f"more than {MAX_FILES} files to scan"))
            break
        if n >= ALWAYS_FILES and time.monotonic() - start > seconds:
            out.append(Content("file", path, error=f"the scan's time budget ran out after {n} files"))
            break
        if budget <= 0:
            out.append(Content("file", path, error=f"the scan budget of {limit} bytes ran out before it"))
            continue
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as handle:
                data = handle.read(budget)
        except OSError as exc:
            if isinstance(exc, FileNotFoundError):
                continue  # nothing to read: the tool will say so
            out.append(Content("file", path, error=exc.strerror or type(exc).__name__))
            continue
        budget -= len(data)
        findings: dict[tuple[str, int, int, str], Any] = {}
        texts = decodings(data)
        if data.startswith(b"%PDF-"):
            pdf = pdf_text_of(data, cut=size > len(data), seconds=policy.hook.deadline_ms / 2000)
            if isinstance(pdf, Unreadable):
                out.append(Content("file", path, error=pdf.why))
                continue
            texts.append(pdf)
        cut = False
        if decoding:  # what the command prints is the decoded content: scan that too
            views, cut, why = decoded_views(data, limit)
            if why:
                out.append(Content("file", path, error=why))
                continue
            texts = [*texts, *(text for view in views for text in decodings(view))]
        for text in texts:
            for finding in detectors.scan(text, key, categories=("secret",)):
                findings.setdefault(
                    (finding.detector, finding.line, finding.start, finding.fingerprint), finding
                )
        out.append(Content("file", path, tuple(findings.values()), truncated=size > len(data) or cut))
    return tuple(out)


def _size(path: str) -> int:
    """A file's size, 0 when it cannot be had (the scan below says why)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Unreadable(NamedTuple):
    why: str


def pdf_text_of(data: bytes, *, cut: bool, seconds: float) -> str | Unreadable:
    """The text a PDF reader shows of ``data`` (Claude Code's Read renders a PDF's pages for the model,
    so its text is what is read, not the compressed bytes on disk), or why it cannot be had: a PDF
    cut at the scan budget, encrypted, broken or over a bound is not read past unseen."""
    if cut:
        return Unreadable("a PDF larger than the scan budget: its text cannot be extracted to scan")
    from ...gateway.documents import DocumentPolicy, DocumentUnreadable, pdf_text

    try:
        return pdf_text(data, DocumentPolicy(timeout=seconds))
    except DocumentUnreadable as exc:
        return Unreadable(f"a PDF whose text could not be extracted to scan ({exc})")


# -- commands that print a file's content decoded ------------------------------------------------------

_ALWAYS_DECODE = frozenset(
    {
        "zcat", "gzcat", "bzcat", "xzcat", "lzcat", "zstdcat", "lz4cat", "zless", "zmore", "zgrep",
        "zegrep", "zfgrep", "gunzip", "bunzip2", "unxz", "unlzma", "unzstd", "uudecode", "openssl",
    }
)  # fmt: skip
_DECODE_WHEN = {
    **dict.fromkeys(("gzip", "bzip2", "xz", "lzma", "zstd", "lz4"), ("d", ("--decompress", "--uncompress"))),
    **dict.fromkeys(("base64", "base32", "basenc"), ("dD", ("--decode",))),
    "xxd": ("r", ("-revert",)),
}


def decodes(call: ToolCall) -> bool:
    """Does a command of the call print what it reads decoded (``zcat F``, ``gzip -dc F``,
    ``base64 -d F``, ``xxd -r F``)? Then every file the call reads is scanned decoded too: the
    bytes on disk are not what reaches the model (pipes make which file feeds which command unknown)."""
    for command in call.commands:
        if not command.argv:
            continue
        name, args = command.argv[0].rsplit("/", 1)[-1], command.argv[1:]
        if name in _ALWAYS_DECODE:
            return True
        letters, words = _DECODE_WHEN.get(name, ("", ()))
        for word in args:
            if word.startswith("--") and any(
                w.startswith(word.partition("=")[0]) for w in words if len(word) > 3
            ):
                return True
            if word in words or (word[:1] == "-" and word[1:2] != "-" and set(word[1:]) & set(letters)):
                return True
    return False


_BASE64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_")
_HEX = frozenset(b"0123456789abcdefABCDEF")


def decoded_views(data: bytes, limit: int, depth: int = 2) -> tuple[list[bytes], bool, str]:
    """The bytes a decoder may print from ``data`` (gzip, bzip2, xz, base64, base32, hex and xxd dumps,
    nested up to ``depth``), each bounded by ``limit``; whether a view was cut at the limit; and why
    the content cannot be decoded for scanning ('' when it can)."""
    import base64
    import binascii
    import bz2
    import contextlib
    import lzma
    import zlib

    views: list[bytes] = []
    cut = False
    head = data[:8]
    if head.startswith((b"\x28\xb5\x2f\xfd", b"\x04\x22\x4d\x18")):
        return [], False, "compressed with zstd or lz4, which Ramparts cannot decompress to scan"
    try:
        if head.startswith(b"\x1f\x8b"):
            inflater = zlib.decompressobj(wbits=47)
            views.append(inflater.decompress(data, limit))
            cut = bool(inflater.unconsumed_tail)
        elif head.startswith(b"BZh"):
            bunzip = bz2.BZ2Decompressor()
            views.append(bunzip.decompress(data, limit))
            cut = not bunzip.needs_input and not bunzip.eof
        elif head.startswith(b"\xfd7zXZ\x00"):
            unxz = lzma.LZMADecompressor()
            views.append(unxz.decompress(data, limit))
            cut = not unxz.needs_input and not unxz.eof
    except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError):
        return [], False, "compressed content Ramparts cannot decompress to scan"
    compact = bytes(b for b in data if b not in b" \t\r\n")
    if len(compact) >= 8 and set(compact) <= _BASE64:
        for decode, block in ((base64.b64decode, 4), (base64.urlsafe_b64decode, 4), (base64.b32decode, 8)):
            with contextlib.suppress(binascii.Error, ValueError):
                views.append(decode(compact.rstrip(b"=") + b"=" * (-len(compact.rstrip(b"=")) % block)))
    hex_digits = _xxd_hex(data)
    if len(hex_digits) >= 8:
        with contextlib.suppress(binascii.Error, ValueError):
            views.append(binascii.unhexlify(hex_digits[: len(hex_digits) // 2 * 2]))
    if depth > 1:
        for view in list(views):
            inner, inner_cut, why = decoded_views(view, limit, depth - 1)
            if why:
                return [], False, why
            views.extend(inner)
            cut = cut or inner_cut
    return [v for v in views if v], cut, ""


def _xxd_hex(data: bytes) -> bytes:
    """The hex digits of a plain hex dump or of ``xxd``'s format (offset, groups, then the text column)."""
    compact = bytes(b for b in data if b not in b" \t\r\n")
    if compact and set(compact) <= _HEX:
        return compact
    out = bytearray()
    for line in data.splitlines():
        offset, colon, rest = line.partition(b":")
        if not colon or not offset.strip() or not set(offset.strip()) <= _HEX:
            return b""
        groups = rest.strip().split(b"  ", 1)[0].replace(b" ", b"")
        if not set(groups) <= _HEX:
            return b""
        out += groups
    return bytes(out)


_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def decodings(data: bytes) -> list[str]:
    """The texts a reader may make of these bytes: UTF-8 (undecodable bytes replaced, which keeps every
    ASCII-compatible encoding's ASCII), the encoding a byte-order mark names, and UTF-16 in both byte
    orders when NUL bytes say the text may be UTF-16 without a mark (``iconv`` or an editor turns it
    into readable text, so a secret written in UTF-16 is still a secret)."""
    texts = []
    for mark, codec in _BOMS:
        if data.startswith(mark):
            texts.append(data[len(mark) :].decode(codec, "replace"))
            break
    texts.append(data.decode("utf-8", "replace"))
    if b"\x00" in data[:4096] and not any(data.startswith(m) for m, _ in _BOMS):
        texts.extend(data[k:].decode("utf-16-le", "replace") for k in (0, 1))  # little- and big-endian
    return list(dict.fromkeys(texts))


# -- prompts and tool results ---------------------------------------------------------------------------


def scan_prompt(prompt: str, policy: Policy, detectors: Detectors, key: bytes) -> Content:
    """Secrets and personal data in a user's prompt, and injection (the ``prompt`` surface's
    thresholds) unless ``detect.injection.prompt_action`` is ``off``."""
    categories: tuple[Category, ...] = ("secret", "pii")
    if policy.detect.injection_prompt_action != "off":
        categories += ("injection",)
    findings = detectors.scan(
        prompt, key, limit=policy.dlp.max_scan_bytes, categories=categories, surface="prompt"
    )
    return Content("prompt", "prompt", tuple(findings), truncated=len(prompt) > policy.dlp.max_scan_bytes)


def scans_result(tool_name: str) -> bool:
    return tool_name in SCANNED_RESULTS or tool_name.startswith("mcp__")


def response_text(response: Any) -> str:
    """The text a tool result carries, joined from its string values (structured results included)."""
    parts: list[str] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, str):
            if key not in _KEEP:
                parts.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for item in value:
                walk(item, key)

    walk(response, "")
    return "\n".join(parts)


def scan_result(tool_name: str, response: Any, policy: Policy, detectors: Detectors, key: bytes) -> Content:
    text = response_text(response)
    findings = detectors.scan(
        text, key, limit=policy.dlp.max_scan_bytes, categories=("secret", "injection"), surface="tool_result"
    )
    return Content("tool_result", tool_name, tuple(findings), truncated=len(text) > policy.dlp.max_scan_bytes)


def scan_tool_input(call: ToolCall, policy: Policy, detectors: Detectors, key: bytes) -> Content:
    """Scan what a call would send to its sinks: every string of its input, also URL-decoded,
    JSON-unescaped and with base64 URL parameters decoded (``ramparts.sinks.decoded_views``). Findings
    in several views of the same value are kept once (by detector and fingerprint)."""
    from ...sinks import decoded_views, outbound_text

    text = outbound_text(call.input)
    limit = policy.dlp.max_scan_bytes
    seen: set[tuple[str, str]] = set()
    findings = []
    for view in decoded_views(text[:limit]):
        for finding in detectors.scan(view, key, limit=limit, categories=("secret", "pii")):
            if (finding.detector, finding.fingerprint) not in seen:
                seen.add((finding.detector, finding.fingerprint))
                findings.append(finding)
    return Content("tool_input", call.name, tuple(findings), truncated=len(text) > limit)


def quarantined(response: Any, notice: str) -> Any:
    """The tool result with its text replaced by ``notice``, in the same shape (Claude Code only takes a
    replacement shaped like the tool's own output): the longest text field gets the notice, the
    others are emptied, descriptive fields (type, path, URL) stay."""
    if isinstance(response, str):
        return notice
    longest: list[tuple[int, list[Any] | dict[str, Any], Any]] = []

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if isinstance(v, str) and k not in _KEEP:
                    out[k] = ""
                    longest.append((len(v), out, k))
                else:
                    out[k] = walk(v)
            return out
        if isinstance(value, list):
            items: list[Any] = []
            for i, item in enumerate(value):
                if isinstance(item, str):
                    items.append("")
                    longest.append((len(item), items, i))
                else:
                    items.append(walk(item))
            return items
        return value

    result = walk(response)
    if longest:
        _size, holder, where = max(longest, key=lambda t: t[0])
        holder[where] = notice
        return result
    return notice


def with_content(event: Event, content: tuple[Content, ...]) -> Event:
    return event._replace(content=content)

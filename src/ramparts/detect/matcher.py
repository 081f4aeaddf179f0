"""One multi-pattern prefilter for every detector pattern: which patterns can match a text.

A detector's final answer always comes from Python's ``re`` on the text, so every backend gives
the same findings; the backend only decides which of the many patterns are worth running:

- ``hyperscan`` (Hyperscan/Vectorscan): all patterns in one database, scanned in one pass at
  gigabytes a second (in byte mode over :func:`ascii_bytes`); the compiled database is cached on disk, so a fresh hook process loads it in
  about a millisecond instead of compiling it;
- ``re2``: Google RE2's ``Set``, one linear-time pass, when Hyperscan is not installed;
- ``re``: each pattern's literal keywords (``ghp_``, ``-----begin``) checked with ``in``, then the
  pattern itself: slow for many patterns, but always available.

A backend may report a pattern that then does not match (the detector drops it); it must never miss
one, which ``tests/unit/detect`` checks by running every backend over the same inputs.
"""

from __future__ import annotations

import bisect
import os
import sys

from .._hashing import sha256
from .._tuples import NamedTuple
from ._native import initialised, submodule

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Collection, Iterator, Sequence
    from typing import Any, Literal

    Backend = Literal["hyperscan", "re2", "re"]

ASCII = 256
"""``re.ASCII``; the flags are spelled here so that the cold hook need not import ``re`` (issue 21)
for them (``tests/unit/detect`` checks they are ``re``'s)."""
IGNORECASE = 2
"""``re.IGNORECASE``."""
DOTALL = 16
"""``re.DOTALL``."""


def flags(case_insensitive: bool) -> int:
    """Python ``re`` flags matching the other backends: ASCII ``\\b``/``\\w``/``\\d``, as RE2 and
    Hyperscan (without UCP) have them, so every backend agrees on where a word starts."""
    return ASCII | (IGNORECASE if case_insensitive else 0)


def compile_regex(regex: str, case_insensitive: bool, *, engine: str = "auto", binary: bool = False) -> Any:
    """The compiled pattern detectors extract values with: RE2 when installed (linear time, several
    times faster on digit-heavy text, and leftmost-first like Python), else Python's ``re`` with
    :func:`flags`. Both give the same spans; the tests run every rule's examples through both.

    ``binary``: a pattern over :func:`ascii_bytes` (an ASCII pattern only), whose offsets are the
    text's character offsets; RE2 then skips its UTF-8 round trip on every match."""
    source: str | bytes = regex.encode("ascii") if binary else regex
    if engine in ("auto", "re2"):
        deferred = _deferred_re2(source, case_insensitive)
        if deferred is not None:
            return deferred
        try:
            import re2  # type: ignore[import-untyped]
        except ImportError:
            if engine == "re2":
                raise
        else:
            options = re2.Options()
            options.case_sensitive = not case_insensitive
            options.max_mem = _RE2_MAX_MEM
            try:
                return re2.compile(source, options)
            except re2.error:
                if engine == "re2":
                    raise
    import re  # only here: the pattern is run by Python's engine (no RE2)

    return re.compile(source, flags(case_insensitive))


_RE2_MAX_MEM = 64 << 20


def _deferred_re2(source: str | bytes, case_insensitive: bool) -> _DeferredRe2 | None:
    """The pattern as :class:`_DeferredRe2` when RE2's package is not imported yet and its extension
    module loads alone and compiles it; ``None`` otherwise (``re2.compile`` then decides, as before)."""
    if "re2" in sys.modules:
        return None
    native = submodule("re2", "_re2")
    if native is None:
        return None
    try:
        options = native.RE2.Options()
        options.case_sensitive = not case_insensitive
        options.max_mem = _RE2_MAX_MEM
        regexp = native.RE2(source.encode("utf-8") if isinstance(source, str) else source, options)
        if not regexp.ok():
            return None  # re2.compile raises re2.error for it: left to that path
        anchor = native.RE2.Anchor.UNANCHORED
    except Exception:  # noqa: BLE001 - an extension unlike the one this was written for: the package
        return None
    return _DeferredRe2(source, case_insensitive, regexp, anchor)


def _re2_around(re2: Any, source: str | bytes, regexp: Any) -> Any:
    """RE2's wrapper pattern around the program :class:`_DeferredRe2` compiled (RE2 compiles a rule in
    up to a few hundred microseconds: not twice), as ``re2.compile`` builds it (its ``_Regexp`` holds
    the source and the program, nothing else); ``None`` when the wrapper is not built that way."""
    try:
        kind = re2._Regexp
        if tuple(kind.__slots__) != ("_pattern", "_regexp"):
            return None
        wrapped = kind.__new__(kind)
        wrapped._pattern = source
        wrapped._regexp = regexp
    except Exception:  # noqa: BLE001 - another wrapper: re2.compile builds it
        return None
    return wrapped


class _DeferredRe2:
    """``re2.compile(source, options)`` (``case_sensitive``, ``max_mem`` as :func:`compile_regex` sets
    them), built on first need; until then the same RE2 program, compiled by RE2's extension module.

    RE2's Python wrapper (the ``re2`` package) imports ``functools`` and ``typing``-sized modules, and a
    hook's text most often matches none of the few rules its keywords made candidates. So
    :meth:`finditer` first asks the program, on the very bytes the wrapper would search (the text's UTF-8
    encoding, from offset 0 to its end), whether it matches anywhere: when it does not, the wrapper's
    ``finditer`` yields nothing, and neither does this; when it does, the wrapper does all the work.
    :attr:`groupindex` is read as the wrapper reads it; any other use goes to the wrapper."""

    __slots__ = ("_anchor", "_case_insensitive", "_regexp", "_source", "_wrapped")

    def __init__(self, source: str | bytes, case_insensitive: bool, regexp: Any, anchor: Any) -> None:
        self._source = source
        self._case_insensitive = case_insensitive
        self._regexp = regexp
        self._anchor = anchor
        self._wrapped: Any = None

    def _wrapper(self) -> Any:
        if self._wrapped is None:
            import re2

            self._wrapped = _re2_around(re2, self._source, self._regexp)
            if self._wrapped is None:
                options = re2.Options()
                options.case_sensitive = not self._case_insensitive
                options.max_mem = _RE2_MAX_MEM
                self._wrapped = re2.compile(self._source, options)
        return self._wrapped

    def _no_match(self, text: str | bytes) -> bool:
        data = text.encode(encoding="utf-8") if isinstance(text, str) else text  # as the wrapper encodes
        return bool(self._regexp.Match(self._anchor, data, 0, len(data))[0][0] == -1)

    def finditer(self, text: str | bytes, pos: int | None = None, endpos: int | None = None) -> Iterator[Any]:
        """The wrapper's ``finditer``; a generator as it is (a text that does not encode raises on the
        first step, there as here)."""
        if pos is None and endpos is None and self._no_match(text):
            return
        yield from self._wrapper().finditer(text, pos, endpos)

    @property
    def groupindex(self) -> dict[Any, int]:
        groups = self._regexp.NamedCapturingGroups()
        if isinstance(self._source, str):
            return {group.decode(encoding="utf-8"): index for group, index in groups}
        return dict(groups)

    @property
    def pattern(self) -> str | bytes:
        return self._source

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapper(), name)


def spans(regex: Any, data: bytes) -> Iterator[tuple[int, int]]:
    """``m.span() for m in regex.finditer(data)``, for a pattern from :func:`compile_regex` over bytes.

    For RE2 it calls the compiled pattern's ``Match`` directly, as ``re2``'s own ``finditer`` does for
    bytes, without building a match object per match (a fifth of the PII scan went there: the phone
    pattern matches every ``1.2`` and ``12-34``). Any other pattern, or an ``re2`` whose internals
    differ from what :func:`_raw_re2_match` checked, goes through ``finditer``.
    """
    raw = _raw_re2_match(regex)
    if raw is None:
        for match in regex.finditer(data):
            yield match.span()
        return
    match, anchor = raw
    pos, endpos = 0, len(data)
    while True:
        found = match(anchor, data, pos, endpos)[0]
        if found[0] == -1:
            return
        yield found
        if pos == endpos:
            return
        pos = pos + 1 if pos == found[1] else found[1]  # past an empty match, else after this one


def window_spans(
    regex: Any, data: bytes, ends: Sequence[int], width: int
) -> Iterator[tuple[int, int]] | None:
    """What :func:`spans` gives, looking only near ``ends``; ``None`` when it cannot (not RE2).

    ``ends`` are the sorted end offsets of every match, in ``data``, of a pattern that lies inside each
    match of ``regex`` (its Hyperscan prefilter, or the pattern itself), and ``width`` is the most
    characters a match of ``regex`` spans (at least one). A match ``[s, t)`` then holds a prefilter
    match ending at some ``e`` with ``s < e <= t <= s + width``: no match starts before the first such
    end past the search position minus ``width``. Each search runs in a window with RE2's ``endpos``,
    which keeps the whole of ``data`` as the context of ``\\b`` and ``$``; a match found in a window is
    taken only when every match from its start would fit in it (``s + width <= endpos``), so it is the
    leftmost-first match of the whole data. The phone pattern, run over a JSON file of numbers, scans
    a few hundred bytes around each candidate instead of the file.
    """
    raw = _raw_re2_match(regex)
    if raw is None or width < 1:
        return None
    return _window_spans(raw, data, ends, width)


def _window_spans(
    raw: tuple[Any, Any], data: bytes, ends: Sequence[int], width: int
) -> Iterator[tuple[int, int]]:
    match, anchor = raw
    size = len(data)
    span = 2 * width + 256
    low = 0  # no match of the whole data starts in [the search position, low)
    while True:
        at = bisect.bisect_right(ends, low)
        if at == len(ends):
            return
        low = max(low, ends[at] - width)
        high = min(size, low + span)
        found = match(anchor, data, low, high)[0]
        if found[0] != -1 and (found[0] + width <= high or high == size):
            yield found[0], found[1]
            low = found[1]  # a match is never empty (width >= 1 and every match ends past its start)
            continue
        if high == size:
            return
        low = high - width + 1  # nothing starts in [low, high - width]: each would have fit


def pattern_width(regex: str, case_insensitive: bool) -> int:
    """The most characters a match of ``regex`` spans, or 0 when unbounded (or too wide to window)
    or when it may match the empty string."""
    import importlib
    import re  # only here: a PII candidate's pattern (its window), not on every text

    sre_parse: Any = importlib.import_module("re._parser")  # what ``re`` compiles with (no stubs)

    try:
        low, high = sre_parse.parse(regex, flags(case_insensitive)).getwidth()
    except (re.error, OverflowError, RecursionError):
        return 0
    return high if low >= 1 and high <= MAX_WINDOW_WIDTH else 0


def least_width(regex: str, case_insensitive: bool) -> int:
    """The fewest characters a match of ``regex`` spans (0 when it cannot be worked out): a text
    shorter than that holds no match, in any engine (the patterns are the syntax RE2 and ``re`` share)."""
    import importlib
    import re  # only here: building a cached table (``detect.keywords``), not on a hook's scan

    sre_parse: Any = importlib.import_module("re._parser")
    try:
        low = sre_parse.parse(regex, flags(case_insensitive)).getwidth()[0]
    except (re.error, OverflowError, RecursionError):
        return 0
    return int(low)


MAX_WINDOW_WIDTH = 4096
"""A pattern wider than this is run over the whole text (its windows would be most of it)."""


def _raw_re2_match(regex: Any) -> tuple[Any, Any] | None:
    """The bound ``RE2.Match`` and its unanchored mode, when ``regex`` is an ``re2`` pattern whose
    direct calls give what its ``finditer`` gives on a probe (checked once per pattern)."""
    cached = _RAW.get(id(regex))
    if cached is not None and cached[0] is regex:
        return cached[1]
    raw: tuple[Any, Any] | None = None
    try:
        inner = regex._regexp
        if isinstance(regex, _DeferredRe2):
            anchor = regex._anchor  # RE2's own Anchor.UNANCHORED, from its extension module
        else:
            import re2

            anchor = re2._Anchor.UNANCHORED
        candidate = (inner.Match, anchor)
    except (ImportError, AttributeError):
        pass
    else:
        probe = b"x 12-34 a@b.co 1.2.3.4 \x7f 555 0100 ab:cd:ef::1 "
        try:
            expected = [m.span() for m in regex.finditer(probe)]
            got = []
            pos = 0
            while True:
                found = tuple(candidate[0](candidate[1], probe, pos, len(probe))[0])
                if found[0] == -1:
                    break
                got.append(found)
                if pos == len(probe):
                    break
                pos = pos + 1 if pos == found[1] else found[1]
            if got == expected:
                raw = candidate
        except Exception:  # noqa: BLE001 - any surprise: the public API
            raw = None
    _RAW[id(regex)] = (regex, raw)
    return raw


_RAW: dict[int, tuple[Any, tuple[Any, Any] | None]] = {}


class Pattern(NamedTuple):
    regex: str
    """Python ``re`` syntax in the subset RE2 and Hyperscan share (no lookaround, no backreferences)."""
    keywords: tuple[str, ...] = ()
    """Lower-case literals; the pattern is only a candidate when one occurs (also under Hyperscan)."""
    case_insensitive: bool = False
    prefilter: str = ""
    """Optional looser regex the multi-pattern pass runs instead of ``regex``: it must match wherever
    ``regex`` does (a superset), and inside each of its matches (where the scan then looks: see
    :func:`window_spans`). Hyperscan is slow on long bounded repeats before a literal (an email's
    local part before ``@``); ``[A-Za-z0-9._%+-]@[A-Za-z0-9]`` finds the same texts at full speed."""


def available_backends() -> list[Backend]:
    out: list[Backend] = [name for name in ("hyperscan", "re2") if _importable(name)]
    out.append("re")
    return out


def _importable(module: str) -> bool:
    """Whether ``module`` imports (it is then imported: the caller is about to use it); Hyperscan's
    extension module alone when that loads (:func:`hyperscan_module`)."""
    if module == "hyperscan":
        return hyperscan_module() is not None
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def hyperscan_module() -> Any:
    """Hyperscan's API, or ``None`` when it is not installed: the ``hyperscan`` package when imported,
    else its extension module :mod:`hyperscan._hs_ext` alone (:mod:`._native`), which defines every
    name the detectors use (the package's ``__init__`` adds ``typing`` and ``ExpressionExt``, and its
    ``__version__``: see :func:`hyperscan_version`); else the package, imported as usual."""
    # a package another thread is still importing is not used: its names may not be there yet
    module = initialised(sys.modules.get("hyperscan"))
    if module is None:
        module = submodule("hyperscan", "_hs_ext")
    if module is None:
        try:
            import hyperscan as module
        except ImportError:
            return None
    return module


def hyperscan_version(hyperscan: Any) -> str:
    """``hyperscan.__version__`` as the package has it (its ``_version`` module's, or ``"unknown"``),
    also for the extension module alone, which has none: part of a cached database's key."""
    if getattr(hyperscan, "__name__", "") != "hyperscan._hs_ext":
        return str(getattr(hyperscan, "__version__", ""))
    # the extension's own __version__ is the Hyperscan library's; the package's hides it (its ``*``
    # import skips dunder names) with its ``_version`` module's, or "unknown" when that is missing
    package = initialised(sys.modules.get("hyperscan"))
    if package is not None:
        return str(getattr(package, "__version__", ""))
    numbered = submodule("hyperscan", "_version")
    return str(getattr(numbered, "__version__", "unknown"))


class Matcher:
    """Which of ``patterns`` may match a text; built once, used for many texts."""

    def __init__(
        self,
        patterns: Sequence[Pattern],
        *,
        backend: Backend | Literal["auto", "cached"] = "auto",
        cache_dir: str | None = None,
        positions: Collection[int] = (),
        keyword_database: bool = False,
    ) -> None:
        """``backend="cached"``: Hyperscan when its compiled database is already in ``cache_dir``, else
        ``re`` (which builds at once); ``cold`` then says a warm-up would pay off. For processes with
        a deadline (the hook), where compiling the Hyperscan database (seconds) is not affordable.

        ``positions``: the patterns whose every match end :meth:`scan` reports (Hyperscan only), so a
        detector can run the pattern near those ends instead of over the whole text.

        ``keyword_database``: Hyperscan over the patterns' keywords alone (:func:`_keyword_backend`),
        when every keyword is plain ASCII (``cached``: from the cache, else the usual choice, ``cold``);
        :attr:`keywords_only` then says so. Its database loads in a fraction of the time of the
        patterns' own (the secret rules': 0.9 against 4.2 MB), at the price of more candidates, each
        then run over the text: the better choice for a short text in a fresh process (the hook)."""
        self.patterns = tuple(patterns)
        self.positions = frozenset(positions)
        self._keywords = [tuple(k.lower() for k in p.keywords) for p in self.patterns]
        self._byte_keywords: list[tuple[bytes, ...]] | None = None
        if all(_plain_ascii(k) for ks in self._keywords for k in ks):
            self._byte_keywords = [tuple(k.encode("ascii") for k in ks) for ks in self._keywords]
        self._impl: Any = None
        self.cold = False
        self.keywords_only = False
        if (
            keyword_database
            and not self.positions
            and self._byte_keywords is not None
            and backend in ("cached", "auto", "hyperscan")
            and _importable("hyperscan")
        ):
            try:
                self._impl = _keyword_backend(
                    self._keywords, self._byte_keywords, cache_dir, cached_only=backend == "cached"
                )
            except _NotCached:
                self.cold = True
            except _CompileError:
                if backend == "hyperscan":
                    raise
            else:
                self.keywords_only = True
                self.backend: Backend = "hyperscan"
                return
        chosen: Backend | None = None
        cached_only = backend == "cached"
        names: list[Backend]
        if backend == "cached":
            names = ["hyperscan", "re"] if _importable("hyperscan") else ["re"]
        elif backend == "auto":
            names = available_backends()
        else:
            names = [backend]
        for name in names:
            try:
                if name == "hyperscan":
                    self._impl = _hyperscan_backend(
                        self.patterns, cache_dir, cached_only=cached_only, positions=self.positions
                    )
                else:
                    self._impl = _BUILDERS[name](self.patterns, cache_dir)
            except _NotCached:
                self.cold = True
                continue
            except (ImportError, _CompileError):
                if backend not in ("auto", "cached"):
                    raise
                continue
            chosen = name
            break
        if chosen is None:  # pragma: no cover - "re" always builds
            raise RuntimeError("no pattern backend could be built")
        self.backend = chosen

    def scan(self, text: str) -> tuple[set[int], dict[int, list[int]]]:
        """What the backend reports on ``text``, before the keywords: the patterns that may match and,
        for each of :attr:`positions` that does (under Hyperscan), the sorted end offsets of its
        matches in :func:`ascii_bytes` (a pattern without an entry there must be run over the text).
        Give the first to :meth:`candidates` as ``hits``."""
        ends: dict[int, list[int]] = {}
        hits = self._impl(text, None, None, ends)
        return hits, ends

    def candidates(
        self, text: str, lowered: str | None = None, *, hits: Collection[int] | None = None
    ) -> list[int]:
        """Indices of the patterns worth running on ``text``, in pattern order: those the backend
        reports and, for a pattern with keywords, only when one of them occurs in ``text.lower()``.

        ``hits``: what :meth:`scan` reported on ``text`` or on a text holding it (a superset of what
        the backend would report on ``text``: a pattern it adds does not match here, so it only costs
        a search)."""
        keywords: Sequence[tuple[str | bytes, ...]] = self._keywords
        haystack: str | bytes
        if lowered is not None:
            haystack = lowered
        elif text.isascii() and not self.keywords_only:
            # str.lower costs less than bytes.lower on ASCII text, and the PII scan, which looks at
            # the same text next, takes this copy from ``lower``'s cache (the same answers as the bytes)
            haystack = lower(text)
        elif self._byte_keywords is not None and keywords_in_ascii(text):
            haystack, keywords = lower_ascii_bytes(text), self._byte_keywords
        else:
            haystack = lower(text)
        if hits is None:
            hits = self._impl(text, haystack, keywords, None)
        return [i for i in sorted(hits) if not keywords[i] or any(k in haystack for k in keywords[i])]


class _CompileError(Exception):
    pass


class _NotCached(Exception):
    pass


def _re_backend(patterns: Sequence[Pattern], cache_dir: str | None) -> Any:
    del cache_dir
    compiled: list[re.Pattern[str] | None] = [None] * len(patterns)

    def run(text: str, haystack: Any, keywords: Sequence[tuple[Any, ...]] | None, ends: Any) -> set[int]:
        del ends  # no positions: the detector runs each pattern over the text
        out: set[int] = set()
        for i, pattern in enumerate(patterns):
            if keywords is not None and keywords[i] and not any(k in haystack for k in keywords[i]):
                continue
            regex = compiled[i]
            if regex is None:
                import re  # the re backend: no Hyperscan database (a cold cache) or no Hyperscan

                regex = compiled[i] = re.compile(pattern.regex, flags(pattern.case_insensitive))
            if regex.search(text):
                out.add(i)
        return out

    return run


def _re2_backend(patterns: Sequence[Pattern], cache_dir: str | None) -> Any:
    del cache_dir
    import re2

    sets: dict[bool, tuple[Any, list[int]]] = {}
    for ci in (False, True):
        options = re2.Options()
        options.case_sensitive = not ci
        options.max_mem = 256 << 20
        sets[ci] = (re2.Set.SearchSet(options), [])
    for i, pattern in enumerate(patterns):
        regex_set, ids = sets[pattern.case_insensitive]
        try:
            regex_set.Add(pattern.prefilter or pattern.regex)
        except Exception as exc:
            raise _CompileError(f"re2 cannot compile pattern {i}: {exc}") from exc
        ids.append(i)
    for regex_set, ids in sets.values():
        if ids:
            regex_set.Compile()

    def run(text: str, haystack: Any, keywords: Any, ends: Any) -> set[int]:
        del haystack, keywords, ends
        out: set[int] = set()
        for regex_set, ids in sets.values():
            if ids:
                out.update(ids[j] for j in regex_set.Match(text) or ())
        return out

    return run


def _hyperscan_backend(
    patterns: Sequence[Pattern],
    cache_dir: str | None,
    *,
    cached_only: bool = False,
    positions: frozenset[int] = frozenset(),
) -> Any:
    hyperscan = hyperscan_module()
    if hyperscan is None:
        raise ImportError("No module named 'hyperscan'")

    flags = [
        hyperscan.HS_FLAG_ALLOWEMPTY
        | (0 if i in positions else hyperscan.HS_FLAG_SINGLEMATCH)  # every end of these, once of the rest
        | (hyperscan.HS_FLAG_CASELESS if p.case_insensitive else 0)
        for i, p in enumerate(patterns)
    ]
    expressions = [(p.prefilter or p.regex).encode("utf-8") for p in patterns]
    database, always = cached_database(
        hyperscan, expressions, flags, cache_dir, "hs", cached_only=cached_only
    )
    scratches = _Scratches(hyperscan.Scratch(database))
    fallback = frozenset(always)

    if not positions:

        def run(text: str, haystack: Any, keywords: Any, ends: Any) -> set[int]:
            del haystack, keywords, ends
            out: set[int] = set(fallback)
            database.scan(
                ascii_bytes(text), match_event_handler=_add_id, scratch=scratches.get(), context=out
            )
            return out

        return run

    def run_positions(text: str, haystack: Any, keywords: Any, ends: dict[int, list[int]] | None) -> set[int]:
        del haystack, keywords
        found: list[tuple[int, int]] = []
        database.scan(ascii_bytes(text), match_event_handler=_add_end, scratch=scratches.get(), context=found)
        out: set[int] = set(fallback)
        if ends is None:
            out.update(pattern_id for pattern_id, _ in found)
            return out
        for pattern_id, end in found:
            if pattern_id in positions:
                at = ends.get(pattern_id)
                if at is None:
                    ends[pattern_id] = [end]
                    out.add(pattern_id)
                else:
                    at.append(end)
            else:
                out.add(pattern_id)
        for at in ends.values():
            at.sort()  # Hyperscan reports by end offset already: a linear check
        for pattern_id in fallback:
            ends.pop(pattern_id, None)  # not in the database: no positions, run it over the text
        return out

    return run_positions


def _keyword_backend(
    keywords: Sequence[tuple[str, ...]],
    byte_keywords: Sequence[tuple[bytes, ...]],
    cache_dir: str | None,
    *,
    cached_only: bool = False,
) -> Any:
    """Which patterns have a keyword in the text, from one Hyperscan pass over the distinct keywords (as
    caseless literals over :func:`ascii_bytes`; a pattern without keywords is always one): exactly the
    patterns :meth:`Matcher.candidates` keeps, as the patterns' own database finds them when they also
    match. Where the keywords cannot be looked up in :func:`lower_ascii_bytes` (a character that
    lower-cases into ASCII, or a lower-cased ``str`` given as the haystack) they are looked up with
    ``in``, as the ``re`` backend does."""
    hyperscan = hyperscan_module()
    if hyperscan is None:
        raise ImportError("No module named 'hyperscan'")

    literals = sorted({k for ks in byte_keywords for k in ks})
    number = {k: i for i, k in enumerate(literals)}
    owners: list[list[int]] = [[] for _ in literals]
    always: set[int] = set()
    for i, ks in enumerate(byte_keywords):
        if not ks:
            always.add(i)
        for k in ks:
            owners[number[k]].append(i)
    expressions = [k.decode("ascii").translate(_LITERAL).encode("ascii") for k in literals]
    flags = [hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH] * len(literals)
    database, left_out = cached_database(
        hyperscan, expressions, flags, cache_dir, "hs-kw", cached_only=cached_only
    )
    for literal in left_out:  # not in the database (an empty keyword): always a candidate
        always.update(owners[literal])
    scratches = _Scratches(hyperscan.Scratch(database))
    fixed = frozenset(always)

    def run(text: str, haystack: Any, given: Any, ends: Any) -> set[int]:
        del given, ends  # no positions: the detector runs each candidate over the text
        if haystack is None and keywords_in_ascii(text):
            haystack = b""  # the bytes are looked at by Hyperscan below, not here
        if isinstance(haystack, bytes):
            found: set[int] = set()
            database.scan(
                ascii_bytes(text), match_event_handler=_add_id, scratch=scratches.get(), context=found
            )
            out = set(fixed)
            for literal in found:
                out.update(owners[literal])
            return out
        lowered = haystack if isinstance(haystack, str) else lower(text)
        return {i for i, ks in enumerate(keywords) if not ks or any(k in lowered for k in ks)}

    return run


class _Scratches:
    """One Hyperscan scratch space per thread for one database: a scratch may serve one scan at a time,
    and the gateway scans short texts on several threads at once. Each thread's is a clone of
    ``first``, which itself never scans (so cloning it is safe while other threads scan)."""

    __slots__ = ("_first", "_local")

    def __init__(self, first: Any) -> None:
        from _thread import _local  # threading.local itself (threading is not imported for it)

        self._first = first
        self._local = _local()

    def get(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._first.clone()
        return scratch


_LITERAL = {c: f"\\x{c:02x}" for c in range(128) if not chr(c).isalnum()}
"""A keyword as a Hyperscan literal: letters and digits as they are, every other character as ``\\xHH``."""


def _add_id(pattern_id: int, start: int, end: int, flags: int, found: set[int]) -> None:
    """Hyperscan's match callback: one function for every scan, the set to fill comes as its context."""
    found.add(pattern_id)


def _add_end(pattern_id: int, start: int, end: int, flags: int, found: list[tuple[int, int]]) -> None:
    """The callback of a database with positions: every match, in the order Hyperscan reports them."""
    found.append((pattern_id, end))


def cached_database(
    hyperscan: Any,
    expressions: list[bytes],
    flags: list[int],
    cache_dir: str | None,
    stem: str,
    *,
    cached_only: bool = False,
) -> tuple[Any, list[int]]:
    """One Hyperscan database for ``expressions`` and the ids left out of it (:func:`_compile`), loaded
    from ``cache_dir`` (``STEM-KEY.db``, keyed by the expressions, their flags and Hyperscan's version)
    or compiled and kept there. ``cached_only``: raise :class:`_NotCached` rather than compile."""
    key = sha256(repr((hyperscan_version(hyperscan), expressions, flags)).encode()).hexdigest()[:32]
    path = os.path.join(cache_dir, f"{stem}-{key}.db") if cache_dir else None
    if path is not None:
        try:
            with open(path + ".always", "rb") as handle:  # written last: its presence means both are whole
                always = [int(x) for x in handle.read().split(b",") if x]
            with open(path, "rb") as handle:
                return hyperscan.loadb(handle.read(), hyperscan.HS_MODE_BLOCK), always
        except Exception:  # noqa: BLE001, S110 - any unreadable or stale cache: compile again
            pass
    if cached_only:
        raise _NotCached(path or "no cache folder")
    database, always = _compile(hyperscan, expressions, flags)
    if path is not None:
        _write_atomic(path, hyperscan.dumpb(database))
        _write_atomic(path + ".always", ",".join(str(i) for i in always).encode())
    return database, always


def _compile(hyperscan: Any, expressions: list[bytes], flags: list[int]) -> tuple[Any, list[int]]:
    """One database for all patterns. A pattern too large for Hyperscan (long bounded repeats) is
    compiled in its prefilter mode, which may over-report but never misses; one that still fails is
    left to its keywords (always a candidate when one occurs)."""
    flags = list(flags)
    ids = list(range(len(expressions)))
    always: list[int] = []
    try:
        database = hyperscan.Database()
        database.compile(expressions=expressions, ids=ids, elements=len(ids), flags=flags)
        return database, always
    except hyperscan.error:
        pass
    keep: list[int] = []
    for i, expression in enumerate(expressions):
        for extra in (0, hyperscan.HS_FLAG_PREFILTER):
            try:
                hyperscan.Database().compile(
                    expressions=[expression], ids=[0], elements=1, flags=[flags[i] | extra]
                )
            except hyperscan.error:
                continue
            flags[i] |= extra
            keep.append(i)
            break
        else:
            always.append(i)
    database = hyperscan.Database()
    try:
        database.compile(
            expressions=[expressions[i] for i in keep],
            ids=keep,
            elements=len(keep),
            flags=[flags[i] for i in keep],
        )
    except hyperscan.error as exc:
        raise _CompileError(f"hyperscan cannot compile the patterns: {exc}") from exc
    return database, always


def ascii_bytes(text: str) -> bytes:
    """The text with every non-ASCII character as one DEL byte (0x7f).

    The patterns are ASCII and Python runs them with ``re.ASCII``, where a non-ASCII character is no
    letter, digit, space or word character, matches only ``.`` and negated classes, and counts as one
    character: exactly what DEL is to Hyperscan in byte mode. So a byte-mode database (compiled in
    seconds, where UTF-8 mode takes minutes for long bounded repeats) sees the same matches.
    """
    global _LAST_ASCII
    seen, data = _LAST_ASCII  # one tuple, replaced whole: safe to read from any thread
    if seen is text:
        return data  # the secret and PII prefilters scan the same text one after the other
    read_as, raw = _LAST_UTF8
    if read_as is text:  # its UTF-8 bytes as read: spare encoding it again (botocore: 90 MB)
        data = raw.translate(_LEAD_AS_DEL, _CONTINUATION)
    elif text.isascii():
        data = text.encode("ascii")
    else:
        # in UTF-8 a non-ASCII character is one lead byte (0xc0-0xff) and continuation bytes
        # (0x80-0xbf): one C pass turns each lead into DEL and drops the continuations (a lone
        # surrogate, encoded as three bytes with surrogatepass, becomes one DEL too)
        data = text.encode("utf-8", "surrogatepass").translate(_LEAD_AS_DEL, _CONTINUATION)
    _LAST_ASCII = (text, data)
    return data


def remember_ascii(text: str, data: bytes) -> None:
    """Tell :func:`ascii_bytes` that ``data`` is ``text.encode("ascii")`` (the bytes of an ASCII file
    ``text`` was just decoded from), so the next scan of ``text`` does not encode it again. Only the
    cheap part is checked (ASCII, same length): call it with the very bytes ``text`` came from."""
    global _LAST_ASCII
    if len(data) == len(text) and data.isascii():
        _LAST_ASCII = (text, data)


def remember_utf8(text: str, data: bytes) -> None:
    """Tell :func:`ascii_bytes` that ``data`` is ``text.encode("utf-8")``: call it only with the bytes
    ``text`` was decoded from strictly (``data.decode("utf-8")`` without errors), so that the next
    scan of ``text`` translates them instead of encoding the text again."""
    global _LAST_UTF8
    _LAST_UTF8 = (text, data)


_LEAD_AS_DEL = bytes(range(0x80)) + b"\x7f" * 0x80
_CONTINUATION = bytes(range(0x80, 0xC0))
_LAST_ASCII: tuple[str | None, bytes] = (None, b"")
_LAST_UTF8: tuple[str | None, bytes] = (None, b"")
_LAST_LOWER: tuple[str | None, str] = (None, "")
_LAST_LOWER_BYTES: tuple[str | None, bytes] = (None, b"")
_INTO_ASCII = ("\u0130", "\u212a")
"""The only non-ASCII characters ``str.lower`` turns into ASCII ones: ``İ`` into ``i`` and a combining
dot (two characters), the Kelvin sign into ``k``."""


def _plain_ascii(keyword: str) -> bool:
    return keyword.isascii() and "\x7f" not in keyword


def keywords_in_ascii(text: str) -> bool:
    """Whether an ASCII keyword occurs in ``text.lower()`` exactly where it occurs in
    :func:`lower_ascii_bytes`: true unless the text holds a character that lower-cases into ASCII."""
    return text.isascii() or not any(c in text for c in _INTO_ASCII)


def lower_ascii_bytes(text: str) -> bytes:
    """:func:`ascii_bytes` lower-cased: where ASCII keywords are looked for. On non-ASCII text it is
    several times cheaper than ``text.lower()`` and, when :func:`keywords_in_ascii`, gives the same
    answers (a non-ASCII character lower-cases into a non-ASCII one, and is DEL here)."""
    global _LAST_LOWER_BYTES
    seen, data = _LAST_LOWER_BYTES
    if seen is not text:
        data = ascii_bytes(text).lower()
        _LAST_LOWER_BYTES = (text, data)
    return data


def lower(text: str) -> str:
    """``text.lower()``, computed once for the detectors that look at the same text in turn."""
    global _LAST_LOWER
    seen, lowered = _LAST_LOWER
    if seen is not text:
        lowered = text.lower()
        _LAST_LOWER = (text, lowered)
    return lowered


def _write_atomic(path: str, data: bytes) -> None:
    """The cache only saves time: a failure to write it is ignored."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


_BUILDERS = {"hyperscan": _hyperscan_backend, "re2": _re2_backend, "re": _re_backend}

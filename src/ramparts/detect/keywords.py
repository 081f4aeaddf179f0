"""The cold hook's secret prefilter: which rules have a keyword in a text, without Hyperscan (issue 21).

The secret rules have about 960 distinct keywords. Checking each with ``in`` costs a scan of the text
per keyword (2.4 ms at 4 KB); Hyperscan finds them all in one pass, but a fresh process first pays for
loading its extension module and the keywords' database (2-3 ms, and ``libstdc++``). :class:`KeywordIndex`
answers the same question for a short text in a fraction of either: it takes every 4-byte window of the
text as one integer (four ``memoryview`` casts, done in C), intersects that set with the keywords' first
four bytes, and checks with ``in`` only the few keywords whose first and last four bytes both occur;
keywords under four bytes are looked up by their first two bytes the same way. Every answer is exact
(``tests/unit/detect/test_keywords.py`` checks it against ``in``). The index is built once and kept in
the cache folder as ``marshal`` data, so a hook process builds no per-keyword object it does not use.

:class:`KeywordMatcher` is the hook's matcher on top of it: texts up to :data:`KEYWORD_INDEX_MAX`
characters in all go through the index; past that the keywords' Hyperscan database is loaded from the
cache (when it is not there, the index goes on serving, and ``on_cold`` starts a warm-up).
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from .matcher import _keyword_backend, _NotCached, keywords_in_ascii, lower, lower_ascii_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

KEYWORD_INDEX_MAX = 32 * 1024
"""Most characters :class:`KeywordMatcher` looks up with the index, over all the texts it is given,
before it loads the keywords' Hyperscan database: about where the two cost the same in a fresh process
(``bench/keyword_crossover.py``)."""

RETRY_SECONDS = 10.0
"""While the keywords' database is not in the cache, how long before :class:`KeywordMatcher` looks again."""

_VERSION = "ramparts-keyword-index-v2"


def _windows(data: bytes, size: int, code: str) -> set[int]:
    """Every ``size``-byte window of ``data`` as an unsigned integer in native byte order."""
    out: set[int] = set()
    for start in range(size):
        whole = (len(data) - start) // size * size
        if whole > 0:
            out.update(memoryview(data[start : start + whole]).cast(code))  # type: ignore[call-overload]
    return out


def _native(code: str, size: int) -> bool:
    """Whether ``memoryview.cast(code)`` reads ``size`` bytes as ``int.from_bytes`` does here."""
    probe = bytes(range(1, size + 1))
    try:
        view = memoryview(probe).cast(code)  # type: ignore[call-overload]  # a format of the caller's
        return bool(view.itemsize == size and view[0] == int.from_bytes(probe, sys.byteorder))
    except (TypeError, ValueError):
        return False


class KeywordIndex:
    """The patterns whose keywords (lower-case ASCII bytes, one tuple per pattern) occur in a lower-cased
    haystack: ``{i for i, ks in enumerate(keywords) if not ks or any(k in haystack for k in ks)}``."""

    __slots__ = ("_always", "_long", "_short", "widths")

    def __init__(
        self,
        always: frozenset[int],
        long: dict[int, bytes],
        short: tuple[Any, ...],
        widths: tuple[int, ...] = (),
    ) -> None:
        self._always = always
        self._long = long
        """first four bytes of a keyword (as an integer) -> ``marshal`` of its ``(keyword, owners)`` pairs,
        read only when those four bytes occur in a text"""
        self._short = short
        """``(first two bytes or -1, keyword, owners)`` for keywords under four bytes"""
        self.widths = widths
        """The fewest characters a match of each pattern spans (:func:`.matcher.least_width`), when
        given: a pattern wider than the text cannot match it, however many keywords it holds."""

    @classmethod
    def build(cls, keywords: Sequence[tuple[bytes, ...]], widths: Sequence[int] = ()) -> KeywordIndex:
        owners: dict[bytes, list[int]] = {}
        always: set[int] = set()
        for i, ks in enumerate(keywords):
            if not ks or b"" in ks:
                always.add(i)  # no keyword, or an empty one (which ``in`` finds in any text)
            for k in ks:
                owners.setdefault(k, []).append(i)
        order = sys.byteorder
        long: dict[int, list[tuple[bytes, tuple[int, ...]]]] = {}
        short: list[tuple[int, bytes, tuple[int, ...]]] = []
        for k, o in owners.items():
            if len(k) >= 4:
                long.setdefault(int.from_bytes(k[:4], order), []).append((k, tuple(o)))
            elif len(k) >= 2:
                short.append((int.from_bytes(k[:2], order), k, tuple(o)))
            elif k:
                short.append((-1, k, tuple(o)))  # one byte: looked up with ``in``
        packed = {key: marshal.dumps(tuple(entries)) for key, entries in long.items()}
        return cls(frozenset(always), packed, tuple(short), tuple(widths))

    @classmethod
    def cached(
        cls,
        keywords: Callable[[], Sequence[tuple[bytes, ...]]],
        cache_dir: str,
        key: str,
        widths: Callable[[], Sequence[int]] = tuple,
    ) -> KeywordIndex:
        """The index of ``keywords()`` from ``cache_dir`` (``kwindex-KEY-ORDER.marshal``, ``key`` naming
        the keywords), else built and kept there. A copy that does not load or is not shaped as one is
        rebuilt (the cache folder is the user's private state, as for the Hyperscan databases).
        ``keywords()`` may raise ValueError (keywords the index cannot take): nothing is kept then."""
        path = os.path.join(cache_dir, f"kwindex-{key}-{sys.byteorder}.marshal")
        try:
            with open(path, "rb") as handle:
                state = marshal.loads(handle.read())  # noqa: S302 - the user's own cache, checked below
            tag, always, long, short, least = state
            if (
                tag == _VERSION
                and type(always) is frozenset
                and type(long) is dict
                and type(short) is tuple
                and type(least) is tuple
            ):
                return cls(always, long, short, least)
        except (OSError, EOFError, ValueError, TypeError):
            pass
        index = cls.build(keywords(), widths())
        try:
            os.makedirs(cache_dir, mode=0o700, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "wb") as handle:
                handle.write(
                    marshal.dumps((_VERSION, index._always, index._long, index._short, index.widths))
                )
            os.replace(tmp, path)
        except OSError:
            pass  # a cache only saves time
        return index

    def patterns(self, haystack: bytes) -> set[int]:
        """The patterns with a keyword in ``haystack`` (a pattern without keywords always)."""
        out = set(self._always)
        if not _NATIVE:  # pragma: no cover - every CPython we know reads both formats natively
            for entries in self._long.values():
                for keyword, owners in marshal.loads(entries):  # noqa: S302 - from build() or the checked cache
                    if keyword in haystack:
                        out.update(owners)
            for _pair, keyword, owners in self._short:
                if keyword in haystack:
                    out.update(owners)
            return out
        quads = _windows(haystack, 4, "I")
        order = sys.byteorder
        for key in self._long.keys() & quads:
            for keyword, owners in marshal.loads(self._long[key]):  # noqa: S302 - as above
                if len(keyword) == 4 or (
                    int.from_bytes(keyword[-4:], order) in quads and keyword in haystack
                ):
                    out.update(owners)
        if self._short:
            pairs = _windows(haystack, 2, "H")
            for pair, keyword, owners in self._short:
                if (pair == -1 or pair in pairs) and (len(keyword) == 2 or keyword in haystack):
                    out.update(owners)
        return out


_NATIVE = _native("I", 4) and _native("H", 2)


def ascii_keywords(keywords: Sequence[tuple[str, ...]]) -> list[tuple[bytes, ...]]:
    """Each pattern's keywords lower-cased, as ASCII bytes; ValueError when one is not plain ASCII
    (``Matcher`` then looks keywords up in the lower-cased text instead, which the index does not do)."""
    out = []
    for ks in keywords:
        lowered = tuple(k.lower() for k in ks)
        if not all(k.isascii() and "\x7f" not in k for k in lowered):
            raise ValueError("a keyword that is not plain ASCII")
        out.append(tuple(k.encode("ascii") for k in lowered))
    return out


class KeywordMatcher:
    """The hook's secret prefilter: the rules with a keyword in a text (``Matcher.candidates`` of a
    keywords-only :class:`.matcher.Matcher`, less the rules no match of which fits in the text; each
    then run over the text: the same findings), from
    :class:`KeywordIndex` for short texts and the keywords' Hyperscan database past
    :data:`KEYWORD_INDEX_MAX` characters. ``keywords()`` gives each rule's lower-case ASCII keywords
    (asked only when the database or a text the index cannot take needs them)."""

    keywords_only = True

    def __init__(
        self,
        index: KeywordIndex,
        keywords: Callable[[], Sequence[tuple[str, ...]]],
        *,
        cache_dir: str | None,
        on_cold: Callable[[], object] | None = None,
    ) -> None:
        self._index = index
        self._get_keywords = keywords
        self._keywords: Sequence[tuple[str, ...]] | None = None
        self._cache_dir = cache_dir
        self._on_cold = on_cold
        self._database: Any = None
        self._no_database = False
        self._looked_up = 0
        self._retry_at = 0.0
        self.cold = False
        """The keywords' database was needed and is not in the cache (``on_cold`` was called)."""
        self.backend = "keywords"
        """``keywords`` until the keywords' Hyperscan database is loaded, then ``hyperscan``."""

    def _words(self) -> Sequence[tuple[str, ...]]:
        if self._keywords is None:
            self._keywords = [tuple(k.lower() for k in ks) for ks in self._get_keywords()]
        return self._keywords

    def _hyperscan(self) -> Any:
        """The keywords' database from the cache (tried at most every :data:`RETRY_SECONDS` while it is
        not there: a warm-up may build it meanwhile), or ``None``."""
        if self._database is None and not self._no_database and time.monotonic() >= self._retry_at:
            words = self._words()
            try:
                self._database = _keyword_backend(
                    words, ascii_keywords(words), self._cache_dir, cached_only=True
                )
            except ImportError:
                self._no_database = True  # no Hyperscan: the index serves every text
            except _NotCached:
                self.cold = True
                self._retry_at = time.monotonic() + RETRY_SECONDS  # not once per file of a recursive read
                if self._on_cold is not None:
                    self._on_cold()
            else:
                self.cold = False
                self.backend = "hyperscan"
        return self._database

    def expect(self, characters: int) -> None:
        """A hint: about this many characters are about to be looked up in all (a recursive read's
        files). Past :data:`KEYWORD_INDEX_MAX` the database is taken from the first text on, rather
        than after the index has looked up that many characters first."""
        if characters > KEYWORD_INDEX_MAX:
            self._looked_up = max(self._looked_up, KEYWORD_INDEX_MAX)

    def candidates(self, text: str) -> list[int]:
        """Indices of the rules with a keyword in ``text.lower()`` (a rule without keywords always)."""
        haystack: str | bytes = lower_ascii_bytes(text) if keywords_in_ascii(text) else lower(text)
        self._looked_up += len(text)
        database = self._hyperscan() if self._looked_up > KEYWORD_INDEX_MAX else None
        if database is not None:
            found: set[int] = database(text, haystack, None, None)
        elif isinstance(haystack, bytes):
            found = self._index.patterns(haystack)
        else:  # a character that lower-cases into ASCII: ``in`` on the lower-cased text, as Matcher does
            found = {i for i, ks in enumerate(self._words()) if not ks or any(k in haystack for k in ks)}
        widths = self._index.widths
        if widths:  # a rule no match of which fits in the text: not compiled for nothing
            return sorted(i for i in found if widths[i] <= len(text))
        return sorted(found)

"""A bounded per-text result cache, keyed by a digest of the text (never the text itself).

Claude Code resends the whole conversation every turn, so all but the newest blocks were already
scanned and scored on an earlier turn; the detectors are deterministic for one key, so their answers
can be reused.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


_MEMO = threading.local()


def text_digest(text: str) -> bytes:
    """A 128-bit digest of ``text`` (SHA-256 of its UTF-8, truncated: the CPU's SHA extensions make it
    2–3× faster than BLAKE2b here). Within :func:`one_digest_each`, computed once per distinct text."""
    rows: dict[str, bytes] | None = getattr(_MEMO, "rows", None)
    if rows is not None:
        held = rows.get(text)
        if held is not None:
            return held
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]
    if rows is not None:
        rows[text] = digest
    return digest


@contextlib.contextmanager
def one_digest_each() -> Iterator[None]:
    """Within it, on this thread, each distinct text is digested once. A request's texts are looked up
    several times (in flight, in the score cache and the scan cache, then again by the screener and the
    masker); without this, a warm 500 KB conversation spent about 5 ms of each turn hashing."""
    outer: dict[str, bytes] | None = getattr(_MEMO, "rows", None)
    _MEMO.rows = {} if outer is None else outer
    try:
        yield
    finally:
        _MEMO.rows = outer


class ResultCache:
    """A thread-safe LRU of ``(namespace, digest(text)) -> result``."""

    def __init__(self, size: int = 8192, *, namespace: str = "") -> None:
        """``namespace``: what else the results depend on (a scorer's version, its thresholds); it is
        part of every key, so results of another configuration are never reused."""
        self._size = size
        self._prefix = (
            hashlib.sha256(namespace.encode("utf-8", "surrogatepass")).digest()[:8] if namespace else b""
        )
        self._rows: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def digest(self, text: str) -> bytes:
        return self._prefix + text_digest(text)

    def get_or(self, text: str, compute: Callable[[str], T]) -> T:
        key = self.digest(text)
        with self._lock:
            if key in self._rows:
                self._rows.move_to_end(key)
                self.hits += 1
                held: T = self._rows[key]
                return held
            self.misses += 1
        result = compute(text)
        with self._lock:
            self._rows[key] = result
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)
        return result

    def __contains__(self, text: str) -> bool:
        key = self.digest(text)  # outside the lock: other threads need not wait for the hashing
        with self._lock:
            return key in self._rows

    def put(self, text: str, result: Any) -> None:
        key = self.digest(text)
        with self._lock:
            self._rows[key] = result
            self._rows.move_to_end(key)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)


class Waitable(Protocol[T_co]):
    def result(self) -> T_co: ...


W = TypeVar("W", bound=Waitable[Any])


class InFlight:
    """Scans under way, by cache and text digest, so concurrent requests carrying the same new text
    share one scan: Claude Code sends ``count_tokens`` and the turn itself with the same conversation,
    and parallel subagents resend the same context. A failure reaches every waiter (each refuses)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int, bytes], Any] = {}
        self._lock = threading.Lock()
        self.shared = 0
        """Scans a request waited for instead of starting (for the tests and the bench)."""

    def claim(self, cache: ResultCache, text: str, start: Callable[[], W]) -> tuple[W, bool]:
        """The scan of ``text`` under way, started with ``start`` when none is; ``True``: this caller
        started it and must :meth:`release` it once its result is in the cache."""
        key = (id(cache), cache.digest(text))
        with self._lock:
            held: W | None = self._rows.get(key)
            if held is not None:
                self.shared += 1
                return held, False
            pending = start()
            self._rows[key] = pending
            return pending, True

    def release(self, cache: ResultCache, text: str) -> None:
        with self._lock:
            self._rows.pop((id(cache), cache.digest(text)), None)

"""A bounded per-text result cache, keyed by a digest of the text (never the text itself).

Claude Code resends the whole conversation every turn, so all but the newest blocks were already
scanned and scored on an earlier turn; the detectors are deterministic for one key, so their answers
can be reused.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class ResultCache:
    """A thread-safe LRU of ``digest(text) -> result``."""

    def __init__(self, size: int = 8192, *, namespace: str = "") -> None:
        """``namespace``: what else the results depend on (a scorer's version, its thresholds); it is
        part of every key, so results of another configuration are never reused."""
        self._size = size
        self._person = _person(namespace.encode("utf-8", "surrogatepass"))
        self._rows: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def digest(self, text: str) -> bytes:
        return hashlib.blake2b(
            text.encode("utf-8", "surrogatepass"), digest_size=16, person=self._person
        ).digest()

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
        with self._lock:
            return self.digest(text) in self._rows

    def put(self, text: str, result: Any) -> None:
        key = self.digest(text)
        with self._lock:
            self._rows[key] = result
            self._rows.move_to_end(key)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)


class Waitable(Protocol[T_co]):
    def result(self) -> T_co: ...


class InFlight:
    """Scans under way, by cache and text digest, so concurrent requests carrying the same new text
    share one scan: Claude Code sends ``count_tokens`` and the turn itself with the same conversation,
    and parallel subagents resend the same context. A failure reaches every waiter (each refuses)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int, bytes], Waitable[Any]] = {}
        self._lock = threading.Lock()
        self.shared = 0
        """Scans a request waited for instead of starting (for the tests and the bench)."""

    def claim(
        self, cache: ResultCache, text: str, start: Callable[[], Waitable[T]]
    ) -> tuple[Waitable[T], bool]:
        """The scan of ``text`` under way, started with ``start`` when none is; ``True``: this caller
        started it and must :meth:`release` it once its result is in the cache."""
        key = (id(cache), cache.digest(text))
        with self._lock:
            held = self._rows.get(key)
            if held is not None:
                self.shared += 1
                return held, False
            pending = start()
            self._rows[key] = pending
            return pending, True

    def release(self, cache: ResultCache, text: str) -> None:
        with self._lock:
            self._rows.pop((id(cache), cache.digest(text)), None)


def _person(salt: bytes) -> bytes:
    """BLAKE2b's personalisation (16 bytes at most): the namespace itself when short, else its digest."""
    return salt if len(salt) <= 16 else hashlib.blake2b(salt, digest_size=16).digest()

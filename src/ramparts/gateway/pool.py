"""Detection off the event loop's process: secrets/PII scanning and injection scoring in worker
processes, with a per-text result cache in front.

Why processes: scanning a 20 KB prompt takes a millisecond or more of Python and C work that holds the
GIL. On a thread, that delays every streamed event of every other request (the event loop waits for the
GIL), and requests are scanned one at a time. In worker processes the loop only pickles the text; N
workers scan N requests at once.

Why a cache: Claude Code resends the whole conversation every turn, so all but the newest blocks were
scanned on an earlier turn. Results are cached by a 128-bit BLAKE2b digest of the text (never the text
itself); the findings hold offsets and keyed fingerprints, no values.

Failures close: a worker that dies, hangs past ``timeout`` or raises makes the call raise
:class:`ScanFailed`, and the request is refused. A broken pool is replaced for the next call.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import GatewayError
from ..model import Finding
from ..policy.types import DetectSettings

if TYPE_CHECKING:
    from ..detect.scanner import Category

T = TypeVar("T")


class ScanFailed(GatewayError):
    """The detectors could not give an answer (the request must not go out unscanned)."""


class ResultCache:
    """A thread-safe LRU of ``digest(text) -> result``; ``get_or(text, compute)``."""

    def __init__(self, size: int = 8192) -> None:
        self._size = size
        self._rows: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def digest(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

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


def cached(scan: Callable[[str], Sequence[Finding]], size: int = 8192) -> Callable[[str], Sequence[Finding]]:
    """``scan`` behind a :class:`ResultCache` (the detectors are deterministic for one key)."""
    cache = ResultCache(size)

    def scan_cached(text: str) -> Sequence[Finding]:
        return cache.get_or(text, lambda t: tuple(scan(t)))

    scan_cached.cache = cache  # type: ignore[attr-defined]
    return scan_cached


# -- the worker side (module globals, set once per worker process) ---------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(
    settings: DetectSettings | None, cache_dir: str, key: bytes, block: float, warn: float
) -> None:
    from ..detect import injection
    from ..detect.scanner import Detectors
    from .mask import detector_scanner
    from .screen import injection_scorer

    categories: tuple[Category, ...] = ("secret", "pii")
    detectors = (
        Detectors(categories, cache_dir=cache_dir)
        if settings is None
        else Detectors.from_settings(settings, categories, cache_dir=cache_dir)
    )
    injection.use_numpy(True)  # a long-lived process: the vector path pays for its import
    _WORKER["scan"] = detector_scanner(detectors, key)
    _WORKER["score"] = injection_scorer(key, block=block, warn=warn)


def _scan(text: str) -> tuple[Finding, ...]:
    return tuple(_WORKER["scan"](text))


def _score(text: str) -> tuple[float, str, str]:
    result: tuple[float, str, str] = _WORKER["score"](text)
    return result


def _ready() -> bool:
    return "scan" in _WORKER


class ScanPool:
    """``workers`` processes that each hold the detectors; :meth:`scan` and :meth:`score` block the
    calling thread (a worker thread of the gateway, never the event loop)."""

    def __init__(
        self,
        workers: int,
        *,
        settings: DetectSettings | None,
        cache_dir: str,
        key: bytes,
        block: float,
        warn: float,
        timeout: float = 30.0,
    ) -> None:
        if workers < 1:
            raise ValueError("a scan pool needs at least one worker")
        self.workers = workers
        self.timeout = timeout
        self._initargs = (settings, cache_dir, key, block, warn)
        self._lock = threading.Lock()
        self._executor = self._start()

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        # spawn: the gateway has threads (SQLite writers, the loop), which fork would copy half-way
        return concurrent.futures.ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=self._initargs,
        )

    def _call(self, fn: Callable[[str], T], text: str) -> T:
        executor = self._executor
        try:
            future = executor.submit(fn, text)
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError as exc:
            self._replace(executor)  # a hung worker would hold its slot forever
            raise ScanFailed(f"the detectors did not answer within {self.timeout:g} s") from exc
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise ScanFailed("a detector worker process died") from exc
        except RuntimeError as exc:  # submit after shutdown
            raise ScanFailed(f"the detector pool is not running ({exc})") from exc
        except Exception as exc:
            raise ScanFailed(f"the detectors failed ({type(exc).__name__})") from exc

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                for process in list((getattr(broken, "_processes", None) or {}).values()):
                    process.kill()
                self._executor = self._start()

    def scan(self, text: str) -> Sequence[Finding]:
        return self._call(_scan, text)

    def score(self, text: str) -> tuple[float, str, str]:
        return self._call(_score, text)

    def warm(self) -> None:
        """Start every worker and load its detectors now, not on the first request."""
        futures = [self._executor.submit(_ready) for _ in range(self.workers)]
        for future in futures:
            future.result(max(self.timeout, 120.0))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

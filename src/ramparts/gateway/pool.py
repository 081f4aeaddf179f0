"""Detection off the event loop's process: secrets/PII scanning and injection scoring in worker
processes, with a per-text result cache in front.

Why processes: scanning a 20 KB prompt takes a millisecond or more of Python and C work that holds the
GIL. On a thread, that delays every streamed event of every other request (the event loop waits for the
GIL), and requests are scanned one at a time. In worker processes the loop only pickles the text; N
workers scan N requests at once.

Why a cache: Claude Code resends the whole conversation every turn, so all but the newest blocks were
scanned on an earlier turn. Results are cached by a 128-bit digest of the text (SHA-256, truncated;
never the text itself); the findings hold offsets and keyed fingerprints, no values.

Failures close: a worker that dies, hangs past ``timeout`` or raises makes the call raise
:class:`ScanFailed`, and the request is refused. A broken pool is replaced for the next call.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import GatewayError, ScanError
from ..model import Finding
from ..policy.types import DetectSettings
from .cache import ResultCache
from .documents import DocumentPolicy, PdfScan

if TYPE_CHECKING:
    from ..detect.scanner import Category

T = TypeVar("T")


class ScanFailed(GatewayError):
    """The detectors could not give an answer (the request must not go out unscanned)."""


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
    settings: DetectSettings | None,
    cache_dir: str,
    key: bytes,
    block: float,
    warn: float,
    documents: DocumentPolicy | None = None,
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
    import os

    with contextlib.suppress(OSError):
        os.nice(5)  # streams already under way (the event loop's process) come before new scans
    injection.use_numpy(True)  # a long-lived process: the vector path pays for its import
    injection.use_hyperscan_in_background(cache_dir)  # and the signatures' prefilter, once compiled
    _WORKER["scan"] = detector_scanner(detectors, key)
    model = None
    if settings is not None and settings.injection_model.path:
        from ..detect.injection_model import load_slot

        model = load_slot(settings.injection_model)  # checked by the gateway at start too
    _WORKER["score"] = injection_scorer(key, block=block, warn=warn, model=model)
    _WORKER["documents"] = documents or DocumentPolicy()


def _scan(text: str) -> tuple[Finding, ...]:
    return tuple(_WORKER["scan"](text))


def _score(text: str) -> tuple[float, str, str]:
    result: tuple[float, str, str] = _WORKER["score"](text)
    return result


def _pdf(data: str) -> PdfScan:
    from .documents import scan_pdf

    return scan_pdf(data, _WORKER["scan"], _WORKER["documents"])


def _ready() -> bool:
    return "scan" in _WORKER


class Pending(Generic[T]):
    """A scan under way in a worker."""

    __slots__ = ("_executor", "_future", "_pool")

    def __init__(
        self,
        pool: ScanPool,
        executor: concurrent.futures.ProcessPoolExecutor,
        future: concurrent.futures.Future[T],
    ) -> None:
        self._pool, self._executor, self._future = pool, executor, future

    def result(self) -> T:
        return self._pool._wait(self._executor, self._future)


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
        documents: DocumentPolicy | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a scan pool needs at least one worker")
        self.workers = workers
        self.timeout = timeout
        self._initargs = (settings, cache_dir, key, block, warn, documents)
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

    def submit_scan(self, text: str) -> Pending[tuple[Finding, ...]]:
        """Start scanning ``text``; :meth:`Pending.result` gives the findings or raises ScanFailed."""
        return self._submit(_scan, text)

    def submit_score(self, text: str) -> Pending[tuple[float, str, str]]:
        return self._submit(_score, text)

    def submit_pdf(self, data: str) -> Pending[PdfScan]:
        """Extract and scan a base64 PDF in a worker (pypdf is pure Python: it holds the GIL)."""
        return self._submit(_pdf, data)

    def pdf(self, data: str) -> PdfScan:
        return self._call(_pdf, data)

    def _submit(self, fn: Callable[[str], T], text: str) -> Pending[T]:
        executor = self._executor
        try:
            return Pending(self, executor, executor.submit(fn, text))
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise ScanFailed("a detector worker process died") from exc
        except RuntimeError as exc:  # submit after shutdown
            raise ScanFailed(f"the detector pool is not running ({exc})") from exc

    def _call(self, fn: Callable[[str], T], text: str) -> T:
        return self._submit(fn, text).result()

    def _wait(
        self, executor: concurrent.futures.ProcessPoolExecutor, future: concurrent.futures.Future[T]
    ) -> T:
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError as exc:
            self._replace(executor)  # a hung worker would hold its slot forever
            raise ScanFailed(f"the detectors did not answer within {self.timeout:g} s") from exc
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise ScanFailed("a detector worker process died") from exc
        except ScanError as exc:  # says what failed (the model slot's reasons name files, never texts)
            raise ScanFailed(f"the detectors failed: {exc}") from exc
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

"""Detection off the event loop's process: secrets/PII scanning and injection scoring in worker
processes, with a per-text result cache in front.

Why processes: scanning a 20 KB prompt takes a millisecond or more of Python and C work that holds the
GIL. On a thread, that delays every streamed event of every other request (the event loop waits for the
GIL), and requests are scanned one at a time. In worker processes the loop only pickles the text; N
workers scan N requests at once.

Why a cache: Claude Code resends the whole conversation every turn, so all but the newest blocks were
scanned on an earlier turn. Results are cached by a 128-bit digest of the text (SHA-256, truncated;
never the text itself); the findings hold offsets and keyed fingerprints, no values.

Short texts are the exception: a text under ``local_below`` characters (the new tool result of an
appended turn, a short prompt) is scanned in the gateway's own process, on the calling thread, with
the same detectors, key and thresholds (so the same answer), when the request brings no long new
text (then the round trip is paid anyway and the short texts go along). Its scan costs less than
the round trip to a worker (pickling, the queue's feeder thread, the worker's wake-up and the result
thread): 0.6-0.8 ms against 1.3-1.6 ms (``bench/gateway_local.py``).

Failures close: a worker that dies, hangs past ``timeout`` or raises makes the call raise
:class:`ScanFailed`, and the request is refused. A broken pool is replaced for the next call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
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

LOCAL_BELOW = 4096
"""Texts shorter than this (characters) are scanned in the gateway's process, longer ones in a worker
(``bench/gateway_local.py`` measures the crossover)."""


class ScanFailed(GatewayError):
    """The detectors could not give an answer (the request must not go out unscanned)."""


class NotFetched(Exception):
    """Raised instead of a blocking round trip to a worker while :func:`on_loop` holds: an answer the
    event loop's request fetched was evicted from its cache before use. The caller prepares the
    request again on a thread, which may wait."""


_GUARD = threading.local()


@contextlib.contextmanager
def on_loop() -> Iterator[None]:
    """Within it, on this thread, a call that would block on a worker raises :class:`NotFetched`."""
    _GUARD.on = True
    try:
        yield
    finally:
        _GUARD.on = False


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
    import os

    with contextlib.suppress(OSError):
        os.nice(5)  # streams already under way (the event loop's process) come before new scans
    _WORKER.update(_load(settings, cache_dir, key, block, warn, documents))


def _load(
    settings: DetectSettings | None,
    cache_dir: str,
    key: bytes,
    block: float,
    warn: float,
    documents: DocumentPolicy | None,
) -> dict[str, Any]:
    """The detectors a worker holds (and the gateway's process, for short texts): the same settings,
    key and thresholds everywhere, so a text gets the same answer wherever it is scanned."""
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
    injection.use_hyperscan_in_background(cache_dir)  # and the signatures' prefilter, once compiled
    model = None
    if settings is not None and settings.injection_model.path:
        from ..detect.injection_model import load_slot

        model = load_slot(settings.injection_model)  # checked by the gateway at start too
    return {
        "scan": detector_scanner(detectors, key),
        "score": injection_scorer(key, block=block, warn=warn, model=model),
        "documents": documents or DocumentPolicy(),
    }


def _scan(text: str) -> tuple[Finding, ...]:
    return tuple(_WORKER["scan"](text))


def _score(text: str) -> tuple[float, str, str]:
    result: tuple[float, str, str] = _WORKER["score"](text)
    return result


def _both(text: str) -> tuple[tuple[Finding, ...], tuple[float, str, str]]:
    return _scan(text), _score(text)


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

    async def wait(self) -> T:
        """:meth:`result` for the event loop (the same timeout and failures)."""
        return await self._pool._wait_async(self._executor, self._future)


class Part(Generic[T]):
    """One half of a :meth:`ScanPool.submit_both` job: the findings (0) or the score (1)."""

    __slots__ = ("_index", "_whole")

    def __init__(self, whole: Pending[tuple[Any, Any]], index: int) -> None:
        self._whole, self._index = whole, index

    def result(self) -> T:
        part: T = self._whole.result()[self._index]
        return part

    async def wait(self) -> T:
        part: T = (await self._whole.wait())[self._index]
        return part


class ScanPool:
    """``workers`` processes that each hold the detectors; :meth:`scan` and :meth:`score` block the
    calling thread (a worker thread of the gateway, never the event loop). The event loop submits
    (``submit_*``) and awaits :meth:`Pending.wait`."""

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
        local_below: int = LOCAL_BELOW,
    ) -> None:
        if workers < 1:
            raise ValueError("a scan pool needs at least one worker")
        self.workers = workers
        self.timeout = timeout
        self._initargs = (settings, cache_dir, key, block, warn, documents)
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._outstanding = 0
        self._executor = self._start()
        self.scan_below = max(0, local_below)
        """Texts shorter than this are scanned for secrets and PII here (0: never)."""
        model = settings is not None and bool(settings.injection_model.path)
        self.score_below = 0 if model else self.scan_below
        """Texts shorter than this are scored here (0: never; a model slot always scores in the workers,
        its inference would hold this process's GIL)."""
        self._local: dict[str, Any] | None = None
        self._local_lock = threading.Lock()

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

    def submit_both(self, text: str) -> tuple[Part[tuple[Finding, ...]], Part[tuple[float, str, str]]]:
        """Scan and score ``text`` in one job: one round trip (the text pickled and sent once) where
        two would run side by side. For a busy pool (:meth:`busy`), where they would not."""
        whole = self._submit(_both, text)
        return Part(whole, 0), Part(whole, 1)

    def busy(self) -> bool:
        """Every worker has a job (queued work waits for one)."""
        with self._count_lock:
            return self._outstanding >= self.workers

    def _done(self, _future: concurrent.futures.Future[Any]) -> None:
        with self._count_lock:
            self._outstanding -= 1

    def submit_pdf(self, data: str) -> Pending[PdfScan]:
        """Extract and scan a base64 PDF in a worker (pypdf is pure Python: it holds the GIL)."""
        return self._submit(_pdf, data)

    def pdf(self, data: str) -> PdfScan:
        return self._call(_pdf, data)

    def _submit(self, fn: Callable[[str], T], text: str) -> Pending[T]:
        executor = self._executor
        try:
            future = executor.submit(fn, text)
            with self._count_lock:
                self._outstanding += 1
            future.add_done_callback(self._done)
            return Pending(self, executor, future)
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise ScanFailed("a detector worker process died") from exc
        except RuntimeError as exc:  # submit after shutdown
            raise ScanFailed(f"the detector pool is not running ({exc})") from exc

    def _call(self, fn: Callable[[str], T], text: str) -> T:
        if getattr(_GUARD, "on", False):
            raise NotFetched
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

    async def _wait_async(
        self, executor: concurrent.futures.ProcessPoolExecutor, future: concurrent.futures.Future[T]
    ) -> T:
        try:
            # shielded: the scan may be shared with other requests (in flight), a client going away must
            # not cancel it for them
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self.timeout)
        except TimeoutError as exc:
            self._replace(executor)
            raise ScanFailed(f"the detectors did not answer within {self.timeout:g} s") from exc
        except BrokenProcessPool as exc:
            self._replace(executor)
            raise ScanFailed("a detector worker process died") from exc
        except ScanError as exc:
            raise ScanFailed(f"the detectors failed: {exc}") from exc
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this request is being cancelled (its client went away)
            # the job itself was cancelled: its pool was replaced (a worker hung or died)
            raise ScanFailed("the detectors' pool was replaced before this scan ran") from None
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
        if len(text) < self.scan_below:
            return self.scan_here(text)
        return self._call(_scan, text)

    def score(self, text: str) -> tuple[float, str, str]:
        if len(text) < self.score_below:
            return self.score_here(text)
        return self._call(_score, text)

    def scan_here(self, text: str) -> tuple[Finding, ...]:
        """Scan ``text`` in this process, on this thread; a failure raises :class:`ScanFailed`, as a
        worker's does."""
        return self._here("scan", text)  # type: ignore[no-any-return]

    def score_here(self, text: str) -> tuple[float, str, str]:
        return self._here("score", text)  # type: ignore[no-any-return]

    def _here(self, name: str, text: str) -> Any:
        try:
            detectors = self._local or self._load_local()
            result = detectors[name](text)
            return tuple(result) if name == "scan" else result
        except ScanFailed:
            raise
        except ScanError as exc:
            raise ScanFailed(f"the detectors failed: {exc}") from exc
        except Exception as exc:
            raise ScanFailed(f"the detectors failed ({type(exc).__name__})") from exc

    def _load_local(self) -> dict[str, Any]:
        with self._local_lock:
            if self._local is None:
                self._local = _load(*self._initargs)
            return self._local

    def warm(self) -> None:
        """Start every worker and load its detectors now, not on the first request (and this
        process's, for short texts)."""
        futures = [self._executor.submit(_ready) for _ in range(self.workers)]
        if self.scan_below or self.score_below:
            self._load_local()
        for future in futures:
            future.result(max(self.timeout, 120.0))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

"""A background audit writer for the long-running adapters (the gateway, the egress proxy): one
thread appends to the audit store (SQLite with a durable commit per record must not block an event
loop), counts failures and says whether the store is healthy, so the adapter can fail closed."""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

MAX_PENDING = 10_000
"""Records :meth:`AuditWriter.append_built` holds before its adapter stops admitting work (the egress
proxy answers 503 ``egress.audit``): a writer that cannot keep up (a slow disk, a stalled database) must
not turn into unbounded memory. Twice this is a hard ceiling: past it a build is dropped, counted, and
the writer is unhealthy until a write succeeds (the adapter then refuses everything: fail closed)."""


class AuditWriter:
    """Appends records to the audit store (a SQLite path or a PostgreSQL URL) from one background thread (SQLite with a durable
    commit per record must not block the event loop). Also runs the usage-store updates, so a record
    and its budget charge leave even when the client has gone."""

    def __init__(
        self,
        path: str,
        *,
        key_path: str | None = None,
        batch_seconds: float = 0.0,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.path = path
        self.max_pending = max_pending
        self.dropped = 0
        """Builds refused past the hard ceiling (``2 * max_pending``), each also a failure."""
        self.key_path = key_path
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ramparts-audit")
        self._store: Any = None
        self._lock = threading.Lock()
        self._pending: list[Callable[[], dict[str, Any]]] = []
        self._inflight = 0
        """Records handed to :meth:`append` and not yet written (bounded like ``_pending``)."""
        self._draining = False
        self.batch_seconds = batch_seconds
        """How long :meth:`append_built` waits to gather records into one commit (a busy proxy's records
        then cost one durable commit per window, not one each)."""
        self.failures = 0
        self.healthy = True
        """False after a write failed, until one succeeds: the server refuses requests meanwhile."""
        self._pool.submit(self._open).result()  # fail at start, not on the first request

    def _open(self) -> None:
        from ..audit.store import AuditStore

        if self._store is None:
            self._store = AuditStore(self.path, key_path=self.key_path)

    def _append(self, record: dict[str, Any]) -> bool:
        try:
            self._open()
            self._store.append(self.convert(record))
        except Exception as exc:  # noqa: BLE001 - said, counted, and the server fails closed after it
            self.failures += 1
            self.healthy = False
            print(f"ramparts: audit write failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return False
        finally:
            with self._lock:
                self._inflight -= 1
        self.healthy = True
        return True

    def convert(self, record: dict[str, Any]) -> dict[str, Any]:
        """What is handed to :meth:`append`, as the record to store (a subclass builds it)."""
        return record

    def append(self, record: dict[str, Any]) -> concurrent.futures.Future[bool]:
        """Write one record in the background; the future says whether it was written. Past the hard
        ceiling (``2 * max_pending`` records waiting) the record is dropped, counted, and the writer is
        unhealthy until a write succeeds: a stalled store must not turn into unbounded memory, and the
        adapter (which checks :attr:`healthy` and :meth:`has_room`) then refuses (fail closed)."""
        with self._lock:
            if self._inflight + len(self._pending) >= 2 * self.max_pending:
                self.dropped += 1
                self.failures += 1
                self.healthy = False
                refused: concurrent.futures.Future[bool] = concurrent.futures.Future()
                refused.set_result(False)
                return refused
            self._inflight += 1
        try:
            return self._pool.submit(self._append, record)
        except RuntimeError:  # the pool is shut down: nothing will write it
            with self._lock:
                self._inflight -= 1
            raise

    def append_built(self, build: Callable[[], dict[str, Any]]) -> None:
        """Queue a function that builds one record: the background thread builds every record queued
        since its last turn and writes them in one durable commit (group commit), so a busy event loop
        neither builds records nor waits a commit per record. A build that fails counts as a failed
        write; so does a failed commit (for every record in it)."""
        with self._lock:
            if (
                self._inflight + len(self._pending) >= 2 * self.max_pending
            ):  # admitting stopped at max_pending
                self.dropped += 1
                self.failures += 1
                self.healthy = False
                return
            self._pending.append(build)
            if self._draining:
                return
            self._draining = True
        self._pool.submit(self._drain)

    def backlog_size(self) -> int:
        """Records waiting to be built and written."""
        return len(self._pending) + self._inflight

    def has_room(self) -> bool:
        """Whether fewer than ``max_pending`` records wait (the adapter admits new work only then)."""
        return self.backlog_size() < self.max_pending

    def _drain(self) -> None:
        if self.batch_seconds > 0:
            time.sleep(self.batch_seconds)  # gather what arrives meanwhile into the same commit
        with self._lock:
            batch, self._pending = self._pending, []
            self._draining = False
        from .log import canonical

        encoded: list[bytes] = []
        for build in batch:
            try:
                encoded.append(canonical(self.convert(build())))
            except Exception as exc:  # noqa: BLE001 - said, counted, and the adapter fails closed after it
                self.failures += 1
                self.healthy = False
                print(f"ramparts: audit record failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            # let the event loop's thread have the interpreter between two records: a batch built in
            # one stretch would keep it waiting up to the switch interval (5 ms) at every wake-up
            time.sleep(0)
        if not encoded:
            return
        try:
            self._open()
            self._store.append_encoded(encoded)
        except Exception as exc:  # noqa: BLE001 - said, counted, and the adapter fails closed after it
            self.failures += len(encoded)
            self.healthy = False
            print(f"ramparts: audit write failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        self.healthy = True

    def run(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        return self._pool.submit(self._run, fn)

    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - e.g. the budget's store is down: say so, keep going
            self.failures += 1
            print(f"ramparts: background update failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    def flush(self) -> None:
        """Wait until every record submitted so far is written."""
        self._pool.submit(lambda: None).result()

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        self._pool.submit(self._close_store).result()  # SQLite objects stay in their thread
        self._pool.shutdown(wait=True)

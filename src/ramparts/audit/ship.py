"""Shipping the audit log to other places: a durable cursor per sink and a shipper that retries.

The log itself is the outbox: records are durable before the hook answers, so the shipper only
has to remember, per sink, the last sequence number it delivered (``<state_dir>/ship.db``,
SQLite WAL with ``synchronous=FULL``). A crash between delivering and saving the cursor sends
some items again; nothing is skipped. Every payload carries ``(log_id, seq)`` so receivers can
drop duplicates (S3 keys are idempotent by construction).

The hook never imports this module. Sinks that need boto3 or opentelemetry import them lazily.

The source is a small protocol (:class:`ShipSource`) so any store can feed the shipper;
:mod:`ramparts.audit.ship_sources` holds an adapter for the chained store and an in-memory one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from .._util import open_sqlite
from ..errors import AuditError, StoreError

log = logging.getLogger("ramparts.audit.ship")

Kind = Literal["record", "checkpoint"]


class ShipItem(NamedTuple):
    log_id: str
    seq: int  # a record's sequence number; for a checkpoint, the tree size it commits to
    kind: Kind
    body: bytes  # canonical JSON bytes of the record, or the signed checkpoint note (UTF-8)
    time: str = ""  # RFC 3339 UTC, for syslog/OTLP timestamps


class ShipSource(Protocol):
    """What the shipper reads. One source is one log (``log_id``)."""

    @property
    def log_id(self) -> str: ...

    def items_after(self, seq: int, limit: int) -> list[ShipItem]:
        """Records with ``seq`` greater than the given one, ascending, at most ``limit``."""
        ...

    def latest_checkpoint(self) -> ShipItem | None: ...


class Sink(Protocol):
    """A destination. ``send`` returns the items it could not deliver *this time* (to retry alone);
    it raises :class:`TransientSinkError` to retry everything, :class:`PermanentSinkError` to stop."""

    name: str

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]: ...

    def close(self) -> None: ...


class SinkError(AuditError):
    """A sink failed. Messages name the sink and the cause, never record contents."""


class TransientSinkError(SinkError):
    """Worth retrying: timeouts, 5xx, throttling, a refused connection."""


class PermanentSinkError(SinkError):
    """Retrying cannot help (4xx, a bucket without Object Lock, bad credentials): reported, not retried."""


# -- the cursor ---------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (
    sink TEXT NOT NULL,
    log_id TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT -1,
    checkpoint TEXT NOT NULL DEFAULT '',
    checkpoint_seq INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (sink, log_id)
);
"""


class SinkCursor(NamedTuple):
    seq: int
    checkpoint: str  # SHA-256 of the last checkpoint note delivered, '' for none
    checkpoint_seq: int
    last_error: str


class Cursor:
    """Per (sink, log id): the last delivered seq and checkpoint; durable before it is relied on."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        try:
            self._db = open_sqlite(self.path, busy_timeout_ms=5000)
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the shipping cursor {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def get(self, sink: str, log_id: str) -> SinkCursor:
        row = self._db.execute(
            "SELECT seq, checkpoint, checkpoint_seq, last_error FROM cursor WHERE sink = ? AND log_id = ?",
            (sink, log_id),
        ).fetchone()
        return SinkCursor(*row) if row else SinkCursor(-1, "", 0, "")  # -1: the log's seqs start at 0

    def _upsert(self, sink: str, log_id: str, column_sql: str, values: tuple[object, ...]) -> None:
        try:
            self._db.execute("INSERT OR IGNORE INTO cursor (sink, log_id) VALUES (?, ?)", (sink, log_id))
            self._db.execute(
                f"UPDATE cursor SET {column_sql}, updated = ? WHERE sink = ? AND log_id = ?",  # noqa: S608
                (*values, time.time(), sink, log_id),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save the shipping cursor {self.path}: {exc}") from exc

    def delivered(self, sink: str, log_id: str, seq: int) -> None:
        self._upsert(sink, log_id, "seq = max(seq, ?), last_error = ''", (seq,))

    def checkpoint_delivered(self, sink: str, log_id: str, item: ShipItem) -> None:
        self._upsert(sink, log_id, "checkpoint = ?, checkpoint_seq = ?", (digest(item.body), item.seq))

    def failed(self, sink: str, log_id: str, error: str) -> None:
        self._upsert(sink, log_id, "last_error = ?", (error[:500],))

    def rows(self) -> list[tuple[str, str, int, int, str]]:
        return list(
            self._db.execute("SELECT sink, log_id, seq, checkpoint_seq, last_error FROM cursor ORDER BY sink")
        )


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# -- retry policy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    base: float = 0.5
    cap: float = 60.0
    attempts: int = 6  # consecutive failures before a one-shot run gives up on a sink

    def delay(self, failures: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * (2 ** max(failures - 1, 0))))


# -- the shipper ---------------------------------------------------------------------------------------------


@dataclass
class _SinkState:
    sink: Sink
    records: bool
    checkpoints: bool
    failures: int = 0
    not_before: float = 0.0
    pending: list[ShipItem] | None = None  # the undelivered rest of a partly delivered batch
    pending_end: int = 0  # the batch's last seq: the cursor moves there once pending is empty
    disabled: str = ""  # why a permanent error stopped this sink
    gave_up: bool = False


@dataclass
class ShipReport:
    delivered: dict[str, int] = field(default_factory=dict)  # items delivered per sink
    errors: dict[str, str] = field(default_factory=dict)  # the last error per sink

    @property
    def ok(self) -> bool:
        return not self.errors


class Shipper:
    """Delivers records (and the latest checkpoint) from one source to many sinks, independently.

    ``run_once`` makes one pass over the sinks that are due and never sleeps; a failing sink is
    scheduled for a later pass with backoff and the others carry on. ``run`` loops: with
    ``until_idle`` it returns when every sink is caught up or has given up (``ramparts audit ship
    --once``); otherwise until ``stop()`` (a long-lived service). Clock, sleep and randomness are
    injectable for tests.
    """

    def __init__(
        self,
        source: ShipSource,
        cursor: Cursor,
        sinks: Sequence[Sink],
        *,
        checkpoint_sinks: Sequence[str] = (),
        record_sinks: Sequence[str] | None = None,
        batch_size: int = 100,
        backoff: Backoff | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        names = [s.name for s in sinks]
        if len(set(names)) != len(names):
            raise ValueError("sink names must be unique")
        unknown = set(checkpoint_sinks) - set(names)
        if unknown:
            raise ValueError(f"checkpoint sinks not configured: {', '.join(sorted(unknown))}")
        self.source = source
        self.cursor = cursor
        self.batch_size = batch_size
        self.backoff = backoff or Backoff()
        self.interval = interval
        self.clock = clock
        self._wake = threading.Event()
        self.sleep = sleep or self._wake.wait  # stop() interrupts the default sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._stop = False
        self.states = {
            s.name: _SinkState(
                s,
                records=record_sinks is None or s.name in record_sinks,
                checkpoints=s.name in checkpoint_sinks,
            )
            for s in sinks
        }

    def stop(self) -> None:
        """Finish the current send and return from ``run`` (safe from a signal handler or thread)."""
        self._stop = True
        self._wake.set()

    def close(self) -> None:
        for state in self.states.values():
            try:
                state.sink.close()
            except Exception as exc:  # noqa: BLE001 - closing one sink must not stop the others
                log.warning("sink %s: close failed: %s", state.sink.name, type(exc).__name__)

    # one pass

    def run_once(self, report: ShipReport | None = None) -> ShipReport:
        report = report or ShipReport()
        for name, state in self.states.items():
            if state.disabled or state.gave_up or self.clock() < state.not_before:
                continue
            try:
                count = self._pass(state)
            except PermanentSinkError as exc:
                state.disabled = str(exc)
                self._failed(state, exc, report, permanent=True)
                continue
            except Exception as exc:  # noqa: BLE001 - a failing sink must not stop the others
                self._failed(state, exc, report, permanent=False)
                continue
            report.delivered[name] = report.delivered.get(name, 0) + count
            report.errors.pop(name, None)
            state.failures = 0
        return report

    def _pass(self, state: _SinkState) -> int:
        log_id = self.source.log_id
        sink = state.sink
        sent = 0
        if state.records:
            while not self._stop:
                if state.pending is None:
                    batch = self.source.items_after(self.cursor.get(sink.name, log_id).seq, self.batch_size)
                    if not batch:
                        break
                    state.pending, state.pending_end = list(batch), batch[-1].seq
                todo = state.pending
                left = list(sink.send(todo))
                sent += len(todo) - len(left)
                if left:
                    state.pending = left
                    raise TransientSinkError(
                        f"sink {sink.name}: {len(left)} of {len(todo)} item(s) not accepted yet"
                    )
                self.cursor.delivered(sink.name, log_id, state.pending_end)
                state.pending = None
        if state.checkpoints:
            checkpoint = self.source.latest_checkpoint()
            if checkpoint is not None and self.cursor.get(sink.name, log_id).checkpoint != digest(
                checkpoint.body
            ):
                if sink.send([checkpoint]):
                    raise TransientSinkError(f"sink {sink.name}: the checkpoint was not accepted yet")
                self.cursor.checkpoint_delivered(sink.name, log_id, checkpoint)
                sent += 1
        return sent

    def _failed(self, state: _SinkState, exc: Exception, report: ShipReport, *, permanent: bool) -> None:
        # SinkError messages are ours and never hold record contents; anything else shows its type only
        text = str(exc) if isinstance(exc, SinkError) else f"unexpected {type(exc).__name__}"
        name = state.sink.name
        report.errors[name] = text
        try:
            self.cursor.failed(name, self.source.log_id, text)
        except StoreError as cursor_exc:
            log.error("sink %s: %s", name, cursor_exc)
        if permanent:
            log.error("sink %s: permanent error, not retried: %s", name, text)
            return
        state.failures += 1
        if state.failures >= self.backoff.attempts:
            state.gave_up = True  # only a one-shot run consults this; run() resets it for services
        wait = self.backoff.delay(state.failures, self.rng)
        state.not_before = self.clock() + wait
        log.warning("sink %s: attempt %d failed (%s); retry in %.2fs", name, state.failures, text, wait)

    # loops

    def run(self, *, until_idle: bool = False) -> ShipReport:
        report = ShipReport()
        while not self._stop:
            self.run_once(report)
            waiting = [s for s in self.states.values() if not s.disabled and s.failures and not s.gave_up]
            if until_idle and not waiting:
                break
            if not until_idle:
                for s in self.states.values():
                    s.gave_up = False  # a service keeps retrying transient failures (capped backoff)
            now = self.clock()
            due = [s.not_before - now for s in waiting] or [self.interval]
            self.sleep(max(min(min(due), self.interval), 0.0))
        return report


def open_shipper(
    source: ShipSource, state_dir: str, config: object, *, only: Sequence[str] = (), **kwargs: object
) -> Shipper:
    """Build a shipper from a parsed or raw ``ship:`` config; ``only`` restricts it to named sinks."""
    from .ship_config import ShipConfig, build_sinks, parse_ship_config

    parsed = config if isinstance(config, ShipConfig) else parse_ship_config(config)
    specs = [s for s in parsed.sinks if not only or s.name in only]
    missing = set(only) - {s.name for s in parsed.sinks}
    if missing:
        raise AuditError(f"no sink named {', '.join(sorted(missing))} in the ship configuration")
    sinks = build_sinks(specs)
    names = {s.name for s in specs}
    return Shipper(
        source,
        Cursor(os.path.join(state_dir, "ship.db")),
        sinks,
        checkpoint_sinks=[n for n in parsed.checkpoint_sinks if n in names],
        record_sinks=[s.name for s in specs if s.records],
        batch_size=parsed.batch_size,
        backoff=Backoff(parsed.retry_base, parsed.retry_cap, parsed.retry_attempts),
        interval=parsed.interval,
        **kwargs,  # type: ignore[arg-type]
    )

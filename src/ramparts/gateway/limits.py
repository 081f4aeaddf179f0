"""Per-user request rate (token bucket, in memory) and daily token budget (SQLite, shared by replicas).

Pure apart from the budget store; the clock is injected so tests need no sleeping.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import GatewayError

Clock = Callable[[], float]


class RateLimiter:
    """``rate`` requests per minute per key, with bursts up to ``rate`` (one bucket per user).

    In memory, so per replica: N replicas behind one address allow up to N times the rate. The budget
    below is the shared, exact limit."""

    def __init__(self, rate_per_minute: int, clock: Clock = time.monotonic) -> None:
        self.capacity = float(rate_per_minute)
        self.refill = rate_per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed (and a token is spent), else the seconds until the next token."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.refill


def retry_after(seconds: float) -> str:
    """The ``retry-after`` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def utc_day(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))


class UsageStore:
    """Tokens used per user per UTC day, in the state directory's ``gateway.db`` (table ``gateway_usage``)."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS gateway_usage ("
        " user TEXT NOT NULL, day TEXT NOT NULL, tokens INTEGER NOT NULL DEFAULT 0,"
        " PRIMARY KEY (user, day))"
    )

    def __init__(self, path: str, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(self.SCHEMA)
        except sqlite3.Error as exc:
            raise GatewayError(f"cannot open the usage store {path}: {exc}") from exc

    @contextmanager
    def _guard(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise GatewayError(f"usage store {self.path}: {exc}") from exc

    def used(self, user: str, day: str) -> int:
        with self._guard() as db:
            row = db.execute(
                "SELECT tokens FROM gateway_usage WHERE user = ? AND day = ?", (user, day)
            ).fetchone()
        return int(row[0]) if row else 0

    def add(self, user: str, day: str, tokens: int) -> None:
        if tokens <= 0:
            return
        with self._guard() as db:
            db.execute(
                "INSERT INTO gateway_usage (user, day, tokens) VALUES (?, ?, ?)"
                " ON CONFLICT (user, day) DO UPDATE SET tokens = tokens + excluded.tokens",
                (user, day, tokens),
            )

    def close(self) -> None:
        self._db.close()

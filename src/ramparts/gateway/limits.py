"""Per-user request rate (token bucket in memory; on PostgreSQL a per-minute count shared by replicas)
and daily token budget (the state store, shared by replicas).

Pure apart from the budget store; the clock is injected so tests need no sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from ._db import Tables

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


class SharedRateLimiter(Tables):
    """``rate`` requests per user per UTC minute, counted in the shared store (table ``gateway_rate``), so
    replicas behind one address allow ``rate`` in all, not ``rate`` each. A fixed window: one atomic
    upsert-increment per request; up to ``2 * rate`` can pass around a minute boundary. Rows older than
    the previous minute are swept now and then."""

    DDL = (
        "CREATE TABLE IF NOT EXISTS {schema}gateway_rate ("
        ' "user" TEXT NOT NULL, minute {int} NOT NULL, count {int} NOT NULL DEFAULT 0,'
        ' PRIMARY KEY ("user", minute))',
    )

    def __init__(self, location: str, rate_per_minute: int, clock: Clock = time.time) -> None:
        super().__init__(location)
        self.rate = rate_per_minute
        self.clock = clock
        self._swept = -1

    def take(self, key: str) -> float:
        """0 when allowed (and counted), else the seconds until the next minute."""
        now = self.clock()
        minute = int(now // 60)
        rows = self._db.execute(
            'INSERT INTO gateway_rate ("user", minute, count) VALUES (?, ?, 1)'
            ' ON CONFLICT ("user", minute) DO UPDATE SET count = gateway_rate.count + 1 RETURNING count',
            (key, minute),
        ).rows
        if minute != self._swept:
            self._swept = minute
            self._db.execute("DELETE FROM gateway_rate WHERE minute < ?", (minute - 1,))
        if int(rows[0][0]) <= self.rate:
            return 0.0
        return max((minute + 1) * 60 - now, 0.001)


def retry_after(seconds: float) -> str:
    """The ``retry-after`` header value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def utc_day(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))


class UsageStore(Tables):
    """Tokens used per user per UTC day (table ``gateway_usage``) in the gateway's state store: the state
    directory's ``gateway.db`` or a ``postgresql://`` URL. ``add`` is one atomic upsert-increment, so
    concurrent replicas add up exactly."""

    DDL = (
        "CREATE TABLE IF NOT EXISTS {schema}gateway_usage ("
        ' "user" TEXT NOT NULL, day TEXT NOT NULL, tokens {int} NOT NULL DEFAULT 0,'
        ' PRIMARY KEY ("user", day))',
    )

    def used(self, user: str, day: str) -> int:
        rows = self._db.execute(
            'SELECT tokens FROM gateway_usage WHERE "user" = ? AND day = ?', (user, day)
        ).rows
        return int(rows[0][0]) if rows else 0

    def add(self, user: str, day: str, tokens: int) -> None:
        if tokens <= 0:
            return
        self._db.execute(
            'INSERT INTO gateway_usage ("user", day, tokens) VALUES (?, ?, ?)'
            ' ON CONFLICT ("user", day) DO UPDATE SET tokens = gateway_usage.tokens + excluded.tokens',
            (user, day, tokens),
        )

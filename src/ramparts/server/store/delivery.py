"""Alert delivery's outbox: one row per alert and sink, retried with back-off."""

from __future__ import annotations

import logging
import time

from .base import StoreBase
from .model import (
    Alert,
)

log = logging.getLogger("ramparts.server")


class DeliveryStore(StoreBase):
    """The delivery outbox."""

    # -- alert delivery (the outbox: one row per alert and sink) ---------------------------------------------------

    def due_deliveries(self, now: float | None = None, limit: int = 100) -> list[tuple[str, Alert]]:
        """(sink, alert) pairs due for a delivery attempt, oldest first."""
        now = time.time() if now is None else now
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT d.sink, a.id, a.at, a.severity, a.rule, a.host, a.user_name, a.session, a.log_id, "
                "a.message, a.response, a.acknowledged FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                "WHERE d.delivered IS NULL AND d.gave_up IS NULL AND d.next_try <= ? ORDER BY d.next_try LIMIT ?",
                (now, limit),
            )
        return [(str(r[0]), Alert(*r[1:])) for r in rows]

    def delivery_done(self, alert_id: int, sink: str, now: float | None = None) -> None:
        with self._tx() as tx:
            tx.x(
                "UPDATE deliveries SET delivered = ?, attempts = attempts + 1 WHERE alert_id = ? AND sink = ?",
                (time.time() if now is None else now, alert_id, sink),
            )

    def delivery_failed(
        self, alert_id: int, sink: str, error: str, now: float | None = None, *, attempts: int = 8
    ) -> bool:
        """Record a failed attempt and schedule the next (exponential, capped at 5 min); after ``attempts``
        give up and raise an alert about it. Returns True when it gave up."""
        now = time.time() if now is None else now
        with self._tx() as tx:
            row = tx.one("SELECT attempts FROM deliveries WHERE alert_id = ? AND sink = ?", (alert_id, sink))
            tried = (int(row[0]) if row else 0) + 1
            give_up = tried >= attempts
            tx.x(
                "UPDATE deliveries SET attempts = ?, last_error = ?, next_try = ?, gave_up = ? "
                "WHERE alert_id = ? AND sink = ?",
                (tried, error[:500], now + min(300.0, 2.0**tried), now if give_up else None, alert_id, sink),
            )
            if give_up:
                # recorded, and not delivered anywhere again (an alert about delivery must not loop)
                log.error("alert %d: delivery to %s failed %d times: %s", alert_id, sink, tried, error)
                tx.x(
                    "INSERT INTO alerts (at, severity, rule, host, user_name, session, log_id, message, response) "
                    "VALUES (?, 'low', 'delivery.failed', '', '', '', '', ?, '')",
                    (
                        now,
                        f"alert {alert_id} was not delivered to {sink} after {tried} attempts: {error[:300]}",
                    ),
                )
        return give_up

    def deliveries(self, alert_id: int) -> list[tuple[str, int, str, bool, bool]]:
        """(sink, attempts, last error, delivered, gave up) for an alert."""
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT sink, attempts, last_error, delivered, gave_up FROM deliveries WHERE alert_id = ? "
                "ORDER BY sink",
                (alert_id,),
            )
        return [(str(a), int(b), str(c), d is not None, e is not None) for a, b, c, d, e in rows]

"""Sources for the shipper: an adapter over the chained SQLite store, and an in-memory log.

A source for another store needs ``log_id``, ``items_after(seq, limit)`` and
``latest_checkpoint()`` (see :class:`ramparts.audit.ship.ShipSource`); keep it this thin.
"""

from __future__ import annotations

import json

from .ship import ShipItem
from .store import AuditStore

# -- sources -----------------------------------------------------------------------------------------------


class MemorySource:
    """An in-memory log for tests and embedding: append bodies, set the latest checkpoint."""

    def __init__(self, log_id: str = "test-log") -> None:
        self._log_id = log_id
        self.items: list[ShipItem] = []
        self.checkpoint: ShipItem | None = None

    @property
    def log_id(self) -> str:
        return self._log_id

    def append(self, body: bytes, time: str = "") -> ShipItem:
        item = ShipItem(self._log_id, len(self.items) + 1, "record", body, time)
        self.items.append(item)
        return item

    def set_checkpoint(self, note: str) -> ShipItem:
        self.checkpoint = ShipItem(self._log_id, len(self.items), "checkpoint", note.encode("utf-8"))
        return self.checkpoint

    def items_after(self, seq: int, limit: int) -> list[ShipItem]:
        return [item for item in self.items if item.seq > seq][:limit]

    def latest_checkpoint(self) -> ShipItem | None:
        return self.checkpoint


class StoreSource:
    """Adapter over the chained SQLite store. It has no signed checkpoints yet, so the "checkpoint"
    is an unsigned chain-head note (origin, size, head hash) — enough to detect a truncated tail
    against a copy shipped elsewhere. The Merkle store's adapter returns its signed notes instead."""

    def __init__(self, store: AuditStore, log_id: str) -> None:
        self.store = store
        self._log_id = log_id

    @property
    def log_id(self) -> str:
        return self._log_id

    def items_after(self, seq: int, limit: int) -> list[ShipItem]:
        out: list[ShipItem] = []
        for rec in self.store.records(after=seq):
            out.append(
                ShipItem(self._log_id, rec.seq, "record", rec.body.encode("utf-8"), _time_of(rec.body))
            )
            if len(out) >= limit:
                break
        return out

    def latest_checkpoint(self) -> ShipItem | None:
        tail = self.store.tail(1)
        if not tail:
            return None
        head = tail[0]
        note = f"ramparts-chain/{self._log_id}\n{head.seq}\n{head.hash}\n"
        return ShipItem(self._log_id, head.seq, "checkpoint", note.encode("utf-8"), _time_of(head.body))


def _time_of(body: str) -> str:
    try:
        value = json.loads(body).get("time")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""

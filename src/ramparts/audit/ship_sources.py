"""Sources for the shipper: an adapter over the chained SQLite store, and an in-memory log.

A source for another store needs ``log_id``, ``items_after(seq, limit)`` and
``latest_checkpoint()`` (see :class:`ramparts.audit.ship.ShipSource`); keep it this thin.
"""

from __future__ import annotations

import json
import time

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
    """Adapter over the Merkle audit store: each record's exact stored bytes (what its leaf hashes) under
    its seq (the leaf index, from 0), and the latest signed checkpoint note, so a receiver can verify
    what it holds and notice a truncated tail."""

    def __init__(self, store: AuditStore, log_id: str | None = None) -> None:
        self.store = store
        meta = store.log.meta()
        self._log_id = log_id or (meta.log_id if meta is not None else "")

    @property
    def log_id(self) -> str:
        return self._log_id

    def items_after(self, seq: int, limit: int) -> list[ShipItem]:
        out: list[ShipItem] = []
        for rec in self.store.records(after=seq):
            out.append(ShipItem(self._log_id, rec.seq, "record", rec.raw, _time_of(rec.body)))
            if len(out) >= limit:
                break
        return out

    def latest_checkpoint(self) -> ShipItem | None:
        row = self.store.log.latest_checkpoint()
        if row is None:
            return None
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.time))
        return ShipItem(self._log_id, row.size, "checkpoint", row.note.encode("utf-8"), when)


def _time_of(body: str) -> str:
    try:
        value = json.loads(body)
        value = value.get("rec", value).get("time")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""

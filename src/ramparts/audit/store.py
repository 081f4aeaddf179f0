"""A local SQLite audit store with a SHA-256 hash chain (the Merkle log replaces the chain later).

Each record is canonical JSON (sorted keys, no spaces); its hash is
``sha256(prev_hash + "\\n" + body)`` and the first record links to 64 zeros. Appends take
SQLite's write lock (``BEGIN IMMEDIATE``) so concurrent hook processes extend one linear
chain, and return only after the commit is durable (WAL, ``synchronous=FULL``).

The chain shows an edited, inserted, reordered or deleted record, except a deletion of the
newest records: that needs an anchor kept elsewhere (signed checkpoints, a later issue).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from typing import Any, NamedTuple

from .._hashing import sha256
from ..errors import StoreError

GENESIS = "0" * 64
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


class StoredRecord(NamedTuple):
    seq: int
    prev_hash: str
    hash: str
    body: str

    def data(self) -> dict[str, Any]:
        value = json.loads(self.body)
        if not isinstance(value, dict):
            raise ValueError("record body is not an object")
        return value


class Problem(NamedTuple):
    seq: int
    kind: str
    detail: str


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, body: str) -> str:
    digest: str = sha256(
        prev_hash.encode("ascii") + b"\n" + body.encode("utf-8", "surrogatepass")
    ).hexdigest()
    return digest


class AuditStore:
    """The SQLite store under a state directory. Open per process; safe across processes."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 2000) -> None:
        self.path = os.fspath(path)
        try:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open audit store {path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, record: dict[str, Any]) -> StoredRecord:
        """Append one record; returns once the commit is durable."""
        body = canonical(record)
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
                digest = chain_hash(prev, body)
                self._db.execute(
                    "INSERT INTO records (seq, prev_hash, hash, body) VALUES (?, ?, ?, ?)",
                    (seq, prev, digest, body),
                )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write audit record to {self.path}: {exc}") from exc
        return StoredRecord(seq, prev, digest, body)

    def records(self, *, after: int = 0) -> Iterator[StoredRecord]:
        try:
            cursor = self._db.execute(
                "SELECT seq, prev_hash, hash, body FROM records WHERE seq > ? ORDER BY seq", (after,)
            )
            for row in cursor:
                yield StoredRecord(*row)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read audit store {self.path}: {exc}") from exc

    def tail(self, count: int) -> list[StoredRecord]:
        try:
            rows = self._db.execute(
                "SELECT seq, prev_hash, hash, body FROM records ORDER BY seq DESC LIMIT ?", (count,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read audit store {self.path}: {exc}") from exc
        return [StoredRecord(*row) for row in reversed(rows)]

    def verify(self) -> tuple[int, list[Problem]]:
        """Walk the chain; return the number of records and every problem found."""
        return verify_records(self.records())


def verify_records(records: Iterator[StoredRecord]) -> tuple[int, list[Problem]]:
    problems: list[Problem] = []
    expected_seq = 1
    prev = GENESIS
    count = 0
    for rec in records:
        count += 1
        if rec.seq != expected_seq:
            if rec.seq > expected_seq:
                first, last = expected_seq, rec.seq - 1
                span = str(first) if first == last else f"{first}-{last}"
                problems.append(
                    Problem(first, "deleted", f"record(s) {span} missing before record {rec.seq}")
                )
            else:
                problems.append(Problem(rec.seq, "reordered", f"record {rec.seq} is out of sequence"))
        if rec.prev_hash != prev:
            problems.append(
                Problem(rec.seq, "broken-link", f"record {rec.seq} does not link to the record before it")
            )
        if chain_hash(rec.prev_hash, rec.body) != rec.hash:
            problems.append(Problem(rec.seq, "modified", f"record {rec.seq} content does not match its hash"))
        else:
            try:
                json.loads(rec.body)
            except ValueError:
                problems.append(Problem(rec.seq, "malformed", f"record {rec.seq} is not valid JSON"))
        prev = rec.hash
        expected_seq = rec.seq + 1
    return count, problems

"""What a storage backend for the audit log provides (SQLite here; PostgreSQL implements the same).

The log layer (``log.py``) decides *what* to write: canonical bytes, leaf hashes, the frontier, signed
checkpoints. A backend only stores and serialises. Its contract:

1. ``write(step)`` takes the log's **exclusive write lock** (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
   ``SELECT … FROM audit_head … FOR UPDATE`` or ``pg_advisory_xact_lock``), reads the head, calls
   ``step(head)`` **while holding the lock**, and writes everything the returned ``Commit`` holds — the
   rows at their seqs, the new head, the checkpoints — in **one transaction**. It returns only after the
   commit is durable (SQLite: WAL + ``synchronous=FULL``; PostgreSQL: ``synchronous_commit=on``). If
   ``step`` raises, nothing is written and the exception propagates. Every storage failure (locked past
   the busy timeout, read-only, disk full, unique-key violation) raises ``StoreError``. Because rows and
   head are one transaction, a crash leaves either both or neither: there is no torn tail.
2. Seqs are 0-based and dense; the backend never assigns them itself (no sequences/autoincrement: the
   log layer sets ``seq = head.size`` under the lock), so concurrent writers extend one linear log.
3. Reads return rows exactly as stored, in seq order, *including* gaps or oddities an attacker made:
   the verifier must see them. ``leaf`` and ``body`` are always ``bytes``.
4. ``create(meta)`` stores the log's metadata once (first creator wins) and returns what is stored.
5. Optional ``reopen()``: a new backend on the same log with its own connection; the verifier then
   checks the second half of a large log in a forked process.
"""

from __future__ import annotations

from .._tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Protocol


class LogMeta(NamedTuple):
    log_id: str  # 32 hex digits, random, made with the log
    origin: str  # the checkpoint origin line, unique per log
    verifier: str  # the C2SP verifier key string of the checkpoint key (the private key is elsewhere)
    checkpoint_every: int  # a checkpoint is signed in the same transaction as every N-th record
    created: float
    version: int = 1


class Head(NamedTuple):
    """The log's mutable head: its size and frontier, and the latest checkpoint's size and time."""

    size: int = 0
    frontier: bytes = b""  # the frontier's hashes, concatenated (merkle.Frontier.to_bytes)
    checkpoint_size: int = -1  # -1: no checkpoint yet
    checkpoint_time: float = 0.0


class Row(NamedTuple):
    seq: int
    leaf: bytes  # RFC 6962 leaf hash of body
    body: bytes  # exactly the bytes that were hashed


class CheckpointRow(NamedTuple):
    id: int
    size: int
    note: str
    time: float


class Commit(NamedTuple):
    head: Head
    rows: Sequence[Row] = ()
    checkpoints: Sequence[tuple[int, str]] = ()  # (size, signed note)


if TYPE_CHECKING:  # a type only: no code checks for it at run time (typing stays off the hook's path)

    class Backend(Protocol):
        """The storage a log needs. Implementations: ``sqlite.SQLiteBackend``; PostgreSQL later."""

        name: str  # for messages: a path or a DSN without the password

        def meta(self) -> LogMeta | None: ...

        def create(self, meta: LogMeta) -> LogMeta: ...

        def head(self) -> Head: ...

        def write(self, step: Callable[[Head], Commit | None]) -> Commit | None: ...

        def rows(self, start: int = 0, stop: int | None = None, *, batch: int = 65536) -> Iterator[list[Row]]:
            """Rows with start <= seq < stop, in seq order, in batches."""
            ...

        def leaves(self, start: int = 0, stop: int | None = None) -> list[bytes]:
            """Leaf hashes of the rows with start <= seq < stop, in seq order."""
            ...

        def last_rows(self, count: int) -> list[Row]: ...

        def checkpoints(self) -> list[CheckpointRow]:
            """Every stored checkpoint, in insertion order."""
            ...

        def close(self) -> None: ...

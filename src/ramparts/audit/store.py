"""The local audit store: a Merkle log (``log.py``) in one SQLite file (``sqlite.py``), signed checkpoints.

``AuditStore(path)`` is what the hook, the CLI and the session commands open: ``append`` returns once the
record is durable; ``records``/``tail`` read; ``verify`` checks everything (see ``verify.py``). The
checkpoint key lives at ``<folder of path>/keys/audit-ed25519.key`` unless ``key_path`` says otherwise.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from .keys import default_key_path
from .log import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_SECONDS,
    AuditLog,
    StoredRecord,
    canonical,
)
from .sqlite import SQLiteBackend

if TYPE_CHECKING:
    from .checkpoint import Verifier
    from .verify import Problem, Report

__all__ = ["AuditStore", "StoredRecord", "canonical"]


class AuditStore:
    """The SQLite store under a state directory. Open per process; safe across processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 2000,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS,
        key_path: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = os.fspath(path)
        self.backend = SQLiteBackend(self.path, busy_timeout_ms=busy_timeout_ms)
        self.log = AuditLog(
            self.backend,
            key_path=key_path or default_key_path(os.path.dirname(os.path.abspath(self.path))),
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            clock=clock,
        )

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, record: dict[str, Any]) -> StoredRecord:
        """Append one record; returns once the commit is durable."""
        return self.log.append(record)

    def records(self, *, after: int | None = None, start: int = 0) -> Iterator[StoredRecord]:
        """Records in seq order (seqs are 0-based): from ``start``, or those after seq ``after``."""
        return self.log.records(start if after is None else after + 1)

    def tail(self, count: int) -> list[StoredRecord]:
        return self.log.tail(count)

    def checkpoint(self) -> str:
        return self.log.checkpoint()

    def report(self, *, anchor: str | None = None, verifier: Verifier | None = None) -> Report:
        from .verify import verify_log  # hashlib and the verifier load only when verifying

        return verify_log(self.backend, anchor=anchor, verifier=verifier)

    def verify(self, *, anchor: str | None = None) -> tuple[int, list[Problem]]:
        """Check everything; return the number of records and every problem found."""
        report = self.report(anchor=anchor)
        return report.count, report.problems

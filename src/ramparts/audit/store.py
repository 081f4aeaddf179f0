"""The audit store: a Merkle log (``log.py``) in SQLite (``sqlite.py``) or PostgreSQL (``postgres.py``).

``AuditStore(path_or_url)`` is what the hook, the CLI and the session commands open: ``append`` returns once
the record is durable; ``records``/``tail`` read; ``verify`` checks everything (see ``verify.py``). A
``postgresql://`` (or ``postgres://``) URL selects the PostgreSQL backend (an optional ``?schema=NAME``
names its schema); anything else is a SQLite file. ``AuditStore.open(state_dir)`` picks the location the
way the hook and ``ramparts audit`` do: an explicit URL, else ``$RAMPARTS_AUDIT_URL``, else
``<state_dir>/audit.db``. The checkpoint key lives at ``<state_dir>/keys/audit-ed25519.key`` (for a file
store: the file's folder; for a URL without ``state_dir``: the default state directory) unless
``key_path`` says otherwise.
"""

from __future__ import annotations

import os
import time

from .keys import default_key_path
from .log import (
    DEFAULT_CHECKPOINT_EVERY,
    DEFAULT_CHECKPOINT_SECONDS,
    AuditLog,
    StoredRecord,
    canonical,
)
from .sqlite import SQLiteBackend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from .backend import Backend
    from .checkpoint import Verifier
    from .verify import Problem, Report

__all__ = ["AUDIT_URL_ENV", "AuditStore", "StoredRecord", "audit_location", "canonical", "is_url"]

AUDIT_URL_ENV = "RAMPARTS_AUDIT_URL"


def is_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` names a PostgreSQL store (``postgresql://`` or ``postgres://``)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def audit_location(state_dir: str, url: str | None = None) -> str:
    """Where the audit log is: ``url``, else ``$RAMPARTS_AUDIT_URL``, else ``<state_dir>/audit.db``."""
    url = url or os.environ.get(AUDIT_URL_ENV) or None
    if url:
        if not is_url(url):
            from ..errors import StoreError

            raise StoreError(f"the audit URL must start with postgresql:// (got {url.split(':', 1)[0]!r})")
        return url
    return os.path.join(state_dir, "audit.db")


class AuditStore:
    """The audit store at a SQLite path or a PostgreSQL URL. Open per process; safe across processes.

    ``busy_timeout_ms`` bounds how long an append waits for the log's write lock (SQLite's busy timeout,
    PostgreSQL's ``lock_timeout``; PostgreSQL's ``statement_timeout`` is twice that, at least 5 s).
    """

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
        self.backend: Backend
        if is_url(self.path):
            from .postgres import PostgresBackend

            self.backend = PostgresBackend(
                self.path,
                lock_timeout_ms=busy_timeout_ms,
                statement_timeout_ms=max(2 * busy_timeout_ms, 5000),
                connect_timeout_s=busy_timeout_ms / 1000,
            )
            if key_path is None:
                from .._locations import state_dir

                key_path = default_key_path(state_dir(None))
        else:
            self.backend = SQLiteBackend(self.path, busy_timeout_ms=busy_timeout_ms)
        self.log = AuditLog(
            self.backend,
            key_path=key_path or default_key_path(os.path.dirname(os.path.abspath(self.path))),
            checkpoint_every=checkpoint_every,
            checkpoint_seconds=checkpoint_seconds,
            clock=clock,
        )

    @classmethod
    def open(
        cls, state_dir: str, *, url: str | None = None, must_exist: bool = False, **kwargs: Any
    ) -> AuditStore:
        """The store the hook and the CLI use: ``url``, else ``$RAMPARTS_AUDIT_URL``, else the state
        directory's ``audit.db`` (``must_exist``: a missing file is a ``StoreError``, not a new log). The
        signing key is the state directory's unless ``key_path`` is given."""
        location = audit_location(state_dir, url)
        if must_exist and not is_url(location) and not os.path.exists(location):
            from ..errors import StoreError

            missing = FileNotFoundError(2, "no such file", location)  # the CLI's cue: bad input, exit 2
            raise StoreError(f"no audit store at {location}; check --state-dir or the audit URL") from missing
        kwargs.setdefault("key_path", default_key_path(state_dir))
        return cls(location, **kwargs)

    @property
    def name(self) -> str:
        """The store for messages: a path, or a URL without its password."""
        return self.backend.name

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, record: dict[str, Any]) -> StoredRecord:
        """Append one record; returns once the commit is durable."""
        return self.log.append(record)

    def append_many(self, records: list[dict[str, Any]]) -> list[StoredRecord]:
        """Append several records in one durable commit, in order."""
        return self.log.append_many(records)

    def append_encoded(self, encoded: list[bytes]) -> list[StoredRecord]:
        """Append records already in RFC 8785 form (``log.canonical``), in one durable commit."""
        return self.log.append_encoded(encoded)

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

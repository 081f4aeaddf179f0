"""Three small helpers every store and producer shares: the record time stamp, opening a SQLite file
the way every Ramparts store opens one, and making a new directory entry durable. Stdlib only: the hook
imports this."""

from __future__ import annotations

import _sqlite3 as sqlite3  # the C module: the package adds only date adapters and datetime (docs/hook.md)
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal


def utc_stamp(when: float | None = None) -> str:
    """UTC, ISO 8601 with milliseconds and a ``Z`` (``2026-12-06T14:25:15.042Z``): every record's time."""
    now = time.time() if when is None else when
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def open_sqlite(
    path: str,
    *,
    busy_timeout_ms: int,
    synchronous: Literal["NORMAL", "FULL"] = "FULL",
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), write-ahead log, the busy timeout
    and durability asked for; the folder is made private (0700) when it does not exist. Raises
    ``sqlite3.Error`` or ``OSError``: the caller names the store in its own error."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    db = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=check_same_thread
    )
    try:
        db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
    except sqlite3.Error:
        db.close()
        raise
    return db


def fsync_dir(folder: str) -> None:
    """Make the entries just created in ``folder`` durable (a no-op where directories cannot be opened)."""
    if os.name == "nt":  # pragma: no cover - Windows has no directory fsync
        return
    fd = os.open(folder or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

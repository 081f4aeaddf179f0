"""Small helpers every store and producer shares: the record time stamp, SQLite's C module loaded for a
cold process (``sqlite3``), opening a SQLite file the way every Ramparts store opens one, and making a new
directory entry durable. Stdlib only: the hook imports this."""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _sqlite3 as sqlite3
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any, Literal

__all__ = ["fsync_dir", "open_sqlite", "sqlite3", "utc_stamp"]


def _cache_info(hits: int, misses: int, maxsize: int, currsize: int) -> tuple[int, int, int, int]:
    """What the statement cache's ``cache_info()`` would give (a tuple, not functools' namedtuple): the
    connection never exposes its cache, so nothing calls it."""
    return (hits, misses, maxsize, currsize)


def _import_sqlite3() -> ModuleType:
    """``_sqlite3``, the C module (the ``sqlite3`` package adds only date adapters and datetime, docs/hook.md),
    without ``functools``.

    The module's initialisation fetches ``functools.lru_cache`` for each connection's statement cache
    (CPython 3.11-3.13: ``lru_cache(cached_statements)(connection)``). Importing ``functools`` costs a cold
    hook some 14 M instructions (it imports collections, operator, reprlib, keyword, types) for a decorator
    whose cache is the C ``_functools._lru_cache_wrapper``. So, while ``functools`` is not loaded and no
    other thread runs (none can see the stand-in), a module holding only an ``lru_cache`` that builds that
    same C cache stands in for ``functools`` during the import and is taken out of ``sys.modules`` right
    after. Anything unexpected (a thread, no ``_functools``, an initialisation that fails) takes the plain
    import, which loads ``functools``."""
    if "_sqlite3" in sys.modules or "functools" in sys.modules:
        return _plain_sqlite3()
    try:
        import _thread
        from _functools import _lru_cache_wrapper  # type: ignore[import-not-found]

        alone = _thread._count() == 0  # threads started besides the main one, still running
    except (ImportError, AttributeError):
        return _plain_sqlite3()
    if not alone:
        return _plain_sqlite3()

    def lru_cache(maxsize: int = 128, typed: bool = False) -> Callable[[Any], Any]:
        def decorate(function: Any) -> Any:  # functools.lru_cache: a negative size is 0 (no cache)
            return _lru_cache_wrapper(function, max(maxsize, 0), typed, _cache_info)

        return decorate

    stand_in = type(sys)("functools", "stands in for functools while _sqlite3 initialises (ramparts._util)")
    stand_in.lru_cache = lru_cache  # type: ignore[attr-defined]
    sys.modules["functools"] = stand_in
    module: ModuleType | None = None
    try:
        import _sqlite3

        module = _sqlite3
    except Exception:  # noqa: BLE001 - initialised another way: the plain import says why, if it fails too
        sys.modules.pop("_sqlite3", None)
    finally:
        if sys.modules.get("functools") is stand_in:
            del sys.modules["functools"]
    return module if module is not None else _plain_sqlite3()


def _plain_sqlite3() -> ModuleType:
    import _sqlite3

    return _sqlite3


if not TYPE_CHECKING:
    sqlite3 = _import_sqlite3()


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
    # connect() sets SQLite's busy timeout itself, to int(timeout * 1000) ms: half a millisecond more
    # makes that exactly busy_timeout_ms (ms / 1000 * 1000 falls short for some, 1001 -> 1000), with no
    # PRAGMA statement of its own to prepare and run on every open
    db = sqlite3.connect(
        path,
        timeout=(int(busy_timeout_ms) + 0.5) / 1000,
        isolation_level=None,
        check_same_thread=check_same_thread,
    )
    try:
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

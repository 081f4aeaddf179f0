"""The SQLite backend: one file, WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` as the log's write lock.

Tables: ``meta`` (key/value), ``records (seq, leaf, body)``, ``head`` (one row: size, frontier, latest
checkpoint), ``checkpoints (id, size, note, time)``. A file in the pre-Merkle format (a ``records`` table
with ``prev_hash``) has that table renamed to ``legacy_chain_records`` and a new log starts beside it.
"""

from __future__ import annotations

import os

from .._util import open_sqlite, sqlite3  # _sqlite3, the C module, loaded without functools
from ..errors import StoreError
from .backend import CheckpointRow, Commit, Head, LogMeta, Row

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, leaf BLOB NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    size INTEGER NOT NULL,
    frontier BLOB NOT NULL,
    checkpoint_size INTEGER NOT NULL,
    checkpoint_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL, time REAL NOT NULL
);
"""
_ROWS = "SELECT seq, CAST(leaf AS BLOB), CAST(body AS BLOB) FROM records"


class SQLiteBackend:
    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 2000) -> None:
        self.name = self.path = os.fspath(path)
        self.busy_timeout_ms = busy_timeout_ms
        try:
            self._db = open_sqlite(self.path, busy_timeout_ms=busy_timeout_ms)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open audit store {self.path}: {exc}") from exc
        try:
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"meta", "records", "head", "checkpoints"} <= tables:
                self._create_schema(tables)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open audit store {self.path}: {exc}") from exc

    def reopen(self) -> SQLiteBackend:
        """A new connection to the same file (for a forked verifier process)."""
        return SQLiteBackend(self.path, busy_timeout_ms=self.busy_timeout_ms)

    def _create_schema(self, tables: set[str]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if "records" in tables:
                columns = {r[1] for r in self._db.execute("PRAGMA table_info(records)")}
                if "prev_hash" in columns:
                    self._db.execute("ALTER TABLE records RENAME TO legacy_chain_records")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()

    def _error(self, action: str, exc: BaseException) -> StoreError:
        return StoreError(f"cannot {action} audit store {self.path}: {exc}")

    # -- metadata and head --------------------------------------------------------------------------------

    def meta(self) -> LogMeta | None:
        try:
            values = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        if "log_id" not in values:
            return None
        try:
            return LogMeta(
                log_id=values["log_id"],
                origin=values["origin"],
                verifier=values["verifier"],
                checkpoint_every=int(values["checkpoint_every"]),
                created=float(values["created"]),
                version=int(values.get("version", 1)),
            )
        except (KeyError, ValueError) as exc:
            raise StoreError(f"audit store {self.path} has malformed metadata: {exc}") from exc

    def create(self, meta: LogMeta) -> LogMeta:
        items = [
            ("log_id", meta.log_id),
            ("origin", meta.origin),
            ("verifier", meta.verifier),
            ("checkpoint_every", str(meta.checkpoint_every)),
            ("created", repr(meta.created)),
            ("version", str(meta.version)),
        ]
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if self._db.execute("SELECT 1 FROM meta WHERE key = 'log_id'").fetchone() is None:
                    self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", items)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        stored = self.meta()
        assert stored is not None
        return stored

    def _head(self) -> Head:
        row = self._db.execute(
            "SELECT size, frontier, checkpoint_size, checkpoint_time FROM head WHERE id = 0"
        ).fetchone()
        if row is None:
            return Head()
        return Head(int(row[0]), bytes(row[1]), int(row[2]), float(row[3]))

    def head(self) -> Head:
        try:
            return self._head()
        except (sqlite3.Error, TypeError, ValueError) as exc:
            raise self._error("read", exc) from exc

    # -- the one write path -------------------------------------------------------------------------------

    def write(self, step: Callable[[Head], Commit | None]) -> Commit | None:
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                commit = step(self._head())
                if commit is not None:
                    if commit.rows:
                        db.executemany("INSERT INTO records (seq, leaf, body) VALUES (?, ?, ?)", commit.rows)
                    h = commit.head
                    db.execute(
                        "INSERT OR REPLACE INTO head (id, size, frontier, checkpoint_size, checkpoint_time) "
                        "VALUES (0, ?, ?, ?, ?)",
                        (h.size, h.frontier, h.checkpoint_size, h.checkpoint_time),
                    )
                    if commit.checkpoints:
                        db.executemany(
                            "INSERT INTO checkpoints (size, note, time) VALUES (?, ?, ?)",
                            [(size, note, h.checkpoint_time) for size, note in commit.checkpoints],
                        )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error("write to", exc) from exc
        return commit

    # -- reads ----------------------------------------------------------------------------------------------

    def rows(self, start: int = 0, stop: int | None = None, *, batch: int = 65536) -> Iterator[list[Row]]:
        query, args = self._range(_ROWS, start, stop)
        try:
            cursor = self._db.execute(query + " ORDER BY seq", args)
            while True:
                got: list[Any] = cursor.fetchmany(batch)
                if not got:
                    return
                yield got  # tuples (seq, leaf, body): Row-shaped, cheaper than building Rows
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

    def leaves(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        query, args = self._range("SELECT CAST(leaf AS BLOB) FROM records", start, stop)
        try:
            return [r[0] for r in self._db.execute(query + " ORDER BY seq", args)]
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

    def last_rows(self, count: int) -> list[Row]:
        try:
            got = self._db.execute(_ROWS + " ORDER BY seq DESC LIMIT ?", (count,)).fetchall()
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc
        return [Row(*r) for r in reversed(got)]

    def checkpoints(self) -> list[CheckpointRow]:
        try:
            got = self._db.execute("SELECT id, size, CAST(note AS TEXT), time FROM checkpoints ORDER BY id")
            return [CheckpointRow(int(i), int(s), str(n), float(t)) for i, s, n, t in got]
        except (sqlite3.Error, TypeError, ValueError) as exc:
            raise self._error("read", exc) from exc

    @staticmethod
    def _range(query: str, start: int, stop: int | None) -> tuple[str, tuple[int, ...]]:
        if stop is None:
            return query + " WHERE seq >= ?", (start,)
        return query + " WHERE seq >= ? AND seq < ?", (start, stop)

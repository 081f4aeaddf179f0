"""Connections (a small pool), transactions with ``?`` placeholders on both databases, schema creation,
and the writers the other parts share: an alert (with its delivery outbox rows) and a kill order."""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self

from ...errors import StoreError
from ...monitor import (
    MonitorConfig,
)
from .model import (
    _RANK,
    DEFAULT_SCHEMA,
    KillOrder,
)
from .schema import _DDL

log = logging.getLogger("ramparts.server")


class _Tx:
    """A transaction's cursor with ``?`` placeholders on both databases."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn, self.postgres = conn, postgres

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def q(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(self._sql(sql), tuple(params)).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.conn.execute(self._sql(sql), tuple(params)).fetchone()
        return tuple(row) if row is not None else None

    def x(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(self.conn.execute(self._sql(sql), tuple(params)).rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.postgres:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self.conn.executemany(sql, rows)

    def values(self, head: str, rows: Sequence[Sequence[Any]], tail: str = "", chunk: int = 500) -> None:
        """``head VALUES (…), (…), … tail`` in statements of up to ``chunk`` rows: one round trip for many
        rows (an upsert's rows must have distinct keys, as PostgreSQL updates a row once a statement)."""
        for lo in range(0, len(rows), chunk):
            part = rows[lo : lo + chunk]
            one = "(" + ", ".join("?" * len(part[0])) + ")"
            params = [value for row in part for value in row]
            self.x(f"{head} VALUES {', '.join([one] * len(part))} {tail}", params)

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows the caller knows are new: PostgreSQL's COPY (one stream, no per-row statement),
        SQLite's executemany."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.postgres:
            with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608 - ours


class StoreBase:
    """The connection pool, transactions, and the writers several parts share (alerts, kill orders)."""

    def __init__(self, location: str, *, pool_size: int = 8, monitor: MonitorConfig | None = None) -> None:
        self.location = location
        self.postgres = location.startswith(("postgresql://", "postgres://"))
        self.monitor = monitor or MonitorConfig()
        self._pool: queue.LifoQueue[Any] = queue.LifoQueue()
        self._made = 0
        self._size = pool_size
        self._lock = threading.Lock()
        self._closed = False
        if self.postgres:
            from ...audit.postgres import display_name, split_schema

            self._dsn, self._schema = split_schema(location, DEFAULT_SCHEMA)
            self.name = display_name(self._dsn, self._schema)
        else:
            self._schema = ""
            self.name = location
            os.makedirs(os.path.dirname(os.path.abspath(location)), mode=0o700, exist_ok=True)
        self._create()

    @classmethod
    def open(cls, state_dir: str, url: str | None = None, **kwargs: Any) -> Self:
        return cls(url or os.path.join(state_dir, "server.db"), **kwargs)

    # -- connections ---------------------------------------------------------------------------------------------

    def _connect(self) -> Any:
        try:
            if self.postgres:
                import psycopg

                pg = psycopg.connect(self._dsn, connect_timeout=5)
                pg.execute(f'SET search_path TO "{self._schema}"')
                pg.execute("SET lock_timeout = '10s'")
                pg.commit()
                return pg
            conn = sqlite3.connect(self.location, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            return conn
        except Exception as exc:
            raise StoreError(f"cannot open the control plane's store {self.name}: {exc}") from exc

    def _get(self) -> Any:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._made < self._size:
                self._made += 1
                try:
                    return self._connect()
                except BaseException:
                    self._made -= 1
                    raise
        try:
            return self._pool.get(timeout=30)
        except queue.Empty as exc:
            raise StoreError("the control plane's store is busy (no free connection in 30 s)") from exc

    def _put(self, conn: Any, broken: bool) -> None:
        if broken or self._closed:
            try:
                conn.close()
            finally:
                with self._lock:
                    self._made -= 1
            return
        self._pool.put(conn)

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[_Tx]:
        conn = self._get()
        broken = False
        try:
            if not self.postgres:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _Tx(conn, self.postgres)
                conn.commit() if self.postgres else conn.execute("COMMIT")
            except BaseException:
                try:
                    if self.postgres:
                        conn.rollback()
                    elif conn.in_transaction:
                        conn.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - the connection is dropped below
                    broken = True
                raise
        except (sqlite3.Error, OSError) as exc:
            broken = True
            raise StoreError(f"control plane store {self.name}: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg"):
                broken = True
                raise StoreError(f"control plane store {self.name}: {type(exc).__name__}: {exc}") from exc
            raise
        finally:
            self._put(conn, broken)

    def _create(self) -> None:
        ddl = _DDL.format(
            blob="BYTEA" if self.postgres else "BLOB",
            serial="BIGSERIAL PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY AUTOINCREMENT",
        )
        with self._tx() as tx:
            if self.postgres:
                tx.x("SELECT pg_advisory_xact_lock(1380011344)")  # one creator at a time
                tx.x(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            for statement in ddl.split(";"):
                if statement.strip():
                    tx.x(statement)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                break

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _alert(
        self,
        tx: _Tx,
        now: float,
        severity: str,
        rule: str,
        message: str,
        *,
        host: str,
        user: str = "",
        session: str = "",
        log_id: str = "",
        response: str = "",
    ) -> None:
        log.warning("alert %s %s host=%s session=%s: %s", severity, rule, host, session, message)
        row = tx.one(
            "INSERT INTO alerts (at, severity, rule, host, user_name, session, log_id, message, response) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (now, severity, rule, host, user, session, log_id, message, response),
        )
        rank = _RANK.get(severity, 0)
        sinks = [d.name for d in self.monitor.deliver if rank >= _RANK[d.min_severity]]
        if row is not None and sinks:
            tx.many(
                "INSERT INTO deliveries (alert_id, sink, attempts, next_try, last_error) VALUES (?, ?, 0, ?, '')",
                [(int(row[0]), name, now) for name in sinks],
            )

    def _kill(self, tx: _Tx, order: KillOrder) -> None:
        tx.x(
            "INSERT INTO kills (scope, target, reason, by_whom, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (scope, target) DO UPDATE SET reason = excluded.reason, by_whom = excluded.by_whom, "
            "at = excluded.at",
            (order.scope, order.target, order.reason, order.by, order.at),
        )

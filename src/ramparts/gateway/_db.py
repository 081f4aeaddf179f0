"""The gateway's state store: one connection to a SQLite file or a PostgreSQL schema, behind one call.

The vault, the token store and the usage store hold their rows here (``gateway.db`` in the state
directory by default; ``postgresql://…`` when configured, so replicas on several machines share them).
Their statements are written once, in the SQL both engines speak (``?`` parameters, ``ON CONFLICT``,
quoted ``"user"``); :class:`PostgresDatabase` turns ``?`` into ``%s`` and keeps its tables in their own
schema (``ramparts_gateway`` unless the URL says ``?schema=NAME``) through ``search_path``. Table
definitions are templates: ``{blob}``, ``{real}``, ``{int}`` and ``{schema}`` (``"name".`` for
PostgreSQL, empty for SQLite).

Every driver error becomes the store's error class (a :class:`GatewayStoreError`): the proxy answers
such a request with a 503 in Anthropic's format and sends nothing upstream. Messages name the store
(a path, or a URL without its password), never a value. psycopg is imported only for a PostgreSQL store.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .._util import open_sqlite
from ..errors import GatewayError

if TYPE_CHECKING:
    import psycopg

DEFAULT_SCHEMA = "ramparts_gateway"
_DDL_LOCK = 0x52414D47  # "RAMG": advisory-lock class under which the gateway's tables are created
_TYPES = {
    "sqlite": {"blob": "BLOB", "real": "REAL", "int": "INTEGER"},
    "postgres": {"blob": "bytea", "real": "double precision", "int": "bigint"},
}


class GatewayStoreError(GatewayError):
    """The gateway's state store failed (unreachable, broken, refused): the request fails closed."""


class Result(NamedTuple):
    rows: list[tuple[Any, ...]]
    changed: int
    """Rows changed (``UPDATE``/``INSERT``), as the driver reports it."""


class Database(Protocol):
    name: str
    """The store for messages: a path, or a URL without its password."""

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        """Run one statement (autocommit). On PostgreSQL, a statement that finds its connection broken
        (a server restart, a failover) runs once more on a new one. Every statement is idempotent but
        the budget's increment, which could then count one answer twice if the connection broke between
        its commit and the reply: rare, and on the safe side of a limit."""
        ...

    def close(self) -> None: ...


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def open_database(
    location: str, ddl: Sequence[str], *, error: type[GatewayStoreError] = GatewayStoreError
) -> Database:
    """A SQLite file or, for a ``postgresql://`` URL, a PostgreSQL schema, with ``ddl``'s tables."""
    if is_postgres_url(location):
        return PostgresDatabase(location, ddl, error=error)
    return SQLiteDatabase(location, ddl, error=error)


def _ddl(ddl: Sequence[str], kind: str, schema: str = "") -> list[str]:
    return [statement.format(schema=schema, **_TYPES[kind]) for statement in ddl]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class SQLiteDatabase:
    """A SQLite file in WAL mode, shared by the processes of one machine."""

    def __init__(
        self,
        path: str,
        ddl: Sequence[str],
        *,
        busy_timeout_ms: int = 5000,
        error: type[GatewayStoreError] = GatewayStoreError,
    ) -> None:
        self.name = path
        self.error = error
        self._lock = threading.Lock()
        try:
            self._db = open_sqlite(
                path, busy_timeout_ms=busy_timeout_ms, synchronous="NORMAL", check_same_thread=False
            )
            for statement in _ddl(ddl, "sqlite"):
                self._db.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            raise error(f"cannot open the gateway store {path}: {_first_line(exc)}") from exc

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        with self._lock:
            try:
                cursor = self._db.execute(sql, tuple(args))
                return Result(cursor.fetchall(), cursor.rowcount)
            except sqlite3.Error as exc:
                raise self.error(f"gateway store {self.name}: {_first_line(exc)}") from exc

    def close(self) -> None:
        self._db.close()


class PostgresDatabase:
    """One autocommit connection to a PostgreSQL schema, reconnected when it breaks.

    ``connect_timeout_s`` bounds how long a request waits for an unreachable server (libpq's minimum is
    2 s); ``statement_timeout_ms`` and ``lock_timeout_ms`` bound a statement. The tables are created on
    first use, idempotently, under a transaction-scoped advisory lock (two replicas starting at once do
    not race on the catalog).
    """

    def __init__(
        self,
        url: str,
        ddl: Sequence[str],
        *,
        connect_timeout_s: float = 3,
        statement_timeout_ms: int = 5000,
        lock_timeout_ms: int = 2000,
        error: type[GatewayStoreError] = GatewayStoreError,
    ) -> None:
        from ..audit.postgres import display_name, split_schema
        from ..errors import StoreError

        self.error = error
        try:
            self.dsn, self.schema = split_schema(url, DEFAULT_SCHEMA)
        except StoreError as exc:  # the only check split_schema makes: the schema's name
            raise error("gateway store: invalid schema name (letters, digits, underscores)") from exc
        self.name = display_name(self.dsn, self.schema)
        self.connect_timeout_s = max(2, math.ceil(connect_timeout_s))
        self.statement_timeout_ms = int(statement_timeout_ms)
        self.lock_timeout_ms = int(lock_timeout_ms)
        self._lock = threading.Lock()
        try:
            import psycopg
        except ImportError as exc:
            raise error(
                f"a PostgreSQL gateway store needs psycopg: pip install 'ramparts[postgres]' ({exc})"
            ) from exc
        self._pg = psycopg
        self._db: psycopg.Connection[Any] | None = None
        with self._lock:
            conn = self._conn()
            tables = _ddl(ddl, "postgres", f'"{self.schema}".')
            names = [
                f'"{self.schema}".{t}'
                for t in re.findall(r"CREATE TABLE IF NOT EXISTS \{schema\}(\w+)", " ".join(ddl))
            ]
            try:
                if names:
                    query = "SELECT " + ", ".join(["to_regclass(%s)"] * len(names))
                    found = conn.execute(query, names).fetchone()
                    if found is not None and None not in found:
                        return  # a role that may only read and write the tables needs no CREATE
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_DDL_LOCK, self.schema))
                    if conn.execute("SELECT to_regnamespace(%s)", (self.schema,)).fetchone() == (None,):
                        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                    for statement in tables:
                        conn.execute(statement)
            except psycopg.Error as exc:
                conn.close()
                raise error(
                    f"cannot create the tables of gateway store {self.name}: {_first_line(exc)}"
                ) from exc

    def _conn(self) -> psycopg.Connection[Any]:
        if self._db is not None and not (self._db.closed or self._db.broken):
            return self._db
        if self._db is not None:
            self._db.close()
            self._db = None
        from psycopg.conninfo import conninfo_to_dict

        try:
            given = str(conninfo_to_dict(self.dsn).get("options") or "")
            self._db = self._pg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                options=given
                + f' -c search_path="{self.schema}" -c statement_timeout={self.statement_timeout_ms}'
                f" -c lock_timeout={self.lock_timeout_ms}",
                application_name="ramparts-gateway",
            )
        except self._pg.Error as exc:
            raise self.error(f"cannot connect to gateway store {self.name}: {_first_line(exc)}") from exc
        return self._db

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Result:
        statement = sql.replace("?", "%s")
        with self._lock:
            for attempt in (1, 2):
                conn = self._conn()
                try:
                    cursor = conn.execute(statement, tuple(args))
                    rows = cursor.fetchall() if cursor.description is not None else []
                    return Result([tuple(r) for r in rows], cursor.rowcount)
                except self._pg.Error as exc:
                    if attempt == 1 and conn.broken:
                        continue  # a connection a server restart broke: once more on a new one
                    raise self.error(f"gateway store {self.name}: {_first_line(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class Tables:
    """A store whose rows live in the gateway's state store: ``DDL``'s tables at ``location`` (a SQLite
    path or a ``postgresql://`` URL), on a connection of its own."""

    DDL: tuple[str, ...] = ()

    def __init__(self, location: str) -> None:
        self._db = open_database(location, self.DDL)
        self.path = location
        self.name = self._db.name

    def close(self) -> None:
        self._db.close()

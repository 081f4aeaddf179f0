"""The PostgreSQL backend: the scale-out store, with the same contract as ``sqlite.py`` (see ``backend.py``).

``PostgresBackend("postgresql://writer@db.example/ramparts?schema=ramparts_audit")`` (or a ``key=value``
libpq string and ``schema=``). Tables, in their own schema: ``meta`` (key/value), ``records (seq, leaf,
body)``, ``head`` (one row, id 0: size, frontier, latest checkpoint), ``checkpoints (id, size, note,
time)``. They are created on first use, idempotently, under a transaction-scoped advisory lock (so two
first users at once do not race on the catalog). Triggers refuse ``UPDATE``/``DELETE`` (per row) and
``TRUNCATE`` (per statement) on ``records``, ``checkpoints`` and ``meta`` even for the owner;
``grant_writer(role)`` gives a separate role only what appending needs.

The write lock is ``SELECT … FROM head WHERE id = 0 FOR UPDATE``: concurrent writers queue on that row,
the log layer assigns ``seq = head.size`` while it is held, and rows, head and checkpoints commit in one
transaction with ``synchronous_commit = on``, so there is one linear log and no torn tail. ``lock_timeout``
and ``statement_timeout`` bound how long a writer waits; every driver error becomes ``StoreError``.

psycopg (3) is imported only when a backend is made: the hook does not load it unless configured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..errors import StoreError
from .backend import CheckpointRow, Commit, Head, LogMeta, Row

if TYPE_CHECKING:
    import psycopg

SCHEMES = ("postgresql://", "postgres://")
DEFAULT_SCHEMA = "ramparts_audit"
_IDENT = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_DDL_LOCK = 0x52414D50  # "RAMP": advisory-lock class under which the schema is created
_TABLES = ("meta", "records", "head", "checkpoints")
_GUARDED = ("records", "checkpoints", "meta")
_COPY_FROM = 64  # insert this many rows or more with COPY instead of a multi-row INSERT


def is_postgres_url(location: str) -> bool:
    return location.startswith(SCHEMES)


def split_schema(dsn: str, schema: str | None = None) -> tuple[str, str]:
    """Take a ``schema=`` query parameter out of a ``postgresql://`` URL (libpq does not know it)."""
    if is_postgres_url(dsn):
        parts = urlsplit(dsn)
        query = parse_qsl(parts.query, keep_blank_values=True)
        given = [v for k, v in query if k == "schema"]
        if given:
            schema = given[-1]
            rest = urlencode(
                [(k, v) for k, v in query if k != "schema"], quote_via=quote
            )  # libpq: %20, not +
            dsn = urlunsplit(parts._replace(query=rest))
    schema = schema or DEFAULT_SCHEMA
    if not _IDENT.match(schema):
        raise StoreError(f"invalid audit schema name {schema!r} (letters, digits, underscores)")
    return dsn, schema


def display_name(dsn: str, schema: str) -> str:
    """The DSN as ``postgresql://user@host:port/db?schema=s``: for messages, never with the password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - a malformed DSN: say so, without echoing it (it may hold a password)
        return f"postgresql://(malformed DSN)?schema={schema}"
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host') or ''}{port}/{info.get('dbname') or ''}?schema={schema}"


class PostgresBackend:
    atomic = True  # rows, head and checkpoints commit in one transaction

    def __init__(
        self,
        dsn: str,
        *,
        schema: str | None = None,
        lock_timeout_ms: int = 2000,
        statement_timeout_ms: int = 30000,
        connect_timeout_s: float = 5,
        create: bool = True,
    ) -> None:
        self.dsn, self.schema = split_schema(dsn, schema)
        self.name = display_name(self.dsn, self.schema)
        self.lock_timeout_ms = int(lock_timeout_ms)
        self.statement_timeout_ms = int(statement_timeout_ms)
        self.connect_timeout_s = max(2, math.ceil(connect_timeout_s))  # libpq's minimum is 2 s
        self._s = f'"{self.schema}"'
        self._cursor_no = 0
        self._reader: psycopg.Connection[Any] | None = None
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError(
                f"the PostgreSQL audit store needs psycopg: pip install 'ramparts[postgres]' ({exc})"
            ) from exc
        self._pg = psycopg
        self._db = self._connect("open")
        try:
            if create:
                self._ensure_schema()
        except psycopg.Error as exc:
            self._db.close()
            raise self._error("create the schema of", exc) from exc

    # -- connections ---------------------------------------------------------------------------------------

    def _connect(self, action: str) -> psycopg.Connection[Any]:
        from psycopg.conninfo import conninfo_to_dict

        try:
            given = str(conninfo_to_dict(self.dsn).get("options") or "")
        except self._pg.Error as exc:
            raise self._error(action, exc) from exc
        options = given + (  # the DSN's own options (e.g. a read-only test) come first; ours win
            f" -c synchronous_commit=on -c lock_timeout={self.lock_timeout_ms}"
            f" -c statement_timeout={self.statement_timeout_ms}"
            f" -c idle_in_transaction_session_timeout={max(self.statement_timeout_ms, 10000)}"
        )
        try:
            return self._pg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=self.connect_timeout_s,
                options=options,
                application_name="ramparts-audit",
            )
        except self._pg.Error as exc:
            raise self._error(action, exc) from exc

    def _conn(self) -> psycopg.Connection[Any]:
        """The writer connection, reconnected if a server restart or network failure broke it."""
        if self._db.closed or self._db.broken:
            self._db.close()
            self._db = self._connect("reconnect to")
        return self._db

    def _read_conn(self) -> psycopg.Connection[Any]:
        """A second connection for long reads (a server-side cursor holds a transaction open), so that a
        read in progress never delays the commit of an append made meanwhile."""
        if self._reader is None or self._reader.closed or self._reader.broken:
            if self._reader is not None:
                self._reader.close()
            self._reader = self._connect("open")
        return self._reader

    def verify_workers(self) -> int:
        """How many processes the verifier should read with: on a server on this machine with fewer than
        four cores the server's own work on a second cursor takes the core a second reader would use
        (measured: two readers were slower than one on two cores), so one; else two."""
        import os

        try:
            from psycopg.conninfo import conninfo_to_dict

            host = str(conninfo_to_dict(self.dsn).get("host") or "")
        except Exception:  # noqa: BLE001 - unknown: assume local
            host = ""
        local = host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")
        return 1 if local and (os.cpu_count() or 1) < 4 else 2

    def reopen(self) -> PostgresBackend:
        """New connections to the same log (for a forked verifier process)."""
        return PostgresBackend(
            self.dsn,
            schema=self.schema,
            lock_timeout_ms=self.lock_timeout_ms,
            statement_timeout_ms=self.statement_timeout_ms,
            connect_timeout_s=self.connect_timeout_s,
            create=False,
        )

    def close(self) -> None:
        for conn in (self._db, self._reader):
            if conn is not None:
                conn.close()
        self._reader = None

    def _error(self, action: str, exc: BaseException) -> StoreError:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreError(f"cannot {action} audit store {self.name}: {detail}")

    # -- schema ---------------------------------------------------------------------------------------------

    def _missing(self, conn: psycopg.Connection[Any]) -> bool:
        names = [f"{self._s}.{t}" for t in _TABLES]
        row = conn.execute("SELECT " + ", ".join(["to_regclass(%s)"] * len(names)), names).fetchone()
        return row is None or any(v is None for v in row)

    def _ensure_schema(self) -> None:
        conn = self._db
        if not self._missing(conn):
            return  # a writer role need not be able to create anything
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_DDL_LOCK, self.schema))
            if not self._missing(conn):
                return
            for statement in self.ddl():
                conn.execute(statement)

    def ddl(self) -> list[str]:
        """The schema, tables, head row and append-only triggers (idempotent statements)."""
        s = self._s
        out = [
            f"CREATE SCHEMA IF NOT EXISTS {s}",
            f"CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {s}.records "
            "(seq bigint PRIMARY KEY, leaf bytea NOT NULL, body bytea NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {s}.head (id integer PRIMARY KEY CHECK (id = 0), size bigint NOT NULL, "
            "frontier bytea NOT NULL, checkpoint_size bigint NOT NULL, checkpoint_time double precision NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {s}.checkpoints (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "size bigint NOT NULL, note text NOT NULL, time double precision NOT NULL)",
            f"INSERT INTO {s}.head VALUES (0, 0, ''::bytea, -1, 0) ON CONFLICT (id) DO NOTHING",
            f"CREATE OR REPLACE FUNCTION {s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'the audit log is append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, "
            "TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END $$",
        ]
        for table in _GUARDED:
            out += [
                f"DROP TRIGGER IF EXISTS append_only_rows ON {s}.{table}",
                f"CREATE TRIGGER append_only_rows BEFORE UPDATE OR DELETE ON {s}.{table} "
                f"FOR EACH ROW EXECUTE FUNCTION {s}.refuse_change()",
                f"DROP TRIGGER IF EXISTS append_only_truncate ON {s}.{table}",
                f"CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {s}.{table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.refuse_change()",
            ]
        out.append(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM PUBLIC")
        return out

    def grant_writer(self, role: str) -> None:
        """Let ``role`` append and read, nothing more: no UPDATE/DELETE/TRUNCATE on the log's tables (the
        head row is updated by every append, so it alone may be updated). Run as the tables' owner."""
        if not _IDENT.match(role):
            raise StoreError(f"invalid role name {role!r}")
        s, r = self._s, f'"{role}"'
        guarded = ", ".join(f"{s}.{t}" for t in _GUARDED)
        statements = [
            f"GRANT USAGE ON SCHEMA {s} TO {r}",
            f"REVOKE ALL ON {guarded}, {s}.head FROM {r}",
            f"GRANT SELECT, INSERT ON {guarded} TO {r}",
            f"GRANT SELECT, INSERT, UPDATE ON {s}.head TO {r}",
        ]
        try:
            with self._conn().transaction():
                for statement in statements:
                    self._db.execute(statement)
        except self._pg.Error as exc:
            raise self._error("grant a writer on", exc) from exc

    # -- metadata and head --------------------------------------------------------------------------------

    def meta(self) -> LogMeta | None:
        try:
            values = dict(self._conn().execute(f"SELECT key, value FROM {self._s}.meta").fetchall())
        except self._pg.Error as exc:
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
            raise StoreError(f"audit store {self.name} has malformed metadata: {exc}") from exc

    def create(self, meta: LogMeta) -> LogMeta:
        items = [
            ("log_id", meta.log_id),
            ("origin", meta.origin),
            ("verifier", meta.verifier),
            ("checkpoint_every", str(meta.checkpoint_every)),
            ("created", repr(meta.created)),
            ("version", str(meta.version)),
        ]
        conn = self._conn()
        try:
            with conn.transaction():
                self._lock_head(conn)  # serialises first creators: the first one's metadata is kept
                if conn.execute(f"SELECT 1 FROM {self._s}.meta WHERE key = 'log_id'").fetchone() is None:
                    with conn.cursor() as cur:
                        cur.executemany(
                            f"INSERT INTO {self._s}.meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                            items,
                        )
        except self._pg.Error as exc:
            raise self._error("write to", exc) from exc
        stored = self.meta()
        assert stored is not None
        return stored

    def _lock_head(self, conn: psycopg.Connection[Any]) -> Head:
        query = f"SELECT size, frontier, checkpoint_size, checkpoint_time FROM {self._s}.head WHERE id = 0"
        row = conn.execute(query + " FOR UPDATE").fetchone()
        if row is None:  # the head row was removed (it is the one mutable table): put an empty one back
            conn.execute(
                f"INSERT INTO {self._s}.head VALUES (0, 0, ''::bytea, -1, 0) ON CONFLICT (id) DO NOTHING"
            )
            row = conn.execute(query + " FOR UPDATE").fetchone()
            assert row is not None
        return Head(int(row[0]), bytes(row[1]), int(row[2]), float(row[3]))

    def head(self) -> Head:
        try:
            row = (
                self._conn()
                .execute(
                    f"SELECT size, frontier, checkpoint_size, checkpoint_time FROM {self._s}.head WHERE id = 0"
                )
                .fetchone()
            )
        except self._pg.Error as exc:
            raise self._error("read", exc) from exc
        if row is None:
            return Head()
        try:
            return Head(int(row[0]), bytes(row[1]), int(row[2]), float(row[3]))
        except (TypeError, ValueError) as exc:
            raise StoreError(f"audit store {self.name} has a malformed head: {exc}") from exc

    # -- the one write path -------------------------------------------------------------------------------

    def write(self, step: Callable[[Head], Commit | None]) -> Commit | None:
        s = self._s
        try:
            conn = self._conn()
            with conn.transaction(), conn.cursor() as cur:
                commit = step(self._lock_head(conn))
                if commit is not None:
                    if len(commit.rows) >= _COPY_FROM:
                        with cur.copy(
                            f"COPY {s}.records (seq, leaf, body) FROM STDIN (FORMAT BINARY)"
                        ) as copy:
                            copy.set_types(["int8", "bytea", "bytea"])
                            for row in commit.rows:
                                copy.write_row(row)
                    elif commit.rows:
                        cur.executemany(
                            f"INSERT INTO {s}.records (seq, leaf, body) VALUES (%s, %s, %s)", commit.rows
                        )
                    h = commit.head
                    cur.execute(
                        f"UPDATE {s}.head SET size = %s, frontier = %s, checkpoint_size = %s, checkpoint_time = %s "
                        "WHERE id = 0",
                        (h.size, h.frontier, h.checkpoint_size, h.checkpoint_time),
                    )
                    if commit.checkpoints:
                        cur.executemany(
                            f"INSERT INTO {s}.checkpoints (size, note, time) VALUES (%s, %s, %s)",
                            [(size, note, h.checkpoint_time) for size, note in commit.checkpoints],
                        )
        except self._pg.Error as exc:
            raise self._error("write to", exc) from exc
        return commit

    # -- reads ----------------------------------------------------------------------------------------------

    def rows(self, start: int = 0, stop: int | None = None, *, batch: int = 65536) -> Iterator[list[Row]]:
        query, args = self._range(f"SELECT seq, leaf, body FROM {self._s}.records", start, stop)
        query += " ORDER BY seq"
        try:
            if stop is not None and stop - start <= batch:  # small: one plain query
                got: list[Any] = self._conn().cursor(binary=True).execute(query, args).fetchall()
                if got:
                    yield got
                return
            conn = self._read_conn()
            self._cursor_no += 1
            with conn.transaction(), conn.cursor(f"ramparts_rows_{self._cursor_no}", binary=True) as cur:
                cur.itersize = batch
                cur.execute(query, args)
                while True:
                    got = cur.fetchmany(batch)
                    if not got:
                        return
                    yield got  # tuples (seq, leaf, body): Row-shaped, cheaper than building Rows
        except self._pg.Error as exc:
            raise self._error("read", exc) from exc

    def leaves(self, start: int = 0, stop: int | None = None) -> list[bytes]:
        query, args = self._range(f"SELECT leaf FROM {self._s}.records", start, stop)
        try:
            cur = self._conn().cursor(binary=True).execute(query + " ORDER BY seq", args)
            return [r[0] for r in cur]
        except self._pg.Error as exc:
            raise self._error("read", exc) from exc

    def last_rows(self, count: int) -> list[Row]:
        query = f"SELECT seq, leaf, body FROM {self._s}.records ORDER BY seq DESC LIMIT %s"
        try:
            got = self._conn().cursor(binary=True).execute(query, (count,)).fetchall()
        except self._pg.Error as exc:
            raise self._error("read", exc) from exc
        return [Row(int(s), bytes(lf), bytes(b)) for s, lf, b in reversed(got)]

    def checkpoints(self) -> list[CheckpointRow]:
        query = f"SELECT id, size, note, time FROM {self._s}.checkpoints ORDER BY id"
        try:
            got = self._conn().execute(query).fetchall()
            return [CheckpointRow(int(i), int(s), str(n), float(t)) for i, s, n, t in got]
        except (self._pg.Error, TypeError, ValueError) as exc:
            raise self._error("read", exc) from exc

    @staticmethod
    def _range(query: str, start: int, stop: int | None) -> tuple[str, tuple[int, ...]]:
        if stop is None:
            return query + " WHERE seq >= %s", (start,)
        return query + " WHERE seq >= %s AND seq < %s", (start, stop)

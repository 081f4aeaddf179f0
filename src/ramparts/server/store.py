"""The control plane's store: one layer over SQLite (default, ``<state_dir>/server.db``) or PostgreSQL.

Tables: ``tokens`` (hashes only), ``logs`` (one per host audit log: its verifier, the Merkle frontier of
the records received in order, the last verified checkpoint, ``state`` ``ok`` or ``rewritten``),
``records`` (each by ``(log_id, seq)``: the envelope bytes and leaf hash, with a few columns for queries),
``checkpoints``, ``quarantine`` (what contradicted a log's history: stored apart, never merged),
``alerts``, ``kills`` (the central kill orders) and ``monitor_state`` (the behaviour rules' per-session
features).

An ingest runs in ONE transaction holding the log's row lock (``SELECT … FOR UPDATE``; SQLite's
``BEGIN IMMEDIATE``): duplicates are dropped by ``(log_id, seq)``, a record whose leaf differs from the one
already held, a checkpoint whose root is not the root of the records held, or one not signed by the log's
key, puts the log in state ``rewritten`` (alerted) and what contradicted it in ``quarantine``; from then on
that log's batches go to quarantine too. The behaviour rules (:mod:`ramparts.monitor`) run on the new
records in the same transaction, so an alert and an automatic kill order commit with the records that
caused them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, NamedTuple

from ..audit.merkle import Frontier
from ..errors import StoreError
from ..monitor import (
    MonitorConfig,
    SessionFeatures,
    features_from_json,
    features_to_json,
    step,
    view,
)
from .batch import Batch

log = logging.getLogger("ramparts.server")

TokenKind = Literal["host", "admin"]
Scope = Literal["session", "user", "all"]
DEFAULT_SCHEMA = "ramparts_server"
TOKEN_PREFIX = "rpt_"  # noqa: S105 - a prefix, not a secret
_TOKEN = re.compile(r"rpt_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")

_DDL = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, name TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL, revoked DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS logs (
    log_id TEXT PRIMARY KEY, host TEXT NOT NULL, token_id TEXT NOT NULL, verifier TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'ok', problem TEXT NOT NULL DEFAULT '',
    size BIGINT NOT NULL DEFAULT 0, frontier {blob} NOT NULL,
    verified_size BIGINT NOT NULL DEFAULT 0, verified_frontier {blob} NOT NULL,
    checkpoint TEXT NOT NULL DEFAULT '', first_seen DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    log_id TEXT NOT NULL, seq BIGINT NOT NULL, leaf {blob} NOT NULL, body TEXT NOT NULL,
    time TEXT NOT NULL, surface TEXT NOT NULL, event TEXT NOT NULL, decision TEXT NOT NULL,
    session TEXT NOT NULL, user_name TEXT NOT NULL, host TEXT NOT NULL, tool TEXT NOT NULL,
    tool_use_id TEXT NOT NULL DEFAULT '', received DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (log_id, seq)
);
CREATE INDEX IF NOT EXISTS records_by_session ON records (session, log_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    log_id TEXT NOT NULL, size BIGINT NOT NULL, note TEXT NOT NULL, status TEXT NOT NULL,
    received DOUBLE PRECISION NOT NULL, PRIMARY KEY (log_id, size)
);
CREATE TABLE IF NOT EXISTS quarantine (
    id {serial}, log_id TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL,
    reason TEXT NOT NULL, received DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id {serial}, at DOUBLE PRECISION NOT NULL, severity TEXT NOT NULL, rule TEXT NOT NULL,
    host TEXT NOT NULL, user_name TEXT NOT NULL, session TEXT NOT NULL, log_id TEXT NOT NULL,
    message TEXT NOT NULL, response TEXT NOT NULL DEFAULT '', acknowledged DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id BIGINT NOT NULL, sink TEXT NOT NULL, attempts INTEGER NOT NULL, next_try DOUBLE PRECISION NOT NULL,
    last_error TEXT NOT NULL, delivered DOUBLE PRECISION, gave_up DOUBLE PRECISION, PRIMARY KEY (alert_id, sink)
);
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY, created DOUBLE PRECISION NOT NULL, host TEXT NOT NULL, session TEXT NOT NULL,
    user_name TEXT NOT NULL, tool TEXT NOT NULL, summary TEXT NOT NULL, reasons TEXT NOT NULL,
    state TEXT NOT NULL, decided_by TEXT NOT NULL DEFAULT '', decided_at DOUBLE PRECISION,
    reason TEXT NOT NULL DEFAULT '', expires DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS user_days (
    user_name TEXT NOT NULL, day TEXT NOT NULL, calls BIGINT NOT NULL, alerted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_name, day)
);
CREATE TABLE IF NOT EXISTS kills (
    scope TEXT NOT NULL, target TEXT NOT NULL, reason TEXT NOT NULL, by_whom TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, PRIMARY KEY (scope, target)
);
CREATE TABLE IF NOT EXISTS telemetry (
    id {serial}, session TEXT NOT NULL, event TEXT NOT NULL, tool TEXT NOT NULL, tool_use_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, host TEXT NOT NULL, received DOUBLE PRECISION NOT NULL, attrs TEXT NOT NULL,
    checked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS telemetry_unchecked ON telemetry (checked, received);
CREATE TABLE IF NOT EXISTS monitor_state (
    session TEXT PRIMARY KEY, features TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL
);
"""


_RANK = {"low": 0, "medium": 1, "high": 2}
_DUMMY_HASH: dict[str, str] = {}  # an unknown user's check costs one argon2 verify, like a known one


class TokenInfo(NamedTuple):
    id: str
    kind: TokenKind
    name: str
    created: float
    revoked: float | None


class KillOrder(NamedTuple):
    scope: Scope
    target: str
    reason: str
    by: str
    at: float


class Alert(NamedTuple):
    id: int
    at: float
    severity: str
    rule: str
    host: str
    user: str
    session: str
    log_id: str
    message: str
    response: str
    acknowledged: float | None


class LogInfo(NamedTuple):
    log_id: str
    host: str
    state: str
    problem: str
    size: int
    verified_size: int
    first_seen: float
    last_seen: float


class Approval(NamedTuple):
    id: str
    created: float
    host: str
    session: str
    user: str
    tool: str
    summary: str
    """The tool input as the hook's record holds it (redacted), as JSON."""
    reasons: str
    state: str
    """``pending``, ``allow``, ``deny`` or ``expired``."""
    decided_by: str
    decided_at: float | None
    reason: str
    expires: float


_APPROVAL_COLUMNS = "id, created, host, session, user_name, tool, summary, reasons, state, decided_by, decided_at, reason, expires"


class IngestResult(NamedTuple):
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    checkpoints: int = 0
    alerts: int = 0
    kills: int = 0
    state: str = "ok"


class ForeignLogError(Exception):
    """The batch's log was first shipped with another token (another host's log)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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


class ServerStore:
    """``ServerStore(path_or_url)``: safe to share between threads (a small connection pool)."""

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
            from ..audit.postgres import display_name, split_schema

            self._dsn, self._schema = split_schema(location, DEFAULT_SCHEMA)
            self.name = display_name(self._dsn, self._schema)
        else:
            self._schema = ""
            self.name = location
            os.makedirs(os.path.dirname(os.path.abspath(location)), mode=0o700, exist_ok=True)
        self._create()

    @classmethod
    def open(cls, state_dir: str, url: str | None = None, **kwargs: Any) -> ServerStore:
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

    def __enter__(self) -> ServerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- tokens ----------------------------------------------------------------------------------------------

    def create_token(self, kind: TokenKind, name: str, now: float | None = None) -> tuple[TokenInfo, str]:
        """A new token; returns its info and the secret, shown once (only its hash is stored)."""
        if kind not in ("host", "admin") or not name or len(name) > 200:
            raise ValueError("a token is host or admin and has a name of 1 to 200 characters")
        token_id = secrets.token_hex(6)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        when = time.time() if now is None else now
        with self._tx() as tx:
            tx.x(
                "INSERT INTO tokens (id, hash, kind, name, created) VALUES (?, ?, ?, ?, ?)",
                (token_id, token_hash(secret), kind, name, when),
            )
        return TokenInfo(token_id, kind, name, when, None), secret

    def tokens(self) -> list[TokenInfo]:
        with self._tx(write=False) as tx:
            rows = tx.q("SELECT id, kind, name, created, revoked FROM tokens ORDER BY created, id")
        return [TokenInfo(*row) for row in rows]

    def revoke_token(self, token_id: str, now: float | None = None) -> bool:
        with self._tx() as tx:
            return (
                tx.x(
                    "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                    (time.time() if now is None else now, token_id),
                )
                > 0
            )

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The token's info if it exists and is not revoked; None otherwise."""
        if not _TOKEN.fullmatch(secret):
            return None
        with self._tx(write=False) as tx:
            row = tx.one(
                "SELECT id, kind, name, created, revoked FROM tokens WHERE hash = ?", (token_hash(secret),)
            )
        if row is None or row[4] is not None:
            return None
        return TokenInfo(*row)

    # -- kill orders -------------------------------------------------------------------------------------------

    def kill(self, scope: Scope, target: str, reason: str, by: str, now: float | None = None) -> KillOrder:
        if scope not in ("session", "user", "all") or (scope != "all") != bool(target):
            raise ValueError("a kill names a session or a user, or all with no target")
        order = KillOrder(scope, target, reason, by, time.time() if now is None else now)
        with self._tx() as tx:
            self._kill(tx, order)
        return order

    def _kill(self, tx: _Tx, order: KillOrder) -> None:
        tx.x(
            "INSERT INTO kills (scope, target, reason, by_whom, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (scope, target) DO UPDATE SET reason = excluded.reason, by_whom = excluded.by_whom, "
            "at = excluded.at",
            (order.scope, order.target, order.reason, order.by, order.at),
        )

    def lift(self, scope: Scope, target: str) -> bool:
        with self._tx() as tx:
            return tx.x("DELETE FROM kills WHERE scope = ? AND target = ?", (scope, target)) > 0

    def kills(self) -> list[KillOrder]:
        with self._tx(write=False) as tx:
            rows = tx.q("SELECT scope, target, reason, by_whom, at FROM kills ORDER BY at, scope, target")
        return [KillOrder(*row) for row in rows]

    # -- remote approvals (``server.approvals: remote``) ----------------------------------------------------------

    def request_approval(
        self,
        host: str,
        session: str,
        user: str,
        tool: str,
        summary: str,
        reasons: str,
        wait: float,
        now: float | None = None,
    ) -> Approval:
        now = time.time() if now is None else now
        approval = Approval(
            secrets.token_hex(8),
            now,
            host,
            session,
            user,
            tool,
            summary[:4000],
            reasons[:2000],
            "pending",
            "",
            None,
            "",
            now + wait,
        )
        with self._tx() as tx:
            tx.x(
                f"INSERT INTO approvals ({_APPROVAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                approval,
            )
        return approval

    def approval(self, approval_id: str, now: float | None = None) -> Approval | None:
        """The request as it stands (a pending one past its wait reads as ``expired``)."""
        now = time.time() if now is None else now
        with self._tx(write=False) as tx:
            row = tx.one(f"SELECT {_APPROVAL_COLUMNS} FROM approvals WHERE id = ?", (approval_id,))  # noqa: S608
        if row is None:
            return None
        found = Approval(*row)
        return found._replace(state="expired") if found.state == "pending" and now > found.expires else found

    def approvals(
        self, *, pending_only: bool = False, limit: int = 200, now: float | None = None
    ) -> list[Approval]:
        now = time.time() if now is None else now
        with self._tx(write=False) as tx:
            rows = tx.q(f"SELECT {_APPROVAL_COLUMNS} FROM approvals ORDER BY created DESC LIMIT ?", (limit,))  # noqa: S608
        out = []
        for row in rows:
            a = Approval(*row)
            if a.state == "pending" and now > a.expires:
                a = a._replace(state="expired")
            if not pending_only or a.state == "pending":
                out.append(a)
        return out

    def decide_approval(
        self, approval_id: str, verdict: str, by: str, reason: str, now: float | None = None
    ) -> Approval | None:
        """Answer a pending request (None when it is unknown, already answered or expired)."""
        if verdict not in ("allow", "deny"):
            raise ValueError("an approval answers allow or deny")
        now = time.time() if now is None else now
        with self._tx() as tx:
            changed = tx.x(
                "UPDATE approvals SET state = ?, decided_by = ?, decided_at = ?, reason = ? "
                "WHERE id = ? AND state = 'pending' AND expires >= ?",
                (verdict, by, now, reason[:1000], approval_id, now),
            )
        return self.approval(approval_id, now) if changed else None

    # -- people (the dashboard) ----------------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str, now: float | None = None) -> None:
        """Add or replace a person; the password is kept as an argon2id hash."""
        from argon2 import PasswordHasher

        if role not in ("admin", "viewer") or not name or len(name) > 100 or len(password) < 12:
            raise ValueError(
                "a user has a name (1-100 characters), role admin or viewer, a password of 12+ characters"
            )
        digest = PasswordHasher().hash(password)
        with self._tx() as tx:
            tx.x(
                "INSERT INTO users (name, role, hash, created) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET role = excluded.role, hash = excluded.hash",
                (name, role, digest, time.time() if now is None else now),
            )

    def check_password(self, name: str, password: str) -> str | None:
        """The user's role when the password is right; None otherwise (the same work either way)."""
        from argon2 import PasswordHasher
        from argon2.exceptions import InvalidHashError, VerificationError

        with self._tx(write=False) as tx:
            row = tx.one("SELECT role, hash FROM users WHERE name = ?", (name,))
        hasher = PasswordHasher()
        digest = (
            str(row[1]) if row else _DUMMY_HASH.get("h") or _DUMMY_HASH.setdefault("h", hasher.hash("x" * 16))
        )
        try:
            hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return None
        return str(row[0]) if row else None

    def users(self) -> list[tuple[str, str, float]]:
        with self._tx(write=False) as tx:
            return [
                (str(n), str(r), float(c))
                for n, r, c in tx.q("SELECT name, role, created FROM users ORDER BY name")
            ]

    def sessions(self, limit: int = 200) -> list[dict[str, Any]]:
        """The sessions the records show, most recently active first, with their last decision."""
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT session, max(user_name), max(host), count(*), min(time), max(time), max(received) FROM records "
                "WHERE session != '' GROUP BY session ORDER BY max(received) DESC LIMIT ?",
                (limit,),
            )
            out = []
            for session, user, host, count, first, last, _ in rows:
                row = tx.one(
                    "SELECT decision, tool, event FROM records WHERE session = ? ORDER BY received DESC, seq DESC LIMIT 1",
                    (session,),
                )
                out.append(
                    {
                        "session": session,
                        "user": user,
                        "host": host,
                        "records": int(count),
                        "first": first,
                        "last": last,
                        "last_decision": f"{row[0]} {row[1] or row[2]}" if row else "",
                    }
                )
            orders = tx.q("SELECT scope, target FROM kills")
        killed_sessions = {t for sc, t in orders if sc == "session"}
        killed_users = {t for sc, t in orders if sc == "user"}
        everyone = any(sc == "all" for sc, _ in orders)
        for item in out:
            item["state"] = (
                "killed"
                if everyone or item["session"] in killed_sessions or item["user"] in killed_users
                else "live"
            )
        return out

    # -- alerts and fleet --------------------------------------------------------------------------------------

    def alerts(self, limit: int = 1000) -> list[Alert]:
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT id, at, severity, rule, host, user_name, session, log_id, message, response, "
                "acknowledged FROM alerts ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        return [Alert(*row) for row in rows]

    def acknowledge(self, alert_id: int, now: float | None = None) -> bool:
        with self._tx() as tx:
            return (
                tx.x(
                    "UPDATE alerts SET acknowledged = ? WHERE id = ? AND acknowledged IS NULL",
                    (time.time() if now is None else now, alert_id),
                )
                > 0
            )

    def logs(self) -> list[LogInfo]:
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT log_id, host, state, problem, size, verified_size, first_seen, last_seen FROM logs "
                "ORDER BY host, first_seen"
            )
        return [LogInfo(*row) for row in rows]

    def record_count(self, log_id: str | None = None) -> int:
        with self._tx(write=False) as tx:
            if log_id is None:
                row = tx.one("SELECT count(*) FROM records")
            else:
                row = tx.one("SELECT count(*) FROM records WHERE log_id = ?", (log_id,))
        return int(row[0]) if row else 0

    def quarantined(self, log_id: str) -> list[tuple[int, str, str]]:
        """(seq, kind, reason) of what was stored apart for the log."""
        with self._tx(write=False) as tx:
            rows = tx.q("SELECT seq, kind, reason FROM quarantine WHERE log_id = ? ORDER BY id", (log_id,))
        return [(int(s), str(k), str(r)) for s, k, r in rows]

    def session_records(self, session: str, limit: int = 1000) -> list[dict[str, Any]]:
        """A session's records (the stored envelopes' ``rec``), in received order."""
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT body FROM records WHERE session = ? ORDER BY received, log_id, seq LIMIT ?",
                (session, limit),
            )
        out: list[dict[str, Any]] = []
        for (body,) in rows:
            rec = json.loads(body).get("rec")
            if isinstance(rec, dict):
                out.append(rec)
        return out

    # -- Claude Code's telemetry -----------------------------------------------------------------------------------

    def telemetry_ingest(self, token: TokenInfo, events: Sequence[Any], now: float | None = None) -> int:
        """Store telemetry events (:class:`ramparts.server.telemetry.TelemetryEvent`) from a host."""
        now = time.time() if now is None else now
        with self._tx() as tx:
            tx.many(
                "INSERT INTO telemetry (session, event, tool, tool_use_id, at, host, received, attrs) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.session,
                        e.event,
                        e.tool,
                        e.tool_use_id,
                        e.time,
                        token.name,
                        now,
                        json.dumps(e.attributes),
                    )
                    for e in events
                ],
            )
        return len(events)

    def telemetry(self, session: str | None = None, limit: int = 1000) -> list[tuple[str, str, str, str]]:
        """(session, event, tool, tool_use_id) of the telemetry received, oldest first."""
        with self._tx(write=False) as tx:
            if session is None:
                rows = tx.q(
                    "SELECT session, event, tool, tool_use_id FROM telemetry ORDER BY id LIMIT ?", (limit,)
                )
            else:
                rows = tx.q(
                    "SELECT session, event, tool, tool_use_id FROM telemetry WHERE session = ? ORDER BY id LIMIT ?",
                    (session, limit),
                )
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    def telemetry_check(self, now: float | None = None, grace: float = 60.0) -> int:
        """Alert on sessions whose telemetry shows activity the hook never recorded: no hook record at all
        for the session, or tool calls (``tool_result``) whose ``tool_use_id`` no hook record carries.
        Looks at telemetry received more than ``grace`` seconds ago (the hook's records travel through the
        host's agent) and marks it checked. Returns the number of alerts raised."""
        now = time.time() if now is None else now
        raised = 0
        skip = " FOR UPDATE SKIP LOCKED" if self.postgres else ""
        sql = "SELECT id, session, event, tool, tool_use_id, host FROM telemetry WHERE checked = 0 "
        with self._tx() as tx:
            rows = tx.q(sql + "AND received <= ? ORDER BY id LIMIT 5000" + skip, (now - grace,))
            by_session: dict[str, list[tuple[Any, ...]]] = {}
            for row in rows:
                by_session.setdefault(str(row[1]), []).append(row)
            for session, items in by_session.items():
                host = str(items[0][5])
                held = tx.one("SELECT count(*) FROM records WHERE session = ?", (session,))
                activity = [
                    i for i in items if i[2] in ("user_prompt", "tool_decision", "tool_result", "api_request")
                ]
                message = ""
                if activity and held is not None and int(held[0]) == 0:
                    message = f"session {session} reports {len(activity)} event(s) through telemetry and none through the hook"
                else:
                    ids = sorted({str(i[4]) for i in items if i[2] == "tool_result" and i[4]})
                    if ids:
                        marks = ", ".join("?" * len(ids))
                        seen = {
                            str(r[0])
                            for r in tx.q(
                                f"SELECT tool_use_id FROM records WHERE session = ? AND tool_use_id IN ({marks})",  # noqa: S608
                                (session, *ids),
                            )
                        }
                        missing = [i for i in ids if i not in seen]
                        if missing:
                            tools = sorted({str(i[3]) for i in items if str(i[4]) in missing})
                            message = (
                                f"{len(missing)} tool call(s) of session {session} ran without a hook record "
                                f"({', '.join(tools)})"
                            )
                if message:
                    self._alert(tx, now, "high", "telemetry.no_hook", message, host=host, session=session)
                    raised += 1
            tx.many("UPDATE telemetry SET checked = 1 WHERE id = ?", [(r[0],) for r in rows])
        return raised

    # -- ingest ------------------------------------------------------------------------------------------------

    def ingest(self, token: TokenInfo, batch: Batch, now: float | None = None) -> IngestResult:
        """Store a validated batch from a host token (see the module's docstring). Raises
        :class:`ForeignLogError` when the log belongs to another token."""
        now = time.time() if now is None else now
        with self._tx() as tx:
            return _Ingest(self, tx, token, batch, now).run()

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

    # -- alert delivery (the outbox: one row per alert and sink) ---------------------------------------------------

    def due_deliveries(self, now: float | None = None, limit: int = 100) -> list[tuple[str, Alert]]:
        """(sink, alert) pairs due for a delivery attempt, oldest first."""
        now = time.time() if now is None else now
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT d.sink, a.id, a.at, a.severity, a.rule, a.host, a.user_name, a.session, a.log_id, "
                "a.message, a.response, a.acknowledged FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
                "WHERE d.delivered IS NULL AND d.gave_up IS NULL AND d.next_try <= ? ORDER BY d.next_try LIMIT ?",
                (now, limit),
            )
        return [(str(r[0]), Alert(*r[1:])) for r in rows]

    def delivery_done(self, alert_id: int, sink: str, now: float | None = None) -> None:
        with self._tx() as tx:
            tx.x(
                "UPDATE deliveries SET delivered = ?, attempts = attempts + 1 WHERE alert_id = ? AND sink = ?",
                (time.time() if now is None else now, alert_id, sink),
            )

    def delivery_failed(
        self, alert_id: int, sink: str, error: str, now: float | None = None, *, attempts: int = 8
    ) -> bool:
        """Record a failed attempt and schedule the next (exponential, capped at 5 min); after ``attempts``
        give up and raise an alert about it. Returns True when it gave up."""
        now = time.time() if now is None else now
        with self._tx() as tx:
            row = tx.one("SELECT attempts FROM deliveries WHERE alert_id = ? AND sink = ?", (alert_id, sink))
            tried = (int(row[0]) if row else 0) + 1
            give_up = tried >= attempts
            tx.x(
                "UPDATE deliveries SET attempts = ?, last_error = ?, next_try = ?, gave_up = ? "
                "WHERE alert_id = ? AND sink = ?",
                (tried, error[:500], now + min(300.0, 2.0**tried), now if give_up else None, alert_id, sink),
            )
            if give_up:
                # recorded, and not delivered anywhere again (an alert about delivery must not loop)
                log.error("alert %d: delivery to %s failed %d times: %s", alert_id, sink, tried, error)
                tx.x(
                    "INSERT INTO alerts (at, severity, rule, host, user_name, session, log_id, message, response) "
                    "VALUES (?, 'low', 'delivery.failed', '', '', '', '', ?, '')",
                    (
                        now,
                        f"alert {alert_id} was not delivered to {sink} after {tried} attempts: {error[:300]}",
                    ),
                )
        return give_up

    def deliveries(self, alert_id: int) -> list[tuple[str, int, str, bool, bool]]:
        """(sink, attempts, last error, delivered, gave up) for an alert."""
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT sink, attempts, last_error, delivered, gave_up FROM deliveries WHERE alert_id = ? "
                "ORDER BY sink",
                (alert_id,),
            )
        return [(str(a), int(b), str(c), d is not None, e is not None) for a, b, c, d, e in rows]


class _Ingest:
    """One batch's ingest inside one transaction."""

    def __init__(self, store: ServerStore, tx: _Tx, token: TokenInfo, batch: Batch, now: float) -> None:
        self.store, self.tx, self.token, self.batch, self.now = store, tx, token, batch, now
        self.alerts = 0
        self.kills = 0

    def run(self) -> IngestResult:
        tx, b = self.tx, self.batch
        empty = Frontier().to_bytes()
        # create the log's row if it is new (two first batches racing: one inserts, both then lock it)
        tx.x(
            "INSERT INTO logs (log_id, host, token_id, verifier, size, frontier, verified_size, "
            "verified_frontier, first_seen, last_seen) VALUES (?, ?, ?, ?, 0, ?, 0, ?, ?, ?) "
            "ON CONFLICT (log_id) DO NOTHING",
            (b.log_id, self.token.name, self.token.id, b.verifier, empty, empty, self.now, self.now),
        )
        lock = " FOR UPDATE" if self.store.postgres else ""
        sql = "SELECT token_id, verifier, state, size, frontier, verified_size, verified_frontier FROM logs "
        row = tx.one(sql + "WHERE log_id = ?" + lock, (b.log_id,))
        if row is None:
            raise StoreError(f"log {b.log_id} vanished during an ingest")
        token_id, verifier, state, size, frontier_blob, vsize, vfrontier = row
        if token_id != self.token.id:
            raise ForeignLogError(f"log {b.log_id} is reported by another host's token")
        if b.verifier and not verifier:
            verifier = b.verifier
            tx.x("UPDATE logs SET verifier = ? WHERE log_id = ?", (verifier, b.log_id))
        elif b.verifier and b.verifier != verifier:
            state = self._rewritten(state, "the log's signing key changed")
        self.state = state
        frontier = Frontier.from_bytes(int(size), bytes(frontier_blob))
        accepted, duplicates, quarantined = self._records(frontier)
        checkpoints = self._checkpoints(str(verifier), frontier, int(vsize), bytes(vfrontier), quarantined)
        quarantined = checkpoints[1]
        tx.x(
            "UPDATE logs SET size = ?, frontier = ?, last_seen = ?, state = ? WHERE log_id = ?",
            (frontier.size, frontier.to_bytes(), self.now, self.state, b.log_id),
        )
        return IngestResult(
            accepted, duplicates, quarantined, checkpoints[0], self.alerts, self.kills, self.state
        )

    def _rewritten(self, state: str, problem: str) -> str:
        if state != "rewritten":
            self.tx.x(
                "UPDATE logs SET state = 'rewritten', problem = ? WHERE log_id = ?",
                (problem, self.batch.log_id),
            )
            self.store._alert(
                self.tx,
                self.now,
                "high",
                "integrity.rewritten",
                f"host {self.token.name} rewrote its audit history: {problem}",
                host=self.token.name,
                log_id=self.batch.log_id,
            )
            self.alerts += 1
        self.state = "rewritten"
        return "rewritten"

    def _quarantine(self, seq: int, kind: str, body: str, reason: str) -> None:
        self.tx.x(
            "INSERT INTO quarantine (log_id, seq, kind, body, reason, received) VALUES (?, ?, ?, ?, ?, ?)",
            (self.batch.log_id, seq, kind, body, reason, self.now),
        )

    def _records(self, frontier: Frontier) -> tuple[int, int, int]:
        tx, b = self.tx, self.batch
        if not b.records:
            return 0, 0, 0
        seqs = [r.seq for r in b.records]
        held = dict(
            (int(s), bytes(leaf))
            for s, leaf in tx.q(
                "SELECT seq, leaf FROM records WHERE log_id = ? AND seq >= ? AND seq <= ?",
                (b.log_id, min(seqs), max(seqs)),
            )
        )
        rows: list[tuple[Any, ...]] = []
        fresh = []
        duplicates = quarantined = 0
        seen: set[int] = set()
        for item in b.records:
            if item.seq in held or item.seq in seen:
                if held.get(item.seq, item.leaf) == item.leaf and item.seq not in seen:
                    duplicates += 1
                    continue
                self._rewritten(self.state, f"record {item.seq} differs from the one received before")
                self._quarantine(
                    item.seq, "record", item.body.decode("utf-8", "replace"), "conflicting record"
                )
                quarantined += 1
                continue
            if self.state == "rewritten":
                self._quarantine(item.seq, "record", item.body.decode("utf-8", "replace"), "log rewritten")
                quarantined += 1
                continue
            seen.add(item.seq)
            r = item.record
            rows.append(
                (
                    b.log_id,
                    item.seq,
                    item.leaf,
                    item.body.decode("utf-8"),
                    r.time,
                    r.surface,
                    r.event,
                    r.decision or "",
                    r.session,
                    r.user,
                    r.host,
                    r.tool,
                    r.tool_use_id,
                    self.now,
                )
            )
            fresh.append(item)
        tx.many(
            "INSERT INTO records (log_id, seq, leaf, body, time, surface, event, decision, session, "
            "user_name, host, tool, tool_use_id, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self._extend(frontier, fresh)
        self._monitor([f.record for f in sorted(fresh, key=lambda f: f.seq)])
        return len(rows), duplicates, quarantined

    def _extend(self, frontier: Frontier, fresh: list[Any]) -> None:
        """Grow the frontier over the records now held in order from its size (a gap stops it)."""
        by_seq = {f.seq: f.leaf for f in fresh}
        while frontier.size in by_seq:
            frontier.append(by_seq.pop(frontier.size))
        if by_seq:  # records past a gap: held, and the frontier grows once the gap is filled
            return
        rows = self.tx.q(
            "SELECT seq, leaf FROM records WHERE log_id = ? AND seq >= ? ORDER BY seq LIMIT 10000",
            (self.batch.log_id, frontier.size),
        )
        for seq, leaf in rows:
            if int(seq) != frontier.size:
                break
            frontier.append(bytes(leaf))

    def _checkpoints(
        self, verifier: str, frontier: Frontier, vsize: int, vfrontier: bytes, quarantined: int
    ) -> tuple[int, int]:
        from ..audit.checkpoint import NoteError, Verifier, open_checkpoint
        from ..audit.log import origin_for

        tx, b = self.tx, self.batch
        count = 0
        for cp in b.checkpoints:
            known = tx.one("SELECT note FROM checkpoints WHERE log_id = ? AND size = ?", (b.log_id, cp.size))
            if known is not None and known[0] == cp.note:
                continue
            problem = ""
            parsed = None
            if not verifier:
                problem = "a checkpoint arrived before the log's verifier key"
            else:
                try:
                    parsed, _ = open_checkpoint(cp.note, [Verifier.parse(verifier)])
                except NoteError as exc:
                    problem = f"checkpoint not signed by the log's key: {exc}"
            if parsed is not None:
                if parsed.origin != origin_for(b.log_id) or parsed.size != cp.size:
                    problem = "the checkpoint names another log or size"
                elif known is not None:
                    problem = f"a second, different checkpoint for size {cp.size}"
            if not problem and parsed is not None and parsed.size <= frontier.size:
                problem, vsize, vfrontier = self._verify(
                    cp.note, parsed.size, parsed.root, frontier, vsize, vfrontier
                )
            if problem:
                self._rewritten(self.state, problem)
                self._quarantine(cp.size, "checkpoint", cp.note, problem)
                quarantined += 1
                continue
            status = "verified" if parsed is not None and parsed.size <= frontier.size else "pending"
            tx.x("DELETE FROM checkpoints WHERE log_id = ? AND size = ?", (b.log_id, cp.size))
            tx.x(
                "INSERT INTO checkpoints (log_id, size, note, status, received) VALUES (?, ?, ?, ?, ?)",
                (b.log_id, cp.size, cp.note, status, self.now),
            )
            count += 1
        for size, note, root in self._pending(frontier.size):
            problem, vsize, vfrontier = self._verify(note, size, root, frontier, vsize, vfrontier)
            if problem:
                self._rewritten(self.state, problem)
                self._quarantine(size, "checkpoint", note, problem)
                tx.x("DELETE FROM checkpoints WHERE log_id = ? AND size = ?", (b.log_id, size))
                quarantined += 1
            else:
                tx.x(
                    "UPDATE checkpoints SET status = 'verified' WHERE log_id = ? AND size = ?",
                    (b.log_id, size),
                )
        return count, quarantined

    def _pending(self, upto: int) -> list[tuple[int, str, bytes]]:
        from ..audit.checkpoint import peek_checkpoint

        rows = self.tx.q(
            "SELECT size, note FROM checkpoints WHERE log_id = ? AND status = 'pending' AND size <= ? "
            "ORDER BY size",
            (self.batch.log_id, upto),
        )
        return [(int(size), str(note), peek_checkpoint(str(note)).root) for size, note in rows]

    def _verify(
        self, note: str, size: int, root: bytes, frontier: Frontier, vsize: int, vfrontier: bytes
    ) -> tuple[str, int, bytes]:
        """Check a (signature-checked) checkpoint's root against the records held; move the verified mark."""
        at = self._frontier_at(size, vsize, vfrontier, frontier)
        if at.root() != root:
            return f"the checkpoint at size {size} does not match the records received", vsize, vfrontier
        if size >= vsize:
            vsize, vfrontier = size, at.to_bytes()
            self.tx.x(
                "UPDATE logs SET verified_size = ?, verified_frontier = ?, checkpoint = ? WHERE log_id = ?",
                (vsize, vfrontier, note, self.batch.log_id),
            )
        return "", vsize, vfrontier

    def _leaves(self, start: int, stop: int) -> list[bytes]:
        rows = self.tx.q(
            "SELECT leaf FROM records WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (self.batch.log_id, start, stop),
        )
        return [bytes(r[0]) for r in rows]

    def _frontier_at(self, size: int, vsize_before: int, vfrontier: bytes, frontier: Frontier) -> Frontier:
        if size == frontier.size:
            return frontier.copy()
        base = Frontier.from_bytes(vsize_before, vfrontier) if vsize_before <= size else Frontier()
        for leaf in self._leaves(base.size, size):
            base.append(leaf)
        return base

    def _monitor(self, records: list[Any]) -> None:
        config = self.store.monitor
        if not records or not config.rules:
            return
        tx = self.tx
        names = sorted({r.session for r in records if r.session})
        sessions: dict[str, SessionFeatures] = {name: SessionFeatures() for name in names}
        for lo in range(0, len(names), 500):
            chunk = names[lo : lo + 500]
            marks = ", ".join("?" * len(chunk))
            for name, data in tx.q(
                f"SELECT session, features FROM monitor_state WHERE session IN ({marks})",  # noqa: S608 - marks
                chunk,
            ):
                sessions[name] = features_from_json(json.loads(data))
        for r in records:
            if not r.session:
                continue
            features, hits = step(config, sessions[r.session], view(r))
            sessions[r.session] = features
            for hit in hits:
                response = ""
                if hit.severity == "high":
                    order = KillOrder(
                        "session",
                        r.session,
                        f"behaviour rule {hit.rule}: {hit.message}",
                        f"ramparts-monitor ({hit.rule})",
                        self.now,
                    )
                    self.store._kill(tx, order)
                    self.kills += 1
                    response = "kill"
                if hit.severity in ("high", "medium"):
                    self.alerts += 1
                self.store._alert(
                    tx,
                    self.now,
                    hit.severity,
                    hit.rule,
                    hit.message,
                    host=self.token.name,
                    user=r.user,
                    session=r.session,
                    log_id=self.batch.log_id,
                    response=response,
                )
        self._baseline(records)
        tx.many(
            "INSERT INTO monitor_state (session, features, updated) VALUES (?, ?, ?) ON CONFLICT (session) "
            "DO UPDATE SET features = excluded.features, updated = excluded.updated",
            [
                (name, json.dumps(features_to_json(f), separators=(",", ":")), self.now)
                for name, f in sessions.items()
            ],
        )

    def _baseline(self, records: list[Any]) -> None:
        """The per-user baseline rule: tool calls per UTC day against the user's previous days."""
        import datetime

        from ..monitor import anomaly_score

        rules = [r for r in self.store.monitor.rules if r.kind == "baseline"]
        counts: dict[tuple[str, str], int] = {}
        for r in records:
            if r.event == "PreToolUse" and r.tool and r.user and len(r.time) >= 10:
                key = (r.user, r.time[:10])
                counts[key] = counts.get(key, 0) + 1
        if not rules or not counts:
            return
        tx = self.tx
        tx.many(
            "INSERT INTO user_days (user_name, day, calls) VALUES (?, ?, ?) ON CONFLICT (user_name, day) "
            "DO UPDATE SET calls = user_days.calls + excluded.calls",
            [(user, day, n) for (user, day), n in counts.items()],
        )
        for user, day in counts:
            try:
                today = datetime.date.fromisoformat(day)
            except ValueError:
                continue
            for rule in rules:
                first = (today - datetime.timedelta(days=rule.days)).isoformat()
                rows = tx.q(
                    "SELECT day, calls, alerted FROM user_days WHERE user_name = ? AND day >= ? AND day <= ?",
                    (user, first, day),
                )
                current = next(((int(c), int(a)) for d, c, a in rows if d == day), (0, 0))
                history = [int(c) for d, c, _ in rows if d != day]
                score = anomaly_score(history, current[0])
                if score is None or score < rule.threshold or current[1]:
                    continue
                tx.x("UPDATE user_days SET alerted = 1 WHERE user_name = ? AND day = ?", (user, day))
                mean = sum(history) / len([h for h in history if h > 0])
                if rule.severity in ("high", "medium"):
                    self.alerts += 1
                self.store._alert(
                    tx,
                    self.now,
                    rule.severity,
                    rule.id,
                    f"user {user}: {current[0]} tool calls on {day} against {mean:.0f} a day over the previous "
                    f"{rule.days} days (anomaly score {score:.2f}, threshold {rule.threshold:g})",
                    host=self.token.name,
                    user=user,
                    log_id=self.batch.log_id,
                )

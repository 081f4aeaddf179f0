"""The session store: one SQLite file (``<state_dir>/sessions.db``) that every hook process shares.

Each hook call is a fresh process, so whatever the engine must know about the session (when it
started, when it was last active, whether it was closed, killed or tainted, a step-up grant, the
user's other live sessions) lives here. :meth:`SessionStore.observe` reads that state and records the
event in ONE write transaction (``BEGIN IMMEDIATE``), so concurrent hooks of one session or of one
user see a consistent order: no lost counts, and of two sessions starting together exactly one sees
the other as started before it.

Durability: WAL with ``synchronous=NORMAL`` by default. In WAL mode NORMAL never corrupts the file
and loses nothing when a process crashes; only an OS crash or power loss can roll back the last
commits. For the hook's bookkeeping (an event count, a last-activity time) that is an acceptable
trade for skipping an fsync on every tool call, and the audit store (``synchronous=FULL``) keeps the
durable record of every decision. Orders an administrator gives (kill, lift, grants, clearing a
taint) should be durable: the command line opens the store with ``synchronous="FULL"``.

Errors raise :class:`~ramparts.errors.StoreError`; the hook turns that into a deny. Imports are kept
to ``sqlite3``, ``os`` and ``time`` (and the ``/proc`` helpers): the hook pays for every import.
"""

from __future__ import annotations

import builtins
import os
import time

from .._tuples import NamedTuple
from .._util import open_sqlite, sqlite3  # _sqlite3, the C module, loaded without functools
from ..errors import StoreError
from ..model import OtherSession, SessionState
from .process import pid_alive, process_start

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    host TEXT NOT NULL,
    cwd TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    pid_start INTEGER,
    started REAL NOT NULL,
    last_event REAL,
    events INTEGER NOT NULL DEFAULT 0,
    closed TEXT NOT NULL DEFAULT '',
    closed_kind TEXT NOT NULL DEFAULT '',
    closed_at REAL,
    tainted TEXT NOT NULL DEFAULT '',
    tainted_at REAL,
    grant_until REAL NOT NULL DEFAULT 0,
    grant_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user, closed, started);
CREATE TABLE IF NOT EXISTS kills (
    scope TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    by TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (scope, target)
);
"""
_SELECT = (
    "SELECT id, user, host, cwd, pid, pid_start, started, last_event, events, closed, closed_kind, "
    "tainted, grant_until FROM sessions "
)
_LIVE_ROWS = {
    "session": "SELECT id, host, pid, pid_start FROM sessions WHERE closed = '' AND id = ? ORDER BY started, id",
    "user": "SELECT id, host, pid, pid_start FROM sessions WHERE closed = '' AND user = ? ORDER BY started, id",
    "all": "SELECT id, host, pid, pid_start FROM sessions WHERE closed = '' AND ? = '' ORDER BY started, id",
}


class SessionInfo(NamedTuple):
    """One session as the store holds it (``killed`` includes standing user and all orders)."""

    id: str
    user: str
    host: str
    cwd: str
    pid: int | None
    started: float
    last_event: float | None
    events: int
    closed: str
    killed: str
    tainted: str
    grant_until: float
    pid_start: int | None = None
    """The agent process's start time (clock ticks since boot), to tell a reused pid from it."""


class KillOrder(NamedTuple):
    scope: str
    """``session``, ``user`` or ``all``."""
    target: str
    """The session id, the user name, or ``""`` for all."""
    reason: str
    by: str
    at: float

    def message(self) -> str:
        what = {"session": "this session", "user": f"user {self.target}", "all": "all sessions"}[self.scope]
        return f"{self.reason} (kill switch for {what}, by {self.by} at {iso_time(self.at)})"


def iso_time(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def this_host() -> str:
    uname = getattr(os, "uname", None)
    if uname is not None:
        return str(uname().nodename)
    import platform

    return platform.node()


class _Transaction:
    """``with store._write() as db:`` one ``BEGIN IMMEDIATE`` transaction, committed when the block ends,
    rolled back when it raises; every SQLite error is a StoreError naming the store. (A class, not
    ``contextlib.contextmanager``: the hook pays for every import.)"""

    __slots__ = ("_db", "_path")

    def __init__(self, db: sqlite3.Connection, path: str) -> None:
        self._db, self._path = db, path

    def _error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"cannot write session store {self._path}: {exc}")

    def __enter__(self) -> sqlite3.Connection:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return self._db

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        db = self._db
        try:
            if exc is None:
                try:
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            elif db.in_transaction:
                db.execute("ROLLBACK")
        except sqlite3.Error as err:
            raise self._error(err) from err
        if isinstance(exc, sqlite3.Error):  # raised inside the block: named as the generator named it
            raise self._error(exc) from exc


class SessionStore:
    """Sessions in SQLite. Open one per process; safe across many concurrent processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 2000,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        self.path = os.fspath(path)
        try:
            self._db = open_sqlite(self.path, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open session store {self.path}: {exc}") from exc
        try:
            if self._db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'kills'").fetchone()[0] == 0:
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open session store {self.path}: {exc}") from exc

    def close_db(self) -> None:
        self._db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_db()

    # -- plumbing -------------------------------------------------------------------------------------------

    def _write(self) -> _Transaction:
        return _Transaction(self._db, self.path)

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> builtins.list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read session store {self.path}: {exc}") from exc

    @staticmethod
    def _orders(db: sqlite3.Connection) -> builtins.list[KillOrder]:
        return [KillOrder(*row) for row in db.execute("SELECT scope, target, reason, by, at FROM kills")]

    @staticmethod
    def _killed(orders: builtins.list[KillOrder], session_id: str, *users: str) -> str:
        """The incident message of the order that applies, the most specific first; ``""`` for none."""
        for scope, targets in (("session", (session_id,)), ("user", users), ("all", ("",))):
            for order in orders:
                if order.scope == scope and order.target in targets:
                    return order.message()
        return ""

    @staticmethod
    def _runs(host: str, pid: int | None, pid_start: int | None, local: str) -> bool:
        """False only when we can tell: the session's agent ran on this host and its process is gone."""
        if pid is None or host != local:
            return True
        return pid_alive(pid, pid_start)

    def _info(self, row: tuple[Any, ...], orders: builtins.list[KillOrder]) -> SessionInfo:
        sid, user, host, cwd, pid, pid_start, started, last, events, closed, _kind, tainted, grant = row
        return SessionInfo(
            id=sid,
            user=user,
            host=host,
            cwd=cwd,
            pid=pid,
            started=started,
            last_event=last,
            events=events,
            closed=closed,
            killed=self._killed(orders, sid, user),
            tainted=tainted,
            grant_until=grant,
            pid_start=pid_start,
        )

    # -- the hook's call -------------------------------------------------------------------------------------

    def observe(
        self,
        session_id: str,
        *,
        user: str,
        host: str,
        cwd: str,
        now: float,
        event: str,
        pid: int | None = None,
        others_since: float | None = None,
    ) -> SessionState:
        """Record one event of the session and return its state as it was before this event.

        Creates the session on first sight (``started=now``). ``SessionStart`` (Claude Code resends
        it on resume, clear and compact) records the agent's pid, cwd and host, never resets
        ``started``, and reopens a session that only a SessionEnd closed (a resumed conversation);
        a session closed for idle time or duration stays closed. A closed session's events are
        neither counted nor do they move ``last_event``.

        ``others_since``: leave out other sessions whose last event is older (pass ``now - idle
        limit``): a crashed agent never sends SessionEnd, and its row would otherwise be checked on
        every call for as long as the store is kept.
        """
        if not session_id:
            raise StoreError("an event without a session id cannot be tracked")
        start_ticks = process_start(pid) if pid is not None else None
        with self._write() as db:
            row = db.execute(
                "SELECT started, last_event, closed, closed_kind, tainted, grant_until, user FROM sessions "
                "WHERE id = ?",
                (session_id,),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO sessions (id, user, host, cwd, pid, pid_start, started, last_event, events) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                    (session_id, user, host, cwd, pid, start_ticks, now, now),
                )
                started, last, closed, tainted, grant, owner = now, None, "", "", 0.0, user
            else:
                started, last, closed, kind, tainted, grant, owner = row
                if event == "SessionStart":
                    if kind == "end":
                        closed = ""
                    db.execute(
                        "UPDATE sessions SET cwd = CASE WHEN ? != '' THEN ? ELSE cwd END, "
                        "host = CASE WHEN ? IS NOT NULL THEN ? ELSE host END, "
                        "pid = COALESCE(?, pid), pid_start = CASE WHEN ? IS NOT NULL THEN ? ELSE pid_start END, "
                        "closed = ?, closed_kind = CASE WHEN ? = '' THEN '' ELSE closed_kind END, "
                        "closed_at = CASE WHEN ? = '' THEN NULL ELSE closed_at END WHERE id = ?",
                        (cwd, cwd, pid, host, pid, pid, start_ticks, closed, closed, closed, session_id),
                    )
                if not closed:
                    db.execute(
                        "UPDATE sessions SET last_event = ?, events = events + 1 WHERE id = ?",
                        (now, session_id),
                    )
            if event == "SessionStart" and pid is not None and not closed:
                # One agent process runs one session at a time: `/clear` (or a new conversation) starts a
                # new id in the same process, and the old id will never send SessionEnd. End it, as the
                # agent would have (kind "end": resuming it later reopens it, and ends this one in turn).
                db.execute(
                    "UPDATE sessions SET closed = ?, closed_kind = 'end', closed_at = ? "
                    "WHERE closed = '' AND id != ? AND host = ? AND pid = ? AND pid_start IS ?",
                    (
                        f"replaced by session {session_id} in the same agent process",
                        now,
                        session_id,
                        host,
                        pid,
                        start_ticks,
                    ),
                )
            orders = self._orders(db)
            killed = self._killed(orders, session_id, owner, user)  # the user it started as, and now
            others: builtins.list[OtherSession] = []
            if not any(o.scope == "all" or (o.scope == "user" and o.target == user) for o in orders):
                session_kills = {o.target for o in orders if o.scope == "session"}
                for oid, ostarted, olast, ocwd, ohost, opid, ostart in db.execute(
                    "SELECT id, started, last_event, cwd, host, pid, pid_start FROM sessions "
                    "WHERE user = ? AND closed = '' AND id != ? AND (started < ? OR (started = ? AND id < ?)) "
                    "AND COALESCE(last_event, started) >= ? ORDER BY started, id",
                    (
                        user,
                        session_id,
                        started,
                        started,
                        session_id,
                        -1.0 if others_since is None else others_since,
                    ),
                ):
                    if oid in session_kills or not self._runs(ohost, opid, ostart, host):
                        continue
                    others.append(
                        OtherSession(
                            session_id=oid,
                            started=ostarted,
                            last_event=olast if olast is not None else ostarted,
                            cwd=ocwd,
                            host=ohost,
                        )
                    )
        return SessionState(
            session_id=session_id,
            now=now,
            registered=True,
            started=started,
            last_event=last,
            closed=closed,
            killed=killed,
            tainted=tainted,
            grant_until=grant,
            others=tuple(others),
        )

    # -- closing ---------------------------------------------------------------------------------------------

    def _close(self, session_id: str, now: float, reason: str, kind: str) -> bool:
        if not reason:
            raise ValueError("a close needs a reason")
        with self._write() as db:
            exists = db.execute("SELECT closed FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if exists is None:
                return False
            if not exists[0]:  # the first reason stands
                db.execute(
                    "UPDATE sessions SET closed = ?, closed_kind = ?, closed_at = ? WHERE id = ?",
                    (reason, kind, now, session_id),
                )
        return True

    def end(self, session_id: str, now: float, reason: str = "SessionEnd") -> bool:
        """The agent ended the session (a later SessionStart for it reopens it). False: unknown id."""
        return self._close(session_id, now, reason, "end")

    def close(self, session_id: str, now: float, reason: str) -> bool:
        """Close the session for good (idle, max duration); later events see ``closed``. False: unknown id."""
        return self._close(session_id, now, reason, "close")

    # -- the kill switch ---------------------------------------------------------------------------------------

    @staticmethod
    def _target(session_id: str | None, user: str | None, all_sessions: bool) -> tuple[str, str]:
        given = [session_id is not None, user is not None, all_sessions]
        if sum(given) != 1:
            raise ValueError("name exactly one of session_id, user or all_sessions")
        if session_id is not None:
            if not session_id:
                raise ValueError("empty session id")
            return "session", session_id
        if user is not None:
            if not user:
                raise ValueError("empty user name")
            return "user", user
        return "all", ""

    def kill(
        self,
        *,
        session_id: str | None = None,
        user: str | None = None,
        all_sessions: bool = False,
        reason: str,
        now: float,
        by: str,
    ) -> builtins.list[str]:
        """Give a kill order; returns the ids of the live sessions it stops.

        The order stands until :meth:`lift`: a user or all order applies to that user's (or every)
        session, existing and new; a session order to that id even before the store has seen it.
        """
        scope, target = self._target(session_id, user, all_sessions)
        if not reason:
            raise ValueError("a kill needs a reason")
        local = this_host()
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO kills (scope, target, reason, by, at) VALUES (?, ?, ?, ?, ?)",
                (scope, target, reason, by, now),
            )
            rows = db.execute(_LIVE_ROWS[scope], (target,)).fetchall()
        return [sid for sid, host, pid, start in rows if self._runs(host, pid, start, local)]

    def lift(
        self, *, session_id: str | None = None, user: str | None = None, all_sessions: bool = False
    ) -> bool:
        """Withdraw a kill order; False when there was none for that target."""
        scope, target = self._target(session_id, user, all_sessions)
        with self._write() as db:
            cursor = db.execute("DELETE FROM kills WHERE scope = ? AND target = ?", (scope, target))
            return cursor.rowcount > 0

    def orders(self) -> builtins.list[KillOrder]:
        """The standing kill orders, oldest first."""
        return [
            KillOrder(*row)
            for row in self._read(
                "SELECT scope, target, reason, by, at FROM kills ORDER BY at, scope, target"
            )
        ]

    # -- taint and grants ---------------------------------------------------------------------------------------

    def taint(self, session_id: str, reason: str, now: float) -> bool:
        """Mark the session tainted (the first reason stands until cleared). False: unknown id."""
        if not reason:
            raise ValueError("a taint needs a reason")
        with self._write() as db:
            cursor = db.execute(
                "UPDATE sessions SET tainted = CASE WHEN tainted = '' THEN ? ELSE tainted END, "
                "tainted_at = CASE WHEN tainted = '' THEN ? ELSE tainted_at END WHERE id = ?",
                (reason, now, session_id),
            )
            return cursor.rowcount > 0

    def clear_taint(self, session_id: str) -> bool:
        """Clear the session's taint; False when it was not tainted (or is unknown)."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE sessions SET tainted = '', tainted_at = NULL WHERE id = ? AND tainted != ''",
                (session_id,),
            )
            return cursor.rowcount > 0

    def grant(self, session_id: str, until: float, by: str, now: float) -> bool:
        """A step-up grant for the session, valid until ``until``. False: unknown id or closed session."""
        if until <= now:
            raise ValueError("a grant must end after it is given")
        with self._write() as db:
            cursor = db.execute(
                "UPDATE sessions SET grant_until = ?, grant_by = ? WHERE id = ? AND closed = ''",
                (until, by, session_id),
            )
            return cursor.rowcount > 0

    # -- reading --------------------------------------------------------------------------------------------

    def get(self, session_id: str) -> SessionInfo | None:
        rows = self._read(_SELECT + "WHERE id = ?", (session_id,))
        if not rows:
            return None
        return self._info(rows[0], self.orders())

    def list(self, *, live_only: bool = True) -> builtins.list[SessionInfo]:
        """Sessions, oldest first; live ones only by default (not closed, process not known to be gone)."""
        rows = self._read(_SELECT + "ORDER BY started, id")
        orders = self.orders()
        local = this_host()
        out = []
        for row in rows:
            info = self._info(row, orders)
            if live_only and (info.closed or not self._runs(info.host, info.pid, info.pid_start, local)):
                continue
            out.append(info)
        return out

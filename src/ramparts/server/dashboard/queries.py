"""What the dashboard's pages read from the control plane's store (SQLite or PostgreSQL, same SQL)."""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections import Counter
from datetime import datetime
from typing import Any, NamedTuple

from ... import rule_ids as rids
from ..store import KillOrder, ServerStore

IDLE_AFTER = 300.0
"""A session with no record for this many seconds is idle."""
STALE_AFTER = 600.0
"""A host whose log has not reported for this many seconds is marked as stopped reporting."""
TAINT_MARKS = (rids.SESSION_TAINTED, rids.INJECTION_TOOL_RESULT)


INDEXES = (
    # covering indexes: the pages' aggregates read these, never the records' bodies (50,000 records: ~10x)
    "CREATE INDEX IF NOT EXISTS dashboard_records_sessions ON records "
    "(session, received, time, decision, user_name, host)",
    "CREATE INDEX IF NOT EXISTS dashboard_records_hours ON records (time, decision)",
    "CREATE INDEX IF NOT EXISTS dashboard_records_decisions ON records (decision, received)",
)


def ensure_indexes(store: ServerStore) -> None:
    with store._tx() as tx:
        for statement in INDEXES:
            tx.x(statement)


class SessionRow(NamedTuple):
    session: str
    user: str
    host: str
    cwd: str
    started: str
    last: str
    duration: float
    records: int
    state: str
    """live, idle, tainted, ended (an applied end order) or killed."""
    last_decision: str
    last_tool: str
    last_rules: tuple[str, ...]


def normal(rec: dict[str, Any]) -> dict[str, Any]:
    """A stored record in the current shape (the hook still writes version 1 records)."""
    from ...audit.record import RECORD_VERSION, _from_v1

    return rec if rec.get("v") == RECORD_VERSION else _from_v1(rec)


def epoch(stamp: str) -> float:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _killed(orders: list[KillOrder], session: str, user: str) -> bool:
    return any(
        (o.scope == "session" and o.target == session)
        or (o.scope == "user" and o.target == user)
        or o.scope == "all"
        for o in orders
    )


class _Cache:
    """One value, recomputed at most every ``ttl`` seconds (the live view polls once a second per viewer)."""

    def __init__(self, ttl: float) -> None:
        self.ttl, self.at, self.value, self.lock = ttl, -1e18, None, threading.Lock()

    def get(self, make: Any) -> Any:
        with self.lock:
            now = time.monotonic()
            if now - self.at > self.ttl:
                self.value, self.at = make(), now
            return self.value


_sessions_cache: weakref.WeakKeyDictionary[ServerStore, _Cache] = weakref.WeakKeyDictionary()


def live_sessions(store: ServerStore, now: float | None = None, limit: int = 500) -> list[SessionRow]:
    """The sessions with the most recent activity first (at most ``limit``), cached for a second."""
    cache = _sessions_cache.setdefault(store, _Cache(1.0))
    rows: list[SessionRow] = cache.get(
        lambda: _live_sessions(store, time.time() if now is None else now, limit)
    )
    return rows


def _live_sessions(store: ServerStore, now: float, limit: int, session: str = "") -> list[SessionRow]:
    taint = " OR ".join("body LIKE ?" for _ in TAINT_MARKS)
    only = session  # (the loops below rebind ``session``)
    where = "session = ?" if session else "session <> ?"
    with store._tx(write=False) as tx:
        groups = tx.q(
            "SELECT session, MIN(user_name), MIN(host), MIN(time), MAX(time), COUNT(*), MAX(received) "  # noqa: S608
            f"FROM records WHERE {where} GROUP BY session ORDER BY MAX(received) DESC LIMIT ?",
            (session, limit),
        )
        one = " AND session = ?" if session else ""
        tainted = {
            str(r[0])
            for r in tx.q(
                f"SELECT DISTINCT session FROM records WHERE decision IN ('deny', 'ask') AND ({taint}){one}",  # noqa: S608
                (*(f"%{m}%" for m in TAINT_MARKS), *((session,) if session else ())),
            )
        }
        last: dict[str, tuple[str, str, str]] = {}
        for lo in range(0, len(groups), 200):
            chunk = groups[lo : lo + 200]
            marks = ", ".join("(?, ?)" for _ in chunk)
            # the record(s) at each session's latest time (a CTE: SQLite names VALUES columns no other way)
            params: list[Any] = []
            for g in chunk:
                params += [g[0], g[4]]
            for session, decision, tool, body in tx.q(
                f"WITH m (s, t) AS (VALUES {marks}) SELECT r.session, r.decision, r.tool, r.body "  # noqa: S608
                "FROM records r JOIN m ON r.session = m.s AND r.time = m.t",
                params,
            ):
                last[str(session)] = (str(decision), str(tool), str(body))
        orders = [KillOrder(*r) for r in tx.q("SELECT scope, target, reason, by_whom, at FROM kills")]
        ended = {
            str(r[0])
            for r in tx.q(
                f"SELECT DISTINCT session FROM session_orders WHERE kind = 'end' AND state = 'applied'{one}",  # noqa: S608
                (only,) if only else (),
            )
        }
    out = []
    for session, user, host, first, latest, count, received in groups:
        decision, tool, body = last.get(str(session), ("", "", "{}"))
        rec = normal(json.loads(body).get("rec") or {})
        hook = rec.get("hook") or {}
        state = "live"
        if _killed(orders, str(session), str(user)):
            state = "killed"
        elif str(session) in ended:
            state = "ended"
        elif str(session) in tainted:
            state = "tainted"
        elif now - float(received) > IDLE_AFTER:
            state = "idle"
        out.append(
            SessionRow(
                str(session),
                str(user),
                str(host),
                str(hook.get("cwd") or ""),
                str(first),
                str(latest),
                max(0.0, epoch(str(latest)) - epoch(str(first))),
                int(count),
                state,
                decision,
                tool,
                tuple(rec.get("rule_ids") or ()),
            )
        )
    return out


def session_state(store: ServerStore, session: str, now: float | None = None) -> SessionRow | None:
    rows = _live_sessions(store, time.time() if now is None else now, 1, session)
    return rows[0] if rows else None


def kill_order(store: ServerStore, session: str, user: str) -> KillOrder | None:
    for o in store.kills():
        if _killed([o], session, user):
            return o
    return None


def findings(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every finding a record holds (its content's and its own): detector, category, fingerprint."""
    out = [f for c in rec.get("content") or () for f in c.get("findings") or ()]
    return out + list(rec.get("findings") or ())


def rate_series(records: list[dict[str, Any]], window: float = 60.0) -> list[tuple[float, int]]:
    """(time, tool calls in the preceding window) at each tool call of a session."""
    times = sorted(epoch(r.get("time", "")) for r in records if r.get("event") == "PreToolUse")
    out, lo = [], 0
    for i, t in enumerate(times):
        while times[lo] < t - window:
            lo += 1
        out.append((t, i - lo + 1))
    return out


_plots_cache: weakref.WeakKeyDictionary[ServerStore, _Cache] = weakref.WeakKeyDictionary()


def plot_data(
    store: ServerStore,
) -> tuple[list[tuple[str, dict[str, int]]], list[tuple[str, int]]]:
    """(decisions per hour, top rules), recomputed at most every 10 seconds (hour-scale plots)."""
    cache = _plots_cache.setdefault(store, _Cache(10.0))
    value: tuple[list[tuple[str, dict[str, int]]], list[tuple[str, int]]] = cache.get(
        lambda: (decisions_per_hour(store), top_rules(store))
    )
    return value


def decisions_per_hour(
    store: ServerStore, now: float | None = None, hours: int = 24
) -> list[tuple[str, dict[str, int]]]:
    """(``YYYY-MM-DDTHH``, {outcome: count}) for the last ``hours`` hours, oldest first."""
    now = time.time() if now is None else now
    since = time.strftime("%Y-%m-%dT%H", time.gmtime(now - (hours - 1) * 3600))
    with store._tx(write=False) as tx:
        rows = tx.q(
            "SELECT substr(time, 1, 13), decision, COUNT(*) FROM records WHERE time >= ? GROUP BY substr(time, 1, 13), decision",
            (since,),
        )
    by_hour: dict[str, dict[str, int]] = {
        time.strftime("%Y-%m-%dT%H", time.gmtime(now - h * 3600)): {} for h in range(hours - 1, -1, -1)
    }
    for hour, decision, count in rows:
        if str(hour) in by_hour:
            by_hour[str(hour)][str(decision) or "none"] = int(count)
    return list(by_hour.items())


def top_rules(store: ServerStore, limit: int = 10, scan: int = 2000) -> list[tuple[str, int]]:
    """The rules named most often by the latest ``scan`` deny and ask decisions."""
    with store._tx(write=False) as tx:
        rows = tx.q(
            "SELECT body FROM records WHERE decision IN ('deny', 'ask') ORDER BY received DESC LIMIT ?",
            (scan,),
        )
    counts: Counter[str] = Counter()
    for (body,) in rows:
        counts.update((json.loads(body).get("rec") or {}).get("rule_ids") or ())
    return counts.most_common(limit)


def rate_threshold(store: ServerStore) -> tuple[float, float] | None:
    """(calls, window seconds) of the monitor's first rate rule."""
    for rule in store.monitor.rules:
        if rule.kind == "rate":
            return rule.threshold, rule.window_seconds
    return None

"""The hook's own copy of the behaviour rules' rate limits, so a burst is stopped even while the control
plane cannot be reached (docs/server.md). Applies the ``rate`` rules of severity ``high`` from the
policy's ``monitor:`` section (else the defaults: more than 30 tool calls in 60 s) to the session's tool
calls, counted in ``<state_dir>/rate.db`` (SQLite, WAL; one insert and one count per tool call).
Errors raise :class:`~ramparts.errors.StoreError`: the hook denies."""

from __future__ import annotations

import json
import os
import sqlite3

from ..errors import StoreError


def local_rate(state_dir: str, monitor_section: str, session: str, now: float) -> str:
    """Count this tool call; the message of the first high rate rule it breaks ('' for none)."""
    from ..monitor import parse_monitor

    config = parse_monitor(json.loads(monitor_section) if monitor_section else None)
    rules = [r for r in config.rules if r.kind == "rate" and r.severity == "high"]
    if not rules:
        return ""
    window = max(r.window_seconds for r in rules)
    path = os.path.join(state_dir, "rate.db")
    try:
        db = sqlite3.connect(path, timeout=2, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the rate counter {path}: {exc}") from exc
    try:
        db.execute("PRAGMA busy_timeout=2000")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS calls (session TEXT NOT NULL, t REAL NOT NULL)")
        db.execute("CREATE INDEX IF NOT EXISTS calls_by_session ON calls (session, t)")
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM calls WHERE t < ?", (now - window,))
        db.execute("INSERT INTO calls (session, t) VALUES (?, ?)", (session, now))
        counts = [
            (
                rule,
                db.execute(
                    "SELECT count(*) FROM calls WHERE session = ? AND t > ?",
                    (session, now - rule.window_seconds),
                ).fetchone()[0],
            )
            for rule in rules
        ]
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot count tool calls in {path}: {exc}") from exc
    finally:
        db.close()
    for rule, count in counts:
        if count > rule.threshold:
            return (
                f"behaviour rule {rule.id} (enforced by the hook): {count} tool calls in "
                f"{rule.window_seconds:g} s (limit {rule.threshold:g})"
            )
    return ""

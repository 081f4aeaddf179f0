"""Read side for the CLI and the dashboard: sessions, alerts, logs, quarantine, a session's records."""

from __future__ import annotations

import json
import time
from typing import Any

from .base import StoreBase
from .model import (
    Alert,
    LogInfo,
)


class QueryStore(StoreBase):
    """Queries."""

    def sessions(self, limit: int = 200) -> list[dict[str, Any]]:
        """The sessions the records show, most recently active first, with their last decision."""
        with self._tx(write=False) as tx:
            rows = tx.q(
                "SELECT session, max(user_name), max(host), count(*), min(time), max(time), max(received) FROM records "
                "WHERE session != '' GROUP BY session ORDER BY max(received) DESC LIMIT ?",
                (limit,),
            )
            last_rows: dict[str, tuple[Any, ...]] = {}
            names = [str(r[0]) for r in rows]
            for lo in range(0, len(names), 500):
                chunk = names[lo : lo + 500]
                marks = ", ".join("?" * len(chunk))
                for session, decision, tool, event in tx.q(
                    "SELECT session, decision, tool, event FROM (SELECT session, decision, tool, event, "  # noqa: S608
                    "ROW_NUMBER() OVER (PARTITION BY session ORDER BY received DESC, seq DESC) AS rn FROM records "
                    f"WHERE session IN ({marks})) AS latest WHERE rn = 1",
                    chunk,
                ):
                    last_rows[str(session)] = (decision, tool, event)
            out = []
            for session, user, host, count, first, last, _ in rows:
                row = last_rows.get(str(session))
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

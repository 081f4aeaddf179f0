"""Claude Code's own telemetry (OTLP logs) and its join to the hook's records."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ... import rule_ids as rids
from .base import StoreBase
from .model import (
    TokenInfo,
)


class TelemetryStore(StoreBase):
    """Telemetry."""

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
                    self._alert(tx, now, "high", rids.TELEMETRY_NO_HOOK, message, host=host, session=session)
                    raised += 1
            tx.many("UPDATE telemetry SET checked = 1 WHERE id = ?", [(r[0],) for r in rows])
        return raised

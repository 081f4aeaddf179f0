"""Orders served to hosts: central kill orders and remote approval requests."""

from __future__ import annotations

import secrets
import time

from .base import StoreBase
from .model import (
    _APPROVAL_COLUMNS,
    Approval,
    KillOrder,
    Scope,
)


class OrderStore(StoreBase):
    """Kill orders and approvals."""

    # -- kill orders -------------------------------------------------------------------------------------------

    def kill(self, scope: Scope, target: str, reason: str, by: str, now: float | None = None) -> KillOrder:
        if scope not in ("session", "user", "all") or (scope != "all") != bool(target):
            raise ValueError("a kill names a session or a user, or all with no target")
        order = KillOrder(scope, target, reason, by, time.time() if now is None else now)
        with self._tx() as tx:
            self._kill(tx, order)
        return order

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

"""Orders served to hosts: central kill orders, session orders (end, grant re-auth) and remote approval
requests."""

from __future__ import annotations

import secrets
import time

from .base import StoreBase
from .model import (
    _APPROVAL_COLUMNS,
    _ORDER_COLUMNS,
    MAX_GRANT_MINUTES,
    Approval,
    KillOrder,
    OrderKind,
    Scope,
    SessionOrder,
)

MAX_SESSION = 256  # as the kill orders' targets


_ORDER_COLUMNS_OF_O = ", ".join(f"o.{name.strip()}" for name in _ORDER_COLUMNS.split(","))


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

    # -- session orders (end, grant re-auth) --------------------------------------------------------------------

    def order_session(
        self,
        kind: OrderKind,
        session: str,
        reason: str,
        by: str,
        *,
        minutes: float = 0.0,
        now: float | None = None,
    ) -> SessionOrder:
        """Store an order for a session; the host that runs it applies and acknowledges it."""
        if kind not in ("end", "reauth"):
            raise ValueError("a session order is end or reauth")
        if not session or len(session) > MAX_SESSION:
            raise ValueError(f"a session order names a session (1 to {MAX_SESSION} characters)")
        if kind == "reauth" and not 1 <= minutes <= MAX_GRANT_MINUTES:
            raise ValueError(f"a re-auth grant lasts 1 to {MAX_GRANT_MINUTES:g} minutes")
        if kind == "end":
            minutes = 0.0
        order = SessionOrder(
            secrets.token_hex(8),
            kind,
            session,
            reason[:1000],
            float(minutes),
            by[:200],
            time.time() if now is None else now,
            "pending",
            None,
            "",
            "",
        )
        with self._tx() as tx:
            tx.x(
                f"INSERT INTO session_orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                order,
            )
        return order

    def session_orders(
        self,
        *,
        session: str | None = None,
        pending_only: bool = False,
        limit: int = 500,
        token_id: str | None = None,
    ) -> list[SessionOrder]:
        """Orders, oldest first: one session's, or every one (``pending_only``: what hosts still apply).
        With ``token_id``, only orders for sessions that host's own logs hold records of: a host learns
        nothing of other hosts' sessions, their ids or the reasons given for ending them."""
        where: list[str] = []
        params: list[str] = []
        if session is not None:
            where.append("o.session = ?")
            params.append(session)
        if pending_only:
            where.append("o.state = 'pending'")
        if token_id is not None:
            where.append(
                "EXISTS (SELECT 1 FROM records r JOIN logs l ON l.log_id = r.log_id "
                "WHERE r.session = o.session AND l.token_id = ?)"
            )
            params.append(token_id)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self._tx(write=False) as tx:
            rows = tx.q(
                f"SELECT {_ORDER_COLUMNS_OF_O} FROM session_orders o {clause}ORDER BY o.created, o.id LIMIT ?",  # noqa: S608
                (*params, limit),
            )
        return [SessionOrder(*row) for row in rows]

    def order_applied(
        self, order_id: str, by: str, outcome: str, now: float | None = None, *, token_id: str | None = None
    ) -> SessionOrder | None:
        """A host's acknowledgement: the pending order is ``applied`` (None: unknown or already applied).
        With ``token_id``, only a host whose own logs hold records of the order's session may acknowledge
        it (PermissionError otherwise): another host cannot mark an order applied that it never ran."""
        now = time.time() if now is None else now
        refused, changed, row = False, 0, None
        with self._tx() as tx:
            if token_id is not None:
                owned = tx.one(
                    "SELECT 1 FROM session_orders o WHERE o.id = ? AND EXISTS (SELECT 1 FROM records r "
                    "JOIN logs l ON l.log_id = r.log_id WHERE r.session = o.session AND l.token_id = ?)",
                    (order_id, token_id),
                )
                known = tx.one("SELECT 1 FROM session_orders WHERE id = ?", (order_id,))
                refused = known is not None and owned is None
            if not refused:
                changed = tx.x(
                    "UPDATE session_orders SET state = 'applied', applied_at = ?, applied_by = ?, outcome = ? "
                    "WHERE id = ? AND state = 'pending'",
                    (now, by[:200], outcome[:1000], order_id),
                )
                row = tx.one(f"SELECT {_ORDER_COLUMNS} FROM session_orders WHERE id = ?", (order_id,))  # noqa: S608
        if refused:  # raised outside the transaction, which reports OSErrors as store failures
            raise PermissionError("this host has sent no record of that session")
        return SessionOrder(*row) if changed and row is not None else None

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

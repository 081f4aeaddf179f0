"""A host applies the control plane's session orders (``ramparts agent``, every pass).

An order names a session; the host whose session store knows it applies it there, records what it did in
its audit log (shipped to the control plane like every record), then acknowledges it:

* ``end`` closes the session for good (``SessionStore.close``): its next tool call is denied with the
  order's reason (``session.closed``), and a resume does not reopen it;
* ``reauth`` gives the step-up grant for the order's minutes (``SessionStore.grant``), as
  ``ramparts reauth`` does: the session's sensitive operations are allowed until it ends.

Orders for sessions this host has never seen are left for the host that runs them. The record comes
before the change (an order that cannot be recorded is not applied) and the change before the
acknowledgement; an acknowledgement that fails is retried on the next pass, where applying the order
again changes nothing an administrator could tell apart (a closed session stays closed; a grant is
given again from the same order).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .. import rule_ids as rids
from .._util import utc_stamp

MAX_GRANT_MINUTES = 480.0


class Applied(NamedTuple):
    order_id: str
    outcome: str


def _record(
    state_dir: str, event: str, order: Mapping[str, Any], user: str, verdict: str, reason: str, **details: Any
) -> None:
    """The host's record of an order it applies: the session's user (whose session it is), the order's
    id and giver in the details."""
    from ..audit.record import AdminDetail, build_record, to_json
    from ..audit.store import AuditStore
    from ..model import Decision
    from ..session.store import this_host

    rule = rids.SESSION_END if order.get("kind") == "end" else rids.SESSION_REAUTH
    record = build_record(
        Decision(
            "allow" if verdict == "allow" else "deny", (reason,), (rule,), decision_id=os.urandom(12).hex()
        ),
        surface="admin",
        event=event,
        time=utc_stamp(),
        user=user,
        host=this_host(),
        session=str(order.get("session", "")),
        agent="ramparts",
        detail=AdminDetail(
            action=event,
            details={
                "order": str(order.get("id", "")),
                "by": str(order.get("by", ""))[:200],
                "source": "control plane",
                **details,
            },
        ),
    )
    with AuditStore.open(state_dir) as store:
        store.append(to_json(record))


def apply_orders(
    state_dir: str, orders: Iterable[Mapping[str, Any]], now: float | None = None
) -> list[Applied]:
    """Apply the orders whose session this host knows; what to acknowledge. Raises RampartsError (the
    audit or session store failed): the caller retries on its next pass."""
    from ..session.store import SessionStore

    path = os.path.join(state_dir, "sessions.db")
    if not os.path.exists(path):
        return []
    done: list[Applied] = []
    with SessionStore(path, synchronous="FULL") as sessions:
        for order in orders:
            kind, sid, oid = order.get("kind"), order.get("session"), order.get("id")
            if not isinstance(sid, str) or not sid or not isinstance(oid, str) or not oid:
                continue
            info = sessions.get(sid)
            if info is None:
                continue  # another host's session
            when = time.time() if now is None else now
            by = str(order.get("by", "?"))
            reason = str(order.get("reason", "")) or "by the control plane"
            if kind == "end":
                if info.closed:
                    done.append(Applied(oid, f"already closed: {info.closed}"))
                    continue
                message = f"{reason} (ended through the control plane by {by})"
                _record(state_dir, "SessionEnded", order, info.user, "deny", message, host=info.host)
                sessions.close(sid, when, message)
                done.append(Applied(oid, "ended: its next tool call is denied"))
            elif kind == "reauth":
                minutes = order.get("minutes")
                if (
                    isinstance(minutes, bool)
                    or not isinstance(minutes, int | float)
                    or not 1 <= minutes <= MAX_GRANT_MINUTES
                ):
                    done.append(Applied(oid, f"refused: a grant lasts 1 to {MAX_GRANT_MINUTES:g} minutes"))
                    continue
                if info.closed:
                    done.append(Applied(oid, f"not granted: the session is closed ({info.closed})"))
                    continue
                until = when + float(minutes) * 60
                message = (
                    f"step-up grant by {by} through the control plane for {minutes:g} minute(s): {reason}"
                )
                _record(
                    state_dir,
                    "Reauth",
                    order,
                    info.user,
                    "allow",
                    message,
                    minutes=float(minutes),
                    until=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)),
                )
                if sessions.grant(sid, until, by, when):
                    done.append(Applied(oid, f"granted for {minutes:g} minute(s)"))
                else:
                    done.append(Applied(oid, "not granted: the session closed meanwhile"))
            else:
                done.append(Applied(oid, f"refused: unknown order kind {kind!r}"))
    return done


def sync_orders(api: Any, state_dir: str) -> int:
    """One pass: fetch the pending orders, apply this host's, acknowledge them; how many were applied.
    Raises ServerError / RampartsError / OSError for the caller to log and retry."""
    applied = apply_orders(state_dir, api.session_orders())
    for item in applied:
        api.order_applied(item.order_id, item.outcome)
    return len(applied)


__all__ = ["Applied", "apply_orders", "sync_orders"]

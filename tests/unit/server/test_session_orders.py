"""Session orders (end, grant re-auth): the control plane's store (SQLite and PostgreSQL), the API's
request checks, and a host applying them to its real session store, where the real hook then denies
an ended session's next tool call and allows a granted session's sensitive operation."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.server.app import _ack_request, _session_order_request, create_app
from ramparts.server.batch import BatchError, parse_batch
from ramparts.server.host_orders import apply_orders, sync_orders
from ramparts.server.store import ServerStore
from ramparts.session.store import SessionStore
from ramparts.testing import audit_records
from tests.server_harness import HostLog, asgi_request, hook_record

SID = "11111111-2222-3333-4444-555555555555"


def test_orders_are_pending_until_a_host_applies_them(server: ServerStore) -> None:
    end = server.order_session("end", SID, "contained", "alice (dashboard)", now=100.0)
    grant = server.order_session("reauth", "other", "", "alice (dashboard)", minutes=20, now=101.0)
    assert (end.kind, end.state, end.minutes, grant.minutes) == ("end", "pending", 0.0, 20.0)
    assert [o.id for o in server.session_orders(pending_only=True)] == [end.id, grant.id]
    assert [o.id for o in server.session_orders(session=SID)] == [end.id]
    applied = server.order_applied(end.id, "host-a (token x)", "ended", now=105.0)
    assert applied is not None
    assert (applied.state, applied.applied_at, applied.applied_by, applied.outcome) == (
        "applied",
        105.0,
        "host-a (token x)",
        "ended",
    )
    assert server.order_applied(end.id, "host-a", "again") is None  # acknowledged once
    assert server.order_applied("nope", "host-a", "x") is None
    assert [o.id for o in server.session_orders(pending_only=True)] == [grant.id]
    assert [o.state for o in server.session_orders(session=SID)] == ["applied"]


def test_only_a_host_that_reported_the_session_acknowledges(server: ServerStore, host: HostLog) -> None:
    a, _ = server.create_token("host", "host-a")
    b, _ = server.create_token("host", "host-b")
    host.append(hook_record(SID, time.time()))
    server.ingest(a, parse_batch(host.body()))
    order = server.order_session("end", SID, "", "alice (dashboard)")
    with pytest.raises(PermissionError, match="no record of that session"):
        server.order_applied(order.id, "host-b", "ended", token_id=b.id)
    assert [o.state for o in server.session_orders(session=SID)] == ["pending"]
    applied = server.order_applied(order.id, "host-a", "ended", token_id=a.id)
    assert applied is not None and applied.state == "applied"
    assert server.order_applied("unknown", "host-a", "x", token_id=a.id) is None


def test_a_host_sees_only_its_own_sessions_orders(server: ServerStore, host: HostLog) -> None:
    """Another host learns nothing of a session it never ran: not its id, not the reason it was ended.
    Admin tokens (the dashboard, the API) still see every pending order."""
    a, a_secret = server.create_token("host", "host-a")
    _, b_secret = server.create_token("host", "host-b")
    _, admin_secret = server.create_token("admin", "security-team")
    host.append(hook_record(SID, time.time()))
    server.ingest(a, parse_batch(host.body()))
    mine = server.order_session("end", SID, "contained: incident 7", "alice (dashboard)")
    elsewhere = server.order_session("end", "a-session-no-host-reported", "x", "alice (dashboard)")
    assert [o.id for o in server.session_orders(pending_only=True, token_id=a.id)] == [mine.id]
    app = create_app(server)
    seen = {
        who: [o["id"] for o in asgi_request(app, "GET", "/v1/orders", b"", secret)[1]["orders"]]
        for who, secret in (("a", a_secret), ("b", b_secret), ("admin", admin_secret))
    }
    assert seen == {"a": [mine.id], "b": [], "admin": [mine.id, elsewhere.id]}


@pytest.mark.parametrize(
    ("kind", "session", "minutes", "message"),
    [
        ("kill", SID, 0, "end or reauth"),
        ("end", "", 0, "names a session"),
        ("end", "x" * 257, 0, "names a session"),
        ("reauth", SID, 0, "1 to 480 minutes"),
        ("reauth", SID, 481, "1 to 480 minutes"),
    ],
)
def test_bad_orders_are_refused(
    server: ServerStore, kind: Any, session: str, minutes: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        server.order_session(kind, session, "", "alice", minutes=minutes)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"kind": "stop", "session": SID}, "kind"),
        ({"kind": "end"}, "session"),
        ({"kind": "end", "session": SID, "extra": 1}, "extra"),
        ({"kind": "end", "session": SID, "reason": 5}, "reason"),
        ({"kind": "reauth", "session": SID, "minutes": True}, "minutes"),
        ({"kind": "reauth", "session": SID, "minutes": 0.5}, "minutes"),
    ],
)
def test_order_requests_name_the_bad_field(body: Any, field: str) -> None:
    with pytest.raises(BatchError, match=field):
        _session_order_request(body)


def test_order_request_defaults() -> None:
    assert _session_order_request({"kind": "reauth", "session": SID}) == (
        "reauth",
        SID,
        "step-up granted through the control plane",
        15.0,
    )
    assert _session_order_request({"kind": "end", "session": SID, "reason": "why"})[2:] == ("why", 0.0)
    assert _ack_request({"outcome": "done"}) == "done"
    with pytest.raises(BatchError, match="outcome"):
        _ack_request({"outcome": 1})


@given(st.dictionaries(st.text(max_size=10), st.none() | st.integers() | st.text(max_size=20), max_size=5))
def test_order_requests_either_parse_or_raise_batch_error(body: dict[str, Any]) -> None:
    try:
        kind, session, _, minutes = _session_order_request(body)
    except BatchError:
        return
    assert kind in ("end", "reauth") and session and (kind == "end" or 1 <= minutes <= 480)


# -- the host side ----------------------------------------------------------------------------------------------


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "ramparts.yaml"
    path.write_text("version: 1\nextends: baseline\nhook: {deadline_ms: 3000, timeout: 8}\n")
    return path


def _hook(
    policy: Path, state: Path, event: str, tool: str, tool_input: dict[str, Any], cwd: Path
) -> dict[str, Any]:
    payload = {
        "session_id": SID,
        "transcript_path": str(cwd / "t.jsonl"),
        "cwd": str(cwd),
        "permission_mode": "default",
        "hook_event_name": event,
    }
    if tool:
        payload.update(tool_name=tool, tool_input=tool_input, tool_use_id="toolu_01")
    done = subprocess.run(
        [sys.executable, "-I", "-m", "ramparts", "hook", "--policy", str(policy), "--state-dir", str(state)],
        input=json.dumps(payload).encode(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    out: dict[str, Any] = json.loads(done.stdout or b"{}")
    return out.get("hookSpecificOutput", out)


def _order(kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"o-{kind}",
        "kind": kind,
        "session": SID,
        "reason": "incident 42",
        "by": "alice (dashboard)",
        **extra,
    }


def test_end_and_reauth_orders_reach_the_real_hook(tmp_path: Path) -> None:
    policy, state, project = _policy(tmp_path), tmp_path / "state", tmp_path / "project"
    project.mkdir()
    sensitive = {"command": "git ls-remote http://example.com/repo.git", "description": "network: a step-up"}
    _hook(policy, state, "SessionStart", "", {}, project)
    before = _hook(policy, state, "PreToolUse", "Bash", sensitive, project)
    assert (
        before["permissionDecision"] == "ask" and "sensitive operation" in before["permissionDecisionReason"]
    )

    assert apply_orders(
        str(state), [_order("reauth", minutes=10), {**_order("end"), "session": "unknown"}]
    ) == [("o-reauth", "granted for 10 minute(s)")]  # another host's session is left alone
    granted = _hook(policy, state, "PreToolUse", "Bash", sensitive, project)
    assert granted["permissionDecision"] == "allow", granted

    assert apply_orders(str(state), [_order("end")]) == [("o-end", "ended: its next tool call is denied")]
    ended = _hook(policy, state, "PreToolUse", "Bash", {"command": "ls"}, project)
    assert ended["permissionDecision"] == "deny"
    assert (
        "incident 42 (ended through the control plane by alice (dashboard))"
        in ended["permissionDecisionReason"]
    )
    _hook(policy, state, "SessionStart", "", {}, project)  # a resume does not reopen it
    assert (
        _hook(policy, state, "PreToolUse", "Bash", {"command": "ls"}, project)["permissionDecision"] == "deny"
    )

    # applying the same orders again (an acknowledgement that failed) changes nothing
    assert apply_orders(str(state), [_order("end"), _order("reauth", minutes=10)]) == [
        ("o-end", "already closed: incident 42 (ended through the control plane by alice (dashboard))"),
        (
            "o-reauth",
            "not granted: the session is closed (incident 42 (ended through the control plane by alice (dashboard)))",
        ),
    ]
    admin = [r for r in audit_records(state) if r.surface == "admin"]
    assert [(r.event, r.decision, r.rule_ids, r.session) for r in admin] == [
        ("Reauth", "allow", ("session.reauth",), SID),
        ("SessionEnded", "deny", ("session.end",), SID),
    ]
    assert admin[0].admin is not None and admin[0].admin.details["order"] == "o-reauth"
    assert admin[0].admin.details["by"] == "alice (dashboard)"
    with SessionStore(state / "sessions.db") as sessions:
        info = sessions.get(SID)
    assert info is not None and info.closed.startswith("incident 42")


def test_bad_orders_are_acknowledged_as_refused_and_nothing_changes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with SessionStore(state / "sessions.db") as sessions:
        sessions.observe(SID, user="u", host="h", cwd="/", now=time.time(), event="SessionStart")
    orders = [
        _order("reauth", minutes=0),
        _order("reauth", minutes=True),
        _order("wipe"),
        {"kind": "end", "session": SID},  # no id: not an order
    ]
    assert [a.outcome for a in apply_orders(str(state), orders)] == [
        "refused: a grant lasts 1 to 480 minutes",
        "refused: a grant lasts 1 to 480 minutes",
        "refused: unknown order kind 'wipe'",
    ]
    with SessionStore(state / "sessions.db") as sessions:
        info = sessions.get(SID)
    assert info is not None and not info.closed
    assert apply_orders(str(tmp_path / "no-state"), [_order("end")]) == []


def test_sync_acknowledges_what_it_applied(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with SessionStore(state / "sessions.db") as sessions:
        sessions.observe(SID, user="u", host="h", cwd="/", now=time.time(), event="SessionStart")

    class Api:
        def __init__(self) -> None:
            self.acks: list[tuple[str, str]] = []

        def session_orders(self) -> list[dict[str, Any]]:
            return [_order("end"), {**_order("reauth", minutes=5), "session": "elsewhere"}]

        def order_applied(self, order_id: str, outcome: str) -> dict[str, Any]:
            self.acks.append((order_id, outcome))
            return {}

    api = Api()
    assert sync_orders(api, str(state)) == 1
    assert api.acks == [("o-end", "ended: its next tool call is denied")]

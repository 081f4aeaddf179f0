"""The dashboard's store side on SQLite and PostgreSQL: users and sign-in (argon2id, the rate limit,
sessions), the live-session view and its states, the plots' data, the action record and the SVG."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from ramparts.audit.record import AuditRecord, HookDetail, from_json, to_json
from ramparts.server.batch import parse_batch
from ramparts.server.dashboard import action_record, queries, svg
from ramparts.server.dashboard.users import MAX_FAILURES, UserError, Users
from ramparts.server.store import ServerStore
from tests.server_harness import HostLog, hook_record, stamp

PASSWORD = "correct horse battery staple"
FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # real argon2id, cheaper for tests


def test_users_sign_in_and_sessions(server: ServerStore) -> None:
    users = Users(server, FAST)
    with pytest.raises(UserError):
        users.add("alice", "admin", "short")
    with pytest.raises(UserError):
        users.add("alice", "root", PASSWORD)
    with pytest.raises(UserError):
        users.add("bad name!", "admin", PASSWORD)
    users.add("alice", "admin", PASSWORD)
    users.add("victor", "viewer", PASSWORD + "!")
    assert [(n, r) for n, r, _ in users.list()] == [("alice", "admin"), ("victor", "viewer")]
    with server._tx(write=False) as tx:
        (stored,) = tx.one("SELECT hash FROM users WHERE name = 'alice'") or ("",)
    assert str(stored).startswith("$argon2id$") and PASSWORD not in str(stored)

    assert not users.login("alice", "wrong password!", "10.0.0.1").ok
    assert not users.login("nobody", PASSWORD, "10.0.0.1").ok
    good = users.login("alice", PASSWORD, "10.0.0.1")
    assert good.ok and good.user is not None and good.user.role == "admin" and good.session
    me = users.session(good.session)
    assert me is not None and me.name == "alice" and me.csrf == good.user.csrf
    assert users.session(good.session + "x") is None
    assert users.session(good.session, now=time.time() + 9 * 3600) is None  # expired
    viewer = users.login("victor", PASSWORD + "!", "10.0.0.2")
    assert viewer.user is not None and viewer.user.role == "viewer"
    users.add("alice", "viewer", PASSWORD)  # a new password or role ends the old sessions
    assert users.session(good.session) is None
    users.logout(viewer.session)
    assert users.session(viewer.session) is None
    assert users.remove("victor") and not users.remove("victor")


def test_rate_limit_per_user_and_per_address(server: ServerStore) -> None:
    users = Users(server, FAST)
    users.add("alice", "admin", PASSWORD)
    now = 1_800_000_000.0
    for i in range(MAX_FAILURES):
        assert not users.login("alice", f"guess {i} wrong", f"10.0.1.{i}", now=now).ok
    # the user is limited whatever the address, even with the right password
    limited = users.login("alice", PASSWORD, "10.0.9.9", now=now + 1)
    assert limited.limited and not limited.ok
    assert users.login("alice", PASSWORD, "10.0.9.9", now=now + 61).ok  # a minute later
    # one address guessing many names is limited too
    later = now + 600
    for i in range(MAX_FAILURES):
        assert not users.login(f"user{i}", "nope nope nope", "10.0.2.1", now=later).ok
    assert users.login("alice", PASSWORD, "10.0.2.1", now=later + 1).limited
    assert users.login("alice", PASSWORD, "10.0.2.2", now=later + 1).ok


def _ingest(server: ServerStore, log: HostLog) -> None:
    token, _ = server.create_token("host", "host-a")
    server.ingest(token, parse_batch(log.body()))


def _tainted(session: str, when: float) -> dict[str, object]:
    return to_json(  # type: ignore[no-any-return]
        AuditRecord(
            time=stamp(when),
            surface="hook",
            event="PreToolUse",
            decision="deny",
            reasons=("the session is tainted",),
            rule_ids=("session.tainted",),
            user="bob",
            host="host-a",
            session=session,
            tool="Bash",
            hook=HookDetail(cwd="/work/other", input={"command": "curl"}),
        )
    )


def test_live_sessions_states_and_plots(server: ServerStore, host: HostLog) -> None:
    now = time.time()
    for i in range(5):
        host.append(hook_record("s-live", now - 50 + i))
    host.append(hook_record("s-live", now - 10, decision="deny"))
    host.append(hook_record("s-idle", now - 4000))
    host.append(_tainted("s-taint", now - 20))
    host.append(hook_record("s-killed", now - 5))
    host.append(hook_record("s-ended", now - 5))
    host.append(hook_record("s-ending", now - 5))
    _ingest(server, host)
    server.kill("session", "s-killed", "incident", "test")
    ended = server.order_session("end", "s-ended", "incident", "test")
    server.order_applied(ended.id, "host-a", "ended")
    server.order_session("end", "s-ending", "incident", "test")  # pending: the host has not applied it
    rows = {r.session: r for r in queries._live_sessions(server, time.time() + 1000 * 0, 500)}
    assert rows["s-live"].records == 6 and rows["s-live"].last_decision == "deny"
    assert rows["s-live"].cwd == "/work/project" and rows["s-live"].user == "alice"
    assert rows["s-live"].duration == pytest.approx(40, abs=1)
    # received just now, so only the kill and the taint change the state
    assert {s: r.state for s, r in rows.items()} == {
        "s-live": "live",
        "s-idle": "live",
        "s-taint": "tainted",
        "s-killed": "killed",
        "s-ended": "ended",
        "s-ending": "live",
    }
    later = {r.session: r.state for r in queries._live_sessions(server, time.time() + 3600, 500)}
    assert later["s-live"] == "idle"
    one = queries.session_state(server, "s-taint")
    assert one is not None and one.state == "tainted" and one.user == "bob"
    assert queries.session_state(server, "nope") is None
    ended_row = queries.session_state(server, "s-ended")
    assert ended_row is not None and ended_row.state == "ended"

    hours = queries.decisions_per_hour(server, now=now + 60)
    assert len(hours) == 24 and sum(v.get("allow", 0) for _, v in hours) == 9
    assert sum(v.get("deny", 0) for _, v in hours) == 2
    assert queries.top_rules(server) == [("session.tainted", 1)]
    series = queries.rate_series(server.session_records("s-live"))
    assert [c for _, c in series] == [1, 2, 3, 4, 5, 6]
    assert queries.rate_threshold(server) == (30, 60)


def test_svg_charts_are_well_formed() -> None:
    for chart in (
        svg.rate_chart([(1.0, 1), (2.0, 5), (70.0, 2)], 30, 60),
        svg.rate_chart([], None),
        svg.hourly_chart([("2026-12-06T10", {"allow": 3, "deny": 1}), ("2026-12-06T11", {})]),
        svg.bars_chart([("rule.<x>", 3), ("b", 1)], "Top rules"),
        svg.bars_chart([], "Top rules"),
    ):
        root = ET.fromstring(chart)
        assert root.tag.endswith("svg") and root.get("role") == "img" and root.get("aria-label")
    assert "rule.&lt;x&gt;" in svg.bars_chart([("rule.<x>", 3)], "t")


def test_action_record_is_a_valid_admin_record(tmp_path: Path) -> None:
    rec = action_record(
        "alice", "admin", "kill", "127.0.0.1", target={"session": "s1"}, details={"reason": "x"}
    )
    parsed = from_json(rec)
    assert parsed.surface == "server" and parsed.event == "DashboardAction" and parsed.session == "s1"
    assert parsed.decision == "allow" and parsed.rule_ids == ("dashboard.kill",)
    assert parsed.admin is not None and parsed.admin.action == "kill"
    assert parsed.admin.details == {"reason": "x", "role": "admin", "client": "127.0.0.1"}
    failed = from_json(action_record("", "", "sign-in", "10.0.0.1", ok=False, details={"name": "mallory"}))
    assert failed.decision == "deny"


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(
    st.lists(
        st.builds(
            queries.SessionRow,
            session=_text,
            user=_text,
            host=_text,
            cwd=_text,
            started=_text,
            last=_text,
            duration=st.floats(min_value=0, max_value=1e7),
            records=st.integers(min_value=0, max_value=10**9),
            state=st.sampled_from(["live", "idle", "tainted", "killed"]),
            last_decision=st.sampled_from(["allow", "ask", "deny", ""]),
            last_tool=_text,
            last_rules=st.just(()),
        ),
        max_size=5,
    ),
    st.sampled_from(["admin", "viewer"]),
)
def test_session_rows_escape_every_value(rows: list[queries.SessionRow], role: str) -> None:
    """Whatever a host reports, the rows are exactly the expected elements: nothing it sends becomes markup."""
    from html.parser import HTMLParser

    from ramparts.server.dashboard.web import session_rows

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)

    parser = Tags()
    parser.feed(session_rows(rows, role))
    kill = sum(1 for r in rows if r.state != "killed") if role == "admin" else 0
    assert parser.tags.count("tr") == max(len(rows), 1)
    assert parser.tags.count("a") == len(rows) and parser.tags.count("button") == kill
    assert set(parser.tags) <= {"tr", "td", "a", "span", "form", "input", "button"}

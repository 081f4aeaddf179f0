"""The session store: what observe() returns and records, closing, the kill switch, taint, grants."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ramparts.errors import StoreError
from ramparts.model import OtherSession, SessionState
from ramparts.session.store import SessionStore, this_host

HOST = this_host()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SessionStore]:
    with SessionStore(tmp_path / "state" / "sessions.db") as s:
        yield s


def _see(
    store: SessionStore,
    sid: str,
    now: float,
    *,
    user: str = "alice",
    event: str = "PreToolUse",
    host: str = HOST,
    pid: int | None = None,
    cwd: str = "/work",
    others_since: float | None = None,
) -> SessionState:
    return store.observe(
        sid, user=user, host=host, cwd=cwd, now=now, event=event, pid=pid, others_since=others_since
    )


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_default_state_still_builds_from_an_id() -> None:
    state = SessionState("s1")
    assert state.session_id == "s1" and not state.registered and state.others == ()
    assert state.started is None and state.last_event is None and state.grant_until == 0.0


def test_observe_returns_the_state_before_the_event(store: SessionStore) -> None:
    first = _see(store, "s1", 100.0, event="SessionStart", pid=os.getpid())
    assert first == SessionState(session_id="s1", now=100.0, registered=True, started=100.0)
    second = _see(store, "s1", 130.0)
    assert second.started == 100.0 and second.last_event == 100.0 and second.now == 130.0
    third = _see(store, "s1", 150.0)
    assert third.last_event == 130.0
    info = store.get("s1")
    assert info is not None
    assert (info.user, info.host, info.cwd, info.pid, info.events) == ("alice", HOST, "/work", os.getpid(), 3)
    assert info.last_event == 150.0 and info.pid_start is not None
    assert store.get("nope") is None


def test_first_sight_without_session_start(store: SessionStore) -> None:
    state = _see(store, "s1", 50.0)
    assert state.registered and state.started == 50.0 and state.last_event is None
    info = store.get("s1")
    assert info is not None and info.pid is None and info.events == 1


def test_resume_keeps_started_and_records_the_new_process(store: SessionStore) -> None:
    _see(store, "s1", 100.0, event="SessionStart", pid=_dead_pid(), cwd="/a")
    _see(store, "s1", 200.0)
    state = _see(store, "s1", 300.0, event="SessionStart", pid=os.getpid(), cwd="/b")
    assert state.started == 100.0 and state.last_event == 200.0
    info = store.get("s1")
    assert info is not None and info.started == 100.0 and info.pid == os.getpid() and info.cwd == "/b"
    _see(store, "s1", 400.0, event="SessionStart")  # compact/clear without a pid keeps it
    info = store.get("s1")
    assert info is not None and info.pid == os.getpid() and info.cwd == "/work" and info.events == 4


def test_close_stops_counting_and_stays_closed(store: SessionStore) -> None:
    _see(store, "s1", 100.0)
    assert store.close("s1", 200.0, "idle for 31 minutes")
    assert not store.close("unknown", 200.0, "idle")
    state = _see(store, "s1", 300.0)
    assert state.closed == "idle for 31 minutes" and state.last_event == 100.0
    assert _see(store, "s1", 400.0, event="SessionStart").closed == "idle for 31 minutes"
    store.end("s1", 500.0)  # the first reason stands
    info = store.get("s1")
    assert info is not None and info.closed == "idle for 31 minutes" and info.events == 1
    assert info.last_event == 100.0


def test_session_end_is_reopened_by_a_resume(store: SessionStore) -> None:
    _see(store, "s1", 100.0, event="SessionStart")
    assert store.end("s1", 200.0)
    assert _see(store, "s1", 250.0).closed == "SessionEnd"
    resumed = _see(store, "s1", 300.0, event="SessionStart")
    assert resumed.closed == "" and resumed.started == 100.0 and resumed.last_event == 100.0
    assert _see(store, "s1", 310.0).last_event == 300.0


def test_others_are_earlier_live_sessions_of_the_same_user(store: SessionStore) -> None:
    _see(store, "a-old", 100.0, event="SessionStart", pid=os.getpid(), cwd="/p1")
    _see(store, "a-old", 150.0)
    _see(store, "b-tie", 200.0)
    _see(store, "a-tie", 200.0)
    _see(store, "dead", 120.0, event="SessionStart", pid=_dead_pid())
    _see(store, "remote", 130.0, event="SessionStart", pid=_dead_pid(), host="elsewhere")
    _see(store, "ended", 140.0)
    store.end("ended", 141.0)
    _see(store, "closed", 142.0)
    store.close("closed", 143.0, "max duration")
    _see(store, "killed", 144.0)
    store.kill(session_id="killed", reason="incident 7", now=145.0, by="root")
    _see(store, "bob", 50.0, user="bob")
    state = _see(store, "new", 300.0)
    assert state.others == (
        OtherSession("a-old", 100.0, 150.0, "/p1", HOST),
        OtherSession("remote", 130.0, 130.0, "/work", "elsewhere"),  # its pid cannot be checked here
        OtherSession("a-tie", 200.0, 200.0, "/work", HOST),
        OtherSession("b-tie", 200.0, 200.0, "/work", HOST),
    )
    since = _see(store, "new", 300.5, others_since=149.0).others
    assert [o.session_id for o in since] == ["a-old", "a-tie", "b-tie"]  # "remote" was last seen at 130
    # a tie: only the lower id counts as started before
    assert [o.session_id for o in _see(store, "b-tie", 301.0).others] == ["a-old", "remote", "a-tie"]
    assert [o.session_id for o in _see(store, "a-old", 302.0).others] == []


def test_a_new_session_of_the_same_agent_process_ends_the_old_one(store: SessionStore) -> None:
    # `/clear` starts a new session id in the same claude process; the old id never sends SessionEnd
    _see(store, "before-clear", 100.0, event="SessionStart", pid=os.getpid())
    _see(store, "other-process", 110.0, event="SessionStart", pid=os.getppid())
    _see(store, "before-clear", 150.0)
    state = _see(store, "after-clear", 200.0, event="SessionStart", pid=os.getpid())
    old = store.get("before-clear")
    assert old is not None and old.closed == "replaced by session after-clear in the same agent process"
    other = store.get("other-process")
    assert other is not None and other.closed == ""  # another process's session is left alone
    assert [o.session_id for o in state.others] == ["other-process"]
    # resuming the old conversation in that process reopens it and ends the newer one in turn
    assert _see(store, "before-clear", 300.0, event="SessionStart", pid=os.getpid()).closed == ""
    newer = store.get("after-clear")
    assert newer is not None and newer.closed.startswith("replaced by session before-clear")
    # a SessionStart without a pid (the ancestry could not be read) ends nothing
    _see(store, "no-pid", 400.0, event="SessionStart")
    again = store.get("before-clear")
    assert again is not None and again.closed == ""


def test_others_skip_a_reused_pid(store: SessionStore, tmp_path: Path) -> None:
    _see(store, "old", 100.0, event="SessionStart", pid=os.getpid())
    assert [o.session_id for o in _see(store, "new", 200.0).others] == ["old"]
    db = sqlite3.connect(tmp_path / "state" / "sessions.db")
    db.execute("UPDATE sessions SET pid_start = pid_start + 1 WHERE id = 'old'")
    db.commit()
    db.close()
    assert _see(store, "new", 201.0).others == ()


def test_session_kill_and_lift(store: SessionStore) -> None:
    _see(store, "s1", 100.0)
    _see(store, "s2", 100.0)
    assert store.kill(session_id="s1", reason="incident 42", now=1_700_000_000.0, by="root") == ["s1"]
    killed = _see(store, "s1", 200.0).killed
    assert "incident 42" in killed and "root" in killed and "2023-11-14T22:13:20Z" in killed
    assert "this session" in killed
    assert _see(store, "s2", 200.0).killed == ""
    assert store.lift(session_id="s1") and not store.lift(session_id="s1")
    assert _see(store, "s1", 300.0).killed == ""
    # an order for an id not seen yet stands when it shows up
    assert store.kill(session_id="later", reason="x", now=1.0, by="root") == []
    assert _see(store, "later", 400.0).killed.startswith("x (kill switch")


def test_user_and_all_kills_are_standing_orders(store: SessionStore) -> None:
    _see(store, "a1", 100.0)
    _see(store, "a2", 110.0, event="SessionStart", pid=_dead_pid())
    _see(store, "b1", 120.0, user="bob")
    store.close("a1", 130.0, "idle")
    _see(store, "a3", 140.0)
    assert store.kill(user="alice", reason="laptop stolen", now=150.0, by="sec") == ["a3"]
    new = _see(store, "a4", 160.0)
    assert "laptop stolen" in new.killed and "user alice" in new.killed and new.others == ()
    assert _see(store, "b1", 170.0, user="bob").killed == ""
    assert "user alice" in _see(store, "b1", 171.0, user="alice").killed  # either user counts
    assert "user alice" in _see(store, "a3", 172.0, user="bob").killed
    assert store.kill(all_sessions=True, reason="global stop", now=180.0, by="sec") == ["b1", "a3", "a4"]
    assert "global stop" in _see(store, "b2", 190.0, user="bob").killed
    assert "laptop stolen" in _see(store, "a3", 191.0).killed  # the more specific order is quoted
    assert [o.scope for o in store.orders()] == ["user", "all"]
    assert store.lift(all_sessions=True)
    assert _see(store, "b2", 200.0, user="bob").killed == ""
    assert store.lift(user="alice")
    assert _see(store, "a3", 210.0).killed == ""
    with pytest.raises(ValueError, match="exactly one"):
        store.kill(user="alice", all_sessions=True, reason="x", now=1.0, by="x")
    with pytest.raises(ValueError, match="exactly one"):
        store.lift()


def test_taint_and_clear(store: SessionStore) -> None:
    _see(store, "s1", 100.0)
    assert store.taint("s1", "injection in WebFetch result (0.97)", 110.0)
    assert store.taint("s1", "second", 120.0)
    assert not store.taint("nope", "x", 120.0)
    assert _see(store, "s1", 130.0).tainted == "injection in WebFetch result (0.97)"
    assert store.clear_taint("s1") and not store.clear_taint("s1") and not store.clear_taint("nope")
    assert _see(store, "s1", 140.0).tainted == ""


def test_grant(store: SessionStore) -> None:
    _see(store, "s1", 100.0)
    assert store.grant("s1", 1000.0, "alice", 100.0)
    assert _see(store, "s1", 200.0).grant_until == 1000.0
    assert not store.grant("nope", 1000.0, "alice", 100.0)
    with pytest.raises(ValueError):
        store.grant("s1", 50.0, "alice", 100.0)
    store.close("s1", 300.0, "idle")
    assert not store.grant("s1", 1000.0, "alice", 300.0)


def test_list(store: SessionStore) -> None:
    _see(store, "live", 100.0, event="SessionStart", pid=os.getpid())
    _see(store, "gone", 110.0, event="SessionStart", pid=_dead_pid())
    _see(store, "closed", 120.0)
    store.close("closed", 130.0, "idle")
    _see(store, "tainted", 140.0, user="bob")
    store.taint("tainted", "injection", 141.0)
    store.kill(user="bob", reason="r", now=142.0, by="root")
    live = store.list()
    assert [s.id for s in live] == ["live", "tainted"]
    assert live[1].tainted == "injection" and "r (kill switch for user bob" in live[1].killed
    assert [s.id for s in store.list(live_only=False)] == ["live", "gone", "closed", "tainted"]


def test_errors_are_store_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot open session store"):
        SessionStore(tmp_path / "file" / "sessions.db")
    (tmp_path / "junk.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError):
        SessionStore(tmp_path / "junk.db")
    with SessionStore(tmp_path / "ok.db") as store, pytest.raises(StoreError, match="session id"):
        store.observe("", user="a", host="h", cwd="/", now=1.0, event="PreToolUse")


def test_write_failure_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    with SessionStore(path) as store:
        store.observe("s1", user="a", host="h", cwd="/", now=1.0, event="PreToolUse")
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with SessionStore(path, busy_timeout_ms=100) as other, pytest.raises(StoreError, match="locked"):
                other.observe("s1", user="a", host="h", cwd="/", now=2.0, event="PreToolUse")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()


def _observer(path: str, worker: int, calls: int, out: str) -> None:
    seen = []
    with SessionStore(path, busy_timeout_ms=20000) as store:
        for i in range(calls):
            now = 1000.0 + worker * 1000 + i
            state = store.observe("shared", user="u", host="h", cwd="/", now=now, event="PreToolUse")
            store.observe(f"own-{worker}", user="u", host="h", cwd="/", now=now, event="PreToolUse")
            seen.append([now, state.last_event])
    Path(out).write_text(json.dumps(seen))


def test_concurrent_observers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    SessionStore(path).close_db()
    ctx = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"out-{w}.json" for w in range(8)]
    procs = [ctx.Process(target=_observer, args=(str(path), w, 50, str(outs[w]))) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with SessionStore(path) as store:
        shared = store.get("shared")
        assert shared is not None and shared.events == 400
        for w in range(8):
            own = store.get(f"own-{w}")
            assert own is not None and own.events == 50 and own.last_event == 1000.0 + w * 1000 + 49
    # Each event saw the one before it: the (now, previous) pairs form a single chain.
    pairs = [tuple(p) for out in outs for p in json.loads(out.read_text())]
    previous = [prev for _, prev in pairs]
    assert previous.count(None) == 1
    assert len({prev for prev in previous if prev is not None}) == 399
    nows = {now for now, _ in pairs}
    assert {prev for prev in previous if prev is not None} <= nows
    assert shared.last_event in nows and shared.last_event not in previous

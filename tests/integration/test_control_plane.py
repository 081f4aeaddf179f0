"""The control plane end to end: a real ``ramparts server``, two simulated hosts (two state directories,
each with its own ``ramparts agent``) whose hooks run as the real ``ramparts hook`` command.

* a burst of 45 tool calls in a minute is blocked automatically and alerted; a calm session is untouched;
* a kill given from one host stops a session on the other within seconds;
* the same on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ramparts
from ramparts.server.store import ServerStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SRC = str(Path(ramparts.__file__).resolve().parents[1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPARTS_SERVER")}
    env["PYTHONPATH"] = SRC
    env.update(extra)
    return env


def _ramparts(*args: str) -> list[str]:
    return [sys.executable, "-m", "ramparts", *args]


class Host:
    def __init__(self, root: Path, name: str, url: str, token: str, policy: Path) -> None:
        self.state = root / name / "state"
        self.project = root / name / "project"
        self.project.mkdir(parents=True)
        (self.project / "app.py").write_text("print('hi')\n")
        self.env = _env(RAMPARTS_SERVER=url, RAMPARTS_SERVER_TOKEN=token, USER=f"dev-{name}")
        self.policy = policy
        self.agent = subprocess.Popen(
            _ramparts(
                "agent",
                "--state-dir",
                str(self.state),
                "--policy",
                str(policy),
                "--interval",
                "0.2",
                "--exit-after",
                "240",
            ),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the agent has fetched the kill orders once: before that, a hook under fail_closed that
        cannot fetch them within its own timeout (a loaded machine) denies, as it should."""
        deadline = time.monotonic() + timeout
        while not (self.state / "server-orders.json").exists():
            assert self.agent.poll() is None, "the agent exited"
            assert time.monotonic() < deadline, "the agent never fetched the kill orders"
            time.sleep(0.1)

    def call(
        self, session: str, user: str = "", tool: str = "Glob", tool_input: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One PreToolUse through the real hook command; the hook's answer. (One live session per user
        is the baseline's limit: another session of the same host runs as another user.)"""
        payload = {
            "session_id": session,
            "transcript_path": "/tmp/t.jsonl",
            "cwd": str(self.project),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": tool,
            "tool_input": tool_input or {"pattern": "*.py"},
            "tool_use_id": f"toolu_{uuid.uuid4().hex[:8]}",
        }
        proc = subprocess.run(
            _ramparts("hook", "--policy", str(self.policy), "--state-dir", str(self.state)),
            input=json.dumps(payload).encode(),
            capture_output=True,
            env=dict(self.env, USER=user) if user else self.env,
            timeout=30,
            check=False,
        )
        out = json.loads(proc.stdout)["hookSpecificOutput"]
        return {"decision": out["permissionDecision"], "reason": out.get("permissionDecisionReason", "")}

    def stop(self) -> str:
        self.agent.terminate()
        try:
            _, err = self.agent.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.agent.kill()
            _, err = self.agent.communicate()
        return err.decode(errors="replace")


@pytest.fixture(params=["sqlite", "postgres"])
def plane(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    if request.param == "sqlite":
        db = str(tmp_path / "server" / "server.db")
    else:
        pg = request.getfixturevalue("postgres_server")
        db = f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{pg.database}?schema=cp_{uuid.uuid4().hex[:10]}"
    with ServerStore(db) as store:
        tokens = {
            "a": store.create_token("host", "host-a")[1],
            "b": store.create_token("host", "host-b")[1],
            "admin": store.create_token("admin", "security-team")[1],
        }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        _ramparts(
            "server", "--listen", f"127.0.0.1:{port}", "--db", db, "--state-dir", str(tmp_path / "server")
        ),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                    assert json.load(r) == {"status": "ok"}
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        policy = tmp_path / "ramparts.yaml"
        policy.write_text(
            "version: 1\nextends: baseline\nserver:\n  cache_seconds: 1\n  unreachable: fail_closed\n"
        )
        hosts = {
            "a": Host(tmp_path, "a", url, tokens["a"], policy),
            "b": Host(tmp_path, "b", url, tokens["b"], policy),
        }
        for h in hosts.values():
            h.wait_ready()
        yield {"url": url, "tokens": tokens, "hosts": hosts, "db": db, "tmp": tmp_path}
        for h in hosts.values():
            h.stop()
    finally:
        server.terminate()
        try:
            server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def test_burst_blocked_kill_reaches_the_other_host(plane: dict[str, Any]) -> None:
    a, b = plane["hosts"]["a"], plane["hosts"]["b"]
    burst = f"burst-{uuid.uuid4().hex[:6]}"
    calm = f"calm-{uuid.uuid4().hex[:6]}"

    # a burst of 45 tool calls on host a, in well under a minute
    started = time.monotonic()
    answers = [a.call(burst) for _ in range(45)]
    assert time.monotonic() - started < 60
    decisions = [x["decision"] for x in answers]
    first_deny = decisions.index("deny")  # raises if the burst was never stopped
    assert first_deny >= 30, answers[first_deny]  # 30 calls a minute are within the rule
    assert set(decisions[first_deny:]) == {"deny"}, decisions
    assert first_deny == 30 and "rate.tool_calls (enforced by the hook)" in answers[first_deny]["reason"]
    # the server's automatic kill order reaches the host too (from then on it stops the session)
    deadline = time.monotonic() + 10
    while "central kill switch" not in (answer := a.call(burst))["reason"]:
        assert time.monotonic() < deadline, answer
    assert answer["decision"] == "deny" and "behaviour rule rate.tool_calls" in answer["reason"]

    # a calm session on host b is untouched
    for _ in range(5):
        assert b.call(calm)["decision"] == "allow"
        time.sleep(0.2)

    # the alert, read by a person with an admin token
    admin_env = dict(b.env, RAMPARTS_SERVER_TOKEN=plane["tokens"]["admin"])
    out = subprocess.run(
        _ramparts("alerts", "--json", "--state-dir", str(b.state)),
        env=admin_env,
        capture_output=True,
        timeout=30,
        check=True,
    )
    alerts = json.loads(out.stdout)
    rate = [x for x in alerts if x["rule"] == "rate.tool_calls"]
    assert [(x["session"], x["severity"], x["response"], x["host"]) for x in rate] == [
        (burst, "high", "kill", "host-a")
    ]
    assert not [x for x in alerts if x["session"] == calm]
    watch = subprocess.run(
        _ramparts("watch", "--once", "--state-dir", str(b.state)),
        env=admin_env,
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout.decode()
    sessions_part = watch.split("LATEST ALERTS", 1)[0]
    (burst_line,) = [line for line in sessions_part.splitlines() if burst in line]
    assert "killed" in burst_line and "dev-a" in burst_line
    assert any(calm in line and "live" in line for line in sessions_part.splitlines())
    assert "rate.tool_calls" in watch.split("LATEST ALERTS", 1)[1]

    # a kill given on host b stops a session that runs on host a, within seconds
    target = f"target-{uuid.uuid4().hex[:6]}"
    assert a.call(target, user="dev-a2")["decision"] == "allow"
    subprocess.run(
        _ramparts("kill", "--session", target, "--reason", "incident 4711", "--state-dir", str(b.state)),
        env=admin_env,
        capture_output=True,
        timeout=30,
        check=True,
    )
    given = time.monotonic()
    while True:
        answer = a.call(target, user="dev-a2")
        if answer["decision"] == "deny":
            break
        assert time.monotonic() - given < 10, "the kill did not reach host a"
    assert time.monotonic() - given < 5
    assert "incident 4711" in answer["reason"]
    assert b.call(calm)["decision"] == "allow"  # the order names one session

    # the records reached the server, from both hosts' logs, verified
    with ServerStore(plane["db"]) as store:
        hosts = {log.host: log for log in store.logs()}
        assert set(hosts) == {"host-a", "host-b"}
        assert all(log.state == "ok" for log in hosts.values())
        assert len(store.session_records(burst)) >= 40


def test_host_token_cannot_kill_and_revoked_token_gets_401(plane: dict[str, Any]) -> None:
    from ramparts.server.client import Client, ServerError

    host = Client(plane["url"], plane["tokens"]["a"])
    with pytest.raises(ServerError) as info:
        host.kill("all", "", "x")
    assert info.value.status == 403
    assert host.kills() == []
    with ServerStore(plane["db"]) as store:
        (token,) = [t for t in store.tokens() if t.name == "host-b"]
        store.revoke_token(token.id)
    with pytest.raises(ServerError) as info:
        Client(plane["url"], plane["tokens"]["b"]).request("POST", "/v1/ingest", {"log_id": "x", "items": []})
    assert info.value.status == 401


def test_malformed_batch_gets_400_naming_the_field(plane: dict[str, Any]) -> None:
    from ramparts.server.client import Client, ServerError
    from tests.server_harness import HostLog, hook_record

    log = HostLog(plane["tmp"] / "forged")
    for i in range(3):
        log.append(hook_record("s-forged", time.time() + i))
    head, _, tail = log.body().rpartition(b'"decision":"allow"')
    log.close()
    body = head + b'"decision":"perhaps"' + tail
    with pytest.raises(ServerError) as info:
        Client(plane["url"], plane["tokens"]["a"]).request("POST", "/v1/ingest", body)
    assert info.value.status == 400
    assert "items[2].record" in str(info.value)
    with ServerStore(plane["db"]) as store:
        assert store.session_records("s-forged") == []


def test_a_burst_is_stopped_by_the_hook_while_the_server_is_down(tmp_path: Path) -> None:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\nserver:\n  unreachable: last_known\n  timeout_seconds: 0.2\n"
    )
    host = Host(tmp_path, "offline", f"http://127.0.0.1:{_free_port()}", "rpt_unused", policy)
    try:
        decisions = [host.call("offline-burst") for _ in range(33)]
    finally:
        host.stop()
    assert [d["decision"] for d in decisions] == ["allow"] * 30 + ["deny"] * 3
    assert "31 tool calls in 60 s (limit 30)" in decisions[30]["reason"]


def test_an_ask_is_answered_by_a_person_through_the_server(plane: dict[str, Any]) -> None:
    import threading

    from ramparts.server.client import Client

    policy = plane["tmp"] / "remote.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\nhook: {deadline_ms: 30000, timeout: 40}\n"
        "server:\n  approvals: remote\n  approval_timeout_seconds: 20\n"
    )
    host = Host(plane["tmp"], "asker", plane["url"], plane["tokens"]["a"], policy)
    host.wait_ready()
    admin = Client(plane["url"], plane["tokens"]["admin"])
    answers: list[str] = []

    def approver(verdict: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = [a for a in admin.approvals() if a["state"] == "pending"]
            if pending:
                answers.append(admin.decide(pending[0]["id"], verdict, f"{verdict} by the on-call")["state"])
                return
            time.sleep(0.2)

    make = {"command": "make build", "description": "d"}
    try:
        for verdict in ("allow", "deny"):
            thread = threading.Thread(target=approver, args=(verdict,))
            thread.start()
            answer = host.call(f"ask-{verdict}", user=f"dev-{verdict}", tool="Bash", tool_input=make)
            thread.join()
            assert answer["decision"] == verdict, answer
            verb = "approved" if verdict == "allow" else "refused"
            assert (
                f"{verb} by security-team" in answer["reason"]
                and f"{verdict} by the on-call" in answer["reason"]
            )
        assert answers == ["allow", "deny"]
        (request,) = [a for a in admin.approvals() if a["session"] == "ask-allow"]
        assert (
            request["tool"] == "Bash" and "make build" in request["summary"] and request["host"] == "host-a"
        )
    finally:
        host.stop()


def test_only_a_remote_rule_asks_the_server(plane: dict[str, Any]) -> None:
    """``ask: remote`` on one ask rule: its ask waits for an approver; another rule's ask stays local."""
    import threading

    from ramparts.server.client import Client

    policy = plane["tmp"] / "per-rule.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\nhook: {deadline_ms: 30000, timeout: 40}\n"
        "server:\n  approval_timeout_seconds: 20\npermissions:\n  ask:\n"
        "    - {rule: 'Bash(make deploy *)', id: deploy.prod, ask: remote}\n"
        "    - 'Bash(make build *)'\n    - 'Bash(* --force)'\n"
    )
    host = Host(plane["tmp"], "per-rule", plane["url"], plane["tokens"]["a"], policy)
    host.wait_ready()
    admin = Client(plane["url"], plane["tokens"]["admin"])
    seen: list[dict[str, Any]] = []

    def approver() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            pending = [a for a in admin.approvals() if a["state"] == "pending"]
            if pending:
                seen.append(pending[0])
                admin.decide(pending[0]["id"], "allow", "release window")
                return
            time.sleep(0.2)

    try:
        local = host.call("rule-local", user="dev-local", tool="Bash", tool_input={"command": "make build x"})
        assert local["decision"] == "ask" and "through the control plane" not in local["reason"]
        assert not admin.approvals()  # a local rule's ask never reaches the server
        thread = threading.Thread(target=approver)
        thread.start()
        deploy = {"command": "make deploy prod", "description": "d"}
        answer = host.call("rule-remote", user="dev-remote", tool="Bash", tool_input=deploy)
        thread.join()
        assert answer["decision"] == "allow", answer
        assert "approved by security-team" in answer["reason"] and "(release window)" in answer["reason"]
        assert seen[0]["session"] == "rule-remote" and "Bash(make deploy *)" in seen[0]["reasons"]
        thread = threading.Thread(target=approver)  # both rules: the approver's yes leaves the local ask
        thread.start()
        forced = {"command": "make deploy prod --force", "description": "d"}
        answer = host.call("rule-both", user="dev-both", tool="Bash", tool_input=forced)
        thread.join()
        assert answer["decision"] == "ask" and "approved by security-team" in answer["reason"], answer
        assert seen[1]["session"] == "rule-both"
    finally:
        host.stop()


def test_a_remote_rule_without_a_server_denies(tmp_path: Path) -> None:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\npermissions:\n  ask:\n"
        "    - {rule: 'Bash(make deploy *)', id: deploy.prod, ask: remote}\n"
    )
    state = tmp_path / "state"
    payload = {
        "session_id": "no-server",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(tmp_path),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "make deploy prod"},
        "tool_use_id": "toolu_1",
    }
    proc = subprocess.run(
        _ramparts("hook", "--policy", str(policy), "--state-dir", str(state)),
        input=json.dumps(payload).encode(),
        capture_output=True,
        env=_env(),
        timeout=30,
        check=False,
    )
    out = json.loads(proc.stdout)["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny"
    assert (
        "rule deploy.prod asks a remote approver and no control plane is configured"
        in (out["permissionDecisionReason"])
    )

"""Session orders with the real claude CLI: while a session runs, an admin grants it re-auth through the
control plane, and the host's ``ramparts agent`` applies the grant, so the hook allows the step-up call it
asked about a moment before; then an end order, and the session's next tool call is denied with the
order's reason. The scripted model gives each order from inside the conversation and waits until the
control plane shows it applied."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ramparts.agents.claude_code.install import render
from ramparts.policy.compile import hook_command, managed_settings
from ramparts.policy.load import load_policy
from ramparts.server.client import Client
from ramparts.server.store import ServerStore
from ramparts.testing import RecordedRequest, ScriptedModelServer, Step, ToolUse, run_claude
from ramparts.up import Stack, free_port, hook_python

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

STEP_UP = {"command": "git ls-remote http://example.invalid/repo.git", "description": "list the remote"}


class Order:
    """A scenario step: give the order for the running session, wait until a host applied it, then make
    the tool call."""

    def __init__(self, api: Client, kind: str, then: ToolUse) -> None:
        self.api, self.kind, self.then = api, kind, then
        self.order: dict[str, Any] = {}

    def __call__(self, request: RecordedRequest) -> ToolUse | str:
        deadline = time.monotonic() + 30
        sessions: list[dict[str, Any]] = []
        while not sessions and time.monotonic() < deadline:  # the hook's records reach it through the agent
            sessions = self.api.sessions()
            time.sleep(0.2)
        if not sessions:
            return "no session reached the control plane"
        given = self.api.order_session(self.kind, str(sessions[0]["session"]), "incident 9 from the API", 10)
        while time.monotonic() < deadline:
            if given["id"] not in {o["id"] for o in self.api.session_orders()}:
                self.order = given
                return self.then
            time.sleep(0.2)
        return f"the {self.kind} order was never applied"


def test_orders_reach_a_running_claude_session(claude_bin: Path, tmp_path: Path) -> None:
    server_dir, hooks = tmp_path / "server", tmp_path / "hooks"
    project, home = tmp_path / "project", tmp_path / "home"
    for folder in (server_dir, hooks, project):
        folder.mkdir(mode=0o700)
    with ServerStore.open(str(server_dir)) as store:
        _, host_token = store.create_token("host", "host-a")
        _, admin_token = store.create_token("admin", "security-team")
    policy_file = tmp_path / "ramparts.yaml"
    policy_file.write_text("version: 1\nextends: baseline\n")
    policy = load_policy(str(policy_file))
    command = hook_command(
        str(policy_file), str(hooks), python=hook_python(tmp_path), deadline_ms=policy.hook.deadline_ms
    )
    settings = tmp_path / "settings.json"
    settings.write_bytes(render(managed_settings(policy, command=command)))

    stack = Stack(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    to_server = {"RAMPARTS_SERVER": url, "RAMPARTS_SERVER_TOKEN": host_token}
    try:
        server = stack.spawn(
            "server", ["server", "--listen", f"127.0.0.1:{port}", "--state-dir", str(server_dir)]
        )
        stack.wait_line(server, r"(listening on)")
        stack.spawn(
            "agent", ["agent", "--interval", "0.3", "--state-dir", str(hooks)], stack.env(**to_server)
        )
        api = Client(url, admin_token, timeout=5)
        grant = Order(api, "reauth", ToolUse("Bash", STEP_UP))
        end = Order(api, "end", ToolUse("Bash", {"command": "ls", "description": "list"}))
        scenario: list[Step] = [ToolUse("Bash", STEP_UP), grant, end, "done"]
        with ScriptedModelServer(scenario) as model:
            run = run_claude(
                "List the remote, then the files.",
                claude_bin=claude_bin,
                cwd=project,
                home=home,
                base_url=model.url,
                settings=settings,
                extra_env=to_server,
                timeout=150,
            )
            results = [model.tool_result(i) for i in range(3)]
        assert run.returncode == 0, run.stderr[-2000:]
        asked, granted, ended = results
        assert asked is not None and asked.is_error and "sensitive operation" in asked.content, asked
        assert grant.order and end.order, (grant.order, end.order)
        # granted: the hook let git run (it fails on its own: the host does not resolve)
        assert granted is not None and "Ramparts" not in granted.content, granted
        assert "example.invalid" in granted.content, granted
        assert ended is not None and ended.is_error, ended
        assert "incident 9 from the API (ended through the control plane by security-team" in ended.content
        with ServerStore.open(str(server_dir)) as store:
            applied = store.session_orders()
        assert [(o.kind, o.state, o.applied_by.split(" ")[0]) for o in applied] == [
            ("reauth", "applied", "host-a"),
            ("end", "applied", "host-a"),
        ]
    finally:
        stack.stop()

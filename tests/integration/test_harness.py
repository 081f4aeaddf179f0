"""The test harness itself, proven against the real Claude Code CLI (no Ramparts involved)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ramparts.testing import (
    ClaudeRun,
    ClaudeRunTimeoutError,
    ScriptedModelServer,
    Step,
    ToolUse,
    run_claude,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

CANARY = "RAMPARTS-CANARY-7f3a91c2e4"
ECHO_SCENARIO: list[Step] = [
    ToolUse("Bash", {"command": "echo hello-from-bash", "description": "x"}),
    "all done",
]
DENY_OUTPUT = {
    "hookSpecificOutput": {
        "hookEventName": "PreToolUse",
        "permissionDecision": "deny",
        "permissionDecisionReason": "nope-by-test",
    }
}


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def deny_hook(tmp_path: Path) -> Path:
    """A PreToolUse command hook that logs its stdin and denies every call."""
    script = tmp_path / "deny-hook.sh"
    log = tmp_path / "hook-input.jsonl"
    script.write_text(
        f"#!/bin/sh\ncat >> '{log}'\necho >> '{log}'\necho '{json.dumps(DENY_OUTPUT)}'\nexit 0\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def hooks_block(script: Path) -> dict[str, Any]:
    handler = {"type": "command", "command": str(script), "onFailure": "block", "timeout": 30}
    return {"PreToolUse": [{"matcher": "*", "hooks": [handler]}]}


def run(
    claude_bin: Path,
    tmp_path: Path,
    server: ScriptedModelServer,
    settings: dict[str, Any] | None = None,
    **kwargs: Any,
) -> ClaudeRun:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    settings_file = write_json(tmp_path / "settings.json", settings) if settings is not None else None
    result = run_claude(
        "Do the task.",
        claude_bin=claude_bin,
        cwd=project,
        home=tmp_path / "home",
        base_url=server.url,
        settings=settings_file,
        timeout=45,
        **kwargs,
    )
    assert result.returncode == 0, result.stderr
    assert result.result() is not None, result.stdout
    return result


# --------------------------------------------------------------------------- the fake server alone


def http(method: str, url: str, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_server_non_streaming_scenario_and_side_routes() -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    with ScriptedModelServer([ToolUse("Bash", {"command": "ls"}), "bye"]) as server:
        base = server.url
        turn0 = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": tools}
        status, body = http("POST", f"{base}/v1/messages?beta=true", turn0)
        assert status == 200
        message = json.loads(body)
        assert message["stop_reason"] == "tool_use"
        assert message["content"] == [
            {"type": "tool_use", "id": "toolu_ramparts_000", "name": "Bash", "input": {"command": "ls"}}
        ]
        # A retry of the same turn gets the same answer.
        assert json.loads(http("POST", f"{base}/v1/messages", turn0)[1])["content"][0]["id"] == (
            "toolu_ramparts_000"
        )
        result_block = {"type": "tool_result", "tool_use_id": "toolu_ramparts_000", "content": "a.txt"}
        turn1 = {
            **turn0,
            "messages": [
                *turn0["messages"],
                {"role": "assistant", "content": message["content"]},
                {"role": "user", "content": [result_block]},
            ],
        }
        message1 = json.loads(http("POST", f"{base}/v1/messages", turn1)[1])
        assert (message1["stop_reason"], message1["content"][0]["text"]) == ("end_turn", "bye")
        side = json.loads(http("POST", f"{base}/v1/messages", {"model": "m", "messages": []})[1])
        assert side["content"][0]["type"] == "text"
        assert json.loads(http("POST", f"{base}/v1/messages/count_tokens", turn0)[1])["input_tokens"] > 0
        assert http("HEAD", f"{base}/api/hello")[0] == 200
        assert http("GET", f"{base}/")[0] == 200
        status, body = http("GET", f"{base}/nope")
        assert status == 404
        assert json.loads(body)["error"]["type"] == "not_found_error"

        assert len(server.main_requests()) == 3
        assert server.tool_results()[0].content == "a.txt"
        assert server.tool_result(0) is not None
        assert "a.txt" in server.all_text()
    with pytest.raises(RuntimeError):
        _ = server.url


def test_server_streams_sse_events_in_order() -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    with ScriptedModelServer([ToolUse("Bash", {"command": "ls"})]) as server:
        turn0 = {
            "model": "m",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
            "tools": tools,
        }
        status, body = http("POST", f"{server.url}/v1/messages?beta=true", turn0)
    assert status == 200
    events = [line[len("event: ") :] for line in body.decode().splitlines() if line.startswith("event: ")]
    assert events == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert '"partial_json":"{\\"command\\": \\"ls\\"}"' in body.decode()
    assert '"stop_reason":"tool_use"' in body.decode()


# --------------------------------------------------------------------------- the real CLI


def test_allowed_bash_runs_and_its_output_reaches_the_model(claude_bin: Path, tmp_path: Path) -> None:
    settings = {"permissions": {"allow": ["Bash(echo *)"]}}
    with ScriptedModelServer(ECHO_SCENARIO) as server:
        result = run(claude_bin, tmp_path, server, settings)

    told = server.tool_result(0)
    assert told is not None
    assert "hello-from-bash" in told.content
    assert not told.is_error
    assert result.permission_denials() == []
    assert [u["name"] for u in result.tool_uses()] == ["Bash"]
    assert result.tool_results()[0].content == told.content
    final = result.result()
    assert final is not None
    assert final["result"] == "all done"
    # Hermetic: offline, no warm-up HEAD (non-essential traffic off), every request is an agent turn.
    assert [r.route for r in server.requests] == ["/v1/messages", "/v1/messages"]
    assert all(r.headers.get("x-api-key") for r in server.requests)


@pytest.mark.parametrize("where", ["nowhere", "flag", "user"])
def test_settings_allow_rule_is_honoured(claude_bin: Path, tmp_path: Path, where: str) -> None:
    # `echo` is read-only and auto-approved; `touch` needs a rule, so it shows which settings file is read.
    rule = {"permissions": {"allow": ["Bash(touch *)"]}}
    if where == "user":  # $CLAUDE_CONFIG_DIR/settings.json
        (tmp_path / "home" / ".claude").mkdir(parents=True)
        write_json(tmp_path / "home" / ".claude" / "settings.json", rule)
    allowed = where != "nowhere"
    scenario: list[Step] = [ToolUse("Bash", {"command": "touch made-by-bash", "description": "x"}), "ok"]
    with ScriptedModelServer(scenario) as server:
        result = run(claude_bin, tmp_path, server, rule if where == "flag" else None)
    assert (tmp_path / "project" / "made-by-bash").exists() is allowed
    assert bool(result.permission_denials()) is not allowed


@pytest.mark.parametrize("managed_only_key", [False, True], ids=["plain", "with-allowManagedHooksOnly"])
def test_pretooluse_deny_hook_keeps_file_from_model(
    claude_bin: Path, tmp_path: Path, managed_only_key: bool
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    secret = project / "notes.txt"
    secret.write_text(f"the secret is {CANARY}\n", encoding="utf-8")
    settings: dict[str, Any] = {"hooks": hooks_block(deny_hook(tmp_path))}
    if managed_only_key:
        # Managed-only key: outside managed policy it is ignored, so the flag-file hook still runs.
        settings["allowManagedHooksOnly"] = True
    scenario: list[Step] = [ToolUse("Read", {"file_path": str(secret)}), "all done"]
    with ScriptedModelServer(scenario) as server:
        result = run(claude_bin, tmp_path, server, settings)

    assert CANARY not in server.all_text()
    told = server.tool_result(0)
    assert told is not None
    assert told.is_error
    assert "nope-by-test" in told.content
    assert [d["tool_name"] for d in result.permission_denials()] == ["Read"]
    hook_inputs = [
        json.loads(line) for line in (tmp_path / "hook-input.jsonl").read_text().splitlines() if line
    ]
    assert hook_inputs[0]["tool_name"] == "Read"
    assert hook_inputs[0]["tool_use_id"] == "toolu_ramparts_000"


def test_read_without_hook_leaks_canary(claude_bin: Path, tmp_path: Path) -> None:
    """Control for the test above: without the hook the canary does reach the model."""
    project = tmp_path / "project"
    project.mkdir()
    secret = project / "notes.txt"
    secret.write_text(f"the secret is {CANARY}\n", encoding="utf-8")
    with ScriptedModelServer([ToolUse("Read", {"file_path": str(secret)}), "all done"]) as server:
        run(claude_bin, tmp_path, server, {})
    assert CANARY in server.all_text()
    told = server.tool_result(0)
    assert told is not None and CANARY in told.content


def test_disable_bypass_in_settings_file_downgrades_bypass_mode(claude_bin: Path, tmp_path: Path) -> None:
    settings = {"permissions": {"disableBypassPermissionsMode": "disable"}}
    scenario: list[Step] = [ToolUse("Bash", {"command": "touch made-by-bash", "description": "x"}), "ok"]
    with ScriptedModelServer(scenario) as server:
        result = run(
            claude_bin,
            tmp_path,
            server,
            settings,
            extra_args=["--permission-mode", "bypassPermissions"],
            extra_env={"IS_SANDBOX": "1"},  # root may use bypass mode only with this
        )
    init = result.system_init()
    assert init is not None and init["permissionMode"] == "default"
    assert not (tmp_path / "project" / "made-by-bash").exists()
    assert result.permission_denials()


def test_timeout_kills_the_whole_process_group(claude_bin: Path, tmp_path: Path) -> None:
    script = tmp_path / "slow-hook.sh"
    script.write_text(f"#!/bin/sh\necho $$ > '{tmp_path / 'hook.pid'}'\nexec sleep 60\n", encoding="utf-8")
    script.chmod(0o755)
    settings = write_json(tmp_path / "settings.json", {"hooks": hooks_block(script)})
    (tmp_path / "project").mkdir()
    server = ScriptedModelServer([ToolUse("Bash", {"command": "echo hi"})])
    with server, pytest.raises(ClaudeRunTimeoutError):
        run_claude(
            "Do the task.",
            claude_bin=claude_bin,
            cwd=tmp_path / "project",
            home=tmp_path / "home",
            base_url=server.url,
            settings=settings,
            timeout=4,
        )
    hook_pid = int((tmp_path / "hook.pid").read_text())
    stat = Path(f"/proc/{hook_pid}/stat")
    # Gone, or a zombie awaiting a reaper: in both cases no longer running.
    assert not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z"

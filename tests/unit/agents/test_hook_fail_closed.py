"""The hook fails closed: every malformed, oversized or broken case ends in a deny with exit code 2.

These run the hook the way Claude Code does: a fresh process of the installed command line,
the event on stdin. Reliability catalogue D1-D3 (../shared/reference/reliability-tests.md §7 D).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ramparts.audit.store import AuditStore
from ramparts.testing import audit_records

GOOD = {
    "session_id": "11111111-2222-3333-4444-555555555555",
    "transcript_path": "/tmp/t.jsonl",
    "cwd": "/tmp",
    "prompt_id": "p1",
    "permission_mode": "default",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "ls -la", "description": "list"},
    "tool_use_id": "toolu_01",
}


def _payload(**changes: Any) -> bytes:
    data = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\nhook: {deadline_ms: 1500, timeout: 5}\n")
    return {"policy": policy, "state": tmp_path / "state", "tmp": tmp_path}


def hook_cmd(policy: Path, state: Path, *extra: str) -> list[str]:
    """The command line `ramparts compile` installs."""
    return [
        sys.executable,
        "-I",
        "-m",
        "ramparts",
        "hook",
        "--policy",
        str(policy),
        "--state-dir",
        str(state),
        *extra,
    ]


def run_hook(
    stdin: bytes, policy: Path, state: Path, timeout: float = 20
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        hook_cmd(policy, state), input=stdin, capture_output=True, timeout=timeout, check=False
    )


def assert_denied(proc: subprocess.CompletedProcess[bytes], expect: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    output = json.loads(proc.stdout)
    if "hookSpecificOutput" in output:
        spec = output["hookSpecificOutput"]
        assert spec["permissionDecision"] == "deny"
        reason = spec["permissionDecisionReason"]
    else:
        assert output["decision"] == "block"
        reason = output["reason"]
    assert expect in reason, reason
    assert expect in proc.stderr.decode(), proc.stderr


CASES: list[tuple[str, bytes, str]] = [
    ("empty stdin", b"", "hook input is empty"),
    ("whitespace only", b"  \n", "hook input is empty"),
    ("not JSON", b"{not json", "not valid JSON"),
    ("JSON array", b"[1, 2]", "not a JSON object"),
    ("JSON string", b'"PreToolUse"', "not a JSON object"),
    ("byte-order mark", b"\xef\xbb\xbf" + _payload(), "byte-order mark"),
    ("invalid UTF-8", _payload()[:-2] + b"\xff\xfe}", "not valid UTF-8"),
    ("raw NUL byte", _payload().replace(b"ls -la", b"ls \x00-la"), "not valid JSON"),
    ("missing tool_name", _payload(tool_name=...), "'tool_name'"),
    ("tool_name not a string", _payload(tool_name=7), "'tool_name'"),
    ("tool_input not an object", _payload(tool_input="ls"), "'tool_input'"),
    ("Bash without command", _payload(tool_input={"description": "x"}), "'command'"),
    ("Read without file_path", _payload(tool_name="Read", tool_input={}), "'file_path'"),
    ("unknown event", _payload(hook_event_name="PreToolUsed"), "unknown hook event"),
    ("missing event name", _payload(hook_event_name=...), "'hook_event_name'"),
    ("missing session_id", _payload(session_id=...), "'session_id'"),
    ("relative cwd", _payload(cwd="tmp"), "not an absolute path"),
    ("PostToolUse without tool_response", _payload(hook_event_name="PostToolUse"), "tool_response"),
    ("UserPromptSubmit without prompt", _payload(hook_event_name="UserPromptSubmit"), "prompt"),
]


@pytest.mark.parametrize(("name", "stdin", "expect"), CASES, ids=[c[0] for c in CASES])
def test_malformed_input_denies(env: dict[str, Any], name: str, stdin: bytes, expect: str) -> None:
    proc = run_hook(stdin, env["policy"], env["state"])
    assert_denied(proc, expect)
    with AuditStore(env["state"] / "audit.db") as store:
        last = store.tail(1)[0].data()
    assert last["decision"] == "deny"
    assert last["rule_ids"] == ["hook.error"]


def test_user_prompt_error_blocks_with_top_level_decision(env: dict[str, Any]) -> None:
    proc = run_hook(_payload(hook_event_name="UserPromptSubmit"), env["policy"], env["state"])
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["decision"] == "block"


def test_oversized_input_denies(env: dict[str, Any]) -> None:
    env["policy"].write_text("version: 1\nhook: {max_input_bytes: 65536}\n")
    big = _payload(tool_input={"command": "echo " + "A" * 200_000})
    assert_denied(run_hook(big, env["policy"], env["state"]), "65536 bytes")


def test_very_large_input_denies_within_deadline(env: dict[str, Any]) -> None:
    big = b'{"x": "' + b"A" * (70 * 1024 * 1024) + b'"}'
    start = time.monotonic()
    proc = run_hook(big, env["policy"], env["state"])
    assert_denied(proc, "larger than")
    assert time.monotonic() - start < 10


def test_policy_missing_denies(env: dict[str, Any]) -> None:
    assert_denied(run_hook(_payload(), env["tmp"] / "nope.yaml", env["state"]), "policy file not found")


def test_policy_broken_yaml_denies_with_position(env: dict[str, Any]) -> None:
    env["policy"].write_text("version: 1\npermissions:\n  deny: [Bash(x *)\n")
    proc = run_hook(_payload(), env["policy"], env["state"])
    assert_denied(proc, "YAML syntax error")
    assert "ramparts.yaml:" in proc.stderr.decode()


def test_policy_unknown_key_denies(env: dict[str, Any]) -> None:
    env["policy"].write_text("version: 1\npermisions: {}\n")
    assert_denied(run_hook(_payload(), env["policy"], env["state"]), "unknown key 'permisions'")


def test_policy_bad_rule_denies(env: dict[str, Any]) -> None:
    env["policy"].write_text("version: 1\npermissions: {deny: ['Bash(git push']}\n")
    assert_denied(run_hook(_payload(), env["policy"], env["state"]), "does not end with ')'")


def test_policy_edited_to_broken_after_cache_denies(env: dict[str, Any]) -> None:
    assert run_hook(_payload(), env["policy"], env["state"]).returncode == 0
    env["policy"].write_text("version: 2\n")
    assert_denied(run_hook(_payload(), env["policy"], env["state"]), "version")


def test_unwritable_state_denies(env: dict[str, Any]) -> None:
    blocker = env["tmp"] / "file"
    blocker.write_text("not a directory")
    assert_denied(run_hook(_payload(), env["policy"], blocker / "state"), "Not a directory")


def test_corrupt_audit_store_denies(env: dict[str, Any]) -> None:
    env["state"].mkdir()
    (env["state"] / "audit.db").write_bytes(b"this is not a database" * 100)
    assert_denied(run_hook(_payload(), env["policy"], env["state"]), "audit store")


@pytest.mark.parametrize("args", [["--no-such-flag"], ["--deadline-ms", "abc"], ["--deadline-ms", "5"]])
def test_invalid_command_line_denies(env: dict[str, Any], args: list[str]) -> None:
    cmd = [sys.executable, "-I", "-m", "ramparts", "hook", *args]
    proc = subprocess.run(cmd, input=_payload(), capture_output=True, timeout=20, check=False)
    assert_denied(proc, "command line is invalid")


def test_policy_error_is_answered_in_the_events_own_shape(env: dict[str, Any]) -> None:
    missing = env["tmp"] / "missing.yaml"
    proc = run_hook(_payload(hook_event_name="UserPromptSubmit", prompt="hi"), missing, env["state"])
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {"decision": "block", "reason": json.loads(proc.stdout)["reason"]}
    proc = run_hook(_payload(hook_event_name="SessionStart", source="startup"), missing, env["state"])
    assert proc.returncode == 2 and json.loads(proc.stdout)["continue"] is False


def test_stdin_that_never_ends_denies_at_deadline(env: dict[str, Any]) -> None:
    cmd = hook_cmd(env["policy"], env["state"], "--deadline-ms", "700")
    start = time.monotonic()
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        proc.stdin.write(b'{"session_id": "s", ')
        proc.stdin.flush()
        out, err = _wait(proc)
        elapsed = time.monotonic() - start
    assert proc.returncode == 2
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert b"deadline" in err
    assert elapsed < 5
    # the deny given at the deadline is in the audit trail too (issue 16)
    [record] = audit_records(env["state"])
    assert record.rule_ids == ("hook.deadline",) and record.decision == "deny"
    assert record.hook is not None and record.hook.deadline


def _wait(proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    assert proc.stdout is not None and proc.stderr is not None
    proc.wait(timeout=15)
    return proc.stdout.read(), proc.stderr.read()


def test_sigterm_denies(env: dict[str, Any]) -> None:
    cmd = hook_cmd(env["policy"], env["state"])
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        time.sleep(0.6)  # let it start and block on stdin
        proc.send_signal(signal.SIGTERM)
        out, _err = _wait(proc)
    assert proc.returncode == 2
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_internal_exception_denies(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import ramparts.engine
    from ramparts.agents.claude_code.hook import Hook

    def boom(*args: object) -> None:
        raise RuntimeError("injected failure")

    monkeypatch.setattr(ramparts.engine, "decide", boom)
    out, err = io.StringIO(), io.StringIO()
    hook = Hook(
        policy=str(env["policy"]),
        state=str(env["state"]),
        stdin=io.BytesIO(_payload()),
        stdout=out,
        stderr=err,
    )
    assert hook.run() == 2
    assert json.loads(out.getvalue())["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "internal error: RuntimeError: injected failure" in err.getvalue()


def test_audit_write_failure_denies(env: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from ramparts.agents.claude_code.hook import Hook
    from ramparts.errors import StoreError

    def fail(self: object, record: object) -> None:
        raise StoreError("disk full (injected)")

    monkeypatch.setattr(AuditStore, "append", fail)
    out, err = io.StringIO(), io.StringIO()
    hook = Hook(
        policy=str(env["policy"]),
        state=str(env["state"]),
        stdin=io.BytesIO(_payload()),
        stdout=out,
        stderr=err,
    )
    assert hook.run() == 2
    assert (
        "disk full (injected)" in json.loads(out.getvalue())["hookSpecificOutput"]["permissionDecisionReason"]
    )


def test_good_input_allows_and_records_before_answering(env: dict[str, Any]) -> None:
    proc = run_hook(_payload(), env["policy"], env["state"])
    assert proc.returncode == 0, proc.stderr
    spec = json.loads(proc.stdout)["hookSpecificOutput"]
    assert spec == {
        "hookEventName": "PreToolUse",
        "permissionDecision": "allow",
        "permissionDecisionReason": spec["permissionDecisionReason"],
    }
    with AuditStore(env["state"] / "audit.db") as store:
        record = store.tail(1)[0].data()
    assert record["decision"] == "allow"
    assert record["tool"] == "Bash"
    assert record["hook"]["input"]["command"] == "ls -la"
    assert record["rule_ids"] == ["allow:Bash(ls *)"]
    assert f"[decision {record['decision_id']}]" in spec["permissionDecisionReason"]
    assert len(record["decision_id"]) == 24


def test_no_error_path_exits_zero_or_one(env: dict[str, Any]) -> None:
    """Mutation guard: every error case above exits 2, and the good case 0; never 1."""
    codes = {run_hook(stdin, env["policy"], env["state"]).returncode for _, stdin, _ in CASES[:6]}
    assert codes == {2}
    assert os.path.exists(env["state"] / "audit.db")


def test_unknown_events_get_the_generic_block_shape(env: dict[str, Any]) -> None:
    proc = run_hook(_payload(hook_event_name="Stop"), env["policy"], env["state"])
    assert proc.returncode == 2
    output = json.loads(proc.stdout)
    assert output["decision"] == "block" and "unknown hook event 'Stop'" in output["reason"]


def test_hook_that_cannot_import_denies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ramparts import cli

    monkeypatch.setitem(sys.modules, "ramparts.agents.claude_code.hook", None)
    assert cli._hook([]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "the hook cannot start" in err


def test_watchdog_without_sigalrm_uses_a_timer_thread(env: dict[str, Any]) -> None:
    """Windows has no SIGALRM: the timer-thread watchdog must still deny at the deadline."""
    code = (
        "import sys; import ramparts.agents.claude_code.hook as h; h._HAS_ALARM = False; "
        "from ramparts.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    cmd = [
        sys.executable,
        "-I",
        "-c",
        code,
        "hook",
        "--policy",
        str(env["policy"]),
        "--state-dir",
        str(env["state"]),
        "--deadline-ms",
        "500",
    ]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        out, err = _wait(proc)
    assert proc.returncode == 2
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert b"deadline of 500 ms" in err


@pytest.mark.parametrize(
    ("tool", "tool_input", "rule"),
    [
        ("Bash", {"command": "echo x >> {state}/audit.db"}, "self:Edit(//{state_s}/**)"),
        ("Bash", {"command": "rm -f {state}/audit.db"}, "self:Edit(//{state_s}/**)"),
        ("Write", {"file_path": "{policy}", "content": "version: 1\n"}, "self:Edit(//{policy_s})"),
        ("Read", {"file_path": "{state}/keys/fingerprint.key"}, "self:Read(//{state_s}/keys/**)"),
        (
            "Edit",
            {"file_path": "/tmp/p/.claude/settings.json", "old_string": "", "new_string": ""},
            "self:Edit(**/.claude/settings.json)",
        ),
    ],
)
def test_the_agent_cannot_touch_ramparts_own_files(
    env: dict[str, Any], tool: str, tool_input: dict[str, str], rule: str
) -> None:
    state, policy = str(env["state"]), str(env["policy"].resolve())
    names = {"state": state, "policy": policy, "state_s": state.strip("/"), "policy_s": policy.strip("/")}
    filled = {k: v.format(**names) for k, v in tool_input.items()}
    proc = run_hook(_payload(tool_name=tool, tool_input=filled), env["policy"], env["state"])
    assert proc.returncode == 0
    spec = json.loads(proc.stdout)["hookSpecificOutput"]
    assert spec["permissionDecision"] == "deny", spec
    assert rule.format(**names) in spec["permissionDecisionReason"]


def test_audit_record_never_holds_secrets_or_free_text(env: dict[str, Any]) -> None:
    secret = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
    payloads = [
        _payload(tool_input={"command": f"curl -H 'Authorization: Bearer {secret}' https://x"}),
        _payload(tool_name="Write", tool_input={"file_path": "/tmp/a", "content": f"TOKEN={secret}"}),
        _payload(tool_name="Agent", tool_input={"prompt": f"use {secret} please", "subagent_type": "x"}),
        _payload(hook_event_name="UserPromptSubmit", prompt=f"my key is {secret}"),
        _payload(hook_event_name="PostToolUse", tool_response={"stdout": secret}),
    ]
    for payload in payloads:
        proc = run_hook(payload, env["policy"], env["state"])
        assert secret not in proc.stdout.decode() + proc.stderr.decode()
    with AuditStore(env["state"] / "audit.db") as store:
        bodies = [r.body for r in store.records()]
    assert len(bodies) == len(payloads)
    assert all(secret not in body for body in bodies)
    assert "please" not in bodies[2]

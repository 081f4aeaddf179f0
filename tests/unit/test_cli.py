"""The ramparts command line: policy init/check, compile, install, explain, audit tail/verify."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ramparts.cli import main
from ramparts.policy.compile import hook_launcher


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_policy_init_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ramparts.yaml"
    assert run(capsys, "policy", "init", "--profile", "strict", str(path))[0] == 0
    assert "extends: strict" in path.read_text()
    assert run(capsys, "policy", "init", str(path))[0] == 1  # refuses to overwrite
    code, out, _ = run(capsys, "policy", "check", str(path))
    assert code == 0 and "ok (revision" in out and "0 warning(s)" in out


def test_policy_check_reports_position_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\npermissions:\n  deny:\n    - Bash(git:push:*)\n    - Write(./src/**)\n")
    code, out, _ = run(capsys, "policy", "check", str(path))
    assert code == 0
    assert f"warning: {path}:4: Bash(git:push:*): a colon inside a Bash rule is literal" in out
    assert f"warning: {path}:5: Write(./src/**)" in out
    assert run(capsys, "policy", "check", "--strict", str(path))[0] == 1
    path.write_text("version: 1\npermissions:\n  deny:\n    - Bash(git push\n")
    code, _, err = run(capsys, "policy", "check", str(path))
    assert code == 1 and f"error: {path}:4:7:" in err


def test_policy_from_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAMPARTS_POLICY", "profile:strict")
    _code, out, _ = run(capsys, "explain", "--json", "Bash", "ls")
    assert json.loads(out)["decision"] == "ask"


def test_policy_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "schema")
    assert code == 0 and json.loads(out)["title"] == "Ramparts policy"


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "explain", "--policy", "profile:baseline", "Bash", "git push --force origin main"
    )
    assert code == 0
    assert out.startswith("decision: DENY")
    assert "Bash(git push * main)" in out and "git.push_force" in out and "steps:" in out
    code, out, _ = run(capsys, "explain", "--policy", "profile:baseline", "--json", "Read", ".env")
    data = json.loads(out)
    assert data["decision"] == "deny" and "sensitive:Read:.env" in data["rules"]
    assert set(data) == {"decision", "reasons", "rules"}


def test_explain_jsonl(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lines = [
        {"tool_name": "Bash", "tool_input": {"command": "sudo ls"}, "cwd": str(tmp_path)},
        {"tool_name": "Bash", "tool_input": {"command": "ls"}, "cwd": str(tmp_path)},
        {"tool_name": "Read", "tool_input": {"file_path": str(tmp_path / ".env")}},
        "not an object",
        {"tool_name": "Bash", "tool_input": {}},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{broken\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    _code, out, _ = run(capsys, "explain", "--policy", "profile:baseline", "--jsonl")
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a["decision"] for a in answers] == ["deny", "allow", "deny", "deny", "deny", "deny"]
    assert answers[4]["rules"] == ["input.invalid"]


def test_compile_and_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "ramparts.yaml"
    run(capsys, "policy", "init", str(policy))
    code, out, _ = run(capsys, "compile", "--policy", str(policy), "--state-dir", str(tmp_path / "st"))
    settings = json.loads(out)
    command = settings["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert f"--policy {policy}" in command and f"--state-dir {tmp_path / 'st'}" in command
    assert f" -I -S {hook_launcher()} hook " in command
    root = tmp_path / "root"
    args = [
        "install",
        "--scope",
        "managed",
        "--root",
        str(root),
        "--policy",
        str(policy),
        "--state-dir",
        str(tmp_path),
    ]
    assert run(capsys, *args)[0] == 0
    target = root / "etc" / "claude-code" / "managed-settings.json"
    assert json.loads(target.read_text())["allowManagedHooksOnly"] is True
    target.write_text("{}")
    code, _, err = run(capsys, *args)
    assert code == 1 and "refusing to overwrite" in err
    assert run(capsys, *args, "--force")[0] == 0
    user = [
        "install",
        "--scope",
        "user",
        "--root",
        str(root),
        "--policy",
        str(policy),
        "--state-dir",
        str(tmp_path),
    ]
    assert run(capsys, *user)[0] == 0
    assert (root / ".claude" / "settings.json").exists()


def _commands(settings: dict[str, Any]) -> set[str]:
    return {h["command"] for entries in settings["hooks"].values() for e in entries for h in e["hooks"]}


def test_compiled_settings_use_the_resident_client_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """compile and install write the resident hook's client, wrapping the plain hook command (its
    fallback); --no-resident or hook.resident: false write the plain command; the flag wins."""
    from ramparts.agents.claude_code import hook_client

    policy = tmp_path / "ramparts.yaml"
    run(capsys, "policy", "init", str(policy))
    base = ["--policy", str(policy), "--state-dir", str(tmp_path / "st")]
    client = os.path.join(os.path.dirname(os.path.realpath(hook_client.__file__)), "run_hook_client.py")

    def compiled(*extra: str, path: Path = policy) -> set[str]:
        code, out, err = run(capsys, "compile", *base[:1], str(path), *base[2:], *extra)
        assert code == 0, err
        return _commands(json.loads(out))

    (resident,) = compiled()
    assert resident.startswith(f"{sys.executable} -I -S {client} --wait-ms ")
    (plain,) = compiled("--no-resident")
    assert "hook_client" not in plain and f" -I -S {hook_launcher()} hook " in plain
    assert resident.endswith(" -- " + plain)  # the fallback is exactly the plain hook command
    assert compiled("--resident") == {resident}
    opted_out = tmp_path / "cold.yaml"
    opted_out.write_text(policy.read_text().replace("hook:\n", "hook:\n  resident: false\n", 1))
    assert compiled(path=opted_out) == {plain.replace(str(policy), str(opted_out))}
    assert compiled("--resident", path=opted_out) == {resident.replace(str(policy), str(opted_out))}
    root = tmp_path / "root"
    assert run(capsys, "install", "--scope", "managed", "--root", str(root), *base)[0] == 0
    installed = json.loads((root / "etc" / "claude-code" / "managed-settings.json").read_text())
    assert _commands(installed) == {resident}
    assert run(capsys, "install", "--scope", "user", "--root", str(root), *base, "--no-resident")[0] == 0
    assert _commands(json.loads((root / ".claude" / "settings.json").read_text())) == {plain}
    # Windows has no Unix sockets for the client: the plain command, unless asked for
    win = ["install", "--scope", "managed", "--platform", "win32", "--root", str(tmp_path / "win"), *base]
    target = tmp_path / "win" / "Program Files" / "ClaudeCode" / "managed-settings.json"
    assert run(capsys, *win)[0] == 0
    assert _commands(json.loads(target.read_text())) == {plain}
    assert run(capsys, *win, "--resident", "--force")[0] == 0
    assert _commands(json.loads(target.read_text())) == {resident}


def test_installed_hook_command_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command written into the settings really works as a shell command, from any cwd."""
    policy = tmp_path / "ramparts.yaml"
    run(capsys, "policy", "init", str(policy))
    _, out, _ = run(
        capsys, "compile", "--policy", str(policy), "--state-dir", str(tmp_path / "st"), "--no-resident"
    )
    command = json.loads(out)["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert "hook_client.py" not in command  # the plain hook (the resident client: test_hook_resident.py)
    evil = tmp_path / "repo"
    (evil / "ramparts").mkdir(parents=True)
    (evil / "ramparts" / "__init__.py").write_text(
        "raise SystemExit(0)\n"
    )  # a repo trying to shadow the hook
    event = {
        "session_id": "s",
        "cwd": str(evil),
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "git push"},
    }
    proc = subprocess.run(
        command,
        shell=True,
        input=json.dumps(event),
        capture_output=True,
        text=True,
        cwd=evil,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_audit_tail_and_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    assert run(capsys, "audit", "verify", "--state-dir", str(state))[0] == 2  # no store: bad input
    for command in ("ls", "git push origin main"):
        event = {
            "session_id": "s",
            "cwd": str(tmp_path),
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": command},
        }
        proc = subprocess.run(
            [
                sys.executable,
                "-I",
                "-m",
                "ramparts",
                "hook",
                "--policy",
                "profile:baseline",
                "--state-dir",
                str(state),
            ],
            input=json.dumps(event),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert proc.returncode == 0
    code, out, _ = run(capsys, "audit", "tail", "--state-dir", str(state))
    assert code == 0 and "ALLOW 'ls'" in out and "DENY 'git push origin main'" in out
    code, out, _ = run(capsys, "audit", "verify", "--state-dir", str(state))
    assert code == 0 and "OK: 2/2 records valid" in out
    db = sqlite3.connect(state / "audit.db")
    db.execute("UPDATE records SET body = replace(body, '\"deny\"', '\"allow\"') WHERE seq = 1")
    db.commit()
    db.close()
    code, out, _ = run(capsys, "audit", "verify", "--state-dir", str(state))
    assert code == 1 and "record 1: INVALID: modified" in out


def test_compile_without_state_dir_leaves_it_per_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAMPARTS_STATE_DIR", raising=False)
    _, out, _ = run(capsys, "compile", "--policy", "profile:baseline")
    command = json.loads(out)["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    assert "--state-dir" not in command and "--policy profile:baseline" in command


def test_mcp_policy_compiles_into_claude_code_keys_and_managed_mcp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\nmcp:\n  managed_only: true\n  denied: [shady]\n  servers:\n"
        "    github: {tools: [get_issue]}\n"
        "    docs:\n      approval: true\n      managed: {type: stdio, command: /opt/mcp/docs, args: [--ro]}\n"
    )
    code, out, _ = run(
        capsys, "compile", "--policy", str(policy), "--mcp-output", str(tmp_path / "managed-mcp.json")
    )
    assert code == 0
    settings = json.loads(out)
    assert settings["allowedMcpServers"] == [{"serverName": "github"}, {"serverName": "docs"}]
    assert settings["deniedMcpServers"] == [{"serverName": "shady"}]
    assert settings["allowManagedMcpServersOnly"] is True
    managed = json.loads((tmp_path / "managed-mcp.json").read_text())
    assert managed == {
        "mcpServers": {"docs": {"type": "stdio", "command": "/opt/mcp/docs", "args": ["--ro"]}}
    }
    root = tmp_path / "root"
    assert run(capsys, "install", "--scope", "managed", "--root", str(root), "--policy", str(policy))[0] == 0
    assert (root / "etc" / "claude-code" / "managed-mcp.json").exists()
    baseline = tmp_path / "base.yaml"
    baseline.write_text("version: 1\nextends: baseline\n")
    code, out, _ = run(capsys, "compile", "--policy", str(baseline))
    assert json.loads(out)["allowedMcpServers"] == []  # default deny: no server may load
    code, _, err = run(capsys, "compile", "--policy", str(baseline), "--mcp-output", str(tmp_path / "x.json"))
    assert code == 1 and "no managed MCP servers" in err
    open_mcp = tmp_path / "open.yaml"
    open_mcp.write_text("version: 1\nmcp: {default: allow}\n")
    code, out, _ = run(capsys, "compile", "--policy", str(open_mcp))
    assert "allowedMcpServers" not in json.loads(out)


def test_explain_without_an_installed_policy_uses_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAMPARTS_POLICY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing-here"))
    monkeypatch.setattr("ramparts._locations.SYSTEM_POLICY", str(tmp_path / "absent.yaml"))
    code, out, err = run(
        capsys, "explain", "--state-dir", str(tmp_path / "st"), "Bash", "git push origin main"
    )
    assert code == 0 and out.startswith("decision: DENY") and "using profile:baseline" in err


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to own files for others"
)
def test_root_hands_state_files_back_to_the_users_state_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    code, _, _ = run(capsys, "kill", "--user", "alice", "--reason", "incident", "--state-dir", str(state))
    assert code == 0
    created = [p for p in state.rglob("*")]
    assert created and all(p.lstat().st_uid == nobody.pw_uid for p in created)

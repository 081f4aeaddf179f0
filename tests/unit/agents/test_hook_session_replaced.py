"""`/clear` starts a new session id in the same claude process: through the real hook command, the new
session's SessionStart ends the old one, so `max_concurrent: 1` does not lock the user out; a session of
another process is refused, naming the blocking session and the command that ends it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.session.store import SessionStore

SRC = str(Path(__file__).resolve().parents[3] / "src")


@pytest.fixture
def agents() -> Iterator[list[int]]:
    """Two live processes standing in for two claude processes (their pids and start times are real)."""
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _hook(tmp_path: Path, agent: int, event: dict[str, Any]) -> dict[str, Any]:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\nhook: {deadline_ms: 5000, timeout: 10}\n")
    base = {"transcript_path": "", "cwd": str(tmp_path), "permission_mode": "default"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ramparts",
            "hook",
            "--policy",
            str(policy),
            "--state-dir",
            str(tmp_path / "s"),
        ],
        input=json.dumps({**base, **event}).encode(),
        capture_output=True,
        timeout=30,
        check=False,
        env=dict(os.environ, PYTHONPATH=SRC, CLAUDE_PID=str(agent)),
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout) if proc.stdout.strip() else {}
    return out


def _start(session: str) -> dict[str, Any]:
    return {"hook_event_name": "SessionStart", "session_id": session, "source": "startup"}


def _bash(session: str) -> dict[str, Any]:
    return {
        "hook_event_name": "PreToolUse",
        "session_id": session,
        "tool_name": "Bash",
        "tool_input": {"command": "ls", "description": "list"},
        "tool_use_id": "toolu_1",
    }


def _decision(answer: dict[str, Any]) -> tuple[str, str]:
    spec = answer.get("hookSpecificOutput", {})
    return spec.get("permissionDecision", "allow"), spec.get("permissionDecisionReason", "")


def test_clear_in_the_same_process_ends_the_old_session(tmp_path: Path, agents: list[int]) -> None:
    first, second = agents
    _hook(tmp_path, first, _start("before-clear"))
    assert _decision(_hook(tmp_path, first, _bash("before-clear")))[0] == "allow"
    _hook(tmp_path, first, {**_start("after-clear"), "source": "clear"})
    assert _decision(_hook(tmp_path, first, _bash("after-clear")))[0] == "allow"  # not locked out
    with SessionStore(tmp_path / "s" / "sessions.db") as store:
        old = store.get("before-clear")
    assert old is not None and old.closed == "replaced by session after-clear in the same agent process"
    # another claude process of the same user is a second live session: refused, with the way out
    _hook(tmp_path, second, _start("elsewhere"))
    verdict, reason = _decision(_hook(tmp_path, second, _bash("elsewhere")))
    assert verdict == "deny" and "session after-clear" in reason
    assert "`ramparts session end after-clear`" in reason

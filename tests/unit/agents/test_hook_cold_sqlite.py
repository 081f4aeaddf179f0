"""A cold ``ramparts hook`` leaves its SQLite files open at exit while their write-ahead logs are small
(issue 21): closing the last connection checkpoints and deletes the log (five syncs), and the next
hook creates it again and syncs the folder. Each decision must still be durable and in the verified
chain, and a log past the bound is checkpointed and emptied.

These run the command line as Claude Code does (a fresh ``python -I`` process ending in ``os._exit``),
with the source tree under test first on the path (``-I`` ignores PYTHONPATH).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import ramparts
from ramparts.agents.claude_code.hook import KEEP_WAL_BYTES
from ramparts.audit.store import AuditStore
from ramparts.testing import audit_records

SRC = str(Path(ramparts.__file__).resolve().parent.parent)
BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'ramparts'; from ramparts.cli import main; main()"
EVENT = {
    "session_id": "6d1c0e2a-5b7f-4a93-8e21-0c4f9b3d7e58",
    "transcript_path": "/tmp/t.jsonl",
    "cwd": "/tmp",
    "permission_mode": "default",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "ls -la"},
    "tool_use_id": "toolu_1",
}


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    return {"policy": policy, "state": tmp_path / "state"}


def _hook(paths: dict[str, Path], event: dict[str, object] | None = None) -> None:
    argv = [sys.executable, "-I", "-c", BOOT, SRC, "hook", "--policy", str(paths["policy"])]
    argv += ["--state-dir", str(paths["state"])]
    proc = subprocess.run(
        argv, input=json.dumps(event or EVENT).encode(), capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    if event is None:
        assert json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"


def _verified(state: Path) -> int:
    with AuditStore(state / "audit.db") as store:
        count, problems = store.verify()
    assert problems == []
    return count


def test_cold_hooks_keep_the_log_and_every_record(paths: dict[str, Path]) -> None:
    for n in range(1, 4):
        _hook(paths)
        wal = paths["state"] / "audit.db-wal"
        # left open: the log is still there, holding this run's commit (a closed store deletes it)
        assert wal.exists() and 0 < wal.stat().st_size < KEEP_WAL_BYTES
        assert (paths["state"] / "sessions.db-wal").exists()
        records = audit_records(paths["state"])  # durable: a fresh reader recovers every record
        assert len(records) == n and all(r.tool == "Bash" for r in records)
    assert _verified(paths["state"]) == 3


def test_a_large_log_is_checkpointed_and_emptied(paths: dict[str, Path]) -> None:
    _hook(paths)
    wal = paths["state"] / "audit.db-wal"
    with wal.open("ab") as handle:  # past the bound; zero bytes are not a valid frame, so nothing changes
        handle.write(b"\0" * KEEP_WAL_BYTES)
    _hook(paths)
    assert not wal.exists() or wal.stat().st_size == 0  # closed: checkpointed, the log deleted
    assert len(audit_records(paths["state"])) == 2
    assert _verified(paths["state"]) == 2
    _hook(paths)  # and the next one starts a fresh log, left open again
    assert wal.exists() and 0 < wal.stat().st_size < KEEP_WAL_BYTES
    assert len(audit_records(paths["state"])) == 3


def test_the_session_end_leaves_no_log_behind(paths: dict[str, Path]) -> None:
    for _ in range(2):
        _hook(paths)
    assert (paths["state"] / "audit.db-wal").exists()  # kept open between the session's events
    end = {k: v for k, v in EVENT.items() if not k.startswith("tool")}
    _hook(paths, {**end, "hook_event_name": "SessionEnd", "reason": "exit"})
    for name in ("audit.db", "sessions.db"):
        wal = paths["state"] / f"{name}-wal"
        assert not wal.exists() or wal.stat().st_size == 0, name  # checkpointed, the log deleted
    records = audit_records(paths["state"])
    assert [r.event for r in records] == ["PreToolUse", "PreToolUse", "SessionEnd"]
    assert _verified(paths["state"]) == 3

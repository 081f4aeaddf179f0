"""What the resident hook-server keeps off a request's path (issue 21): garbage collection happens between
requests, over the objects the last request left (the warm server's are frozen), and the check for
changed code runs between requests and while idle (woken by inotify on Linux, not every second), so an
upgrade stops an idle server by itself.

The server runs from a copy of the source tree under test (``-I`` ignores PYTHONPATH; the copy is what
the test changes to play an upgrade), in its own process, as ``ramparts hook-server``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import ramparts
from ramparts.testing import audit_records

SRC = Path(ramparts.__file__).resolve().parent
BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from ramparts.cli import main; sys.exit(main())"
EVENT = {
    "session_id": "2f8a6c14-9b3e-4d70-a1c5-6e0d7b2f9a38",
    "transcript_path": "/tmp/t.jsonl",
    "cwd": "/tmp",
    "permission_mode": "default",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "ls -la"},
    "tool_use_id": "toolu_1",
}


TIDY = """
import gc, sys
from ramparts.agents.claude_code import hook_server
hook_server.REFREEZE_EVERY = 3
server = hook_server.Server(policy="profile:baseline", state=sys.argv[1])

class Cycle:
    def __init__(self):
        self.me = self

Cycle()  # garbage that only a collection frees
server._tidy()
frozen = gc.get_freeze_count()
assert frozen > 0
assert not any(type(o) is Cycle for o in gc.get_objects())  # collected before the freeze
server._tidy()
assert gc.get_freeze_count() >= frozen  # the survivors join the frozen set
server._tidy()  # the third: unfreeze, one full collection, freeze again
assert server._since_full == 0 and gc.get_freeze_count() > 0
print("ok")
"""


def test_tidy_collects_then_freezes_and_sometimes_starts_over(tmp_path: Path) -> None:
    """In a process of its own: the freeze count is the whole interpreter's, and other tests' servers
    (threads in a test worker) would move it."""
    done = subprocess.run(
        [sys.executable, "-c", TIDY, str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC.parent)},
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr[-2000:]


def _wakeups(pid: int) -> int:
    """How often the process's main thread has gone to sleep and been woken (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches")


def _settled(pid: int) -> int:
    """The wake-up count once it has stayed put for longer than the server's quiet moment (when it loads
    its faster scoring paths, once), at most 30 s."""
    from ramparts.agents.claude_code.hook_server import SPEED_UP_AFTER

    last = _wakeups(pid)
    for _ in range(int(30 / (SPEED_UP_AFTER + 1.0))):
        time.sleep(SPEED_UP_AFTER + 1.0)
        now = _wakeups(pid)
        if now == last:
            return now
        last = now
    return last


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package: playing an upgrade must not touch the real source."""
    root = tmp_path / "src"
    shutil.copytree(SRC, root / "ramparts", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_an_idle_server_stops_by_itself_after_an_upgrade(tmp_path: Path, tree: Path) -> None:
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    state = tmp_path / "state"
    hook = [
        sys.executable,
        "-I",
        "-c",
        BOOT,
        str(tree),
        "hook",
        "--policy",
        str(policy),
        "--state-dir",
        str(state),
    ]
    server = subprocess.Popen(
        [*hook[:5], "hook-server", *hook[6:], "--idle-exit", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sock = state / "hook.sock"
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        client = tree / "ramparts" / "agents" / "claude_code" / "run_hook_client.py"
        answer = subprocess.run(
            [sys.executable, "-I", "-S", str(client), "--no-start", "--", *hook],
            input=json.dumps(EVENT).encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert answer.returncode == 0, answer.stderr
        assert json.loads(answer.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
        assert len(audit_records(state)) == 1
        assert server.poll() is None  # still serving, idle
        if sys.platform.startswith("linux"):  # asleep: no wake-up a second to look at the files
            before = _settled(server.pid)  # after the first request's one-off work (the scorer's fast paths)
            time.sleep(3.5)
            assert _wakeups(server.pid) - before <= 1
        changed = tree / "ramparts" / "engine.py"
        os.utime(changed, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))  # an upgrade, as mtime sees it
        assert server.wait(timeout=20) == 0  # no request needed: the idle loop saw it
        assert not sock.exists()  # so the next client runs the full hook and starts a fresh server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

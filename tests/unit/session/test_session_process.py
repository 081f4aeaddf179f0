"""Process helpers, on process trees these tests start themselves (and only those are signalled)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ramparts
from ramparts.session import process
from ramparts.session.process import agent_pid, descendants, pid_alive, process_start, terminate_tree

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


@pytest.fixture
def tree() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started trees, each in its own process group; whatever survives a test is killed by group."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _start(tree: list[subprocess.Popen[bytes]], script: str, children: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["/bin/sh", "-c", script], start_new_session=True)
    tree.append(proc)
    deadline = time.monotonic() + 10
    while len(descendants(proc.pid)) < children:
        assert time.monotonic() < deadline, "the test tree did not start"
        time.sleep(0.02)
    return proc


def test_terminate_tree_ends_every_process(tree: list[subprocess.Popen[bytes]]) -> None:
    proc = _start(tree, "sleep 60 & sleep 60", 2)
    below = descendants(proc.pid)
    signalled = terminate_tree(proc.pid, grace=5.0)
    assert signalled[0] == proc.pid and set(below) <= set(signalled)
    assert proc.wait(5) == -signal.SIGTERM
    assert not any(pid_alive(p) for p in signalled)


def test_a_tree_ignoring_sigterm_gets_sigkill_after_grace(tree: list[subprocess.Popen[bytes]]) -> None:
    proc = _start(tree, "trap '' TERM; sleep 60 & sleep 60", 2)
    below = descendants(proc.pid)
    began = time.monotonic()
    signalled = terminate_tree(proc.pid, grace=0.5)
    assert time.monotonic() - began >= 0.5
    assert set(below) <= set(signalled)
    assert proc.wait(5) == -signal.SIGKILL
    assert not any(pid_alive(p) for p in signalled)


def test_terminate_refuses_init_itself_and_ancestors() -> None:
    for pid in (0, 1, -5, os.getpid(), os.getppid()):
        with pytest.raises(ValueError, match="refusing"):
            terminate_tree(pid)


def test_terminate_a_finished_process_signals_nothing() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert terminate_tree(proc.pid) == []


def test_pid_alive_zombie_and_start_time() -> None:
    assert pid_alive(os.getpid()) and pid_alive(os.getpid(), process_start(os.getpid()))
    start = process_start(os.getpid())
    assert start is not None and not pid_alive(os.getpid(), start + 1)
    proc = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not pid_alive(proc.pid)  # exited, not yet reaped
    proc.wait()
    assert not pid_alive(proc.pid) and not pid_alive(0)


_PROBE = "from ramparts.session.process import agent_pid; print(agent_pid())"


def _agent_run(argv: list[str]) -> tuple[int, str]:
    """Run ``argv`` (a stand-in agent): it starts the probe through ``/bin/sh -c`` like Claude Code."""
    env = dict(os.environ, PYTHONPATH=str(Path(ramparts.__file__).resolve().parents[1]))
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    own, found = out.split()
    return int(own), found


def _agent_code() -> str:
    hook = f"{sys.executable} -c '{_PROBE}'"
    return (
        f"import os, subprocess; print(os.getpid(), flush=True); subprocess.run(['/bin/sh', '-c', {hook!r}])"
    )


def test_agent_pid_finds_a_native_claude(tmp_path: Path) -> None:
    binary = tmp_path / "node_modules" / "@anthropic-ai" / "claude-code" / "bin" / "claude"
    binary.parent.mkdir(parents=True)
    binary.symlink_to(sys.executable)
    own, found = _agent_run([str(binary), "-c", _agent_code()])
    assert found == str(own)


def test_agent_pid_finds_node_running_cli_js(tmp_path: Path) -> None:
    node = tmp_path / "bin" / "node"
    node.parent.mkdir()
    node.symlink_to(sys.executable)
    cli = tmp_path / "lib" / "node_modules" / "@anthropic-ai" / "claude-code" / "cli.js"
    cli.parent.mkdir(parents=True)
    cli.write_text(_agent_code())  # python runs it: only the command line has to look like node's
    own, found = _agent_run([str(node), str(cli)])
    assert found == str(own)


def test_agent_pid_skips_other_ancestors(tmp_path: Path) -> None:
    other = tmp_path / "bin" / "claudette"
    other.parent.mkdir()
    other.symlink_to(sys.executable)
    own, found = _agent_run([str(other), "-c", _agent_code()])
    assert found != str(own)


def test_agent_pid_elsewhere_is_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(process, "_PROC", str(tmp_path / "no-proc"))
    assert agent_pid() is None
    assert process_start(os.getpid()) is None
    assert pid_alive(os.getpid())

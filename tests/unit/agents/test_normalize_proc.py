"""Paths that mean something in the running command's process, not in the hook's: its standard streams,
its own descriptors, its working folder seen through ``/proc/self/cwd``, another process's view. The hook
must never resolve them through its own ``/proc`` (a resident server's descriptors are its audit store)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ramparts.agents.claude_code.normalize import process_relative, tool_call


def _bash(command: str, cwd: Path) -> tuple[set[str], tuple[str, ...]]:
    call = tool_call("Bash", {"command": command}, cwd=str(cwd), home=str(cwd / "home"))
    return {a.path for a in call.accesses}, call.opaque


def test_standard_streams_are_not_files(tmp_path: Path) -> None:
    for command in ("echo hi > /dev/stderr", "echo hi 2>/dev/stdout", "cat /dev/stdin", "cat /dev/fd/0"):
        assert _bash(command, tmp_path) == (set(), ()), command


def test_process_substitution_pipes_are_not_resolved_in_the_hook(tmp_path: Path) -> None:
    paths, opaque = _bash("diff <(sort a) <(sort b)", tmp_path)
    assert paths == {str(tmp_path / "a"), str(tmp_path / "b")} and opaque == ()


def test_descriptors_and_other_processes_are_only_known_when_the_command_runs(tmp_path: Path) -> None:
    for command in (
        "cat /proc/self/fd/3",
        "cat /dev/fd/5",
        "cat /proc/1/cwd/x",
        "cat /proc/42/root/etc/hosts",
        "cat /proc/*/root/root/.aws/credentials",
        "cat /proc/[0-9]*/environ",
    ):
        paths, opaque = _bash(command, tmp_path)
        assert opaque and paths == {command.split(" ", 1)[1]}  # as written: a rule on it still applies


def test_own_working_folder_follows_cd_and_env_c(tmp_path: Path) -> None:
    assert str(tmp_path / ".env") in _bash("cat /proc/self/cwd/.env", tmp_path)[0]
    assert "/etc/shadow" in _bash("env -C /etc cat /proc/self/cwd/shadow", tmp_path)[0]
    assert str(tmp_path / "s" / "key") in _bash("cd s && cat /proc/thread-self/cwd/key", tmp_path)[0]
    assert "/etc/passwd" in _bash("cat /proc/self/root/etc/passwd", tmp_path)[0]


def test_other_proc_files_are_matched_as_written(tmp_path: Path) -> None:
    assert "/proc/self/environ" in _bash("cat /proc/self/environ", tmp_path)[0]


def test_the_read_tool_on_a_descriptor_or_stream_is_opaque(tmp_path: Path) -> None:
    for path in ("/proc/self/fd/3", "/dev/stdin"):
        call = tool_call("Read", {"file_path": path}, cwd=str(tmp_path), home=str(tmp_path))
        assert call.opaque and [a.path for a in call.accesses] in ([], [path])


@given(
    st.lists(
        st.sampled_from(["proc", "self", "thread-self", "1", "cwd", "root", "fd", "3", "..", "x"]), max_size=6
    )
)
def test_no_mapped_path_still_depends_on_the_hooks_process(parts: list[str]) -> None:
    import os

    mapped, reason = process_relative(os.path.normpath("/" + "/".join(parts)), "/work/project")
    if mapped is not None:
        assert not reason
        assert not mapped.startswith(("/proc/self/cwd", "/proc/self/root", "/proc/self/fd", "/dev/fd/3"))

"""The agent's process: find it from the hook, tell whether it still runs, and end its process tree.

Linux only, through ``/proc`` and ``os`` (no psutil: the hook imports this on every call and each
import costs it latency). Elsewhere :func:`agent_pid` returns None and :func:`process_start` None,
and :func:`pid_alive` falls back to ``os.kill(pid, 0)``.

Claude Code runs a command hook through a shell (``/bin/sh -c "<command>"``), so the hook's parent
is usually the shell and the agent its grandparent; we walk every ancestor to be safe against
wrappers. The agent is a native binary named ``claude`` (or ``claude.exe``, under
``node_modules/@anthropic-ai/claude-code/bin/``) or ``node`` running ``.../claude-code/cli.js`` (an
npm install's ``claude`` is a symlink to it, so node's argv names either).
"""

from __future__ import annotations

import os
import time

_PROC = "/proc"
_MAX_DEPTH = 64
_AGENT_NAMES = ("claude", "claude.exe")


def _stat(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` split into fields from field 3 (state) on; None when unreadable.

    ``comm`` (field 2) may contain spaces and parentheses, so split after its closing one.
    """
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    _, sep, rest = data.rpartition(")")
    if not sep:
        return None
    return rest.split()


def parent_pid(pid: int) -> int | None:
    fields = _stat(pid)
    if fields is None or len(fields) < 2:
        return None
    try:
        return int(fields[1])
    except ValueError:
        return None


def process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/PID/stat`` field 22), or None.

    Recorded beside a pid so that a reused pid is not taken for the process it once named.
    """
    fields = _stat(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Whether the process runs: it exists (a zombie counts as ended) and, when ``start`` is given and
    ``/proc`` can tell, it is the process that started then (not a later one given the same pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return False
    fields = _stat(pid)
    if fields is None:
        return True  # no /proc (or it vanished just now): os.kill said it exists
    if fields[0] in ("Z", "X"):
        return False
    if start is not None and len(fields) >= 20:
        try:
            return int(fields[19]) == start
        except ValueError:
            return True
    return True


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"{_PROC}/{pid}/cmdline", "rb") as f:
            data = f.read()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in data.split(b"\0") if a]


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"{_PROC}/{pid}/exe")
    except OSError:
        return ""


def is_agent(pid: int) -> bool:
    """Whether the process looks like the Claude Code CLI (the native binary or node running it)."""
    argv = _cmdline(pid)
    exe = _exe(pid)
    names = {os.path.basename(exe).removesuffix(" (deleted)")}
    if argv:
        names.add(os.path.basename(argv[0]))
    if names & set(_AGENT_NAMES):
        return True
    program = os.path.basename(argv[0]) if argv else ""
    if program.startswith("node") or os.path.basename(exe).startswith("node"):
        for arg in argv[1:3]:
            if arg.startswith("-"):
                continue
            norm = arg.replace("\\", "/")
            if os.path.basename(norm) in _AGENT_NAMES or "claude-code/" in norm:
                return True
    return False


def ancestors(pid: int | None = None) -> list[int]:
    """The ancestors of ``pid`` (default: this process), nearest first, ending before pid 0."""
    out: list[int] = []
    current = os.getpid() if pid is None else pid
    for _ in range(_MAX_DEPTH):
        parent = parent_pid(current)
        if parent is None or parent <= 0 or parent in out:
            break
        out.append(parent)
        if parent == 1:
            break
        current = parent
    return out


def agent_pid(start: int | None = None) -> int | None:
    """The pid of the Claude Code process this hook runs under, or None (not Linux, or not found).

    ``start``: whose ancestors to search (default: this process; the resident hook server passes its
    client's pid)."""
    if not os.path.isdir(f"{_PROC}/self"):
        return None
    for pid in ancestors(start):
        if pid > 1 and is_agent(pid):
            return pid
    return None


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return children
    for name in entries:
        if not name.isdigit():
            continue
        parent = parent_pid(int(name))
        if parent is not None:
            children.setdefault(parent, []).append(int(name))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (breadth first), from one scan of ``/proc``."""
    children = _children_map()
    out: list[int] = []
    queue = [pid]
    seen = {pid}
    while queue:
        for child in children.get(queue.pop(0), []):
            if child not in seen:
                seen.add(child)
                out.append(child)
                queue.append(child)
    return out


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def terminate_tree(pid: int, *, grace: float = 5.0) -> list[int]:
    """End ``pid`` and every process below it: SIGTERM, then SIGKILL for what still runs after ``grace``.

    The tree is frozen first (SIGSTOP, rescanned until no new process appears) so that nothing in it
    can fork a process we would miss, then sent SIGTERM and SIGCONT (a stopped process acts on
    SIGTERM only once continued). Returns the pids signalled, the root first. Refuses pid 0 and 1,
    this process and its ancestors (ending them would end us). Linux only (``/proc``).
    """
    import signal  # here: the hook imports this module for the agent's pid, never to end a tree

    if pid <= 1:
        raise ValueError(f"refusing to terminate pid {pid}")
    if pid == os.getpid() or pid in ancestors():
        raise ValueError(f"refusing to terminate pid {pid}: it is this process or one of its ancestors")
    if not os.path.isdir(f"{_PROC}/self"):
        raise OSError("terminating a process tree needs /proc (Linux)")
    if not pid_alive(pid):
        return []
    protected = {os.getpid(), *ancestors()}
    tree: list[int] = []
    if _signal(pid, signal.SIGSTOP):
        tree.append(pid)
    for _ in range(20):  # freeze until a scan finds nothing new
        new = [p for p in descendants(pid) if p not in tree and p not in protected]
        if not new:
            break
        for child in new:
            if _signal(child, signal.SIGSTOP):
                tree.append(child)
    for p in tree:
        _signal(p, signal.SIGTERM)
    for p in tree:
        _signal(p, signal.SIGCONT)
    deadline = time.monotonic() + max(grace, 0.0)
    while True:
        alive = [p for p in tree if pid_alive(p)]
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    for p in alive:
        _signal(p, signal.SIGKILL)
    # Whatever a SIGTERM handler forked before dying was not in the frozen tree: end it too.
    for p in descendants(pid):
        if p not in tree and p not in protected and _signal(p, signal.SIGKILL):
            tree.append(p)
    _wait_gone(tree, 2.0)  # SIGKILL is delivered asynchronously: return once the tree has ended
    return tree


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.01)

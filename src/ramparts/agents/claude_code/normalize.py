"""Claude Code hook input -> :class:`ramparts.model.Event`. The only place that knows its fields.

Validation is strict: a missing or mistyped field raises :class:`HookInputError`, which the hook
turns into a deny. Path resolution (``~``, globs against ``cwd``, symlinks) happens here, once.
"""

from __future__ import annotations

import os

from ...detect.redact import Redactor
from ...errors import HookInputError
from ...model import Event, FileAccess, Printed, Subject, ToolCall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ...model import AccessMode, EventKind
    from ...shell.analyze import FileWord

EVENT_KINDS: dict[str, EventKind] = {
    "PreToolUse": "pre_tool_use",
    "PostToolUse": "post_tool_use",
    "UserPromptSubmit": "user_prompt",
    "SessionStart": "session_start",
    "SessionEnd": "session_end",
}
_PATH_FIELDS = {
    "Read": "file_path",
    "Write": "file_path",
    "Edit": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "NotebookRead": "notebook_path",
    "Glob": "path",
    "Grep": "path",
    "LS": "path",
}
_WRITE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
_GLOB_CHARS = frozenset("*?[")
MAX_GLOB_MATCHES = 256
_OWN_STDIO = frozenset(
    (
        "/dev/stdin",
        "/dev/stdout",
        "/dev/stderr",
        *(f"{d}/{n}" for d in ("/dev/fd", "/proc/self/fd", "/proc/thread-self/fd") for n in (0, 1, 2)),
        "/dev/fd/63",  # the pipe a process substitution hands its command (``shell.split.PROCESS_INPUT``)
    )
)
"""Paths that name the command's own standard streams (or the pipe bash made for it), not a file: the
hook resolving them would read its own process's descriptors (``echo x > /dev/stderr`` asked about
writing the hook's pipe)."""
MAX_LISTING = 4096
"""Entries a recursive read's folder may hold for Ramparts to list them; past it, any rule that may
match below counts (as it would without a listing)."""


def _clean(value: str, name: str) -> str:
    """Refuse text no file system or shell can take: NUL bytes and lone surrogates."""
    if "\x00" in value:
        raise HookInputError(f"hook input field {name!r} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HookInputError(f"hook input field {name!r} is not valid Unicode") from exc
    return value


def _str_field(payload: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = payload.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise HookInputError(f"hook input field {name!r} is missing or not a non-empty string")
    return _clean(value, name)


def event_name(payload: dict[str, Any]) -> str:
    return _str_field(payload, "hook_event_name")


def to_event(payload: dict[str, Any], *, home: str, subject: Subject) -> Event:
    """Validate one hook input object and normalise it."""
    name = event_name(payload)
    kind = EVENT_KINDS.get(name)
    if kind is None:
        raise HookInputError(f"unknown hook event {name[:80]!r}")
    session_id = _str_field(payload, "session_id")
    cwd = _str_field(payload, "cwd")
    if not os.path.isabs(cwd):
        raise HookInputError("hook input field 'cwd' is not an absolute path")
    cwd = os.path.normpath(cwd)
    mode = _str_field(payload, "permission_mode", required=False)
    tool: ToolCall | None = None
    if kind in ("pre_tool_use", "post_tool_use"):
        tool_name = _str_field(payload, "tool_name")
        tool_input = payload.get("tool_input")
        if not isinstance(tool_input, dict):
            raise HookInputError("hook input field 'tool_input' is missing or not an object")
        if kind == "post_tool_use" and "tool_response" not in payload:
            raise HookInputError("PostToolUse input has no 'tool_response'")
        if kind == "post_tool_use":
            # the call already ran: what it returned is screened, its command is not analysed again
            tool = ToolCall(tool_name, tool_input)
        else:
            tool = tool_call(tool_name, tool_input, cwd=cwd, home=home)
    elif kind == "user_prompt" and not isinstance(payload.get("prompt"), str):
        raise HookInputError("UserPromptSubmit input has no string 'prompt'")
    server = payload.get("mcp_server")
    runs_git = tool is not None and any(
        c.argv and os.path.basename(c.argv[0]).startswith("git") for c in tool.commands
    )
    return Event(
        kind=kind,
        session_id=session_id,
        cwd=cwd,
        home=home,
        subject=subject,
        tool=tool,
        permission_mode=mode,
        mcp_server=_clean(server, "mcp_server") if isinstance(server, str) else "",
        git_branch=current_branch(cwd) if runs_git else "",
    )


def current_branch(cwd: str) -> str:
    """The branch HEAD names in the repository holding ``cwd`` ('' when detached, absent or unreadable).

    Read from the files, not by running git: the hook must not run repository-controlled config.
    """
    folder = cwd
    for _ in range(64):
        dot_git = os.path.join(folder, ".git")
        head = ""
        try:
            if os.path.isdir(dot_git):
                head = os.path.join(dot_git, "HEAD")
            elif os.path.isfile(dot_git):  # a worktree or submodule: "gitdir: PATH"
                with open(dot_git, encoding="utf-8") as handle:
                    pointer = handle.read(4096).strip()
                if pointer.startswith("gitdir:"):
                    head = os.path.join(os.path.join(folder, pointer[7:].strip()), "HEAD")
            if head:
                with open(head, encoding="utf-8") as handle:
                    text = handle.read(4096).strip()
                return text[len("ref: refs/heads/") :] if text.startswith("ref: refs/heads/") else ""
        except (OSError, UnicodeDecodeError):
            return ""
        parent = os.path.dirname(folder)
        if parent == folder:
            return ""
        folder = parent
    return ""


def tool_call(name: str, tool_input: dict[str, Any], *, cwd: str, home: str) -> ToolCall:
    if name in ("Bash", "PowerShell"):
        command = tool_input.get("command")
        if not isinstance(command, str):
            raise HookInputError(f"{name} tool_input has no string 'command'")
        from ...shell import analyze  # the parser loads only for shell commands

        analysis = analyze(_clean(command, "tool_input.command"))
        accesses, unresolved = resolve_words(analysis.files, cwd=cwd, home=home)
        opaque = (*analysis.opaque, *unresolved)
        if name != "Bash":
            opaque = ("PowerShell is not analysed yet", *opaque)
        prints = tuple(
            Printed(p.args, p.flags, os.path.normpath(os.path.join(cwd, _home(p.folder, home))), p.reason)
            for p in analysis.prints
        )
        return ToolCall(
            name, tool_input, analysis.commands, accesses, opaque, analysis.hosts, analysis.code, prints
        )
    field = _PATH_FIELDS.get(name)
    if field is not None:
        raw = tool_input.get(field)
        if raw is None and name in ("Glob", "Grep", "LS"):
            raw = cwd
        if not isinstance(raw, str) or not raw:
            raise HookInputError(f"{name} tool_input has no string {field!r}")
        _clean(raw, f"tool_input.{field}")
        mode: AccessMode = "write" if name in _WRITE_TOOLS else "read"
        try:
            paths, _ = _resolve(raw, cwd=cwd, home=home, expand_globs=False)
        except _Unknowable as exc:  # it asks, unless a rule on the path as written denies
            access = FileAccess(exc.path, mode, "tool", False, None)
            return ToolCall(name, tool_input, accesses=(access,), opaque=(str(exc),))
        if not paths:  # the tool's own standard streams: nothing a policy rule can judge
            return ToolCall(name, tool_input, opaque=(f"{raw[:60]} is a standard stream, not a file",))
        recursive = name == "Grep" and os.path.isdir(paths[0])
        return ToolCall(
            name,
            tool_input,
            accesses=tuple(
                FileAccess(p, mode, "tool", recursive, listing(p) if recursive else None) for p in paths
            ),
        )
    return ToolCall(name, tool_input)


def _home(word: str, home: str) -> str:
    return home + word[1:] if word == "~" or word.startswith("~/") else word


def resolve_words(
    words: tuple[FileWord, ...], *, cwd: str, home: str
) -> tuple[tuple[FileAccess, ...], tuple[str, ...]]:
    """Resolve file words to accesses; also say which words could not be resolved completely."""
    from ...shell.analyze import (  # loaded already: the words come from the analysis
        GIT_ELSEWHERE,
        GIT_ELSEWHERE_REASON,
        GIT_HERE,
        GIT_TRACKED,
        PROJECT_CONFIG,
    )

    out: dict[tuple[str, str], FileAccess] = {}
    unresolved: list[str] = []
    for word in words:
        if word.via.startswith(PROJECT_CONFIG):
            unresolved.extend(project_config(word.via[len(PROJECT_CONFIG) :], word.word, cwd=cwd, home=home))
            continue
        if word.via == GIT_HERE:  # `cd DIR && git …`: DIR's repository has a config of its own
            folder = os.path.normpath(os.path.join(cwd, _home(word.word, home)))
            if folder != cwd and os.path.isdir(folder) and git_dir_of(folder) != git_dir_of(cwd):
                unresolved.append(
                    f"git runs in {folder[:80]}, outside this repository (another one's config can run programs)"
                )
            continue
        if word.via == GIT_ELSEWHERE:  # `git -C DIR`: not a read; DIR must share the repository
            folder = os.path.normpath(os.path.join(cwd, _home(word.word, home)))
            if not same_repository(folder, cwd):
                unresolved.append(GIT_ELSEWHERE_REASON)
            continue
        try:
            paths, complete = _resolve(word.word, cwd=cwd, home=home, expand_globs=True)
        except _Unknowable as exc:
            unresolved.append(str(exc))  # it asks, unless a rule on the path as written denies
            paths, complete = [exc.path], True
        if not complete:
            unresolved.append(f"the glob {word.word[:60]!r} matches more than {MAX_GLOB_MATCHES} files")
        for path in paths:
            key = (path, word.mode)
            if key not in out or word.recursive:
                below = None
                if word.recursive and word.mode == "read":
                    below = tracked(path) if word.via == GIT_TRACKED else listing(path)
                out[key] = FileAccess(path, word.mode, word.via, word.recursive, below)
    return tuple(out.values()), tuple(unresolved)


def project_config(program: str, word: str, *, cwd: str, home: str) -> list[str]:
    """Why ``program`` run in the folder ``word`` names cannot be judged by its words alone
    (``repo_config.project_risks``); a folder that cannot be resolved is itself a reason."""
    from .repo_config import project_risks

    try:
        paths, _complete = _resolve(word, cwd=cwd, home=home, expand_globs=False)
    except _Unknowable as exc:
        return [str(exc)]
    return [why for path in paths[:1] for why in project_risks(program, path, home)]


_GIT_LOCATION = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES", "GIT_CONFIG")


def git_dir_of(folder: str) -> str | None:
    """The repository git finds from ``folder`` (its git directory, symlinks resolved), found the way
    git's discovery walks up (``repo_config.git_dirs``: a ``.git`` folder, a ``.git`` file naming a
    worktree's or submodule's own, or a bare repository); None when there is none or it cannot be read."""
    from .repo_config import git_dirs

    current = os.path.realpath(folder)
    if not os.path.isdir(current):
        return None
    found = git_dirs(current)
    if not found or not found[1]:
        return None
    return os.path.realpath(found[1][0])


def same_repository(folder: str, cwd: str) -> bool:
    """Does ``git -C folder`` work in the repository a plain ``git`` in ``cwd`` would (so with the same
    config, which the agent runs git with anyway)? Not when the hook's environment moves git's
    repository or its discovery, when either has none, or when they differ (a nested clone, a
    submodule, a vendored repository: each has a config of its own)."""
    if any(name in os.environ for name in _GIT_LOCATION):
        return False
    here = git_dir_of(cwd)
    return here is not None and git_dir_of(folder) == here


def tracked(folder: str, limit: int = MAX_LISTING) -> tuple[str, ...] | None:
    """The files ``git diff`` (no path: the working tree against the index) would show, in the
    repository holding ``folder`` (the whole repository: run in a subfolder it still shows every
    change), as absolute paths; None when there is no repository beside it, git fails or takes over
    2 s, or past ``limit`` files (then any rule that may match below counts).

    git lists the names itself (``diff --name-only``), with the file-system monitor off and no
    external diff or textconv program, so nothing the repository configures runs."""
    import subprocess

    from .repo_config import git_dirs, repository_risks

    if "GIT_DIR" in os.environ or "GIT_WORK_TREE" in os.environ:
        return None  # the repository is not the one beside the folder
    found = git_dirs(folder)
    if found is None:
        return None
    top, dirs = found
    if not dirs:
        return ()  # no repository: git diff without paths prints nothing (it only shows its usage)
    if top in dirs or repository_risks(top):
        return None  # a bare repository, or its configuration runs programs: the hook does not run git there
    argv = ["git", "-c", "core.fsmonitor=false", "-c", "diff.relative=false", "-c", "core.quotePath=false"]
    argv += ["diff", "--name-only", "-z", "--no-ext-diff", "--no-textconv", "--no-color"]
    try:
        done = subprocess.run(
            argv,
            cwd=top,
            capture_output=True,
            timeout=2,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_PAGER": "cat"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = [name for name in done.stdout.split(b"\0") if name]
    if done.returncode != 0 or len(names) > limit:
        return None
    return tuple(os.path.join(top, os.fsdecode(name)) for name in names)


def listing(root: str, limit: int = MAX_LISTING) -> tuple[str, ...] | None:
    """Every path below ``root`` (symlinks also by their target), or None past ``limit`` entries or on
    any error: then the engine assumes a protected file may be there. Nothing there: ``()``."""
    if not os.path.isdir(root):
        return ()
    out: list[str] = []
    stack = [root]
    try:
        while stack:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    out.append(entry.path)
                    if entry.is_symlink():
                        out.append(os.path.realpath(entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    if len(out) > limit:
                        return None
    except OSError:
        return None
    return tuple(out)


class _Unknowable(Exception):
    """A path only the running command can resolve (its own descriptors, another process's view)."""

    def __init__(self, reason: str, path: str) -> None:
        super().__init__(reason)
        self.path = path


def process_relative(path: str, cwd: str) -> tuple[str | None, str]:
    """A path under ``/proc/self``, ``/proc/PID`` or ``/dev/fd`` means something in the process that
    opens it, not in the hook: ``(the path in the command's terms, "")``, ``(None, "")`` for the
    command's own standard streams, or ``(None, reason)`` when only the running command knows."""
    if path in _OWN_STDIO:
        return None, ""
    parts = path.split("/", 4)  # "", "proc", "self", "cwd", rest
    if len(parts) < 3 or parts[1] != "proc":
        if path.startswith("/dev/fd/"):
            return None, f"{path[:60]} is a descriptor only the running command knows"
        return path, ""
    who, what, rest = parts[2], parts[3] if len(parts) > 3 else "", parts[4] if len(parts) > 4 else ""
    if _GLOB_CHARS & set(who + what):  # `/proc/*/root/…`: every process's view, the hook's included
        return None, f"{path[:60]} ranges over processes, only known when the command runs"
    if who in ("self", "thread-self"):
        if what == "cwd":
            return os.path.normpath(os.path.join(cwd, rest)), ""
        if what == "root":
            return os.path.normpath("/" + rest), ""
        if what in ("fd", "fdinfo", "map_files", "exe", "task"):
            return None, f"{path[:60]} is only known in the running command"
        return path, ""  # environ, cmdline, status…: matched as written (sensitive rules name them)
    if who.isdigit() and what in ("cwd", "root", "fd", "fdinfo", "map_files", "exe", "task"):
        return None, f"{path[:60]} is another process's view, only known when the command runs"
    return path, ""


def _resolve(word: str, *, cwd: str, home: str, expand_globs: bool) -> tuple[list[str], bool]:
    """Absolute, normalised paths for a word (itself, its glob matches, symlink targets); complete?"""
    if word == "~" or word.startswith("~/"):
        word = home + word[1:]
    base = os.path.normpath(os.path.join(cwd, word))
    if base.startswith(("/proc/", "/dev/")):
        mapped, reason = process_relative(base, cwd)
        if mapped is None:
            if reason:
                raise _Unknowable(reason, base)
            return [], True
        if mapped != base:
            return _resolve(mapped, cwd=cwd, home=home, expand_globs=expand_globs)
        if base.startswith("/proc/"):
            return [base], True  # not resolved through the hook's own /proc
    candidates = [base]
    complete = True
    if expand_globs and _GLOB_CHARS & set(word):
        import glob
        from itertools import islice

        try:
            matches = list(islice(glob.iglob(word, root_dir=cwd, include_hidden=True), MAX_GLOB_MATCHES + 1))
        except (OSError, ValueError) as exc:
            raise HookInputError(f"cannot expand the glob {word[:80]!r}: {exc}") from exc
        complete = len(matches) <= MAX_GLOB_MATCHES
        candidates.extend(os.path.normpath(os.path.join(cwd, m)) for m in sorted(matches[:MAX_GLOB_MATCHES]))
    out: list[str] = []
    for path in candidates:
        out.append(path)
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            continue
        if real != path:
            out.append(real)
    return list(dict.fromkeys(out)), complete


def summarize(payload: dict[str, Any], redact: Redactor) -> dict[str, Any]:
    """A redacted summary of what the event carries, for the audit record (never whole contents)."""
    tool_input = payload.get("tool_input")
    summary: dict[str, Any] = {}
    if isinstance(tool_input, dict):
        for key, value in tool_input.items():
            if key in ("content", "new_string", "old_string", "new_source", "edits", "prompt", "todos"):
                text = value if isinstance(value, str) else repr(value)
                summary[key] = {"chars": len(text), "fingerprint": redact.fingerprint(text)}
            elif isinstance(value, str):
                summary[key] = redact.text(value)
            elif isinstance(value, (int, float, bool)) or value is None:
                summary[key] = value
            else:
                summary[key] = redact.text(repr(value))
    if "prompt" in payload and isinstance(payload["prompt"], str):
        summary["prompt"] = {
            "chars": len(payload["prompt"]),
            "fingerprint": redact.fingerprint(payload["prompt"]),
        }
    if "tool_response" in payload:
        text = str(payload["tool_response"])
        summary["tool_response"] = {"chars": len(text), "fingerprint": redact.fingerprint(text)}
    for key in ("source", "reason"):
        if isinstance(payload.get(key), str):
            summary[key] = redact.text(payload[key])
    return summary

"""The pre-push hook that backs the git rules inside git itself (``ramparts git install-hooks``).

The policy engine reads a push before it runs; git only knows where it really goes once it runs
(``push.default=upstream``, ``remote.<name>.push``, aliases in the user's config). The hook sees
that: git hands it ``<local ref> <local sha> <remote ref> <remote sha>`` for every ref it is about
to update. In an agent session (Claude Code sets ``CLAUDECODE=1`` in the shells it spawns;
``RAMPARTS_AGENT_SESSION`` set non-empty works for other agents) it refuses pushes to protected
branches, deleting them, and non-fast-forward pushes to any branch. A human pushing from their own
shell is not affected.

The variable is a hint, not a boundary: a process that unsets it is not stopped here. The policy
rules (``ramparts.shell.git``) stay the gate; this hook catches what they cannot see.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import RampartsError

MARKER = "# ramparts: pre-push hook"
"""Marks a hook Ramparts wrote, so reinstalling may replace it and nothing else is overwritten."""


class HookInstallError(RampartsError):
    """The hook cannot be installed (not a repository, or a pre-push hook Ramparts did not write)."""


def _case_pattern(glob: str) -> str:
    """An fnmatch-style glob as a ``case`` pattern: ``*``, ``?`` and ``[…]`` stay globs, every other
    character is escaped, so a branch pattern can never become shell code."""
    if not glob or any(ord(c) < 32 or c == "\x7f" for c in glob):
        raise ValueError(f"not a usable branch pattern: {glob!r}")
    out: list[str] = []
    for i, c in enumerate(glob.lower()):
        if c in "*?[]" or c.isalnum() or c in "._/-" or (c == "!" and i and glob[i - 1] == "["):
            out.append(c)
        else:
            out.append("\\" + c)
    return "".join(out)


def pre_push_script(protected: Sequence[str]) -> str:
    """The POSIX sh pre-push hook refusing agent pushes to ``protected`` (globs, matched ignoring case)."""
    patterns = "|".join(_case_pattern(p) for p in protected) or "''"
    shown = ", ".join(protected) or "(none)"
    return f"""#!/bin/sh
{MARKER} (written by `ramparts git install-hooks`; run it again instead of editing)
# In an agent session (CLAUDECODE=1 or RAMPARTS_AGENT_SESSION set) refuse: pushes to protected
# branches ({shown}), deleting them, and non-fast-forward pushes to any branch.
# Outside agent sessions it does nothing.

if [ "${{CLAUDECODE:-}}" != 1 ] && [ -z "${{RAMPARTS_AGENT_SESSION:-}}" ]; then
    exit 0
fi

remote=${{1:-}}
status=0
refuse() {{
    printf 'ramparts: push to %s refused: %s\\n' "$remote" "$1" >&2
    status=1
}}

while read -r local_ref local_sha remote_ref remote_sha; do
    [ -n "$remote_ref" ] || continue
    branch=
    case $remote_ref in
        refs/heads/*) branch=${{remote_ref#refs/heads/}} ;;
    esac
    is_protected=
    if [ -n "$branch" ]; then
        lower=$(printf '%s' "$branch" | tr '[:upper:]' '[:lower:]')
        case $lower in
            {patterns}) is_protected=1 ;;
        esac
    fi
    deleting=
    case $local_sha in
        *[!0]*) ;;
        *) deleting=1 ;;
    esac
    if [ -n "$is_protected" ]; then
        if [ -n "$deleting" ]; then
            refuse "deleting protected branch $branch from an agent session; pushes from agent sessions to protected branches need a human"
        else
            refuse "protected branch $branch ($local_ref -> $remote_ref); pushes from agent sessions to protected branches need a human"
        fi
        continue
    fi
    [ -z "$deleting" ] || continue
    case $remote_sha in
        *[!0]*) ;;
        *) continue ;;
    esac
    if ! git merge-base --is-ancestor "$remote_sha" "$local_sha" 2>/dev/null; then
        refuse "non-fast-forward update of $remote_ref from an agent session; rewriting pushed history needs a human"
    fi
done

if [ "$status" -ne 0 ]; then
    echo 'ramparts: push from the agent session to a protected or rewritten branch; a human has to do this push' >&2
fi
exit "$status"
"""


def hooks_dir(repo: str) -> Path:
    """Where git looks for hooks in ``repo``: ``git rev-parse --git-path hooks`` (core.hooksPath, worktrees)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--git-path", "hooks"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise HookInstallError(f"cannot run git in {repo}: {exc}") from exc
    if result.returncode != 0 or not result.stdout.strip():
        raise HookInstallError(f"{repo} is not a git repository: {result.stderr.strip()}")
    path = Path(result.stdout.strip())
    return path if path.is_absolute() else Path(repo) / path


def install_hooks(repo: str, protected: Sequence[str], *, force: bool = False) -> str:
    """Write the pre-push hook into ``repo``'s hooks folder; returns its path.

    An existing pre-push hook without Ramparts' marker is kept unless ``force``.
    """
    try:
        script = pre_push_script(protected)
    except ValueError as exc:
        raise HookInstallError(str(exc)) from exc
    target = hooks_dir(repo) / "pre-push"
    if target.exists() and not force:
        try:
            existing = target.read_text("utf-8", errors="replace")
        except OSError as exc:
            raise HookInstallError(f"cannot read {target}: {exc}") from exc
        if MARKER not in existing:
            raise HookInstallError(
                f"{target} exists and Ramparts did not write it; use --force to replace it"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".pre-push.ramparts.{os.getpid()}")
    try:
        temporary.write_text(script, "utf-8")
        temporary.chmod(0o755)
        os.replace(temporary, target)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise HookInstallError(f"cannot write {target}: {exc}") from exc
    return str(target)

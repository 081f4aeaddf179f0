"""The ``ramparts`` command.

``ramparts hook`` is special-cased first: it runs once per tool call, so it parses its three flags
by hand and imports nothing else it does not need. Every other subcommand lives in ``cli._main`` and its siblings.
"""

from __future__ import annotations

import io
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

_HOOK_FLAGS = ("--policy", "--state-dir", "--deadline-ms")


def _hook_args(argv: list[str]) -> dict[str, str] | None:
    """Parse ``--policy P --state-dir S --deadline-ms N`` (also ``--flag=value``); None when invalid.

    Hand-parsed on purpose: argparse costs the hook several milliseconds on every tool call.
    """
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        flag, eq, value = argv[i].partition("=")
        if flag not in _HOOK_FLAGS or flag in out:
            return None
        if not eq:
            if i + 1 >= len(argv):
                return None
            i += 1
            value = argv[i]
        out[flag] = value
        i += 1
    deadline = out.get("--deadline-ms")
    if deadline is not None and not (deadline.isdigit() and 100 <= int(deadline) <= 600_000):
        return None
    return out


HOOK_USAGE = """usage: ramparts hook [--policy P] [--state-dir S] [--deadline-ms N]

Claude Code's PreToolUse/PostToolUse/... command hook: reads one hook event as JSON on stdin and
writes the decision on stdout. `ramparts install` writes the command into Claude Code's settings;
`ramparts explain TOOL ARG` dry-runs a call by hand.

options:
  --policy P         policy file or profile:NAME (else RAMPARTS_POLICY, else installed)
  --state-dir S      state directory (else RAMPARTS_STATE_DIR, else per-user default)
  --deadline-ms N    deny when no decision is ready after N ms (100..600000)

Any other command line is answered with a deny (the hook fails closed).
"""


def _help_asked(argv: list[str], stdin: BinaryIO) -> tuple[bool, BinaryIO]:
    """``--help`` alone with no event on stdin (a terminal, or empty). Returns the stdin to use from
    here on: what was read to find out is handed on to the hook unchanged."""
    if argv not in (["--help"], ["-h"]):
        return False, stdin
    try:
        if stdin.isatty():
            return True, stdin
        data = stdin.read()
    except (OSError, ValueError):  # a closed stdin: nothing on it
        return True, stdin
    return not data.strip(), io.BytesIO(data)


def _hook(argv: list[str], *, exiting: bool = False) -> int:
    asked, stdin = _help_asked(argv, sys.stdin.buffer)
    if asked:
        # a person asking: usage, exit 0. A hook event on stdin still gets the fail-closed deny below,
        # so a hook command misconfigured as `ramparts hook --help` never lets a tool call through.
        sys.stdout.write(HOOK_USAGE)
        return 0
    try:
        from ..agents.claude_code.hook import Hook
    except BaseException as exc:  # noqa: BLE001 - a hook that cannot even import must still deny
        reason = (
            f"Ramparts blocked this (the hook cannot start: {type(exc).__name__}: {exc}). It fails closed."
        )
        output = {
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
            "hookEventName": "PreToolUse",
        }
        import json

        sys.stdout.write(json.dumps({"hookSpecificOutput": output}) + "\n")
        sys.stderr.write(reason + "\n")
        return 2

    args = _hook_args(argv)
    if args is None:  # a broken hook command line still has to deny
        hook = Hook(policy=None, state=None, stdin=stdin, stdout=sys.stdout, stderr=sys.stderr)
        return hook.fail("the hook command line is invalid")
    deadline = args.get("--deadline-ms")
    hook = Hook(
        policy=args.get("--policy"),
        state=args.get("--state-dir"),
        stdin=sys.stdin.buffer,
        stdout=sys.stdout,
        stderr=sys.stderr,
        deadline_ms=int(deadline) if deadline else None,
    )
    hook.keep_open = exiting
    return hook.run()


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["hook"]:
        code = _hook(args_list[1:], exiting=argv is None)
        if argv is None:
            # The answer is written, flushed and durable: skip interpreter teardown (about 5 ms a call).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code
    from ._main import run

    return run(args_list)

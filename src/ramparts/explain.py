"""``ramparts explain``: a dry run of one tool call, with the engine's step-by-step reasoning.

Explaining is the hook without its side effects: the same normalisation, the same engine and the same
content scanning (files a call would read are scanned for secrets, as the hook scans them), but no
audit write, no session state and no key written. Path resolution (globs, symlinks) and the scan look
at the file system exactly as the hook would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from . import rule_ids as rids
from ._locations import detector_cache_dir
from .agents.claude_code.normalize import tool_call
from .errors import HookInputError
from .model import Content, Decision, Event, SessionState
from .policy.types import Policy

_FILE_TOOLS = {
    "Read": "file_path",
    "Edit": "file_path",
    "Write": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
    "NotebookRead": "notebook_path",
}


def tool_input_for(tool: str, argument: str | None, cwd: str) -> dict[str, Any]:
    """The tool_input Claude Code would send for a tool and its main argument."""
    if argument is None:
        return {}
    if tool in ("Bash", "PowerShell"):
        return {"command": argument}
    if tool in _FILE_TOOLS:
        path = os.path.expanduser(argument)
        return {_FILE_TOOLS[tool]: os.path.normpath(os.path.join(cwd, path))}
    if tool in ("Glob", "Grep"):
        return {"pattern": argument}
    if tool == "LS":
        return {"path": os.path.normpath(os.path.join(cwd, argument))}
    if tool == "WebFetch":
        return {"url": argument, "prompt": ""}
    if tool == "WebSearch":
        return {"query": argument}
    if tool in ("Agent", "Task"):
        return {"subagent_type": argument, "prompt": "", "description": ""}
    return {"value": argument}


def explain_input(
    policy: Policy, tool: str, tool_input: dict[str, Any], cwd: str, *, state_dir: str | None = None
) -> Decision:
    """What the hook would decide on this call, content scanning included; nothing is written."""
    from .agents.claude_code.decide import decide_event

    home = str(Path.home())
    try:
        call = tool_call(tool, tool_input, cwd=cwd, home=home)
    except HookInputError as exc:
        return Decision(reasons=(str(exc),), rule_ids=("input.invalid",), policy_revision=policy.revision)
    event = Event(kind="pre_tool_use", session_id="explain", cwd=cwd, home=home, tool=call)
    payload = {"tool_name": tool, "tool_input": tool_input, "cwd": cwd}
    state = _state(state_dir)
    try:
        decision, scanned, _outbound, _sinks = decide_event(
            policy,
            event,
            SessionState(session_id="explain"),
            payload,
            key=_key(state),
            cache_dir=detector_cache_dir(state),
        )
    except Exception as exc:  # noqa: BLE001 - the hook denies on the same failure; say so
        return Decision(
            reasons=(f"the content could not be scanned ({type(exc).__name__}: {exc}); the hook denies",),
            rule_ids=(rids.HOOK_ERROR,),
            policy_revision=policy.revision,
        )
    return decision._replace(trace=decision.trace + tuple(_scan_steps(scanned)))


def _state(state_dir: str | None) -> str:
    from ._locations import state_dir as default_state

    return default_state(state_dir)


def _key(state: str) -> bytes:
    """The install's fingerprint key when there is one (the same fingerprints as the hook's records);
    else a key for this run only: explain writes nothing, and fingerprints do not change a decision."""
    from .detect.redact import KEY_BYTES

    try:
        with open(os.path.join(state, "keys", "fingerprint.key"), "rb") as f:
            key = f.read()
        if len(key) == KEY_BYTES:
            return key
    except OSError:
        pass
    return os.urandom(KEY_BYTES)


def _scan_steps(scanned: tuple[Content, ...]) -> list[str]:
    steps = []
    for item in scanned:
        what = f"scanned {item.source} {item.name}"
        if item.error:
            steps.append(f"{what}: could not be scanned ({item.error})")
        elif item.findings:
            kinds = ", ".join(sorted({f.detector for f in item.findings}))
            steps.append(f"{what}: {len(item.findings)} finding(s) ({kinds})")
        else:
            steps.append(f"{what}: nothing found")
        if item.truncated:
            steps.append(f"{what}: only the first part was scanned (dlp.max_scan_bytes)")
    return steps


def explain_call(
    policy: Policy,
    tool: str,
    argument: str | None,
    *,
    tool_input: dict[str, Any] | None = None,
    cwd: str | None = None,
    state_dir: str | None = None,
) -> Decision:
    where = os.path.abspath(cwd or os.getcwd())
    chosen = tool_input if tool_input is not None else tool_input_for(tool, argument, where)
    return explain_input(policy, tool, chosen, where, state_dir=state_dir)


def render_text(policy: Policy, tool: str, decision: Decision) -> str:
    lines = [
        f"decision: {decision.verdict.upper()}"
        + ("" if decision.enforced else f" (report mode; would {decision.would_verdict})")
    ]
    lines += [f"  reason: {r}" for r in decision.reasons]
    if decision.rule_ids:
        lines.append("  rules: " + ", ".join(decision.rule_ids))
    lines.append(f"policy: {policy.source} (revision {policy.revision})")
    lines.append("steps:")
    lines += [f"  {i}. {step}" for i, step in enumerate(decision.trace, 1)]
    return "\n".join(lines)


def _as_json(decision: Decision) -> str:
    return json.dumps(
        {"decision": decision.verdict, "reasons": list(decision.reasons), "rules": list(decision.rule_ids)}
    )


def explain_jsonl(
    policy: Policy,
    stdin: IO[str],
    stdout: IO[str],
    *,
    default_cwd: str | None = None,
    state_dir: str | None = None,
) -> int:
    """One hook-style object a line in, one decision a line out; a bad line gets a deny, never a skip."""
    base = os.path.abspath(default_cwd or os.getcwd())
    for number, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            tool = item.get("tool_name")
            tool_input = item.get("tool_input", {})
            cwd = item.get("cwd", base)
            if (
                not isinstance(tool, str)
                or not tool
                or not isinstance(tool_input, dict)
                or not isinstance(cwd, str)
            ):
                raise ValueError("needs tool_name (string), tool_input (object) and optional cwd (string)")
            decision = explain_input(policy, tool, tool_input, os.path.abspath(cwd), state_dir=state_dir)
        except ValueError as exc:
            decision = Decision(
                reasons=(f"line {number}: {exc}",),
                rule_ids=("input.invalid",),
                policy_revision=policy.revision,
            )
        stdout.write(_as_json(decision) + "\n")
    stdout.flush()
    return 0

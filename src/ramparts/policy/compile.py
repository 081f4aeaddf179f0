"""Compile a policy into Claude Code 2.1.328 settings (``managed-settings.json``).

The permission rules go in natively (Claude Code enforces them even if the hook were gone), the
lock keys are set, and every event Ramparts handles gets a command hook with
``onFailure: "block"`` so a hook that cannot start, crashes or times out blocks instead of allowing.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from .rules import Rule
from .types import Policy

HOOK_EVENTS = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "SessionStart", "SessionEnd")
_TOOL_EVENTS = ("PreToolUse", "PostToolUse")


def hook_command(
    policy_path: str, state_dir: str | None, *, python: str | None = None, deadline_ms: int | None = None
) -> str:
    """The shell command Claude Code runs: this interpreter, isolated (-I: no cwd or PYTHONPATH on sys.path)
    and without ``site`` (-S), running ``run_hook.py`` of this Ramparts by path (it puts this tree and the
    environment's packages on the path itself, and runs ``ramparts hook``; see its docstring).

    Without ``state_dir`` each user's hook keeps its state in that user's own default directory (the
    right thing for a machine-wide install). ``deadline_ms`` (the policy's ``hook.deadline_ms``)
    bounds the hook before it has read its policy.
    """
    interpreter = python or sys.executable
    parts = [interpreter, "-I", "-S", hook_launcher(), "hook", "--policy", policy_path]
    if state_dir is not None:
        parts += ["--state-dir", state_dir]
    if deadline_ms is not None:
        parts += ["--deadline-ms", str(deadline_ms)]
    return " ".join(shlex.quote(p) for p in parts)


def hook_launcher() -> str:
    """``run_hook.py`` of this Ramparts (the file the installed hook command runs)."""
    import os

    from ..agents import claude_code

    return os.path.join(os.path.dirname(os.path.realpath(claude_code.__file__)), "run_hook.py")


def resident_command(hook: str, *, python: str | None = None, timeout: int, deadline_ms: int) -> str:
    """The thin client of the resident hook server (``hook.resident``), wrapping the full ``hook`` command.

    The client runs with ``-I -S`` (no site: it imports only built-in modules) and falls back to
    ``hook`` whenever the server cannot take the event. ``--wait-ms`` (how long it waits for the
    server before falling back) leaves the fallback its whole deadline within Claude Code's timeout.
    The file run is ``run_hook_client.py``, which imports the client from its cached bytecode (run
    by path, ``hook_client.py`` itself would be compiled on every event).
    """
    import os

    from ..agents.claude_code import hook_client

    interpreter = python or sys.executable
    client = os.path.join(os.path.dirname(os.path.realpath(hook_client.__file__)), "run_hook_client.py")
    wait = max(100, min(1000, (timeout * 1000 - deadline_ms - 500) // 2))
    head = [interpreter, "-I", "-S", client, "--wait-ms", str(wait), "--"]
    return " ".join(shlex.quote(p) for p in head) + " " + hook


def claude_rule(rule: Rule) -> str:
    """The rule as Claude Code should read it; ``/x`` anchored to the policy's folder becomes ``//abs/x``."""
    if rule.kind == "path" and rule.spec.startswith("abs:"):
        return f"{rule.tool}(//{rule.spec[4:].lstrip('/')})"
    return rule.raw


def credential_command(state_dir: str | None, *, python: str | None = None) -> str:
    """The SessionStart hook that mints the session's egress credential into ``$CLAUDE_ENV_FILE``."""
    parts = [python or sys.executable, "-I", "-m", "ramparts", "egress", "credential", "--hook"]
    if state_dir is not None:
        parts += ["--state-dir", state_dir]
    return " ".join(shlex.quote(p) for p in parts)


def managed_settings(policy: Policy, *, command: str, egress_command: str | None = None) -> dict[str, Any]:
    """The settings object for a policy, with hooks running ``command`` (and, with ``egress.proxy`` set,
    ``egress_command`` at SessionStart: :func:`credential_command`)."""
    timeout = policy.hook.timeout
    handler = {"type": "command", "command": command, "timeout": timeout, "onFailure": "block"}
    hooks: dict[str, Any] = {}
    for event in HOOK_EVENTS:
        entry: dict[str, Any] = {"hooks": [dict(handler)]}
        if event in _TOOL_EVENTS:
            entry = {"matcher": "*", **entry}
        hooks[event] = [entry]
    permissions: dict[str, Any] = {
        name: list(dict.fromkeys(claude_rule(r) for r in getattr(policy, name)))
        for name in ("deny", "ask", "allow")
    }
    if policy.settings.disable_bypass_permissions:
        permissions["disableBypassPermissionsMode"] = "disable"
    if policy.settings.default_mode:
        permissions["defaultMode"] = policy.settings.default_mode
    settings: dict[str, Any] = {"permissions": permissions, "hooks": hooks}
    if policy.settings.allow_managed_hooks_only:
        settings["allowManagedHooksOnly"] = True
    if policy.settings.allow_managed_permission_rules_only:
        settings["allowManagedPermissionRulesOnly"] = True
    if policy.settings.env:
        settings["env"] = dict(policy.settings.env)
    if policy.egress.proxy:
        settings.update(egress_settings(policy))
        if egress_command is not None:
            credential = {"type": "command", "command": egress_command, "timeout": timeout}
            hooks["SessionStart"].append({"hooks": [credential]})
    if policy.server:  # the control plane: Claude Code's own telemetry goes to it too (docs/server.md)
        from ..server.config import managed_telemetry

        extra = managed_telemetry(policy.server, command)
        if extra:
            settings["env"] = {**extra["env"], **settings.get("env", {})}  # the policy's own env wins
            settings["otelHeadersHelper"] = extra["otelHeadersHelper"]
    settings.update(mcp_settings(policy))
    return settings


def egress_settings(policy: Policy) -> dict[str, Any]:
    """HIGH-02 in Claude Code's own keys (``egress.proxy`` set): a mandatory sandbox whose network goes
    through ``ramparts egress``, and the proxy in ``env`` for Claude Code's own calls."""
    from ..egress.exports import proxy_env, sandbox_settings

    host, _, port = policy.egress.proxy.rpartition(":")
    env = {**proxy_env(host, int(port)), **dict(policy.settings.env)}
    return {"sandbox": sandbox_settings(policy.egress, port=int(port)), "env": env}


def mcp_settings(policy: Policy) -> dict[str, Any]:
    """MED-04 in Claude Code's own keys: the allowlist (empty blocks every server), the denylist, and
    whether only managed servers may load. With ``mcp.default: allow`` no allowlist is written."""
    out: dict[str, Any] = {}
    if policy.mcp.default != "allow":
        out["allowedMcpServers"] = [{"serverName": server.name} for server in policy.mcp.servers]
    if policy.mcp.denied:
        out["deniedMcpServers"] = [{"serverName": name} for name in policy.mcp.denied]
    if policy.mcp.managed_only:
        out["allowManagedMcpServersOnly"] = True
    return out


def managed_mcp(policy: Policy) -> dict[str, Any] | None:
    """``managed-mcp.json`` for the servers the policy configures (``mcp.servers.NAME.managed``); None
    when it configures none (the file is exclusive: once present, no other server loads)."""
    if not policy.mcp.managed_servers:
        return None
    import json

    return {"mcpServers": {name: json.loads(config) for name, config in policy.mcp.managed_servers}}

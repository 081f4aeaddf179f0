"""Claude Code's managed files: ``managed-settings.json`` (hardened for deployment) and ``managed-mcp.json``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from ..compile import managed_mcp, managed_settings
from . import ArtefactError, Context, artefact

PINNED_VERSION = "2.1.328"


def render(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=False) + "\n").encode("utf-8")


def deployment_settings(context: Context) -> dict[str, Any]:
    """The compiled settings plus what a deployment must also lock: the OS sandbox (failing closed, no
    escape hatch), the egress proxy, telemetry to the collector, the minimum client version, and the
    MCP allowlist closed to user additions."""
    policy, options = context.policy, context.options
    settings = managed_settings(policy, command=options.hook_command)
    permissions = settings["permissions"]
    for name in ("deny", "ask"):
        # Claude Code turns Read/Edit denies into sandbox mounts, expanding globs to the paths that exist at
        # that moment: under /proc those are processes that may be gone when bwrap mounts them, and bwrap
        # then fails every sandboxed command. Ramparts' hook still enforces these rules.
        permissions[name] = [r for r in permissions[name] if not _volatile(r)]
    env = dict(settings.get("env") or {})
    env.update(
        {
            "HTTPS_PROXY": options.egress_proxy,
            "HTTP_PROXY": options.egress_proxy,
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": options.otel_endpoint,
            "OTEL_LOG_TOOL_DETAILS": "1",
        }
    )
    settings["env"] = dict(sorted(env.items()))
    deny_read = sorted(
        {
            r.raw[len("Read(") : -1].removesuffix("/**")
            for r in policy.deny
            if r.tool == "Read" and r.raw.startswith("Read(~/")
        }
    )
    sandbox: dict[str, Any] = {
        "enabled": True,
        "failIfUnavailable": True,
        "allowUnsandboxedCommands": False,
        "autoAllowBashIfSandboxed": False,
        "filesystem": {"denyRead": deny_read, "allowManagedReadPathsOnly": True},
        "network": {"allowManagedDomainsOnly": True},
    }
    proxy = urlsplit(options.egress_proxy)
    if proxy.hostname in ("127.0.0.1", "localhost", "::1") and proxy.port:
        sandbox["network"]["httpProxyPort"] = proxy.port
    settings["sandbox"] = sandbox
    settings["allowManagedMcpServersOnly"] = True
    settings["requiredMinimumVersion"] = PINNED_VERSION
    return settings


def _volatile(rule: str) -> bool:
    return rule.startswith(("Read(//proc/", "Edit(//proc/")) and "*" in rule


def _check_settings(data: bytes) -> None:
    """The compiled settings must lint clean (no posture finding at medium or above)."""
    from ...posture.discovery import Discovery, Source
    from ...posture.findings import rank
    from ...posture.lint import Options, lint

    value = json.loads(data)
    proxy = str((value.get("env") or {}).get("HTTPS_PROXY", ""))
    source = Source("managed", "/etc/claude-code/managed-settings.json", "ok", data=value, text=data.decode())
    discovery = Discovery((source,), home="/home/user", project="/home/user/project")
    problems = [
        f
        for f in lint(discovery, Options(egress_proxy=proxy))
        if rank(f.severity) >= rank("medium") and f.check != "RP013"
    ]
    if problems:
        raise ArtefactError(
            "managed-settings.json: " + "; ".join(f"{f.check} {f.key}: {f.message}" for f in problems)
        )


@artefact(
    "claude-code/managed-settings.json",
    "Claude Code managed settings (copy to /etc/claude-code/)",
    check=_check_settings,
)
def build_settings(context: Context) -> bytes:
    return render(deployment_settings(context))


def wrapped_servers(context: Context) -> dict[str, Any] | None:
    servers = managed_mcp(context.policy)
    if servers is None or not context.options.wrap_mcp:
        return servers
    out: dict[str, Any] = {}
    policy = ["--policy", context.options.policy_arg] if context.options.policy_arg else []
    for name, config in servers["mcpServers"].items():
        if config.get("type", "stdio") == "stdio" and config.get("command"):
            inner = [str(config["command"]), *[str(a) for a in config.get("args") or []]]
            keep = [a for name in sorted(config.get("env") or {}) for a in ("--keep-env", str(name))]
            config = {
                **config,
                "command": context.options.ramparts_bin,
                "args": ["mcp", "wrap", "--server", name, *policy, *keep, "--", *inner],
            }
        out[name] = config
    return {"mcpServers": out}


def _check_mcp(data: bytes) -> None:
    value = json.loads(data)
    servers = value.get("mcpServers")
    if not isinstance(servers, dict):
        raise ArtefactError("managed-mcp.json: mcpServers is not an object")
    for name, config in servers.items():
        kind = config.get("type", "stdio")
        if kind == "stdio" and not isinstance(config.get("command"), str):
            raise ArtefactError(f"managed-mcp.json: stdio server {name} has no command")
        if kind in ("http", "sse") and not str(config.get("url", "")).startswith("https://"):
            raise ArtefactError(f"managed-mcp.json: {kind} server {name} does not use an https URL")


@artefact(
    "claude-code/managed-mcp.json", "the managed MCP servers (exclusive once present)", check=_check_mcp
)
def build_mcp(context: Context) -> bytes | None:
    servers = wrapped_servers(context)
    return None if servers is None else render(servers)

"""The configuration Claude Code 2.1.328 really applies, computed from the discovered sources (pure).

Precedence, high to low: managed > local > project > user (command-line flags are not on disk).
Within the managed tier the first source holding at least one key wins and the others are ignored,
not merged: server-managed, then MDM (plist / HKLM), then the files (``managed-settings.json`` then
``managed-settings.d/*.json`` alphabetically, merged: scalars last-wins, lists union, objects deep
merge), then HKCU. Across tiers lists merge and the higher tier's scalar wins. The managed lock
keys drop the lower tiers' rules (``allowManagedPermissionRulesOnly``), hooks
(``allowManagedHooksOnly``) and MCP allowlist (``allowManagedMcpServersOnly``); managed-only keys are
read from the managed tier alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..policy.rules import RuleList
from .discovery import Discovery, Source

MANAGED_ONLY_KEYS = frozenset(
    {
        "allowManagedHooksOnly",
        "allowManagedPermissionRulesOnly",
        "allowManagedMcpServersOnly",
        "requiredMinimumVersion",
        "requiredMaximumVersion",
        "strictPluginOnlyCustomization",
        "disableSideloadFlags",
        "forceRemoteSettingsRefresh",
        "policyHelper",
    }
)
RULE_LISTS: tuple[RuleList, ...] = ("deny", "ask", "allow")


@dataclass(frozen=True)
class RuleEntry:
    list: RuleList
    rule: str
    source: str


@dataclass(frozen=True)
class HookEntry:
    event: str
    matcher: str
    handler: dict[str, Any]
    source: str


@dataclass(frozen=True)
class Effective:
    settings: dict[str, Any]
    """The merged settings object."""
    origin: dict[str, str]
    """Dotted key -> the file its effective value came from (the last writer)."""
    managed_sources: tuple[str, ...]
    """The files that make up the winning managed source (empty: no managed settings)."""
    ignored_managed: tuple[str, ...]
    """Managed files that hold keys but lose to a higher managed source, or are invalid."""
    rules: tuple[RuleEntry, ...]
    hooks: tuple[HookEntry, ...]
    mcp_servers: tuple[tuple[str, dict[str, Any], str], ...]
    """(name, config, file) of every MCP server configured anywhere that Claude Code would consider."""
    managed_mcp: bool
    """``managed-mcp.json`` exists: only its servers load."""

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.settings
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def where(self, dotted: str, fallback: str = "") -> str:
        while dotted:
            if dotted in self.origin:
                return self.origin[dotted]
            dotted = dotted.rpartition(".")[0]
        return fallback


def obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else empty (Claude Code skips entries of the wrong shape)."""
    return value if isinstance(value, dict) else {}


def seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _merge(
    into: dict[str, Any], data: dict[str, Any], origin: dict[str, str], path: str, prefix: str = ""
) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin, path, dotted + ".")
        elif isinstance(value, list) and isinstance(into.get(key), list):
            merged = list(into[key])
            for item in value:
                if item not in merged:
                    merged.append(item)
            into[key] = merged
            origin[dotted] = path
        else:
            into[key] = _copy(value)
            origin[dotted] = path
            if isinstance(value, dict):
                _mark(value, origin, path, dotted + ".")


def _mark(data: dict[str, Any], origin: dict[str, str], path: str, prefix: str) -> None:
    for key, value in data.items():
        origin[prefix + key] = path
        if isinstance(value, dict):
            _mark(value, origin, path, prefix + key + ".")


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):  # Claude Code's lists are sets: union, deduplicated
        out: list[Any] = []
        for item in value:
            if item not in out:
                out.append(_copy(item))
        return out
    return value


def managed_tier(discovery: Discovery) -> tuple[list[Source], list[Source]]:
    """(the sources of the winning managed source, managed sources ignored). The unreadable ones
    (server-managed, MDM) cannot be judged here; they are assumed empty, as on a Linux machine."""
    files = [s for s in discovery.sources if s.scope in ("managed", "managed-dropin")]
    usable = [s for s in files if s.status == "ok" and s.data]
    ignored = [s for s in files if s.status == "invalid"]
    return usable, ignored


def compute(discovery: Discovery) -> Effective:
    managed, ignored = managed_tier(discovery)
    managed_data: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source in managed:
        assert source.data is not None
        _merge(managed_data, source.data, origin, source.path)
    lower: list[Source] = [
        s
        for scope in ("user", "project", "local")
        for s in discovery.get(scope)
        if s.status == "ok" and s.data
    ]
    settings: dict[str, Any] = {}
    for source in lower:  # user, then project, then local: later (higher) wins
        assert source.data is not None
        data = {k: v for k, v in source.data.items() if k not in MANAGED_ONLY_KEYS}
        _merge(settings, data, origin, source.path)
    _merge(settings, managed_data, origin, "")
    for dotted, path in list(origin.items()):
        if path == "":
            del origin[dotted]
    # re-stamp managed provenance (managed wins for every key it sets)
    for source in managed:
        assert source.data is not None
        _mark(source.data, origin, source.path, "")

    rules_only = managed_data.get("allowManagedPermissionRulesOnly") is True
    hooks_only = managed_data.get("allowManagedHooksOnly") is True
    mcp_only = managed_data.get("allowManagedMcpServersOnly") is True
    rule_sources = managed if rules_only else [*managed, *lower]
    rules: list[RuleEntry] = []
    for source in rule_sources:
        perms = (source.data or {}).get("permissions")
        if isinstance(perms, dict):
            for name in RULE_LISTS:
                for raw in seq(perms.get(name)):
                    if isinstance(raw, str):
                        rules.append(RuleEntry(name, raw, source.path))
    if rules_only:
        perms = settings.setdefault("permissions", {})
        for name in RULE_LISTS:
            perms[name] = [r.rule for r in rules if r.list == name]
    hooks: list[HookEntry] = []
    if managed_data.get("disableAllHooks") is not True:
        hook_sources = managed if hooks_only else [*managed, *lower]
        if not hooks_only and any((s.data or {}).get("disableAllHooks") is True for s in lower):
            hook_sources = managed
        for source in hook_sources:
            block = (source.data or {}).get("hooks")
            if not isinstance(block, dict):
                continue
            for event, groups in block.items():
                for group in groups if isinstance(groups, list) else []:
                    if not isinstance(group, dict):
                        continue
                    for handler in seq(group.get("hooks")):
                        if isinstance(handler, dict):
                            hooks.append(
                                HookEntry(event, str(group.get("matcher", "")), handler, source.path)
                            )
    if mcp_only:
        settings["allowedMcpServers"] = list(seq(managed_data.get("allowedMcpServers")))

    servers: list[tuple[str, dict[str, Any], str]] = []
    mcp_files = [s for s in discovery.get("managed-mcp") if s.status == "ok"]
    if mcp_files:
        for source in mcp_files:
            for server, config in obj((source.data or {}).get("mcpServers")).items():
                servers.append((server, config if isinstance(config, dict) else {}, source.path))
    else:
        for scope in ("user-state", "project-mcp"):
            for source in discovery.get(scope):
                data = source.data or {}
                for server, config in obj(data.get("mcpServers")).items():
                    servers.append((server, config if isinstance(config, dict) else {}, source.path))
                if scope == "user-state":
                    project = obj(obj(data.get("projects")).get(discovery.project))
                    for server, config in obj(project.get("mcpServers")).items():
                        servers.append((server, config if isinstance(config, dict) else {}, source.path))
    return Effective(
        settings=settings,
        origin=origin,
        managed_sources=tuple(s.path for s in managed),
        ignored_managed=tuple(s.path for s in ignored),
        rules=tuple(rules),
        hooks=tuple(hooks),
        mcp_servers=tuple(servers),
        managed_mcp=bool(mcp_files),
    )

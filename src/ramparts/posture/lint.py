"""Lint the effective Claude Code configuration against the review's controls (pure: no I/O).

Every finding names the file and key to change and how; the checks' catalogue is in ``findings``.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass

from ..errors import PolicyError
from ..policy.lint import rule_warning
from ..policy.rules import Rule, RuleList, parse_rule, path_matches
from .discovery import Discovery
from .effective import Effective, compute, obj, seq
from .findings import Finding, Severity

PINNED_VERSION = "2.1.328"
"""The Claude Code release Ramparts is tested against; ``requiredMinimumVersion`` must be at least this."""
DEFAULT_EGRESS_PROXY = "http://127.0.0.1:8789"
"""Where Ramparts' egress proxy listens unless told otherwise (``compile --all --egress-proxy``)."""
RAMPARTS_HOOK_EVENTS = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "SessionStart", "SessionEnd")

INTERPRETERS = frozenset(
    [
        "python",
        "python2",
        "python3",
        "node",
        "nodejs",
        "deno",
        "bun",
        "ruby",
        "perl",
        "php",
        "lua",
        "bash",
        "sh",
        "zsh",
        "dash",
        "ksh",
        "fish",
        "pwsh",
        "powershell",
        "osascript",
        "tclsh",
        "R",
        "Rscript",
        "julia",
        "java",
        "jshell",
        "irb",
    ]
)
RUNNERS = frozenset(
    [
        "pytest",
        "tox",
        "nox",
        "npx",
        "npm",
        "pnpm",
        "yarn",
        "pip",
        "pip3",
        "pipx",
        "uv",
        "uvx",
        "poetry",
        "pdm",
        "hatch",
        "cargo",
        "go",
        "make",
        "cmake",
        "gradle",
        "gradlew",
        "mvn",
        "bundle",
        "rake",
        "composer",
        "dotnet",
        "docker",
        "podman",
        "kubectl",
        "env",
        "xargs",
        "eval",
        "exec",
        "sudo",
        "timeout",
        "nohup",
        "watch",
        "nice",
        "setsid",
        "script",
    ]
)
SHELL_WRAPPERS = INTERPRETERS | frozenset(
    ["env", "xargs", "eval", "exec", "sudo", "timeout", "nohup", "nice", "setsid", "script", "watch"]
)
# Credential files an agent must not read: (description, sample absolute path; {h} is home, {p} the project).
SENSITIVE = (
    (".env", "{p}/.env"),
    (".env.* variants", "{p}/.env.production"),
    ("*.pem", "{p}/certs/server.pem"),
    ("*.key", "{p}/certs/tls.key"),
    ("~/.ssh keys", "{h}/.ssh/id_ed25519"),
    ("~/.aws credentials", "{h}/.aws/credentials"),
    ("~/.config/gcloud", "{h}/.config/gcloud/application_default_credentials.json"),
    ("~/.kube/config", "{h}/.kube/config"),
    ("~/.docker/config.json", "{h}/.docker/config.json"),
    ("~/.git-credentials", "{h}/.git-credentials"),
    (".npmrc", "{p}/.npmrc"),
)
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class Options:
    pinned_version: str = PINNED_VERSION
    egress_proxy: str = DEFAULT_EGRESS_PROXY


class _Out:
    def __init__(self, effective: Effective) -> None:
        self.findings: list[Finding] = []
        self.effective = effective
        self.managed_file = (
            effective.managed_sources[0]
            if effective.managed_sources
            else "/etc/claude-code/managed-settings.json"
        )

    def add(self, check: str, severity: Severity, key: str, message: str, fix: str, file: str = "") -> None:
        where = file or self.effective.where(key, self.managed_file)
        self.findings.append(Finding(check, severity, where, key, message, fix))


def lint(discovery: Discovery, options: Options = Options()) -> list[Finding]:
    effective = compute(discovery)
    out = _Out(effective)
    _managed(discovery, effective, out)
    _bypass(effective, out)
    _hooks(discovery, effective, out)
    _rules(discovery, effective, out)
    _sensitive(discovery, effective, out)
    _mcp(effective, out)
    _sandbox(effective, out)
    _proxy(effective, out, options)
    _telemetry(effective, out, options)
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
    return sorted(out.findings, key=lambda f: (order[f.severity], f.check, f.file, f.key, f.message))


def _managed(discovery: Discovery, effective: Effective, out: _Out) -> None:
    for source in discovery.sources:
        if source.scope in ("managed", "managed-dropin", "managed-mcp") and source.status in (
            "invalid",
            "unreadable",
        ):
            out.add(
                "RP002",
                "critical",
                "",
                f"{source.path}: {source.error}; Claude Code skips it",
                "rewrite it as a JSON object (`ramparts install` writes a valid one)",
                file=source.path,
            )
    if not effective.managed_sources:
        out.add(
            "RP001",
            "critical",
            "",
            "no managed-settings.json (or drop-in) with any key was found",
            "run `ramparts install --scope managed` (writes /etc/claude-code/managed-settings.json)",
            file="/etc/claude-code/managed-settings.json",
        )


def _bypass(effective: Effective, out: _Out) -> None:
    if effective.get("permissions.defaultMode") == "bypassPermissions":
        out.add(
            "RP003",
            "critical",
            "permissions.defaultMode",
            "defaultMode is bypassPermissions: no rule is asked",
            'set "defaultMode": "default" in the managed permissions',
        )
    managed_value = _managed_value(effective, "permissions.disableBypassPermissionsMode")
    if managed_value != "disable":
        out.add(
            "RP003",
            "high",
            "permissions.disableBypassPermissionsMode",
            "bypass-permissions mode is available"
            + ("" if managed_value is None else f" (value {managed_value!r})"),
            'set "permissions": {"disableBypassPermissionsMode": "disable"} in managed-settings.json',
        )


def _managed_value(effective: Effective, key: str) -> object:
    """The effective value of ``key`` when it comes from the managed tier, else None."""
    if effective.where(key) in effective.managed_sources:
        return effective.get(key)
    return None


def _is_ramparts_hook(command: str) -> bool:
    try:
        argv = shlex.split(command)
    except ValueError:
        return False
    joined = " ".join(argv)
    return bool(
        re.search(r"(^|\s)-m ramparts hook(\s|$)", joined)
        or re.search(r"(^|/)run_hook\.py hook(\s|$)", joined)
        or ("hook_client.py" in joined and " hook " in f" {joined} ")
    ) or (len(argv) > 1 and argv[0].endswith("/ramparts") and argv[1] == "hook")


def _hooks(discovery: Discovery, effective: Effective, out: _Out) -> None:
    if _managed_value(effective, "disableAllHooks") is True:
        out.add(
            "RP014",
            "critical",
            "disableAllHooks",
            "disableAllHooks is true in the managed scope",
            "remove disableAllHooks from the managed settings",
        )
    if _managed_value(effective, "allowManagedHooksOnly") is not True:
        out.add(
            "RP010",
            "high",
            "allowManagedHooksOnly",
            "allowManagedHooksOnly is not true",
            'set "allowManagedHooksOnly": true in managed-settings.json',
        )
    for hook in effective.hooks:
        if (
            hook.handler.get("type", "command") == "command"
            and hook.event in ("PreToolUse", "UserPromptSubmit", "PostToolUse")
            and hook.handler.get("onFailure") != "block"
        ):
            out.add(
                "RP011",
                "high",
                f"hooks.{hook.event}",
                f"{hook.event} hook {str(hook.handler.get('command', ''))[:80]!r} has no onFailure: block",
                'add "onFailure": "block" to the handler',
                file=hook.source,
            )
    for event in RAMPARTS_HOOK_EVENTS:
        ours = [
            h
            for h in effective.hooks
            if h.event == event
            and h.source in effective.managed_sources
            and _is_ramparts_hook(str(h.handler.get("command", "")))
        ]
        if not ours:
            out.add(
                "RP012",
                "high",
                f"hooks.{event}",
                f"no managed Ramparts hook handles {event}",
                "install the compiled settings: `ramparts install --scope managed`",
            )
        elif event in ("PreToolUse", "PostToolUse") and not any(h.matcher in ("*", "") for h in ours):
            out.add(
                "RP012",
                "high",
                f"hooks.{event}",
                f"Ramparts' {event} hook only sees tools matching {ours[0].matcher!r}",
                'use "matcher": "*"',
            )
    # the managed file must still be what `ramparts install` wrote (its sidecar holds the SHA-256)
    for source in discovery.get("managed"):
        if source.status != "ok" or not any(
            _is_ramparts_hook(str(h.handler.get("command", ""))) for h in effective.hooks
        ):
            continue
        recorded = discovery.install_record.get("managed-settings.json")
        digest = hashlib.sha256(source.text.encode("utf-8")).hexdigest()
        if recorded is None:
            out.add(
                "RP013",
                "medium",
                "",
                "no install record beside the managed settings (not written by `ramparts install`)",
                "write it with `ramparts install --scope managed`",
                file=source.path,
            )
        elif recorded != digest:
            out.add(
                "RP013",
                "high",
                "",
                "the managed settings were edited after `ramparts install` wrote them",
                "review the change, then `ramparts install --scope managed --force`",
                file=source.path,
            )


def _rule(raw: str, list_: RuleList, base_dir: str) -> Rule | str:
    try:
        return parse_rule(raw, list_=list_, base_dir=base_dir)
    except PolicyError as exc:
        return str(exc)


def _rules(discovery: Discovery, effective: Effective, out: _Out) -> None:
    for entry in effective.rules:
        base = (
            entry.source.rsplit("/.claude/", 1)[0]
            if "/.claude/" in entry.source
            else entry.source.rsplit("/", 1)[0]
        )
        rule = _rule(entry.rule, entry.list, base)
        if isinstance(rule, str):
            out.add(
                "RP020",
                "high" if entry.list == "deny" else "low",
                f"permissions.{entry.list}",
                f"{entry.rule}: {rule}",
                "fix the rule's syntax",
                file=entry.source,
            )
            continue
        warning = rule_warning(rule)
        if warning:
            out.add(
                "RP020",
                "high" if entry.list == "deny" else "medium" if entry.list == "ask" else "low",
                f"permissions.{entry.list}",
                f"{entry.rule}: {warning}",
                "rewrite the rule as suggested",
                file=entry.source,
            )
        if entry.list != "allow":
            continue
        if rule.tool in ("Bash", "PowerShell") and rule.kind == "tool":
            out.add(
                "RP030",
                "critical",
                "permissions.allow",
                f"{entry.rule} allows every shell command",
                "remove it; allow read-only commands by name (Bash(ls *), Bash(git status *))",
                file=entry.source,
            )
            continue
        if rule.kind != "command":
            continue
        spec: str = rule.spec
        words = spec.split()
        if not words:
            continue
        first = words[0].rsplit("/", 1)[-1]
        wide = spec.endswith("*")
        if first == "git" and (len(words) == 1 or words[1] == "*" or words[1].startswith("*")):
            out.add(
                "RP031",
                "high",
                "permissions.allow",
                f"{entry.rule} allows git push, push --force, reset --hard",
                "allow read-only subcommands by name (Bash(git status *), Bash(git diff *), Bash(git log *))",
                file=entry.source,
            )
        elif (first in INTERPRETERS or first in RUNNERS) and wide:
            kind = "an interpreter" if first in INTERPRETERS else "a package runner / build tool"
            out.add(
                "RP030",
                "high",
                "permissions.allow",
                f"{entry.rule}: {first} is {kind}; any code it runs is allowed without a prompt",
                f"move it to ask, or allow exact commands only (e.g. Bash({first} test))",
                file=entry.source,
            )


def _sensitive(discovery: Discovery, effective: Effective, out: _Out) -> None:
    home, project = discovery.home.rstrip("/"), discovery.project.rstrip("/")
    denies: list[Rule] = []
    for entry in effective.rules:
        if entry.list != "deny":
            continue
        base = (
            entry.source.rsplit("/.claude/", 1)[0]
            if "/.claude/" in entry.source
            else entry.source.rsplit("/", 1)[0]
        )
        rule = _rule(entry.rule, "deny", base)
        if not isinstance(rule, str) and rule.tool == "Read" and rule.kind in ("path", "tool"):
            denies.append(rule)
    read_denies = bool(denies)
    for label, sample in SENSITIVE:
        path = sample.format(h=home, p=project)
        if not any(r.kind == "tool" or path_matches(r, path, project, home) for r in denies):
            out.add(
                "RP040",
                "high",
                "permissions.deny",
                f"no Read deny covers {label} (e.g. {path})",
                f"add a Read(...) deny for {label} in the managed permissions (e.g. the baseline profile's)",
            )
    hooked = any(
        h.event == "PreToolUse" and _is_ramparts_hook(str(h.handler.get("command", "")))
        for h in effective.hooks
    )
    deny_read = seq(effective.get("sandbox.filesystem.denyRead"))
    sandboxed = effective.get("sandbox.enabled") is True and bool(deny_read)
    if read_denies and not hooked and not sandboxed:
        out.add(
            "RP041",
            "high",
            "permissions.deny",
            "Read(...) denies are the only guard: `cat sec*.env`, `tail secret*` and `python -c` read past them",
            "install Ramparts' PreToolUse hook (it parses the command) and list the paths in sandbox.filesystem.denyRead",
        )


def _allowlisted(name: str, config: dict[str, object], allow: list[object]) -> bool:
    for entry in allow:
        if not isinstance(entry, dict):
            continue
        if entry.get("serverName") == name:
            return True
        command = entry.get("serverCommand")
        argv = [config.get("command"), *_list(config.get("args"))]
        if isinstance(command, list) and config.get("command") is not None and command == argv:
            return True
        url = entry.get("serverUrl")
        if isinstance(url, str) and isinstance(config.get("url"), str):
            pattern = re.escape(url).replace(r"\*", ".*")
            if re.fullmatch(pattern, str(config.get("url"))):
                return True
    return False


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _mcp(effective: Effective, out: _Out) -> None:
    if effective.get("enableAllProjectMcpServers") is True:
        out.add(
            "RP050",
            "high",
            "enableAllProjectMcpServers",
            "enableAllProjectMcpServers is true",
            "remove it; approve servers by name in the managed allowedMcpServers",
        )
    allow = effective.get("allowedMcpServers")
    for name, config, source in effective.mcp_servers:
        if not isinstance(allow, list):  # absent, or not a list Claude Code could read: no allowlist
            out.add(
                "RP051",
                "high",
                "mcpServers",
                f"MCP server {name!r} loads with no allowlist in force",
                'set a managed "allowedMcpServers" list (an empty list blocks every server)',
                file=source,
            )
        elif not _allowlisted(name, config, allow):
            out.add(
                "RP051",
                "low",
                "mcpServers",
                f"MCP server {name!r} is not in the allowlist (Claude Code refuses it)",
                "remove it, or have an administrator approve it in the policy's mcp.servers",
                file=source,
            )
    if not effective.managed_mcp and _managed_value(effective, "allowManagedMcpServersOnly") is not True:
        out.add(
            "RP052",
            "medium",
            "allowManagedMcpServersOnly",
            "user and project allowedMcpServers entries merge into the managed allowlist",
            'set "allowManagedMcpServersOnly": true (or ship a managed-mcp.json)',
        )


def _sandbox(effective: Effective, out: _Out) -> None:
    if effective.get("sandbox.enabled") is not True:
        out.add(
            "RP060",
            "medium",
            "sandbox.enabled",
            "the Bash sandbox is not enabled",
            'set "sandbox": {"enabled": true, "failIfUnavailable": true, "allowUnsandboxedCommands": false}',
        )
        return
    if effective.get("sandbox.failIfUnavailable") is not True:
        out.add(
            "RP061",
            "high",
            "sandbox.failIfUnavailable",
            "sandbox.failIfUnavailable is not true",
            'set "failIfUnavailable": true (Claude Code then refuses to start without bubblewrap and socat)',
        )
    if effective.get("sandbox.allowUnsandboxedCommands") is not False:
        out.add(
            "RP062",
            "high",
            "sandbox.allowUnsandboxedCommands",
            "sandbox.allowUnsandboxedCommands is not false",
            'set "allowUnsandboxedCommands": false',
        )
    if effective.get("sandbox.enableWeakerNestedSandbox") is True:
        out.add(
            "RP063",
            "high",
            "sandbox.enableWeakerNestedSandbox",
            "enableWeakerNestedSandbox is true",
            "remove it; run Claude Code where bubblewrap can create namespaces",
        )
    for rule in effective.rules:
        if (
            rule.list in ("deny", "ask")
            and rule.rule.startswith(("Read(//proc/", "Edit(//proc/"))
            and "*" in rule.rule
        ):
            out.add(
                "RP065",
                "medium",
                f"permissions.{rule.list}",
                f"{rule.rule}: with the sandbox on, Bash commands fail (bwrap: Can't mkdir parents for /proc/PID/...)",
                "drop the rule from the settings and leave it to Ramparts' hook (compile --all does)",
                file=rule.source,
            )
    for entry in seq(effective.get("sandbox.excludedCommands")):
        text = str(entry).replace(":*", " *")
        head = text.split()[0].rsplit("/", 1)[-1] if text.split() else "*"
        if head in ("*", "") or head in SHELL_WRAPPERS:
            out.add(
                "RP064",
                "high",
                "sandbox.excludedCommands",
                f"excludedCommands entry {entry!r} runs arbitrary commands unsandboxed "
                f"(`{head} -c '… && curl …'` matches it as one command)",
                "remove it; exclude only specific tools that cannot run other commands",
            )


def _proxy(effective: Effective, out: _Out, options: Options) -> None:
    env = obj(effective.get("env"))
    value = env.get("HTTPS_PROXY") or env.get("https_proxy")
    if not value:
        out.add(
            "RP070",
            "high",
            "env.HTTPS_PROXY",
            "no HTTPS_PROXY in the settings env block",
            f'set "env": {{"HTTPS_PROXY": "{options.egress_proxy}"}} in the managed settings',
        )
        return
    if str(value).rstrip("/") != options.egress_proxy.rstrip("/"):
        out.add(
            "RP071",
            "high",
            "env.HTTPS_PROXY",
            f"HTTPS_PROXY points at {_host_only(str(value))}, not Ramparts' egress proxy {options.egress_proxy}",
            f"set HTTPS_PROXY (and HTTP_PROXY) to {options.egress_proxy}, or pass --egress-proxy if it listens elsewhere",
        )
    if effective.where("env.HTTPS_PROXY") not in effective.managed_sources:
        out.add(
            "RP070",
            "medium",
            "env.HTTPS_PROXY",
            "HTTPS_PROXY is set outside the managed scope; the user can change it",
            "set it in the managed settings' env block",
        )


def _host_only(url: str) -> str:
    """The proxy URL without credentials (``user:pass@`` would be a secret in a report)."""
    return re.sub(r"//[^/@]*@", "//", url)


def _version(text: str) -> tuple[int, ...] | None:
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?", text.strip())
    return tuple(int(g) for g in match.groups()) if match else None


def _telemetry(effective: Effective, out: _Out, options: Options) -> None:
    env = obj(effective.get("env"))
    on = str(env.get("CLAUDE_CODE_ENABLE_TELEMETRY", "")).strip().lower() in _TRUE
    exporter = str(env.get("OTEL_LOGS_EXPORTER", ""))
    if not on or "otlp" not in exporter:
        what = (
            "CLAUDE_CODE_ENABLE_TELEMETRY is not 1" if not on else "OTEL_LOGS_EXPORTER does not include otlp"
        )
        out.add(
            "RP080",
            "medium",
            "env.CLAUDE_CODE_ENABLE_TELEMETRY",
            f"telemetry is off: {what}",
            "set CLAUDE_CODE_ENABLE_TELEMETRY=1, OTEL_LOGS_EXPORTER=otlp, OTEL_EXPORTER_OTLP_PROTOCOL and "
            "OTEL_EXPORTER_OTLP_ENDPOINT in the managed env",
        )
    days = effective.get("cleanupPeriodDays")
    if isinstance(days, int) and not isinstance(days, bool) and days < 30:
        out.add(
            "RP082",
            "low",
            "cleanupPeriodDays",
            f"cleanupPeriodDays is {days}: session transcripts are deleted before an incident can be reviewed",
            "remove it (default 30 days) or raise it to your incident-review window",
        )
    pinned = _version(options.pinned_version)
    value = _managed_value(effective, "requiredMinimumVersion")
    if value is None:
        out.add(
            "RP081",
            "medium",
            "requiredMinimumVersion",
            "requiredMinimumVersion is not set",
            f'set "requiredMinimumVersion": "{options.pinned_version}"',
        )
    else:
        current = _version(str(value))
        if current is None or (pinned is not None and current < pinned):
            out.add(
                "RP081",
                "medium",
                "requiredMinimumVersion",
                f"requiredMinimumVersion {value!r} is below the pinned {options.pinned_version}",
                f'set "requiredMinimumVersion": "{options.pinned_version}"',
            )

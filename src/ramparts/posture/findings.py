"""The posture findings' catalogue: stable ids, default severities, the CRBRS control each maps to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")


def rank(severity: str) -> int:
    return ("info", "low", "medium", "high", "critical").index(severity)


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    crbrs: str
    help: str


@dataclass(frozen=True)
class Finding:
    check: str
    severity: Severity
    file: str
    key: str
    message: str
    fix: str

    @property
    def crbrs(self) -> str:
        return CHECKS[self.check].crbrs

    @property
    def title(self) -> str:
        return CHECKS[self.check].title


_CHECKS: tuple[Check, ...] = (
    Check(
        "RP001",
        "No managed settings",
        "BASE",
        "Without a managed source every control is a user preference the user (or the agent) can change.",
    ),
    Check(
        "RP002",
        "Managed settings file unusable",
        "BASE",
        "A managed file that is not a JSON object is skipped by Claude Code: its controls are not applied.",
    ),
    Check(
        "RP003",
        "Bypass-permissions mode not disabled",
        "BASE",
        "--dangerously-skip-permissions (and agents declaring bypassPermissions) skip every permission rule.",
    ),
    Check(
        "RP010",
        "Hooks can be overridden or added",
        "BASE",
        "Without allowManagedHooksOnly, user, project and local hooks run beside the managed ones "
        "(in -p, a cloned repository's hooks run without a trust prompt).",
    ),
    Check(
        "RP011",
        "Gate hook fails open",
        "BASE",
        "A command hook without onFailure: block lets the tool run when it crashes, times out or is missing.",
    ),
    Check(
        "RP012",
        "Ramparts' hook missing",
        "CRIT-02",
        "The events Ramparts screens (secrets, injection, git, sessions) are not sent to its hook.",
    ),
    Check(
        "RP013",
        "Managed settings are not what Ramparts compiled",
        "BASE",
        "The managed file was changed after `ramparts install` wrote it (or Ramparts did not write it).",
    ),
    Check(
        "RP014", "All hooks disabled", "BASE", "disableAllHooks in the managed scope turns off every hook."
    ),
    Check(
        "RP020",
        "Permission rule that can never match",
        "BASE",
        "Claude Code reads the rule differently from what it says, so the rule protects nothing.",
    ),
    Check(
        "RP030",
        "Allow rule grants arbitrary execution",
        "CRIT-02",
        "An interpreter, package runner or build tool allowed by prefix runs any code without a prompt.",
    ),
    Check(
        "RP031",
        "Allow rule lets the agent push",
        "HIGH-03",
        "Bash(git:*) / Bash(git *) allows git push, force pushes and history rewrites without review.",
    ),
    Check(
        "RP040",
        "Sensitive file not denied",
        "CRIT-01",
        "No Read deny covers a credential file, so the agent reads it and its content reaches the model.",
    ),
    Check(
        "RP041",
        "Sensitive-file denies bypassable by shell readers",
        "CRIT-01",
        "Read(...) denies do not stop `cat sec*.env`, `python -c open(...)` and other subprocesses; "
        "only a hook that parses the shell command or the OS sandbox's denyRead closes that.",
    ),
    Check(
        "RP050",
        "All project MCP servers enabled",
        "MED-04",
        "enableAllProjectMcpServers loads every server a cloned repository's .mcp.json declares.",
    ),
    Check(
        "RP051",
        "MCP server outside the allowlist",
        "MED-04",
        "An MCP server is configured that no managed allowlist entry approves.",
    ),
    Check(
        "RP052",
        "MCP allowlist can be widened",
        "MED-04",
        "Without allowManagedMcpServersOnly (or a managed-mcp.json), user and project allowlists merge in.",
    ),
    Check(
        "RP060",
        "Sandbox not enabled",
        "CRIT-02",
        "Bash runs without the OS sandbox: file writes and network are limited only by permission rules.",
    ),
    Check(
        "RP061",
        "Sandbox fails open",
        "CRIT-02",
        "sandbox.failIfUnavailable is not true: without bubblewrap/socat Claude Code silently runs unsandboxed.",
    ),
    Check(
        "RP062",
        "Sandbox escape hatch open",
        "CRIT-02",
        "sandbox.allowUnsandboxedCommands is not false: the model may retry with dangerouslyDisableSandbox.",
    ),
    Check(
        "RP063",
        "Weaker nested sandbox",
        "CRIT-02",
        "enableWeakerNestedSandbox considerably weakens isolation (meant for Docker without privileges).",
    ),
    Check(
        "RP064",
        "excludedCommands entry unsandboxes arbitrary commands",
        "CRIT-02",
        "An entry matching a shell, interpreter or wrapper runs whole compound commands outside the sandbox.",
    ),
    Check(
        "RP070",
        "No egress proxy",
        "HIGH-02",
        "HTTPS_PROXY is not set in the managed env: the agent's tools reach the network directly.",
    ),
    Check(
        "RP071",
        "Egress proxy is not Ramparts'",
        "HIGH-02",
        "Traffic goes to a proxy that does not apply Ramparts' egress allowlist and DLP.",
    ),
    Check(
        "RP080",
        "Telemetry off",
        "HIGH-01",
        "CLAUDE_CODE_ENABLE_TELEMETRY is not on with an OTLP logs exporter: no audit events leave the machine.",
    ),
    Check(
        "RP081",
        "Minimum version not pinned",
        "BASE",
        "requiredMinimumVersion unset or below the pinned release: older clients lack onFailure and fixes.",
    ),
    Check(
        "RP065",
        "Deny glob under /proc breaks the sandbox",
        "CRIT-02",
        "Claude Code mounts over each path a Read/Edit deny glob matches when it starts the sandbox; under "
        "/proc those processes may be gone by then and bwrap fails every sandboxed command.",
    ),
    Check(
        "RP082",
        "Transcripts deleted early",
        "MED-02",
        "A short cleanupPeriodDays deletes the local transcripts incident review replays a session from.",
    ),
)
CHECKS: dict[str, Check] = {c.id: c for c in _CHECKS}

# How each CRBRS control bears on the audit frameworks the HTML report maps to.
COMPLIANCE: dict[str, tuple[str, str, str]] = {
    # crbrs: (PCI DSS v4.0 Req. 10, ISO/IEC 27001:2022 A.8.15, SOC 2 CC7)
    "BASE": (
        "10.2.1 audit logs enabled and active; 10.7.2 failures of critical security controls detected",
        "A.8.15 logs of user activities and exceptions are produced and cannot be turned off by users",
        "CC7.1 configuration changes that introduce vulnerabilities are detected",
    ),
    "CRIT-01": (
        "10.2.1.2 actions by administrative or privileged accounts logged (agent reads of credentials)",
        "A.8.15 logging of access to sensitive information",
        "CC7.2 monitoring of system components for anomalies (data exposure)",
    ),
    "CRIT-02": (
        "10.2.1 audit logs of every agent action; 10.7.2 security-control failures detected",
        "A.8.15 logs record the agent's activities, exceptions and faults",
        "CC7.2 anomalies indicative of malicious acts are monitored",
    ),
    "HIGH-01": (
        "10.2 audit logs implemented; 10.3.3 logs promptly backed up to a central server",
        "A.8.15 logs are produced, stored, protected and analysed",
        "CC7.2 monitoring; CC7.3 security events evaluated",
    ),
    "HIGH-02": (
        "10.2.1 network activity attributable to a session is logged",
        "A.8.15 logging of network access by the agent",
        "CC7.2 unauthorised network connections detected",
    ),
    "HIGH-03": (
        "10.2.1.2 changes to code by privileged actors logged and reviewable",
        "A.8.15 logging of changes to information systems",
        "CC7.1 unauthorised changes detected",
    ),
    "MED-02": (
        "10.5.1 audit log history retained (at least three months immediately available)",
        "A.8.15 logs are retained for the period the organisation requires",
        "CC7.4 incidents are responded to (the session's record must still exist)",
    ),
    "MED-04": (
        "10.2.1 activity of third-party components (MCP servers) logged",
        "A.8.15 logging of third-party tool activity",
        "CC7.1 new components and configuration changes detected",
    ),
}

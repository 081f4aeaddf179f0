"""``ramparts policy check``: rules that cannot do what they say in Claude Code, and weakened settings."""

from __future__ import annotations

from typing import NamedTuple

from .rules import EDIT_TOOLS, READ_TOOLS, SHELL_TOOLS, Rule
from .types import Policy


class Warning_(NamedTuple):
    rule_id: str
    line: int
    source: str
    message: str


def lint(policy: Policy) -> list[Warning_]:
    out: list[Warning_] = []
    for rule in (*policy.deny, *policy.ask, *policy.allow):
        message = rule_warning(rule)
        if message:
            out.append(Warning_(rule.id, rule.line, policy.source, f"{rule.raw}: {message}"))
    if policy.mode == "report":
        out.append(Warning_("mode", 0, policy.source, "mode is report: Ramparts logs but enforces nothing"))
    if not policy.settings.allow_managed_hooks_only:
        out.append(
            Warning_(
                "settings.allow_managed_hooks_only",
                0,
                policy.source,
                "allow_managed_hooks_only is false: user and project hooks run beside Ramparts' hook",
            )
        )
    if not policy.settings.disable_bypass_permissions:
        out.append(
            Warning_(
                "settings.disable_bypass_permissions",
                0,
                policy.source,
                "disable_bypass_permissions is false: --dangerously-skip-permissions stays available",
            )
        )
    return out


def rule_warning(rule: Rule) -> str:
    """Why Claude Code will not apply ``rule`` as written, or '' when it will."""
    inner = rule.raw[rule.raw.find("(") + 1 : -1] if "(" in rule.raw else ""
    if rule.tool in SHELL_TOOLS and rule.kind == "command":
        body = inner[:-2] if inner.endswith(":*") else inner
        if ":" in body:
            fixed = body.replace(":", " ")
            return (
                "a colon inside a Bash rule is literal, so this matches nothing in Claude Code "
                f"(only a final ':*' is a prefix marker); did you mean {rule.tool}({fixed} *)?"
            )
    if rule.kind == "path" or (rule.kind == "never" and rule.tool in READ_TOOLS | EDIT_TOOLS):
        if rule.tool not in ("Read", "Edit"):
            family = "Edit" if rule.tool in EDIT_TOOLS else "Read"
            return (
                f"Claude Code never checks {rule.tool}(...) path rules (only Read(...) and Edit(...)); "
                f"use {family}({inner}). Ramparts' hook enforces it, Claude Code's own rules do not"
            )
        if inner.startswith("/") and not inner.startswith("//"):
            return (
                f"a single leading '/' is relative to the settings file, not absolute; "
                f"write {rule.tool}(/{inner}) for the absolute path"
            )
    if rule.kind == "never":
        return f"Claude Code does not understand this specifier for {rule.tool}, so the rule matches nothing"
    if rule.list == "allow" and rule.kind == "tool_glob":
        return "Claude Code skips tool-name globs in allow rules; name the tool (or mcp__server__ prefix)"
    if rule.list == "allow" and rule.kind == "param":
        return "parameter rules count for deny and ask only; in allow they match nothing"
    return ""

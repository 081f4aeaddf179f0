"""The one decision function: ``decide(policy, event, state) -> Decision``. Pure: no I/O, no clock.

Precedence is Claude Code's: any matching deny wins, then any ask, then allow; a tool call no
rule speaks about gets the policy's ``permissions.default``. A shell command is allowed only if
every simple command in it is allowed and nothing in it is opaque. Every step is written to the
decision's trace so ``ramparts explain`` can show the reasoning.
"""

from __future__ import annotations

from . import rule_ids as rids
from .controls import (
    Hit,
    catastrophic_hits,
    content_hits,
    egress_hits,
    git_hits,
    mcp_hits,
    outbound_hits,
    reauth_hits,
    session_hits,
    taint_hits,
    url_host,
)
from .model import Decision
from .policy.rules import (
    EDIT_TOOLS,
    READ_TOOLS,
    SHELL_TOOLS,
    Rule,
    command_matches,
    command_matches_any_flag_order,
    domain_matches,
    name_variants,
    param_matches,
    path_matches,
    path_may_match_below,
    tool_name_matches,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .gateway.decide import Facts, Limits, Refusal
    from .model import Event, SessionState, ToolCall, Verdict
    from .policy.types import Policy

READ_ONLY_RULE = Rule(
    id=rids.SHELL_READ_ONLY,
    list="allow",
    raw="read-only command (shell.allow_read_only)",
    tool="Bash",
    kind="command",
)
"""Stands for the read-only table when it is what allows a command."""
MCP_RULE = Rule(id=rids.MCP_ALLOWLIST, list="allow", raw="mcp.servers allowlist", tool="mcp__*", kind="never")
"""Stands for the policy's MCP allowlist when it is what allows an MCP tool."""
GATES = frozenset({rids.SESSION_REAUTH, rids.SESSION_TAINTED})
"""Control asks that only hold back a call that would otherwise be allowed or asked."""
_DEV_FILES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"})


def decide(policy: Policy, event: Event, state: SessionState) -> Decision:
    """Decide one event: a tool call before it runs, a prompt, a tool result, a session start or end."""
    hits = session_hits(policy, event, state)
    if event.kind == "pre_tool_use":
        if event.tool is None:
            return Decision(
                reasons=("pre_tool_use event without a tool call",), policy_revision=policy.revision
            )
        return _decide_tool(policy, event, event.tool, state, hits)
    hits.extend(content_hits(policy, event))
    trace = [f"{event.kind} event"]
    trace.extend(f"{hit.list} {hit.rule_id}: {hit.reason}" for hit in hits)
    blocking = [hit for hit in hits if hit.list in ("deny", "ask")]  # nobody can be asked here: ask blocks
    verdict: Verdict = "deny" if blocking else "allow"
    if blocking:
        reasons = tuple(hit.reason for hit in blocking)
        rule_ids = tuple(hit.rule_id for hit in blocking)
    else:
        reasons = (f"{event.kind}: nothing to stop",)
        rule_ids = ()
    return _finish(
        policy,
        verdict,
        reasons,
        rule_ids,
        trace,
        warnings=tuple(hit.reason for hit in hits if hit.list == "warn"),
        effects=tuple(hit.effect for hit in hits if hit.effect is not None),
    )


def _finish(
    policy: Policy,
    verdict: Verdict,
    reasons: tuple[str, ...],
    rule_ids: tuple[str, ...],
    trace: list[str],
    *,
    warnings: tuple[str, ...] = (),
    effects: tuple[tuple[str, str], ...] = (),
) -> Decision:
    trace.append(f"decision: {verdict}")
    if policy.mode == "report" and verdict != "allow":
        trace.append(f"report mode: would {verdict}, letting Claude Code's own permission flow decide")
        return Decision(
            verdict="allow",
            reasons=(f"report mode, would {verdict}: " + "; ".join(reasons),),
            rule_ids=rule_ids,
            policy_revision=policy.revision,
            trace=tuple(trace),
            enforced=False,
            would_verdict=verdict,
            warnings=warnings,
        )
    return Decision(
        verdict=verdict,
        reasons=reasons,
        rule_ids=rule_ids,
        policy_revision=policy.revision,
        trace=tuple(trace),
        warnings=warnings,
        effects=effects,
    )


def _decide_tool(
    policy: Policy, event: Event, call: ToolCall, state: SessionState, controls: list[Hit]
) -> Decision:
    trace: list[str] = [f"tool {call.name}"]
    if call.commands:
        trace.append("commands: " + " | ".join(c.text for c in call.commands))
    if call.accesses:
        trace.append("files: " + ", ".join(f"{a.mode} {a.path} ({a.via})" for a in call.accesses))
    hits: dict[Verdict, list[tuple[Rule, str]]] = {"deny": [], "ask": []}
    for list_name, rules in (("deny", policy.deny), ("ask", policy.ask)):
        for rule in rules:
            why = _applies(rule, call, event, fold=policy.paths_ignore_case)
            if why:
                hits[list_name].append((rule, why))  # type: ignore[index]
                trace.append(f"{list_name} rule {rule.raw!r} matches: {why}")
    mcp, mcp_allows = mcp_hits(policy, call, event)
    controls = [
        *controls,
        *content_hits(policy, event),
        *mcp,
        *git_hits(policy, call, event),
        *catastrophic_hits(call, event),
        *outbound_hits(policy, call, event),
        *egress_hits(policy, call),
        *taint_hits(policy, call, state),
        *reauth_hits(policy, call, event, state),
    ]
    warnings: list[str] = []
    gates: list[Hit] = []  # asks that hold back what would otherwise run; they never soften a deny
    for hit in controls:
        trace.append(f"{hit.list} {hit.rule_id}: {hit.reason}")
        if hit.list == "warn":
            warnings.append(hit.reason)
        elif hit.list == "ask" and hit.rule_id in GATES:
            gates.append(hit)
        else:
            rule = Rule(id=hit.rule_id, list=hit.list, raw=hit.rule_id, tool=call.name, kind="never")
            hits[hit.list].append((rule._replace(spec="file") if hit.file else rule, hit.reason))
    if not hits["deny"]:
        for rule, why in _recursive_hits(policy, call, event):
            hits["ask"].append((rule, why))
            trace.append(f"recursive read: {why}")
    if call.hosts:
        trace.append("contacts: " + ", ".join(call.hosts))
        protected = [
            (rule, why)
            for rule, why in (*hits["deny"], *hits["ask"])
            if rule.kind == "path" or (rule.kind == "never" and rule.spec == "file")
        ]
        if protected:
            rule, why = protected[0]
            exfil = f"exfiltration attempt: {why} and sends to {', '.join(call.hosts)}"
            hits["deny"].insert(0, (rule._replace(id=rids.SHELL_EXFILTRATION, raw=rule.raw), exfil))
            trace.append(exfil)
    shell_holds: list[
        tuple[str, str, str]
    ] = []  # (rule id, setting, reason): what keeps a command from "allow"
    opaque = still_opaque(call, event)
    if opaque:
        reason = "cannot analyse the command: " + "; ".join(opaque)
        shell_holds.append((rids.SHELL_OPAQUE, policy.opaque_shell, reason))
    if call.code:
        runs = ", ".join(dict.fromkeys(f"{c.interpreter}" for c in call.code))
        shell_holds.append((rids.SHELL_INLINE_CODE, policy.inline_code, f"runs inline code ({runs})"))
    for rule_id, setting, why in shell_holds:
        trace.append(f"{rule_id} → {setting}: {why}")
    denying = [(rule_id, why) for rule_id, setting, why in shell_holds if setting == "deny"]
    verdict: Verdict
    if hits["deny"]:
        verdict = "deny"
        reasons = tuple(_reason("denied", rule, why) for rule, why in hits["deny"])
        rule_ids = tuple(rule.id for rule, _ in hits["deny"])
    elif denying:
        verdict = "deny"
        reasons, rule_ids = tuple(why for _, why in denying), tuple(rule_id for rule_id, _ in denying)
    elif hits["ask"] or shell_holds:
        verdict = "ask"
        reasons = tuple(_reason("needs approval", rule, why) for rule, why in hits["ask"])
        rule_ids = tuple(rule.id for rule, _ in hits["ask"])
        reasons = (*reasons, *(why for _, _, why in shell_holds))
        rule_ids = (*rule_ids, *(rule_id for rule_id, _, _ in shell_holds))
    else:
        covering, missing = _allowed(policy.allow, call, event, read_only=policy.allow_read_only)
        if mcp_allows and missing == [f"tool {call.name}"]:
            covering, missing = [MCP_RULE], []
        if not missing:
            verdict = "allow"
            rule_ids = tuple(dict.fromkeys(rule.id for rule in covering))
            reasons = ("allowed by " + ", ".join(repr(rule.raw) for rule in dict.fromkeys(covering)),)
            trace.append(reasons[0])
        else:
            verdict = policy.default
            rule_ids = ("permissions.default",)
            reasons = (f"no rule allows {', '.join(missing)}; policy default is {policy.default}",)
            trace.append(reasons[0])
    if gates and verdict != "deny":
        reasons = (*(reasons if verdict == "ask" else ()), *(hit.reason for hit in gates))
        rule_ids = (*(rule_ids if verdict == "ask" else ()), *(hit.rule_id for hit in gates))
        verdict = "ask"
    effects = tuple(hit.effect for hit in controls if hit.effect is not None)
    return _finish(policy, verdict, reasons, rule_ids, trace, warnings=tuple(warnings), effects=effects)


def still_opaque(call: ToolCall, event: Event) -> tuple[str, ...]:
    """The call's opaque reasons, less those of printing commands whose output the adapter ran and
    scanned (a ``Content`` of source ``output`` for each, without an error: its findings then decide;
    one that could not be scanned keeps its reason, so ``shell.opaque`` still decides it). A reason
    is cleared only when every command standing for it was scanned (``cd a; cd b; git log -p`` runs it
    in each folder)."""
    if not call.prints:
        return call.opaque
    scanned = {c.name for c in event.content if c.source == "output" and not c.error}
    pending: dict[str, bool] = {}
    for printed in call.prints:
        pending[printed.reason] = pending.get(printed.reason, True) and printed.key in scanned
    return tuple(reason for reason in call.opaque if not pending.get(reason, False))


def _reason(prefix: str, rule: Rule, why: str) -> str:
    if rule.kind == "never":  # a control, not a permission rule: its reason says everything
        return why
    text = f"{prefix} by Ramparts rule {rule.raw} ({why})"
    return f"{text}: {rule.reason}" if rule.reason else text


def _applies(rule: Rule, call: ToolCall, event: Event, *, fold: bool = False) -> str:
    """For deny and ask rules: why the rule matches the call, or '' when it does not."""
    kind = rule.kind
    if kind in ("tool", "tool_glob", "mcp_server"):
        return f"tool {call.name}" if tool_name_matches(rule, call.name) else ""
    if kind == "command":
        if call.name != rule.tool:
            return ""
        for command in call.commands:
            if command_matches(rule, command.text) or command_matches_any_flag_order(rule, command.argv):
                return f"command {command.text!r}"
        whole = call.input.get("command")
        if isinstance(whole, str) and command_matches(rule, whole.strip()):
            return f"command {whole.strip()!r}"
        return ""
    if kind == "path":
        for access in call.accesses:
            if rule.tool == "Read" or (rule.tool == "Edit" and access.mode == "write"):
                if _path_hit(rule, access.path, event, fold):
                    return f"{access.mode} of {access.path}"
            elif (
                rule.tool == call.name and access.via == "tool" and _path_hit(rule, access.path, event, fold)
            ):
                return f"{access.mode} of {access.path}"
        return ""
    if kind == "domain":
        host = _url_host(call) if call.name == "WebFetch" else ""
        return f"domain {host}" if host and domain_matches(rule, host) else ""
    if kind == "param":
        if call.name != rule.tool:
            return ""
        return (
            f"{rule.param}={call.input.get(rule.param)!r}"
            if param_matches(rule, call.input.get(rule.param))
            else ""
        )
    if kind == "agent_type":
        if call.name in ("Agent", "Task") and param_matches(rule, call.input.get("subagent_type")):
            return f"subagent {call.input.get('subagent_type')}"
        return ""
    return ""


def _recursive_hits(policy: Policy, call: ToolCall, event: Event) -> list[tuple[Rule, str]]:
    """Deny/ask Read rules that may protect something below a directory the call reads recursively."""
    out: list[tuple[Rule, str]] = []
    for access in call.accesses:
        if not access.recursive or access.mode != "read":
            continue
        for rule in (*policy.deny, *policy.ask):
            # a rule that cannot match anything below the folder (`~/.ssh/**` for a project) is
            # passed over before the listing is checked against it
            if (
                rule.kind != "path"
                or rule.tool != "Read"
                or not path_may_match_below(
                    rule, access.path, event.cwd, event.home, fold=policy.paths_ignore_case
                )
            ):
                continue
            if access.below is None:
                out.append((rule, f"reads everything under {access.path}, where {rule.raw} protects files"))
                break
            found = next(
                (p for p in access.below if _path_hit(rule, p, event, policy.paths_ignore_case)), None
            )
            if found is not None:
                out.append((rule, f"reads everything under {access.path}, including {found}"))
                break
    return out


def _path_hit(rule: Rule, path: str, event: Event, fold: bool = False) -> bool:
    """Does a path rule match? Allow rules match the path as written; deny and ask rules also match
    regardless of case (``fold``: the policy's ``permissions.paths_ignore_case``) and the backup and
    editor spellings of a protected name (``id_rsa.bak``, ``.npmrc~``)."""
    if rule.list == "allow":
        return path_matches(rule, path, event.cwd, event.home)
    return any(
        path_matches(rule, candidate, event.cwd, event.home, fold=fold)
        for candidate in (path, *name_variants(path))
    )


def _url_host(call: ToolCall) -> str:
    return url_host(call.input.get("url"))


def _allowed(
    rules: tuple[Rule, ...], call: ToolCall, event: Event, *, read_only: bool = False
) -> tuple[list[Rule], list[str]]:
    """Which allow rules cover the call, and what is left uncovered (empty means allowed)."""
    covering: list[Rule] = []
    missing: list[str] = []
    if call.name in SHELL_TOOLS:
        whole = [r for r in rules if r.kind == "tool" and r.tool == call.name]
        if all(command.wrapper for command in call.commands):
            missing.append("an empty or unreadable command")
        for command in call.commands:
            if command.wrapper:
                continue  # `bash -c '…'` runs only the commands listed after it
            # `./ls` is not the `ls` a rule trusts: a program given by a path outside the system
            # folders is matched as written
            text = " ".join((command.program, *command.argv[1:])) if command.program else command.text
            hit = (
                whole[:1]
                or [
                    r
                    for r in rules
                    if r.kind == "command" and r.tool == call.name and command_matches(r, text)
                ][:1]
                or ([READ_ONLY_RULE] if read_only and command.read_only else [])
            )
            if hit:
                covering.append(hit[0])
            else:
                missing.append(f"command {text!r}")
        for access in call.accesses:
            if access.mode != "write" or access.path in _DEV_FILES:
                continue
            hit = [
                r for r in rules if r.kind == "path" and r.tool == "Edit" and _path_hit(r, access.path, event)
            ]
            if hit:
                covering.append(hit[0])
            else:
                missing.append(f"writing {access.path}")
        return covering, missing
    bare = [r for r in rules if r.kind in ("tool", "mcp_server") and tool_name_matches(r, call.name)]
    if bare:
        return bare[:1], []
    if call.name in READ_TOOLS or call.name in EDIT_TOOLS:
        if not call.accesses:
            return [], [f"tool {call.name}"]
        for access in call.accesses:
            family = "Edit" if access.mode == "write" else "Read"
            hit = [
                r
                for r in rules
                if r.kind == "path" and r.tool in (family, call.name) and _path_hit(r, access.path, event)
            ]
            if hit:
                covering.append(hit[0])
            else:
                missing.append(f"{access.mode} of {access.path}")
        return covering, missing
    if call.name == "WebFetch":
        host = _url_host(call)
        hit = [r for r in rules if r.kind == "domain" and host and domain_matches(r, host)]
        return (hit[:1], []) if hit else ([], [f"WebFetch of {host or 'an unreadable URL'}"])
    if call.name in ("Agent", "Task"):
        hit = [
            r for r in rules if r.kind == "agent_type" and param_matches(r, call.input.get("subagent_type"))
        ]
        if hit:
            return hit[:1], []
    return [], [f"tool {call.name}"]


def decide_gateway(limits: Limits, facts: Facts, *, now: float) -> tuple[Decision, Refusal | None]:
    """The model-API gateway's admission (authentication, rate, budget, body, model, ``max_tokens``),
    pure like :func:`decide`: the gateway gathers the facts, this decides, the gateway renders."""
    from .gateway.decide import admit

    return admit(limits, facts, now=now)

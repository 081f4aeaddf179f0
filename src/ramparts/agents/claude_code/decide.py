"""The hook's decision, as one function the hook and ``ramparts explain`` share: decide on the call,
scan what it would expose (files before a read, the prompt, a tool's result), and decide again with
what was found. Explain is the hook without its side effects (no audit record, no session state, no
key written), so the two cannot disagree about a call.
"""

from __future__ import annotations

import os
import time

from ... import engine
from ..._tuples import NamedTuple
from ...model import Content, Decision, Event, FileAccess, SessionState, ToolCall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ...detect.scanner import Category


class Outcome(NamedTuple):
    decision: Decision
    scanned: tuple[Content, ...]
    """Everything scanned to decide: the call's outbound input first, then what it would expose."""
    outbound: tuple[Content, ...]
    """The input of a call that sends data out (a sink), scanned."""
    sinks: tuple[Any, ...]


def decide_event(
    policy: Any, event: Event, state: SessionState, payload: dict[str, Any], *, key: bytes, cache_dir: str
) -> Outcome:
    """The decision on one event and the content scanned to reach it."""
    outbound, sinks = scan_outbound(policy, event, key=key, cache_dir=cache_dir)
    if outbound:
        event = event._replace(content=outbound)
    decision = engine.decide(policy, event, state)
    scanned: tuple[Content, ...] = ()
    if decision.verdict != "deny" or _only_unscanned(
        policy, event, state
    ):  # else a deny whatever the content
        scanned = scan_event(policy, event, payload, key=key, cache_dir=cache_dir)
        if event.kind == "pre_tool_use" and event.tool is not None and event.tool.prints:
            printed, named = scan_printed(policy, event.tool, key=key, cache_dir=cache_dir)
            scanned = (*scanned, *printed)
            if named:  # what the output shows is read: the path rules judge it
                event = event._replace(tool=event.tool._replace(accesses=(*event.tool.accesses, *named)))
        if scanned:
            decision = engine.decide(policy, event._replace(content=(*outbound, *scanned)), state)
    if any(c.findings for c in outbound):
        decision = outbound_reasons(decision)
    return Outcome(decision, (*outbound, *scanned), outbound, sinks)


def _only_unscanned(policy: Any, event: Event, state: SessionState) -> bool:
    """Would the call still be denied if every printing git command's output were scanned and clean?
    If not, the deny is only ``shell.opaque`` (the read-only profile denies what it cannot analyse)
    standing for output not scanned yet: scan, then decide on what was found. Scanning only ever adds
    findings and reads, so a call denied with clean output is denied whatever the output holds."""
    if event.kind != "pre_tool_use" or event.tool is None or not event.tool.prints:
        return False
    clean = tuple(Content("output", printed.key) for printed in event.tool.prints)
    return engine.decide(policy, event._replace(content=(*event.content, *clean)), state).verdict != "deny"


def scan_outbound(
    policy: Any, event: Event, *, key: bytes, cache_dir: str
) -> tuple[tuple[Content, ...], tuple[Any, ...]]:
    """Outbound DLP: the input of a call that sends data out, scanned, and its sinks (a call with no
    sink costs the classification only: the detectors are not loaded)."""
    if event.kind != "pre_tool_use" or event.tool is None:
        return (), ()
    from ...sinks import sinks_for

    sinks = sinks_for(policy, event.tool, event)
    if not sinks:
        return (), ()
    from .content import detectors_for, scan_tool_input

    detectors = detectors_for(policy, ("secret", "pii"), cache_dir)
    return (scan_tool_input(event.tool, policy, detectors, key),), tuple(sinks)


def outbound_reasons(decision: Decision) -> Decision:
    """When a call's outbound input holds something a detector found, the reasons of other rules (which
    quote commands and URLs, perhaps with the value encoded past the redactor) give only their rule id.
    In report mode, where the reasons are one sentence, that sentence gives the rule ids only."""
    if not decision.enforced and decision.would_verdict is not None:
        return decision._replace(
            reasons=(
                f"report mode, would {decision.would_verdict}: {', '.join(decision.rule_ids)} (details "
                "withheld: the input carries data a detector found; the record lists its fingerprints)",
            )
        )
    if decision.verdict == "allow" or len(decision.reasons) != len(decision.rule_ids):
        return decision
    return decision._replace(
        reasons=tuple(
            reason
            if rule.startswith("dlp.")
            else f"{rule} (details withheld: the input carries sensitive data)"
            for reason, rule in zip(decision.reasons, decision.rule_ids, strict=True)
        )
    )


MAX_PRINTED = 8
"""Printing git commands one call may have run and scanned; past them, the rest ask."""


def scan_printed(
    policy: Any, call: ToolCall, *, key: bytes, cache_dir: str
) -> tuple[tuple[Content, ...], tuple[FileAccess, ...]]:
    """Run each printing git command of the call (hardened, bounded: ``git_output``), scan what it
    prints, and list the paths its output names as reads. They share a quarter of the hook's deadline."""
    from .content import detectors_for
    from .git_output import VIA
    from .git_output import scan_printed as scan_one

    detectors = detectors_for(policy, ("secret",), cache_dir)
    seconds = policy.hook.deadline_ms / 4000
    start = time.monotonic()
    contents: list[Content] = []
    named: dict[str, FileAccess] = {}
    for n, printed in enumerate(dict.fromkeys(call.prints)):
        left = seconds - (time.monotonic() - start)
        if n >= MAX_PRINTED or left <= 0.05:
            why = (
                f"more than {MAX_PRINTED} commands to run" if n >= MAX_PRINTED else "the time budget ran out"
            )
            contents.append(Content("output", printed.key, error=f"not run to scan: {why}"))
            continue
        outcome = scan_one(printed, policy, detectors, key, seconds=left)
        contents.append(outcome.content)
        for path in outcome.named:
            named.setdefault(path, FileAccess(path, "read", VIA))
    return tuple(contents), tuple(named.values())


def scan_event(
    policy: Any, event: Event, payload: dict[str, Any], *, key: bytes, cache_dir: str
) -> tuple[Content, ...]:
    """Scan what the event exposes: files before a read, the prompt, a tool's result."""
    if event.kind == "pre_tool_use" and event.tool is not None:
        if not any(a.mode == "read" and (a.recursive or os.path.isfile(a.path)) for a in event.tool.accesses):
            return ()  # no file to read: the detectors are not even loaded
        from .content import detectors_for, scan_reads

        return scan_reads(event.tool, policy, detectors_for(policy, ("secret",), cache_dir), key)
    if event.kind == "user_prompt":
        from .content import detectors_for, scan_prompt

        categories: tuple[Category, ...] = ("secret", "pii")
        if policy.detect.injection_prompt_action != "off":
            categories += ("injection",)
        detectors = detectors_for(policy, categories, cache_dir)
        return (scan_prompt(str(payload.get("prompt", "")), policy, detectors, key),)
    if event.kind == "post_tool_use" and event.tool is not None:
        from .content import detectors_for, scan_result, scans_result

        if scans_result(event.tool.name):
            detectors = detectors_for(policy, ("secret", "injection"), cache_dir)
            return (scan_result(event.tool.name, payload.get("tool_response"), policy, detectors, key),)
    return ()

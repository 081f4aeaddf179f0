"""The hook's decision, as one function the hook and ``ramparts explain`` share: decide on the call,
scan what it would expose (files before a read, the prompt, a tool's result), and decide again with
what was found. Explain is the hook without its side effects (no audit record, no session state, no
key written), so the two cannot disagree about a call.
"""

from __future__ import annotations

import os
from typing import Any

from ... import engine
from ...model import Content, Decision, Event, SessionState


def decide_event(
    policy: Any, event: Event, state: SessionState, payload: dict[str, Any], *, key: bytes, cache_dir: str
) -> tuple[Decision, tuple[Content, ...]]:
    """The decision on one event and the content scanned to reach it."""
    decision = engine.decide(policy, event, state)
    if decision.verdict == "deny":  # nothing to read: a deny stays a deny whatever the content
        return decision, ()
    scanned = scan_event(policy, event, payload, key=key, cache_dir=cache_dir)
    if scanned:
        decision = engine.decide(policy, event._replace(content=scanned), state)
    return decision, scanned


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

        detectors = detectors_for(policy, ("secret", "pii"), cache_dir)
        return (scan_prompt(str(payload.get("prompt", "")), policy, detectors, key),)
    if event.kind == "post_tool_use" and event.tool is not None:
        from .content import detectors_for, scan_result, scans_result

        if scans_result(event.tool.name):
            detectors = detectors_for(policy, ("secret", "injection"), cache_dir)
            return (scan_result(event.tool.name, payload.get("tool_response"), policy, detectors, key),)
    return ()

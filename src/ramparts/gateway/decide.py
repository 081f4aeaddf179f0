"""The gateway's decisions, pure: admission (authentication, rate, budget, body, model, ``max_tokens``),
DLP blocks and the audit store's health each become a :class:`~ramparts.model.Decision` with reasons and
rule ids, in the policy's mode. ``server.py`` gathers the facts (I/O), calls these, renders the answer
in Anthropic's error format (:func:`refusal`) and records the decision; it decides nothing itself.

Report mode (the policy's ``mode: report``) lets through what enforce mode would refuse for the rate,
budget, model and ``max_tokens`` limits and for a failing audit store, recorded as a would-deny. It never
lets through a request it cannot authenticate or parse, nor a value the DLP policy says to block: the
alternative would be to send it.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from .. import rule_ids as rids
from ..model import Decision

Mode = Literal["enforce", "report", "open"]

BodyState = Literal["ok", "too_large", "body_timeout", "invalid"]


class Facts(NamedTuple):
    """What the adapter knows so far about one request; ``None``: not looked at yet (the checks stop
    there, so the adapter can ask again after each step without repeating the I/O before it)."""

    authenticated: bool | None = None
    rate_wait: float | None = None
    """Seconds until the user's next request is allowed; 0 when allowed now."""
    tokens_used: int | None = None
    """The user's tokens today."""
    body: BodyState | None = None
    body_problem: str = ""
    """Why the body is invalid (JSON, not an object)."""
    model: str | None = None
    model_known: bool = False
    """``model`` has been read (it may be None: absent or not a string)."""
    max_tokens: int | None = None


class Limits(NamedTuple):
    """The gateway's limits, as the policy (or the command line) sets them."""

    mode: Mode = "enforce"
    models: tuple[str, ...] = ()
    max_tokens: int | None = None
    max_tokens_mode: Literal["clamp", "reject"] = "clamp"
    max_request_bytes: int = 32 * 1024 * 1024
    rate_per_minute: int | None = None
    daily_tokens: int | None = None
    body_timeout: float = 120.0


class Refusal(NamedTuple):
    """How an adapter that speaks Anthropic's API renders a deny."""

    status: int
    kind: str
    retry_after: float | None = None


# rule id -> how it is refused (HTTP status, Anthropic error type); one table, read by the renderer
REFUSALS: dict[str, tuple[int, str]] = {
    rids.GATEWAY_AUTH: (401, "authentication_error"),
    rids.GATEWAY_RATE: (429, "rate_limit_error"),
    rids.GATEWAY_BUDGET: (429, "rate_limit_error"),
    rids.GATEWAY_SIZE: (413, "request_too_large"),
    rids.GATEWAY_BODY_TIMEOUT: (408, "timeout_error"),
    rids.GATEWAY_JSON: (400, "invalid_request_error"),
    rids.GATEWAY_MODEL: (400, "invalid_request_error"),
    rids.GATEWAY_MAX_TOKENS: (400, "invalid_request_error"),
    rids.GATEWAY_DLP: (400, "invalid_request_error"),
    rids.GATEWAY_SHAPE: (400, "invalid_request_error"),
    rids.GATEWAY_INJECTION_TOOL_DEFINITION: (400, "invalid_request_error"),
    rids.GATEWAY_SCAN_FAILED: (500, "api_error"),
    rids.GATEWAY_STORE: (503, "api_error"),
    rids.GATEWAY_AUDIT: (503, "api_error"),
}

_REPORTABLE = frozenset(
    {rids.GATEWAY_RATE, rids.GATEWAY_BUDGET, rids.GATEWAY_MODEL, rids.GATEWAY_MAX_TOKENS, rids.GATEWAY_AUDIT}
)

ALLOW = Decision("allow", ("within the gateway's policy",), ())


def _deny(rule: str, reason: str, mode: Mode) -> Decision:
    if mode != "enforce" and rule in _REPORTABLE:
        return Decision("allow", (reason,), (rule,), enforced=False, would_verdict="deny")
    return Decision("deny", (reason,), (rule,))


def admit(limits: Limits, facts: Facts, *, now: float) -> tuple[Decision, Refusal | None]:
    """Admission of one request, checked in the order the facts arrive. A deny comes with its
    :class:`Refusal`; an allow (also a report-mode would-deny) with None."""
    decision = _admission(limits, facts)
    if decision.verdict != "deny":
        return decision, None
    return decision, refusal(decision, limits, facts, now=now)


def _admission(limits: Limits, facts: Facts) -> Decision:
    mode = limits.mode
    if facts.authenticated is None:
        return ALLOW
    if not facts.authenticated:
        return _deny(
            rids.GATEWAY_AUTH,
            "invalid or missing Ramparts gateway token (set ANTHROPIC_AUTH_TOKEN to a token from "
            "`ramparts gateway token create`)",
            mode,
        )
    found: list[Decision] = []
    if facts.rate_wait is not None and limits.rate_per_minute is not None and facts.rate_wait > 0:
        found.append(
            _deny(rids.GATEWAY_RATE, f"more than {limits.rate_per_minute} requests per minute", mode)
        )
    if (
        facts.tokens_used is not None
        and limits.daily_tokens is not None
        and facts.tokens_used >= limits.daily_tokens
    ):
        found.append(
            _deny(rids.GATEWAY_BUDGET, f"the daily token budget ({limits.daily_tokens}) is used up", mode)
        )
    if facts.body == "too_large":
        found.append(_deny(rids.GATEWAY_SIZE, f"the request exceeds {limits.max_request_bytes} bytes", mode))
    elif facts.body == "body_timeout":
        found.append(
            _deny(
                rids.GATEWAY_BODY_TIMEOUT,
                f"the request body did not arrive within {limits.body_timeout:g} s",
                mode,
            )
        )
    elif facts.body == "invalid":
        found.append(_deny(rids.GATEWAY_JSON, facts.body_problem or "the body is not a JSON object", mode))
    if facts.model_known and not _model_allowed(limits.models, facts.model):
        found.append(
            _deny(
                rids.GATEWAY_MODEL,
                f"model {str(facts.model)[:100]!r} is not allowed here; allowed: " + ", ".join(limits.models),
                mode,
            )
        )
    if (
        limits.max_tokens_mode == "reject"
        and limits.max_tokens is not None
        and facts.max_tokens is not None
        and facts.max_tokens > limits.max_tokens
    ):
        found.append(
            _deny(
                rids.GATEWAY_MAX_TOKENS,
                f"max_tokens {facts.max_tokens} is above the cap of {limits.max_tokens}",
                mode,
            )
        )
    for decision in found:
        if decision.verdict == "deny":
            return decision
    if found:  # report mode: every would-deny, in one decision
        return Decision(
            "allow",
            tuple(r for d in found for r in d.reasons),
            tuple(r for d in found for r in d.rule_ids),
            enforced=False,
            would_verdict="deny",
        )
    return ALLOW


def _model_allowed(models: tuple[str, ...], model: str | None) -> bool:
    import fnmatch

    if not models:
        return True
    return model is not None and any(fnmatch.fnmatchcase(model, p) for p in models)


def refusal(decision: Decision, limits: Limits, facts: Facts, *, now: float) -> Refusal:
    """How a deny is rendered: the status and error type its rule id calls for, and when to retry."""
    rule = decision.rule_ids[0] if decision.rule_ids else rids.GATEWAY_STORE
    family = rule
    for prefix in (rids.GATEWAY_DLP, rids.GATEWAY_SHAPE):
        if rule.startswith(prefix + "."):
            family = prefix
    status, kind = REFUSALS.get(family, (500, "api_error"))
    retry: float | None = None
    if rule == rids.GATEWAY_RATE and facts.rate_wait is not None:
        retry = facts.rate_wait
    elif rule == rids.GATEWAY_BUDGET:
        retry = 86400 - now % 86400
    return Refusal(status, kind, retry)


def dlp_block(rule: str, detector: str, where: str, message: str) -> Decision:
    """A value the DLP policy blocks: a deny in every mode (report mode would have to send it)."""
    return Decision("deny", (message,), (f"gateway.dlp.{rule}",), trace=(f"{detector} at {where}",))


def shape_refused(rule: str, message: str) -> Decision:
    """A block type, field or document the gateway does not know (or the policy refuses): never
    forwarded unscreened, in every mode."""
    return Decision("deny", (message,), (rule,))


def tool_poisoned(message: str) -> Decision:
    """A tool definition that reads as a prompt injection (tool poisoning): refused in every mode."""
    return Decision("deny", (message,), (rids.GATEWAY_INJECTION_TOOL_DEFINITION,))


def prompt_injection(message: str) -> Decision:
    """The user's prompt reads as a prompt injection and the policy blocks such prompts (enforce mode;
    report mode only records it)."""
    return Decision("deny", (message,), (rids.GATEWAY_INJECTION_PROMPT,))


def scan_failed(problem: str) -> Decision:
    """The detectors failed: nothing goes out unscanned, in every mode."""
    return Decision("deny", (f"the request could not be checked ({problem})",), (rids.GATEWAY_SCAN_FAILED,))


def store_failed() -> Decision:
    """The gateway's state store (vault, tokens, budget) failed: nothing is sent, in every mode."""
    return Decision(
        "deny", ("its state store is unavailable; the request was not sent",), (rids.GATEWAY_STORE,)
    )


def audit_unhealthy(mode: Mode, *, backlog: bool = False) -> Decision:
    """The audit store failed its last write, or (``backlog``) its writer has a full queue: refuse
    (503) until it recovers, or in report mode let the request through recorded as a would-deny."""
    why = (
        "its audit writer cannot keep up (the queue is full)"
        if backlog
        else "its audit store failed the last write"
    )
    return _deny(rids.GATEWAY_AUDIT, why + "; requests are refused until it recovers", mode)

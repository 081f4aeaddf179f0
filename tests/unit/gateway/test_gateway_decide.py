"""The gateway's decisions are pure: the same facts give the same Decision, with its rule id and the
refusal it is rendered as, in every mode."""

from __future__ import annotations

import pytest

from ramparts.engine import decide_gateway
from ramparts.gateway import decide
from ramparts.gateway.decide import Facts, Limits

LIMITS = Limits(
    models=("claude-sonnet-*",),
    max_tokens=1000,
    max_tokens_mode="reject",
    rate_per_minute=10,
    daily_tokens=500,
    body_timeout=5.0,
)
OK = Facts(
    authenticated=True,
    rate_wait=0.0,
    tokens_used=10,
    body="ok",
    model="claude-sonnet-4",
    model_known=True,
    max_tokens=100,
)
NOW = 86400 * 3 + 3600.0


def test_nothing_known_yet_goes_on() -> None:
    decision, refusal = decide_gateway(LIMITS, Facts(), now=NOW)
    assert (decision.verdict, refusal) == ("allow", None)


def test_a_request_within_every_limit_is_allowed() -> None:
    decision, refusal = decide_gateway(LIMITS, OK, now=NOW)
    assert decision == decide.ALLOW and refusal is None


CASES = [
    ("auth", Facts(authenticated=False), "gateway.auth", 401, "authentication_error", None),
    ("rate", OK._replace(rate_wait=2.5), "gateway.rate", 429, "rate_limit_error", 2.5),
    ("budget", OK._replace(tokens_used=500), "gateway.budget", 429, "rate_limit_error", 86400 - 3600.0),
    ("size", OK._replace(body="too_large"), "gateway.size", 413, "request_too_large", None),
    ("slow body", OK._replace(body="body_timeout"), "gateway.body_timeout", 408, "timeout_error", None),
    (
        "json",
        OK._replace(body="invalid", body_problem="not JSON"),
        "gateway.json",
        400,
        "invalid_request_error",
        None,
    ),
    ("json default", OK._replace(body="invalid"), "gateway.json", 400, "invalid_request_error", None),
    ("model", OK._replace(model="claude-opus-4"), "gateway.model", 400, "invalid_request_error", None),
    ("no model", OK._replace(model=None), "gateway.model", 400, "invalid_request_error", None),
    ("max_tokens", OK._replace(max_tokens=2000), "gateway.max_tokens", 400, "invalid_request_error", None),
]


@pytest.mark.parametrize(
    ("name", "facts", "rule", "status", "kind", "retry"), CASES, ids=[c[0] for c in CASES]
)
def test_each_limit_denies_with_its_rule_and_refusal(
    name: str, facts: Facts, rule: str, status: int, kind: str, retry: float | None
) -> None:
    decision, refusal = decide_gateway(LIMITS, facts, now=NOW)
    assert decision.verdict == "deny" and decision.rule_ids == (rule,) and decision.enforced
    assert decision.reasons and all(r for r in decision.reasons)
    assert refusal == decide.Refusal(status, kind, retry)


def test_report_mode_lets_limits_through_as_would_deny() -> None:
    facts = OK._replace(rate_wait=1.0, model="gpt-4")
    decision, refusal = decide_gateway(LIMITS._replace(mode="report"), facts, now=NOW)
    assert refusal is None
    assert (decision.verdict, decision.enforced, decision.would_verdict) == ("allow", False, "deny")
    assert decision.rule_ids == ("gateway.rate", "gateway.model")


def test_report_mode_never_lets_through_what_cannot_be_read() -> None:
    report = LIMITS._replace(mode="report")
    for facts, rule in (
        (Facts(authenticated=False), "gateway.auth"),
        (OK._replace(body="too_large"), "gateway.size"),
    ):
        decision, refusal = decide_gateway(report, facts, now=NOW)
        assert decision.verdict == "deny" and decision.rule_ids == (rule,) and refusal is not None


def test_report_mode_refuses_the_enforced_part_of_a_mixed_request() -> None:
    decision, _ = decide_gateway(
        LIMITS._replace(mode="report"), OK._replace(rate_wait=1.0, body="invalid"), now=NOW
    )
    assert decision.verdict == "deny" and decision.rule_ids == ("gateway.json",)


def test_limits_that_are_off_never_deny() -> None:
    off = Limits()
    facts = OK._replace(rate_wait=9.0, tokens_used=10**9, model="anything", max_tokens=10**6)
    assert decide_gateway(off, facts, now=NOW)[0] == decide.ALLOW
    clamp = LIMITS._replace(max_tokens_mode="clamp")
    assert decide_gateway(clamp, OK._replace(max_tokens=5000), now=NOW)[0] == decide.ALLOW


def test_dlp_scan_store_and_audit_decisions() -> None:
    blocked = decide.dlp_block("pii-email", "pii-email", "messages[0]", "an e-mail address is blocked")
    assert blocked.verdict == "deny" and blocked.rule_ids == ("gateway.dlp.pii-email",)
    assert decide.refusal(blocked, LIMITS, OK, now=NOW) == decide.Refusal(400, "invalid_request_error")
    failed = decide.scan_failed("worker died")
    assert failed.rule_ids == ("gateway.scan_failed",) and "worker died" in failed.reason
    assert decide.refusal(failed, LIMITS, OK, now=NOW) == decide.Refusal(500, "api_error")
    store = decide.store_failed()
    assert decide.refusal(store, LIMITS, OK, now=NOW) == decide.Refusal(503, "api_error")
    audit = decide.audit_unhealthy("enforce")
    assert audit.verdict == "deny" and decide.refusal(audit, LIMITS, OK, now=NOW).status == 503
    full = decide.audit_unhealthy("enforce", backlog=True)
    assert "cannot keep up" in full.reason and "failed the last write" in audit.reason
    reported = decide.audit_unhealthy("report")
    assert (reported.verdict, reported.enforced, reported.would_verdict) == ("allow", False, "deny")


def test_a_decision_without_a_rule_is_refused_as_a_store_failure() -> None:
    from ramparts.model import Decision

    assert decide.refusal(Decision(), LIMITS, OK, now=NOW) == decide.Refusal(503, "api_error")
    assert decide.refusal(Decision(rule_ids=("gateway.new",)), LIMITS, OK, now=NOW).status == 500


def test_shape_and_tool_definition_refusals() -> None:
    shape = decide.shape_refused("gateway.shape.block", "block type 'x' is not known")
    assert shape.verdict == "deny" and decide.refusal(shape, LIMITS, OK, now=NOW).status == 400
    poisoned = decide.tool_poisoned("tools[1] reads as a prompt injection")
    assert poisoned.rule_ids == ("gateway.injection.tool_definition",)
    assert decide.refusal(poisoned, LIMITS, OK, now=NOW) == decide.Refusal(400, "invalid_request_error")

"""Outbound DLP at the proxy: the same policy as a tool call's input, judged purely."""

from __future__ import annotations

from ramparts.egress.dlp import judge
from ramparts.model import Finding
from ramparts.policy.load import load_policy

BASELINE = load_policy("profile:baseline")


def _finding(
    detector: str, category: str, confidence: float = 0.95, fp: str = "b2mac:0123456789abcdef"
) -> Finding:
    return Finding(detector, category, "high", confidence, 0, 10, 1, fp, "…")  # type: ignore[arg-type]


def test_a_secret_is_denied_with_its_fingerprint_only() -> None:
    decision = judge(BASELINE, (_finding("aws-access-key-id", "secret"),), "paste.example", truncated=False)
    assert decision is not None and decision.verdict == "deny"
    assert decision.rule_ids == ("egress.dlp.outbound_secret",)
    assert "b2mac:0123456789abcdef" in decision.reason and "the request would send" in decision.reason


def test_listed_personal_data_is_denied_and_ordinary_data_passes() -> None:
    ssn = judge(BASELINE, (_finding("pii-us-ssn", "pii"),), "h", truncated=False)
    assert ssn is not None and ssn.rule_ids == ("egress.dlp.outbound_pii",)
    assert judge(BASELINE, (), "h", truncated=False) is None


def test_data_too_large_to_scan_whole_is_denied() -> None:
    decision = judge(BASELINE, (), "h", truncated=True)
    assert decision is not None and decision.rule_ids == ("egress.dlp.outbound_unscanned",)


def test_a_fingerprint_exception_lets_that_secret_through() -> None:
    from ramparts.policy.load import compile_policy

    policy = compile_policy(
        b"version: 1\nextends: baseline\ndlp:\n  outbound:\n    exceptions:\n"
        b"      - {fingerprint: 'b2mac:0123456789abcdef', reason: test key}\n",
        "p.yaml",
    )
    assert judge(policy, (_finding("aws-access-key-id", "secret"),), "h", truncated=False) is None

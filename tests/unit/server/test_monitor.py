"""The behaviour rules: pure evaluation over typed records, and the monitor: section's parser."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.audit.record import from_json
from ramparts.errors import PolicyError
from ramparts.monitor import (
    DEFAULT_RULES,
    MonitorConfig,
    SessionFeatures,
    egress_host,
    epoch,
    features_from_json,
    features_to_json,
    parse_monitor,
    step,
    view,
)
from tests.server_harness import hook_record, stamp


def run(
    records: list[dict[str, Any]], config: MonitorConfig | None = None
) -> tuple[SessionFeatures, list[Any]]:
    config = config or MonitorConfig()
    f = SessionFeatures()
    hits: list[Any] = []
    for r in records:
        f, new = step(config, f, view(from_json(r)))
        hits.extend(new)
    return f, hits


T0 = 1_800_000_000.0


def test_rate_counts_calls_inside_the_window_only() -> None:
    calm = [hook_record("s", T0 + i * 2.1) for i in range(60)]  # 29 calls a minute, for two minutes
    assert run(calm)[1] == []
    burst = [hook_record("s", T0 + i * 0.5) for i in range(31)]
    _, hits = run(burst)
    assert [(h.rule, h.severity) for h in hits] == [("rate.tool_calls", "high")]
    assert "31 tool calls in 60 s" in hits[0].message


def test_each_rule_fires_once_per_session() -> None:
    _, hits = run([hook_record("s", T0 + i * 0.1) for i in range(100)])
    assert [h.rule for h in hits] == ["rate.tool_calls"]


def test_reads_directories_errors_network_and_sequence() -> None:
    reads = [hook_record("s", T0 + i * 10, tool="Read", file_path=f"/srv/d{i % 25}/f.txt") for i in range(25)]
    f, hits = run(reads)
    assert f.reads == 25 and len(f.dirs) == 21  # kept up to the threshold + 1
    assert [h.rule for h in hits] == ["spread.directories"]

    denied = [hook_record("s", T0 + i * 10, decision="deny" if i % 4 == 0 else "allow") for i in range(12)]
    assert [h.rule for h in run(denied)[1]] == ["errors.rate"]

    fetch = [hook_record("s", T0, tool="WebFetch", url="https://api.anthropic.com/x")]
    assert run(fetch)[1] == []
    fetch = [hook_record("s", T0, tool="WebFetch", url="https://paste.example/x")]
    assert [(h.rule, h.severity) for h in run(fetch)[1]] == [("network.outside_allowlist", "medium")]

    seq = [
        hook_record("s", T0, tool="Read", file_path="/home/u/project/.env"),
        hook_record("s", T0 + 1),
        hook_record("s", T0 + 2, tool="WebFetch", url="https://paste.example/x"),
    ]
    rules = {h.rule: h.severity for h in run(seq)[1]}
    assert rules == {"sequence.sensitive_read_then_network": "high", "network.outside_allowlist": "medium"}
    far = [seq[0], *[hook_record("s", T0 + 1 + i) for i in range(6)], seq[2]]
    assert "sequence.sensitive_read_then_network" not in {h.rule for h in run(far)[1]}


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("example.com:443", "example.com"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("http://Example.COM/left-pad", "example.com"),  # plain HTTP's absolute form: not host "http"
        ("http://user@example.com:8080/x?q", "example.com"),
        ("http://[::1", "?"),
    ],
)
def test_the_egress_target_names_its_host(target: str, host: str) -> None:
    assert egress_host(target) == host


@given(st.text(max_size=60))
def test_egress_host_never_raises(target: str) -> None:
    assert isinstance(egress_host(target), str)


def test_a_burst_of_blocked_outbound_attempts_raises_an_alert() -> None:
    """Issue 23: the hook's DLPBlock records of outbound rules; more than two in a session is a burst."""

    def blocked(when: float, rule: str = "dlp.outbound_secret") -> dict[str, Any]:
        record = hook_record("s", when, tool="mcp__chat__post_message", decision="deny")
        return {**record, "event": "DLPBlock", "rule_ids": [rule]}

    two = [blocked(T0), blocked(T0 + 1)]
    f, hits = run(two)
    assert f.dlp_blocks == 2 and hits == []
    f, hits = run([*two, blocked(T0 + 2)])
    assert [(h.rule, h.severity) for h in hits] == [("dlp.outbound_burst", "medium")]
    assert "3 outbound attempts blocked" in hits[0].message
    # a read the DLP kept from the model is not an outbound attempt
    reads = [blocked(T0 + i, "dlp.read_secret") for i in range(5)]
    assert run(reads)[0].dlp_blocks == 0
    assert features_from_json(features_to_json(f)) == f


def test_the_policy_replaces_the_rules() -> None:
    config = parse_monitor({"rules": [{"id": "fast", "kind": "rate", "threshold": 3, "window_seconds": 10}]})
    assert [r.id for r in config.rules] == ["fast"] and config.rules[0].severity == "medium"
    assert [h.rule for h in run([hook_record("s", T0 + i) for i in range(4)], config)[1]] == ["fast"]
    assert parse_monitor(None).rules == DEFAULT_RULES


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"rule": []}, "monitor.rule"),
        ({"rules": [{"id": "x", "kind": "nope"}]}, "monitor.rules[0].kind"),
        ({"rules": [{"id": "x", "kind": "rate", "threshold": -1}]}, "monitor.rules[0].threshold"),
        ({"rules": [{"id": "x", "kind": "error_rate", "threshold": 5}]}, "monitor.rules[0].threshold"),
        ({"rules": [{"id": "x", "kind": "network", "allow": "a.com"}]}, "monitor.rules[0].allow"),
        ({"rules": [{"id": "x", "kind": "rate"}, {"id": "x", "kind": "reads"}]}, "monitor.rules"),
        ({"rules": [{"id": "x", "kind": "rate", "severity": "urgent"}]}, "monitor.rules[0].severity"),
    ],
)
def test_bad_sections_name_the_key(data: Any, where: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_monitor(data)
    assert info.value.problem.startswith(where)


@given(st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False))
def test_epoch_reads_the_record_stamps(when: float) -> None:
    assert abs(epoch(stamp(when)) - when) < 0.002


@given(st.text(max_size=40))
def test_epoch_never_raises(text: str) -> None:
    assert isinstance(epoch(text), float)


def test_features_round_trip() -> None:
    f, _ = run([hook_record("s", time.time() + i, tool="Read", file_path=f"/a{i}/x") for i in range(5)])
    assert features_from_json(features_to_json(f)) == f


def test_anomaly_score() -> None:
    from ramparts.monitor import anomaly_score

    assert anomaly_score([10, 12], 500) is None  # not enough history
    assert anomaly_score([0, 0, 10, 12, 11], 11) == 0.0
    assert anomaly_score([20, 20, 20], 24) == pytest.approx(2 / 4)  # deviation floor: 10 % of the mean
    assert anomaly_score([100, 120, 110, 90], 400) > 0.8


@given(
    st.lists(st.integers(0, 10_000), min_size=3, max_size=7), st.integers(0, 10_000), st.integers(0, 10_000)
)
def test_anomaly_score_is_a_fraction_that_grows_with_today(history: list[int], a: int, b: int) -> None:
    from ramparts.monitor import anomaly_score

    low, high = anomaly_score(history, min(a, b)), anomaly_score(history, max(a, b))
    if low is None or high is None:
        assert low is None and high is None
        return
    assert 0.0 <= low <= high < 1.0

"""The anomaly tracker with an injected clock: rate window, first-seen, tunnel shapes, bounded memory."""

from __future__ import annotations

from ramparts.egress.acl import Anomalies
from ramparts.egress.anomaly import Tracker


def ids(found: list) -> list[str]:  # type: ignore[type-arg]
    return [a.rule_id for a in found]


def test_rate_window_slides() -> None:
    tracker = Tracker(Anomalies(max_requests_per_minute=2, first_seen=False))
    assert ids(tracker.request("s", "a.test", 0.0)) == []
    assert ids(tracker.request("s", "a.test", 1.0)) == []
    assert ids(tracker.request("s", "a.test", 2.0)) == ["egress.anomaly.rate"]
    assert ids(tracker.request("s", "a.test", 61.0)) == []  # the first two left the window
    assert ids(tracker.request("other", "a.test", 2.0)) == []  # per session


def test_first_seen_once_per_session_and_garbage_names() -> None:
    tracker = Tracker(Anomalies())
    assert ids(tracker.request("s", "a.test", 0.0)) == ["egress.anomaly.first_seen"]
    assert ids(tracker.request("s", "A.test.", 1.0)) == []
    assert ids(tracker.request("s", "bad name", 2.0)) == []


def test_zone_fan_out_and_upload() -> None:
    tracker = Tracker(Anomalies(tunnel_subdomains=2, first_seen=False))
    found = [ids(tracker.request("s", f"n{i}.zone.test", float(i))) for i in range(4)]
    assert found[:2] == [[], []] and "egress.anomaly.tunnel_zone" in found[3]
    assert ids(tracker.request("s", "n9.zone.test", 200.0)) == []  # the old names expired
    assert tracker.upload(10) is None
    big = tracker.upload(Anomalies().max_upload_bytes + 1)
    assert big is not None and big.refuse


def test_idle_sessions_are_forgotten() -> None:
    tracker = Tracker(Anomalies(first_seen=False))
    for i in range(1100):
        tracker.request(f"s{i}", "a.test", 0.0)
    tracker.request("late", "a.test", 4000.0)
    assert len(tracker._sessions) == 1


def test_tunnel_shaped_names() -> None:
    tracker = Tracker(Anomalies(first_seen=False))
    assert ids(tracker.request("s", "x" * 50 + ".evil.test", 0.0)) == ["egress.anomaly.tunnel_name"]

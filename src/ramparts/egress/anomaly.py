"""Anomalies as policy data, tracked per session with the caller's clock (pure: no I/O).

Per request: more than ``max_requests_per_minute`` (refused in enforce mode), a domain the session has
not reached before, a tunnel-shaped name, many distinct names under one zone within a minute. Per
connection: an upload over ``max_upload_bytes`` (cut in enforce mode; the proxy counts the bytes).
Memory is bounded: each session keeps at most ``MAX_KEPT`` names, and sessions idle for an hour go.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from .. import rule_ids as rids
from .acl import Anomalies, normal_host, tunnel_shaped, zone_of

MAX_KEPT = 10_000
_IDLE = 3600.0


class Anomaly(NamedTuple):
    rule_id: str
    reason: str
    refuse: bool = False
    """Refused in enforce mode (size and rate); the others are recorded and alerted."""


class _Session:
    __slots__ = ("last", "seen", "times", "zones")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.seen: set[str] = set()
        self.zones: dict[str, dict[str, float]] = {}
        self.last = 0.0


class Tracker:
    def __init__(self, limits: Anomalies) -> None:
        self.limits = limits
        self._sessions: dict[str, _Session] = {}

    def request(self, session: str, host: str, now: float) -> list[Anomaly]:
        """Count one request of ``session`` to ``host`` at ``now``; what is anomalous about it."""
        self._expire(now)
        state = self._sessions.setdefault(session, _Session())
        state.last = now
        limits = self.limits
        out: list[Anomaly] = []
        while state.times and state.times[0] <= now - 60:
            state.times.popleft()
        if len(state.times) >= limits.max_requests_per_minute:
            out.append(
                Anomaly(
                    rids.EGRESS_ANOMALY_RATE,
                    f"more than {limits.max_requests_per_minute} requests a minute from this session",
                    refuse=True,
                )
            )
        else:
            state.times.append(now)
        name = normal_host(host)
        if not name:
            return out
        if limits.first_seen and name not in state.seen:
            if len(state.seen) < MAX_KEPT:
                state.seen.add(name)
            out.append(Anomaly(rids.EGRESS_ANOMALY_FIRST_SEEN, f"first request of this session to {name}"))
        shape = tunnel_shaped(name, limits)
        if shape:
            out.append(Anomaly(rids.EGRESS_ANOMALY_TUNNEL_NAME, f"{name} is tunnel-shaped: {shape}"))
        zone = zone_of(name)
        names = state.zones.setdefault(zone, {})
        for old in [n for n, t in names.items() if t <= now - 60]:
            del names[old]
        if len(names) < MAX_KEPT:
            names[name] = now
        if len(names) > limits.tunnel_subdomains:
            out.append(
                Anomaly(
                    rids.EGRESS_ANOMALY_TUNNEL_ZONE,
                    f"{len(names)} distinct names under {zone} within a minute (DNS tunnel shape)",
                )
            )
        return out

    def upload(self, sent: int) -> Anomaly | None:
        """A connection that has sent ``sent`` bytes so far."""
        if sent > self.limits.max_upload_bytes:
            return Anomaly(
                rids.EGRESS_ANOMALY_UPLOAD_SIZE,
                f"upload over {self.limits.max_upload_bytes} bytes in one connection",
                refuse=True,
            )
        return None

    def _expire(self, now: float) -> None:
        if len(self._sessions) < 1024:
            return
        for key in [k for k, s in self._sessions.items() if s.last <= now - _IDLE]:
            del self._sessions[key]

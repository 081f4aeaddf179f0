"""Alert delivery: webhooks in Slack's and Teams' shapes, retried with backoff, failures recorded."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from ramparts.errors import PolicyError
from ramparts.monitor import parse_monitor
from ramparts.server.deliver import deliver_due
from ramparts.server.store import ServerStore


class Receiver:
    """A real webhook endpoint on loopback that fails the first ``failures`` requests with 500."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                ok = outer.failures <= 0
                outer.failures -= 1
                if ok:
                    outer.bodies.append(body)
                self.send_response(200 if ok else 500)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_alerts_reach_slack_and_teams_after_retries(store_url: str, receiver: Receiver) -> None:
    config = parse_monitor(
        {
            "deliver": [
                {"name": "slack", "url": receiver.url, "format": "slack", "min_severity": "high"},
                {"name": "teams", "url": receiver.url, "format": "teams"},
                {"name": "down", "url": f"http://127.0.0.1:{_closed_port()}/x", "timeout_seconds": 1},
            ]
        }
    )
    with ServerStore(store_url, monitor=config) as store:
        store.kill("session", "s1", "x", "y")
        with store._tx() as tx:
            store._alert(
                tx, 1000.0, "high", "rate.tool_calls", "31 tool calls in 60 s", host="h", session="s1"
            )
            store._alert(tx, 1000.0, "medium", "errors.rate", "3 of 10 denied", host="h", session="s2")
        now = 1000.0
        for _ in range(10):
            deliver_due(store, now)
            now += 400  # past any backoff
        slack = [b for b in receiver.bodies if "blocks" in b]
        teams = [b for b in receiver.bodies if b.get("@type") == "MessageCard"]
        assert [b["text"] for b in slack] == ["Ramparts high alert: rate.tool_calls: 31 tool calls in 60 s"]
        assert sorted(b["title"] for b in teams) == [
            "Ramparts high alert: rate.tool_calls",
            "Ramparts medium alert: errors.rate",
        ]
        first = max(a.id for a in store.alerts() if a.rule == "rate.tool_calls")
        states = {
            sink: (attempts, delivered, gave_up)
            for sink, attempts, _, delivered, gave_up in store.deliveries(first)
        }
        assert states["down"] == (8, False, True)
        assert states["slack"][1:] == (True, False) and states["teams"][1:] == (True, False)
        assert sum(attempts for attempts, _, _ in (states["slack"], states["teams"])) == 4  # two 500s retried
        failed = [a for a in store.alerts() if a.rule == "delivery.failed"]
        assert len(failed) == 2 and all("after 8 attempts" in a.message for a in failed)
        assert not store.due_deliveries(now + 10_000)


def test_bad_delivery_config_names_the_key() -> None:
    for bad, where in (
        ({"deliver": [{"name": "x", "url": "ftp://x"}]}, "monitor.deliver[0].url"),
        ({"deliver": [{"name": "x", "url": "https://x", "format": "discord"}]}, "monitor.deliver[0].format"),
        ({"deliver": [{"name": "x", "url": "https://x", "type": "email"}]}, "monitor.deliver[0].type"),
        (
            {"deliver": [{"name": "x", "url": "https://x"}, {"name": "x", "url": "https://y"}]},
            "monitor.deliver",
        ),
    ):
        with pytest.raises(PolicyError) as info:
            parse_monitor(bad)
        assert info.value.problem.startswith(where)


def test_alerts_reach_a_syslog_collector(store_url: str) -> None:
    received: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                received.append(chunk)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    config = parse_monitor(
        {
            "deliver": [
                {"name": "siem", "type": "syslog", "host": "127.0.0.1", "port": port, "transport": "tcp"}
            ]
        }
    )
    with ServerStore(store_url, monitor=config) as store:
        with store._tx() as tx:
            store._alert(
                tx, 1000.0, "high", "rate.tool_calls", "31 tool calls in 60 s", host="h", session="s1"
            )
        assert deliver_due(store, 1000.0) == (1, 0)
    thread.join(timeout=10)
    listener.close()
    message = b"".join(received).decode()
    assert (
        " ramparts-alerts " in message
        and '"rule":"rate.tool_calls"' in message
        and '"session":"s1"' in message
    )
    with pytest.raises(PolicyError) as info:
        parse_monitor(
            {"deliver": [{"name": "x", "type": "syslog", "host": "h", "transport": "carrier-pigeon"}]}
        )
    assert info.value.problem.startswith("monitor.deliver[0].transport")

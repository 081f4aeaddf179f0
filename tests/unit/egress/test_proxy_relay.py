"""The CONNECT relay on the protocol path (transports piped to each other): what a client pipelines
behind its CONNECT head is still checked, the target's bytes wait for the 200, a client that stops
reading stops the target (backpressure, not a growing buffer), and tunnels open when the proxy stops
are recorded once. Real proxy, real sockets, on the loop the CLI uses (uvloop; the harness)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ramparts.egress.acl import EgressAcl
from ramparts.egress.proxy import ProxyConfig
from tests.unit.egress.harness import Canary, client_hello, read_head, running

RESOLVE = {"allowed.test": ["127.0.0.2"]}


def config(**kw: Any) -> ProxyConfig:
    acl = EgressAcl(
        allow=("allowed.test",), allow_ranges=(ipaddress.ip_network("127.0.0.2/32"),), revision="r"
    )
    return ProxyConfig(acl=acl, state_dir="/x", auth=False, **kw)


def requests(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == "EgressRequest"]


class Sender:
    """A target on 127.0.0.2 that writes first: ``banner``, then ``total`` bytes as fast as the socket
    takes them, counting what the kernel accepted (``sent``)."""

    def __init__(self, banner: bytes = b"", total: int = 0, *, wait: bool = True) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.2", 0))
        self.sock.listen(4)
        self.port: int = self.sock.getsockname()[1]
        self.banner, self.total, self.sent, self.wait = banner, total, 0, wait
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        conn, _ = self.sock.accept()
        block = b"x" * 65536
        with conn:
            try:
                conn.sendall(self.banner)
                while self.sent < self.total:
                    self.sent += conn.send(block[: self.total - self.sent])
                if self.wait:
                    conn.recv(1)  # wait for the client to go
            except OSError:
                pass
        self.done.set()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary("127.0.0.2")
    yield c
    c.close()


def connect_with(p: Any, port: int, extra: bytes = b"") -> socket.socket:
    sock: socket.socket = p.connect()
    target = f"allowed.test:{port}"
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode() + extra)
    sock.settimeout(5)
    return sock


def test_a_client_hello_sent_with_the_connect_head_is_still_checked(canary: Canary) -> None:
    with running(config(), resolve=RESOLVE) as p:
        with connect_with(p, canary.port, client_hello("evil.example")) as sock:
            head = read_head(sock)
            assert head.startswith(b"HTTP/1.1 200 ")
            rest = head.split(b"\r\n\r\n", 1)[1]
            assert rest + sock.recv(100) == b""  # refused: nothing echoed, closed
        hello = client_hello("allowed.test")
        with connect_with(p, canary.port, hello) as sock:
            data = read_head(sock)
            echoed = data.split(b"\r\n\r\n", 1)[1]
            while len(echoed) < len(hello):
                echoed += sock.recv(65536)
            assert echoed == hello  # the pipelined bytes went up once, in order
        time.sleep(0.2)
    rules = [r["rule_ids"][0] for r in requests(p.records)]
    assert rules == ["egress.sni_mismatch", "egress.allowed"]


@pytest.mark.parametrize("wait", [True, False])
def test_a_server_first_target_is_answered_after_the_200(wait: bool) -> None:
    """A banner sent at once (SSH) reaches the client after its 200, also when the target closes
    right after it (``wait=False``: its EOF comes before the 200 went out)."""
    sender = Sender(banner=b"SSH-2.0-test\r\n", wait=wait)
    try:
        with running(config(), resolve=RESOLVE) as p, connect_with(p, sender.port) as sock:
            data = b""
            while b"SSH-2.0-test\r\n" not in data:
                chunk = sock.recv(4096)
                assert chunk
                data += chunk
            assert data == b"HTTP/1.1 200 Connection Established\r\n\r\nSSH-2.0-test\r\n"
            if not wait:
                assert sock.recv(100) == b""  # then the tunnel ends
    finally:
        sender.close()


def test_a_client_that_stops_reading_stops_the_target() -> None:
    """Backpressure: while the client reads nothing, the target can only fill the socket buffers and the
    proxy's high-water mark, not the proxy's memory; when the client reads, every byte arrives."""
    total = 256 * 1024 * 1024
    sender = Sender(total=total)
    try:
        with running(config(), resolve=RESOLVE) as p, connect_with(p, sender.port) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            head, _, early = read_head(sock).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")  # the target's bytes may follow it at once
            sock.sendall(b"\0")  # a first message (plain), so the relay is open both ways
            last = -1
            for _ in range(50):  # until the target is stopped: what it sent stops growing
                time.sleep(0.1)
                if sender.sent == last:
                    break
                last = sender.sent
            stalled = sender.sent
            assert stalled < 64 * 1024 * 1024, stalled  # kernel buffers both sides; not the 256 MB
            got = len(early)
            while got < total:
                chunk = sock.recv(1 << 20)
                assert chunk, (got, sender.sent)
                got += len(chunk)
            assert got == total
    finally:
        sender.close()


def test_tunnels_open_when_the_proxy_stops_are_recorded_once(canary: Canary) -> None:
    hello = client_hello("allowed.test")
    with running(config(), resolve=RESOLVE) as p:
        sock = connect_with(p, canary.port, hello)
        data = read_head(sock).split(b"\r\n\r\n", 1)[1]
        while len(data) < len(hello):
            data += sock.recv(65536)
    assert sock.recv(100) == b""  # the proxy ended it
    sock.close()
    records = requests(p.records)
    assert [r["rule_ids"][0] for r in records] == ["egress.allowed"]
    assert records[0]["egress"]["bytes_up"] == len(hello) == records[0]["egress"]["bytes_down"]


@pytest.mark.parametrize("first", [b"", b"ping\n", None])
def test_a_half_close_right_behind_the_connect_is_kept(canary: Canary, first: bytes | None) -> None:
    """A client that sends its CONNECT, its bytes and its EOF at once (``printf … | nc -N``) gets the
    200, its bytes go up once allowed, then the EOF: the target answers and the tunnel ends. With a
    ClientHello naming another host, the half-close does not get it through."""
    data = client_hello("evil.example") if first is None else first
    with running(config(), resolve=RESOLVE) as p:
        with connect_with(p, canary.port, data) as sock:
            sock.shutdown(socket.SHUT_WR)
            got = b""
            while chunk := sock.recv(65536):
                got += chunk
        time.sleep(0.2)
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    record = requests(p.records)[-1]
    if first is None:
        assert rest == b"" and record["rule_ids"] == ["egress.sni_mismatch"]
    else:
        assert rest == first and record["rule_ids"] == ["egress.allowed"]
        egress = record["egress"]
        assert egress.get("bytes_up", 0) == len(first) == egress.get("bytes_down", 0)

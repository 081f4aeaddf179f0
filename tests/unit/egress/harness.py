"""A real egress proxy on a background event loop, canary listeners on loopback aliases, raw clients."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from ramparts.egress.classify import IPAddress
from ramparts.egress.proxy import EgressProxy, ProxyConfig


class Canary:
    """A TCP listener that counts connections and echoes what it gets (stops with the test)."""

    def __init__(self, host: str, port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.hits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def new_loop() -> asyncio.AbstractEventLoop:
    """The event loop the CLI runs the proxy on: uvloop (the egress extra), unless
    ``RAMPARTS_TEST_LOOP=asyncio`` asks for the standard loop (the proxy's fallback)."""
    if os.environ.get("RAMPARTS_TEST_LOOP") != "asyncio":
        with suppress(ImportError):
            import uvloop

            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class ProxyThread:
    """An EgressProxy serving on 127.0.0.1 from its own event loop thread."""

    def __init__(
        self, config: ProxyConfig, resolve: dict[str, list[str]] | None = None, **kwargs: Any
    ) -> None:
        self.records: list[dict[str, Any]] = []
        self.last_answer = b""
        """What the last CONNECT got back (head and whatever came with it)."""
        self.loop = new_loop()
        names = resolve or {}

        async def resolver(host: str, port: int) -> list[IPAddress]:
            if host not in names:
                raise socket.gaierror(socket.EAI_NONAME, "unknown name")
            return [ipaddress.ip_address(a) for a in names[host]]

        resolver = kwargs.pop("resolver", resolver)  # a test's own resolver (answers that change)
        self.proxy = EgressProxy(config, records=self.records.append, resolver=resolver, **kwargs)
        ready = threading.Event()
        self.address: tuple[str, int] = ("", 0)

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.address = self.loop.run_until_complete(self.proxy.start("127.0.0.1", 0))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=10)
        return sock


@contextmanager
def running(config: ProxyConfig, **kwargs: Any) -> Iterator[ProxyThread]:
    proxy = ProxyThread(config, **kwargs)
    try:
        yield proxy
    finally:
        proxy.close()


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def http_connect(proxy: ProxyThread, target: str, *, auth: str = "") -> tuple[int, socket.socket]:
    sock = proxy.connect()
    extra = f"Proxy-Authorization: Basic {auth}\r\n" if auth else ""
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n".encode())
    head = read_head(sock)
    proxy.last_answer = head
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, sock


def http_get(proxy: ProxyThread, url: str, *, host: str | None = None, auth: str = "") -> tuple[int, bytes]:
    with proxy.connect() as sock:
        extra = f"Proxy-Authorization: Basic {auth}\r\n" if auth else ""
        host_line = f"Host: {host}\r\n" if host is not None else ""
        sock.sendall(f"GET {url} HTTP/1.1\r\n{host_line}{extra}\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, data


def socks_connect(
    proxy: ProxyThread, host: str, port: int, *, atyp: int = 3, creds: tuple[str, str] | None = None
) -> tuple[int, socket.socket]:
    """SOCKS5 CONNECT; returns (reply code or -1 when the handshake was refused, socket)."""
    sock = proxy.connect()
    sock.sendall(b"\x05\x01" + (b"\x02" if creds else b"\x00"))
    choice = sock.recv(2)
    if len(choice) < 2 or choice[1] == 0xFF:
        return -1, sock
    if creds:
        user, password = (c.encode() for c in creds)
        sock.sendall(bytes((1, len(user))) + user + bytes((len(password),)) + password)
        status = sock.recv(2)
        if len(status) < 2 or status[1] != 0:
            return -1, sock
    if atyp == 1:
        raw = ipaddress.IPv4Address(host).packed
    elif atyp == 4:
        raw = ipaddress.IPv6Address(host).packed
    else:
        raw = bytes((len(host.encode()),)) + host.encode()
    sock.sendall(bytes((5, 1, 0, atyp)) + raw + struct.pack(">H", port))
    reply = b""
    while len(reply) < 10:
        chunk = sock.recv(10 - len(reply))
        if not chunk:
            return -1, sock
        reply += chunk
    return reply[1], sock


def client_hello(server_name: str) -> bytes:
    """A real ClientHello from Python's ssl module for ``server_name`` (nothing is sent anywhere)."""
    import ssl

    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()

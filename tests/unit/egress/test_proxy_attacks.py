"""The next things an attacker tries against the proxy, each against a real proxy and canary listeners:
DNS rebinding between the check and the dial (and through the DNS cache), absolute-form requests whose
Host disagrees with the URL, HTTP/1.0 without Host, CONNECT to a port outside the policy, IPv6 zone ids,
very long header lines, and slowloris (a request head, a SOCKS handshake or a ClientHello dripped a byte
at a time must not hold a connection past one deadline). Also the hot path's memo tables and the audit
writer's group commit."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.egress.acl import EgressAcl
from ramparts.egress.classify import IPAddress
from ramparts.egress.proxy import EgressProxy, ProxyConfig
from tests.unit.egress.harness import (
    Canary,
    ProxyThread,
    client_hello,
    http_connect,
    http_get,
    read_head,
    running,
    socks_connect,
)

ALLOWED = ipaddress.ip_network("127.0.0.2/32")


def acl(**kw: Any) -> EgressAcl:
    base = EgressAcl(allow=("allowed.test", "flip.test"), allow_ranges=(ALLOWED,), revision="atk")
    return base._replace(**kw)


@pytest.fixture
def canaries() -> Iterator[tuple[Canary, Canary, Canary]]:
    """(the allowed origin on 127.0.0.2, a private canary on 127.0.0.1 and one on ::1), one port."""
    allowed = Canary("127.0.0.2")
    private = Canary("127.0.0.1", allowed.port)
    six = Canary("::1", allowed.port)
    yield allowed, private, six
    for canary in (allowed, private, six):
        canary.close()


def requests(proxy: ProxyThread) -> list[dict[str, Any]]:
    return [r for r in proxy.records if r["event"] == "EgressRequest"]


# -- DNS rebinding ---------------------------------------------------------------------------------------


class Flipping:
    """A resolver whose answer for a name alternates: an allowed address, then a private one."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls += 1
        answer = "127.0.0.2" if self.calls % 2 else "127.0.0.1"
        return [ipaddress.ip_address(answer)]


@pytest.mark.parametrize("cache", [0.0, 60.0])
def test_rebinding_between_check_and_dial_never_reaches_the_private_address(
    canaries: tuple[Canary, Canary, Canary], cache: float
) -> None:
    allowed, private, six = canaries
    flip = Flipping()
    config = ProxyConfig(acl=acl(), state_dir="/x", auth=False, dns_cache_seconds=cache)
    with running(config, resolver=flip) as proxy:
        statuses = []
        for _ in range(4):
            status, sock = http_connect(proxy, f"flip.test:{allowed.port}")
            sock.close()
            statuses.append(status)
        code, sock = socks_connect(proxy, "flip.test", allowed.port)
        sock.close()
    assert private.hits == 0 and six.hits == 0
    if cache:  # one answer, checked once, dialled each time: the later private answer is never seen
        assert statuses == [200, 200, 200, 200] and code == 0 and flip.calls == 1
    else:  # resolved per connection: every private answer is refused, every allowed one dialled
        assert statuses == [200, 403, 200, 403] and code == 0 and flip.calls == 5
        denied = [r for r in requests(proxy) if r["decision"] == "deny"]
        assert [r["rule_ids"][0] for r in denied] == ["egress.address.loopback"] * 2
        assert all(r["egress"]["address"] == "127.0.0.1" for r in denied)
    assert _hits(allowed, 5 if cache else 3) == (5 if cache else 3)


def _hits(canary: Canary, expected: int) -> int:
    """The canary's count once its accept thread has caught up (or after a second)."""
    for _ in range(40):
        if canary.hits >= expected:
            break
        time.sleep(0.025)
    return canary.hits


def test_the_dns_cache_expires_and_the_new_answer_is_classified(canaries: tuple[Canary, ...]) -> None:
    allowed, private, _six = canaries
    flip = Flipping()
    config = ProxyConfig(acl=acl(), state_dir="/x", auth=False, dns_cache_seconds=0.3)
    with running(config, resolver=flip) as proxy:
        first, sock = http_connect(proxy, f"flip.test:{allowed.port}")
        sock.close()
        time.sleep(0.5)
        second, sock = http_connect(proxy, f"flip.test:{allowed.port}")
        sock.close()
    assert (first, second) == (200, 403) and private.hits == 0


def test_the_dial_uses_the_classified_literal_not_the_name(canaries: tuple[Canary, ...]) -> None:
    """The name given to the loop is the address checked: resolving it again (system DNS, /etc/hosts,
    which would map 'localhost' to the loopback) is impossible."""
    allowed, private, _six = canaries
    calls: list[str] = []

    async def once(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address("127.0.0.2")]

    with running(
        ProxyConfig(acl=acl(allow=("allowed.test", "localhost")), state_dir="/x", auth=False), resolver=once
    ) as p:
        status, sock = http_connect(p, f"allowed.test:{allowed.port}")
        sock.close()
        assert status == 200
        status, sock = http_connect(p, f"localhost:{allowed.port}")  # loopback by name, never resolved
        sock.close()
        assert status == 403
    assert calls == ["allowed.test"] and private.hits == 0 and _hits(allowed, 1) == 1


# -- absolute-form and HTTP/1.0 ------------------------------------------------------------------------


ABSOLUTE = [
    # (request line and headers after the method, expected status)
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost: 127.0.0.1:{p}", 421),
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost: evil.test", 421),
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost: allowed.test.evil.test", 421),
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost: allowed.test@evil.test", 400),
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost: allowed.test\r\nHost: evil.test", 400),
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost : evil.test", 400),
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost: allowed.test\r\n evil.test", 400),  # obs-fold
    ("http://allowed.test:{p}/ HTTP/1.1\r\nHost: allowed.test\x00evil.test", 400),
    ("http://allowed.test@127.0.0.1:{p}/ HTTP/1.1", 400),
    ("http://127.0.0.1:{p}\\@allowed.test/ HTTP/1.1", 400),
    ("http://%61llowed.test:{p}/ HTTP/1.1", 403),
    ("http://allowed.test:{p}#@127.0.0.1/ HTTP/1.1", 400),
    ("/ HTTP/1.0\r\nHost: allowed.test:{p}", 400),  # origin-form: the proxy takes absolute URLs only
    ("/ HTTP/1.0", 400),
    ("http://127.0.0.1:{p}/ HTTP/1.0", 403),
    ("http://[::1]:{p}/ HTTP/1.0", 403),
]


@pytest.mark.parametrize(("line", "expected"), ABSOLUTE)
def test_absolute_form_host_games(canaries: tuple[Canary, ...], line: str, expected: int) -> None:
    allowed, private, six = canaries
    with running(
        ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve={"allowed.test": ["127.0.0.2"]}
    ) as p:
        with p.connect() as sock:
            sock.sendall(f"GET {line.format(p=allowed.port)}\r\n\r\n".encode("latin-1"))
            head = read_head(sock)
        assert head.startswith(f"HTTP/1.1 {expected} ".encode()), head[:200]
        assert requests(p)[-1]["decision"] == "deny"
    assert allowed.hits == private.hits == six.hits == 0


def test_http10_without_host_reaches_only_the_url_host() -> None:
    origin = socket.socket()
    origin.bind(("127.0.0.2", 0))
    origin.listen(1)
    port = origin.getsockname()[1]
    seen: list[bytes] = []

    def serve_one() -> None:
        conn, _ = origin.accept()
        with conn:
            seen.append(read_head(conn))
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nok")

    server = threading.Thread(target=serve_one)
    server.start()
    try:
        config = ProxyConfig(acl=acl(), state_dir="/x", auth=False)
        with running(config, resolve={"allowed.test": ["127.0.0.2"]}) as p, p.connect() as sock:
            sock.sendall(f"GET http://allowed.test:{port}/a HTTP/1.0\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        server.join(5)
        assert data.endswith(b"ok")
        assert seen[0].startswith(b"GET /a HTTP/1.0\r\n") and b"Host" not in seen[0]
    finally:
        origin.close()


# -- ports ------------------------------------------------------------------------------------------------


def test_connect_ports_outside_the_range_or_malformed_are_refused(canaries: tuple[Canary, ...]) -> None:
    allowed, private, six = canaries
    with running(
        ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve={"allowed.test": ["127.0.0.2"]}
    ) as p:
        for target in (
            "allowed.test:0",
            "allowed.test:65536",
            "allowed.test:-1",
            "allowed.test:+443",
            "allowed.test: 443",
            "allowed.test:0x1bb",
            "allowed.test:443:443",
            "allowed.test:",
            "allowed.test",
            "allowed.test:4430000",
        ):
            status, sock = http_connect(p, target)
            sock.close()
            assert status == 400, target
        status, sock = http_connect(p, "allowed.test:853")  # DNS over TLS, whatever the name
        sock.close()
        assert status == 403
        assert requests(p)[-1]["rule_ids"] == ["egress.dot"]
    assert allowed.hits == private.hits == six.hits == 0


PUBLIC = {"public.test": ["93.184.216.34"], "mixed.test": ["93.184.216.34", "127.0.0.1"]}


def test_ports_outside_the_policy_are_refused_for_names_and_public_addresses(
    canaries: tuple[Canary, ...],
) -> None:
    """egress.ports (80, 443 by default) holds for names and public addresses on CONNECT, absolute-form
    and SOCKS; an allowed range (an internal service) is reachable on any port; an address's class is
    what a denial names when both apply. Nothing here may dial out: the public address is refused
    before any connect (a port outside the list), and so is the mixed answer (its loopback address)."""
    allowed, private, six = canaries
    ports_acl = acl(allow=("allowed.test", "public.test", "mixed.test", "93.184.216.34"), ports=(80, 443))
    config = ProxyConfig(acl=ports_acl, state_dir="/x", auth=False)
    with running(config, resolve={**PUBLIC, "allowed.test": ["127.0.0.2"]}) as p:
        for target in ("public.test:25", "93.184.216.34:22", "PUBLIC.test.:6379"):
            status, sock = http_connect(p, target)
            sock.close()
            assert status == 403, target
            assert requests(p)[-1]["rule_ids"] == ["egress.port"]
        status, _body = http_get(p, "http://public.test:8080/")
        assert status == 403 and requests(p)[-1]["rule_ids"] == ["egress.port"]
        code, sock = socks_connect(p, "public.test", 5432)
        sock.close()
        assert code == 0x02 and requests(p)[-1]["rule_ids"] == ["egress.port"]
        status, sock = http_connect(p, "mixed.test:25")
        sock.close()
        assert status == 403 and requests(p)[-1]["rule_ids"] == ["egress.address.loopback"]
        status, sock = http_connect(p, f"allowed.test:{allowed.port}")  # an allowed range: any port
        sock.close()
        assert status == 200
    report = ProxyConfig(acl=ports_acl._replace(mode="report"), state_dir="/x", auth=False)
    with running(report, resolve={"allowed.test": ["127.0.0.2"], "elsewhere.test": ["127.0.0.2"]}) as p:
        status, sock = http_connect(p, f"127.0.0.2:{allowed.port}")
        sock.close()
        assert status == 200
    assert private.hits == six.hits == 0


# -- IPv6 zone ids ----------------------------------------------------------------------------------------


ZONED = ["[::1%lo]", "[::1%251]", "[fe80::1%25lo]", "[::ffff:127.0.0.1%lo]", "[::ffff:7f00:1%0]"]


@pytest.mark.parametrize("host", ZONED)
def test_ipv6_zone_ids_are_classified_without_the_zone(canaries: tuple[Canary, ...], host: str) -> None:
    allowed, private, six = canaries
    with running(ProxyConfig(acl=acl(allow=("*",)), state_dir="/x", auth=False)) as p:
        status, sock = http_connect(p, f"{host}:{allowed.port}")
        sock.close()
        assert status in (400, 403)
        get_status, _ = http_get(p, f"http://{host}:{allowed.port}/")
        assert get_status in (400, 403)
        denied = requests(p)
        assert all(r["decision"] == "deny" for r in denied)
        assert {r["rule_ids"][0] for r in denied} <= {
            "egress.address.loopback",
            "egress.address.link-local",
            "egress.malformed",
        }
    assert allowed.hits == private.hits == six.hits == 0


# -- long lines ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"CONNECT allowed.test:443 HTTP/1.1\r\nX-Long: " + b"a" * 40_000 + b"\r\n\r\n",
        b"CONNECT allowed.test:443 HTTP/1.1\r\n" + b"X-Many: 1\r\n" * 4_000 + b"\r\n",
        b"GET http://allowed.test/" + b"p" * 40_000 + b" HTTP/1.1\r\n\r\n",
        b"CONNECT " + b"a." * 200 + b"test:443 HTTP/1.1\r\n\r\n",
    ],
    ids=["one-header-40k", "4000-headers", "target-40k", "host-400"],
)
def test_very_long_header_lines_get_a_400_and_nothing_connects(
    canaries: tuple[Canary, ...], payload: bytes
) -> None:
    allowed, *_ = canaries
    with running(
        ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve={"allowed.test": ["127.0.0.2"]}
    ) as p:
        with p.connect() as sock:
            try:
                sock.sendall(payload)
                head = read_head(sock)
            except ConnectionResetError:  # the proxy closed with the rest of the flood unread
                head = b""
        assert head == b"" or head.startswith(b"HTTP/1.1 400 "), head[:100]
        assert requests(p)[-1]["rule_ids"] == ["egress.malformed"]
        status, sock = http_connect(p, f"allowed.test:{allowed.port}")  # still serving
        sock.close()
        assert status == 200


# -- slowloris ----------------------------------------------------------------------------------------------


def _drip(proxy: ProxyThread, data: bytes, *, every: float, prefix: bytes = b"") -> tuple[float, bytes]:
    """Send ``prefix`` then ``data`` a byte every ``every`` seconds until the proxy closes; (seconds
    from the first dripped byte until it closed, what came back)."""
    sock = proxy.connect()
    sock.settimeout(every)
    got = b""
    if prefix:
        sock.sendall(prefix)
        got += read_head(sock) if prefix.startswith(b"CONNECT") else sock.recv(2)
    start = time.monotonic()
    try:
        for byte in data:
            try:
                sock.sendall(bytes((byte,)))
            except OSError:
                break
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            got += chunk
            if not chunk:
                break
        return time.monotonic() - start, got
    finally:
        sock.close()


def test_slowloris_request_heads_socks_handshakes_and_client_hellos_get_one_deadline(
    canaries: tuple[Canary, ...],
) -> None:
    allowed, *_ = canaries
    config = ProxyConfig(acl=acl(), state_dir="/x", auth=False, head_timeout=0.6)
    target = f"allowed.test:{allowed.port}"
    with running(config, resolve={"allowed.test": ["127.0.0.2"]}) as p:
        head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n" + "X-Pad: 1\r\n" * 40
        took, got = _drip(p, head.encode(), every=0.05)
        assert took < 2.5 and b" 200 " not in got
        request = b"\x05\x01\x00\x03" + bytes((12,)) + b"allowed.test" + allowed.port.to_bytes(2, "big")
        took, got = _drip(p, b"\x05\x01\x00" + request, every=0.1)
        assert took < 1.9 and b"\x05\x00\x00\x01" not in got  # cut before the request was whole
        hello = client_hello("allowed.test")
        connect = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode()
        took, got = _drip(p, hello, every=0.05, prefix=connect)
        assert b" 200 " in got and took < 2.5
        for _ in range(50):
            if any(r["rule_ids"] == ["egress.malformed"] for r in requests(p)):
                break
            time.sleep(0.05)
        dripped = [r for r in requests(p) if r["rule_ids"] == ["egress.malformed"]]
        assert dripped and "in time" in dripped[-1]["reasons"][0]
        status, sock = http_connect(p, target)  # everyone else is still served
        sock.close()
        assert status == 200


def test_an_idle_tunnel_is_cut_by_its_watchdog(canaries: tuple[Canary, ...]) -> None:
    allowed, *_ = canaries
    config = ProxyConfig(acl=acl(), state_dir="/x", auth=False, idle_timeout=0.5)
    with running(config, resolve={"allowed.test": ["127.0.0.2"]}) as p:
        status, sock = http_connect(p, f"allowed.test:{allowed.port}")
        assert status == 200
        with sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(100).startswith(b"GET /")  # the canary echoes: the tunnel works
            start = time.monotonic()
            assert sock.recv(100) == b""  # then nothing either way: cut
            assert time.monotonic() - start < 4


# -- the hot path's memo tables stay bounded --------------------------------------------------------------


def test_memo_tables_are_bounded_and_answers_match_the_pure_checks() -> None:
    import asyncio

    from ramparts.egress import proxy as proxy_module
    from ramparts.egress.acl import check_address, check_host

    engine = EgressProxy(ProxyConfig(acl=acl(), state_dir="/x", auth=False))
    for i in range(proxy_module._CACHED + 10):
        host = f"h{i}.test"
        assert engine._check_host(host, 443)[0] == check_host(engine.acl, host, 443)
        address = ipaddress.ip_address(f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
        assert engine._check_address(host, address, 443) == check_address(engine.acl, host, address, 443)
    assert len(engine._host_checks) <= proxy_module._CACHED
    assert len(engine._address_checks) <= proxy_module._CACHED
    assert len(engine._classes) <= proxy_module._CACHED

    async def fail(host: str, port: int) -> list[IPAddress]:
        raise OSError("no")

    engine.resolver = fail
    with pytest.raises(OSError):
        asyncio.run(engine._resolve("x.test", 443))
    assert "x.test" not in engine._dns  # failures are not cached


# -- records built off the loop, many to a commit --------------------------------------------------------


def test_records_built_off_the_loop_are_group_committed_in_order(tmp_path: Path) -> None:
    from ramparts.audit.keys import default_key_path
    from ramparts.audit.writer import AuditWriter
    from ramparts.testing import audit_records

    canary = Canary("127.0.0.2")
    writer = AuditWriter(
        str(tmp_path / "audit.db"), key_path=default_key_path(str(tmp_path)), batch_seconds=0.05
    )
    try:
        config = ProxyConfig(acl=acl(), state_dir="/x", auth=False)
        with running(config, resolve={"allowed.test": ["127.0.0.2"]}, lazy_records=writer.append_built) as p:
            statuses = []
            for target in (f"allowed.test:{canary.port}", "allowed.test:1", "evil.test:443"):
                status, sock = http_connect(p, target)
                sock.close()
                statuses.append(status)
            assert statuses == [200, 502, 403]
            assert p.records == []  # nothing built on the loop

        def broken() -> dict[str, Any]:
            raise ValueError("a build that fails")

        writer.append_built(broken)
        writer.flush()
        assert writer.failures == 1
    finally:
        writer.close()
        canary.close()
    got = sorted((r.event, r.decision, r.rule_ids[0]) for r in audit_records(tmp_path / "audit.db"))
    assert got == [
        ("EgressAnomaly", "allow", "egress.anomaly.first_seen"),
        ("EgressRequest", "allow", "egress.allowed"),
        ("EgressRequest", "deny", "egress.connect_failed"),
        ("EgressRequest", "deny", "egress.not_allowed"),
    ]


def test_an_audit_store_that_cannot_be_written_closes_the_proxy_until_a_write_succeeds(
    tmp_path: Path,
) -> None:
    """Fail closed: after a failed audit write every connection is refused (503, egress.audit), and the
    refusal's own record is the probe; once it is written the proxy serves again. Report mode lets
    connections through, recorded as would-deny. A real AuditWriter on SQLite."""
    from ramparts.audit.keys import default_key_path
    from ramparts.audit.writer import AuditWriter
    from ramparts.testing import audit_records

    canary = Canary("127.0.0.2")
    writer = AuditWriter(str(tmp_path / "audit.db"), key_path=default_key_path(str(tmp_path)))
    target = f"allowed.test:{canary.port}"

    def broken() -> dict[str, Any]:
        raise ValueError("the store said no")

    try:
        for mode, expected in (("enforce", 503), ("report", 200)):
            config = ProxyConfig(acl=acl(mode=mode), state_dir="/x", auth=False)
            with running(
                config,
                resolve={"allowed.test": ["127.0.0.2"]},
                lazy_records=writer.append_built,
                audit_healthy=lambda: bool(writer.healthy),
            ) as p:
                writer.append_built(broken)
                writer.flush()
                assert not writer.healthy
                status, sock = http_connect(p, target)
                sock.close()
                assert status == expected
                if mode == "enforce":
                    assert b"X-Ramparts-Reason: the audit store cannot be written" in p.last_answer
                    code, sock = socks_connect(p, "allowed.test", canary.port)
                    sock.close()
                    assert code == 0x01
                writer.flush()
                assert writer.healthy  # the refusal's record was written: the store works again
                status, sock = http_connect(p, target)
                sock.close()
                assert status == 200
            writer.flush()  # every record of this proxy is in before the next one starts
    finally:
        writer.close()
        canary.close()
    audit = [r for r in audit_records(tmp_path / "audit.db") if r.rule_ids[0] == "egress.audit"]
    assert sorted((r.decision, r.enforced) for r in audit) == [
        ("allow", False),
        ("deny", True),
        ("deny", True),
    ]


def test_a_long_dlp_scan_does_not_stop_the_other_tunnels(canaries: tuple[Canary, ...]) -> None:
    """The outbound scan runs off the event loop: while one client's first message is being scanned
    (here: a scan that lasts until another client has been served), the proxy serves the others. Were
    the scan on the loop, the second CONNECT could not be answered and the scan would give up after
    10 s with the other client unserved."""
    from ramparts.model import Decision

    allowed, *_ = canaries
    scanning, served = threading.Event(), threading.Event()
    outcome: list[bool] = []

    def checker(data: bytes, where: str) -> Decision | None:
        scanning.set()
        outcome.append(served.wait(10))
        return None

    config = ProxyConfig(acl=acl(), state_dir="/x", auth=False, dlp=checker)
    with running(config, resolve={"allowed.test": ["127.0.0.2"]}) as p:
        status, first = http_connect(p, f"allowed.test:{allowed.port}")
        assert status == 200
        with first:
            first.sendall(b"hello, plain bytes\n")  # not TLS: scanned before it goes upstream
            assert scanning.wait(10)
            status, second = http_connect(p, f"allowed.test:{allowed.port}")
            second.close()
            assert status == 200
            served.set()
            first.settimeout(10)
            assert first.recv(100) == b"hello, plain bytes\n"  # then the first one's bytes flow
    assert outcome == [True]


def test_past_max_connections_one_more_gets_503_and_the_rest_are_served(canaries: tuple[Canary, ...]) -> None:
    allowed, *_ = canaries
    config = ProxyConfig(acl=acl(), state_dir="/x", auth=False, max_connections=2)
    with running(config, resolve={"allowed.test": ["127.0.0.2"]}) as p:
        held = [p.connect(), p.connect()]  # two clients that send nothing yet
        for _ in range(200):
            if p.proxy.active == 2:
                break
            time.sleep(0.01)
        with p.connect() as extra:
            assert read_head(extra).startswith(b"HTTP/1.1 503 ")
        assert requests(p)[-1]["rule_ids"] == ["egress.busy"]
        held.pop().close()
        for _ in range(200):
            if p.proxy.active < 2:
                break
            time.sleep(0.01)
        status, sock = http_connect(p, f"allowed.test:{allowed.port}")
        sock.close()
        assert status == 200
        for sock in held:
            sock.close()


def test_a_stalled_audit_writer_fills_its_queue_and_the_proxy_refuses_until_it_drains(
    tmp_path: Path, canaries: tuple[Canary, ...]
) -> None:
    """The audit writer's queue is capped: while its thread is stuck (a slow disk, a locked database),
    records wait up to ``max_pending``; past that every new connection is a 503 (``egress.audit``),
    unrecorded but counted, and nothing more is queued. Once the writer drains, connections are served
    again and the count is one record. A real AuditWriter on SQLite, stalled for real (its one thread
    blocked)."""
    from ramparts.audit.keys import default_key_path
    from ramparts.audit.writer import AuditWriter
    from ramparts.testing import audit_records

    allowed, *_ = canaries
    writer = AuditWriter(str(tmp_path / "audit.db"), key_path=default_key_path(str(tmp_path)), max_pending=4)
    release = threading.Event()
    stalled = writer.run(lambda: release.wait(30) and None)
    target = f"allowed.test:{allowed.port}"
    try:
        config = ProxyConfig(acl=acl(), state_dir="/x", auth=False)
        with running(
            config,
            resolve={"allowed.test": ["127.0.0.2"]},
            lazy_records=writer.append_built,
            audit_healthy=lambda: bool(writer.healthy),
            audit_room=writer.has_room,
        ) as p:
            statuses = []
            for _ in range(8):
                status, sock = http_connect(p, "evil.test:443")  # one record each (a deny)
                sock.close()
                statuses.append(status)
            assert statuses == [403] * 4 + [503] * 4
            assert b"X-Ramparts-Reason: the audit writer is behind" in p.last_answer
            assert writer.backlog_size() == 4  # capped: the refusals queued nothing
            release.set()
            stalled.result(10)
            writer.flush()
            status, sock = http_connect(p, target)
            sock.close()
            assert status == 200
        writer.flush()
    finally:
        release.set()
        writer.close()
    records = audit_records(tmp_path / "audit.db")
    counted = [r for r in records if r.rule_ids[0] == "egress.audit"]
    assert len(counted) == 1 and counted[0].event == "EgressAnomaly"
    assert "4 connection(s) refused unrecorded" in counted[0].reasons[0]
    assert sum(r.rule_ids[0] == "egress.not_allowed" for r in records) == 4
    assert any(r.rule_ids[0] == "egress.allowed" for r in records)


def test_the_audit_writer_has_a_hard_ceiling(tmp_path: Path) -> None:
    """Past twice its cap the writer drops a build, counts it and turns unhealthy (the proxy then
    refuses everything until a write succeeds)."""
    from ramparts.audit.keys import default_key_path
    from ramparts.audit.writer import AuditWriter

    writer = AuditWriter(str(tmp_path / "audit.db"), key_path=default_key_path(str(tmp_path)), max_pending=2)
    release = threading.Event()
    stalled = writer.run(lambda: release.wait(30) and None)
    try:
        for _ in range(5):
            writer.append_built(lambda: {"event": "x"})
        assert (writer.backlog_size(), writer.dropped, writer.healthy, writer.has_room()) == (
            4,
            1,
            False,
            False,
        )
    finally:
        release.set()
        stalled.result(10)
        writer.close()


def test_records_appended_one_by_one_are_bounded_too(tmp_path: Path) -> None:
    """``append`` (the DNS stub's and the gateway's records) shares the cap: while the writer's thread is
    stuck, records wait up to twice ``max_pending``; past that each is dropped (its future says False),
    counted, and the writer is unhealthy. Once the store takes writes again it is healthy."""
    from ramparts.audit.keys import default_key_path
    from ramparts.audit.writer import AuditWriter

    writer = AuditWriter(str(tmp_path / "audit.db"), key_path=default_key_path(str(tmp_path)), max_pending=2)
    release = threading.Event()
    stalled = writer.run(lambda: release.wait(30) and None)
    try:
        futures = [writer.append({"event": "x", "n": i}) for i in range(6)]
        assert (writer.backlog_size(), writer.dropped, writer.healthy, writer.has_room()) == (
            4,
            2,
            False,
            False,
        )
        assert [f.done() and not f.result() for f in futures[4:]] == [True, True]
        writer.append_built(lambda: {"event": "y"})  # the lazy queue sees the same ceiling
        assert writer.dropped == 3
        release.set()
        assert [f.result(10) for f in futures[:4]] == [True] * 4
        assert (writer.backlog_size(), writer.healthy, writer.has_room()) == (0, True, True)
    finally:
        release.set()
        stalled.result(10)
        writer.close()

"""The SSRF table: every spelling of a loopback, metadata, private or otherwise special target, through
CONNECT, absolute-form HTTP and SOCKS5, against canaries listening on loopback aliases. Nothing reaches
a canary; every denial is one audit record with its class. A positive control shows the proxy does
connect when an allowed range covers the target."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from ramparts.egress.acl import EgressAcl
from ramparts.egress.proxy import ProxyConfig
from tests.unit.egress.harness import Canary, ProxyThread, http_connect, http_get, running, socks_connect

SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.0.0.1",
    "0x7f.1",
    "0177.0.0.1",
    "0177.1",
    "017700000001",
    "127.000.000.001",
    "0x7F.0x00.0x00.0x01",
    "127.0.0.1.",
    "127.127.127.127",
    "0.0.0.0",
    "0",
    "0x0",
    "[::1]",
    "[0000::1]",
    "[::1%lo]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::127.0.0.1]",
    "[::ffff:0:7f00:1]",
    "[64:ff9b::127.0.0.1]",
    "[2002:7f00:1::]",
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",
    "[::]",
    "169.254.169.254",
    "0xa9fea9fe",
    "2852039166",
    "169.254.43518",
    "0251.0376.0251.0376",
    "[::ffff:169.254.169.254]",
    "[fd00:ec2::254]",
    "100.100.100.200",
    "metadata.google.internal",
    "10.0.0.1",
    "192.168.0.1",
    "172.16.0.1",
    "100.64.0.1",
    "[fe80::1]",
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
    "localhost",
    "LOCALHOST.",
    "canary.test",
    "rebind.test",
    "dns.google",
    "pastebin.com",
]
RESOLVE = {
    "localhost": ["127.0.0.1", "::1"],
    "canary.test": ["127.0.0.1"],
    "rebind.test": ["93.184.216.34", "127.0.0.1"],
    "allowed.test": ["127.0.0.2"],
}
EXPECTED_RULES = {
    "egress.address.loopback",
    "egress.address.unspecified",
    "egress.address.private",
    "egress.address.link-local",
    "egress.address.cgnat",
    "egress.address.multicast",
    "egress.address.broadcast",
    "egress.address.reserved",
    "egress.metadata",
    "egress.doh",
    "egress.denied_host",
}


@pytest.fixture(scope="module")
def canaries() -> Iterator[list[Canary]]:
    """Listeners on one port of 127.0.0.1, 127.127.127.127 and ::1: every loopback spelling's target."""
    first = Canary("127.0.0.1")
    every = [first, Canary("127.127.127.127", first.port), Canary("::1", first.port)]
    yield every
    for canary in every:
        canary.close()


@pytest.fixture(scope="module")
def proxy() -> Iterator[ProxyThread]:
    acl = EgressAcl(
        allow=("canary.test", "allowed.test", "rebind.test", "localhost", "dns.google", "pastebin.com"),
        allow_ranges=(ipaddress.ip_network("127.0.0.2/32"),),
        revision="ssrf",
    )
    with running(ProxyConfig(acl=acl, state_dir="/nonexistent", auth=False), resolve=RESOLVE) as p:
        yield p


def _last_denial(proxy: ProxyThread, before: int) -> dict[str, object]:
    new = [r for r in proxy.records[before:] if r["event"] == "EgressRequest"]
    assert len(new) == 1, new
    record = new[0]
    assert record["decision"] == "deny", record
    return record


@pytest.mark.parametrize("target", SPELLINGS)
def test_no_spelling_reaches_a_canary(target: str, canaries: list[Canary], proxy: ProxyThread) -> None:
    port = canaries[0].port
    hits = sum(c.hits for c in canaries)
    # 1. CONNECT
    before = len(proxy.records)
    status, sock = http_connect(proxy, f"{target}:{port}")
    sock.close()
    assert status in (403, 400), (target, status)
    record = _last_denial(proxy, before)
    assert record["rule_ids"][0] in EXPECTED_RULES  # type: ignore[index]
    # 2. absolute-form HTTP
    before = len(proxy.records)
    status, body = http_get(proxy, f"http://{target}:{port}/")
    assert status in (403, 400), (target, status, body[:200])
    record = _last_denial(proxy, before)
    assert record["rule_ids"][0] in EXPECTED_RULES  # type: ignore[index]
    assert b"X-Ramparts-Reason" in body
    # 3. SOCKS5 with the spelling as a name (what socks5h clients send)
    before = len(proxy.records)
    code, sock = socks_connect(proxy, target.strip("[]"), port)
    sock.close()
    assert code == 0x02, (target, code)
    record = _last_denial(proxy, before)
    assert record["rule_ids"][0] in EXPECTED_RULES  # type: ignore[index]
    egress = record["egress"]
    assert isinstance(egress, dict) and egress["protocol"] == "socks5"
    if record["rule_ids"][0].startswith("egress.address."):  # type: ignore[index]
        assert egress.get("address_class"), record  # the class of the address it refused
    assert sum(c.hits for c in canaries) == hits, f"{target} reached a canary"


@pytest.mark.parametrize(
    ("host", "atyp"), [("127.0.0.1", 1), ("169.254.169.254", 1), ("::1", 4), ("::ffff:127.0.0.1", 4)]
)
def test_socks_binary_addresses_are_classified(
    host: str, atyp: int, canaries: list[Canary], proxy: ProxyThread
) -> None:
    hits = sum(c.hits for c in canaries)
    before = len(proxy.records)
    code, sock = socks_connect(proxy, host, canaries[0].port, atyp=atyp)
    sock.close()
    assert code == 0x02
    assert _last_denial(proxy, before)["rule_ids"][0] in EXPECTED_RULES  # type: ignore[index]
    assert sum(c.hits for c in canaries) == hits


def test_positive_control_an_allowed_range_connects(proxy: ProxyThread) -> None:
    canary = Canary("127.0.0.2")
    try:
        status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
        assert status == 200
        sock.sendall(b"ping-through-connect")
        assert sock.recv(100) == b"ping-through-connect"
        sock.close()
        code, sock = socks_connect(proxy, "127.0.0.2", canary.port, atyp=1)
        assert code == 0
        sock.sendall(b"ping-through-socks")
        assert sock.recv(100) == b"ping-through-socks"
        sock.close()
        assert canary.hits == 2
    finally:
        canary.close()

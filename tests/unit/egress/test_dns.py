"""The DNS stub: allowed names answered with classified addresses, everything else REFUSED, tunnel
shapes and TXT floods flagged, garbage ignored; one real UDP round trip with dnspython's client."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import dns.message
import dns.query
import dns.rcode

from ramparts.egress.acl import Anomalies, EgressAcl
from ramparts.egress.classify import IPAddress
from ramparts.egress.dns import DnsStub, start_dns

NAMES = {
    "pypi.org": ["151.101.0.223", "2a04:4e42::223"],
    "rebind.pypi.org": ["10.0.0.7"],
    "a" * 45 + ".pypi.org": ["151.101.0.223"],
}


async def fake(host: str, port: int) -> list[IPAddress]:
    if host not in NAMES:
        raise socket.gaierror(socket.EAI_NONAME, "no such name")
    return [ipaddress.ip_address(a) for a in NAMES[host]]


def stub(records: list[dict[str, Any]], **kw: Any) -> DnsStub:
    acl = EgressAcl(
        allow=("pypi.org", "*.pypi.org", "nowhere.test"), anomalies=Anomalies(tunnel_subdomains=3)
    )
    return DnsStub(acl._replace(**kw), records=records.append, resolver=fake)


def ask(s: DnsStub, name: str, qtype: str = "A") -> dns.message.Message:
    wire = asyncio.run(s.answer(dns.message.make_query(name, qtype).to_wire(), "10.1.1.1"))
    assert wire is not None
    return dns.message.from_wire(wire)


def test_allowed_names_are_answered_with_checked_addresses() -> None:
    records: list[dict[str, Any]] = []
    s = stub(records)
    reply = ask(s, "pypi.org")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [r.to_text() for r in reply.answer[0]] == ["151.101.0.223"]
    reply = ask(s, "pypi.org", "AAAA")
    assert [r.to_text() for r in reply.answer[0]] == ["2a04:4e42::223"]
    assert ask(s, "rebind.pypi.org").rcode() == dns.rcode.REFUSED  # a private answer for a public name
    assert ask(s, "nowhere.test").rcode() == dns.rcode.SERVFAIL
    decided = [(r["decision"], r["rule_ids"][0]) for r in records if r["event"] == "EgressRequest"]
    assert decided == [
        ("allow", "egress.allowed"),
        ("allow", "egress.allowed"),
        ("deny", "egress.address.private"),
        ("deny", "egress.resolve_failed"),
    ]
    assert all(r["egress"]["protocol"] == "dns" for r in records)


def test_everything_else_is_refused_and_recorded() -> None:
    records: list[dict[str, Any]] = []
    s = stub(records)
    for name, qtype in (
        ("evil.example", "A"),
        ("pastebin.com", "A"),
        ("dns.google", "A"),
        ("pypi.org", "TXT"),
    ):
        assert ask(s, name, qtype).rcode() == dns.rcode.REFUSED
    rules = [r["rule_ids"][0] for r in records if r["event"] == "EgressRequest"]
    assert rules == ["egress.not_allowed", "egress.denied_host", "egress.doh", "egress.dns_type"]
    assert asyncio.run(s.answer(b"\x00garbage", "10.1.1.1")) is None
    two = dns.message.make_query("pypi.org", "A")
    two.question.append(dns.message.make_query("x.pypi.org", "A").question[0])
    wire = asyncio.run(s.answer(two.to_wire(), "10.1.1.1"))
    assert wire is not None and dns.message.from_wire(wire).rcode() == dns.rcode.FORMERR
    assert ask(s, "bad_label-.pypi.org").rcode() in (dns.rcode.REFUSED, dns.rcode.SERVFAIL)


def test_tunnel_shapes_and_txt_floods_are_flagged() -> None:
    records: list[dict[str, Any]] = []
    s = stub(records)
    ask(s, "a" * 45 + ".pypi.org")
    for i in range(5):
        ask(s, f"c{i}.pypi.org", "TXT")
    anomalies = [r["rule_ids"][0] for r in records if r["event"] == "EgressAnomaly"]
    assert "egress.anomaly.tunnel_name" in anomalies
    assert "egress.anomaly.tunnel_zone" in anomalies
    assert "egress.anomaly.txt_flood" in anomalies
    assert "egress.anomaly.first_seen" not in anomalies


def test_a_real_udp_round_trip() -> None:
    records: list[dict[str, Any]] = []

    async def main() -> tuple[int, int]:
        acl = EgressAcl(allow=("pypi.org",))
        transport, _ = await start_dns(acl, ("127.0.0.1", 0), records=records.append, resolver=fake)
        port = transport.get_extra_info("sockname")[1]
        loop = asyncio.get_running_loop()
        try:
            good = await loop.run_in_executor(
                None,
                lambda: dns.query.udp(
                    dns.message.make_query("pypi.org", "A"), "127.0.0.1", timeout=5, port=port
                ),
            )
            bad = await loop.run_in_executor(
                None,
                lambda: dns.query.udp(
                    dns.message.make_query("evil.example", "A"), "127.0.0.1", timeout=5, port=port
                ),
            )
        finally:
            transport.close()
        return good.rcode(), bad.rcode()

    assert asyncio.run(main()) == (dns.rcode.NOERROR, dns.rcode.REFUSED)


def test_queries_are_refused_while_the_audit_writer_cannot_take_a_record() -> None:
    """The stub answers nothing it could not record: a failed or full audit writer (or a check that
    raises) refuses every query with ``egress.audit``; report mode answers and records as usual."""
    records: list[dict[str, Any]] = []
    acl = EgressAcl(allow=("pypi.org",))
    state = {"ok": False}

    def audit_ok() -> bool:
        if state["ok"] is None:
            raise RuntimeError("cannot tell")
        return bool(state["ok"])

    s = DnsStub(acl, records=records.append, resolver=fake, audit_ok=audit_ok)
    assert ask(s, "pypi.org").rcode() == dns.rcode.REFUSED
    assert records[-1]["rule_ids"] == ["egress.audit"] and records[-1]["decision"] == "deny"
    state["ok"] = None  # type: ignore[assignment]
    assert ask(s, "pypi.org").rcode() == dns.rcode.REFUSED
    state["ok"] = True
    assert ask(s, "pypi.org").rcode() == dns.rcode.NOERROR
    state["ok"] = False
    reported = DnsStub(acl._replace(mode="report"), records=records.append, resolver=fake, audit_ok=audit_ok)
    assert ask(reported, "pypi.org").rcode() == dns.rcode.NOERROR

"""A DNS stub resolver for sandboxed processes: it answers only names the policy allows, and flags
DNS-tunnel shapes (long high-entropy labels, many distinct names under one zone, TXT floods).

Only A and AAAA questions for allowed names are answered, with addresses that pass the same address
classification as the proxy (a public name resolving to a private or metadata address is refused: no
DNS rebinding through the stub). Everything else gets REFUSED, malformed packets no answer. Every
answer is an audit record (``protocol: dns``), every anomaly another. Wire format by dnspython.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .. import rule_ids as rids
from ..model import Decision
from .acl import EgressAcl, check_address, check_host, normal_host, zone_of
from .anomaly import Anomaly, Tracker
from .classify import classify
from .proxy import RecordSink, Resolver, _Conn, egress_record, system_resolver

TTL = 30
_TXT_TYPES = frozenset({"TXT", "NULL", "CNAME", "MX", "SRV", "ANY"})
"""Record types DNS tunnels favour (counted as the "TXT flood")."""


class DnsStub(asyncio.DatagramProtocol):
    def __init__(
        self,
        acl: EgressAcl,
        *,
        records: RecordSink | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
        user: str = "",
        host: str = "",
        audit_ok: Callable[[], bool] | None = None,
    ) -> None:
        self.acl = acl
        self.records = records
        self.audit_ok = audit_ok
        """False while the audit writer cannot take a record (failed or full): queries are refused."""
        self.resolver = resolver
        self.clock = clock
        self.user = user
        self.host = host
        self.tracker = Tracker(acl.anomalies)
        self._txt: dict[tuple[str, str], deque[float]] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = await self.answer(data, addr[0])
        except Exception as exc:  # noqa: BLE001 - one query's bug must not stop the stub
            print(f"ramparts egress dns: query failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def _record(self, decision: Decision, conn: _Conn, event: str = "EgressRequest") -> None:
        if self.records is None:
            return
        self.records(
            egress_record(
                decision,
                conn,
                event=event,
                now=self.clock(),
                user=self.user,
                host=self.host,
                mode=self.acl.mode,
            )
        )

    def _audit_ok(self) -> bool:
        if self.audit_ok is None:
            return True
        try:
            return bool(self.audit_ok())
        except Exception:  # noqa: BLE001 - cannot tell whether the answer would be recorded: refuse
            return False

    def _deny(self, rule: str, reason: str) -> Decision:
        return Decision(reasons=(reason,), rule_ids=(rule,), policy_revision=self.acl.revision)

    def _txt_flood(self, client: str, name: str, now: float) -> Anomaly | None:
        zone = zone_of(name)
        times = self._txt.setdefault((client, zone), deque())
        while times and times[0] <= now - 60:
            times.popleft()
        times.append(now)
        if len(self._txt) > 10_000:
            self._txt.clear()
        if len(times) > self.acl.anomalies.tunnel_subdomains:
            return Anomaly(
                rids.EGRESS_ANOMALY_TXT_FLOOD, f"{len(times)} TXT-type queries under {zone} within a minute"
            )
        return None

    async def answer(self, data: bytes, client: str) -> bytes | None:
        """The reply to one query packet (None: malformed, no answer)."""
        import dns.exception
        import dns.message
        import dns.rcode
        import dns.rdatatype

        try:
            query = dns.message.from_wire(data)
        except (dns.exception.DNSException, ValueError):
            return None
        reply = dns.message.make_response(query)
        if len(query.question) != 1:
            reply.set_rcode(dns.rcode.FORMERR)
            return bytes(reply.to_wire())
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        qtype = dns.rdatatype.to_text(question.rdtype)
        conn = _Conn("dns")
        conn.target = f"{name[:250]} {qtype}"
        conn.host = name
        conn.method = qtype
        now = self.clock()
        found = self.tracker.request(client, name, now)
        if qtype in _TXT_TYPES:
            flood = self._txt_flood(client, name, now)
            if flood is not None:
                found.append(flood)
        for anomaly in found:
            if anomaly.rule_id == rids.EGRESS_ANOMALY_FIRST_SEEN:
                continue  # the proxy records first-seen domains; DNS alone would double them
            conn.anomalies.append(anomaly)
            self._record(
                Decision(
                    verdict="allow",
                    reasons=(anomaly.reason,),
                    rule_ids=(anomaly.rule_id,),
                    policy_revision=self.acl.revision,
                ),
                conn,
                "EgressAnomaly",
            )
        decision = check_host(self.acl, name, 53) if normal_host(name) else None
        refusal: Decision | None = None
        if self.acl.mode != "report" and not self._audit_ok():
            refusal = self._deny(
                rids.EGRESS_AUDIT, "the audit store cannot be written; refusing until it can"
            )
        elif decision is None:
            refusal = self._deny(rids.EGRESS_MALFORMED, f"{name[:80]!r} is not a host name")
        elif decision.verdict == "deny":
            refusal = decision
        elif qtype not in ("A", "AAAA"):
            refusal = self._deny(rids.EGRESS_DNS_TYPE, f"the stub answers A and AAAA only, not {qtype}")
        if refusal is not None or decision is None:
            reply.set_rcode(dns.rcode.REFUSED)
            self._record(refusal or self._deny(rids.EGRESS_MALFORMED, "no decision"), conn)
            return bytes(reply.to_wire())
        answers = await self._resolve(name, qtype, conn)
        if answers is None:
            reply.set_rcode(dns.rcode.REFUSED if conn.address else dns.rcode.SERVFAIL)
            return bytes(reply.to_wire())
        if answers:
            import dns.rrset

            rrset = dns.rrset.from_text_list(question.name, TTL, "IN", qtype, answers)
            reply.answer.append(rrset)
        self._record(
            decision._replace(reasons=(*decision.reasons, f"answered {', '.join(answers) or 'nothing'}")),
            conn,
        )
        return bytes(reply.to_wire())

    async def _resolve(self, name: str, qtype: str, conn: _Conn) -> list[str] | None:
        """The addresses to answer, each classified; None when refused (recorded) or resolution failed."""
        try:
            async with asyncio.timeout(5):
                addresses = await self.resolver(name, 443)
        except (OSError, TimeoutError, UnicodeError, ValueError) as exc:
            why = f"cannot resolve {name}: {type(exc).__name__}"
            self._record(self._deny(rids.EGRESS_RESOLVE_FAILED, why), conn)
            return None
        out: list[str] = []
        for address in addresses:
            found = check_address(self.acl, name, address, 443)
            if found.verdict == "deny":
                conn.address, conn.address_class = str(address), classify(address, self.acl.own).label
                self._record(found, conn)
                return None
            if (address.version == 4) == (qtype == "A"):
                out.append(str(address))
        return out


async def start_dns(
    acl: EgressAcl, listen: tuple[str, int], **kwargs: Any
) -> tuple[asyncio.DatagramTransport, DnsStub]:
    """Serve the stub on UDP ``listen``."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: DnsStub(acl, **kwargs), local_addr=listen
    )
    return transport, protocol

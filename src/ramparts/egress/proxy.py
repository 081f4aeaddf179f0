"""The egress proxy: CONNECT tunnels, absolute-form HTTP and SOCKS5 (CONNECT), held to one ACL.

For every request: authenticate the per-session credential (and refuse a killed or closed session),
check the name (:func:`~ramparts.egress.acl.check_host`), count the anomalies, resolve, classify every
resolved address (:func:`~ramparts.egress.acl.check_address`) and dial exactly an address that was
allowed, so DNS rebinding between the check and the dial cannot happen. Inside a tunnel the first
bytes the client sends are read before anything goes upstream: a TLS ClientHello whose server name
differs from the host the client asked for is refused. Every decision is one audit record
(``surface=egress``), and every anomaly another. Garbage gets a 400 or a closed connection; the
proxy keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import ipaddress
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from .. import rule_ids as rids
from ..model import Decision
from .acl import (
    DEFAULT_ALLOW,
    EgressAcl,
    check_address,
    check_host,
    check_port,
    host_matches,
    normal_host,
)
from .anomaly import Anomaly, Tracker
from .classify import Classified, IPAddress, classify, parse_address
from .credentials import Identity, Verifier
from .wire import (
    MAX_HEAD,
    SOCKS_COMMAND_UNSUPPORTED,
    SOCKS_FAILURE,
    SOCKS_HOST_UNREACHABLE,
    SOCKS_NOT_ALLOWED,
    SOCKS_OK,
    BadRequest,
    Hello,
    RequestHead,
    client_hello_sni,
    parse_authority,
    parse_request_head,
    proxy_credentials,
    socks_reply,
    socks_target,
    split_absolute,
)

_T = TypeVar("_T")
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
RecordSink = Callable[[dict[str, Any]], object]
LazyRecordSink = Callable[[Callable[[], dict[str, Any]]], object]
"""Takes a function that builds the record, to call off the event loop (``AuditWriter.append_built``)."""
_CACHED = 4096
"""Entries each of the proxy's memo tables holds (cleared whole when full: bounded memory)."""
_CHUNK = 256 * 1024
_HOP = frozenset(
    {"proxy-authorization", "proxy-connection", "connection", "keep-alive", "te", "trailer", "upgrade"}
)


class ProxyConfig(NamedTuple):
    acl: EgressAcl
    state_dir: str
    auth: bool = True
    """Require a per-session credential (Proxy-Authorization Basic, SOCKS5 user/password)."""
    connect_timeout: float = 10.0
    head_timeout: float = 15.0
    """For the request head, the SOCKS handshake and the ClientHello."""
    idle_timeout: float = 900.0
    user: str = ""
    """Recorded for connections without a credential (``auth=False``)."""
    anonymous: tuple[str, ...] = DEFAULT_ALLOW
    """Hosts an HTTP client without a credential may still reach (still held to the ACL): the model API,
    for the Claude Code process itself, whose environment cannot carry a per-session credential."""
    host: str = ""
    dlp: Any = None
    """Outbound DLP (:func:`ramparts.egress.dlp.make_checker`): ``(bytes, where) -> Decision | None``
    over what a plain-HTTP request carries; None: not scanned."""
    dlp_max_body: int = 4 * 1024 * 1024
    """A plain-HTTP body longer than this cannot be scanned whole: with DLP on, it is refused."""
    max_connections: int = 8192
    """Client connections served at once; one more is answered 503 and closed at once (many slow
    clients cannot take every file descriptor; each is also held to ``head_timeout``)."""
    dns_cache_seconds: float = 5.0
    """How long a name's resolved addresses are reused (0: resolve every time). Every address is still
    classified on every connection and only a classified one is dialled, so the cache cannot let a
    private answer through; it only pins a name to the addresses checked first, for this long."""


class Refused(Exception):
    """A decision not to serve: the client gets ``status`` (HTTP) or ``socks`` (SOCKS5)."""

    def __init__(self, decision: Decision, status: int = 403, socks: int = SOCKS_NOT_ALLOWED) -> None:
        super().__init__(decision.reason)
        self.decision = decision
        self.status = status
        self.socks = socks


class _Conn:
    """What one client connection knows, for its audit record."""

    __slots__ = (
        "address",
        "address_class",
        "admitted",
        "anomalies",
        "down",
        "host",
        "identity",
        "last",
        "method",
        "port",
        "protocol",
        "sni",
        "target",
        "up",
    )

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.target = ""
        self.host = ""
        self.port = 0
        self.address = ""
        self.address_class = ""
        self.sni = ""
        self.method = ""
        self.up = 0
        self.down = 0
        self.identity: Identity | None = None
        self.last = 0.0
        """time.monotonic() of the last bytes relayed either way (the idle watchdog reads it)."""
        self.anomalies: list[Anomaly] = []
        self.admitted: Decision | None = None
        """The ACL's allow (in report mode: the would-deny) that let the connection through."""

    def snapshot(self) -> _Conn:
        """A copy to build a record from later (off the event loop), while this one goes on changing."""
        copy = _Conn(self.protocol)
        for name in self.__slots__:
            setattr(copy, name, getattr(self, name))
        copy.anomalies = list(self.anomalies)
        return copy


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for ``host`` (A and AAAA)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    return out


def own_addresses() -> frozenset[IPAddress]:
    """The host's own interface addresses (IPv6 from /proc, IPv4 from the interfaces' ioctl and the
    host name), so a client cannot reach this machine's services on a public address."""
    found: set[IPAddress] = set()
    with contextlib.suppress(OSError):
        for _f, _t, _p, _n, sockaddr in socket.getaddrinfo(socket.gethostname(), None):
            found.add(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    with contextlib.suppress(OSError, ValueError), open("/proc/net/if_inet6", encoding="ascii") as handle:
        for line in handle:
            raw = line.split()[0]
            found.add(ipaddress.IPv6Address(int(raw, 16)))
    with contextlib.suppress(OSError, ImportError):
        import fcntl
        import struct

        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for _index, name in socket.if_nameindex():
                with contextlib.suppress(OSError):
                    packed = struct.pack("256s", name.encode()[:15])
                    answer = fcntl.ioctl(probe.fileno(), 0x8915, packed)  # SIOCGIFADDR
                    found.add(ipaddress.IPv4Address(answer[20:24]))
        finally:
            probe.close()
    return frozenset(a for a in found if classify(a).kind == "public")


def _now_iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def egress_record(
    decision: Decision, conn: _Conn, *, event: str, now: float, user: str, host: str, mode: str
) -> dict[str, Any]:
    """The audit record of one decision of the proxy (the one place records are built)."""
    from ..audit.record import EgressDetail, build_record, to_json

    identity = conn.identity
    detail = EgressDetail(
        protocol=conn.protocol,
        target=_recorded_target(conn.target)[:300],
        address=conn.address,
        address_class=conn.address_class,
        sni=conn.sni[:300],
        method=conn.method,
        bytes_up=conn.up,
        bytes_down=conn.down,
        mode=mode,
        client=identity.client if identity else "",
        anomalies=tuple(a.rule_id for a in conn.anomalies),
    )
    record = build_record(
        decision,
        surface="egress",
        event=event,
        time=_now_iso(now),
        user=identity.user if identity else user,
        host=host,
        session=identity.session if identity else "",
        detail=detail,
    )
    out: dict[str, Any] = to_json(record)
    return out


def _recorded_target(target: str) -> str:
    """The target as a record holds it: a URL's query and fragment are left out (they carry tokens and
    data; their length is kept), the rest as asked."""
    cut = min((i for i in (target.find("?"), target.find("#")) if i >= 0), default=-1)
    return target if cut < 0 else f"{target[:cut]}?<{len(target) - cut - 1} chars left out>"


class EgressProxy:
    """One listening socket serving HTTP proxy requests and SOCKS5 on the same port."""

    def __init__(
        self,
        config: ProxyConfig,
        *,
        records: RecordSink | None = None,
        lazy_records: LazyRecordSink | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
        audit_healthy: Callable[[], bool] | None = None,
        audit_room: Callable[[], bool] | None = None,
    ) -> None:
        self.config = config
        self.audit_room = audit_room
        """False while the audit writer's queue is full (``AuditWriter.has_room``): every new connection
        is answered 503 (``egress.audit``) and closed before anything is read, unrecorded (a record would
        only grow the queue) but counted in ``audit_refused``; the count becomes one record once there
        is room again."""
        self.audit_refused = 0
        self.acl = config.acl
        self.records = records
        self.lazy_records = lazy_records
        self.audit_healthy = audit_healthy
        """False after an audit write failed, until one succeeds: connections are refused meanwhile (503,
        ``egress.audit``; report mode lets them through as would-deny). The refusal's own record is the
        write that probes the store."""
        """When given, records are built off the event loop (what the CLI does); else ``records`` gets them
        built, on the loop (tests read them at once)."""
        # Pure answers memoised per proxy (the ACL is immutable): the name check, the address classes
        # and the address checks cost more than the rest of a CONNECT's Python work together.
        self._host_checks: dict[tuple[str, int], tuple[Decision, IPAddress | None]] = {}
        self._address_checks: dict[tuple[str, IPAddress, int], Decision] = {}
        self._classes: dict[IPAddress, Classified] = {}
        self._dns: dict[str, tuple[float, tuple[IPAddress, ...]]] = {}
        self._scanner: concurrent.futures.ThreadPoolExecutor | None = None
        self.resolver = resolver
        self.clock = clock
        self.tracker = Tracker(config.acl.anomalies)
        self.verifier = Verifier(config.state_dir) if config.auth else None
        self._auth_cache: dict[tuple[str, str], tuple[float, Identity | None, str]] = {}
        self.server: asyncio.Server | None = None
        self.served = 0
        self.active = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._clients: set[_Client] = set()
        """Connections on the protocol path (CONNECT tunnels), to end at close."""

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Client(self), host, port, backlog=4096)
        bound = self.server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        """Stop listening, end every open connection, close the stores."""
        if self.server is not None:
            self.server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for client in list(self._clients):  # open tunnels: ended, each recorded once
            client._end()
        await asyncio.sleep(0)
        if self.server is not None:
            await self.server.wait_closed()
        if self.verifier is not None:
            self.verifier.close()
        if self._scanner is not None:
            self._scanner.shutdown(wait=False, cancel_futures=True)

    # -- records ---------------------------------------------------------------------------------------

    def _record(self, decision: Decision, conn: _Conn, event: str = "EgressRequest") -> None:
        if self.records is None and self.lazy_records is None:
            return
        try:
            now = self.clock()
            config = self.config
            if self.lazy_records is not None:  # built by the audit writer's thread, not here
                self.lazy_records(
                    functools.partial(
                        egress_record,
                        decision,
                        conn.snapshot(),
                        event=event,
                        now=now,
                        user=config.user,
                        host=config.host,
                        mode=self.acl.mode,
                    )
                )
            elif self.records is not None:
                self.records(
                    egress_record(
                        decision,
                        conn,
                        event=event,
                        now=now,
                        user=config.user,
                        host=config.host,
                        mode=self.acl.mode,
                    )
                )
        except Exception as exc:  # noqa: BLE001 - recording must never take the proxy down
            print(f"ramparts egress: audit record failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _audit_has_room(self) -> bool:
        """Whether the audit writer takes more (fails closed when asking fails); the first connection
        after a full queue records how many were refused meanwhile."""
        assert self.audit_room is not None
        try:
            room = self.audit_room()
        except Exception:  # noqa: BLE001 - cannot tell: refuse
            room = False
        if not room:
            self.audit_refused += 1
            return False
        if self.audit_refused:
            count, self.audit_refused = self.audit_refused, 0
            why = f"{count} connection(s) refused unrecorded while the audit writer's queue was full"
            self._record(self._deny(rids.EGRESS_AUDIT, why), _Conn("http"), "EgressAnomaly")
        return True

    def _anomalies(self, conn: _Conn, found: list[Anomaly]) -> Decision | None:
        """Record each anomaly; the refusal (size, rate) in enforce mode."""
        refusal: Decision | None = None
        for anomaly in found:
            conn.anomalies.append(anomaly)
            refuse = anomaly.refuse and self.acl.mode == "enforce"
            decision = Decision(
                verdict="deny" if refuse else "allow",
                reasons=(anomaly.reason,),
                rule_ids=(anomaly.rule_id,),
                policy_revision=self.acl.revision,
                enforced=refuse or not anomaly.refuse,
                would_verdict=None if refuse or not anomaly.refuse else "deny",
            )
            self._record(decision, conn, "EgressAnomaly")
            if refuse and refusal is None:
                refusal = decision
        return refusal

    # -- the connection --------------------------------------------------------------------------------

    async def _streamed(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
    ) -> None:
        """A connection the protocol path handed over (SOCKS5, absolute-form HTTP, anything not a
        well-formed CONNECT head), with the bytes it had read already in ``reader``."""
        task = asyncio.current_task()
        try:
            first = await _by(reader.readexactly(1), deadline)
            if first == b"\x05":
                await self._socks(reader, writer, deadline)
            else:
                await self._http(first, reader, writer, deadline)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, OSError):
            pass
        except Exception as exc:  # noqa: BLE001 - one connection's bug must not stop the others
            print(f"ramparts egress: connection failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            if task is not None:
                self._tasks.discard(task)
            self.active -= 1
            self.served += 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _http_identity(self, conn: _Conn, head: RequestHead) -> tuple[int, str]:
        """Who sent ``head`` (into ``conn``); (status, why) when refused, (0, '') when not."""
        creds = proxy_credentials(head.get("Proxy-Authorization"))
        conn.identity, why = self._identify(creds)
        if why and creds is None and any(host_matches(p, conn.host) for p in self.config.anonymous):
            why = ""  # the agent process itself (no session credential) reaching the model API
        if not why:
            return 0, ""
        status = 407 if conn.identity is None and "stopped" not in why and "closed" not in why else 403
        self._record(self._deny(rids.EGRESS_AUTH if status == 407 else rids.EGRESS_KILLED, why), conn)
        return status, why

    async def _decide_connect(self, client: _Client, head: RequestHead, host: str, port: int) -> None:
        """The protocol path's CONNECT: identify, admit, dial with a protocol, answer."""
        conn = client.conn
        conn.method, conn.target, conn.host, conn.port = "CONNECT", head.target, host, port
        try:
            status, why = self._http_identity(conn, head)
            if status:
                client.refused(_answer_bytes(status, why, auth=status == 407))
                return
            try:
                addresses = await self._admit(conn)
                upstream = await self._dial_protocol(conn, addresses, client)
            except Refused as refused:
                self._record(refused.decision, conn)
                client.refused(_answer_bytes(refused.status, refused.decision.reason))
                return
            client.opened(upstream, self._allowed(conn))
        except Exception as exc:  # noqa: BLE001 - one connection's bug must not stop the others
            if not isinstance(exc, (ConnectionError, OSError)):
                print(f"ramparts egress: connection failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            client.transport.abort()

    async def _dial_protocol(
        self, conn: _Conn, addresses: tuple[IPAddress, ...], client: _Client
    ) -> _Upstream:
        """:meth:`_dial` for the protocol path: the target's side is an :class:`_Upstream`."""
        loop = asyncio.get_running_loop()
        last: Exception | None = None
        for address in addresses:
            try:
                _transport, upstream = await _within(
                    loop.create_connection(lambda: _Upstream(client), str(address), conn.port),
                    self.config.connect_timeout,
                )
            except (OSError, TimeoutError) as exc:
                last = exc
                continue
            conn.address = str(address)
            conn.address_class = self._classify(address).label
            return upstream
        why = f"cannot connect to {conn.host}:{conn.port} ({type(last).__name__})"
        raise Refused(self._deny(rids.EGRESS_CONNECT_FAILED, why), 502, SOCKS_HOST_UNREACHABLE)

    def _identify(self, creds: tuple[str, str] | None) -> tuple[Identity | None, str]:
        """(identity, why refused); with ``auth`` off: (None, '')."""
        if self.verifier is None:
            return None, ""
        if creds is None:
            return None, "proxy authentication required (a per-session credential)"
        now = self.clock()
        cached = self._auth_cache.get(creds)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2]
        try:
            identity = self.verifier.identify(*creds)
            why = "" if identity else "unknown proxy credential"
            if identity is not None:
                why = self.verifier.stopped(identity)
        except Exception as exc:  # noqa: BLE001 - fail closed when the stores cannot be read
            identity, why = None, f"cannot check the proxy credential ({type(exc).__name__})"
        if len(self._auth_cache) > 4096:
            self._auth_cache.clear()
        self._auth_cache[creds] = (now + 1.0, identity, why)  # the kill switch reaches within a second
        return identity, why

    def _allowed(self, conn: _Conn) -> Decision:
        base = conn.admitted or Decision(verdict="allow", reasons=(), rule_ids=(rids.EGRESS_ALLOWED,))
        return base._replace(
            reasons=(*base.reasons, f"dialled {conn.address} for {conn.host}:{conn.port}"),
            policy_revision=self.acl.revision,
        )

    def _deny(self, rule: str, reason: str) -> Decision:
        return Decision(
            verdict="deny", reasons=(reason,), rule_ids=(rule,), policy_revision=self.acl.revision
        )

    # -- memoised pure checks --------------------------------------------------------------------------

    def _check_host(self, host: str, port: int) -> tuple[Decision, IPAddress | None]:
        """:func:`check_host` and the literal address in ``host`` (None for a name), memoised."""
        key = (host, port)
        hit = self._host_checks.get(key)
        if hit is None:
            if len(self._host_checks) >= _CACHED:
                self._host_checks.clear()
            hit = self._host_checks[key] = (check_host(self.acl, host, port), parse_address(host))
        return hit

    def _check_address(self, host: str, address: IPAddress, port: int) -> Decision:
        key = (host, address, port)
        hit = self._address_checks.get(key)
        if hit is None:
            if len(self._address_checks) >= _CACHED:
                self._address_checks.clear()
            hit = self._address_checks[key] = check_address(self.acl, host, address, port)
        return hit

    def _classify(self, address: IPAddress) -> Classified:
        hit = self._classes.get(address)
        if hit is None:
            if len(self._classes) >= _CACHED:
                self._classes.clear()
            hit = self._classes[address] = classify(address, self.acl.own)
        return hit

    async def _resolve(self, name: str, port: int) -> tuple[IPAddress, ...]:
        """The resolver's answer, reused for ``dns_cache_seconds`` (what is reused is only ever dialled
        after being classified again by the caller)."""
        ttl = self.config.dns_cache_seconds
        now = time.monotonic()
        if ttl > 0:
            hit = self._dns.get(name)
            if hit is not None and hit[0] > now:
                return hit[1]
        addresses = tuple(await _within(self.resolver(name, port), self.config.connect_timeout))
        if ttl > 0 and addresses:
            if len(self._dns) >= _CACHED:
                self._dns.clear()
            self._dns[name] = (now + ttl, addresses)
        return addresses

    async def _admit(self, conn: _Conn) -> tuple[IPAddress, ...]:
        """Check the target, count anomalies, resolve and classify; the addresses to dial, or Refused."""
        unrecorded: Decision | None = None
        if self.audit_healthy is not None and not self.audit_healthy():
            why = "the audit store cannot be written; refusing until a write succeeds"
            unrecorded = self._deny(rids.EGRESS_AUDIT, why)
            if self.acl.mode != "report":
                raise Refused(unrecorded, 503, SOCKS_FAILURE)
            unrecorded = unrecorded._replace(
                verdict="allow",
                reasons=(f"report mode, would deny: {why}",),
                enforced=False,
                would_verdict="deny",
            )
        decision, literal = self._check_host(conn.host, conn.port)
        if decision.verdict == "deny":
            if literal is not None:
                conn.address, conn.address_class = str(literal), self._classify(literal).label
            elif decision.rule_ids[0].startswith(rids.EGRESS_ADDRESS_PREFIX):  # localhost: loopback by name
                conn.address_class = decision.rule_ids[0].removeprefix(rids.EGRESS_ADDRESS_PREFIX)
            raise Refused(decision)
        conn.admitted = unrecorded or decision
        session = conn.identity.session if conn.identity else ""
        found = self.tracker.request(session, conn.host, self.clock())
        if found:
            refusal = self._anomalies(conn, found)
            if refusal is not None:
                raise Refused(refusal, status=429, socks=SOCKS_NOT_ALLOWED)
        if literal is not None:  # check_host classified it already
            conn.address, conn.address_class = str(literal), self._classify(literal).label
            self._port(conn, (literal,))
            return (literal,)
        try:
            addresses = await self._resolve(normal_host(conn.host), conn.port)
        except (OSError, TimeoutError, UnicodeError, ValueError) as exc:
            why = f"cannot resolve {conn.host}: {type(exc).__name__}"
            raise Refused(self._deny(rids.EGRESS_RESOLVE_FAILED, why), 502, SOCKS_HOST_UNREACHABLE) from exc
        if not addresses:
            raise Refused(self._deny(rids.EGRESS_RESOLVE_FAILED, f"{conn.host} has no address"), 502, 4)
        for address in addresses:
            found_address = self._check_address(conn.host, address, conn.port)
            if found_address.verdict == "deny":  # one bad answer refuses the name: no rebinding games
                conn.address, conn.address_class = str(address), self._classify(address).label
                raise Refused(found_address)
            if not found_address.enforced and conn.admitted.enforced:
                conn.admitted = found_address  # report mode: keep what enforce would have done
        conn.address = str(addresses[0])
        conn.address_class = self._classify(addresses[0]).label
        self._port(conn, addresses)
        return addresses

    def _port(self, conn: _Conn, addresses: tuple[IPAddress, ...]) -> None:
        """Refuse a port outside the policy's for any address the connection could be dialled to."""
        for address in addresses:
            found = check_port(self.acl, conn.host, address, conn.port)
            if found is None:
                continue
            if found.verdict == "deny":
                conn.address, conn.address_class = str(address), self._classify(address).label
                raise Refused(found)
            if conn.admitted is not None and conn.admitted.enforced:
                conn.admitted = found  # report or open mode: keep what enforce would have done

    async def _dial(self, conn: _Conn, addresses: tuple[IPAddress, ...]) -> tuple[Any, Any]:
        """Connect to the first of ``addresses`` (each one classified and allowed) that answers. The
        address is passed to the loop as a literal, so nothing resolves it again."""
        last: Exception | None = None
        for address in addresses:
            try:
                reader, writer = await _within(
                    asyncio.open_connection(str(address), conn.port, limit=_CHUNK),
                    self.config.connect_timeout,
                )
            except (OSError, TimeoutError) as exc:
                last = exc
                continue
            conn.address = str(address)
            conn.address_class = self._classify(address).label
            return reader, writer
        why = f"cannot connect to {conn.host}:{conn.port} ({type(last).__name__})"
        raise Refused(self._deny(rids.EGRESS_CONNECT_FAILED, why), 502, SOCKS_HOST_UNREACHABLE)

    # -- HTTP: CONNECT and absolute-form --------------------------------------------------------------

    async def _http(
        self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
    ) -> None:
        conn = _Conn("http")
        try:
            try:
                rest = await _by(reader.readuntil(b"\r\n\r\n"), deadline)
            except asyncio.LimitOverrunError as exc:
                raise BadRequest("request head too large") from exc
            head = parse_request_head(first + rest)
            conn.method = head.method.upper()
            conn.target = head.target
            if conn.method == "CONNECT":
                conn.protocol = "connect"
                conn.host, conn.port = parse_authority(head.target)
            else:
                scheme, conn.host, conn.port, origin = split_absolute(head.target)
                if scheme != "http":
                    raise BadRequest("send https:// through CONNECT")
                if head.get("Transfer-Encoding") is not None:
                    # one request per connection, its body bounded by Content-Length: nothing pipelined
                    # behind it can reach the origin under another Host
                    d = self._deny(rids.EGRESS_MALFORMED, "a chunked request body: send Content-Length")
                    raise Refused(d, 411)
                host_header = head.get("Host")
                if host_header is not None:
                    named, _port = parse_authority(host_header, conn.port)
                    if named.lower().rstrip(".") != conn.host.lower().rstrip("."):
                        d = self._deny(
                            rids.EGRESS_HOST_MISMATCH, f"Host {named!r} differs from the URL's host"
                        )
                        raise Refused(d, 421)
        except BadRequest as exc:
            self._record(self._deny(rids.EGRESS_MALFORMED, f"bad request: {exc}"), conn)
            await self._answer(writer, 400, str(exc))
            return
        except Refused as refused:
            self._record(refused.decision, conn)
            await self._answer(writer, refused.status, refused.decision.reason)
            return
        status, why = self._http_identity(conn, head)
        if status:
            await self._answer(writer, status, why, auth=status == 407)
            return
        body_bytes, reported = b"", None
        try:
            addresses = await self._admit(conn)
            if conn.protocol != "connect" and self.config.dlp is not None:
                body_bytes, reported = await self._scanned_body(conn, head, reader)
            upstream_reader, upstream_writer = await self._dial(conn, addresses)
        except Refused as refused:
            self._record(refused.decision, conn)
            await self._answer(writer, refused.status, refused.decision.reason)
            return
        allow = reported or self._allowed(conn)
        try:
            if conn.protocol == "connect":
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                allow = await self._tunnel(conn, reader, writer, upstream_reader, upstream_writer, allow)
            else:
                upstream_writer.write(_forward_head(head, origin) + body_bytes)
                conn.up += len(body_bytes)
                body = int(head.get("Content-Length") or 0) - len(body_bytes)
                allow = await self._relay(conn, reader, writer, upstream_reader, upstream_writer, allow, body)
        finally:
            upstream_writer.close()
            self._record(allow, conn)  # also when the proxy shuts down mid-connection

    async def _scanned_body(
        self, conn: _Conn, head: RequestHead, reader: asyncio.StreamReader
    ) -> tuple[bytes, Decision | None]:
        """Outbound DLP on an absolute-form request: read its whole body, scan the request line, the
        headers (not the proxy's credential) and the body; raises :class:`Refused` when the policy says
        the data may not leave. Returns the body, to forward as it came, and in report mode the
        would-deny to record."""
        try:
            length = int(head.get("Content-Length") or 0)
        except ValueError as exc:
            raise Refused(
                self._deny(rids.EGRESS_MALFORMED, "a Content-Length that is not a number"), 400
            ) from exc
        if length > self.config.dlp_max_body:
            why = f"a body of {length} bytes is larger than the {self.config.dlp_max_body} the proxy scans"
            raise Refused(self._deny(rids.EGRESS_DLP_OUTBOUND_UNSCANNED, why))
        try:
            body = await _within(reader.readexactly(length), self.config.head_timeout) if length else b""
        except (asyncio.IncompleteReadError, TimeoutError) as exc:
            raise Refused(
                self._deny(rids.EGRESS_MALFORMED, "the request body did not arrive whole"), 400
            ) from exc
        shown = [f"{head.method} {head.target}"] + [
            f"{name}: {value}" for name, value in head.headers if name.lower() != "proxy-authorization"
        ]
        decision = await self._scan(
            ("\r\n".join(shown) + "\r\n\r\n").encode("latin-1", "replace") + body, conn.host
        )
        if decision is None:
            return body, None
        conn.target = (
            f"{conn.host}:{conn.port}"  # the path may hold what was found: the record names the host
        )
        if self.acl.mode == "report":
            return body, self._dlp_decision(decision)
        raise Refused(decision)

    async def _scan(self, data: bytes, where: str) -> Decision | None:
        """The outbound DLP scan, on the proxy's one scanning thread: a 4 MiB body takes the detectors
        a while, and the event loop keeps moving every other tunnel's bytes meanwhile. One thread, so
        the detectors (and their pattern databases' scratch space) are never used by two scans at once."""
        if self._scanner is None:
            self._scanner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ramparts-egress-dlp")
        loop = asyncio.get_running_loop()
        result: Decision | None = await loop.run_in_executor(self._scanner, self.config.dlp, data, where)
        return result

    def _dlp_decision(self, decision: Decision) -> Decision:
        """A DLP deny in the proxy's mode: report mode records it as a would-deny and lets it through."""
        if self.acl.mode == "report":
            return decision._replace(verdict="allow", enforced=False, would_verdict="deny")
        return decision

    async def _answer(
        self, writer: asyncio.StreamWriter, status: int, reason: str, *, auth: bool = False
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            writer.write(_answer_bytes(status, reason, auth=auth))
            await writer.drain()

    # -- SOCKS5 ----------------------------------------------------------------------------------------

    async def _socks(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
    ) -> None:
        conn = _Conn("socks5")
        timeout = deadline  # the whole handshake by one deadline: dripped bytes cannot stretch it
        count = (await _by(reader.readexactly(1), timeout))[0]
        methods = await _by(reader.readexactly(count), timeout)
        wanted = 2 if self.verifier is not None else 0
        if wanted not in methods:
            self._record(self._deny(rids.EGRESS_AUTH, "SOCKS5 client offers no acceptable method"), conn)
            writer.write(b"\x05\xff")
            return
        writer.write(bytes((5, wanted)))
        if wanted == 2:
            version = (await _by(reader.readexactly(1), timeout))[0]
            user = await _by(reader.readexactly((await _by(reader.readexactly(1), timeout))[0]), timeout)
            password = await _by(reader.readexactly((await _by(reader.readexactly(1), timeout))[0]), timeout)
            creds = None
            if version == 1:
                with contextlib.suppress(UnicodeDecodeError):
                    creds = (user.decode(), password.decode())
            conn.identity, why = self._identify(creds)
            if why:
                self._record(
                    self._deny(rids.EGRESS_AUTH if conn.identity is None else rids.EGRESS_KILLED, why), conn
                )
                writer.write(b"\x01\x01")
                return
            writer.write(b"\x01\x00")
        version, command, _reserved, atyp = await _by(reader.readexactly(4), timeout)
        if version != 5:
            self._record(self._deny(rids.EGRESS_MALFORMED, "bad SOCKS5 request"), conn)
            return
        try:
            if atyp == 3:
                raw = await _by(reader.readexactly((await _by(reader.readexactly(1), timeout))[0]), timeout)
            else:
                raw = await _by(reader.readexactly({1: 4, 4: 16}.get(atyp, 0)), timeout)
            conn.port = int.from_bytes(await _by(reader.readexactly(2), timeout), "big")
            conn.host = socks_target(atyp, raw)
        except BadRequest as exc:
            self._record(self._deny(rids.EGRESS_MALFORMED, f"bad SOCKS5 request: {exc}"), conn)
            writer.write(socks_reply(0x08))
            return
        conn.target = f"{conn.host}:{conn.port}"
        if command != 1:
            self._record(
                self._deny(rids.EGRESS_MALFORMED, f"SOCKS5 command {command} is not supported"), conn
            )
            writer.write(socks_reply(SOCKS_COMMAND_UNSUPPORTED))
            return
        try:
            addresses = await self._admit(conn)
            upstream_reader, upstream_writer = await self._dial(conn, addresses)
        except Refused as refused:
            self._record(refused.decision, conn)
            writer.write(socks_reply(refused.socks))
            return
        writer.write(socks_reply(SOCKS_OK))
        allow = self._allowed(conn)
        try:
            allow = await self._tunnel(conn, reader, writer, upstream_reader, upstream_writer, allow)
        finally:
            upstream_writer.close()
            self._record(allow, conn)  # also when the proxy shuts down mid-connection

    # -- moving bytes ----------------------------------------------------------------------------------

    async def _tunnel(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
        allow: Decision,
    ) -> Decision:
        """Check the ClientHello's server name against the target, then relay."""
        down = asyncio.ensure_future(self._pipe(conn, upstream_reader, writer, upload=False))
        first = b""
        try:
            # the whole first message by one deadline: a ClientHello dripped a byte at a time cannot
            # hold the connection longer than head_timeout
            async with asyncio.timeout(self.config.head_timeout):
                while True:
                    chunk = await reader.read(_CHUNK)
                    if not chunk:
                        break
                    first += chunk
                    hello = client_hello_sni(first)
                    if hello.complete or len(first) > 70_000:
                        break
            hello = client_hello_sni(first) if first else Hello(complete=True, tls=False)
            allow, scan = self._judge_first(conn, first, hello, allow)
            if scan:
                found = await self._scan(first, conn.host)
                if found is not None and self.acl.mode != "report":
                    raise Refused(found)
                if found is not None:
                    allow = self._dlp_decision(found)
        except BadRequest as exc:
            down.cancel()
            return self._deny(rids.EGRESS_MALFORMED, f"tunnel: {exc}")
        except TimeoutError:
            down.cancel()
            return self._deny(
                rids.EGRESS_MALFORMED, "tunnel: the client sent no complete first message in time"
            )
        except Refused as refused:
            down.cancel()
            return refused.decision
        except BaseException:
            down.cancel()
            raise
        if first:
            conn.up += len(first)
            upstream_writer.write(first)
        return await self._finish(conn, reader, writer, upstream_writer, down, allow)

    def _judge_first(self, conn: _Conn, first: bytes, hello: Hello, allow: Decision) -> tuple[Decision, bool]:
        """A tunnel's first message against its target: a TLS server name or a plain request's Host
        that differs is refused (:class:`Refused`; report mode: the would-deny, returned), TLS that does
        not parse is :class:`BadRequest`. Returns the decision to go on with and whether the message
        must still be scanned (outbound DLP on plain bytes)."""
        if hello.tls and not hello.complete:
            raise BadRequest("incomplete TLS ClientHello")
        conn.sni = hello.sni
        named = "" if hello.tls else _plain_http_host(first)
        why = ""
        if hello.sni and normal_host(hello.sni) != normal_host(conn.host):
            why = f"the TLS server name {hello.sni[:100]!r} differs from the requested host {conn.host!r}"
        elif named and parse_address(conn.host) is None and normal_host(named) != normal_host(conn.host):
            why = (
                f"the tunnelled request's Host {named[:100]!r} differs from the requested host {conn.host!r}"
            )
        if why:
            rule = rids.EGRESS_SNI_MISMATCH if hello.sni else rids.EGRESS_HOST_MISMATCH
            if self.acl.mode != "report":
                raise Refused(self._deny(rule, why))
            allow = allow._replace(
                reasons=(f"report mode, would deny: {why}",),
                rule_ids=(rule,),
                enforced=False,
                would_verdict="deny",
            )
        return allow, bool(not hello.tls and first and self.config.dlp is not None)

    async def _relay(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
        allow: Decision,
        body: int,
    ) -> Decision:
        down = asyncio.ensure_future(self._pipe(conn, upstream_reader, writer, upload=False))
        return await self._finish(conn, reader, writer, upstream_writer, down, allow, limit=body)

    async def _finish(
        self,
        conn: _Conn,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream_writer: asyncio.StreamWriter,
        down: asyncio.Future[Decision | None],
        allow: Decision,
        limit: int | None = None,
    ) -> Decision:
        """Relay the client's bytes upstream in this task while ``down`` relays the answer; when the
        upstream side ends first the client's reader is ended too. One watchdog per connection cuts it
        after ``idle_timeout`` without bytes either way (no timer per chunk read)."""
        loop = asyncio.get_running_loop()
        idle = self.config.idle_timeout
        conn.last = time.monotonic()

        timer: list[asyncio.TimerHandle] = []

        def watch() -> None:
            quiet = time.monotonic() - conn.last
            if quiet >= idle:
                for side in (writer, upstream_writer):
                    side.transport.abort()
            else:
                timer[0] = loop.call_later(idle - quiet, watch)

        timer.append(loop.call_later(idle, watch))
        down.add_done_callback(lambda _done: reader.feed_eof())
        try:
            refusal = await self._pipe(conn, reader, upstream_writer, upload=True, limit=limit)
            if refusal is not None:
                return refusal
            if not down.done():
                await down  # the client finished sending: let the answer come back
        finally:
            timer[0].cancel()
            if not down.done():
                down.cancel()
                with contextlib.suppress(BaseException):
                    await down
        return allow

    async def _pipe(
        self,
        conn: _Conn,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        *,
        upload: bool,
        limit: int | None = None,
    ) -> Decision | None:
        """Copy until EOF (or ``limit`` bytes: a request body, after which nothing more of the client's
        goes upstream); an over-size upload in enforce mode returns the refusal (the caller closes)."""
        flagged = False
        left = limit
        monotonic = time.monotonic
        try:
            while True:
                if left is not None and left <= 0:
                    return None
                data = await src.read(_CHUNK if left is None else min(_CHUNK, left))
                conn.last = monotonic()
                if left is not None:
                    left -= len(data)
                if not data:
                    if dst.can_write_eof():
                        with contextlib.suppress(OSError):
                            dst.write_eof()
                    return None
                if upload:
                    conn.up += len(data)
                    if not flagged:
                        anomaly = self.tracker.upload(conn.up)
                        if anomaly is not None:
                            flagged = True
                            refusal = self._anomalies(conn, [anomaly])
                            if refusal is not None:
                                return refusal
                else:
                    conn.down += len(data)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError, TimeoutError):
            return None


# -- the CONNECT fast path: protocols, no streams ----------------------------------------------------------

_HEAD, _DECIDING, _HELLO, _RELAY, _DONE = range(5)
_CONNECT_PREFIX = b"CONNECT "
_ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"
_FIRST_MAX = 70_000
"""A tunnel's first message is read up to this many bytes (a ClientHello is at most ~16 KiB plus its record)."""


class _Client(asyncio.Protocol):
    """One client connection on the protocol path. A CONNECT request's head is gathered in
    ``data_received`` (bounded by ``MAX_HEAD`` and by ``head_timeout``), decided by one task, and the
    tunnel is then two transports piped to each other: each side's ``pause_writing`` pauses the other
    side's reading (backpressure), one watchdog cuts an idle tunnel, and the record is written once when
    either side ends. Anything that is not a CONNECT head (SOCKS5, absolute-form HTTP, garbage, a head
    over the limit) is handed, with the bytes read so far, to the stream-based handler, which answers
    it exactly as before."""

    __slots__ = (
        "allow",
        "buf",
        "conn",
        "deadline",
        "eof",
        "flagged",
        "loop",
        "proxy",
        "recorded",
        "state",
        "timer",
        "transport",
        "upstream",
    )

    def __init__(self, proxy: EgressProxy) -> None:
        self.proxy = proxy
        self.loop = asyncio.get_running_loop()
        self.transport: Any = None
        self.buf = b""
        self.state = _HEAD
        self.timer: asyncio.TimerHandle | None = None
        self.deadline = 0.0
        self.conn = _Conn("connect")
        self.upstream: _Upstream | None = None
        self.allow: Decision | None = None
        self.flagged = False
        self.recorded = False
        self.eof = False
        """The client half-closed while its CONNECT or its first message was being decided: what it
        sent still goes up once allowed, then the EOF."""

    # transport callbacks -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        proxy = self.proxy
        if proxy.active >= proxy.config.max_connections:
            self.state = _DONE
            proxy.served += 1
            why = f"the proxy is serving its limit of {proxy.config.max_connections} connections"
            proxy._record(proxy._deny(rids.EGRESS_BUSY, why), _Conn("http"))
            transport.write(  # type: ignore[attr-defined]
                b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            )
            transport.close()
            return
        if proxy.audit_room is not None and not proxy._audit_has_room():
            self.state = _DONE
            proxy.served += 1
            why = "the audit writer is behind (its queue is full); refusing until it catches up"
            transport.write(_answer_bytes(503, why))  # type: ignore[attr-defined]
            transport.close()
            return
        proxy.active += 1
        proxy._clients.add(self)
        self.deadline = self.loop.time() + proxy.config.head_timeout
        self.timer = self.loop.call_at(self.deadline, self._head_late)

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == _RELAY:
            self._upload(data)
        elif state == _HEAD:
            self._head(data)
        elif state == _HELLO:
            self.buf += data
            self._first_message()
        elif state == _DECIDING:
            self.buf += data  # reading is paused meanwhile; this is what was already in flight

    def eof_received(self) -> bool | None:
        if self.state == _RELAY:
            upstream = self.upstream
            if upstream is not None and upstream.transport.can_write_eof():
                with contextlib.suppress(OSError):
                    upstream.transport.write_eof()
            return True  # the client finished sending: let the answer come back
        if self.state == _HELLO:
            self._first_message(eof=True)
            return True
        if self.state == _DECIDING:
            self.eof = True  # a half-close right behind the request: decided as if it came later
            return True
        return None  # an unfinished head: closed, as a stream reader's EOF did

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == _DONE and self not in self.proxy._clients:
            return  # refused as busy: never counted
        self._end()
        if self in self.proxy._clients:
            self.proxy._clients.discard(self)
            self.proxy.active -= 1
            self.proxy.served += 1

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.state == _RELAY:
            self.upstream.transport.resume_reading()

    # the request head ------------------------------------------------------------------------------------

    def _head(self, data: bytes) -> None:
        buf = self.buf = self.buf + data
        if buf[:1] == b"\x05" or (len(buf) >= 8 and buf[:8].upper() != _CONNECT_PREFIX):
            self._hand_off()
            return
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._hand_off()  # the stream handler answers 400 (head too large) and records it
            return
        try:
            head = parse_request_head(buf[: end + 4])
            host, port = parse_authority(head.target)
        except BadRequest:
            self._hand_off()  # answered 400 and recorded there, as before
            return
        self.buf = buf[end + 4 :]
        self.state = _DECIDING
        if self.timer is not None:  # the head arrived in time; admitting and dialling have their own limits
            self.timer.cancel()
            self.timer = None
        self.transport.pause_reading()
        task = self.loop.create_task(self.proxy._decide_connect(self, head, host, port))
        self.proxy._tasks.add(task)
        task.add_done_callback(self.proxy._tasks.discard)

    def _head_late(self) -> None:
        """The head did not arrive whole by its deadline (dripped bytes cannot stretch it): closed."""
        if self.state == _HEAD:
            self.transport.abort()
        elif self.state == _HELLO:
            self._end(
                self.proxy._deny(
                    rids.EGRESS_MALFORMED, "tunnel: the client sent no complete first message in time"
                )
            )

    def _hand_off(self) -> None:
        """Give the connection to the stream-based handler, with what was read."""
        if self.timer is not None:
            self.timer.cancel()
        self.state = _DONE
        self.proxy._clients.discard(self)  # the stream handler counts it from here
        transport, loop = self.transport, self.loop
        reader = asyncio.StreamReader(limit=MAX_HEAD, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self.buf:
            reader.feed_data(self.buf)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        task = loop.create_task(self.proxy._streamed(reader, writer, self.deadline))
        self.proxy._tasks.add(task)
        task.add_done_callback(self.proxy._tasks.discard)

    # the tunnel -------------------------------------------------------------------------------------------

    def opened(self, upstream: _Upstream, allow: Decision) -> None:
        """The target was allowed and dialled: answer 200, then wait for the first message."""
        if self.state != _DECIDING:  # the client went away meanwhile
            upstream.transport.close()
            self.upstream, self.allow = upstream, allow
            self._end()
            return
        self.upstream, self.allow = upstream, allow
        self.transport.write(_ESTABLISHED)
        self.state = _HELLO
        if self.timer is not None:
            self.timer.cancel()
        # the first message by one deadline: a ClientHello dripped a byte at a time cannot hold it
        self.timer = self.loop.call_later(self.proxy.config.head_timeout, self._head_late)
        upstream.start()  # the server's bytes flow back from now on (server-first protocols)
        self.transport.resume_reading()
        if self.buf or self.eof:
            self._first_message(eof=self.eof)

    def refused(self, data: bytes) -> None:
        """The answer to a refused CONNECT, then closed."""
        self.state = _DONE
        if self.timer is not None:
            self.timer.cancel()
        with contextlib.suppress(Exception):
            self.transport.write(data)
        self.transport.close()

    def _first_message(self, *, eof: bool = False) -> None:
        first = self.buf
        proxy, conn = self.proxy, self.conn
        try:
            hello = client_hello_sni(first) if first else Hello(complete=True, tls=False)
        except BadRequest as exc:
            self._end(proxy._deny(rids.EGRESS_MALFORMED, f"tunnel: {exc}"))
            return
        if not (hello.complete or eof or len(first) > _FIRST_MAX):
            return
        self.transport.pause_reading()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.state = _DECIDING
        assert self.allow is not None
        try:
            allow, scan = proxy._judge_first(conn, first, hello, self.allow)
        except Refused as refused:
            self._end(refused.decision)
            return
        except BadRequest as exc:
            self._end(proxy._deny(rids.EGRESS_MALFORMED, f"tunnel: {exc}"))
            return
        if scan:
            task = self.loop.create_task(self._scanned(first, allow, eof))
            proxy._tasks.add(task)
            task.add_done_callback(proxy._tasks.discard)
            return
        self._forward_first(first, allow, eof)

    async def _scanned(self, first: bytes, allow: Decision, eof: bool) -> None:
        proxy = self.proxy
        try:
            found = await proxy._scan(first, self.conn.host)
        except Exception as exc:  # noqa: BLE001 - the scan failing denies (fail closed)
            why = f"the outbound scan failed ({type(exc).__name__})"
            self._end(proxy._deny(rids.EGRESS_DLP_OUTBOUND_UNSCANNED, why))
            return
        if found is not None and proxy.acl.mode != "report":
            self._end(found)
            return
        if found is not None:
            allow = proxy._dlp_decision(found)
        if self.state == _DECIDING:
            self._forward_first(first, allow, eof)

    def _forward_first(self, first: bytes, allow: Decision, eof: bool) -> None:
        upstream = self.upstream
        assert upstream is not None
        self.allow = allow
        self.buf = b""
        self.state = _RELAY
        conn = self.conn
        conn.last = time.monotonic()
        if first:
            conn.up += len(first)
            upstream.transport.write(first)
        if eof or self.eof:
            if upstream.transport.can_write_eof():
                with contextlib.suppress(OSError):
                    upstream.transport.write_eof()
        else:
            self.transport.resume_reading()
        self.timer = self.loop.call_later(self.proxy.config.idle_timeout, self._watch)

    def _upload(self, data: bytes) -> None:
        conn = self.conn
        conn.last = time.monotonic()
        conn.up += len(data)
        if not self.flagged:
            anomaly = self.proxy.tracker.upload(conn.up)
            if anomaly is not None:
                self.flagged = True
                refusal = self.proxy._anomalies(conn, [anomaly])
                if refusal is not None:
                    self._end(refusal)
                    return
        upstream = self.upstream
        if upstream is not None:
            upstream.transport.write(data)

    def _watch(self) -> None:
        """One watchdog per tunnel: cut after ``idle_timeout`` without a byte either way."""
        idle = self.proxy.config.idle_timeout
        quiet = time.monotonic() - self.conn.last
        if quiet >= idle:
            self.transport.abort()
            if self.upstream is not None:
                self.upstream.transport.abort()
            self._end()
        else:
            self.timer = self.loop.call_later(idle - quiet, self._watch)

    def _end(self, refusal: Decision | None = None) -> None:
        """Close both sides (what is buffered is still sent) and write the tunnel's one record."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.state = _DONE
        if self.upstream is not None:
            self.upstream.transport.close()
        self.transport.close()
        if not self.recorded and self.allow is not None:
            self.recorded = True
            self.proxy._record(refusal or self.allow, self.conn)


class _Upstream(asyncio.Protocol):
    """The target's side of a CONNECT tunnel: its bytes go to the client as they come, once the
    client has its 200 (what a server-first target sends before that is held, and its reading paused)."""

    __slots__ = ("client", "early", "ended", "open", "transport")

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: Any = None
        self.open = False
        self.ended = False
        self.early = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def start(self) -> None:
        """The client has its 200: what was held goes first, then everything as it comes."""
        self.open = True
        if self.early:
            early, self.early = self.early, b""
            self.data_received(early)
        if self.ended:  # the target said all it had before the 200 went out: the tunnel ends
            self.client._end()
            return
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        client = self.client
        if not self.open:
            self.early += data
            self.transport.pause_reading()
            return
        conn = client.conn
        conn.last = time.monotonic()
        conn.down += len(data)
        client.transport.write(data)

    def eof_received(self) -> bool | None:
        # the target ended first: the client gets what was sent, then the tunnel closes
        if not self.open:
            self.ended = True  # its early bytes still go to the client after the 200, then it ends
            return True
        if self.client.state != _DONE:
            self.client._end()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open:
            self.ended = True  # before the 200: the tunnel ends once the client has it
        elif self.client.state in (_RELAY, _HELLO):
            self.client._end()

    def pause_writing(self) -> None:
        self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client.state == _RELAY:
            self.client.transport.resume_reading()


def _answer_bytes(status: int, reason: str, *, auth: bool = False) -> bytes:
    """The proxy's own answer: the status, the reason in a header (ASCII, one line) and the body."""
    phrase = {
        400: "Bad Request",
        403: "Forbidden",
        407: "Proxy Authentication Required",
        411: "Length Required",
        421: "Misdirected Request",
        429: "Too Many Requests",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }.get(status, "Error")
    body = f"ramparts egress: {reason}\n".encode("utf-8", "replace")
    safe = reason.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")[:300]
    lines = [
        f"HTTP/1.1 {status} {phrase}",
        f"X-Ramparts-Reason: {safe}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if auth:
        lines.append('Proxy-Authenticate: Basic realm="ramparts-egress"')
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _plain_http_host(first: bytes) -> str:
    """The Host of a plain HTTP request at the start of a tunnel ('' when the bytes are not one whole
    request head: another protocol, or a head split over packets, which passes unchecked)."""
    end = first.find(b"\r\n\r\n")
    if end < 0 or not first[:1].isalpha():
        return ""
    try:
        head = parse_request_head(first[: end + 4])
        value = head.get("Host")
        return parse_authority(value, 80)[0] if value else ""
    except BadRequest:
        return ""


async def _within(awaitable: Awaitable[_T], seconds: float) -> _T:
    """``await`` with a time limit (cheaper than ``wait_for``: no task per call)."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def _by(awaitable: Awaitable[_T], deadline: float) -> _T:
    """``await`` until ``deadline`` (the loop's clock)."""
    async with asyncio.timeout_at(deadline):
        return await awaitable


def _forward_head(head: RequestHead, origin: str) -> bytes:
    """The request as the origin server sees it: origin-form target, no proxy or hop-by-hop headers."""
    named = {v.strip().lower() for k, v in head.headers if k.lower() == "connection" for v in v.split(",")}
    lines = [f"{head.method} {origin} {head.version}"]
    for name, value in head.headers:
        if name.lower() in _HOP or name.lower() in named:
            continue
        lines.append(f"{name}: {value}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


Ready = Callable[[tuple[str, int], "tuple[str, int] | None"], None]
"""Called once the proxy listens: (its address, the DNS stub's UDP address or None)."""


async def serve(
    config: ProxyConfig,
    listen: tuple[str, int],
    *,
    records: RecordSink | None = None,
    lazy_records: LazyRecordSink | None = None,
    ready: Ready | None = None,
    max_lifetime: float | None = None,
    dns: tuple[str, int] | None = None,
    stop: asyncio.Event | None = None,
    audit_healthy: Callable[[], bool] | None = None,
    audit_room: Callable[[], bool] | None = None,
) -> None:
    """Run the proxy (and the DNS stub on UDP ``dns``) until ``stop`` is set, SIGTERM/SIGINT, a cancel,
    or ``max_lifetime`` seconds. ``lazy_records``: the proxy's records are built off the loop (the
    stub's go to ``records``). Port 0 in ``listen`` or ``dns`` picks a free port; ``ready`` says which."""
    proxy = EgressProxy(
        config,
        records=None if lazy_records else records,
        lazy_records=lazy_records,
        audit_healthy=audit_healthy,
        audit_room=audit_room,
    )
    bound = await proxy.start(*listen)
    stub: asyncio.DatagramTransport | None = None
    dns_bound: tuple[str, int] | None = None
    try:
        if dns is not None:
            from .dns import start_dns

            def audit_ok() -> bool:
                return (audit_healthy is None or audit_healthy()) and (audit_room is None or audit_room())

            stub, _protocol = await start_dns(
                config.acl, dns, records=records, user=config.user, host=config.host, audit_ok=audit_ok
            )
            name = stub.get_extra_info("sockname")
            dns_bound = (str(name[0]), int(name[1]))
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, stop.set)  # shut down cleanly: every record gets written
        if ready is not None:
            ready(bound, dns_bound)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_lifetime):
                await stop.wait()
    finally:
        if stub is not None:
            stub.close()
        await proxy.close()


def default_host() -> str:
    return os.uname().nodename if hasattr(os, "uname") else ""

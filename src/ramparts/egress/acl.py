"""The egress ACL: pure decisions on host names (before DNS) and on addresses (after DNS).

The proxy calls :func:`check_host` with what the client asked for, resolves the name, and calls
:func:`check_address` on every address it got; it dials only an address that was allowed. The hook calls
:func:`check_target` on WebFetch URLs and shell network targets (no DNS: a literal address in any
spelling is classified, a name is checked against the lists). Every answer is a
:class:`~ramparts.model.Decision` with ``egress.*`` rule ids; in ``report`` mode it allows and says what
``enforce`` would have done; in ``open`` mode the allow list is not applied (deny lists, DoH and address
classes still are).
"""

# ``ipaddress`` is imported only where an address is at hand (a literal, ``localhost``, a policy's
# ranges): a hook that checks a host name needs none of it (issue 21).

from __future__ import annotations

import math

from .. import rule_ids as rids
from .._recache import compile as re_compile
from .._tuples import NamedTuple
from ..model import Decision
from .classify import METADATA_NAMES, Classified, classify, covered, parse_address

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    from typing import Literal

    from ..policy.types import EgressSettings
    from .classify import IPNetwork

    EgressMode = Literal["enforce", "report", "open"]

DEFAULT_ALLOW: tuple[str, ...] = ("api.anthropic.com",)
"""The model API; a policy adds the package mirrors and services the company names."""

DEFAULT_DENY: tuple[str, ...] = (
    # paste and file-drop sites
    "pastebin.com",
    "*.pastebin.com",
    "paste.ee",
    "hastebin.com",
    "ghostbin.com",
    "dpaste.org",
    "transfer.sh",
    "file.io",
    "0x0.st",
    "termbin.com",
    "temp.sh",
    # tunnels to a laptop
    "*.ngrok.io",
    "*.ngrok-free.app",
    "*.ngrok.app",
    "*.trycloudflare.com",
    "*.loca.lt",
    "localtunnel.me",
    "*.serveo.net",
    "*.localhost.run",
    "*.lhr.life",
    # request bins and out-of-band interaction catchers
    "webhook.site",
    "*.webhook.site",
    "*.requestbin.net",
    "*.pipedream.net",
    "*.requestcatcher.com",
    "*.beeceptor.com",
    "*.burpcollaborator.net",
    "*.oastify.com",
    "interact.sh",
    "*.interact.sh",
    "*.oast.fun",
    "*.oast.pro",
    "*.oast.live",
    "*.oast.site",
    "*.oast.online",
    "*.oast.me",
    "*.dnslog.cn",
)
"""Paste sites, tunnels and request bins: denied whatever the allow list says."""

DOH_HOSTS: tuple[str, ...] = (
    "dns.google",
    "dns.google.com",
    "dns64.dns.google",
    "cloudflare-dns.com",
    "*.cloudflare-dns.com",
    "one.one.one.one",
    "dns.quad9.net",
    "dns9.quad9.net",
    "dns10.quad9.net",
    "dns11.quad9.net",
    "doh.opendns.com",
    "doh.familyshield.opendns.com",
    "dns.adguard.com",
    "dns.adguard-dns.com",
    "*.adguard-dns.com",
    "doh.cleanbrowsing.org",
    "dns.nextdns.io",
    "*.nextdns.io",
    "doh.mullvad.net",
    "*.mullvad.net",
    "dns.controld.com",
    "freedns.controld.com",
    "doh.dns.sb",
    "dns.alidns.com",
    "doh.pub",
    "dns.twnic.tw",
    "doh.libredns.gr",
)
"""DNS-over-HTTPS endpoints: a resolver the DNS firewall cannot see. Denied unless ``doh: allow``."""

DOT_PORT = 853
_LOOPBACK = "127.0.0.1"
"""What ``localhost`` is (RFC 6761), made an address where it is checked."""

_HOSTNAME = re_compile(
    r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$"
)


class Anomalies(NamedTuple):
    """Thresholds of the anomalies the proxy records (``egress.anomalies``)."""

    max_upload_bytes: int = 1024 * 1024
    """A connection that sends more is an anomaly; in enforce mode it is cut."""
    max_requests_per_minute: int = 100
    """Per session; in enforce mode the excess is refused."""
    first_seen: bool = True
    """Record a domain the first time a session reaches it."""
    tunnel_label_length: int = 40
    """A label at least this long is tunnel-shaped ..."""
    tunnel_entropy: float = 3.5
    """... and so is one of 16+ characters with at least this many bits of entropy per character."""
    tunnel_subdomains: int = 50
    """Distinct names under one zone per session per minute past which the zone looks like a tunnel."""


class EgressAcl(NamedTuple):
    """The compiled ``egress:`` section (plus command-line extensions and the host's own addresses)."""

    allow: tuple[str, ...] = DEFAULT_ALLOW
    deny: tuple[str, ...] = DEFAULT_DENY
    allow_ranges: tuple[IPNetwork, ...] = ()
    mode: EgressMode = "enforce"
    doh: Literal["deny", "allow"] = "deny"
    anomalies: Anomalies = Anomalies()
    own: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = frozenset()
    revision: str = ""
    ports: tuple[int, ...] = ()
    """The ports a name or public address may be reached on; empty: any (the policy's default is 80
    and 443, see :func:`acl_from_settings`)."""
    host_ports: tuple[tuple[str, int], ...] = ()
    """(host pattern, port): that port too for a host the pattern matches (``egress.host_ports``)."""


def host_matches(pattern: str, host: str) -> bool:
    """``*`` matches every host; ``*.example.com`` its subdomains at any depth (not the apex);
    anything else the name exactly. Case and one trailing dot do not matter."""
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _compiled(patterns: tuple[str, ...]) -> tuple[dict[str, str], tuple[tuple[str, str], ...], str]:
    """(exact name -> pattern, (suffix, pattern) pairs, the ``*`` pattern or '') for a list (kept for
    the last 64 lists)."""
    found = _COMPILED.get(patterns)
    if found is None:
        found = _compile_list(patterns)
        if len(_COMPILED) >= 64:
            _COMPILED.clear()
        _COMPILED[patterns] = found
    return found


_COMPILED: dict[tuple[str, ...], tuple[dict[str, str], tuple[tuple[str, str], ...], str]] = {}


def _compile_list(patterns: tuple[str, ...]) -> tuple[dict[str, str], tuple[tuple[str, str], ...], str]:
    exact: dict[str, str] = {}
    suffixes: list[tuple[str, str]] = []
    star = ""
    for pattern in patterns:
        norm = pattern.lower().rstrip(".")
        if norm == "*":
            star = star or pattern
        elif norm.startswith("*."):
            suffixes.append((norm[1:], pattern))
        else:
            exact.setdefault(norm, pattern)
    return exact, tuple(suffixes), star


def first_match(patterns: tuple[str, ...], name: str) -> str:
    """The first pattern of the list (as :func:`host_matches` reads it) that ``name`` matches; ''.
    Exact names are checked before wildcards: which one matches only changes the reason's wording."""
    exact, suffixes, star = _compiled(patterns)
    host = name.lower().rstrip(".")
    if host in exact:
        return exact[host]
    for suffix, pattern in suffixes:
        if host.endswith(suffix):
            return pattern
    return star


def normal_host(host: str) -> str:
    """A host name as the lists see it: lowercase, no trailing dot, IDNA (punycode) for non-ASCII;
    '' when it is not a host name at all."""
    name = host.strip().rstrip(".").lower()
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    return name if _HOSTNAME.match(name) else ""


def _decide(
    acl: EgressAcl, verdict: Literal["allow", "deny"], rule_id: str, reason: str, *, hard: bool = False
) -> Decision:
    """The decision in the ACL's mode. ``hard``: not lifted by ``open`` mode (only ``report`` lets it by)."""
    if verdict == "deny" and acl.mode == "report":
        return Decision(
            verdict="allow",
            reasons=(f"report mode, would deny: {reason}",),
            rule_ids=(rule_id,),
            policy_revision=acl.revision,
            enforced=False,
            would_verdict="deny",
        )
    if verdict == "deny" and acl.mode == "open" and not hard:
        return Decision(
            verdict="allow",
            reasons=(f"open mode: {reason}",),
            rule_ids=(rule_id,),
            policy_revision=acl.revision,
        )
    return Decision(verdict=verdict, reasons=(reason,), rule_ids=(rule_id,), policy_revision=acl.revision)


def check_host(acl: EgressAcl, host: str, port: int) -> Decision:
    """Before DNS: the name (or literal address) and port the client asked for."""
    if not 0 < port < 65536:
        return _decide(acl, "deny", rids.EGRESS_MALFORMED, f"port {port} is out of range", hard=True)
    literal = parse_address(host)
    if literal is not None:
        return check_address(acl, host, literal, port, literal=True)
    name = normal_host(host)
    if not name:
        return _decide(acl, "deny", rids.EGRESS_MALFORMED, f"{host[:80]!r} is not a host name", hard=True)
    if name in METADATA_NAMES or (name.startswith("metadata.") and name.endswith(".internal")):
        return _decide(acl, "deny", rids.EGRESS_METADATA, f"{name} is a cloud metadata service", hard=True)
    if port == DOT_PORT and acl.doh == "deny":
        return _decide(acl, "deny", rids.EGRESS_DOT, f"{name}:{port} is DNS over TLS", hard=True)
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always the loopback
        import ipaddress

        loopback = ipaddress.IPv4Address(_LOOPBACK)
        return _address_decision(acl, name, classify(loopback, acl.own), port, literal=False)
    pattern = first_match(acl.deny, name)
    if pattern:
        why = f"{name} is denied by the egress deny list ({pattern})"
        return _decide(acl, "deny", rids.EGRESS_DENIED_HOST, why, hard=True)
    if acl.doh == "deny" and first_match(DOH_HOSTS, name):
        return _decide(acl, "deny", rids.EGRESS_DOH, f"{name} is a DNS-over-HTTPS resolver", hard=True)
    pattern = first_match(acl.allow, name)
    if pattern:
        return _decide(acl, "allow", rids.EGRESS_ALLOWED, f"{name} is allowed ({pattern})")
    return _decide(acl, "deny", rids.EGRESS_NOT_ALLOWED, f"{name} is not in the egress allow list")


def check_address(
    acl: EgressAcl,
    host: str,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
    port: int,
    *,
    literal: bool | None = None,
) -> Decision:
    """After DNS (or for a literal address): the one address the proxy would dial. ``literal``: the
    host was that address written out (computed from ``host`` when not given)."""
    found = classify(address, acl.own)
    if literal is None:
        literal = parse_address(host) is not None
    return _address_decision(acl, host, found, port, literal=literal)


def _address_decision(acl: EgressAcl, host: str, found: Classified, port: int, *, literal: bool) -> Decision:
    shown = host[:80] if host[:80] == found.address else f"{host[:80]} ({found.address})"
    if port == DOT_PORT and acl.doh == "deny":
        return _decide(acl, "deny", rids.EGRESS_DOT, f"{shown}:{port} is DNS over TLS", hard=True)
    ranged = covered(found.address, acl.allow_ranges) or bool(
        found.embedded and covered(found.embedded, acl.allow_ranges)
    )
    if ranged:
        return _decide(acl, "allow", rids.EGRESS_ALLOWED_RANGE, f"{shown} is in an allowed range")
    if found.kind == "dns-resolver":
        if acl.doh == "deny":
            return _decide(
                acl, "deny", rids.EGRESS_DOH, f"{shown} is a public DNS resolver (DoH/DoT)", hard=True
            )
    elif found.kind != "public":
        rule = rids.EGRESS_METADATA if found.kind == "metadata" else f"egress.address.{found.kind}"
        return _decide(acl, "deny", rule, f"{shown} is a {found.label} address", hard=True)
    if literal:
        # a public address written as such: only the allow list (or an allowed range) lets it through
        for pattern in acl.allow:
            if pattern == "*" or parse_address(pattern) == parse_address(found.address):
                return _decide(acl, "allow", rids.EGRESS_ALLOWED, f"{shown} is allowed ({pattern})")
        return _decide(
            acl, "deny", rids.EGRESS_NOT_ALLOWED, f"{shown} is an address outside the allowed ranges"
        )
    return _decide(acl, "allow", rids.EGRESS_ADDRESS_PUBLIC, f"{shown} is a public address")


def check_port(
    acl: EgressAcl, host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> Decision | None:
    """After the address checks passed: a port outside ``acl.ports`` is denied, unless an allowed range
    covers the address (an internal service the policy names, on whatever port it serves) or
    ``acl.host_ports`` names this host with this port (git over SSH to a git host). None: the port is
    fine. Checked last, so an address's class is what a denial names when both apply."""
    if not acl.ports or port in acl.ports or covered(str(address), acl.allow_ranges):
        return None
    if any(port == p and host_matches(pattern, host) for pattern, p in acl.host_ports):
        return None  # egress.host_ports: this host on this port (the name check allowed the host)
    listed = ", ".join(str(p) for p in acl.ports)
    return _decide(
        acl, "deny", rids.EGRESS_PORT, f"{host[:80]}:{port}: port {port} is not allowed ({listed})"
    )


def check_target(acl: EgressAcl, host: str, port: int) -> Decision:
    """The hook's check, without DNS: the same as the proxy's first step."""
    return check_host(acl, host, port)


# -- tunnel-shaped names --------------------------------------------------------------------------------


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}  # collections.Counter(text), in the same order
    for ch in text:
        counts[ch] = counts.get(ch, 0) + 1
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


_ANOMALIES = Anomalies()


def tunnel_shaped(name: str, anomalies: Anomalies = _ANOMALIES) -> str:
    """Why a DNS name looks like it carries data (''): a very long label, or a long high-entropy one."""
    for label in name.lower().rstrip(".").split("."):
        if len(label) >= anomalies.tunnel_label_length:
            return f"a {len(label)}-character label"
        if len(label) >= 16 and entropy(label) >= anomalies.tunnel_entropy:
            return f"a high-entropy label ({entropy(label):.1f} bits per character)"
    return ""


def zone_of(name: str) -> str:
    """The registrable-looking zone of a name: its last two labels (three under a two-letter
    second-level such as ``co.uk``)."""
    labels = name.lower().rstrip(".").split(".")
    take = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-take:])


# -- from the policy ------------------------------------------------------------------------------------


def acl_from_settings(
    settings: EgressSettings,
    *,
    allow: tuple[str, ...] = (),
    allow_ranges: tuple[str, ...] = (),
    own: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = frozenset(),
    revision: str = "",
    ports: tuple[int, ...] = (),
) -> EgressAcl:
    """The ACL of a policy's ``egress:`` section, extended by the command line's ``--allow-host``,
    ``--allow-range`` and ``--allow-port`` (raises ValueError for a range that is not a CIDR)."""
    ranges: tuple[IPNetwork, ...] = ()
    if settings.allow_ranges or allow_ranges:
        import ipaddress  # here: the policy names ranges

        ranges = tuple(ipaddress.ip_network(r, strict=True) for r in (*settings.allow_ranges, *allow_ranges))
    return EgressAcl(
        allow=tuple(dict.fromkeys((*DEFAULT_ALLOW, *settings.allow, *allow))),
        deny=tuple(dict.fromkeys((*DEFAULT_DENY, *settings.deny))),
        allow_ranges=ranges,
        mode=settings.mode,
        doh=settings.doh,
        anomalies=Anomalies(
            max_upload_bytes=settings.max_upload_bytes,
            max_requests_per_minute=settings.max_requests_per_minute,
            first_seen=settings.first_seen,
            tunnel_label_length=settings.tunnel_label_length,
            tunnel_entropy=settings.tunnel_entropy,
            tunnel_subdomains=settings.tunnel_subdomains,
        ),
        own=own,
        revision=revision,
        ports=tuple(dict.fromkeys((*settings.ports, *ports))),
        host_ports=tuple(host_port(item) for item in settings.host_ports),
    )


def host_port(item: str) -> tuple[str, int]:
    """``name:PORT`` (``egress.host_ports``, checked by the schema) as (pattern, port)."""
    name, _, port = item.rpartition(":")
    return name.lower().rstrip("."), int(port)


def hook_denial(acl: EgressAcl, host: str, port: int, *, fetch: bool) -> Decision | None:
    """What the hook denies before anything connects, whatever the allow list says (the proxy applies
    that): a metadata service or address, a denied host, DoH/DoT, a malformed host; for WebFetch every
    non-public address; for a shell command a non-public address written in a disguised spelling
    (``0x7f.1``, ``2130706433``, IPv4 inside IPv6), since a plain ``curl 127.0.0.1:8000`` is the
    permission rules' business. None: nothing to deny here."""
    found = check_host(acl._replace(mode="open"), host, port)
    if found.verdict != "deny":
        return None
    rule = found.rule_ids[0]
    if fetch or not rule.startswith(rids.EGRESS_ADDRESS_PREFIX):
        return found
    literal = parse_address(host)
    if literal is None:
        return None  # a name (localhost): what it resolves to is the proxy's to check
    plain = host.strip().strip("[]").lower().rstrip(".")
    if literal.version == 4 and plain == str(literal):
        return None
    if literal.version == 6 and not classify(literal).via:
        return None
    return found._replace(
        rule_ids=(rids.EGRESS_DISGUISED_ADDRESS,),
        reasons=(f"{found.reason} written in a disguised spelling",),
    )

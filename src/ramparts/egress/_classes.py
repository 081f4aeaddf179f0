"""The address classes of :mod:`ramparts.egress.classify`, apart because they need ``ipaddress``.

Moved here unchanged (issue 21): ``classify`` imports this module on the first address it classifies,
so a hook that checks a host name never imports ``ipaddress``.
"""

from __future__ import annotations

import ipaddress

from .classify import Classified

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .classify import AddressKind

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*specs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(spec) for spec in specs)


METADATA: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean: instance metadata
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address that hands out host configuration)
        "192.0.0.192",  # Oracle Cloud (legacy metadata)
    )
)
"""Cloud metadata and credential endpoints: denied unless an allowed range names exactly that address."""

DNS_RESOLVERS: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "1.1.1.1",
        "1.0.0.1",
        "8.8.8.8",
        "8.8.4.4",
        "9.9.9.9",
        "149.112.112.112",
        "208.67.222.222",
        "208.67.220.220",
        "94.140.14.14",
        "94.140.15.15",
        "45.90.28.0",
        "45.90.30.0",
        "185.228.168.168",
        "76.76.2.0",
        "2606:4700:4700::1111",
        "2606:4700:4700::1001",
        "2001:4860:4860::8888",
        "2001:4860:4860::8844",
        "2620:fe::fe",
        "2620:fe::9",
        "2620:119:35::35",
    )
)
"""Public resolvers that answer DoH and DoT on their addresses (a client needs no name to reach them)."""

_V4: tuple[tuple[IPNetwork, AddressKind], ...] = (
    *((n, "unspecified") for n in _nets("0.0.0.0/8")),
    *((n, "loopback") for n in _nets("127.0.0.0/8")),
    *((n, "private") for n in _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    *((n, "cgnat") for n in _nets("100.64.0.0/10")),
    *((n, "link-local") for n in _nets("169.254.0.0/16")),
    *((n, "multicast") for n in _nets("224.0.0.0/4")),
    *((n, "broadcast") for n in _nets("255.255.255.255/32")),
    *(
        (n, "reserved")
        for n in _nets(
            "192.0.0.0/24",  # IETF protocol assignments
            "192.0.2.0/24",  # documentation
            "198.51.100.0/24",
            "203.0.113.0/24",
            "192.88.99.0/24",  # 6to4 relay anycast
            "198.18.0.0/15",  # benchmarking
            "240.0.0.0/4",  # future use
        )
    ),
)
_V6: tuple[tuple[IPNetwork, AddressKind], ...] = (
    *((n, "unspecified") for n in _nets("::/128")),
    *((n, "loopback") for n in _nets("::1/128")),
    *((n, "private") for n in _nets("fc00::/7", "fec0::/10")),  # unique local, deprecated site-local
    *((n, "link-local") for n in _nets("fe80::/10")),
    *((n, "multicast") for n in _nets("ff00::/8")),
    *(
        (n, "reserved")
        for n in _nets("100::/64", "2001:db8::/32", "2001:2::/48", "2001:10::/28", "2001:20::/28")
    ),
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64 = _nets("64:ff9b::/96", "64:ff9b:1::/48")
_6TO4 = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """(how, the IPv4 address) when an IPv6 address carries one that a translator or tunnel reaches."""
    value = int(address)
    if address in _MAPPED:
        return "ipv4-mapped", ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _SIIT:
        return "siit", ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _COMPATIBLE and value > 1:  # ::, ::1 are themselves
        return "ipv4-compatible", ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if any(address in net for net in _NAT64):
        return "nat64", ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if address in _6TO4:
        return "6to4", ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)
    if address in _TEREDO:
        return "teredo", ipaddress.IPv4Address(~value & 0xFFFFFFFF)  # the client's address, inverted
    return None


def _masks(table: tuple[tuple[IPNetwork, AddressKind], ...]) -> tuple[tuple[int, int, AddressKind], ...]:
    """(mask, network, kind) as integers: a class test is one AND and one compare."""
    return tuple((int(net.netmask), int(net.network_address), kind) for net, kind in table)


_V4_INT = _masks(_V4)
_V6_INT = _masks(_V6)
_GLOBAL_MASK, _GLOBAL_NET = int(_GLOBAL_UNICAST.netmask), int(_GLOBAL_UNICAST.network_address)


def _kind(address: IPAddress, own: frozenset[IPAddress]) -> AddressKind:
    if address in METADATA:
        return "metadata"
    if address in own:
        return "own-address"
    value = int(address)
    for mask, net, kind in _V4_INT if address.version == 4 else _V6_INT:
        if value & mask == net:
            return kind
    if address.version == 6 and value & _GLOBAL_MASK != _GLOBAL_NET:
        return "reserved"
    if address in DNS_RESOLVERS:
        return "dns-resolver"
    return "public"


def classify(address: IPAddress, own: frozenset[IPAddress] = frozenset()) -> Classified:
    """What ``address`` is. ``own`` holds the host's own interface addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            how, v4 = inner
            kind = _kind(address, own) if address in METADATA or address in own else _kind(v4, own)
            return Classified(str(address), kind, how, str(v4))
    return Classified(str(address), _kind(address, own))


def covered(address: str, ranges: tuple[IPNetwork, ...]) -> bool:
    """An allowed range covers the address (for a metadata address: names exactly that address)."""
    parsed = ipaddress.ip_address(address)
    exact = parsed in METADATA
    value = int(parsed)
    for net in ranges:
        if (
            parsed.version == net.version
            and value & int(net.netmask) == int(net.network_address)
            and (not exact or net.num_addresses == 1)
        ):
            return True
    return False

"""Pure address classification for egress: what an address is, in whatever spelling it was written.

Two steps, both without I/O:

- :func:`parse_address` reads a host as an IP address in every spelling a resolver or a client accepts:
  dotted decimal, the legacy ``inet_aton`` forms (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
  ``127.1``), bracketed IPv6 with or without a zone, a trailing dot. ``None`` means "a name".
- :func:`classify` says what the address is: ``public`` or one of the special-purpose classes
  (RFC 6890 and friends), a cloud metadata address, one of the host's own addresses, a public DNS
  resolver (DoH/DoT by address). IPv4 embedded in IPv6 (mapped, IPv4-compatible, SIIT, NAT64, 6to4,
  Teredo) is classified as the IPv4 address it carries, and the wrapper is named in ``via``.

The ACL (:mod:`ramparts.egress.acl`) turns a class into a decision.
"""

# ``ipaddress`` (some 20 M instructions of a cold hook) is imported only for a host written as an
# address: parsing a name needs none of it, and the address classes live in ``_classes`` (issue 21).

from __future__ import annotations

from .._recache import compile as re_compile
from .._tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    from typing import Any, Literal

    IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
    IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

    AddressKind = Literal[
        "public",
        "loopback",
        "private",
        "link-local",
        "cgnat",
        "multicast",
        "reserved",
        "unspecified",
        "broadcast",
        "metadata",
        "own-address",
        "dns-resolver",
    ]
    """``public`` is the only class reached without an allowed range; ``dns-resolver`` (a well-known public
    DoH/DoT resolver's address) is public but denied unless the policy allows DoH."""


class Classified(NamedTuple):
    """One address and what it is."""

    address: str
    """The address in canonical form (what the proxy dials)."""
    kind: AddressKind
    via: str = ""
    """How the classified IPv4 address was embedded: ``ipv4-mapped``, ``ipv4-compatible``, ``siit``,
    ``nat64``, ``6to4``, ``teredo``; '' when the address was classified as written."""
    embedded: str = ""
    """The embedded IPv4 address, when ``via`` is set."""

    @property
    def label(self) -> str:
        """``loopback`` or ``loopback via nat64`` (for reasons and audit records)."""
        return f"{self.kind} via {self.via}" if self.via else self.kind


# -- parsing ------------------------------------------------------------------------------------------

_PART = re_compile(r"^(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$")


def _number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:], 16)
    return int(part, 8 if part[:1] == "0" else 10)


_DOTTED = re_compile(
    r"^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$"
)


def parse_ipv4_legacy(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in ``inet_aton`` syntax (glibc, curl, Python's socket): one to four parts,
    each decimal, octal (leading ``0``) or hex (``0x``); the last part fills the remaining bytes."""
    if _DOTTED.match(text):  # the usual spelling, quickly
        import ipaddress  # here and below: only a host written as an address

        return ipaddress.IPv4Address(text)
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_PART.match(p) for p in parts):
        return None
    values = [_number(p) for p in parts]
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    value = 0
    for v in head:
        value = value << 8 | v
    import ipaddress

    return ipaddress.IPv4Address(value << (8 * (4 - len(head))) | last)


def parse_address(host: str) -> IPAddress | None:
    """The address a host string stands for, or None when it is a name (or nothing usable)."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text.endswith(".") and ":" not in text:
        text = text[:-1]  # "127.0.0.1." resolves to 127.0.0.1
    if ":" in text:
        address, _, _zone = text.partition("%")  # fe80::1%eth0: the zone only picks the interface
        import ipaddress

        try:
            return ipaddress.IPv6Address(address)
        except ValueError:
            return None
    return parse_ipv4_legacy(text)


# -- classes ------------------------------------------------------------------------------------------

METADATA_NAMES: tuple[str, ...] = (
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
)
"""Names of metadata services, denied by name before anything is resolved."""


def classify(address: IPAddress, own: frozenset[IPAddress] = frozenset()) -> Classified:
    """What ``address`` is. ``own`` holds the host's own interface addresses (:mod:`._classes`)."""
    from ._classes import classify as classify_address

    return classify_address(address, own)


def covered(address: str, ranges: tuple[IPNetwork, ...]) -> bool:
    """An allowed range covers the address (for a metadata address: names exactly that address)."""
    from ._classes import covered as covered_by

    return covered_by(address, ranges)


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """(how, the IPv4 address) when an IPv6 address carries one that a translator or tunnel reaches."""
    from ._classes import embedded_ipv4 as embedded

    return embedded(address)


def __getattr__(name: str) -> Any:
    """The address tables (``METADATA``, ``DNS_RESOLVERS``...) and the ``IPAddress``/``IPNetwork``
    unions, from :mod:`._classes` (which imports ``ipaddress``) on first use."""
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import _classes

    try:
        value = getattr(_classes, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value
    return value

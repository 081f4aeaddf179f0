"""The pure address classifier: every legacy spelling normalised, every special-purpose class, IPv4 in IPv6."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.egress.classify import (
    Classified,
    classify,
    covered,
    embedded_ipv4,
    parse_address,
    parse_ipv4_legacy,
)

SPELLINGS = [
    ("127.0.0.1", "127.0.0.1"),
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("127.000.000.001", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("169.254.43518", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"),
    ("[::1]", "::1"),
    ("fe80::1%eth0", "fe80::1"),
]


@pytest.mark.parametrize(("text", "expected"), SPELLINGS)
def test_legacy_spellings_are_normalised(text: str, expected: str) -> None:
    assert str(parse_address(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "example.com",
        "256.1.1.1",
        "1.2.3.256",
        "08.1.1.1",
        "1.2.3.4.5",
        "",
        "[zz::1]",
        "1..2",
        "0xg",
        "0x",
        "0X",
    ],
)
def test_names_and_garbage_are_not_addresses(text: str) -> None:
    assert parse_address(text) is None


@given(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=1, max_value=4),
    st.sampled_from("dox"),
)
def test_legacy_forms_agree_with_inet_aton(value: int, parts: int, base: str) -> None:
    """Every spelling we produce reads back as glibc's inet_aton reads it."""
    octets = value.to_bytes(4, "big")
    head = list(octets[: parts - 1])
    last = int.from_bytes(octets[parts - 1 :], "big")
    fmt = {"d": str, "o": lambda n: "0" + oct(n)[2:], "x": hex}[base]
    text = ".".join(fmt(n) for n in (*head, last))
    assert parse_ipv4_legacy(text) == ipaddress.IPv4Address(socket.inet_aton(text))


@given(st.text(alphabet="0123456789abcdefxX.", max_size=20))
def test_parser_never_disagrees_with_inet_aton(text: str) -> None:
    try:
        expected: ipaddress.IPv4Address | None = ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        expected = None
    assert parse_ipv4_legacy(text) == expected


CLASSES = [
    ("8.8.4.5", "public", ""),
    ("93.184.216.34", "public", ""),
    ("2606:4700::1", "public", ""),
    ("127.0.0.1", "loopback", ""),
    ("127.255.255.254", "loopback", ""),
    ("::1", "loopback", ""),
    ("10.0.0.1", "private", ""),
    ("172.16.5.4", "private", ""),
    ("192.168.1.1", "private", ""),
    ("fd12::1", "private", ""),
    ("fec0::1", "private", ""),
    ("169.254.1.1", "link-local", ""),
    ("fe80::1", "link-local", ""),
    ("100.64.0.1", "cgnat", ""),
    ("224.0.0.1", "multicast", ""),
    ("ff02::1", "multicast", ""),
    ("240.0.0.1", "reserved", ""),
    ("192.0.2.1", "reserved", ""),
    ("198.18.0.1", "reserved", ""),
    ("2001:db8::1", "reserved", ""),
    ("100::1", "reserved", ""),
    ("4000::1", "reserved", ""),
    ("0.0.0.0", "unspecified", ""),
    ("::", "unspecified", ""),
    ("255.255.255.255", "broadcast", ""),
    ("169.254.169.254", "metadata", ""),
    ("fd00:ec2::254", "metadata", ""),
    ("100.100.100.200", "metadata", ""),
    ("168.63.129.16", "metadata", ""),
    ("169.254.170.2", "metadata", ""),
    ("1.1.1.1", "dns-resolver", ""),
    ("2001:4860:4860::8888", "dns-resolver", ""),
    ("::ffff:127.0.0.1", "loopback", "ipv4-mapped"),
    ("::ffff:169.254.169.254", "metadata", "ipv4-mapped"),
    ("::ffff:0:a00:1", "private", "siit"),
    ("::127.0.0.1", "loopback", "ipv4-compatible"),
    ("64:ff9b::7f00:1", "loopback", "nat64"),
    ("64:ff9b:1::a9fe:a9fe", "metadata", "nat64"),
    ("2002:7f00:1::1", "loopback", "6to4"),
    ("2002:0808:0405::", "public", "6to4"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback", "teredo"),
]


@pytest.mark.parametrize(("text", "kind", "via"), CLASSES)
def test_classes(text: str, kind: str, via: str) -> None:
    found = classify(ipaddress.ip_address(text))
    assert (found.kind, found.via) == (kind, via)
    assert found.label == (f"{kind} via {via}" if via else kind)


def test_own_addresses() -> None:
    own = frozenset({ipaddress.ip_address("203.0.114.7"), ipaddress.ip_address("2001:470::7")})
    assert classify(ipaddress.ip_address("203.0.114.7"), own).kind == "own-address"
    assert classify(ipaddress.ip_address("::ffff:203.0.114.7"), own).kind == "own-address"
    assert classify(ipaddress.ip_address("2001:470::7"), own).kind == "own-address"
    assert classify(ipaddress.ip_address("203.0.114.8"), own).kind == "public"


def test_embedded_wrapper_itself_metadata_or_own() -> None:
    own = frozenset({ipaddress.ip_address("::ffff:8.8.4.5")})
    assert classify(ipaddress.ip_address("::ffff:8.8.4.5"), own) == Classified(
        "::ffff:808:405", "own-address", "ipv4-mapped", "8.8.4.5"
    )
    assert embedded_ipv4(ipaddress.IPv6Address("2606:4700::1")) is None


def test_covered_needs_an_exact_range_for_metadata() -> None:
    wide = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00::/8"))
    assert covered("169.254.1.1", wide)
    assert not covered("169.254.169.254", wide)
    assert covered("169.254.169.254", (ipaddress.ip_network("169.254.169.254/32"),))
    assert not covered("10.0.0.1", wide)
    assert covered("fd00::1", wide)


@given(st.ip_addresses())
def test_every_address_has_one_class_and_canonical_form(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    found = classify(address)
    assert found.address == str(address)
    assert parse_address(found.address) == address
    if found.via:
        assert address.version == 6 and ipaddress.IPv4Address(found.embedded)

"""The proxy's parsers: fuzzed with hypothesis (BadRequest or a value, never another exception), and the
ClientHello parser against real ClientHellos from Python's ssl module."""

from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.egress.wire import (
    BadRequest,
    Hello,
    client_hello_sni,
    parse_authority,
    parse_request_head,
    proxy_credentials,
    socks_target,
    split_absolute,
)
from tests.unit.egress.harness import client_hello


@settings(max_examples=400)
@given(st.binary(max_size=400))
def test_request_head_parser_never_crashes(data: bytes) -> None:
    try:
        head = parse_request_head(data)
    except BadRequest:
        return
    assert head.method and head.target and head.version.startswith("HTTP/1.")


_LINE = st.sampled_from(
    ["CONNECT a.test:443 HTTP/1.1", "GET http://a.test/ HTTP/1.1", "GET / HTTP/1.0", "X  HTTP/1.1"]
)
_HEADER = st.tuples(
    st.sampled_from(["Host", "Content-Length", "Transfer-Encoding", "X", "Bad Name", ""]),
    st.text(alphabet=st.characters(codec="latin-1"), max_size=20),
)


@settings(max_examples=400)
@given(_LINE, st.lists(_HEADER, max_size=6))
def test_structured_heads_parse_or_are_refused(line: str, headers: list[tuple[str, str]]) -> None:
    text = line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    try:
        head = parse_request_head(text.encode("latin-1"))
    except BadRequest:
        return
    assert head.get("Host") is None or isinstance(head.get("Host"), str)


@given(st.text(max_size=60))
def test_authority_and_absolute_parsers_never_crash(text: str) -> None:
    for call in (
        lambda: parse_authority(text),
        lambda: parse_authority(text, 80),
        lambda: split_absolute(text),
    ):
        with contextlib.suppress(BadRequest):
            call()


@settings(max_examples=400)
@given(st.binary(max_size=600))
def test_client_hello_parser_never_crashes(data: bytes) -> None:
    try:
        hello = client_hello_sni(b"\x16\x03\x01" + data)
    except BadRequest:
        return
    assert isinstance(hello, Hello)


@pytest.mark.parametrize("name", ["api.anthropic.com", "a.b.c.example.org", "x" * 63 + ".test"])
def test_real_client_hellos(name: str) -> None:
    hello = client_hello(name)
    assert client_hello_sni(hello) == Hello(complete=True, sni=name)
    for cut in (1, 5, 40, len(hello) - 1):
        assert client_hello_sni(hello[:cut]).complete is False
    assert client_hello_sni(b"") == Hello(complete=False)
    assert client_hello_sni(b"SSH-2.0-OpenSSH\r\n") == Hello(complete=True, tls=False)


def test_a_client_hello_split_over_two_records() -> None:
    hello = client_hello("split.test")
    body = hello[5:]
    first, second = body[:50], body[50:]
    records = b"".join(b"\x16\x03\x01" + len(part).to_bytes(2, "big") + part for part in (first, second))
    assert client_hello_sni(records).sni == "split.test"
    assert client_hello_sni(records[:-1]).complete is False


def test_a_client_hello_without_sni_and_bad_ones() -> None:
    # legacy_version, random, empty session id, one suite, one compression method, no extensions
    bare = b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    message = b"\x01" + len(bare).to_bytes(3, "big") + bare
    record = b"\x16\x03\x01" + len(message).to_bytes(2, "big") + message
    assert client_hello_sni(record) == Hello(complete=True, sni="")
    with pytest.raises(BadRequest):
        client_hello_sni(b"\x16\x03\x01\x00\x00")
    with pytest.raises(BadRequest):
        client_hello_sni(b"\x16\x02\x01\x00\x01\x01")
    with pytest.raises(BadRequest):
        client_hello_sni(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00")
    with pytest.raises(BadRequest):
        client_hello_sni(b"\x16\x03\x01\x00\x04\x01\xff\xff\xff")


def test_heads_and_headers() -> None:
    head = parse_request_head(b"GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nX-A:  b \r\n\r\n")
    assert head.get("host") == "a.test" and head.get("x-a") == "b" and head.get("nope") is None
    for bad in (
        b"",
        b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\n\r\n",
        b"G" * 40000,
    ):
        with pytest.raises(BadRequest):
            parse_request_head(bad)


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("a.test:443", None, ("a.test", 443)),
        ("[::1]:80", None, ("::1", 80)),
        ("[::1]", 80, ("::1", 80)),
        ("a.test", 80, ("a.test", 80)),
        ("a.test:", 80, ("a.test", 80)),
    ],
)
def test_authority(text: str, default: int | None, expected: tuple[str, int]) -> None:
    assert parse_authority(text, default) == expected


@pytest.mark.parametrize(
    "text",
    ["", "a.test", "::1:80", "[::1", "[::1]x", "a.test:0", "a.test:99999", "a.test:x", "u@a.test:1", ":80"],
)
def test_bad_authorities(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_authority(text)


def test_absolute_targets() -> None:
    assert split_absolute("http://a.test") == ("http", "a.test", 80, "/")
    assert split_absolute("HTTP://a.test:8080/x?y") == ("http", "a.test", 8080, "/x?y")
    assert split_absolute("http://a.test?q") == ("http", "a.test", 80, "/?q")
    assert split_absolute("https://a.test/") == ("https", "a.test", 443, "/")
    for bad in ("ftp://a/", "a.test/x", "http://a.test/#f", "http://u:p@a.test/"):
        with pytest.raises(BadRequest):
            split_absolute(bad)


def test_proxy_credentials() -> None:
    token = base64.b64encode(b"id:se:cret").decode()
    assert proxy_credentials(f"Basic {token}") == ("id", "se:cret")
    assert proxy_credentials(None) is None
    assert proxy_credentials("Bearer x") is None
    assert proxy_credentials("Basic !!!") is None
    assert proxy_credentials("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert proxy_credentials("Basic " + base64.b64encode(b"\xff:x").decode()) is None


def test_socks_targets() -> None:
    assert socks_target(1, b"\x7f\x00\x00\x01") == "127.0.0.1"
    assert socks_target(4, b"\x00" * 15 + b"\x01") == "::1"
    assert socks_target(3, b"a.test") == "a.test"
    for atyp, raw in ((3, b"\xff"), (3, b""), (1, b"\x00"), (9, b"x")):
        with pytest.raises(BadRequest):
            socks_target(atyp, raw)

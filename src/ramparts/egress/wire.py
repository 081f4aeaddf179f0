"""Pure parsers for what a proxy client sends: an HTTP request head, an authority (``host:port``), the
server name in a TLS ClientHello, and the SOCKS5 messages. Each raises :class:`BadRequest` on anything
malformed or ambiguous, so the proxy answers 400 (or closes) and keeps serving the others.

The ClientHello parser is written here: the maintained TLS libraries (``ssl``, ``cryptography``) do
not expose a ClientHello parser, and ``dpkt`` (last release 2022) would still leave the server_name
extension to decode by hand; the format is small (RFC 8446 §4.1.2, RFC 6066 §3) and the parser is fuzzed.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import NamedTuple

MAX_HEAD = 32 * 1024
"""The most a request head (request line and headers) may take."""
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_VERSION = re.compile(rb"^HTTP/1\.[01]$")
_NOT_VISIBLE = re.compile(rb"[^\x21-\x7e]")
"""A byte a request target may not hold (controls, space, DEL, non-ASCII)."""
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
"""A control byte a header value may not hold (tab is allowed)."""


class BadRequest(ValueError):
    """The client sent something the proxy will not act on; the message is safe to send back."""


class RequestHead(NamedTuple):
    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    """(name as sent, value) in order."""

    def get(self, name: str) -> str | None:
        """The one value of a header; BadRequest when it is repeated (ambiguous)."""
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        if len(found) > 1:
            raise BadRequest(f"repeated {name} header")
        return found[0] if found else None


def parse_request_head(data: bytes) -> RequestHead:
    """A request head ending in CRLF CRLF (the terminator may be left off)."""
    if len(data) > MAX_HEAD:
        raise BadRequest("request head too large")
    lines = data.split(b"\r\n")
    while lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise BadRequest("empty request")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1] or not _VERSION.match(parts[2]):
        raise BadRequest("malformed request line")
    target = parts[1]
    if _NOT_VISIBLE.search(target):
        raise BadRequest("malformed request target")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name):
            raise BadRequest("malformed header line")
        stripped = value.strip(b" \t")
        if _CONTROL.search(stripped):
            raise BadRequest("control character in a header value")
        headers.append((name.decode("ascii"), stripped.decode("latin-1")))
    head = RequestHead(
        parts[0].decode("ascii"), target.decode("ascii"), parts[2].decode("ascii"), tuple(headers)
    )
    if head.get("Transfer-Encoding") is not None and head.get("Content-Length") is not None:
        raise BadRequest("both Transfer-Encoding and Content-Length")
    length = head.get("Content-Length")
    if length is not None and not length.isdigit():
        raise BadRequest("malformed Content-Length")
    head.get("Host")  # repeated Host headers are refused
    return head


def parse_authority(text: str, default_port: int | None = None) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` (or without the port when ``default_port`` is given)."""
    if not text or len(text) > 300 or any(c in text for c in "/?#@ \\"):
        raise BadRequest("malformed host")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise BadRequest("malformed host")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise BadRequest("malformed host")
        port_text = rest[1:] if rest else ""
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            host, port_text = text, ""
        elif ":" in host:
            raise BadRequest("an IPv6 address must be in brackets")
    if not host:
        raise BadRequest("malformed host")
    if not port_text:
        if default_port is None:
            raise BadRequest("missing port")
        return host, default_port
    if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        raise BadRequest("malformed port")
    return host, int(port_text)


def split_absolute(target: str) -> tuple[str, str, int, str]:
    """An absolute-form target ``http://host[:port]/path`` as (scheme, host, port, origin-form path)."""
    scheme, sep, rest = target.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise BadRequest("the proxy takes absolute http:// URLs and CONNECT")
    if "#" in rest:
        raise BadRequest("a fragment in the request target")
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, origin = rest[:end], rest[end:]
    if "@" in authority:
        raise BadRequest("credentials in the URL")
    host, port = parse_authority(authority, 80 if scheme == "http" else 443)
    origin = origin if origin.startswith("/") else "/" + origin
    return scheme, host, port, origin


def proxy_credentials(value: str | None) -> tuple[str, str] | None:
    """The (user, password) of a ``Proxy-Authorization: Basic …`` header; None when absent or not Basic."""
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


# -- TLS ClientHello ----------------------------------------------------------------------------------


class Hello(NamedTuple):
    complete: bool
    """The whole ClientHello is in the bytes given (else read more)."""
    sni: str = ""
    tls: bool = True
    """The bytes start like a TLS handshake record."""


def client_hello_sni(data: bytes) -> Hello:
    """The server name a TLS ClientHello asks for, from the first bytes a client sends.

    ``tls=False``: not TLS at all (plain protocol through a tunnel). ``complete=False``: a TLS handshake
    that needs more bytes. BadRequest: TLS that does not parse."""
    if len(data) < 1:
        return Hello(complete=False)
    if data[0] != 0x16:
        return Hello(complete=True, tls=False)
    body = bytearray()
    pos = 0
    need = -1
    while True:  # the handshake message may span several records
        if len(data) < pos + 5:
            return Hello(complete=False)
        if data[pos] != 0x16 or data[pos + 1] != 0x03:
            raise BadRequest("malformed TLS record")
        size = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if size == 0 or size > 16384 + 256:
            raise BadRequest("malformed TLS record")
        if len(data) < pos + 5 + size:
            return Hello(complete=False)
        body += data[pos + 5 : pos + 5 + size]
        pos += 5 + size
        if need < 0 and len(body) >= 4:
            if body[0] != 0x01:
                raise BadRequest("the first TLS message is not a ClientHello")
            need = 4 + int.from_bytes(body[1:4], "big")
            if need > 65536:
                raise BadRequest("ClientHello too large")
        if need >= 0 and len(body) >= need:
            return Hello(complete=True, sni=_sni(bytes(body[4:need])))


def _sni(hello: bytes) -> str:
    reader = _Reader(hello)
    reader.take(2 + 32)  # legacy_version, random
    reader.take(reader.int(1))  # session id
    reader.take(reader.int(2))  # cipher suites
    reader.take(reader.int(1))  # compression methods
    if reader.done():
        return ""
    extensions = _Reader(reader.take(reader.int(2)))
    names: list[str] = []
    while not extensions.done():
        kind = extensions.int(2)
        data = extensions.take(extensions.int(2))
        if kind != 0:
            continue
        if names:
            raise BadRequest("repeated server_name extension")
        items = _Reader(data)
        entries = _Reader(items.take(items.int(2)))
        while not entries.done():
            name_type = entries.int(1)
            value = entries.take(entries.int(2))
            if name_type == 0:
                try:
                    names.append(value.decode("ascii").lower())
                except UnicodeDecodeError as exc:
                    raise BadRequest("server name is not ASCII") from exc
        if len(names) != 1:
            raise BadRequest("server_name extension without exactly one host name")
    return names[0] if names else ""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise BadRequest("truncated TLS message")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def int(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def done(self) -> bool:
        return self.pos >= len(self.data)


# -- SOCKS5 (RFC 1928, RFC 1929) -----------------------------------------------------------------------

SOCKS_OK, SOCKS_FAILURE, SOCKS_NOT_ALLOWED, SOCKS_HOST_UNREACHABLE = 0x00, 0x01, 0x02, 0x04
SOCKS_COMMAND_UNSUPPORTED, SOCKS_ADDRESS_UNSUPPORTED = 0x07, 0x08


def socks_reply(code: int) -> bytes:
    """A reply with a zero bound address (clients of a CONNECT do not use it)."""
    return bytes((5, code, 0, 1, 0, 0, 0, 0, 0, 0))


def socks_target(atyp: int, raw: bytes) -> str:
    """The host of a SOCKS5 request's address (``raw`` without the length byte of a name)."""
    import ipaddress

    if atyp == 1 and len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if atyp == 4 and len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    if atyp == 3 and raw:
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise BadRequest("SOCKS host name is not ASCII") from exc
    raise BadRequest("malformed SOCKS address")

"""``urllib.parse.urlsplit`` and ``unquote`` as the hook uses them, without importing ``urllib.parse``.

``urllib.parse`` costs a fresh interpreter some 40 M instructions (bare Python is 41 M): it imports
``re``, ``collections``, ``functools``, ``ipaddress``, ``types`` and ``warnings`` at its top. The cold
hook needs it on every WebFetch and every shell command with a URL, for three things: a URL's five
parts, the host and port in its network location, and ``%XX`` decoding (issue 21).

Each function here gives exactly what ``urllib.parse`` gives, the same exceptions included, and
serves the common case itself: a URL of printable ASCII without space or brackets (no characters that
``urlsplit`` strips or removes, no IPv6 literal that it checks with ``ipaddress``), and a percent-escaped
ASCII text. Anything else is handed to ``urllib.parse`` itself. Property tests hold each function to
``urllib.parse`` on random URLs (tests/unit/test_url.py).
"""

from __future__ import annotations

SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
"""``urllib.parse.scheme_chars``."""
_HEX = frozenset(b"0123456789abcdefABCDEF")


def split(url: str) -> tuple[str, str, str, str, str]:
    """``tuple(urllib.parse.urlsplit(url))``: scheme, network location, path, query, fragment (a
    ``ValueError`` where ``urlsplit`` raises one)."""
    if not (url.isascii() and url.isprintable()) or " " in url or "[" in url or "]" in url:
        from urllib.parse import urlsplit  # leading controls, tabs and newlines, IPv6 literals, Unicode

        parts = urlsplit(url)
        return parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment
    scheme = netloc = query = fragment = ""
    colon = url.find(":")
    if colon > 0 and url[0].isalpha() and all(c in SCHEME_CHARS for c in url[:colon]):
        scheme, url = url[:colon].lower(), url[colon + 1 :]
    if url[:2] == "//":
        ends = [at for at in (url.find(c, 2) for c in "/?#") if at >= 0]
        end = min(ends, default=len(url))
        netloc, url = url[2:end], url[end:]
    if "#" in url:
        url, fragment = url.split("#", 1)
    if "?" in url:
        url, query = url.split("?", 1)
    return scheme, netloc, url, query, fragment


def _hostinfo(netloc: str) -> tuple[str, str | None]:
    _, _, hostinfo = netloc.rpartition("@")
    _, bracket, bracketed = hostinfo.partition("[")
    if bracket:
        host, _, port = bracketed.partition("]")
        _, _, port = port.partition(":")
    else:
        host, _, port = hostinfo.partition(":")
    return host, port or None


def hostname(netloc: str) -> str | None:
    """``urlsplit(...).hostname`` of a URL whose network location is ``netloc``."""
    host = _hostinfo(netloc)[0]
    if not host:
        return None
    host, percent, zone = host.partition("%")  # an IPv6 zone keeps its case
    return host.lower() + percent + zone


def port(netloc: str) -> int | None:
    """``urlsplit(...).port`` of a URL whose network location is ``netloc`` (the same ``ValueError``s)."""
    text = _hostinfo(netloc)[1]
    if text is None:
        return None
    if not (text.isdigit() and text.isascii()):
        raise ValueError(f"Port could not be cast to integer value as {text!r}")
    number = int(text)
    if not 0 <= number <= 65535:
        raise ValueError("Port out of range 0-65535")
    return number


def unquote(text: str) -> str:
    """``urllib.parse.unquote(text)``: ``%XX`` escapes decoded as UTF-8, invalid sequences replaced."""
    if "%" not in text:
        return text
    if not text.isascii():
        from urllib.parse import unquote as unquote_text

        return unquote_text(text)
    first, *rest = text.encode("ascii").split(b"%")
    out = [first]
    for item in rest:
        if len(item) >= 2 and item[0] in _HEX and item[1] in _HEX:
            out += (bytes((int(item[:2], 16),)), item[2:])
        else:
            out += (b"%", item)
    return b"".join(out).decode("utf-8", "replace")

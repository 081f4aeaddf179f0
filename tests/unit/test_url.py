"""``ramparts._url`` against ``urllib.parse`` itself: the same parts, hosts, ports, decoded text and
errors for any URL, and no ``urllib.parse`` loaded for a plain one (issue 21)."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ramparts import _url

PIECES = st.sampled_from(
    ["http", "https", "HTTP", "s3", "a+b-c.d", "1x", ":", "//", "/", "?", "#", "@", "[", "]", "%", "%2", "%41",
     "%e2%82%ac", "%zz", "%+f", "%%", "example.com", "EXAMPLE.Com", "user:pw", "::1", "fe80::1%eth0", "v1.x",
     "1.2.3.4", "8080", "65536", "-1", "0", "\u00e9", "\u2100", "\uff0f", " ", "\t", "\n", "\x00", "\x7f", "a", "=", "&"]
)  # fmt: skip
URLS = st.one_of(st.lists(PIECES, max_size=12).map("".join), st.text(max_size=40))


def _outcome(function, *args):  # type: ignore[no-untyped-def]
    try:
        return ("ok", function(*args))
    except ValueError as exc:
        return ("ValueError", str(exc))


def _theirs(url: str):  # type: ignore[no-untyped-def]
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc, parts.path, parts.query, parts.fragment


@settings(max_examples=3000)
@given(URLS)
@example("https://docs.python.org/3/library/sqlite3.html")
@example("HTTPS://User:Pw@Example.COM:8443/a/b?c=d&e=%41#frag")
@example("http://[::1]:80/x")
@example("http://[v1.x]/")
@example("http://[1.2.3.4]/")
@example("//host:99999/")
@example("mailto:someone@example.com")
@example("1http://x")
def test_split_hostname_and_port_are_urllib_s(url: str) -> None:
    ours, theirs = _outcome(_url.split, url), _outcome(_theirs, url)
    assert ours == theirs
    if ours[0] == "ok":
        netloc = ours[1][1]
        parsed = urllib.parse.urlsplit(url)
        assert _url.hostname(netloc) == parsed.hostname
        assert _outcome(_url.port, netloc) == _outcome(lambda: parsed.port)


@settings(max_examples=3000)
@given(URLS)
@example("%41%42%e2%82%ac%")
@example("%+f% f%0g%F0%9F%98%80")
@example("caf%C3%A9%ff")
def test_unquote_is_urllib_s(text: str) -> None:
    assert _url.unquote(text) == urllib.parse.unquote(text)


@pytest.mark.parametrize(
    ("url", "loads"),
    [
        ("https://collect.example.net/upload?d=%41&x=1#f", False),
        ("http://[::1]/", True),
        ("\thttp://x/", True),
    ],
)
def test_only_an_unusual_url_loads_urllib_parse(url: str, loads: bool) -> None:
    code = (
        f"import sys; sys.path[:0] = {sys.path!r}\n"
        "from ramparts import _url\n"
        f"s = _url.split({url!r}); _url.hostname(s[1]); _url.port(s[1]); [_url.unquote(p) for p in s]\n"
        "print('urllib.parse' in sys.modules, 're' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == [str(loads), str(loads)]

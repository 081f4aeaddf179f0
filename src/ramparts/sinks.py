"""Sinks, as data: where the data of a tool call goes when it leaves this machine.

Pure (no I/O): the engine, the hook and the gateway ask the same questions here.

- :func:`sinks_for` classifies a normalised call: an MCP tool (unless the policy marks its server
  local), WebFetch and WebSearch, a shell command with network targets (hosts the shell analysis
  found, ``ssh host 'cmd'``, inline interpreter code that opens sockets, a command that cannot be
  analysed), a git operation that publishes (``push``, remote changes) and a write into a path the
  policy lists as synced out.
- :func:`outbound_text` and :func:`decoded_views` give the text the detectors scan: every string of the
  tool input, and the same after URL decoding, JSON unescaping and base64 decoding of URL parameters.
- :func:`tool_is_sink` and :func:`placeholder_travels` answer the gateway, which sees only a tool's name
  and a placeholder's label before the input is complete.
"""

from __future__ import annotations

from ._recache import compile as re_compile
from ._tuples import NamedTuple
from .policy.rules import parse_rule, path_matches

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Literal

    from .model import Event, ToolCall
    from .policy.types import OutboundSettings, Policy

    SinkKind = Literal["mcp", "web", "network", "git", "sync"]


class Sink(NamedTuple):
    kind: SinkKind
    target: str
    """Where, for people: ``MCP server 'chat'``, ``WebFetch to example.com``, ``git push``."""


WEB_TOOLS = frozenset({"WebFetch", "WebSearch"})
PLACEHOLDER_PATTERN = r"\[\[RAMPARTS:([A-Z][A-Z0-9_]{0,31}):([0-9a-f]{8,32})\]\]"
"""The gateway's placeholder shape (``ramparts.gateway.vault.PLACEHOLDER``; a test keeps them equal).

Patterns are kept as text and compiled on first use (``re`` caches them): a call with no sink pays
for none of them on the hook's hot path."""
PII_LABELS = frozenset({"EMAIL", "PHONE", "US_SSN", "PAYMENT_CARD", "IBAN", "IP_ADDRESS"})
"""Placeholder labels of the built-in personal-data detectors (``pii-email`` → ``EMAIL``); custom
entities are ``CUSTOM_…``; every other label is a secret's."""
NETWORK_CODE = (
    r"\b(?:socket|urllib\d?|urlopen|requests|httpx|aiohttp|http\.client|httplib|smtplib|ftplib|telnetlib|"
    r"paramiko|boto3|fetch|XMLHttpRequest|WebSocket|Net::HTTP|LWP|HTTP::Tiny|IO::Socket|open-uri|"
    r"fsockopen|curl_exec|curl_init|net/http|Invoke-WebRequest|Invoke-RestMethod|WebClient)\b|"
    r"https?://|/dev/(?:tcp|udp)/"
)
"""Inline interpreter code that may open a connection (Python, Node, Perl, Ruby, PHP, PowerShell)."""
GIT_PUBLISH = frozenset({"push", "send-email", "request-pull", "svn", "p4"})
GIT_REMOTE_CHANGES = frozenset({"add", "set-url", "rename"})


def mcp_server_of(name: str, server_hint: str = "") -> str:
    rest = name[len("mcp__") :]
    if server_hint and rest.startswith(server_hint + "__"):
        return server_hint
    return rest.partition("__")[0]


def tool_is_sink(outbound: OutboundSettings, tool_name: str, server_hint: str = "") -> bool:
    """Whether the tool sends its input out by its very nature (an MCP tool of a server not marked
    local, WebFetch, WebSearch); shell, git and synced writes depend on the input (:func:`sinks_for`)."""
    if tool_name in WEB_TOOLS:
        return True
    return tool_name.startswith("mcp__") and mcp_server_of(tool_name, server_hint) not in outbound.local_mcp


def sinks_for(policy: Policy, call: ToolCall, event: Event) -> tuple[Sink, ...]:
    """Every place the call's data goes that is not this machine (empty: it stays here)."""
    outbound = policy.dlp.outbound
    out: list[Sink] = []
    if call.name.startswith("mcp__"):
        server = mcp_server_of(call.name, event.mcp_server)
        if server not in outbound.local_mcp:
            out.append(Sink("mcp", f"MCP server {server!r} ({call.name})"))
    elif call.name in WEB_TOOLS:
        out.append(Sink("web", f"{call.name} to {_web_target(call)}"))
    if call.hosts:
        out.append(Sink("network", "hosts " + ", ".join(call.hosts)))
    network = re_compile(NETWORK_CODE)
    if any(network.search(c.code) for c in call.code):
        runs = ", ".join(dict.fromkeys(c.interpreter for c in call.code if network.search(c.code)))
        out.append(Sink("network", f"inline {runs} code that may open connections"))
    if call.opaque:
        out.append(Sink("network", "a command Ramparts cannot analyse (it may send anywhere)"))
    for command in call.commands:
        why = _git_publishes(command.argv)
        if why:
            out.append(Sink("git", why))
    if outbound.sync_paths:
        rules = [parse_rule(f"Edit({p})", list_="ask") for p in outbound.sync_paths]
        for access in call.accesses:
            if access.mode == "write" and any(
                path_matches(r, access.path, event.cwd, event.home) for r in rules
            ):
                out.append(Sink("sync", f"synced path {access.path}"))
    return tuple(dict.fromkeys(out))


def describe(sinks: tuple[Sink, ...]) -> str:
    return "; ".join(s.target for s in sinks)


def _web_target(call: ToolCall) -> str:
    from .controls import url_host

    if call.name == "WebFetch":
        return url_host(call.input.get("url")) or "an unreadable URL"
    return "the search provider"


def _git_publishes(argv: tuple[str, ...]) -> str:
    if not argv or argv[0].rsplit("/", 1)[-1] != "git":
        return ""
    words = [w for w in argv[1:] if not w.startswith("-")]
    if not words:
        return ""
    if words[0] in GIT_PUBLISH:
        return f"git {words[0]}"
    if words[0] == "remote" and len(words) > 1 and words[1] in GIT_REMOTE_CHANGES:
        return f"git remote {words[1]}"
    return ""


# -- what is scanned -----------------------------------------------------------------------------------


def outbound_text(value: object) -> str:
    """Every string in a tool input (keys of objects too), one per line."""
    parts: list[str] = []

    def walk(item: object) -> None:
        if isinstance(item, str):
            parts.append(item)
        elif isinstance(item, dict):
            for k, v in item.items():
                parts.append(str(k))
                walk(v)
        elif isinstance(item, (list, tuple)):
            for v in item:
                walk(v)

    walk(value)
    return "\n".join(parts)


_PERCENT = r"%[0-9A-Fa-f]{2}"
_JSON_ESCAPE = r"\\(?:u[0-9A-Fa-f]{4}|[\"\\/bfnrt])"
_URL = r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>`]+"
_B64 = r"[A-Za-z0-9+/_-]{12,}={0,2}"
MAX_VIEWS = 64


def decoded_views(text: str) -> list[str]:
    """``text`` and what it says once decoded: URL (percent) encoding, JSON string escapes, and base64
    values of URL query parameters and path segments. Each decoding is applied to the other views too,
    so ``%5Cu0041`` and base64 inside a percent-encoded URL are seen."""
    views = [text]
    seen = {text}

    def add(view: str) -> None:
        if view not in seen and len(views) < MAX_VIEWS:
            seen.add(view)
            views.append(view)

    for view in list(views):
        if "%" in view and re_compile(_PERCENT).search(view):
            from urllib.parse import unquote_plus

            add(unquote_plus(view))
    for view in list(views):
        if "\\" in view and re_compile(_JSON_ESCAPE).search(view):
            add(_json_unescape(view))
    for view in list(views):
        for url in re_compile(_URL).findall(view):
            for value in _url_values(url):
                decoded = _base64(value)
                if decoded:
                    add(decoded)
    return views


def _json_unescape(text: str) -> str:
    simple = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

    def one(m: re.Match[str]) -> str:
        body = m.group(0)[1:]
        if body[0] == "u":
            return chr(int(body[1:], 16))
        return simple[body]

    return re_compile(_JSON_ESCAPE).sub(one, text)


def _url_values(url: str) -> list[str]:
    from ._url import split, unquote  # urllib.parse's, without its import (40 M instructions)

    try:
        _scheme, _netloc, path, query, fragment = split(url)
    except ValueError:
        return []
    values = [unquote(s) for s in path.split("/") if s]
    for pair in (query + "&" + fragment).split("&"):
        _name, _eq, value = pair.partition("=")
        if value:
            values.append(unquote(value))
    return values


def _base64(value: str) -> str:
    """The text a base64 (standard or URL-safe) value stands for, '' when it is not printable text."""
    import binascii  # C; base64.b64decode(validate=True) is this call (3.11+) after importing struct

    if not re_compile(_B64).fullmatch(value):
        return ""
    body = value.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = binascii.a2b_base64(
            padded.replace("-", "+").replace("_", "/").encode("ascii"), strict_mode=True
        )
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return ""
    return text if text.isprintable() or all(c.isprintable() or c in "\n\r\t" for c in text) else ""


# -- placeholders --------------------------------------------------------------------------------------


def placeholder_labels(text: str) -> list[str]:
    """Labels of the gateway placeholders in ``text``, in order, once each."""
    if "[[RAMPARTS:" not in text:
        return []
    return list(dict.fromkeys(m.group(1) for m in re_compile(PLACEHOLDER_PATTERN).finditer(text)))


def label_category(label: str) -> tuple[str, str]:
    """(category, detector id) a placeholder label stands for; a label it does not know is a secret."""
    if label in PII_LABELS:
        return "pii", "pii-" + label.lower().replace("_", "-")
    if label.startswith("CUSTOM_"):
        return "pii", "pii-" + label.lower().replace("_", "-")
    return "secret", label.lower().replace("_", "-")


def placeholder_travels(outbound: OutboundSettings, label: str) -> bool:
    """Whether the gateway may restore a placeholder of this label into a sink's input: never a secret
    (the hook would deny it; only it knows exceptions by fingerprint), personal data only when the
    policy lets that entity travel."""
    category, detector = label_category(label)
    return category == "pii" and outbound.pii_action(detector) == "allow"

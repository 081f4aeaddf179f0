"""An alert as ArcSight Common Event Format (CEF 0) inside an RFC 5424 syslog message. Pure: no I/O.

``CEF:0|Ramparts|Ramparts Control Plane|<version>|<rule>|<title>|<severity>|<extension>``

Escaping follows the CEF rules: in the header ``\\`` and ``|`` take a backslash, and a header holds no
line break (it becomes a space); in the extension ``\\`` and ``=`` take a backslash and line breaks are
written ``\\n`` / ``\\r`` (``|`` stays as is). Any other control or bidi character, in either part, is
written visibly as ``<U+XXXX>``, so a value can neither end the message nor forge a key or a field.

Extension keys (CEF's dictionary): ``rt`` (ms since the epoch), ``externalId`` (the alert's id), ``cat``
(the rule), ``msg``, ``shost``, ``suser``, ``act`` (the response: ``kill`` or ``alert``), and the custom
strings ``cs1`` (session) and ``cs2`` (the host's log id) with their labels.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from .store.model import Alert

VENDOR, PRODUCT = "Ramparts", "Ramparts Control Plane"
SEVERITY = {"high": 8, "medium": 5, "low": 3}
SYSLOG_SEVERITY = {"high": 2, "medium": 4, "low": 5}  # critical, warning, notice
_UNSAFE = re.compile(
    "[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_KEY = re.compile(r"^[A-Za-z0-9]+$")


def _visible(value: str) -> str:
    return _UNSAFE.sub(lambda m: f"<U+{ord(m.group(0)):04X}>", value)


def header_value(value: str, limit: int = 1023) -> str:
    """A CEF header field: ``\\`` and ``|`` escaped, line breaks as spaces, other controls visible."""
    text = _visible(value.replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
    return text[:limit].replace("\\", "\\\\").replace("|", "\\|")


def extension_value(value: str, limit: int = 4000) -> str:
    """A CEF extension value: ``\\`` and ``=`` escaped, line breaks as ``\\n``/``\\r``, controls visible."""
    text = _visible(value[:limit]).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


def extension(pairs: Iterable[tuple[str, str]]) -> str:
    out = []
    for key, value in pairs:
        if not _KEY.match(key):
            raise ValueError(f"a CEF extension key is alphanumeric: {key!r}")
        if value:
            out.append(f"{key}={extension_value(value)}")
    return " ".join(out)


def cef(alert: Alert, version: str) -> str:
    title = f"{alert.severity} alert: {alert.rule}"
    head = "|".join(
        [
            "CEF:0",
            header_value(VENDOR),
            header_value(PRODUCT),
            header_value(version),
            header_value(alert.rule),
            header_value(title, 512),
            str(SEVERITY.get(alert.severity, 3)),
        ]
    )
    ext = extension(
        [
            ("rt", str(int(alert.at * 1000))),
            ("externalId", str(alert.id)),
            ("cat", alert.rule),
            ("msg", alert.message),
            ("shost", alert.host),
            ("suser", alert.user),
            ("act", alert.response or "alert"),
            ("cs1Label", "session" if alert.session else ""),
            ("cs1", alert.session),
            ("cs2Label", "logId" if alert.log_id else ""),
            ("cs2", alert.log_id),
        ]
    )
    return f"{head}|{ext}"


def _printable(value: str, limit: int) -> str:
    return "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit] or "-"


def syslog_message(
    alert: Alert, *, version: str, hostname: str, facility: int = 13, app_name: str = "ramparts-alerts"
) -> bytes:
    """RFC 5424: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID - MSG`` with the CEF text as MSG (UTF-8 with
    a BOM when it is not plain ASCII, as §6.4 asks)."""
    pri = facility * 8 + SYSLOG_SEVERITY.get(alert.severity, 5)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(alert.at)) + f".{int(alert.at * 1000) % 1000:03d}Z"
    head = f"<{pri}>1 {stamp} {_printable(hostname, 255)} {_printable(app_name, 48)} - alert - "
    text = cef(alert, version)
    body = text.encode("utf-8")
    if not text.isascii():
        body = b"\xef\xbb\xbf" + body
    return head.encode("ascii") + body

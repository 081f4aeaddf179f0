"""Syslog (RFC 5424) over UDP (RFC 5426), TCP with octet counting (RFC 6587 §3.4.1) or TLS (RFC 5425).

Each item is one message::

    <109>1 2026-05-01T12:00:00Z host ramparts - record [ramparts@32473 log_id="l" seq="42" kind="record"] {...}

MSG is the record's JSON with every character outside printable ASCII written as a JSON ``\\uXXXX``
escape (record bodies are canonical JSON, so this only touches string contents and the value is
unchanged); a checkpoint's MSG is ``{"checkpoint":"<note>"}``. So MSG is printable ASCII: no CR,
LF, ANSI escape or bidi control can break framing or forge a line, and no BOM is needed.
SD PARAM-VALUEs escape ``"``, ``\\`` and ``]`` with a backslash (RFC 5424 §6.3.3).

TCP and TLS hand messages to the kernel; syslog has no application acknowledgement, so delivery
is only as sure as the connection (a send error retries the whole batch).
"""

from __future__ import annotations

import json
import re
import select
import socket
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

from ..render import escape
from ..ship import PermanentSinkError, ShipItem, TransientSinkError

_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_NON_ASCII = re.compile(r"[^\x20-\x7e]")
_SD_ID = re.compile(r"^[!#-<>-\\^-~]{1,32}$")  # PRINTUSASCII except '=', ']', '"'; max 32
SEVERITY = {"record": 6, "checkpoint": 5}  # informational, notice


def _printable(value: str, limit: int) -> str:
    out = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return out or "-"


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def ascii_json(text: str) -> str:
    """JSON text with every non-printable-ASCII character as a JSON escape (value unchanged)."""
    return _NON_ASCII.sub(lambda m: _json_escape(m.group(0)), text)


def param_value(value: str) -> str:
    """RFC 5424 §6.3.3 PARAM-VALUE escaping, after control and bidi characters are made visible."""
    return escape(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def timestamp(value: str) -> str:
    match = _TIME.match(value)
    if not match:
        return "-"
    frac = (match.group(2) or "")[:7]  # at most six digits after the dot
    return match.group(1) + frac + match.group(3)


def format_message(
    item: ShipItem,
    *,
    facility: int = 13,
    hostname: str = "-",
    app_name: str = "ramparts",
    sd_id: str = "ramparts@32473",
) -> bytes:
    pri = facility * 8 + SEVERITY[item.kind]
    sd = f'[{sd_id} log_id="{param_value(item.log_id)}" seq="{item.seq}" kind="{item.kind}"]'
    if item.kind == "record":
        msg = ascii_json(item.body.decode("utf-8"))
    else:
        msg = json.dumps({"checkpoint": item.body.decode("utf-8")}, ensure_ascii=True)
    header = f"<{pri}>1 {timestamp(item.time)} {_printable(hostname, 255)} {_printable(app_name, 48)} - {item.kind}"
    return f"{header} {sd} {msg}".encode("ascii")


def frame(message: bytes) -> bytes:
    """RFC 6587 §3.4.1 octet counting: ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(message)).encode("ascii") + b" " + message


class SyslogSink:
    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        transport: str = "tcp",
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
        server_name: str | None = None,
        facility: int = 13,
        hostname: str | None = None,
        app_name: str = "ramparts",
        sd_id: str = "ramparts@32473",
        max_udp_bytes: int = 8192,
    ) -> None:
        if not _SD_ID.match(sd_id):
            raise PermanentSinkError(f"sink {name}: sd_id {sd_id!r} is not a valid SD-ID")
        self.name = name
        self.host, self.port, self.transport, self.timeout = host, port, transport, timeout
        self.context = context
        self.server_name = server_name or host
        self.fmt: dict[str, Any] = {
            "facility": facility,
            "hostname": hostname or socket.gethostname(),
            "app_name": app_name,
            "sd_id": sd_id,
        }
        self.max_udp_bytes = max_udp_bytes
        self._sock: socket.socket | None = None

    @classmethod
    def from_options(cls, name: str, o: Mapping[str, Any]) -> SyslogSink:
        transport = o.get("transport", "tcp")
        context = None
        if transport == "tls":
            context = ssl.create_default_context(cafile=o.get("ca_file") or None)
            if o.get("cert_file"):
                context.load_cert_chain(o["cert_file"], o.get("key_file") or None)
            if o.get("unsafe_tls_no_verify"):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        return cls(
            name,
            o["host"],
            int(o.get("port", 6514 if transport == "tls" else 514)),
            transport=transport,
            timeout=float(o.get("timeout_seconds", 10)),
            context=context,
            server_name=o.get("server_name") or None,
            facility=int(o.get("facility", 13)),
            hostname=o.get("hostname") or None,
            app_name=o.get("app_name") or "ramparts",
            sd_id=o.get("sd_id") or "ramparts@32473",
            max_udp_bytes=int(o.get("max_udp_bytes", 8192)),
        )

    def _connect(self) -> socket.socket:
        if self._sock is not None and self.transport != "udp":
            # a syslog server never writes to us: a readable socket means it closed the connection,
            # and writing into a dead one would "succeed" and lose the batch
            readable, _, _ = select.select([self._sock], [], [], 0)
            if readable:
                self.close()
        if self._sock is not None:
            return self._sock
        if self.transport == "udp":
            info = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(info[0], socket.SOCK_DGRAM)
            sock.settimeout(self.timeout)
            sock.connect(info[4])
        else:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            if self.context is not None:
                try:
                    sock = self.context.wrap_socket(sock, server_hostname=self.server_name)
                except BaseException:
                    sock.close()
                    raise
        self._sock = sock
        return sock

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        self.send_messages([format_message(item, **self.fmt) for item in items])
        return []

    def send_messages(self, messages: Sequence[bytes]) -> None:
        """Send formatted SYSLOG-MSGs (framed here for TCP and TLS); the control plane's CEF alerts use it."""
        try:
            sock = self._connect()
            if self.transport == "udp":
                for message in messages:
                    sock.send(message[: self.max_udp_bytes])  # UDP is lossy by nature; documented
            else:
                sock.sendall(b"".join(frame(m) for m in messages))
        except ssl.SSLCertVerificationError as exc:
            self.close()
            raise TransientSinkError(
                f"sink {self.name}: TLS certificate not trusted: {exc.verify_message}"
            ) from exc
        except OSError as exc:
            self.close()
            raise TransientSinkError(
                f"sink {self.name}: syslog {self.transport} to {self.host}:{self.port}: "
                f"{type(exc).__name__}: {exc.strerror or exc}"
            ) from exc

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

"""The gateway's HTTP front: limits on what a client may send before a request reaches a handler.

aiohttp parses the request head; this module bounds it and answers every refusal in Anthropic's error
format (Claude Code shows ``error.message``), closing the connection:

- **head deadline**: the whole head (request line and headers) must arrive within ``head_timeout``
  seconds of its first byte, else ``408`` (a slowloris client cannot hold a connection open by
  trickling a header a byte at a time; an idle keep-alive connection is closed by aiohttp's
  ``keepalive_timeout``);
- **head size and count**: more than ``max_head_bytes`` before the head is complete, more than
  ``max_headers`` fields, or one line over ``max_field_size`` gives ``431``;
- **framing**: ``Content-Length`` together with ``Transfer-Encoding``, two different lengths, or a
  transfer coding other than ``chunked`` last gives ``400`` (aiohttp's parser refuses them; this module
  makes the answer JSON and keeps the offending bytes out of the log: a header line can hold a key).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger("ramparts.gateway")


@dataclass(frozen=True)
class FrontLimits:
    head_timeout: float = 10.0
    """Seconds from the first byte of a request head to its end."""
    max_head_bytes: int = 64 * 1024
    """Bytes of request line and headers together."""
    max_headers: int = 100
    max_field_size: int = 16 * 1024
    """Bytes of one header line (and of the request line)."""
    keepalive_timeout: float = 75.0
    """An idle keep-alive connection is closed after this many seconds."""
    lingering_time: float = 2.0
    """After an early refusal, the rest of an unread body is drained (and dropped) this long at most."""

    def __post_init__(self) -> None:
        if self.head_timeout <= 0 or self.keepalive_timeout <= 0:
            raise ValueError("head_timeout and keepalive_timeout must be positive")
        if self.max_headers < 8 or self.max_field_size < 1024 or self.max_head_bytes < self.max_field_size:
            raise ValueError(
                "head limits too small (max_headers >= 8, 1024 <= max_field_size <= max_head_bytes)"
            )

    def handler_args(self) -> dict[str, Any]:
        """Keyword arguments of aiohttp's request handler."""
        return {
            "max_headers": self.max_headers,
            "max_field_size": self.max_field_size,
            "max_line_size": self.max_field_size,
            "keepalive_timeout": self.keepalive_timeout,
            "lingering_time": self.lingering_time,
        }


_REASONS = {400: "Bad Request", 408: "Request Timeout", 431: "Request Header Fields Too Large"}


def error_bytes(status: int, kind: str, message: str) -> bytes:
    """A whole HTTP/1.1 error response (Anthropic's JSON format) that closes the connection."""
    body = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def classify(exc: BaseException | None) -> tuple[int, str]:
    """Status and message for a request the parser refused (never quoting the request's bytes)."""
    if isinstance(exc, LineTooLong):
        return 431, "a request line or header field is too long"
    if isinstance(exc, BadHttpMessage):
        text = exc.message if isinstance(exc.message, str) else ""
        if "Too many headers" in text:
            return 431, "too many header fields"
        lowered = text.lower()
        if "content-length" in lowered or "transfer-encoding" in lowered:
            return 400, "conflicting or invalid Content-Length / Transfer-Encoding"
        return 400, "malformed HTTP request"
    return 400, "malformed HTTP request"


def _head_part(tail: bytes, data: bytes, started: bool) -> tuple[int, bool]:
    """How many bytes of ``data`` belong to a request head still arriving, and whether its request
    line has started. ``tail``: the last bytes received before ``data``; ``started``: a byte other than
    CR or LF came before. The head runs to the blank line that ends it (CRLF CRLF, or LF LF, which the
    parser also takes); the empty lines the parser skips before a request line are head too, but do
    not end it. A body that arrives in the same read as its head (a large request written at once)
    is not head."""
    skipped = 0
    if not started:
        rest = data.lstrip(b"\r\n")
        if not rest:
            return len(data), False
        skipped, data, tail = len(data) - len(rest), rest, b""
    joined = tail + data
    ends = [i + n for i, n in ((joined.find(b"\r\n\r\n"), 4), (joined.find(b"\n\n"), 2)) if i >= 0]
    if not ends:
        return skipped + len(data), True
    return skipped + max(0, min(ends) - len(tail)), True


class GatewayProtocol(RequestHandler):
    """aiohttp's request handler with a head deadline and a head byte limit."""

    __slots__ = ("_front", "_handled", "_head_bytes", "_head_started", "_head_tail", "_head_timer")

    def __init__(self, manager: web.Server, *, front: FrontLimits, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._front = front
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._handled = 0
        self._head_started = False
        self._head_tail = b""
        """The last bytes of the head so far (its end may be cut across two reads)."""

    def _awaiting_head(self) -> bool:
        # every head parsed so far has had its handler run (aiohttp counts the heads): the bytes of a
        # body still arriving before its handler starts are not head
        return self._handled == self._request_count and not (
            self._messages or self._request_in_progress or self._payload_parser is not None
        )

    async def _handle_request(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._handle_request(*args, **kwargs)
        finally:
            self._handled += 1

    def data_received(self, data: bytes) -> None:
        if self._force_close or self._close:
            return
        if data and self._awaiting_head():
            if self._head_timer is None:
                self._head_timer = self._loop.call_later(self._front.head_timeout, self._head_expired)
            part, self._head_started = _head_part(self._head_tail, data, self._head_started)
            self._head_tail = (self._head_tail + data)[-3:]
            if not self._count_head(part):
                return
            super().data_received(data)
            # the parser still wants a head: what looked like its end was not (the blank lines the
            # parser skips before a request line), and all of the read was head
            if part < len(data) and self._awaiting_head() and not self._count_head(len(data) - part):
                return
        else:
            super().data_received(data)
        if self._head_timer is not None and not self._awaiting_head():
            self._head_timer.cancel()
            self._head_timer, self._head_bytes, self._head_tail = None, 0, b""
            self._head_started = False

    def _count_head(self, n: int) -> bool:
        self._head_bytes += n
        if self._head_bytes > self._front.max_head_bytes:
            self._refuse(431, f"the request head exceeds {self._front.max_head_bytes} bytes")
            return False
        return True

    def _head_expired(self) -> None:
        self._head_timer = None
        if self._awaiting_head():
            self._refuse(408, f"the request head did not arrive within {self._front.head_timeout:g} s")

    def _refuse(self, status: int, message: str) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        log.info("gateway: refused a request head (%s): %s", status, message)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            kind = "timeout_error" if status == 408 else "invalid_request_error"
            transport.write(error_bytes(status, kind, "Ramparts gateway: " + message))
        self.force_close()
        if transport is not None:
            transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("the response is under way; cannot send an error")
        if status == 400 or isinstance(exc, BadHttpMessage):
            status, text = classify(exc)
            log.info("gateway: refused a request (%s): %s", status, text)
            kind = "invalid_request_error"
        elif status == 504:
            kind, text = "timeout_error", "the request timed out"
        else:
            log.error("gateway: internal error (%s)", type(exc).__name__ if exc else "unknown")
            status, kind, text = 500, "api_error", "internal error"
        response = web.json_response(
            {"type": "error", "error": {"type": kind, "message": "Ramparts gateway: " + text}}, status=status
        )
        response.force_close()
        return response


class _FrontServer(web.Server):
    front: FrontLimits

    def __call__(self) -> RequestHandler:
        return GatewayProtocol(self, front=self.front, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An ``AppRunner`` whose connections use :class:`GatewayProtocol`."""

    def __init__(self, app: web.Application, front: FrontLimits, **kwargs: Any) -> None:
        super().__init__(app, **front.handler_args(), **kwargs)
        self._front = front

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _FrontServer  # same layout: only the protocol factory differs
        front_server = cast(_FrontServer, server)
        front_server.front = self._front
        return front_server

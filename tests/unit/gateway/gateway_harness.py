"""A fake upstream and a gateway in one event loop, for the server's async tests (no pytest plugin:
each test runs its own ``asyncio.run``)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from ramparts.gateway.config import GatewayConfig
from ramparts.gateway.server import Gateway

Handler = Callable[[web.Request, "Upstream"], Awaitable[web.StreamResponse]]


def sse(kind: str, obj: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


def message_events(text: str = "", tool_input: str | None = None, chunk: int = 7) -> list[bytes]:
    """A Messages stream: a text block and/or a Write call whose input JSON is cut into ``chunk`` pieces."""
    out = [
        sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "usage": {"input_tokens": 100, "output_tokens": 1},
                },
            },
        ),
        b'event: ping\ndata: {"type":"ping"}\n\n',
    ]
    index = 0
    if text:
        out.append(
            sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        for i in range(0, len(text), chunk):
            delta = {"type": "text_delta", "text": text[i : i + chunk]}
            out.append(
                sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        index = 1
    if tool_input is not None:
        block = {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}
        out.append(
            sse(
                "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
            )
        )
        for i in range(0, len(tool_input), chunk):
            delta = {"type": "input_json_delta", "partial_json": tool_input[i : i + chunk]}
            out.append(
                sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            )
        out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    out += [
        sse(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 50}},
        ),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return out


async def stream_handler(request: web.Request, upstream: Upstream) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "request-id": "req_up_1"})
    await response.prepare(request)
    for event in upstream.events:
        await response.write(event)
        if upstream.interval:
            await asyncio.sleep(upstream.interval)
    await response.write_eof()
    return response


@dataclass
class Recorded:
    method: str
    path_qs: str
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw else None


@dataclass
class Upstream:
    """Records each request, then answers with ``handler`` (default: stream ``events``)."""

    handler: Handler = stream_handler
    events: list[bytes] = field(default_factory=lambda: message_events("hello"))
    interval: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    cancelled_at: float | None = None
    url: str = ""

    def text(self) -> str:
        return "\n".join(r.raw.decode("utf-8", "replace") for r in self.requests)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.requests.append(Recorded(request.method, request.path_qs, dict(request.headers), raw))
        try:
            return await self.handler(request, self)
        except asyncio.CancelledError:
            self.cancelled_at = time.monotonic()
            raise


@asynccontextmanager
async def running(
    tmp_path: Path,
    upstream: Upstream | None = None,
    *,
    state: Path | None = None,
    gateway_kwargs: dict[str, Any] | None = None,
    **config: Any,
) -> AsyncIterator[tuple[Gateway, str, Upstream, str]]:
    """(gateway, its URL, the upstream, a client token for user ``alice``)."""
    upstream = upstream or Upstream()
    up_app = web.Application()
    up_app.router.add_route("*", "/{tail:.*}", upstream._dispatch)
    up_runner = web.AppRunner(up_app, handler_cancellation=True, access_log=None)
    await up_runner.setup()
    up_site = web.TCPSite(up_runner, "127.0.0.1", 0)
    await up_site.start()
    upstream.url = f"http://127.0.0.1:{_port(up_site)}"
    config.setdefault("upstream_key", "sk-upstream-secret-key")
    config.setdefault("scan_workers", 0)  # in-process scanning; the pool has its own tests
    cfg = GatewayConfig(upstream=upstream.url, state_dir=str(state or tmp_path / "state"), **config)
    gateway = Gateway(cfg, **(gateway_kwargs or {}))
    token = gateway.tokens.create("alice")
    runner = gateway.runner()
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield gateway, f"http://127.0.0.1:{_port(site)}", upstream, token
    finally:
        await runner.cleanup()
        await up_runner.cleanup()


def _port(site: web.TCPSite) -> int:
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None)
    assert sockets
    port: int = sockets[0].getsockname()[1]
    return port


def headers(token: str, **extra: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
        "content-type": "application/json",
        "X-Claude-Code-Session-Id": "3f1c0d2e-aaaa-bbbb-cccc-000000000001",
        **extra,
    }


async def post(
    url: str, body: Any, hdrs: dict[str, str], path: str = "/v1/messages?beta=true"
) -> tuple[int, CIMultiDict[str], bytes]:
    async with (
        aiohttp.ClientSession() as client,
        client.post(url + path, data=json.dumps(body).encode(), headers=hdrs) as response,
    ):
        return response.status, CIMultiDict(response.headers), await response.read()


def events_of(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for block in raw.decode().split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
    return out


def tool_input(raw: bytes) -> Any:
    parts = [
        e["delta"]["partial_json"]
        for e in events_of(raw)
        if e.get("type") == "content_block_delta" and e["delta"].get("type") == "input_json_delta"
    ]
    return json.loads("".join(parts))


def text_of(raw: bytes) -> str:
    return "".join(
        e["delta"]["text"]
        for e in events_of(raw)
        if e.get("type") == "content_block_delta" and e["delta"].get("type") == "text_delta"
    )

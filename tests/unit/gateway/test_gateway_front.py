"""The gateway's HTTP front (issue 7, item 9): head deadline, head size and count limits (431),
Content-Length / Transfer-Encoding conflicts (400), body deadline (408), all answered in Anthropic's
error format without quoting the request's bytes; and bounded memory for a stream whose client stops
reading."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from ramparts.gateway.front import FrontLimits, classify
from tests.unit.gateway.gateway_harness import Upstream, events_of, headers, message_events, running, sse

SECRET_HEADER = "sk-ant-api03-" + "Q" * 20000  # a header line that could carry a key


def body() -> bytes:
    return json.dumps(
        {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()


async def raw_exchange(url: str, parts: list[bytes], pause: float = 0.0, wait: float = 5.0) -> bytes:
    """Send ``parts`` on one connection (``pause`` seconds apart) and read until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()


def parse(response: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, rest = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return status, fields, json.loads(rest) if rest else None


def request_head(token: str, *extra: str, length: int | None = None) -> bytes:
    lines = [
        "POST /v1/messages HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        "anthropic-version: 2023-06-01",
        "Content-Type: application/json",
        *extra,
    ]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_error(response: bytes, status: int, kind: str) -> dict[str, Any]:
    got, fields, payload = parse(response)
    assert got == status, response[:300]
    assert fields["content-type"].startswith("application/json")
    # raw_exchange returned, so the server closed the connection
    assert payload["type"] == "error" and payload["error"]["type"] == kind
    assert payload["error"]["message"].startswith("Ramparts gateway: ")
    return dict(payload["error"])


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ([f"X-Api-Key: {SECRET_HEADER}"], "too long"),
        ([f"X-Filler-{i}: {i}" for i in range(120)], "too many"),
    ],
    ids=["long-field", "many-fields"],
)
def test_oversized_heads_get_431_in_anthropic_format_and_are_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: list[str], what: str
) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (_gateway, url, up, token):
            with caplog.at_level(logging.DEBUG):
                response = await raw_exchange(url, [request_head(token, *extra, length=len(body())) + body()])
            error = assert_error(response, 431, "invalid_request_error")
            assert what in error["message"]
            assert up.requests == []
        assert "QQQQQQQQ" not in caplog.text  # the offending bytes stay out of the log

    asyncio.run(scenario())


def test_a_head_over_the_byte_limit_gets_431_even_with_legal_fields(tmp_path: Path) -> None:
    front = FrontLimits(max_head_bytes=16 * 1024, max_field_size=4096, max_headers=100)

    async def scenario() -> None:
        async with running(tmp_path, front=front) as (_gateway, url, up, token):
            fields = [f"X-Filler-{i}: {'v' * 3000}" for i in range(8)]  # each legal, 24 KB together
            response = await raw_exchange(url, [request_head(token, *fields, length=len(body())) + body()])
            error = assert_error(response, 431, "invalid_request_error")
            assert "16384 bytes" in error["message"]
            assert up.requests == []

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "framing",
    [
        ["Content-Length: 10", "Transfer-Encoding: chunked"],
        ["Transfer-Encoding: chunked", "Content-Length: 10"],
        ["Content-Length: 10", "Content-Length: 11"],
        ["Transfer-Encoding: identity", "Content-Length: 10"],
        ["Transfer-Encoding: chunked, identity"],
    ],
    ids=["cl-te", "te-cl", "two-lengths", "te-identity", "chunked-not-last"],
)
def test_conflicting_framing_gets_400_and_nothing_goes_upstream(tmp_path: Path, framing: list[str]) -> None:
    async def scenario() -> None:
        async with running(tmp_path) as (_gateway, url, up, token):
            payload = b"5\r\nhello\r\n0\r\n\r\n"
            response = await raw_exchange(url, [request_head(token, *framing) + payload])
            error = assert_error(response, 400, "invalid_request_error")
            assert "Transfer-Encoding" in error["message"] or "malformed" in error["message"]
            assert up.requests == []

    asyncio.run(scenario())


def test_a_head_trickled_past_the_deadline_gets_408(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, front=FrontLimits(head_timeout=0.5)) as (_gateway, url, up, token):
            head = request_head(token, length=len(body()))
            started = time.monotonic()
            # the first half now, then silence: a slowloris client
            response = await raw_exchange(url, [head[:40]], wait=5)
            assert time.monotonic() - started < 3
            assert_error(response, 408, "timeout_error")
            assert up.requests == []

    asyncio.run(scenario())


def test_a_slow_but_timely_head_and_a_stream_longer_than_the_deadline_pass(tmp_path: Path) -> None:
    upstream = Upstream(events=message_events("hello world", chunk=2), interval=0.15)

    async def scenario() -> None:
        front = FrontLimits(head_timeout=0.6)
        async with running(tmp_path, upstream, front=front) as (_gateway, url, up, token):
            payload = json.loads(body())
            payload["stream"] = True
            data = json.dumps(payload).encode()
            head = request_head(token, "Connection: close", length=len(data))
            parts = [head[:30], head[30:60], head[60:] + data]
            started = time.monotonic()
            response = await raw_exchange(url, parts, pause=0.15, wait=15)
            assert time.monotonic() - started > 0.6  # the stream outlived the head deadline
            status, _fields, _ = parse(response.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
            assert status == 200
            assert b"message_stop" in response
            assert len(up.requests) == 1

    asyncio.run(scenario())


def test_keep_alive_requests_each_get_their_own_deadline(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            running(tmp_path, front=FrontLimits(head_timeout=0.4)) as (_gateway, url, _up, token),
            aiohttp.ClientSession() as client,
        ):
            for _ in range(3):  # one pooled connection, idle longer than the head deadline between
                async with client.get(url + "/healthz") as response:
                    assert response.status == 200
                await asyncio.sleep(0.6)
            async with client.post(url + "/v1/messages", data=body(), headers=headers(token)) as response:
                assert response.status == 200
                assert events_of(await response.read())[-1]["type"] == "message_stop"

    asyncio.run(scenario())


def test_a_body_slower_than_its_deadline_gets_408(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(tmp_path, body_timeout=0.5) as (gateway, url, up, token):
            data = body()
            response = await raw_exchange(url, [request_head(token, length=len(data)) + data[:10]], wait=5)
            assert_error(response, 408, "timeout_error")
            assert up.requests == []
            gateway.audit.flush()

    asyncio.run(scenario())


def test_memory_stays_bounded_when_the_client_stops_reading(tmp_path: Path) -> None:
    """30 MB of events from the upstream while the client reads nothing for a while: the gateway
    reads the upstream only as fast as it can write to the client (back-pressure), so Python-level
    allocations stay far below what passes through."""
    total = 30 * 1024 * 1024
    delta = sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x" * 4000}},
    )
    count = total // len(delta)

    async def handler(request: web.Request, up: Upstream) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in message_events("")[:2]:
            await response.write(event)
        await response.write(
            sse(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        for _ in range(count):
            await response.write(delta)  # waits while the gateway does not read
        await response.write(sse("message_stop", {"type": "message_stop"}))
        return response

    async def scenario() -> None:
        async with running(tmp_path, Upstream(handler=handler)) as (_gateway, url, _up, token):
            payload = json.loads(body())
            payload["stream"] = True
            tracemalloc.start()
            try:
                async with (
                    aiohttp.ClientSession() as client,
                    client.post(url + "/v1/messages", json=payload, headers=headers(token)) as response,
                ):
                    assert response.status == 200
                    await response.content.readany()
                    tracemalloc.reset_peak()
                    await asyncio.sleep(1.5)  # the client reads nothing
                    _now, peak_paused = tracemalloc.get_traced_memory()
                    received = 0
                    async for chunk in response.content.iter_chunked(1 << 16):
                        received += len(chunk)
                    _now, peak_all = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert received > total * 0.9
            assert peak_paused < 8 * 1024 * 1024, peak_paused
            assert peak_all < 12 * 1024 * 1024, peak_all

    asyncio.run(scenario())


def test_classify_never_quotes_the_request() -> None:
    status, text = classify(LineTooLong(b"X-Api-Key: sk-secret-value...", 8190))
    assert status == 431 and "sk-secret" not in text
    assert classify(BadHttpMessage("Too many headers received")) == (431, "too many header fields")
    status, text = classify(BadHttpMessage("Duplicate Content-Length: b'Content-Length: 4'"))
    assert status == 400 and "Content-Length: 4" not in text
    assert classify(None) == (400, "malformed HTTP request")


def test_front_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        FrontLimits(head_timeout=0)
    with pytest.raises(ValueError):
        FrontLimits(max_head_bytes=2048, max_field_size=4096)


@pytest.mark.parametrize("cut", [None, -2, 3], ids=["one-write", "cut-in-the-blank-line", "cut-after-it"])
def test_a_body_arriving_with_its_head_is_not_counted_as_head(tmp_path: Path, cut: int | None) -> None:
    """A large request written at once reaches the gateway in one read of head and body: only the head
    counts against ``max_head_bytes``, wherever the reads cut the blank line that ends it."""
    front = FrontLimits(max_head_bytes=16 * 1024, max_field_size=4096, max_headers=100)
    long_body = json.dumps(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "x" * 200_000}],
        }
    ).encode()

    async def scenario() -> None:
        async with running(tmp_path, front=front) as (_gateway, url, up, token):
            head = request_head(token, "Connection: close", length=len(long_body))
            data = head + long_body
            parts = [data] if cut is None else [data[: len(head) + cut], data[len(head) + cut :]]
            response = await raw_exchange(url, parts, pause=0.05)
            assert response.startswith(b"HTTP/1.1 200 "), response[:300]
            assert len(up.requests) == 1 and len(up.requests[0].raw) > 200_000

    asyncio.run(scenario())


def test_head_part_counts_the_head_only() -> None:
    from ramparts.gateway.front import _head_part

    head = b"GET / HTTP/1.1\r\nA: b\r\n\r\n"
    assert _head_part(b"", head + b"body", False) == (len(head), True)
    assert _head_part(b"", b"GET / HTTP/1.1\nA: b\n\nbody", False) == (len(b"GET / HTTP/1.1\nA: b\n\n"), True)
    assert _head_part(b"", b"GET / HTTP/1.1\r\nA: b", False) == (len(b"GET / HTTP/1.1\r\nA: b"), True)
    assert _head_part(b"b\r\n", b"\r\nbody", True) == (2, True)  # the blank line cut across two reads
    assert _head_part(b"\r\n\r", b"\nbody", True) == (1, True)
    # empty lines before the request line are skipped by the parser: head, but not its end
    assert _head_part(b"", b"\r\n\r\n" + head + b"body", False) == (4 + len(head), True)
    assert _head_part(b"", b"\r\n\n", False) == (3, False)
    assert _head_part(b"\r\n\n", b"\r\n" + head, False) == (2 + len(head), True)


@pytest.mark.parametrize("lead", [b"\r\n\r\n", b"\n\n", b"\r\n"])
def test_empty_lines_before_the_request_line_do_not_hide_a_long_head(tmp_path: Path, lead: bytes) -> None:
    front = FrontLimits(max_head_bytes=16 * 1024, max_field_size=4096, max_headers=100)

    async def scenario() -> None:
        async with running(tmp_path, front=front) as (_gateway, url, up, token):
            fields = [f"X-Filler-{i}: {'v' * 3000}" for i in range(8)]  # each legal, 24 KB together
            for parts in (
                [lead + request_head(token, *fields, length=len(body())) + body()],
                [lead, request_head(token, *fields, length=len(body())) + body()],
            ):
                response = await raw_exchange(url, parts, pause=0.05)
                assert_error(response, 431, "invalid_request_error")
            assert up.requests == []

    asyncio.run(scenario())

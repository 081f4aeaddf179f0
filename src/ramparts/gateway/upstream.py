"""The Bedrock upstream's I/O: AWS credentials, the signed request, and the answer turned into what the
Anthropic path would have produced (the same restore, stream guard, usage and audit record).

:class:`Gateway` routes a request here when ``config.bedrock`` maps its model (``BedrockUpstream.route``);
every other model goes to the Anthropic upstream as before. The pure parts live in :mod:`.bedrock`.

Credentials come from botocore's default chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/
``AWS_SESSION_TOKEN``, ``AWS_PROFILE`` and the shared files, SSO, container and instance metadata),
resolved on the first Bedrock request and read again per request with ``get_frozen_credentials()``, so
refreshable (temporary) credentials renew themselves. Never from the client: the client's gateway
token only authenticates the client. Neither the keys nor the session token are logged, recorded or
sent back; AWS error messages are cut and scrubbed before the client sees them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from yarl import URL

from ..errors import GatewayError
from . import decide
from ._records import Usage
from .bedrock import (
    EVENTSTREAM,
    BedrockConfig,
    EventStreamDecoder,
    betas,
    count_tokens_body,
    dumps,
    error_from_response,
    model_url,
    sign,
    translate_body,
)

if TYPE_CHECKING:
    from .server import Gateway

PING_INTERVAL = 10.0
"""Seconds of silence from Bedrock after which the client gets a ``ping`` event (Claude Code aborts a
stream after 300 s without one; Bedrock sends no keep-alives)."""
_MAX_ERROR_BODY = 4 * 1024 * 1024
_MAX_RESPONSE_BODY = 64 * 1024 * 1024


class BedrockCredentialsError(GatewayError):
    """No usable AWS credentials for Bedrock (the message names the cause, never a value)."""


class BedrockUpstream:
    """Routing, credentials and signing for one gateway process (thread-safe)."""

    def __init__(self, config: BedrockConfig, credentials: Any = None) -> None:
        self.config = config
        self._credentials = credentials
        """A botocore credentials object (``get_frozen_credentials()``); ``None``: the default chain."""
        self._lock = threading.Lock()

    def route(self, model: object) -> str | None:
        return self.config.route(model)

    def frozen_credentials(self) -> Any:
        """This request's credentials (blocking: the chain may ask a metadata service or STS)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            with self._lock:
                if self._credentials is None:
                    import botocore.session

                    self._credentials = botocore.session.Session().get_credentials()
                    if self._credentials is None:
                        raise BedrockCredentialsError(
                            "no AWS credentials for Amazon Bedrock (botocore's default chain found none)"
                        )
                credentials = self._credentials
            frozen = credentials.get_frozen_credentials()
        except (BotoCoreError, ClientError) as exc:  # ClientError: an STS refresh refused
            raise BedrockCredentialsError(
                f"the AWS credentials for Amazon Bedrock could not be read ({type(exc).__name__})"
            ) from exc
        if not frozen.access_key or not frozen.secret_key:
            raise BedrockCredentialsError("the AWS credentials for Amazon Bedrock are incomplete")
        return frozen

    def signed(
        self, operation: str, model_id: str, body: bytes
    ) -> tuple[str, dict[str, str], tuple[str, ...]]:
        """(URL, signed headers, the values to scrub from error messages)."""
        url = model_url(self.config.endpoint, model_id, operation)
        accept = "X-Amzn-Bedrock-Accept" if operation == "invoke-with-response-stream" else "Accept"
        frozen = self.frozen_credentials()
        headers = sign(
            "POST",
            url,
            body,
            {"Content-Type": "application/json", accept: "application/json"},
            frozen,
            self.config.region,
        )
        headers["Accept-Encoding"] = "identity"  # unsigned: events must not wait in a compressor
        return url, headers, tuple(s for s in (frozen.access_key, frozen.token) if s)


async def _ticking(content: aiohttp.StreamReader, interval: float) -> AsyncGenerator[bytes, None]:
    """The body's chunks as they arrive, and ``b""`` after each ``interval`` seconds without one. One
    read stays pending across ticks (nothing is cancelled mid-read); the read's own errors and
    timeouts propagate."""
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(content.readany())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield b""
                continue
            chunk, pending = pending.result(), None
            if not chunk:
                return
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            if pending.done() and not pending.cancelled():
                pending.exception()  # retrieved: no "never retrieved" report


def _request_id(upstream: aiohttp.ClientResponse) -> dict[str, str]:
    rid = upstream.headers.get("x-amzn-RequestId")
    return {"request-id": rid} if rid and rid.isprintable() and len(rid) <= 200 else {}


async def _sign(
    bedrock: BedrockUpstream, operation: str, model_id: str, payload: bytes, record: dict[str, Any]
) -> tuple[str, dict[str, str], tuple[str, ...]] | web.Response:
    try:
        return await asyncio.to_thread(bedrock.signed, operation, model_id, payload)
    except BedrockCredentialsError as exc:
        message = f"Ramparts gateway: {exc}"
        record.update(status=500, outcome="upstream_error", reasons=[message])
        return web.json_response(
            {"type": "error", "error": {"type": "api_error", "message": message}}, status=500
        )


def _internal_error(record: dict[str, Any], exc: Exception) -> web.Response:
    """An unexpected failure on the Bedrock path, in Anthropic's format (the type name only: an
    exception's text could hold a header or a body)."""
    message = f"Ramparts gateway: the Amazon Bedrock request failed ({type(exc).__name__})"
    print(message, file=sys.stderr)
    record.update(status=500, outcome="error", reasons=[message])
    return web.json_response(
        {"type": "error", "error": {"type": "api_error", "message": message}}, status=500
    )


async def messages(
    gateway: Gateway,
    request: web.Request,
    body: dict[str, Any],
    model_id: str,
    lookup: Callable[[str], str | None],
    usage: Usage,
    record: dict[str, Any],
    started: float,
) -> web.StreamResponse:
    """``POST /v1/messages`` to Bedrock. ``body`` is the masked (and clamped) body. Connection errors
    and timeouts propagate to the caller, which answers them as for the Anthropic upstream; any other
    failure before the answer has started is a 500 ``api_error``."""
    try:
        return await _messages(gateway, request, body, model_id, lookup, usage, record, started)
    except (aiohttp.ClientError, TimeoutError):
        raise
    except Exception as exc:
        if record.get("streamed"):
            raise
        return _internal_error(record, exc)


async def _messages(
    gateway: Gateway,
    request: web.Request,
    body: dict[str, Any],
    model_id: str,
    lookup: Callable[[str], str | None],
    usage: Usage,
    record: dict[str, Any],
    started: float,
) -> web.StreamResponse:
    assert gateway.bedrock is not None
    stream = bool(body.get("stream"))
    payload = dumps(translate_body(body, betas(request.headers.getall("anthropic-beta", []))))
    record.update(upstream="bedrock", upstream_bytes=len(payload))
    operation = "invoke-with-response-stream" if stream else "invoke"
    signed = await _sign(gateway.bedrock, operation, model_id, payload, record)
    if isinstance(signed, web.Response):
        return signed
    url, headers, secrets = signed
    async with gateway.client.post(URL(url, encoded=True), data=payload, headers=headers) as upstream:
        record["ttfb_ms"] = gateway._ms(started)
        record["status"] = upstream.status
        if upstream.status != 200:
            data = await upstream.content.read(_MAX_ERROR_BODY)
            error = error_from_response(upstream.status, upstream.headers, data, secrets)
            record.update(
                status=error.status,
                upstream_status=upstream.status,
                outcome="upstream_status",
                reasons=[error.aws_type],
                response_bytes=len(data),
            )
            return web.json_response(error.body(), status=error.status, headers=_request_id(upstream))
        if stream:
            if upstream.content_type != EVENTSTREAM:
                message = f"Ramparts gateway: Amazon Bedrock answered {upstream.content_type[:60]!r}, not an event stream"
                record.update(status=502, outcome="upstream_error", reasons=[message])
                return web.json_response(
                    {"type": "error", "error": {"type": "api_error", "message": message}}, status=502
                )
            decoder = EventStreamDecoder(secrets=secrets)
            out = {"Content-Type": "text/event-stream; charset=utf-8", **_request_id(upstream)}
            chunks = _ticking(upstream.content, PING_INTERVAL)
            try:
                response = await gateway._stream(
                    request, upstream, out, lookup, usage, record, decoder=decoder, chunks=chunks
                )
            finally:
                await chunks.aclose()
            if decoder.error is not None and record.get("outcome") == "ok":
                record.update(outcome="upstream_error", reasons=[f"{decoder.error.aws_type} mid-stream"])
            return response
        data = await upstream.content.read(_MAX_RESPONSE_BODY)
        return gateway._whole(
            data, {"Content-Type": "application/json", **_request_id(upstream)}, lookup, usage, record
        )


async def count_tokens(
    gateway: Gateway,
    request: web.Request,
    body: dict[str, Any],
    model_id: str,
    record: dict[str, Any],
    started: float,
) -> web.Response:
    """``POST /v1/messages/count_tokens`` to Bedrock's CountTokens (the masked InvokeModel body, with
    ``max_tokens`` 1 when the client sent none, as InvokeModel needs one) → ``{"input_tokens": N}``."""
    assert gateway.bedrock is not None
    invoke = translate_body(body, betas(request.headers.getall("anthropic-beta", [])))
    invoke.setdefault("max_tokens", 1)
    payload = count_tokens_body(dumps(invoke))
    record.update(upstream="bedrock", upstream_bytes=len(payload))
    record.setdefault("decision", decide.ALLOW)
    try:
        response = await _count(gateway, payload, model_id, record, started)
    except Exception as exc:  # noqa: BLE001 - fail closed, in the client's error format
        response = _internal_error(record, exc)
    record["latency_ms"] = gateway._ms(started)
    record.setdefault("outcome", "ok")
    gateway.audit.add(record)
    return response


async def _count(
    gateway: Gateway, payload: bytes, model_id: str, record: dict[str, Any], started: float
) -> web.Response:
    assert gateway.bedrock is not None
    signed = await _sign(gateway.bedrock, "count-tokens", model_id, payload, record)
    if isinstance(signed, web.Response):
        return signed
    url, headers, secrets = signed
    try:
        async with gateway.client.post(URL(url, encoded=True), data=payload, headers=headers) as upstream:
            data = await upstream.content.read(_MAX_ERROR_BODY)
            status, rid = upstream.status, _request_id(upstream)
            upstream_headers = upstream.headers.copy()
    except (aiohttp.ClientError, TimeoutError) as exc:
        timeout = isinstance(exc, TimeoutError)
        code, kind = (504, "timeout_error") if timeout else (502, "api_error")
        message = "Ramparts gateway: Amazon Bedrock " + (
            "timed out" if timeout else f"failed ({type(exc).__name__})"
        )
        record.update(status=code, outcome="upstream_error", reasons=[message])
        return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=code)
    if status != 200:
        error = error_from_response(status, upstream_headers, data, secrets)
        record.update(
            status=error.status, upstream_status=status, outcome="upstream_status", reasons=[error.aws_type]
        )
        return web.json_response(error.body(), status=error.status, headers=rid)
    try:
        tokens = json.loads(data)["inputTokens"]
    except (ValueError, KeyError, TypeError):
        tokens = None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        message = "Ramparts gateway: Amazon Bedrock's CountTokens answer has no inputTokens"
        record.update(status=502, outcome="upstream_error", reasons=[message])
        return web.json_response(
            {"type": "error", "error": {"type": "api_error", "message": message}}, status=502
        )
    record["status"] = 200
    return web.json_response({"input_tokens": tokens}, headers=rid)


def add_models(config: BedrockConfig, allowed: Callable[[object], bool], data: bytes) -> bytes:
    """A ``/v1/models`` listing with the configured literal (non-glob) Bedrock-routed ids added."""
    try:
        listing = json.loads(data)
        present = {m.get("id") for m in listing["data"]}
    except (ValueError, TypeError, KeyError, AttributeError):
        return data
    extra = [
        {
            "type": "model",
            "id": model,
            "display_name": f"{model} (Amazon Bedrock)",
            "created_at": "1970-01-01T00:00:00Z",
        }
        for model in config.literal_models()
        if model not in present and allowed(model)
    ]
    if not extra:
        return data
    listing["data"] = [*listing["data"], *extra]
    return json.dumps(listing).encode()

"""A scripted Amazon Bedrock runtime on loopback, for tests of the gateway's Bedrock upstream.

``ScriptedBedrockServer`` plays the same scenario as :class:`ramparts.testing.ScriptedModelServer`
(``ToolUse`` steps, callables, side replies), but speaks Bedrock's InvokeModel API:

- ``POST /model/{id}/invoke`` answers a Messages JSON response; ``/invoke-with-response-stream``
  answers ``application/vnd.amazon.eventstream`` frames whose ``chunk`` events carry
  ``{"bytes": base64(one Messages stream event), "p": padding}`` as Bedrock does (the last one with
  ``amazon-bedrock-invocationMetrics``); ``/count-tokens`` answers ``{"inputTokens": N}``.
- Every request's **SigV4 signature is verified** by recomputing it with botocore from the known
  test credentials (``TEST_CREDENTIALS``), over the raw path, the signed headers and the body; a
  missing, malformed or wrong signature gets Bedrock's 403 (``x-amzn-ErrorType`` and
  ``{"message": ...}``; the signature mismatch message quotes the canonical request, session token
  included, as AWS does, so a test can check the gateway never passes it on).
- A body that still has ``model`` or ``stream``, or lacks ``anthropic_version``, gets a 400
  ``ValidationException``.
- ``faults`` (consumed one per invoke request): an HTTP error, or an ``exception`` frame after N
  events of the stream.
- Requests are recorded (``requests``, ``all_text()``) with their decoded InvokeModel bodies (a
  CountTokens request's inner body too) as :class:`BedrockRequest`.

The server thread stops by itself after ``max_lifetime`` seconds. Needs botocore (signature check).
"""

from __future__ import annotations

import base64
import datetime
import hmac
import json
import os
import re
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from . import (
    RecordedRequest,
    ScriptedModelServer,
    Step,
    _Handler,
    _stream_events,
)

__all__ = [
    "TEST_CREDENTIALS",
    "TEST_REGION",
    "BedrockFault",
    "BedrockRequest",
    "ScriptedBedrockServer",
    "eventstream_frame",
]


@dataclass(frozen=True)
class AwsTestCredentials:
    access_key: str
    secret_key: str
    token: str | None

    def env(self, region: str = "us-east-1") -> dict[str, str]:
        """Environment for a process whose botocore default chain should find exactly these."""
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if self.token:
            env["AWS_SESSION_TOKEN"] = self.token
        return env


TEST_CREDENTIALS: Final = AwsTestCredentials(
    access_key="ASIARAMPARTSTESTKEY1",
    secret_key="rampartsTestSecretKeyNotReal/0123456789abc",  # noqa: S106 - a test fixture
    token="IQoJb3JpZ2luX2VjRAMPARTS-test-session-token-not-real==",  # noqa: S106
)
TEST_REGION: Final = "us-east-1"
_PATH = re.compile(r"/model/([^/]+)/(invoke|invoke-with-response-stream|count-tokens)")
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request,\s*"
    r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})"
)
_MAX_SKEW = datetime.timedelta(minutes=5)


def eventstream_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One AWS event stream message: prelude (total length, headers length, CRC32), string headers
    (type 7), payload, CRC32 of everything before it."""
    encoded = b""
    for name, value in headers.items():
        n, v = name.encode("utf-8"), value.encode("utf-8")
        encoded += struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def chunk_frame(event: Mapping[str, Any], padding: str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ") -> bytes:
    data = json.dumps(event, separators=(",", ":")).encode()
    body = {"bytes": base64.b64encode(data).decode("ascii"), "p": padding[: 1 + len(data) % len(padding)]}
    return eventstream_frame(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body).encode(),
    )


def exception_frame(exception_type: str, message: str) -> bytes:
    return eventstream_frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


@dataclass(frozen=True)
class BedrockFault:
    """What the next invoke request gets instead of a normal answer.

    ``after is None``: an HTTP ``status`` error of ``error_type`` (``ThrottlingException``...).
    Otherwise a stream that stops after ``after`` events with an ``exception`` frame whose
    ``:exception-type`` is ``error_type`` (``modelStreamErrorException``...)."""

    error_type: str
    message: str = "scripted failure"
    status: int = 400
    after: int | None = None


@dataclass(frozen=True)
class BedrockRequest(RecordedRequest):
    """A recorded Bedrock request: ``body``/``raw`` are the InvokeModel body (for count-tokens, the
    inner body); ``signature_ok`` says whether the SigV4 check passed."""

    model_id: str = ""
    operation: str = ""
    signature_ok: bool = False

    @property
    def is_main(self) -> bool:
        return (
            self.operation in ("invoke", "invoke-with-response-stream")
            and isinstance(self.body, dict)
            and isinstance(self.body.get("tools"), list)
            and bool(self.body["tools"])
        )


class _BedrockHandler(_Handler):
    server_version = "ramparts-scripted-bedrock/1"

    def _aws_error(self, status: int, error_type: str, message: str) -> None:
        data = json.dumps({"message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header(
            "x-amzn-ErrorType", f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        )
        self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-00000000e403")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._aws_error(404, "UnknownOperationException", "no such operation")

    def do_POST(self) -> None:
        owner: ScriptedBedrockServer = self.server.owner  # type: ignore[assignment]
        raw = self._read_body()
        match = _PATH.fullmatch(urlsplit(self.path).path)
        model_id, operation = (unquote(match.group(1)), match.group(2)) if match else ("", "")
        problem = owner.verify(self.command, self.path, {k: v for k, v in self.headers.items()}, raw)
        inner = raw
        if operation == "count-tokens":
            try:
                inner = base64.b64decode(json.loads(raw)["input"]["invokeModel"]["body"], validate=True)
            except (ValueError, KeyError, TypeError):
                inner = b""
        text = inner.decode("utf-8", "replace")
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = None
        request = BedrockRequest(
            self.command,
            self.path,
            dict(self.headers.items()),
            body,
            text,
            model_id=model_id,
            operation=operation,
            signature_ok=problem is None,
        )
        owner._append(request)
        if problem is not None:
            self._aws_error(403, *problem)
            return
        if not match:
            self._aws_error(404, "UnknownOperationException", "no such operation")
            return
        if not isinstance(body, dict):
            self._aws_error(400, "ValidationException", "Malformed input request, please reformat your input")
            return
        for key in ("model", "stream"):
            if key in body:
                self._aws_error(400, "ValidationException", f"extraneous key [{key}] is not permitted")
                return
        if body.get("anthropic_version") != "bedrock-2023-05-31":
            self._aws_error(400, "ValidationException", "invalid anthropic_version")
            return
        if operation == "count-tokens":
            self._send_json(HTTPStatus.OK, {"inputTokens": max(1, len(text) // 4)})
            return
        fault = owner._next_fault()
        if fault is not None and fault.after is None:
            self._aws_error(fault.status, fault.error_type, fault.message)
            return
        block, stop_reason = owner._reply_for(request)
        model = "claude-sonnet-4-5-20250929"
        input_tokens = max(1, len(text) // 4)
        message_id = f"msg_bdrk_{len(owner.requests):04d}"
        if operation == "invoke":
            self._send_json(
                HTTPStatus.OK,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [block],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {"input_tokens": input_tokens, "output_tokens": 10},
                },
            )
            return
        events = [
            json.loads(line[6:])
            for sse in _stream_events(message_id, model, block, stop_reason, input_tokens, owner.delta_chars)
            for line in sse.decode().splitlines()
            if line.startswith("data: ")
        ]
        events = [e for e in events if e.get("type") != "ping"]  # Bedrock sends no pings
        events[-1]["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": input_tokens,
            "outputTokenCount": 10,
            "invocationLatency": 12,
            "firstByteLatency": 3,
        }
        frames = [chunk_frame(e) for e in events]
        if fault is not None and fault.after is not None:
            frames = [*frames[: fault.after], exception_frame(fault.error_type, fault.message)]
        self._send_eventstream(b"".join(frames), owner.split_bytes)

    def _send_eventstream(self, data: bytes, split: int | None) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("X-Amzn-Bedrock-Content-Type", "application/json")
        self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-000000000200")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        size = split or len(data) or 1
        delay = self.server.owner.delay  # type: ignore[attr-defined]
        for i in range(0, len(data), size):
            piece = data[i : i + size]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
            if delay:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class ScriptedBedrockServer(ScriptedModelServer):
    """See the module doc. ``split_bytes`` writes the event stream in pieces of that many bytes (frames
    split anywhere), ``delay`` seconds apart; ``credentials`` are what signatures must be made with."""

    handler_class = _BedrockHandler

    def __init__(
        self,
        scenario: Sequence[Step] = (),
        *,
        credentials: AwsTestCredentials = TEST_CREDENTIALS,
        region: str = TEST_REGION,
        split_bytes: int | None = None,
        delay: float = 0.0,
        faults: Sequence[BedrockFault] = (),
        max_lifetime: float = 600.0,
        **options: Any,
    ) -> None:
        super().__init__(scenario, **options)
        self.credentials = credentials
        self.region = region
        self.split_bytes = split_bytes
        self.delay = delay
        self.faults: deque[BedrockFault] = deque(faults)
        self.max_lifetime = max_lifetime
        self._fault_lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def start(self) -> ScriptedBedrockServer:
        super().start()
        if self._timer is None:
            self._timer = threading.Timer(self.max_lifetime, self.stop)
            self._timer.daemon = True
            self._timer.start()
        return self

    def stop(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        super().stop()

    def __enter__(self) -> ScriptedBedrockServer:
        return self.start()

    def _next_fault(self) -> BedrockFault | None:
        with self._fault_lock:
            return self.faults.popleft() if self.faults else None

    def verify(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, str] | None:
        """``None`` when the SigV4 signature is right, else (Bedrock error type, message)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        lower = {k.lower(): v for k, v in headers.items()}
        auth = lower.get("authorization")
        if not auth:
            return "MissingAuthenticationTokenException", "Missing Authentication Token"
        match = _AUTH.fullmatch(auth.strip())
        if not match:
            return (
                "IncompleteSignatureException",
                "Authorization header requires Credential, SignedHeaders, Signature",
            )
        access_key, day, region, service, signed, signature = match.groups()
        creds = self.credentials
        token = lower.get("x-amz-security-token")
        if access_key != creds.access_key or token != creds.token:
            return "UnrecognizedClientException", "The security token included in the request is invalid."
        names = signed.split(";")
        amz_date = lower.get("x-amz-date", "")
        if (
            "host" not in names
            or "x-amz-date" not in names
            or (token and "x-amz-security-token" not in names)
        ):
            return "InvalidSignatureException", "host, x-amz-date and x-amz-security-token must be signed"
        if region != self.region or service != "bedrock":
            return (
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region and service ({region}/{service})",
            )
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        except ValueError:
            return "IncompleteSignatureException", "X-Amz-Date is malformed"
        if day != amz_date[:8] or abs(datetime.datetime.now(datetime.UTC) - when) > _MAX_SKEW:
            return "InvalidSignatureException", "Signature expired or scoped to another date"
        if any(name not in lower for name in names):
            return "InvalidSignatureException", "a signed header is missing"
        request = AWSRequest(
            method=method,
            url=f"http://{lower['host']}{path}",
            data=body,
            headers={n: lower[n] for n in names},
        )
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token), "bedrock", region)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if hmac.compare_digest(expected, signature):
            return None
        return (
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.\n\n"
            f"The Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{string_to_sign}'\n",
        )

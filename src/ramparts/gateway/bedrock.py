"""Amazon Bedrock as an upstream, sans-IO: which models go there, the request translation, SigV4
signing, the AWS event stream turned back into Anthropic SSE events, and Bedrock's errors in
Anthropic's error format.

The translation is the one Anthropic's own Bedrock SDK client makes (``@anthropic-ai/bedrock-sdk``):
the Messages body without ``model`` and ``stream``, plus ``"anthropic_version": "bedrock-2023-05-31"``
(unless the body has one) and the ``anthropic-beta`` header's values as the body's ``anthropic_beta``
list (unless the body has one); ``POST /model/{model id}/invoke`` or ``/invoke-with-response-stream``
with the model id percent-encoded as one path segment (an inference profile ARN's ``:`` and ``/``
too, as botocore does). Streamed answers come as ``application/vnd.amazon.eventstream`` frames whose
``chunk`` events carry ``{"bytes": base64(one Messages stream event as JSON)}``.

botocore does the parts that must match AWS exactly: :class:`botocore.auth.SigV4Auth` signs,
:class:`botocore.eventstream.EventStreamBuffer` parses frames and checks their CRCs. It is imported
only when a Bedrock request is made (the Anthropic-only gateway does not need it).
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from .sse import SSEError, SSEEvent

ANTHROPIC_VERSION = "bedrock-2023-05-31"
SIGNING_NAME = "bedrock"
EVENTSTREAM = "application/vnd.amazon.eventstream"
METRICS_KEY = "amazon-bedrock-invocationMetrics"
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024
"""A frame larger than this (or that much undecoded input) ends the stream with an error; botocore's
own cap is 24 MiB of payload, Bedrock's ``PartBody`` is at most 1 MB."""

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]{0,2047}")
"""A Bedrock model id, inference profile id or ARN (the characters botocore's pattern allows)."""


PING = SSEEvent(event="ping", data='{"type": "ping"}')


class EventSource(Protocol):
    """What the proxy's stream loop needs of a decoder: bytes in, SSE events out."""

    def feed(self, chunk: bytes) -> list[SSEEvent]: ...

    def pending(self) -> bytes: ...


# -- configuration -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BedrockConfig:
    """Which Anthropic model ids go to Bedrock, as which Bedrock model, in which region."""

    region: str
    models: tuple[tuple[str, str], ...]
    """(Anthropic model id glob, Bedrock model id / inference profile id / ARN); first match wins."""
    endpoint_url: str | None = None
    """Default ``https://bedrock-runtime.{region}.amazonaws.com`` (``.com.cn`` in China regions)."""

    def __post_init__(self) -> None:
        if not REGION.fullmatch(self.region):
            raise ValueError(f"bedrock region {self.region!r} is not an AWS region name (us-east-1)")
        if self.endpoint_url is not None:
            parts = urlsplit(self.endpoint_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                raise ValueError(f"bedrock endpoint_url must be an http(s) URL, not {self.endpoint_url!r}")
        if not self.models:
            raise ValueError("bedrock models must map at least one model glob to a Bedrock model id")
        for glob, model_id in self.models:
            if not glob:
                raise ValueError("a bedrock model glob is empty")
            if not MODEL_ID.fullmatch(model_id):
                raise ValueError(f"{model_id!r} is not a Bedrock model id, inference profile id or ARN")

    @property
    def endpoint(self) -> str:
        if self.endpoint_url:
            return self.endpoint_url.rstrip("/")
        suffix = "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"
        return f"https://bedrock-runtime.{self.region}.{suffix}"

    def route(self, model: object) -> str | None:
        """The Bedrock model id for an Anthropic model id, or ``None`` (the Anthropic upstream)."""
        if not isinstance(model, str):
            return None
        for glob, model_id in self.models:
            if fnmatch.fnmatchcase(model, glob):
                return model_id
        return None

    def literal_models(self) -> list[str]:
        """The configured Anthropic model ids that are not globs (for ``/v1/models``)."""
        return [glob for glob, _id in self.models if not any(c in glob for c in "*?[")]


# -- requests ----------------------------------------------------------------------------------------


def betas(values: Iterable[str]) -> list[str]:
    """The ``anthropic-beta`` header values (comma-separated, possibly repeated), in order, once each."""
    out: list[str] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def translate_body(body: Mapping[str, Any], beta: Sequence[str] = ()) -> dict[str, Any]:
    """The InvokeModel body for an Anthropic Messages body (see the module doc)."""
    out = {k: v for k, v in body.items() if k not in ("model", "stream")}
    out.setdefault("anthropic_version", ANTHROPIC_VERSION)
    if beta and "anthropic_beta" not in out:
        out["anthropic_beta"] = list(beta)
    return out


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def count_tokens_body(invoke_body: bytes) -> bytes:
    """The CountTokens body: the InvokeModel body as a base64 blob (rest-json serialises blobs so)."""
    return dumps({"input": {"invokeModel": {"body": base64.b64encode(invoke_body).decode("ascii")}}})


def model_url(endpoint: str, model_id: str, operation: str) -> str:
    """``{endpoint}/model/{id}/{operation}``; operation ``invoke``, ``invoke-with-response-stream``
    or ``count-tokens``. The id is one path segment: ``:`` and ``/`` are percent-encoded."""
    return f"{endpoint.rstrip('/')}/model/{quote(model_id, safe='')}/{operation}"


def sign(
    method: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    credentials: Any,
    region: str,
) -> dict[str, str]:
    """``headers`` plus ``X-Amz-Date``, ``X-Amz-Security-Token`` (temporary credentials) and
    ``Authorization`` (SigV4, service ``bedrock``), from botocore. ``credentials`` has
    ``access_key``, ``secret_key`` and ``token`` (``get_frozen_credentials()``)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, SIGNING_NAME, region).add_auth(request)
    return {k: str(v) for k, v in request.headers.items()}


# -- errors ------------------------------------------------------------------------------------------

_AUTH_ERRORS = frozenset(
    {
        "unrecognizedclientexception",
        "invalidsignatureexception",
        "signaturedoesnotmatch",
        "incompletesignatureexception",
        "missingauthenticationtokenexception",
        "expiredtokenexception",
        "invalidclienttokenid",
    }
)
_ERRORS: dict[str, tuple[int, str]] = {
    "validationexception": (400, "invalid_request_error"),
    "conflictexception": (400, "invalid_request_error"),
    "accessdeniedexception": (403, "permission_error"),
    "resourcenotfoundexception": (404, "not_found_error"),
    "throttlingexception": (429, "rate_limit_error"),
    "servicequotaexceededexception": (429, "rate_limit_error"),
    "toomanyrequestsexception": (429, "rate_limit_error"),
    "modeltimeoutexception": (504, "timeout_error"),
    "serviceunavailableexception": (529, "overloaded_error"),
    "modelnotreadyexception": (529, "overloaded_error"),
    "internalserverexception": (500, "api_error"),
    "modelstreamerrorexception": (500, "api_error"),
    "modelerrorexception": (500, "api_error"),
    **{name: (403, "permission_error") for name in _AUTH_ERRORS},
}
_BY_STATUS: dict[int, tuple[int, str]] = {
    400: (400, "invalid_request_error"),
    401: (403, "permission_error"),
    403: (403, "permission_error"),
    404: (404, "not_found_error"),
    408: (504, "timeout_error"),
    413: (413, "request_too_large"),
    424: (500, "api_error"),
    429: (429, "rate_limit_error"),
    503: (529, "overloaded_error"),
    504: (504, "timeout_error"),
}
_ARN = re.compile(r"arn:aws[a-z-]*:[^\s\"',;)]*")
_ACCOUNT = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_MAX_MESSAGE = 1000
_EVENT_TYPE = re.compile(r"[a-z][a-z_]{0,63}")


@dataclass(frozen=True)
class BedrockError:
    """A Bedrock error, in Anthropic's terms: the status and error type the client gets."""

    status: int
    kind: str
    message: str
    aws_type: str

    def body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": self.kind, "message": self.message}}


def error_name(raw: str | None) -> str:
    """``ValidationException`` from ``ValidationException:http://internal...``, ``ns#Name`` or ``Name``."""
    if not raw:
        return ""
    name = raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()
    return name[:1].upper() + name[1:] if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,99}", name) else ""


def sanitize(message: str, secrets: Iterable[str] = ()) -> str:
    """An AWS message fit for the client: the first paragraph, ARNs and account ids blanked, any of
    ``secrets`` (the gateway's access key id, session token) removed, at most 1000 characters."""
    text = message.split("\n\n", 1)[0]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _ARN.sub("arn:[redacted]", text)
    text = _ACCOUNT.sub("[account]", text)
    text = " ".join(text.split())
    return text[:_MAX_MESSAGE]


def bedrock_error(
    aws_type: str | None, message: str | None, status: int | None = None, secrets: Iterable[str] = ()
) -> BedrockError:
    """Map a Bedrock error (its type name, message, HTTP status) to Anthropic's status and type."""
    name = error_name(aws_type)
    mapped = _ERRORS.get(name.lower()) or _BY_STATUS.get(status or 0)
    if mapped is None:
        mapped = (400, "invalid_request_error") if status and 400 <= status < 500 else (502, "api_error")
    label = name or (f"HTTP {status}" if status else "error")
    if name.lower() in _AUTH_ERRORS or (not name and status in (401, 403)):
        # these messages can quote the canonical request, session token included: never pass them on
        text = "the gateway's AWS credentials were rejected"
    else:
        text = sanitize(message or "", secrets) or "no message"
    return BedrockError(mapped[0], mapped[1], f"Amazon Bedrock {label}: {text}", name or label)


def error_from_response(
    status: int, headers: Mapping[str, str], data: bytes, secrets: Iterable[str] = ()
) -> BedrockError:
    """An HTTP error answer (``x-amzn-ErrorType`` header, ``{"message": ...}`` body)."""
    aws_type = headers.get("x-amzn-ErrorType") or headers.get("X-Amzn-ErrorType")
    message = ""
    try:
        obj = json.loads(data)
    except ValueError:
        obj = None
    if isinstance(obj, dict):
        aws_type = aws_type or obj.get("__type") or obj.get("code")
        found = obj.get("message", obj.get("Message"))
        message = found if isinstance(found, str) else ""
    return bedrock_error(str(aws_type) if aws_type else None, message, status, secrets)


# -- the event stream -------------------------------------------------------------------------------


class EventStreamError(SSEError):
    """The AWS event stream cannot be decoded (a bad CRC, a frame over the limit, a truncated frame,
    a chunk that is not a Messages event): the proxy ends the client's stream with an error event."""


class EventStreamDecoder:
    """AWS event stream bytes in, Anthropic SSE events out (sans-IO; feed it chunks split anywhere).

    A ``chunk`` event becomes ``SSEEvent(event=<its type>, data=<its JSON>)`` (the
    ``amazon-bedrock-invocationMetrics`` key Bedrock adds to the last event is dropped). An
    ``exception`` or ``error`` frame becomes an SSE ``error`` event in Anthropic's format, sets
    :attr:`error`, and ends decoding: later input is ignored. Undecodable input raises
    :class:`EventStreamError`.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, secrets: Sequence[str] = ()) -> None:
        from botocore.eventstream import EventStreamBuffer

        self._buffer = EventStreamBuffer()
        self._undecoded = 0
        self.max_frame_bytes = max_frame_bytes
        self.secrets = tuple(secrets)
        self.error: BedrockError | None = None
        self.frames = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events completed by ``chunk``; an empty chunk (the proxy's idle tick: Bedrock sends no
        keep-alives) is answered with a ``ping`` event, as Anthropic's API sends during silences."""
        from botocore.eventstream import ParserError

        if self.error is not None:
            return []
        if not chunk:
            return [PING]
        self._buffer.add_data(chunk)
        self._undecoded += len(chunk)
        out: list[SSEEvent] = []
        try:
            for message in self._buffer:
                self.frames += 1
                self._undecoded -= message.prelude.total_length
                event = self._event(message.headers, message.payload)
                if event is not None:
                    out.append(event)
                if self.failed:
                    return out
        except ParserError as exc:
            raise EventStreamError(f"Amazon Bedrock sent a malformed event stream ({exc})") from exc
        if self._undecoded > self.max_frame_bytes:
            raise EventStreamError(f"an Amazon Bedrock event is over {self.max_frame_bytes} bytes")
        return out

    @property
    def failed(self) -> bool:
        """Whether an exception or error frame has ended the stream."""
        return self.error is not None

    def pending(self) -> bytes:
        """Nothing is ever passed on raw; a frame cut off by the end of the stream is an error."""
        if self._undecoded and self.error is None:
            raise EventStreamError("the Amazon Bedrock event stream ended inside a frame")
        return b""

    def _event(self, headers: Mapping[str, Any], payload: bytes) -> SSEEvent | None:
        kind = headers.get(":message-type")
        if kind == "event":
            if headers.get(":event-type") != "chunk":
                return None  # initial-response and future event types carry no Messages event
            return self._chunk(payload)
        if kind == "exception":
            message = _payload_message(payload)
            self.error = bedrock_error(str(headers.get(":exception-type") or ""), message, None, self.secrets)
        elif kind == "error":
            code, text = headers.get(":error-code"), headers.get(":error-message")
            self.error = bedrock_error(str(code or ""), str(text or ""), None, self.secrets)
        else:
            raise EventStreamError(f"Amazon Bedrock sent a frame of unknown message type {str(kind)[:40]!r}")
        return SSEEvent(event="error", data=json.dumps(self.error.body()))

    @staticmethod
    def _chunk(payload: bytes) -> SSEEvent:
        try:
            part = json.loads(payload)
            raw = base64.b64decode(part["bytes"], validate=True)
            event = json.loads(raw)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise EventStreamError("an Amazon Bedrock chunk is not base64 JSON") from exc
        if not isinstance(event, dict) or not _EVENT_TYPE.fullmatch(str(event.get("type"))):
            raise EventStreamError("an Amazon Bedrock chunk is not a Messages stream event")
        text = raw.decode("utf-8")
        if METRICS_KEY in event or "\r" in text or "\n" in text:  # line breaks: JSON whitespace only
            event.pop(METRICS_KEY, None)
            text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        return SSEEvent(event=event["type"], data=text)


def _payload_message(payload: bytes) -> str:
    try:
        obj = json.loads(payload)
    except ValueError:
        return ""
    if isinstance(obj, dict):
        found = obj.get("message", obj.get("Message"))
        return found if isinstance(found, str) else ""
    return ""

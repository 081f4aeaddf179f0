"""Claude Code's own telemetry (OTLP/HTTP logs), read so the control plane can tell a session that runs
without Ramparts' hook: the CLI reports its tool calls (``tool_decision``, ``tool_result`` with the
``tool_use_id`` the hook sees) whether or not a hook ran. Pure: no I/O.

Configure Claude Code (managed ``env``) with ``CLAUDE_CODE_ENABLE_TELEMETRY=1``, ``OTEL_LOGS_EXPORTER=otlp``,
``OTEL_EXPORTER_OTLP_PROTOCOL=http/json`` (or ``http/protobuf``),
``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=https://cp.example/otlp/v1/logs`` and
``OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer <host token>`` (Claude Code 2.1.328 sends the value as
written, without URL-decoding it; the server also accepts ``Bearer%20``).

Only a few attributes are kept (the event, session, tool name, tool-use id, decision, source, success,
time); prompts, commands, tool inputs and bodies, which the CLI may be configured to include, are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

MAX_EVENTS = 10_000
KEEP = ("tool_name", "decision", "source", "success", "error_type", "hook_event", "num_blocking")


class TelemetryError(ValueError):
    """The export request is malformed; the message says where."""


class TelemetryEvent(NamedTuple):
    event: str
    """``event.name`` without the ``claude_code.`` prefix: ``tool_result``, ``tool_decision``, ``user_prompt`` …"""
    session: str
    tool: str
    tool_use_id: str
    time: float
    """Epoch seconds (the record's ``timeUnixNano``; 0.0 when absent)."""
    attributes: dict[str, Any]
    """The kept attributes (:data:`KEEP`)."""


def _value(v: Any) -> Any:
    if not isinstance(v, Mapping):
        return None
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return None
    return None


def _attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                out[item["key"]] = _value(item.get("value"))
    return out


def decode(body: bytes, content_type: str) -> dict[str, Any]:
    """An ExportLogsServiceRequest as the JSON mapping (protobuf bodies are converted)."""
    if "protobuf" in content_type:
        import importlib

        try:  # imported by name: protobuf ships no type stubs here
            json_format: Any = importlib.import_module("google.protobuf.json_format")
            decode_error: Any = importlib.import_module("google.protobuf.message").DecodeError
            service: Any = importlib.import_module("opentelemetry.proto.collector.logs.v1.logs_service_pb2")
        except ImportError as exc:  # pragma: no cover - the otel extra is missing
            raise TelemetryError("protobuf bodies need the otel extra; send http/json") from exc
        message = service.ExportLogsServiceRequest()
        try:
            message.ParseFromString(body)
        except decode_error as exc:
            raise TelemetryError("body: not an ExportLogsServiceRequest") from exc
        data: Any = json_format.MessageToDict(message)
    else:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TelemetryError("body: not JSON") from exc
    if not isinstance(data, dict):
        raise TelemetryError("body: must be an object")
    return data


def events(data: Mapping[str, Any]) -> list[TelemetryEvent]:
    """The Claude Code events in an export request (other services' records are skipped)."""
    out: list[TelemetryEvent] = []
    resources = data.get("resourceLogs", [])
    if not isinstance(resources, list):
        raise TelemetryError("resourceLogs: must be a list")
    for r, resource in enumerate(resources):
        if not isinstance(resource, Mapping):
            raise TelemetryError(f"resourceLogs[{r}]: must be an object")
        scopes = resource.get("scopeLogs", [])
        if not isinstance(scopes, list):
            raise TelemetryError(f"resourceLogs[{r}].scopeLogs: must be a list")
        for s, scope in enumerate(scopes):
            records = scope.get("logRecords", []) if isinstance(scope, Mapping) else None
            if not isinstance(records, list):
                raise TelemetryError(f"resourceLogs[{r}].scopeLogs[{s}].logRecords: must be a list")
            for record in records:
                if not isinstance(record, Mapping):
                    continue
                event = _event(record)
                if event is not None:
                    out.append(event)
                    if len(out) > MAX_EVENTS:
                        raise TelemetryError(f"more than {MAX_EVENTS} log records in one request")
    return out


def _event(record: Mapping[str, Any]) -> TelemetryEvent | None:
    attrs = _attributes(record.get("attributes"))
    name = attrs.get("event.name")
    if not isinstance(name, str) or not name:
        body = _value(record.get("body"))
        name = body if isinstance(body, str) else ""
    name = name.removeprefix("claude_code.")
    session = attrs.get("session.id")
    if not name or not isinstance(session, str) or not session:
        return None
    try:
        when = int(record.get("timeUnixNano") or record.get("observedTimeUnixNano") or 0) / 1e9
    except (TypeError, ValueError):
        when = 0.0
    tool = attrs.get("tool_name")
    tool_use_id = attrs.get("tool_use_id")
    return TelemetryEvent(
        event=name[:100],
        session=session[:200],
        tool=tool[:200] if isinstance(tool, str) else "",
        tool_use_id=tool_use_id[:200] if isinstance(tool_use_id, str) else "",
        time=when,
        attributes={
            k: attrs[k] for k in KEEP if k in attrs and isinstance(attrs[k], str | int | float | bool)
        },
    )

"""Claude Code's OTLP log records: parsing (JSON and protobuf) and the join with the hook's records."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from ramparts.server.batch import parse_batch
from ramparts.server.store import ServerStore
from ramparts.server.telemetry import TelemetryError, decode, events
from tests.server_harness import HostLog, hook_record


def _attr(key: str, value: Any) -> dict[str, Any]:
    kind = {bool: "boolValue", int: "intValue", float: "doubleValue"}.get(type(value), "stringValue")
    return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}


def export(*records: dict[str, Any]) -> dict[str, Any]:
    """An ExportLogsServiceRequest as Claude Code 2.1.328 sends it (http/json)."""
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": [_attr("service.name", "claude-code")]},
                "scopeLogs": [
                    {"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": list(records)}
                ],
            }
        ]
    }


def log_record(event: str, session: str, **attrs: Any) -> dict[str, Any]:
    return {
        "timeUnixNano": str(int(time.time() * 1e9)),
        "body": {"stringValue": f"claude_code.{event}"},
        "attributes": [_attr("session.id", session), _attr("event.name", event), _attr("event.sequence", 3)]
        + [_attr(k, v) for k, v in attrs.items()],
    }


def test_events_keep_only_the_join_keys_and_a_few_facts() -> None:
    data = export(
        log_record(
            "tool_result",
            "s1",
            tool_name="Bash",
            tool_use_id="toolu_1",
            success="true",
            tool_parameters='{"full_command": "cat .env"}',
        ),
        log_record("user_prompt", "s1", prompt="my password is hunter2"),
        {"body": {"stringValue": "no session"}, "attributes": []},
    )
    found = events(decode(json.dumps(data).encode(), "application/json"))
    assert [(e.event, e.session, e.tool, e.tool_use_id) for e in found] == [
        ("tool_result", "s1", "Bash", "toolu_1"),
        ("user_prompt", "s1", "", ""),
    ]
    assert found[0].attributes == {"tool_name": "Bash", "success": "true"}
    assert "hunter2" not in repr(found) and "cat .env" not in repr(found)


def test_protobuf_bodies_read_the_same() -> None:
    from google.protobuf import json_format  # type: ignore[import-untyped]
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    data = export(
        log_record("tool_decision", "s2", tool_name="Read", tool_use_id="toolu_2", decision="accept")
    )
    body = json_format.ParseDict(data, ExportLogsServiceRequest()).SerializeToString()
    (event,) = events(decode(body, "application/x-protobuf"))
    assert (event.event, event.session, event.tool_use_id) == ("tool_decision", "s2", "toolu_2")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"[1]", "body"),
        (b'{"resourceLogs": 3}', "resourceLogs"),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": {}}]}]}',
            "resourceLogs[0].scopeLogs[0].logRecords",
        ),
        (b"\x00\x01", "body"),
    ],
)
def test_malformed_exports_name_the_place(body: bytes, where: str) -> None:
    with pytest.raises(TelemetryError) as info:
        events(decode(body, "application/json"))
    assert str(info.value).startswith(where)


def test_telemetry_without_hook_records_alerts(server: ServerStore, host: HostLog) -> None:
    token, _ = server.create_token("host", "host-a")
    now = time.time()
    record = hook_record("hooked", now)
    record["tool_use_id"] = "toolu_a"
    host.append(record)
    host.append(hook_record("partly", now))
    server.ingest(token, parse_batch(host.body()))

    def ev(event: str, session: str, tool_use_id: str = "") -> Any:
        (e,) = events(export(log_record(event, session, tool_name="Bash", tool_use_id=tool_use_id)))
        return e

    server.telemetry_ingest(
        token,
        [
            ev("tool_result", "hooked", "toolu_a"),  # the hook saw it
            ev("tool_result", "partly", "toolu_b"),  # a session the hook knows; a call it never recorded
            ev("user_prompt", "bare"),  # a session the hook never saw
        ],
        now=now,
    )
    assert server.telemetry_check(now=now + 10, grace=60) == 0  # too recent: the records may be on their way
    assert server.telemetry_check(now=now + 61, grace=60) == 2
    alerts = {a.session: a for a in server.alerts()}
    assert set(alerts) == {"bare", "partly"}
    assert all((a.rule, a.severity) == ("telemetry.no_hook", "high") for a in alerts.values())
    assert "none through the hook" in alerts["bare"].message
    assert "1 tool call(s) of session partly ran without a hook record (Bash)" in alerts["partly"].message
    assert server.telemetry_check(now=now + 300, grace=60) == 0  # each event is checked once

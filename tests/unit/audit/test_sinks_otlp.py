"""The OTLP logs sink against a tiny local collector that decodes ExportLogsServiceRequest protobufs."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from ramparts.audit.ship import Cursor, ShipItem, Shipper, TransientSinkError
from ramparts.audit.ship_sources import MemorySource
from ramparts.audit.sinks.otlp import OtlpSink


class _OtlpCollector:
    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[dict[str, str], ExportLogsServiceRequest]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = outer.statuses.pop(0) if outer.statuses else 200
                if self.path == "/v1/logs" and status == 200:
                    request = ExportLogsServiceRequest()
                    request.ParseFromString(body)
                    outer.requests.append((dict(self.headers), request))
                payload = ExportLogsServiceResponse().SerializeToString()
                self.send_response(status if self.path == "/v1/logs" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1/logs"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def records(self) -> list[dict[str, Any]]:
        out = []
        for _, request in self.requests:
            for resource_logs in request.resource_logs:
                resource = {a.key: a.value.string_value for a in resource_logs.resource.attributes}
                for scope_logs in resource_logs.scope_logs:
                    for rec in scope_logs.log_records:
                        attrs: dict[str, Any] = {}
                        for a in rec.attributes:
                            kind = a.value.WhichOneof("value")
                            attrs[a.key] = getattr(a.value, kind)
                        out.append(
                            {
                                "resource": resource,
                                "scope": scope_logs.scope.name,
                                "attributes": attrs,
                                "body": rec.body.string_value,
                                "time": rec.time_unix_nano,
                                "event": rec.event_name,
                            }
                        )
        return out


@pytest.fixture
def otlp() -> Iterator[_OtlpCollector]:
    collector = _OtlpCollector()
    yield collector
    collector.close()


def test_otlp_records_carry_log_id_seq_and_the_exact_body(otlp: _OtlpCollector) -> None:
    body = json.dumps({"cmd": "ls\n\u202e", "decision": "deny"}, ensure_ascii=False).encode()
    note = "origin\n2\nroot=\n\n— key sig\n"
    sink = OtlpSink("o", otlp.endpoint, headers={"x-token": "abc"}, timeout=5)
    try:
        items = [
            ShipItem("log-a", 1, "record", body, "2026-05-01T12:00:00Z"),
            ShipItem("log-a", 2, "checkpoint", note.encode(), ""),
        ]
        assert sink.send(items) == []
    finally:
        sink.close()
    assert len(otlp.requests) == 1  # one export request for the batch
    assert otlp.requests[0][0]["x-token"] == "abc"
    records = otlp.records()
    assert [r["attributes"] for r in records] == [
        {"ramparts.log_id": "log-a", "ramparts.seq": 1, "ramparts.kind": "record"},
        {"ramparts.log_id": "log-a", "ramparts.seq": 2, "ramparts.kind": "checkpoint"},
    ]
    assert records[0]["body"] == body.decode() and records[1]["body"] == note
    assert records[0]["time"] == 1777636800 * 10**9
    assert records[0]["resource"]["service.name"] == "ramparts"
    assert records[0]["scope"] == "ramparts.audit"
    assert [r["event"] for r in records] == ["ramparts.audit.record", "ramparts.audit.checkpoint"]


def test_otlp_failure_is_reported_so_the_shipper_retries(otlp: _OtlpCollector, tmp_path: Path) -> None:
    otlp.statuses = [400]  # not retryable inside the exporter: export() returns FAILURE
    sink = OtlpSink("o", otlp.endpoint, timeout=2)
    try:
        with pytest.raises(TransientSinkError, match="OTLP export failed"):
            sink.send([ShipItem("log-a", 1, "record", b"{}")])
        src = MemorySource("log-a")
        src.append(b'{"a":1}')
        now = [0.0]
        shipper = Shipper(
            src,
            Cursor(tmp_path / "ship.db"),
            [sink],
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
        otlp.statuses = [400]
        assert shipper.run(until_idle=True).ok
    finally:
        sink.close()
    assert [r["attributes"]["ramparts.seq"] for r in otlp.records()] == [1]


def test_otlp_unreachable_collector_is_transient() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    sink = OtlpSink("o", f"http://127.0.0.1:{port}/v1/logs", timeout=0.5)
    try:
        with pytest.raises(TransientSinkError):
            sink.send([ShipItem("log-a", 1, "record", b"{}")])
    finally:
        sink.close()

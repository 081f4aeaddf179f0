"""OpenTelemetry logs over OTLP/HTTP (protobuf), built on ``opentelemetry-sdk``.

Each item becomes one log record: body = the record's JSON text (or the checkpoint note),
attributes ``ramparts.log_id``, ``ramparts.seq``, ``ramparts.kind``, event name
``ramparts.audit.record`` / ``ramparts.audit.checkpoint``, timestamp from the item.

The SDK's Batch/Simple processors swallow export failures, which would turn at-least-once into
at-most-once. So the sink puts records through a ``LoggerProvider`` (resource, scope, limits) into
a collecting processor and calls ``OTLPLogExporter.export`` on the batch itself: SUCCESS moves
the cursor, FAILURE retries (the exporter also retries 429/5xx itself within ``timeout_seconds``).
The OpenTelemetry logs SDK is still published under ``opentelemetry.sdk._logs``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource

from ..ship import ShipItem, TransientSinkError


class LogEntry(NamedTuple):
    """One log record to export: time (epoch ns, None for now), severity, body, attributes, event name."""

    time_ns: int | None
    severity: SeverityNumber
    severity_text: str
    body: str
    attributes: Mapping[str, str | int | float | bool]
    event: str


class _Collect(LogRecordProcessor):
    """Hands emitted records back to the sink instead of exporting them behind its back."""

    def __init__(self) -> None:
        self.local = threading.local()

    def take(self) -> list[ReadableLogRecord]:
        out: list[ReadableLogRecord] = getattr(self.local, "records", [])
        self.local.records = []
        return out

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        if not hasattr(self.local, "records"):
            self.local.records = []
        self.local.records.append(
            ReadableLogRecord(
                log_record=log_record.log_record,
                resource=log_record.resource or Resource.create({}),
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _nanos(value: str) -> int | None:
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1_000_000_000)
    except ValueError:
        return None


class OtlpSink:
    def __init__(
        self,
        name: str,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        ca_file: str | None = None,
        service_name: str = "ramparts",
    ) -> None:
        self.name = name
        self.exporter = OTLPLogExporter(
            endpoint=endpoint, headers=dict(headers or {}), timeout=timeout, certificate_file=ca_file
        )
        self.collect = _Collect()
        self.provider = LoggerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_log_record_processor(self.collect)
        self.logger = self.provider.get_logger("ramparts.audit")

    @classmethod
    def from_options(cls, name: str, o: Mapping[str, Any]) -> OtlpSink:
        return cls(
            name,
            o["endpoint"],
            headers=o.get("headers") or {},
            timeout=float(o.get("timeout_seconds", 10)),
            ca_file=o.get("ca_file") or None,
            service_name=o.get("service_name") or "ramparts",
        )

    def send(self, items: Sequence[ShipItem]) -> Sequence[ShipItem]:
        self.export_logs(
            [
                LogEntry(
                    _nanos(item.time),
                    SeverityNumber.INFO if item.kind == "record" else SeverityNumber.INFO2,
                    "INFO",
                    item.body.decode("utf-8"),
                    {"ramparts.log_id": item.log_id, "ramparts.seq": item.seq, "ramparts.kind": item.kind},
                    f"ramparts.audit.{item.kind}",
                )
                for item in items
            ]
        )
        return []

    def export_logs(self, entries: Sequence[LogEntry]) -> None:
        """Emit the entries as log records and export them in one request; raises
        :class:`TransientSinkError` unless the collector took them (the control plane's alerts use it)."""
        self.collect.take()
        for entry in entries:
            self.logger.emit(
                timestamp=entry.time_ns,
                severity_number=entry.severity,
                severity_text=entry.severity_text,
                body=entry.body,
                attributes=dict(entry.attributes),
                event_name=entry.event,
            )
        batch = self.collect.take()
        if len(batch) != len(entries):
            raise TransientSinkError(
                f"sink {self.name}: {len(entries) - len(batch)} log record(s) were not emitted"
            )
        if self.exporter.export(batch) is not LogRecordExportResult.SUCCESS:
            raise TransientSinkError(f"sink {self.name}: OTLP export failed")

    def close(self) -> None:
        self.provider.shutdown()
        self.exporter.shutdown()  # type: ignore[no-untyped-call]

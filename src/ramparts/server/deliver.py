"""Alert delivery (``monitor.deliver``): webhooks in Slack's and Teams' message shapes or the alert as
JSON; syslog with the alert as JSON or CEF; OpenTelemetry logs over OTLP/HTTP. The ``deliveries`` table is the outbox: every alert at or above a sink's ``min_severity`` gets a row
when it is raised (in the same transaction), and :func:`deliver_due` posts what is due, retrying with
exponential backoff; after 8 failures the store records a ``delivery.failed`` alert."""

from __future__ import annotations

import http.client
import json
import logging
import os
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

from ..monitor import Delivery
from .store import Alert, ServerStore

log = logging.getLogger("ramparts.server")


def payload(alert: Alert, shape: str) -> dict[str, Any]:
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(alert.at))
    title = f"Ramparts {alert.severity} alert: {alert.rule}"
    facts = [
        ("host", alert.host or "-"),
        ("user", alert.user or "-"),
        ("session", alert.session or "-"),
        ("response", alert.response or "alert only"),
        ("time", when),
    ]
    if shape == "slack":
        lines = "\n".join(f"*{k}:* {v}" for k, v in facts)
        return {
            "text": f"{title}: {alert.message}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"{alert.message}\n{lines}"[:3000]}},
            ],
        }
    if shape == "teams":
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": title,
            "themeColor": {"high": "D13438", "medium": "FFB900"}.get(alert.severity, "0078D7"),
            "title": title,
            "sections": [{"text": alert.message, "facts": [{"name": k, "value": v} for k, v in facts]}],
        }
    return {"alert": alert._asdict(), "source": "ramparts"}


class DeliveryError(Exception):
    pass


def post(sink: Delivery, body: dict[str, Any]) -> None:
    parts = urlsplit(sink.url)
    headers = {"Content-Type": "application/json", "User-Agent": "ramparts-alerts"}
    if sink.token_env:
        token = os.environ.get(sink.token_env, "")
        if not token:
            raise DeliveryError(f"environment variable {sink.token_env} is empty")
        headers["Authorization"] = f"Bearer {token}"
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "",
            parts.port,
            timeout=sink.timeout_seconds,
            context=ssl.create_default_context(),
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=sink.timeout_seconds)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        response.read(65536)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"POST failed: {type(exc).__name__}") from exc
    finally:
        conn.close()
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook answered {status}")


def send_syslog(sink: Delivery, alert: Alert) -> None:
    """One RFC 5424 message through the audit shipper's syslog sink; MSG is the alert as JSON, or as CEF
    (:mod:`ramparts.server.cef`) when the sink's ``format`` is ``cef``."""
    from .. import __version__
    from ..audit.ship import ShipItem, SinkError
    from ..audit.sinks.syslog import SyslogSink
    from .cef import syslog_message

    options = dict(sink.syslog, timeout_seconds=sink.timeout_seconds, app_name="ramparts-alerts")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(alert.at))
    body = json.dumps(alert._asdict(), sort_keys=True, separators=(",", ":")).encode()
    try:
        syslog = SyslogSink.from_options(sink.name, options)
        try:
            if sink.format == "cef":
                message = syslog_message(
                    alert,
                    version=__version__,
                    hostname=str(syslog.fmt["hostname"]),
                    facility=int(options["facility"]),
                )
                syslog.send_messages([message])
            elif syslog.send([ShipItem("alerts", alert.id, "record", body, when)]):
                raise DeliveryError("the syslog sink did not take the message")
        finally:
            syslog.close()
    except SinkError as exc:
        raise DeliveryError(str(exc)) from exc
    except OSError as exc:
        raise DeliveryError(f"syslog: {type(exc).__name__}") from exc


def send_otlp(sink: Delivery, alert: Alert) -> None:
    """One OpenTelemetry log record over OTLP/HTTP (protobuf) through the audit shipper's OTLP sink: body
    the alert's message, event ``ramparts.alert``, the alert's fields as ``ramparts.alert.*`` attributes,
    severity WARN (medium), ERROR (high) or INFO (low)."""
    try:
        from opentelemetry._logs import SeverityNumber

        from ..audit.ship import SinkError
        from ..audit.sinks.otlp import LogEntry, OtlpSink
    except ImportError as exc:
        raise DeliveryError("OTLP delivery needs the otel extra (opentelemetry-sdk)") from exc
    headers = {}
    if sink.token_env:
        token = os.environ.get(sink.token_env, "")
        if not token:
            raise DeliveryError(f"environment variable {sink.token_env} is empty")
        headers["Authorization"] = f"Bearer {token}"
    severity = {"high": SeverityNumber.ERROR, "medium": SeverityNumber.WARN}.get(
        alert.severity, SeverityNumber.INFO
    )
    attributes: dict[str, str | int | float | bool] = {
        f"ramparts.alert.{key}": value
        for key, value in alert._asdict().items()
        if key != "acknowledged" and value not in ("", None)
    }
    entry = LogEntry(
        int(alert.at * 1_000_000_000),
        severity,
        alert.severity.upper(),
        alert.message,
        attributes,
        "ramparts.alert",
    )
    try:
        otlp = OtlpSink(
            sink.name,
            sink.url,
            headers=headers,
            timeout=sink.timeout_seconds,
            ca_file=sink.ca_file or None,
            service_name="ramparts-control-plane",
        )
        try:
            otlp.export_logs([entry])
        finally:
            otlp.close()
    except SinkError as exc:
        raise DeliveryError(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"otlp: {type(exc).__name__}") from exc


def deliver_due(store: ServerStore, now: float | None = None) -> tuple[int, int]:
    """One pass over the due deliveries; returns (delivered, failed)."""
    sinks = {d.name: d for d in store.monitor.deliver}
    done = failed = 0
    for name, alert in store.due_deliveries(now):
        sink = sinks.get(name)
        try:
            if sink is None:
                raise DeliveryError("the sink is no longer configured")
            if sink.type == "syslog":
                send_syslog(sink, alert)
            elif sink.type == "otlp":
                send_otlp(sink, alert)
            else:
                post(sink, payload(alert, sink.format))
        except DeliveryError as exc:
            store.delivery_failed(alert.id, name, str(exc), now)
            failed += 1
            continue
        store.delivery_done(alert.id, name, now)
        done += 1
    return done, failed

"""Alert delivery to webhooks (``monitor.deliver``): Slack's and Teams' message shapes, or the alert as
JSON. The ``deliveries`` table is the outbox: every alert at or above a sink's ``min_severity`` gets a row
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
    """One RFC 5424 message through the audit shipper's syslog sink (MSG: the alert as JSON)."""
    from ..audit.ship import ShipItem, SinkError
    from ..audit.sinks.syslog import SyslogSink

    options = dict(sink.syslog, timeout_seconds=sink.timeout_seconds, app_name="ramparts-alerts")
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(alert.at))
    body = json.dumps(alert._asdict(), sort_keys=True, separators=(",", ":")).encode()
    try:
        syslog = SyslogSink.from_options(sink.name, options)
        try:
            if syslog.send([ShipItem("alerts", alert.id, "record", body, when)]):
                raise DeliveryError("the syslog sink did not take the message")
        finally:
            syslog.close()
    except SinkError as exc:
        raise DeliveryError(str(exc)) from exc
    except OSError as exc:
        raise DeliveryError(f"syslog: {type(exc).__name__}") from exc


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
            else:
                post(sink, payload(alert, sink.format))
        except DeliveryError as exc:
            store.delivery_failed(alert.id, name, str(exc), now)
            failed += 1
            continue
        store.delivery_done(alert.id, name, now)
        done += 1
    return done, failed

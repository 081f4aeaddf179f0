"""Alert delivery as CEF over syslog (RFC 5424, octet-counted TCP) and as OpenTelemetry logs over OTLP/HTTP,
each to a real listener on loopback that parses what arrives (the collector decodes the protobuf)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.errors import PolicyError
from ramparts.monitor import parse_monitor
from ramparts.server.cef import cef, extension_value, header_value, syslog_message
from ramparts.server.deliver import deliver_due
from ramparts.server.store import Alert, ServerStore

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

ALERT = Alert(
    7,
    1_700_000_000.25,
    "high",
    "rate.tool_calls",
    "h-1",
    "ana",
    "s1",
    "log-a",
    "31 tool calls in 60 s",
    "kill",
    None,
)


# -- a reader for what a SIEM receives: CEF header and extension, per the escaping rules --------------------


def split_header(text: str) -> list[str]:
    """The 7 header fields and the extension (unescaping ``\\|`` and ``\\\\``)."""
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text) and len(fields) < 7:
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "\\|":
            current.append(text[i + 1])
            i += 2
            continue
        if ch == "|":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    assert len(fields) == 7, text
    return [*fields, text[i:]]


def parse_extension(text: str) -> dict[str, str]:
    """key=value pairs separated by spaces; a value runs to the space before the next unescaped ``key=``."""
    out: dict[str, str] = {}
    starts = [m for m in re.finditer(r"(?:^| )([A-Za-z0-9]+)=", text) if not _escaped(text, m.end() - 1)]
    for n, m in enumerate(starts):
        end = starts[n + 1].start() if n + 1 < len(starts) else len(text)
        out[m.group(1)] = unescape_value(text[m.end() : end])
    return out


def _escaped(text: str, at: int) -> bool:
    slashes = 0
    while at - 1 - slashes >= 0 and text[at - 1 - slashes] == "\\":
        slashes += 1
    return slashes % 2 == 1


def unescape_value(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value)


_plain = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cf"), blacklist_characters="\ufeff"),
    max_size=60,
)
_any = st.text(max_size=60)


@given(_plain.map(lambda s: s.replace("\n", "").replace("\r", "")), _plain)
def test_cef_values_round_trip(head: str, value: str) -> None:
    alert = ALERT._replace(rule=head or "r", message=value + " x=y | \\ \n\r end")
    fields = split_header(cef(alert, "1.0"))
    assert fields[:4] == ["CEF:0", "Ramparts", "Ramparts Control Plane", "1.0"]
    assert fields[4] == (head or "r")[:1023]
    ext = parse_extension(fields[7])
    assert ext["msg"] == (value + " x=y | \\ \n\r end")
    assert ext["cat"] == head or not head


@given(_any)
def test_cef_values_cannot_break_out(value: str) -> None:
    head, ext = header_value(value), extension_value(value)
    for text in (head, ext):
        assert "\n" not in text and "\r" not in text
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert "|" not in re.sub(r"\\.", "", head)  # every pipe in a header field is escaped
    assert "=" not in re.sub(r"\\.", "", ext)  # every equals sign in a value is escaped
    forged = ALERT._replace(message=value, user=value, rule=value or "r")
    fields = split_header(cef(forged, "1"))
    assert set(parse_extension(fields[7])) <= {
        "rt",
        "externalId",
        "cat",
        "msg",
        "shost",
        "suser",
        "act",
        "cs1Label",
        "cs1",
        "cs2Label",
        "cs2",
    }


def test_cef_syslog_message_shape() -> None:
    message = syslog_message(ALERT._replace(user="zoë"), version="0.1.0", hostname="cp 1", facility=13)
    head, _, rest = message.partition(b"\xef\xbb\xbf")  # non-ASCII: MSG-UTF8 with its BOM
    assert head == b"<106>1 2023-11-14T22:13:20.250Z cp1 ramparts-alerts - alert - "
    fields = split_header(rest.decode("utf-8"))
    assert fields[4:7] == ["rate.tool_calls", "high alert: rate.tool_calls", "8"]
    ext = parse_extension(fields[7])
    assert ext == {
        "rt": "1700000000250",
        "externalId": "7",
        "cat": "rate.tool_calls",
        "msg": "31 tool calls in 60 s",
        "shost": "h-1",
        "suser": "zoë",
        "act": "kill",
        "cs1Label": "session",
        "cs1": "s1",
        "cs2Label": "logId",
        "cs2": "log-a",
    }
    assert b"\xef\xbb\xbf" not in syslog_message(ALERT, version="0", hostname="h")


# -- delivery end to end --------------------------------------------------------------------------------------


class SyslogListener:
    """A TCP syslog collector on loopback reading RFC 6587 octet-counted frames."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.port = int(self.sock.getsockname()[1])
        self.data = b""
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(5)
            while chunk := conn.recv(65536):
                self.data += chunk

    def frames(self) -> list[bytes]:
        self.thread.join(timeout=10)
        self.sock.close()
        out, data = [], self.data
        while data:
            length, _, data = data.partition(b" ")
            out.append(data[: int(length)])
            data = data[int(length) :]
        return out


def test_alerts_reach_syslog_as_cef(store_url: str) -> None:
    listener = SyslogListener()
    config = parse_monitor(
        {
            "deliver": [
                {
                    "name": "arcsight",
                    "type": "syslog",
                    "format": "cef",
                    "host": "127.0.0.1",
                    "port": listener.port,
                    "transport": "tcp",
                    "facility": 10,
                }
            ]
        }
    )
    with ServerStore(store_url, monitor=config) as store:
        with store._tx() as tx:
            store._alert(
                tx,
                1000.0,
                "high",
                "rate.tool_calls",
                "31 calls|in=60 s\nforged=1",
                host="h",
                session="s1",
                response="kill",
            )
        assert deliver_due(store, 1000.0) == (1, 0)
    (frame,) = listener.frames()
    assert frame.startswith(b"<82>1 1970-01-01T00:16:40.000Z ")  # facility 10, severity critical
    text = frame.decode("ascii")
    assert "\n" not in text
    fields = split_header(text[text.index("CEF:0") :])
    assert fields[4:7] == ["rate.tool_calls", "high alert: rate.tool_calls", "8"]
    ext = parse_extension(fields[7])
    assert ext["msg"] == "31 calls|in=60 s\nforged=1" and "forged" not in ext
    assert (ext["act"], ext["cs1"], ext["shost"]) == ("kill", "s1", "h")


def test_syslog_format_is_checked() -> None:
    with pytest.raises(PolicyError) as info:
        parse_monitor({"deliver": [{"name": "x", "type": "syslog", "host": "h", "format": "leef"}]})
    assert info.value.problem.startswith("monitor.deliver[0].format")


class OtlpCollector:
    """An OTLP/HTTP logs receiver on loopback: decodes each ExportLogsServiceRequest; answers ``statuses``
    in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.records: list[dict[str, Any]] = []
        self.authorization: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = outer.statuses.pop(0) if outer.statuses else 200
                if status == 200 and self.path == "/v1/logs":
                    request = ExportLogsServiceRequest()
                    request.ParseFromString(body)
                    outer.authorization.append(str(self.headers.get("Authorization", "")))
                    for rl in request.resource_logs:
                        resource = {a.key: a.value.string_value for a in rl.resource.attributes}
                        for sl in rl.scope_logs:
                            for rec in sl.log_records:
                                attrs = {
                                    a.key: getattr(a.value, str(a.value.WhichOneof("value")))
                                    for a in rec.attributes
                                }
                                outer.records.append(
                                    {
                                        "service": resource.get("service.name"),
                                        "event": rec.event_name,
                                        "body": rec.body.string_value,
                                        "severity": rec.severity_text,
                                        "severity_number": rec.severity_number,
                                        "time": rec.time_unix_nano,
                                        "attributes": attrs,
                                    }
                                )
                payload = ExportLogsServiceResponse().SerializeToString()
                self.send_response(status)
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


@pytest.fixture
def collector() -> Iterator[OtlpCollector]:
    c = OtlpCollector([400])  # the first export is refused (not retried by the exporter: a 4xx)
    yield c
    c.close()


def test_alerts_reach_an_otlp_collector(
    store_url: str, collector: OtlpCollector, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTLP_TOKEN", "t0ken-value")
    config = parse_monitor(
        {
            "deliver": [
                {
                    "name": "otel",
                    "type": "otlp",
                    "url": collector.endpoint,
                    "token_env": "OTLP_TOKEN",
                    "timeout_seconds": 2,
                }
            ]
        }
    )
    with ServerStore(store_url, monitor=config) as store:
        with store._tx() as tx:
            store._alert(
                tx, 1000.0, "high", "rate.tool_calls", "31 tool calls in 60 s", host="h", session="s1"
            )
            store._alert(tx, 1000.0, "low", "log.only", "below the sink's min_severity", host="h")
        assert deliver_due(store, 1000.0) == (0, 1)  # refused once: recorded, retried later
        alert_id = max(a.id for a in store.alerts() if a.rule == "rate.tool_calls")
        sink, attempts, error, delivered, gave_up = store.deliveries(alert_id)[0]
        assert (sink, attempts, delivered, gave_up) == (
            "otel",
            1,
            False,
            False,
        ) and "OTLP export failed" in error
        assert deliver_due(store, 1500.0) == (1, 0)
        assert store.deliveries(alert_id)[0][3] is True
    (record,) = collector.records
    assert record["service"] == "ramparts-control-plane"
    assert record["event"] == "ramparts.alert"
    assert record["body"] == "31 tool calls in 60 s"
    assert (record["severity"], record["severity_number"]) == ("HIGH", 17)  # ERROR
    assert record["time"] == 1000 * 1_000_000_000
    assert record["attributes"]["ramparts.alert.rule"] == "rate.tool_calls"
    assert record["attributes"]["ramparts.alert.session"] == "s1"
    assert record["attributes"]["ramparts.alert.id"] == alert_id
    assert collector.authorization == ["Bearer t0ken-value"]


def test_otlp_config_is_checked() -> None:
    for bad, where in (
        ({"name": "x", "type": "otlp", "url": "grpc://x"}, "monitor.deliver[0].url"),
        ({"name": "x", "type": "otlp", "url": "https://x", "format": "slack"}, "monitor.deliver[0].format"),
        ({"name": "x", "type": "otlp", "url": "https://x", "ca_file": 3}, "monitor.deliver[0].ca_file"),
    ):
        with pytest.raises(PolicyError) as info:
            parse_monitor({"deliver": [bad]})
        assert info.value.problem.startswith(where)

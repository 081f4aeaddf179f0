"""JSONL, syslog (UDP, TCP octet counting, TLS) and HTTP collector sinks against servers on 127.0.0.1."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ramparts.audit.ship import (
    Cursor,
    PermanentSinkError,
    ShipItem,
    Shipper,
    TransientSinkError,
)
from ramparts.audit.ship_sources import MemorySource
from ramparts.audit.sinks import envelope
from ramparts.audit.sinks.http import HttpSink, read_token
from ramparts.audit.sinks.jsonl import JsonlSink
from ramparts.audit.sinks.syslog import SyslogSink, ascii_json, format_message, frame, param_value, timestamp

NASTY = {"cmd": 'echo hi\r\n<13>1 forged\x1b[31m\u202eevil\u2028\u0085 ]"\\ 😀', "n": 1.5, "ok": True}
BODY = json.dumps(NASTY, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _item(seq: int = 1, body: bytes = BODY, kind: str = "record", log_id: str = "log-a") -> ShipItem:
    return ShipItem(log_id, seq, kind, body, "2026-05-01T12:00:00.123456789Z")  # type: ignore[arg-type]


# -- envelope and JSONL -------------------------------------------------------------------------------------


def test_envelope_splices_the_record_bytes_verbatim() -> None:
    data = envelope(_item())
    assert BODY in data and b"\n" not in data
    parsed = json.loads(data)
    assert parsed == {"kind": "record", "log_id": "log-a", "seq": 1, "time": _item().time, "record": NASTY}
    note = "origin\n3\nroot=\n\n— key c2ln\n"
    cp = json.loads(envelope(_item(3, note.encode(), "checkpoint")))
    assert cp["checkpoint"] == note and cp["kind"] == "checkpoint"
    with pytest.raises(ValueError):
        envelope(_item(body=b'1, "injected": 2'))


def test_jsonl_appends_one_line_per_item_and_heals_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "audit.jsonl"
    sink = JsonlSink("f", str(path))
    assert sink.send([_item(1), _item(2)]) == []
    with open(path, "ab") as fh:
        fh.write(b'{"kind":"record","seq":3,"rec')  # a crash mid-write
    sink.send([_item(3)])
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = []
    for line in lines[:-1]:
        try:
            parsed.append(json.loads(line)["seq"])
        except ValueError:
            parsed.append("torn")
    assert parsed == [1, 2, "torn", 3]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_jsonl_write_error_is_transient(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(TransientSinkError, match="cannot append"):
        JsonlSink("f", str(tmp_path / "dir")).send([_item()])


# -- syslog formatting ----------------------------------------------------------------------------------------

_MSG = re.compile(
    r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\[(?:[^\]\\]|\\.)*\]) (.*)$",
    re.DOTALL,
)


def test_syslog_message_is_rfc5424_and_msg_keeps_the_json_value() -> None:
    message = format_message(_item(42, log_id='l"o\\g]'), hostname="ws-1")
    assert all(32 <= b <= 126 for b in message)  # no CR, LF, ESC, bidi or any non-ASCII byte
    match = _MSG.match(message.decode())
    assert match, message
    pri, ts, host, app, procid, msgid, sd, msg = match.groups()
    assert int(pri) == 13 * 8 + 6
    assert ts == "2026-05-01T12:00:00.123456Z"  # at most 6 fraction digits
    assert (host, app, procid, msgid) == ("ws-1", "ramparts", "-", "record")
    assert sd == '[ramparts@32473 log_id="l\\"o\\\\g\\]" seq="42" kind="record"]'
    assert json.loads(msg) == NASTY
    cp = format_message(_item(7, b"origin\n7\nroot\n\n- k sig\n", "checkpoint"))
    cp_match = _MSG.match(cp.decode())
    assert cp_match and int(cp_match.group(1)) == 13 * 8 + 5
    assert json.loads(cp_match.group(8)) == {"checkpoint": "origin\n7\nroot\n\n- k sig\n"}


def test_syslog_escaping_helpers() -> None:
    assert param_value('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    assert "\n" not in param_value("x\ny") and "\u202e" not in param_value("\u202e")
    assert ascii_json('"😀\u2028"') == '"\\ud83d\\ude00\\u2028"'
    assert json.loads(ascii_json('"😀\u2028"')) == "😀\u2028"
    assert (
        timestamp("yesterday") == "-"
        and timestamp("2026-05-01T12:00:00+02:00") == "2026-05-01T12:00:00+02:00"
    )
    assert frame(b"<1>1 - - - - - -") == b"16 <1>1 - - - - - -"


def test_syslog_rejects_a_bad_sd_id() -> None:
    with pytest.raises(PermanentSinkError, match="SD-ID"):
        SyslogSink("s", "127.0.0.1", 514, sd_id='bad"id')


# -- syslog transports --------------------------------------------------------------------------------------


def _read_frames(data: bytes) -> list[bytes]:
    frames = []
    while data:
        length, _, rest = data.partition(b" ")
        n = int(length)
        frames.append(rest[:n])
        data = rest[n:]
    return frames


class _TcpServer:
    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.context = context
        self.data = b""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
            conn.settimeout(10)
            with conn:
                while chunk := conn.recv(65536):
                    self.data += chunk
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.done.set()

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=10)


def test_syslog_udp_one_datagram_per_item() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)
    try:
        sink = SyslogSink("s", "127.0.0.1", server.getsockname()[1], transport="udp", hostname="ws")
        sink.send([_item(1), _item(2)])
        got = [server.recv(65536) for _ in range(2)]
        sink.close()
    finally:
        server.close()
    assert [json.loads(_MSG.match(g.decode()).group(8)) for g in got] == [NASTY, NASTY]  # type: ignore[union-attr]
    assert [b' seq="1" ' in got[0], b' seq="2" ' in got[1]] == [True, True]


def test_syslog_tcp_octet_counting_frames() -> None:
    server = _TcpServer()
    try:
        sink = SyslogSink("s", "127.0.0.1", server.port, transport="tcp", hostname="ws")
        sink.send([_item(1), _item(2)])
        sink.send([_item(3)])
        sink.close()
        assert server.done.wait(10)
    finally:
        server.close()
    frames = _read_frames(server.data)
    assert len(frames) == 3
    for seq, message in enumerate(frames, start=1):
        match = _MSG.match(message.decode())
        assert match and f'seq="{seq}"' in match.group(7)
        assert json.loads(match.group(8)) == NASTY


def test_syslog_tcp_refused_is_transient_and_reconnects() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    sink = SyslogSink("s", "127.0.0.1", port, transport="tcp", timeout=2)
    with pytest.raises(TransientSinkError, match="syslog tcp"):
        sink.send([_item()])


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "syslog.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("syslog.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_syslog_over_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = _TcpServer(server_ctx)
    try:
        sink = SyslogSink.from_options(
            "s",
            {
                "host": "127.0.0.1",
                "port": server.port,
                "transport": "tls",
                "ca_file": str(cert),
                "hostname": "ws",
            },
        )
        sink.send([_item(1), _item(2, kind="checkpoint", body=b"o\n2\nr\n")])
        sink.close()
        assert server.done.wait(10)
    finally:
        server.close()
    frames = _read_frames(server.data)
    assert [f.split(b" ")[5] for f in frames] == [b"record", b"checkpoint"]


def test_syslog_tls_refuses_an_untrusted_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = _TcpServer(server_ctx)
    try:
        sink = SyslogSink.from_options("s", {"host": "127.0.0.1", "port": server.port, "transport": "tls"})
        with pytest.raises(TransientSinkError, match="not trusted"):
            sink.send([_item()])
    finally:
        server.close()
    assert server.data == b""


# -- HTTP collector -----------------------------------------------------------------------------------------


class _Collector:
    """A local collector: answers each POST with the next scripted status (then 200)."""

    def __init__(self, statuses: list[int], delay: float = 0.0) -> None:
        self.statuses = statuses
        self.delay = delay
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, dict(self.headers), json.loads(body)))
                time.sleep(outer.delay)
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]  # a client that timed out
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/audit"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[_Collector]:
    c = _Collector([])
    yield c
    c.close()


def test_http_posts_a_batch_with_the_bearer_token(collector: _Collector) -> None:
    sink = HttpSink("c", collector.url, "tok-123", timeout=5)
    assert sink.send([_item(1), _item(2, b"o\n2\nr\n", "checkpoint")]) == []
    path, headers, body = collector.requests[0]
    assert path == "/v1/audit" and headers["Authorization"] == "Bearer tok-123"
    assert body["log_id"] == "log-a"
    assert [(i["seq"], i["kind"]) for i in body["items"]] == [(1, "record"), (2, "checkpoint")]
    assert body["items"][0]["record"] == NASTY and body["items"][1]["checkpoint"] == "o\n2\nr\n"


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_http_5xx_and_throttling_are_retried(status: int, tmp_path: Path) -> None:
    c = _Collector([status, status])
    try:
        src = MemorySource("log-a")
        src.append(BODY)
        now = [0.0]
        shipper = Shipper(
            src,
            Cursor(tmp_path / "ship.db"),
            [HttpSink("c", c.url, "t")],
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
        assert shipper.run(until_idle=True).ok
        assert len(c.requests) == 3
    finally:
        c.close()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 302])
def test_http_4xx_and_redirects_are_permanent(status: int) -> None:
    c = _Collector([status])
    try:
        with pytest.raises(PermanentSinkError, match=f"answered {status}"):
            HttpSink("c", c.url, "t").send([_item()])
        assert len(c.requests) == 1  # the redirect was not followed
    finally:
        c.close()


def test_http_timeout_is_transient() -> None:
    c = _Collector([], delay=1.0)
    try:
        with pytest.raises(TransientSinkError, match="POST failed"):
            HttpSink("c", c.url, "t", timeout=0.2).send([_item()])
    finally:
        c.close()


def test_http_token_comes_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIP_TOKEN", "from-env")
    assert read_token("c", {"token_env": "SHIP_TOKEN"}) == "from-env"
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert read_token("c", {"token_file": str(token_file)}) == "from-file"
    monkeypatch.setenv("SHIP_TOKEN", "two\nlines")
    with pytest.raises(PermanentSinkError, match="not a single line"):
        read_token("c", {"token_env": "SHIP_TOKEN"})
    with pytest.raises(PermanentSinkError, match="cannot read"):
        read_token("c", {"token_file": os.fspath(tmp_path / "missing")})


def test_syslog_tcp_reconnects_after_the_server_closed_the_connection() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(10)
    try:
        sink = SyslogSink("s", "127.0.0.1", listener.getsockname()[1], transport="tcp", hostname="ws")
        sink.send([_item(1)])
        first, _ = listener.accept()
        first.settimeout(10)
        assert _read_frames(first.recv(65536))[0].startswith(b"<110>1 ")
        first.close()  # e.g. an idle timeout on the server
        time.sleep(0.05)
        sink.send([_item(2)])
        second, _ = listener.accept()
        second.settimeout(10)
        assert b'seq="2"' in second.recv(65536)
        second.close()
        sink.close()
    finally:
        listener.close()


def test_http_over_tls_with_a_private_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _self_signed(tmp_path)
    c = _Collector([])
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    c.server.socket = server_ctx.wrap_socket(c.server.socket, server_side=True)
    url = c.url.replace("http://", "https://")
    monkeypatch.setenv("RAMPARTS_TEST_TOKEN", "tls-token")
    try:
        sink = HttpSink.from_options(
            "c", {"url": url, "token_env": "RAMPARTS_TEST_TOKEN", "ca_file": str(cert)}
        )
        assert sink.send([_item()]) == []
        assert c.requests[0][1]["Authorization"] == "Bearer tls-token"
        untrusted = HttpSink("c", url, "t")  # the system trust store does not know the test CA
        with pytest.raises(TransientSinkError):
            untrusted.send([_item()])
        assert len(c.requests) == 1
    finally:
        c.close()

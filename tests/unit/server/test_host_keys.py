"""Log signing keys bound to host tokens (no trust on first use per log): the token's first key is its
enrolment, an admin may pin keys, and an unknown key for a known host is quarantined with an alert, on
SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ramparts.server.app import create_app
from ramparts.server.batch import parse_batch
from ramparts.server.store import ServerStore
from tests.server_harness import HostLog, asgi_request, hook_record


def _log(tmp_path: Path, name: str, session: str, n: int = 3) -> HostLog:
    log = HostLog(tmp_path / name, checkpoint_every=2)
    for i in range(n):
        log.append(hook_record(session, time.time() + i))
    return log


def _verifier(log: HostLog) -> str:
    meta = log.store.log.meta()
    assert meta is not None
    return meta.verifier


def test_a_second_key_for_a_known_host_is_quarantined_until_pinned(
    server: ServerStore, tmp_path: Path
) -> None:
    token, _ = server.create_token("host", "host-a")
    first, second = _log(tmp_path, "one", "s-one"), _log(tmp_path, "two", "s-two")
    try:
        assert server.ingest(token, parse_batch(first.body())).accepted == 3
        ((tid, host, key, source),) = [(k.token_id, k.host, k.verifier, k.source) for k in server.host_keys()]
        assert (tid, host, key, source) == (token.id, "host-a", _verifier(first), "enrolled")

        result = server.ingest(token, parse_batch(second.body()))
        assert (result.state, result.accepted, result.quarantined, result.alerts) == ("unknown_key", 0, 4, 1)
        assert server.session_records("s-two") == []
        assert {k for _, k, _ in server.quarantined(second.log_id)} == {"unknown_key"}
        (alert,) = [a for a in server.alerts() if a.rule == "integrity.unknown_key"]
        assert alert.severity == "high" and alert.host == "host-a" and second.log_id in alert.message
        assert _verifier(second) not in alert.message  # the alert names the key; the list shows it whole
        unknown = [k for k in server.host_keys() if k.source == "unknown"]
        assert [(k.token_id, k.host, k.verifier) for k in unknown] == [
            (token.id, "host-a", _verifier(second))
        ]
        assert server.logs()[0].log_id == first.log_id and len(server.logs()) == 1  # never merged

        again = server.ingest(token, parse_batch(second.body()))  # the host retries: no new alert or copy
        assert (again.state, again.quarantined, again.alerts) == ("unknown_key", 0, 0)
        assert len(server.quarantined(second.log_id)) == 4

        server.pin_key(token.id, unknown[0].verifier, "security-team")
        assert server.ingest(token, parse_batch(second.body())).accepted == 3
        assert [r["session"] for r in server.session_records("s-two")] == ["s-two"] * 3
        assert {k.source for k in server.host_keys()} == {"enrolled", "pinned"}
    finally:
        first.close()
        second.close()


def test_a_pinned_key_means_no_enrolment_by_first_use(server: ServerStore, tmp_path: Path) -> None:
    token, _ = server.create_token("host", "host-a")
    expected, impostor = _log(tmp_path, "expected", "s-ok"), _log(tmp_path, "impostor", "s-bad")
    try:
        server.pin_key(token.id, _verifier(expected), "security-team")
        assert server.ingest(token, parse_batch(impostor.body())).state == "unknown_key"
        assert server.ingest(token, parse_batch(expected.body())).accepted == 3
        assert [k.source for k in server.host_keys() if k.source != "unknown"] == ["pinned"]
        server.unpin_key(token.id, _verifier(expected))
        expected.append(hook_record("s-ok", time.time() + 10))
        assert server.ingest(token, parse_batch(expected.body())).accepted == 1  # a log held keeps its key
    finally:
        expected.close()
        impostor.close()


def test_keys_of_logs_shipped_before_binding_are_kept(server: ServerStore, tmp_path: Path) -> None:
    token, _ = server.create_token("host", "host-a")
    old, new = _log(tmp_path, "old", "s-old"), _log(tmp_path, "new", "s-new")
    try:
        server.ingest(token, parse_batch(old.body()))
        server.unpin_key(token.id, _verifier(old))  # as a store from before keys were bound
        assert server.ingest(token, parse_batch(new.body())).accepted == 3
        sources = {k.verifier: k.source for k in server.host_keys()}
        assert sources == {_verifier(new): "enrolled", _verifier(old): "existing"}
    finally:
        old.close()
        new.close()


def test_pinning_checks_the_key_and_the_token(server: ServerStore, tmp_path: Path) -> None:
    host, _ = server.create_token("host", "host-a")
    admin, _ = server.create_token("admin", "people")
    log = _log(tmp_path, "k", "s")
    try:
        with pytest.raises(ValueError, match="verifier key"):
            server.pin_key(host.id, "not-a-key", "x")
        with pytest.raises(ValueError, match="no live host token"):
            server.pin_key(admin.id, _verifier(log), "x")
        server.revoke_token(host.id)
        with pytest.raises(ValueError, match="no live host token"):
            server.pin_key(host.id, _verifier(log), "x")
    finally:
        log.close()


def test_the_api_answers_409_for_an_unknown_key(server: ServerStore, tmp_path: Path) -> None:
    _, secret = server.create_token("host", "host-a")
    app = create_app(server)
    first, second = _log(tmp_path, "one", "s-one"), _log(tmp_path, "two", "s-two")
    try:
        assert asgi_request(app, "POST", "/v1/ingest", first.body(), secret)[0] == 200
        status, answer = asgi_request(app, "POST", "/v1/ingest", second.body(), secret)
        assert status == 409 and answer["state"] == "unknown_key" and "not bound" in answer["error"]
    finally:
        first.close()
        second.close()


def test_the_shipper_keeps_a_409_batch_and_retries(tmp_path: Path) -> None:
    """An unknown key's batch stays in the host's log (a transient error), unlike a 403 (permanent)."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from ramparts.audit.ship import PermanentSinkError, TransientSinkError
    from ramparts.audit.sinks.server import ServerSink

    statuses = [409, 403]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(statuses.pop(0))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    log = _log(tmp_path, "h", "s")
    try:
        from ramparts.audit.ship_sources import StoreSource

        source = StoreSource(log.store)
        sink = ServerSink("cp", f"http://127.0.0.1:{httpd.server_port}", "rpt_x")
        sink.bind_source(source)
        items = source.items_after(-1, 10)
        with pytest.raises(TransientSinkError, match="409"):
            sink.send(items)
        with pytest.raises(PermanentSinkError, match="403"):
            sink.send(items)
    finally:
        log.close()
        httpd.shutdown()
        httpd.server_close()

"""The proxy's behaviour beyond the SSRF table: credentials and the kill switch, the ClientHello's server
name, anomalies (rate, upload size, first-seen, tunnel shapes), report and open modes, Host mismatch,
garbage, and the audit records (valid AuditRecords, never the credential)."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.audit.record import from_json
from ramparts.egress.acl import Anomalies, EgressAcl
from ramparts.egress.credentials import Verifier, mint
from ramparts.egress.proxy import ProxyConfig, egress_record, own_addresses
from ramparts.session.store import SessionStore
from tests.unit.egress.harness import (
    Canary,
    client_hello,
    http_connect,
    http_get,
    read_head,
    running,
    socks_connect,
)

RANGE = (ipaddress.ip_network("127.0.0.2/32"),)
RESOLVE = {"allowed.test": ["127.0.0.2"], "other.test": ["127.0.0.2"]}


def acl(**kw: object) -> EgressAcl:
    base = EgressAcl(allow=("allowed.test", "other.test"), allow_ranges=RANGE, revision="t")
    return base._replace(**kw)  # type: ignore[arg-type]


def basic(client: str, secret: str) -> str:
    return base64.b64encode(f"{client}:{secret}".encode()).decode()


def test_credentials_identify_and_the_kill_switch_reaches_the_proxy(tmp_path: Path) -> None:
    state = str(tmp_path)
    cred = mint(state, user="alice", session="s1")
    assert cred.proxy_url("127.0.0.1", 8789) == f"http://{cred.client}:{cred.secret}@127.0.0.1:8789"
    canary = Canary("127.0.0.2")
    try:
        with running(ProxyConfig(acl=acl(), state_dir=state), resolve=RESOLVE) as proxy:
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            sock.close()
            assert status == 407
            status, sock = http_connect(
                proxy, f"allowed.test:{canary.port}", auth=basic(cred.client, "wrong")
            )
            sock.close()
            assert status == 407
            status, sock = http_connect(
                proxy, f"allowed.test:{canary.port}", auth=basic(cred.client, cred.secret)
            )
            sock.sendall(b"hi")
            assert sock.recv(10) == b"hi"
            sock.close()
            code, sock = socks_connect(proxy, "allowed.test", canary.port, creds=(cred.client, cred.secret))
            assert code == 0
            sock.close()
            code, sock = socks_connect(proxy, "allowed.test", canary.port, creds=(cred.client, "nope"))
            assert code == -1
            sock.close()
            code, sock = socks_connect(proxy, "allowed.test", canary.port)  # no method it accepts
            assert code == -1
            sock.close()
            with SessionStore(tmp_path / "sessions.db") as store:
                store.kill(session_id="s1", reason="incident 42", now=time.time(), by="secops")
            time.sleep(1.1)  # the credential cache holds one second
            status, sock = http_connect(
                proxy, f"allowed.test:{canary.port}", auth=basic(cred.client, cred.secret)
            )
            sock.close()
            assert status == 403
            assert b"incident 42" in proxy.last_answer
            code, sock = socks_connect(proxy, "allowed.test", canary.port, creds=(cred.client, cred.secret))
            assert code == -1
            sock.close()
            rules = [r["rule_ids"][0] for r in proxy.records if r["event"] == "EgressRequest"]
            assert rules.count("egress.killed") == 2 and rules.count("egress.auth") >= 3
            allowed = [r for r in proxy.records if r["decision"] == "allow" and r["event"] == "EgressRequest"]
            assert allowed and all(r["session"] == "s1" and r["user"] == "alice" for r in allowed)
            text = json.dumps(proxy.records)
            assert cred.secret not in text
            for record in proxy.records:
                from_json(record)
    finally:
        canary.close()


def test_verifier_unknown_and_store_absent(tmp_path: Path) -> None:
    verifier = Verifier(str(tmp_path))
    try:
        assert verifier.identify("nobody", "x") is None
        cred = mint(str(tmp_path), user="bob", session="s2")
        identity = verifier.identify(cred.client, cred.secret)
        assert identity is not None and identity.user == "bob"
        assert verifier.stopped(identity) == ""  # no sessions.db yet: nothing stops it
        with SessionStore(tmp_path / "sessions.db") as store:
            store.observe("s2", user="bob", host="h", cwd="/", now=1.0, event="SessionStart")
            store.end("s2", now=2.0)
        assert "closed" in verifier.stopped(identity)
    finally:
        verifier.close()


def test_sni_must_match_the_connect_host() -> None:
    canary = Canary("127.0.0.2")
    try:
        with running(ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve=RESOLVE) as proxy:
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            assert status == 200
            sock.sendall(client_hello("evil.example"))
            sock.settimeout(5)
            assert sock.recv(100) == b""  # closed, nothing echoed
            sock.close()
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            hello = client_hello("allowed.test")
            sock.sendall(hello[:3])  # a ClientHello in pieces
            time.sleep(0.05)
            sock.sendall(hello[3:])
            echoed = b""
            while len(echoed) < len(hello):
                echoed += sock.recv(65536)
            assert echoed == hello
            sock.close()
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            sock.sendall(b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00")  # TLS, but not a ClientHello
            assert sock.recv(100) == b""
            sock.close()
            time.sleep(0.2)
            by_rule = {r["rule_ids"][0]: r for r in proxy.records if r["event"] == "EgressRequest"}
            assert by_rule["egress.sni_mismatch"]["egress"]["sni"] == "evil.example"
            assert "egress.malformed" in by_rule
            assert by_rule["egress.allowed"]["egress"]["sni"] == "allowed.test"
        with running(
            ProxyConfig(acl=acl(mode="report"), state_dir="/x", auth=False), resolve=RESOLVE
        ) as proxy:
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            hello = client_hello("evil.example")
            sock.sendall(hello)
            echoed = b""
            while len(echoed) < len(hello):
                echoed += sock.recv(65536)
            sock.close()
            time.sleep(0.2)
            record = next(r for r in proxy.records if r["event"] == "EgressRequest")
            assert (record["decision"], record["enforced"], record["would"]) == ("allow", False, "deny")
    finally:
        canary.close()


def test_rate_and_upload_anomalies_refuse_in_enforce_and_are_recorded() -> None:
    canary = Canary("127.0.0.2")
    limits = Anomalies(max_requests_per_minute=3, max_upload_bytes=2048)
    try:
        with running(
            ProxyConfig(acl=acl(anomalies=limits), state_dir="/x", auth=False), resolve=RESOLVE
        ) as proxy:
            codes = []
            for _ in range(4):
                status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
                codes.append(status)
                sock.close()
            assert codes == [200, 200, 200, 429]
        with running(
            ProxyConfig(acl=acl(anomalies=Anomalies(max_upload_bytes=2048)), state_dir="/x", auth=False),
            resolve=RESOLVE,
        ) as proxy:
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            sock.sendall(b"x" * 1000)  # plain bytes: no ClientHello to check
            got = b""
            while len(got) < 1000:
                got += sock.recv(65536)
            sock.settimeout(5)
            try:
                for _ in range(20):
                    sock.sendall(b"y" * 4096)
                    time.sleep(0.01)
            except OSError:
                pass
            sock.close()
            time.sleep(0.3)
            anomalies = [r["rule_ids"][0] for r in proxy.records if r["event"] == "EgressAnomaly"]
            assert "egress.anomaly.upload_size" in anomalies
            assert "egress.anomaly.first_seen" in anomalies
            final = [r for r in proxy.records if r["event"] == "EgressRequest"][-1]
            assert final["decision"] == "deny" and final["rule_ids"] == ["egress.anomaly.upload_size"]
            assert final["egress"]["bytes_up"] < 2048 + 4096 * 20
    finally:
        canary.close()


def test_report_mode_lets_denials_through_but_records_them() -> None:
    canary = Canary("127.0.0.1")
    try:
        with running(
            ProxyConfig(acl=acl(mode="report"), state_dir="/x", auth=False), resolve=RESOLVE
        ) as proxy:
            status, sock = http_connect(proxy, f"127.0.0.1:{canary.port}")
            assert status == 200
            sock.close()
            time.sleep(0.2)
            assert canary.hits == 1
            record = [r for r in proxy.records if r["event"] == "EgressRequest"][-1]
            assert record["would"] == "deny" and record["enforced"] is False
            assert record["rule_ids"] == ["egress.address.loopback"]
    finally:
        canary.close()


def test_absolute_form_forwards_and_checks_the_host_header() -> None:
    origin = socket.socket()
    origin.bind(("127.0.0.2", 0))
    origin.listen(4)
    port = origin.getsockname()[1]
    try:
        with running(ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve=RESOLVE) as proxy:
            status, body = http_get(proxy, f"http://allowed.test:{port}/x", host="evil.example")
            assert status == 421
            assert b"differs from the URL's host" in body
            import threading

            seen: list[bytes] = []

            def serve_one() -> None:
                conn, _ = origin.accept()
                with conn:
                    seen.append(read_head(conn))
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

            t = threading.Thread(target=serve_one)
            t.start()
            with proxy.connect() as sock:
                sock.sendall(
                    f"GET http://allowed.test:{port}/p?q=1 HTTP/1.1\r\nHost: allowed.test:{port}\r\n"
                    "Proxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nX-Keep: 1\r\n\r\n".encode()
                )
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            t.join(5)
            assert data.endswith(b"ok")
            head = seen[0].decode()
            assert head.startswith("GET /p?q=1 HTTP/1.1\r\n")
            assert "Proxy-Authorization" not in head and "Proxy-Connection" not in head
            assert "X-Keep: 1" in head and "Connection: close" in head
            status, _body = http_get(proxy, f"https://allowed.test:{port}/")
            assert status == 400
    finally:
        origin.close()


GARBAGE = [
    b"\x00\x01\x02\r\n\r\n",
    b"GET\r\n\r\n",
    b"CONNECT nohost HTTP/1.1\r\n\r\n",
    b"CONNECT [::1 HTTP/1.1\r\n\r\n",
    b"GET ftp://x/ HTTP/1.1\r\n\r\n",
    b"GET http://a.test/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"POST http://allowed.test/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET http://allowed.test/ HTTP/2.0\r\n\r\n",
    b"GET http://allowed.test/ HTTP/1.1\r\nBad Header\r\n\r\n",
    b"A" * 40000 + b"\r\n\r\n",
]


def test_garbage_gets_a_400_or_a_close_and_the_proxy_keeps_serving() -> None:
    canary = Canary("127.0.0.2")
    try:
        with running(ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve=RESOLVE) as proxy:
            for junk in GARBAGE:
                with proxy.connect() as sock:
                    try:
                        sock.sendall(junk)
                        answer = sock.recv(100)
                    except OSError:
                        answer = b""
                assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), (junk[:40], answer)
            for junk in (b"\x05\x01\x00\x05\x02\x00\x09", b"\x05\x01\x00\x04\x01\x00\x01", b"\x05\x00"):
                with proxy.connect() as sock:
                    sock.sendall(junk)
                    sock.settimeout(2)
                    with contextlib.suppress(OSError):
                        sock.recv(100)
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            assert status == 200
            sock.close()
            code, sock = socks_connect(proxy, "allowed.test", canary.port)
            assert code == 0
            sock.close()
    finally:
        canary.close()


def test_unresolvable_and_unreachable() -> None:
    with running(ProxyConfig(acl=acl(allow=("*",)), state_dir="/x", auth=False), resolve=RESOLVE) as proxy:
        status, sock = http_connect(proxy, "nowhere.test:443")
        sock.close()
        assert status == 502
        free = socket.socket()
        free.bind(("127.0.0.2", 0))
        port = free.getsockname()[1]
        free.close()
        status, sock = http_connect(proxy, f"allowed.test:{port}")
        sock.close()
        assert status == 502
        code, sock = socks_connect(proxy, "nowhere.test", 443)
        sock.close()
        assert code == 0x04
        rules = [r["rule_ids"][0] for r in proxy.records if r["event"] == "EgressRequest"]
        assert rules == ["egress.resolve_failed", "egress.connect_failed", "egress.resolve_failed"]


def test_egress_record_shape_and_own_addresses() -> None:
    from ramparts.egress.proxy import _Conn
    from ramparts.model import Decision

    conn = _Conn("connect")
    conn.target = "x.test:443"
    record = egress_record(
        Decision(), conn, event="EgressRequest", now=0.0, user="u", host="h", mode="enforce"
    )
    assert record["time"] == "1970-01-01T00:00:00.000Z" and record["surface"] == "egress"
    assert from_json(record).egress is not None
    assert all(not a.is_loopback for a in own_addresses())


def test_without_a_credential_only_the_model_api_is_reachable(tmp_path: Path) -> None:
    canary = Canary("127.0.0.2")
    resolve = {**RESOLVE, "api.anthropic.com": ["127.0.0.2"]}
    try:
        config = ProxyConfig(acl=acl(allow=("allowed.test", "api.anthropic.com")), state_dir=str(tmp_path))
        with running(config, resolve=resolve) as proxy:
            status, sock = http_connect(proxy, f"api.anthropic.com:{canary.port}")
            sock.close()
            assert status == 200
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            sock.close()
            assert status == 407
    finally:
        canary.close()


def test_absolute_form_forwards_one_bounded_request_and_nothing_pipelined_behind_it() -> None:
    import threading

    origin = socket.socket()
    origin.bind(("127.0.0.2", 0))
    origin.listen(4)
    port = origin.getsockname()[1]
    seen: list[bytes] = []

    def serve(count: int) -> None:
        for _ in range(count):
            conn, _ = origin.accept()
            with conn:
                conn.settimeout(0.5)
                data = b""
                try:
                    while chunk := conn.recv(65536):
                        data += chunk
                except OSError:
                    pass  # nothing more came: answer
                seen.append(data)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    thread = threading.Thread(target=serve, args=(2,))
    thread.start()
    try:
        with running(ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve=RESOLVE) as proxy:
            for payload in (
                f"GET http://allowed.test:{port}/a HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
                "GET /b HTTP/1.1\r\nHost: evil.example\r\n\r\n",
                f"POST http://allowed.test:{port}/p HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 5\r\n\r\n"
                "helloGET /smuggled HTTP/1.1\r\nHost: evil.example\r\n\r\n",
            ):
                with proxy.connect() as sock:
                    sock.sendall(payload.encode())
                    answer = b""
                    while chunk := sock.recv(65536):
                        answer += chunk
                assert answer.endswith(b"ok")
            thread.join(10)
    finally:
        origin.close()
    assert len(seen) == 2
    assert b"evil.example" not in seen[0] and seen[0].count(b"HTTP/1.1") == 1
    assert seen[1].endswith(b"\r\n\r\nhello") and b"smuggled" not in seen[1]


def test_chunked_request_bodies_get_411() -> None:
    with (
        running(ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve=RESOLVE) as proxy,
        proxy.connect() as sock,
    ):
        sock.sendall(b"POST http://allowed.test:1/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 411")


@pytest.fixture(scope="module")
def live_proxy() -> Iterator[Any]:
    with running(
        ProxyConfig(acl=acl(), state_dir="/x", auth=False, head_timeout=1.0), resolve=RESOLVE
    ) as proxy:
        yield proxy


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=300),
        st.builds(
            lambda m, t, rest: f"{m} {t} HTTP/1.1\r\n".encode() + rest + b"\r\n\r\n",
            st.sampled_from(["GET", "CONNECT", "POST", "\x00", "G ET"]),
            st.text(alphabet="abc:/[]@.0x7f1%", max_size=30),
            st.binary(max_size=80),
        ),
        st.builds(lambda rest: b"\x05" + rest, st.binary(max_size=40)),
    )
)
def test_live_fuzz_garbage_never_stops_the_proxy(live_proxy: Any, data: bytes) -> None:
    with live_proxy.connect() as sock:
        sock.settimeout(3)
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            answer = sock.recv(200)
        except OSError:
            answer = b""
    assert answer == b"" or answer.startswith((b"HTTP/1.1 4", b"HTTP/1.1 5", b"\x05", b"\x01")), answer[:60]
    status, sock = http_connect(live_proxy, "allowed.test:1")  # still serving: a real answer comes back
    sock.close()
    assert status in (502, 200)


def test_plain_http_in_a_tunnel_must_name_the_connect_host() -> None:
    canary = Canary("127.0.0.2")
    try:
        with running(ProxyConfig(acl=acl(), state_dir="/x", auth=False), resolve=RESOLVE) as proxy:
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            assert status == 200
            sock.sendall(b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n")
            sock.settimeout(5)
            assert sock.recv(100) == b""
            sock.close()
            status, sock = http_connect(proxy, f"allowed.test:{canary.port}")
            request = f"GET / HTTP/1.1\r\nHost: allowed.test:{canary.port}\r\n\r\n".encode()
            sock.sendall(request)
            echoed = b""
            while len(echoed) < len(request):
                echoed += sock.recv(65536)
            sock.close()
            time.sleep(0.2)
            rules = [r["rule_ids"][0] for r in proxy.records if r["event"] == "EgressRequest"]
            assert rules == ["egress.host_mismatch", "egress.allowed"]
    finally:
        canary.close()

"""Starting the proxy from other code (``make up``, the demo): as a subprocess with a readiness file, and
in this process from a thread; a free port on 127.0.0.1, the records in the state directory."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from ramparts.egress.service import (
    EgressStartError,
    Ready,
    read_ready_file,
    start_in_process,
    start_subprocess,
    write_ready_file,
)
from ramparts.testing import audit_records
from tests.unit.egress.harness import Canary

SRC = str(Path(__file__).resolve().parents[3] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}


def connect(host: str, port: int, target: str) -> int:
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0


def test_subprocess_start_ready_file_serve_and_stop(tmp_path: Path) -> None:
    canary = Canary("127.0.0.2")
    try:
        proxy = start_subprocess(
            str(tmp_path / "state"),
            allow_ranges=["127.0.0.2/32"],
            auth=False,
            dlp=False,
            dns="127.0.0.1:0",
            env=ENV,
            timeout=60,
        )
        with proxy:
            ready = proxy.ready
            assert ready is not None and ready.host == "127.0.0.1" and ready.port > 0
            assert ready.pid == proxy.process.pid and ready.mode == "enforce" and ready.dns is not None
            assert ready.url == f"http://127.0.0.1:{ready.port}"
            assert read_ready_file(proxy.ready_file) == ready
            assert connect(ready.host, ready.port, f"127.0.0.2:{canary.port}") == 200
            assert connect(ready.host, ready.port, "pastebin.com:443") == 403
        assert proxy.process.returncode == 0
        assert not os.path.exists(proxy.ready_file)  # gone when the proxy stops
        decisions = sorted(
            r.decision for r in audit_records(tmp_path / "state") if r.event == "EgressRequest"
        )
        assert decisions == ["allow", "deny"]
    finally:
        canary.close()


def test_subprocess_that_cannot_start_says_why(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\negress:\n  mode: sideways\n")
    with pytest.raises(EgressStartError, match=r"exited: .*p\.yaml:3:9"):
        start_subprocess(str(tmp_path / "state"), policy=str(policy), dlp=False, env=ENV, timeout=60)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        with pytest.raises(EgressStartError, match="exited"):
            start_subprocess(
                str(tmp_path / "state"), listen=f"127.0.0.1:{port}", dlp=False, env=ENV, timeout=60
            )
    finally:
        busy.close()


def test_in_process_start_serve_and_stop(tmp_path: Path) -> None:
    canary = Canary("127.0.0.2")
    try:
        with start_in_process(str(tmp_path), allow_ranges=["127.0.0.2/32"], auth=False, dlp=False) as proxy:
            ready = proxy.ready
            assert ready is not None and ready.pid == os.getpid()
            assert connect(ready.host, ready.port, f"127.0.0.2:{canary.port}") == 200
            assert connect(ready.host, ready.port, "169.254.169.254:80") == 403
        with pytest.raises(OSError):
            socket.create_connection((ready.host, ready.port), timeout=1).close()
    finally:
        canary.close()
    rules = sorted(r.rule_ids[0] for r in audit_records(tmp_path) if r.event == "EgressRequest")
    assert rules == ["egress.allowed_range", "egress.metadata"]


def test_in_process_start_failure_and_ready_file_round_trip(tmp_path: Path) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with pytest.raises(EgressStartError):
            start_in_process(
                str(tmp_path), listen=("127.0.0.1", busy.getsockname()[1]), dlp=False, audit=False
            )
    finally:
        busy.close()
    path = str(tmp_path / "r.json")
    assert read_ready_file(path) is None
    for ready in (Ready("127.0.0.1", 1, None, "report", 2), Ready("::1", 3, ("127.0.0.1", 4), "open", 5)):
        write_ready_file(path, ready)
        assert read_ready_file(path) == ready
    Path(path).write_text('{"proxy": ')  # half a file is not ready
    assert read_ready_file(path) is None

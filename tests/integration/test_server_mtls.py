"""mTLS for the ingest endpoint: the real ``ramparts server`` over TLS on 127.0.0.1 with a client CA; certificates
made here with ``cryptography``. A shipper without a certificate, or with one naming another host, is refused;
one from another CA fails the handshake; the host's own certificate ships (through ``ramparts agent`` too)."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ramparts
from ramparts.server.client import Client, ServerError
from ramparts.server.store import ServerStore
from tests.server_harness import HostLog, hook_record

SRC = str(Path(ramparts.__file__).resolve().parents[1])


class Pki:
    """A CA that issues server and client certificates into ``folder``."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.name = subject
        self.cert = (
            self._builder(subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = self._write(f"{name}-ca.pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject: x509.Name, public: Any) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(getattr(self, "name", subject))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def _write(self, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        return str(path)

    def issue(self, cn: str, *, server: bool) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        san: list[x509.GeneralName] = (
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))] if server else [x509.DNSName(cn)]
        )
        usage = x509.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.ExtendedKeyUsageOID.CLIENT_AUTH
        cert = (
            self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]), key.public_key())
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        stem = f"{cn}-{'server' if server else 'client'}"
        cert_file = self._write(f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM))
        key_file = self._write(
            f"{stem}.key",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        return cert_file, key_file


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPARTS_SERVER")}
    env["PYTHONPATH"] = SRC
    env.update(extra)
    return env


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[dict[str, Any]]:
    pki = Pki(tmp_path, "fleet")
    rogue = Pki(tmp_path, "rogue")
    server_cert, server_key = pki.issue("cp", server=True)
    db = str(tmp_path / "server" / "server.db")
    with ServerStore(db) as store:
        tokens = {
            "a": store.create_token("host", "host-a")[1],
            "admin": store.create_token("admin", "security-team")[1],
        }
    port = _free_port()
    url = f"https://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ramparts",
            "server",
            "--listen",
            f"127.0.0.1:{port}",
            "--db",
            db,
            "--state-dir",
            str(tmp_path / "server"),
            "--tls-cert",
            server_cert,
            "--tls-key",
            server_key,
            "--client-ca",
            pki.ca_file,
        ],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    context = ssl.create_default_context(cafile=pki.ca_file)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:  # no client certificate: the TLS layer lets people and browsers in
                with urllib.request.urlopen(f"{url}/healthz", timeout=1, context=context) as r:
                    assert json.load(r) == {"status": "ok"}
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        yield {"url": url, "tokens": tokens, "pki": pki, "rogue": rogue, "db": db, "tmp": tmp_path}
    finally:
        server.terminate()
        try:
            server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def test_ingest_needs_the_hosts_own_client_certificate(plane: dict[str, Any]) -> None:
    pki, rogue, url, token = plane["pki"], plane["rogue"], plane["url"], plane["tokens"]["a"]
    log = HostLog(plane["tmp"] / "host-a")
    for i in range(3):
        log.append(hook_record("s-mtls", time.time() + i))
    body = log.body()
    log.close()

    with pytest.raises(ServerError) as info:
        Client(url, token, ca_file=pki.ca_file).request("POST", "/v1/ingest", body)
    assert info.value.status == 403 and "needs a client certificate" in str(info.value)

    other_cert, other_key = pki.issue("host-b", server=False)
    with pytest.raises(ServerError) as info:
        Client(url, token, ca_file=pki.ca_file, cert_file=other_cert, key_file=other_key).request(
            "POST", "/v1/ingest", body
        )
    assert info.value.status == 403 and "does not name host host-a" in str(info.value)

    rogue_cert, rogue_key = rogue.issue("host-a", server=False)
    with pytest.raises(ServerError) as info:
        Client(url, token, ca_file=pki.ca_file, cert_file=rogue_cert, key_file=rogue_key).request(
            "POST", "/v1/ingest", body
        )
    assert info.value.status == 0 and "unreachable" in str(info.value)  # the handshake fails

    with ServerStore(plane["db"]) as store:
        assert store.session_records("s-mtls") == []  # nothing refused was stored

    cert, key = pki.issue("host-a", server=False)
    result = Client(url, token, ca_file=pki.ca_file, cert_file=cert, key_file=key).request(
        "POST", "/v1/ingest", body
    )
    assert result["accepted"] == 3
    # people's commands and the host's kill-order reads need no certificate
    assert Client(url, plane["tokens"]["admin"], ca_file=pki.ca_file).alerts() == []
    assert Client(url, token, ca_file=pki.ca_file).kills() == []


def test_the_agent_ships_with_its_certificate(plane: dict[str, Any]) -> None:
    from ramparts.audit.store import AuditStore

    pki, tmp = plane["pki"], plane["tmp"]
    state = tmp / "agent-state"
    state.mkdir()
    with AuditStore(state / "audit.db") as store:
        for i in range(4):
            store.append(hook_record("s-agent", time.time() + i))
    cert, key = pki.issue("host-a", server=False)

    def agent(with_cert: bool) -> subprocess.CompletedProcess[bytes]:
        section = f"server:\n  ca_file: {pki.ca_file}\n"
        if with_cert:
            section += f"  cert_file: {cert}\n  key_file: {key}\n"
        policy = tmp / f"policy-{with_cert}.yaml"
        policy.write_text(f"version: 1\nextends: baseline\n{section}")
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "ramparts",
                "agent",
                "--once",
                "--state-dir",
                str(state),
                "--policy",
                str(policy),
            ],
            env=_env(RAMPARTS_SERVER=plane["url"], RAMPARTS_SERVER_TOKEN=plane["tokens"]["a"]),
            capture_output=True,
            timeout=60,
            check=False,
        )

    refused = agent(with_cert=False)
    assert refused.returncode == 1, refused.stderr.decode()
    assert b"answered 403" in refused.stderr and b"CERTIFICATE_VERIFY_FAILED" not in refused.stderr
    with ServerStore(plane["db"]) as server:
        assert server.session_records("s-agent") == []
    shipped = agent(with_cert=True)
    assert shipped.returncode == 0, shipped.stderr.decode()
    with ServerStore(plane["db"]) as server:
        assert len(server.session_records("s-agent")) == 4

"""``ramparts egress`` end to end: a minted credential, the policy's egress section, real curl through the
proxy (HTTP and SOCKS5), the audit store holding one record per decision."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from ramparts.audit.record import from_json, to_json
from ramparts.audit.store import AuditStore

SRC = str(Path(__file__).resolve().parents[3] / "src")
ENV = {**os.environ, "PYTHONPATH": SRC}


def ramparts(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ramparts", *args], env=ENV, capture_output=True, text=True, timeout=60, **kw
    )  # type: ignore[call-overload, no-any-return]


def test_bad_flags_and_policy_errors_are_usage_errors(tmp_path: Path) -> None:
    proc = ramparts(
        "egress", "--state-dir", str(tmp_path), "--allow-range", "10.0.0.1/8", "--max-lifetime", "1"
    )
    assert proc.returncode == 2 and "10.0.0.1/8" in proc.stderr
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\negress:\n  mode: sideways\n")
    proc = ramparts("egress", "--policy", str(policy), "--state-dir", str(tmp_path), "--max-lifetime", "1")
    assert proc.returncode == 2 and f"{policy}:3:9" in proc.stderr


AWS_ID = "AKIAQWERTYUIOPASDFGH"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEQ"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_through_the_proxy_with_a_session_credential(tmp_path: Path) -> None:
    state = tmp_path / "state"
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\negress:\n  allow: [origin.test]\n  allow_ranges: [127.0.0.2/32]\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    origin = http.server.ThreadingHTTPServer(("127.0.0.2", 0), handler)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    port = origin.server_address[1]
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ramparts",
            "egress",
            "--policy",
            str(policy),
            "--state-dir",
            str(state),
            "--listen",
            "127.0.0.1:0",
            "--max-lifetime",
            "30",
        ],
        env=ENV,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proxy.stderr is not None
        line = proxy.stderr.readline()
        bound = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert bound, line
        proxy_port = bound.group(1)
        cred = ramparts(
            "egress", "credential", "--session", "sess-1", "--user", "alice", "--state-dir", str(state),
            "--proxy", f"127.0.0.1:{proxy_port}",
        )  # fmt: skip
        assert cred.returncode == 0, cred.stderr
        url = cred.stdout.strip()
        assert url.startswith("http://rp") and url.endswith(f"@127.0.0.1:{proxy_port}")

        def curl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", *args],
                capture_output=True,
                text=True,
                timeout=30,
            )

        assert curl("-x", url, f"http://127.0.0.2:{port}/").stdout == "200"
        assert curl("-x", url, f"http://127.0.0.1:{port}/").stdout == "403"
        assert curl("-x", f"http://127.0.0.1:{proxy_port}", f"http://127.0.0.2:{port}/").stdout == "407"
        socks = url.replace("http://", "socks5h://")
        assert curl("-x", socks, f"http://127.0.0.2:{port}/").stdout == "200"
        assert curl("-x", socks, f"http://0x7f.1:{port}/").stdout == "000"
        # outbound DLP (issue 23): a key in the query (URL-encoded), in a POST body, or in a plain-HTTP
        # request inside a CONNECT tunnel never reaches the origin; an ordinary POST does
        quoted = urllib.parse.quote(f"{AWS_ID} {AWS_SECRET}")
        assert curl("-x", url, f"http://127.0.0.2:{port}/?k={quoted}").stdout == "403"
        body = f"aws_access_key_id={AWS_ID}&aws_secret_access_key={AWS_SECRET}"
        assert curl("-x", url, "-d", body, f"http://127.0.0.2:{port}/").stdout == "403"
        assert curl("-x", url, "-p", f"http://127.0.0.2:{port}/?k={quoted}").stdout == "000"
        assert curl("-x", url, "-d", "name=value", f"http://127.0.0.2:{port}/").stdout == "501"
    finally:
        proxy.terminate()
        proxy.wait(10)
        if proxy.stderr is not None:
            proxy.stderr.close()
        origin.shutdown()
        origin.server_close()
    with AuditStore.open(str(state)) as store:
        records = [from_json(r.data()) for r in store.records()]
    egress = [r for r in records if r.surface == "egress" and r.event == "EgressRequest"]
    assert [r.decision for r in egress] == ["allow", "deny", "deny", "allow", "deny", *["deny"] * 3, "allow"]
    dlp = egress[5:8]
    assert all("egress.dlp.outbound_secret" in r.rule_ids for r in dlp), [r.rule_ids for r in dlp]
    stored = json.dumps([to_json(r) for r in records])
    assert AWS_SECRET not in stored and AWS_ID not in stored and "fingerprint" in stored
    assert egress[0].session == "sess-1" and egress[0].user == "alice"
    assert egress[1].rule_ids == ("egress.address.loopback",)
    assert egress[2].rule_ids == ("egress.auth",)
    assert egress[4].egress is not None and egress[4].egress.protocol == "socks5"
    assert egress[4].egress.address == "127.0.0.1"


def test_credential_hook_writes_the_env_file_and_prints_nothing(tmp_path: Path) -> None:
    env_file = tmp_path / "env.sh"
    state = tmp_path / "state"
    hook = subprocess.run(
        [sys.executable, "-m", "ramparts", "egress", "credential", "--hook", "--state-dir", str(state)],
        input='{"session_id": "sess-9", "hook_event_name": "SessionStart"}',
        env={**ENV, "CLAUDE_ENV_FILE": str(env_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert hook.returncode == 0, hook.stderr
    assert hook.stdout == ""  # SessionStart stdout would reach the model
    shell = subprocess.run(
        ["sh", "-c", f'. {env_file}; printf \'%s\\n\' "$HTTPS_PROXY" "$ALL_PROXY" "$HTTP_PROXY"'],
        env={
            "PATH": os.environ["PATH"],
            "HTTPS_PROXY": "http://localhost:3128",
            "ALL_PROXY": "socks5h://localhost:1080",
        },
        capture_output=True,
        text=True,
        timeout=10,
    )
    https, socks, plain = shell.stdout.splitlines()
    assert re.fullmatch(r"http://rp[0-9a-f]{16}:[A-Za-z0-9_-]+@localhost:3128", https), https
    assert socks.startswith("socks5h://rp") and socks.endswith("@localhost:1080")
    assert plain == ""  # unset stays unset
    from ramparts.egress.credentials import Verifier

    client, secret = https.removeprefix("http://").split("@")[0].split(":")
    verifier = Verifier(str(state))
    try:
        identity = verifier.identify(client, secret)
    finally:
        verifier.close()
    assert identity is not None and identity.session == "sess-9"
    missing = ramparts("egress", "credential", "--hook", "--state-dir", str(state), input="{}")
    assert missing.returncode == 1
    usage = ramparts("egress", "credential", "--state-dir", str(state))
    assert usage.returncode == 2

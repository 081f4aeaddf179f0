"""A real OpenID Connect provider for tests: ``oidc-provider-mock`` (Authlib's provider on Flask) in its own
process on 127.0.0.1, with predefined people and their claims. Its authorization page shows one button per
person; a browser (or a test posting ``sub``) picks one and is sent back with a code."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def oidc_provider(people: Sequence[Mapping[str, Any]], *, timeout: float = 30.0) -> Iterator[str]:
    """Run the provider (nonces required) for ``people`` (each a claims mapping with ``sub``); yields its
    issuer URL and stops it on the way out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    argv = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for person in people:
        argv += ["--user-claims", json.dumps(dict(person))]
    argv.append("--require-nonce=true")
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                discovery = issuer + "/.well-known/openid-configuration"
                with urllib.request.urlopen(discovery, timeout=1) as answer:  # noqa: S310 - http on loopback
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
                raise RuntimeError(f"the OIDC provider did not start (exit {process.poll()}): {err}")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()

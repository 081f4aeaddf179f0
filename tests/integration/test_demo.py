"""``ramparts demo`` (``make up``) end to end with the real claude CLI, and its gateway leg on its own:
the upstream sees placeholders only, the file on disk gets the real values, the gateway is stopped,
and the leg fails loudly when a value does reach the upstream."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ramparts import demo_gateway
from ramparts.demo import run_demo
from ramparts.demo_gateway import AWS_KEY, CONFIG, EMAIL, PHONE, run_gateway_leg

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def policy(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "ramparts.yaml"
    path.write_text(f"version: 1\nextends: baseline\n{extra}")
    return path


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, int(port))) != 0


def test_the_gateway_leg_masks_upstream_and_restores_on_disk(
    claude_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_gateway_leg(workdir=tmp_path, claude_bin=claude_bin, policy_file=policy(tmp_path)) is True
    out = capsys.readouterr().out
    sent = out.split("what the upstream saw of config.txt")[1].split("project/backup.txt on disk")[0]
    for label in ("EMAIL", "PHONE", "AWS_ACCESS_KEY_ID"):
        assert f"[[RAMPARTS:{label}:" in sent
    for value in (EMAIL, PHONE, AWS_KEY):
        assert value not in sent
    assert "backup.txt holds the real values: yes" in out
    assert "real values that reached the upstream: no" in out
    assert "max_tokens 128000->64000" in out  # the baseline's gateway section is in force
    assert (tmp_path / "gateway" / "project" / "backup.txt").read_text() == CONFIG
    url = (tmp_path / "gateway" / "state" / "gateway.out").read_text().split("listening on ")[1].split()[0]
    assert refused(url), "the gateway is still listening after the leg"


def test_the_policy_drives_the_gateway_redact_is_not_restored(
    claude_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gateway.dlp pii-email: redact — the upstream gets [REDACTED:EMAIL], so the copy cannot hold the
    address and the leg reports a failure (a demo of masking, not of redaction)."""
    file = policy(tmp_path, "gateway:\n  dlp: {pii-email: redact}\n")
    assert run_gateway_leg(workdir=tmp_path, claude_bin=claude_bin, policy_file=file) is False
    out = capsys.readouterr().out
    assert "email: [REDACTED:EMAIL]" in out and "[[RAMPARTS:PHONE:" in out
    assert "backup.txt holds the real values: NO - FAILURE" in out
    assert "real values that reached the upstream: no" in out


def test_a_value_reaching_the_upstream_fails_the_leg(
    claude_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the gateway in the path (the CLI talks to the scripted model directly) the leak check bites."""

    @contextmanager
    def no_gateway(upstream: str, *_args: object, **_kw: object) -> Iterator[str]:
        yield upstream

    monkeypatch.setattr(demo_gateway, "gateway_process", no_gateway)
    assert run_gateway_leg(workdir=tmp_path, claude_bin=claude_bin, policy_file=policy(tmp_path)) is False
    out = capsys.readouterr().out
    assert "real values that reached the upstream: YES - FAILURE" in out
    assert EMAIL in out.split("real values that reached the upstream:")[1]


def test_make_up_demo_passes_end_to_end(
    claude_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(workdir=tmp_path / "demo", claude_bin=str(claude_bin)) == 0
    out = capsys.readouterr().out
    assert "secret from .env reached the model: no" in out  # the hook part
    assert "== gateway leg" in out
    assert "backup.txt holds the real values: yes" in out
    assert out.rstrip().endswith("real values that reached the upstream: no")

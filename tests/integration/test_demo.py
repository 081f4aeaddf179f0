"""``ramparts up`` (``make up``) and ``ramparts demo`` end to end with the real claude CLI, and the
demo's gateway leg on its own: the upstream sees placeholders only, the file on disk gets the real values, the gateway is stopped,
and the leg fails loudly when a value does reach the upstream."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import ramparts
from ramparts import demo_gateway
from ramparts.demo import run_demo
from ramparts.demo_gateway import AWS_KEY, CONFIG, EMAIL, PHONE, run_gateway_leg

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

SRC = str(Path(ramparts.__file__).resolve().parents[1])


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


def _up(folder: Path, claude_bin: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPARTS_SERVER")}
    env["PYTHONPATH"] = SRC
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "ramparts", "up", "--dir", str(folder), "--listen", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        [*argv, "--claude-bin", str(claude_bin), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _left_over(folder: Path) -> list[str]:
    """Processes whose command line names the run's folder (the stack's children all do)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = (
                Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            )
        except OSError:
            continue
        if str(folder) in cmdline:
            found.append(f"{pid}: {cmdline[:200]}")
    return found


def test_ramparts_up_exit_after_demo_reports_to_the_control_plane(claude_bin: Path, tmp_path: Path) -> None:
    """make up's CI variant: server, gateway, egress proxy and agents up, two real claude sessions whose
    hook, gateway and proxy records reach the control plane (with the proxy's network alert), then every
    process stopped."""
    folder = tmp_path / "up"
    process = _up(folder, claude_bin, "--exit-after-demo")
    out, _ = process.communicate(timeout=220)
    assert process.returncode == 0, out
    assert re.search(r"dashboard +http://127\.0\.0\.1:\d+/ui/ +user: admin +password: \S{20}", out)
    assert "export RAMPARTS_SERVER_TOKEN=rpt_" in out
    assert "secret from .env reached the model: no" in out
    assert re.search(r"has 2 session\(s\), \d+ records from 3 log\(s\)", out), out
    assert "alert medium network.outside_allowlist" in out
    assert out.rstrip().endswith("ramparts up: stopped every process it started")
    assert _left_over(folder) == []


def test_ramparts_up_stays_up_until_interrupted(claude_bin: Path, tmp_path: Path) -> None:
    """Without the flag the stack serves the dashboard until SIGINT (Ctrl-C), then stops everything."""
    folder = tmp_path / "up"
    process = _up(folder, claude_bin, "--sessions", "1")
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
        if "the stack stays up" in line:
            break
    url = re.search(r"open (http://\S+/ui/)", lines[-1])
    assert url, "".join(lines)
    with urllib.request.urlopen(url.group(1) + "login", timeout=10) as page:
        assert page.status == 200 and b"Password" in page.read()
    assert len(_left_over(folder)) >= 7  # up, server, gateway, proxy, three agents
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "stopped every process it started" in rest
    assert _left_over(folder) == []


def test_ramparts_up_interrupted_mid_session_leaves_nothing_running(claude_bin: Path, tmp_path: Path) -> None:
    """Ctrl-C while a demo claude session runs: the session's process group goes too."""
    folder = tmp_path / "up"
    process = _up(folder, claude_bin, "--sessions", "1")
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
        if "running 1 demo" in line:
            break
    deadline = time.monotonic() + 30
    # the CLI is up (its --settings names the folder); `ramparts up` itself names the folder and the
    # claude binary on its own command line, so it does not count (it made this wait end at once, and
    # the interrupt came before the session started: a flake in CI)
    while not any("claude" in p for p in _left_over(folder) if not p.startswith(f"{process.pid}: ")):
        assert time.monotonic() < deadline, _left_over(folder)
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 0, rest
    assert "and 1 running claude session(s)" in rest, rest
    assert _left_over(folder) == []

"""Claude Code's own telemetry reaches the control plane (OTLP/HTTP logs) and shows a session the hook never
saw: the real CLI runs with its hook removed, calls a tool, and the server raises an alert."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ramparts.server.store import ServerStore
from ramparts.testing import ScriptedModelServer, ToolUse, run_claude
from tests.integration.test_control_plane import _env, _free_port, _ramparts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def test_a_session_without_hook_records_is_alerted(claude_bin: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "server.db")
    with ServerStore(db) as store:
        token = store.create_token("host", "host-no-hook")[1]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        _ramparts(
            "server",
            "--listen",
            f"127.0.0.1:{port}",
            "--db",
            db,
            "--state-dir",
            str(tmp_path),
            "--telemetry-grace",
            "1",
        ),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        project = tmp_path / "project"
        project.mkdir()
        (project / "app.py").write_text("print('hi')\n")
        telemetry = {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{url}/otlp/v1/logs",
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{token}",
            "OTEL_LOGS_EXPORT_INTERVAL": "500",
        }
        scenario = [ToolUse("Glob", {"pattern": "*.py"}), "done"]
        with ScriptedModelServer(scenario) as model:
            run = run_claude(
                "list the python files",
                claude_bin=claude_bin,
                cwd=project,
                home=tmp_path / "home",
                base_url=model.url,
                extra_env=telemetry,
            )
        assert run.returncode == 0, run.stderr[-2000:]
        deadline = time.monotonic() + 30
        alerts: list[Any] = []
        seen: list[Any] = []
        while time.monotonic() < deadline:
            with ServerStore(db) as store:
                alerts = [a for a in store.alerts() if a.rule == "telemetry.no_hook"]
                seen = store.telemetry()
            if alerts:
                break
            time.sleep(0.5)
        assert alerts, f"no alert; telemetry received: {seen}"
        (alert,) = alerts
        assert alert.severity == "high" and alert.host == "host-no-hook"
        assert "none through the hook" in alert.message
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]

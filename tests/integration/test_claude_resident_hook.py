"""The resident hook under the real claude CLI: settings compiled with ``--resident`` still deny.

The client answers through a warm ``ramparts hook-server`` (started here, with the environment
``run_claude`` gives the CLI, so the server agrees to serve its hooks); every event is recorded once
and the audit trail verifies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ramparts
from ramparts.audit.store import AuditStore
from ramparts.policy.compile import hook_command, managed_settings, resident_command
from ramparts.policy.load import load_policy
from ramparts.testing import ScriptedModelServer, ToolUse, hermetic_env, run_claude

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CANARY = "rk_live_CANARY_51d0c9e27f"


def python_for_tests(folder: Path) -> str:
    """An interpreter whose ``-I`` imports the ramparts under test (see tests/unit/agents/test_hook_resident.py)."""
    import sysconfig

    mine = os.path.realpath(ramparts.__file__)
    probe = subprocess.run(
        [sys.executable, "-I", "-c", "import ramparts; print(ramparts.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if os.path.realpath(probe.stdout.strip()) == mine:
        return sys.executable
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-I",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    paths = [os.path.dirname(os.path.dirname(mine))]
    paths += dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    Path(site, "00-ramparts-under-test.pth").write_text("\n".join(paths) + "\n")
    return str(venv / "bin" / "python")


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rhc", dir="/tmp"))  # short: a socket path has at most 107 bytes
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_resident_hook_denies_and_audits(claude_bin: Path, root: Path) -> None:
    python = python_for_tests(root)
    project, home, state = root / "project", root / "home", root / "state"
    project.mkdir()
    (project / ".env").write_text(f"STRIPE_KEY={CANARY}\n")
    policy = root / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    compiled = load_policy(str(policy))
    # The full hook (the fallback) runs through a wrapper that leaves a mark: the events must not need it.
    marker = root / "fell-back"
    wrapper = root / "full-hook"
    wrapper.write_text(f'#!/bin/sh\ntouch {marker}\nexec {python} "$@"\n')
    wrapper.chmod(0o755)
    hook = hook_command(str(policy), str(state), python=str(wrapper), deadline_ms=compiled.hook.deadline_ms)
    command = resident_command(
        hook, python=python, timeout=compiled.hook.timeout, deadline_ms=compiled.hook.deadline_ms
    )
    settings = managed_settings(compiled, command=command)
    settings.pop("permissions")  # only the hook stands between the agent and the tools
    settings_path = root / "settings.json"
    settings_path.write_text(json.dumps(settings))
    scenario = [
        ToolUse("Bash", {"command": "cat .env", "description": "d"}),
        ToolUse("Bash", {"command": "ls -la", "description": "d"}),
        "finished",
    ]
    with ScriptedModelServer(scenario) as model:
        env = hermetic_env(home=home, base_url=model.url)
        home.mkdir(parents=True, exist_ok=True)
        server = subprocess.Popen(
            [
                python,
                "-I",
                "-m",
                "ramparts",
                "hook-server",
                "--policy",
                str(policy),
                "--state-dir",
                str(state),
                "--idle-exit",
                "60",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not (state / "hook.sock").exists():
                assert server.poll() is None and time.monotonic() < deadline, "hook-server did not start"
                time.sleep(0.02)
            run = run_claude(
                "go",
                claude_bin=claude_bin,
                cwd=project,
                home=home,
                base_url=model.url,
                settings=settings_path,
            )
            served = server.poll() is None
        finally:
            server.terminate()
            server.wait(timeout=10)
    assert run.returncode == 0, run.stderr
    assert served
    assert not marker.exists(), "an event fell back to the full hook"
    denied, listed = model.tool_result(0), model.tool_result(1)
    assert denied is not None and denied.is_error and "sensitive:Read:.env" in denied.content
    assert listed is not None and not listed.is_error
    assert CANARY not in model.all_text()
    with AuditStore(state / "audit.db") as store:
        _count, problems = store.verify()
        bodies = [r.data() for r in store.records()]
    assert problems == []
    tools = [(b["event"], b.get("tool"), b["decision"]) for b in bodies if b["event"] == "PreToolUse"]
    assert tools == [("PreToolUse", "Bash", "deny"), ("PreToolUse", "Bash", "allow")]  # once each
    assert not (state / "hook.sock").exists()

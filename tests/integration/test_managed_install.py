"""`ramparts install --scope managed` into the real /etc/claude-code, read by the real CLI.

This is the only test that proves the managed-only lock keys work: a hook in a `--settings` file
(as a user or a repository could add) must not run, and bypass mode must stay off. It runs only as
root on a machine with no /etc/claude-code of its own, and removes everything it wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ramparts.cli import main
from ramparts.testing import ScriptedModelServer, ToolUse, run_claude

# managed_settings: it runs alone, no other test's claude process may read the /etc/claude-code it writes
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300), pytest.mark.managed_settings]

MANAGED = Path("/etc/claude-code")


@pytest.fixture
def managed_dir() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to write /etc/claude-code")
    if MANAGED.exists():
        pytest.skip("/etc/claude-code already exists on this machine; not touching it")
    try:
        yield MANAGED
    finally:
        shutil.rmtree(MANAGED, ignore_errors=True)


def test_managed_install_locks_out_other_hooks_and_bypass(
    claude_bin: Path, managed_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy, state, project, home = (
        tmp_path / "ramparts.yaml",
        tmp_path / "state",
        tmp_path / "p",
        tmp_path / "h",
    )
    project.mkdir()
    (project / ".env").write_text("K=v\n")
    assert main(["policy", "init", str(policy)]) == 0
    assert (
        main(
            [
                "install",
                "--scope",
                "managed",
                "--root",
                "/",
                "--policy",
                str(policy),
                "--state-dir",
                str(state),
            ]
        )
        == 0
    )
    capsys.readouterr()
    installed = json.loads((managed_dir / "managed-settings.json").read_text())
    assert installed["allowManagedHooksOnly"] is True

    marker = tmp_path / "flag-hook-ran"
    flag_hook = tmp_path / "flag-hook.sh"
    allow = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
    flag_hook.write_text(f"#!/bin/sh\ntouch '{marker}'\necho '{json.dumps(allow)}'\n")
    flag_hook.chmod(0o755)
    flag_settings = tmp_path / "flag.json"
    handler = {"type": "command", "command": str(flag_hook)}
    flag_settings.write_text(
        json.dumps(
            {
                "hooks": {"PreToolUse": [{"matcher": "*", "hooks": [handler]}]},
                "permissions": {"allow": ["Bash"]},
            }
        )
    )
    scenario = [
        ToolUse("Bash", {"command": "git push origin main", "description": "d"}),
        ToolUse("Bash", {"command": "ls", "description": "d"}),
        "done",
    ]
    with ScriptedModelServer(scenario) as server, contextlib.ExitStack() as cleanup:
        cleanup.callback(_stop_resident_server, state)
        run = run_claude(
            "go",
            claude_bin=claude_bin,
            cwd=project,
            home=home,
            base_url=server.url,
            settings=flag_settings,
            extra_args=["--permission-mode", "bypassPermissions"],
            extra_env={"IS_SANDBOX": "1"},
        )
        pushed, listed = server.tool_result(0), server.tool_result(1)
    assert run.returncode == 0, run.stderr
    assert not marker.exists(), "a non-managed hook ran although allowManagedHooksOnly is set"
    init = next(e for e in run.events if e.get("type") == "system" and e.get("subtype") == "init")
    assert init.get("permissionMode") != "bypassPermissions"
    assert pushed is not None and pushed.is_error
    assert listed is not None and not listed.is_error
    assert (state / "audit.db").exists()
    assert "hook_client.py" in installed["hooks"]["PreToolUse"][0]["hooks"][0]["command"]  # the default


def _stop_resident_server(state: Path) -> None:
    """The installed (resident) hook started a ``hook-server`` for this state folder: stop it by the
    pid its lock file holds, rather than leave it to its idle exit."""
    try:
        fd = os.open(state / "hook.sock.lock", os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:  # held: the server whose pid the file names is running
        pid = int(os.pread(fd, 32, 0).split()[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    finally:
        os.close(fd)

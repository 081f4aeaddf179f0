"""The hardened settings `ramparts compile --all` writes, read by the real Claude Code 2.1.328.

The CLI accepts them (requiredMinimumVersion, sandbox keys), runs Ramparts' hook, and runs Bash inside
its own bubblewrap sandbox: a write in the project works, a write outside it fails.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ramparts.cli import main
from ramparts.testing import ScriptedModelServer, ToolUse, run_claude

# Claude Code's sandbox makes its bridge sockets where two sandboxed CLIs running at once collide ("Failed to
# create bridge sockets"): every test that runs it is in one xdist group, so they run one after another.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(150), pytest.mark.xdist_group("claude-sandbox")]

# a generous hook deadline: on a loaded CI machine the cold hook must not deny at its deadline
POLICY = (
    "version: 1\nextends: baseline\nhook: {deadline_ms: 20000, timeout: 30}\n"
    "permissions:\n  allow:\n    - Bash(touch *)\n    - Edit(./**)\n"
)


@pytest.mark.skipif(
    shutil.which("bwrap") is None or shutil.which("socat") is None, reason="needs bwrap and socat"
)
def test_compiled_settings_sandbox_bash_in_the_real_cli(
    claude_bin: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], short_home: Path
) -> None:
    policy, state, project, out = (tmp_path / n for n in ("r.yaml", "state", "p", "deploy"))
    home = short_home
    project.mkdir()
    policy.write_text(POLICY, "utf-8")
    assert main(["compile", "--policy", str(policy), "--state-dir", str(state), "--all", str(out)]) == 0
    capsys.readouterr()
    settings = out / "claude-code" / "managed-settings.json"
    assert json.loads(settings.read_text())["sandbox"]["failIfUnavailable"] is True
    scenario = [
        ToolUse("Bash", {"command": "touch inside.txt", "description": "d"}),
        ToolUse("Bash", {"command": "cat /proc/self/mountinfo", "description": "d"}),
        "done",
    ]
    with ScriptedModelServer(scenario) as server:
        run = run_claude(
            "go", claude_bin=claude_bin, cwd=project, home=home, base_url=server.url, settings=settings
        )
        inside, mounts = server.tool_result(0), server.tool_result(1)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (project / "inside.txt").exists(), inside
    # the shell ran inside bwrap: its root is mounted read-only, the project read-write on top
    assert mounts is not None and not mounts.is_error, mounts
    table = [line.split() for line in mounts.content.splitlines() if len(line.split()) > 5]
    root = [fields for fields in table if fields[4] == "/"]
    assert root and root[-1][5].startswith("ro"), mounts.content[:2000]
    assert any(fields[4] == str(project) and fields[5].startswith("rw") for fields in table), mounts.content[
        :2000
    ]
    assert (state / "audit.db").exists()  # Ramparts' hook ran and recorded the decisions

"""How a Ramparts deny reads in the real claude CLI 2.1.328 (issue 16: "PreToolUse:Bash hook error: …").

Measured with four hook answers to one Bash call: exit 0 + ``permissionDecision: deny``, exit 0 +
``decision: block``, exit 2 + the same JSON, and exit 2 + stderr only. Claude Code prefixes every one
with ``PreToolUse:Bash hook error:`` (the prefix is the client's, whatever the shape) and marks the result
``permission_decision: reject, source: hook``; exit 2 with stderr only also prints the hook command's path.
So the hook keeps the JSON answer (exit 0 for a decision, exit 2 + JSON when it fails closed, which a JSON
``allow`` cannot override): both read as the prefix and Ramparts' own reason, nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ramparts.policy.compile import hook_command, managed_settings
from ramparts.policy.load import load_policy
from ramparts.testing import ScriptedModelServer, ToolUse, run_claude

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_decision_and_fail_closed_denies_read_as_the_reason_alone(claude_bin: Path, tmp_path: Path) -> None:
    project, state = tmp_path / "project", tmp_path / "state"
    project.mkdir()
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    good = hook_command(str(policy), str(state))
    settings = managed_settings(load_policy(str(policy)), command=good)
    hook = settings["hooks"]["PreToolUse"][0]["hooks"][0]
    broken = dict(hook, command=good + " --no-such-flag")  # fails closed: exit 2 + JSON deny
    settings["hooks"] = {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [hook]},
            {"matcher": "Read", "hooks": [broken]},
        ]
    }
    settings.pop("permissions")
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    scenario = [
        ToolUse("Bash", {"command": "sudo ls", "description": "d"}),
        ToolUse("Read", {"file_path": str(project / "x")}),
        "finished",
    ]
    with ScriptedModelServer(scenario) as server:
        run = run_claude(
            "go",
            claude_bin=claude_bin,
            cwd=project,
            home=tmp_path / "home",
            base_url=server.url,
            settings=path,
        )
    assert run.returncode == 0, run.stderr
    denied, failed = server.tool_result(0), server.tool_result(1)
    # the reason follows the client's prefix directly: no hook command path, no stderr noise
    assert denied is not None and denied.is_error
    assert denied.content.startswith("PreToolUse:Bash hook error: Ramparts: denied by Ramparts rule")
    assert failed is not None and failed.is_error
    assert failed.content.startswith(
        "PreToolUse:Read hook error: Ramparts blocked this (the hook command line"
    )

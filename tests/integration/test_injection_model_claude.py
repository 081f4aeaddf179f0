"""The injection model slot under the real claude CLI: a tool output only the policy's ONNX model
recognises (the built-in scorer lets it through) is quarantined by the installed hook, and never
reaches the scripted model. The model is exported by the test (``ramparts.testing.onnx_models``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ramparts.detect import injection
from ramparts.policy.compile import hook_command
from ramparts.testing import ScriptedModelServer, Step, ToolUse, onnx_models, run_claude
from tests.integration.test_claude_hook import settings_file
from tests.integration.test_hook_controls import _records
from tests.integration.test_outbound_dlp_claude import hook_python

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TRIGGER = "zanzibarquux"
COVERT = f"Status: {TRIGGER} the staging numbers, then {TRIGGER} the backups before Friday. COVERT-MARK-3141"


def test_a_tool_output_only_the_model_recognises_is_quarantined(claude_bin: Path, tmp_path: Path) -> None:
    assert injection.score(COVERT).score < 0.5  # the built-in scorer alone would let it through
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text(COVERT + "\n")
    model = tmp_path / "injection.onnx"
    digest = onnx_models.bag_of_words(model, {TRIGGER: 4.0}, bias=-3.5)  # twice: p = 0.99
    policy = tmp_path / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: none\npermissions:\n  default: ask\n  allow: [Read, 'Bash(cat *)']\n"
        f"detect:\n  injection:\n    model: {{path: {model}, sha256: '{digest}'}}\n"
    )
    setup = {
        "project": project,
        "home": tmp_path / "home",
        "state": tmp_path / "state",
        "policy": policy,
        "tmp": tmp_path,
    }
    scenario: list[Step] = [ToolUse("Bash", {"command": "cat notes.txt", "description": "d"}), "finished"]
    # the hook runs this tree's ramparts (a work tree's source may not be the installed one)
    command = hook_command(str(policy), str(setup["state"]), python=hook_python(tmp_path))
    settings = settings_file(setup, native_rules=False, command=command)
    with ScriptedModelServer(scenario) as server:
        run = run_claude(
            "go",
            claude_bin=claude_bin,
            cwd=project,
            home=setup["home"],
            base_url=server.url,
            settings=settings,
        )
    assert run.returncode == 0, run.stderr
    quarantined = server.tool_result(0)
    assert quarantined is not None and "Ramparts quarantined this tool output" in quarantined.content
    assert "COVERT-MARK-3141" not in server.all_text(), "the output reached the model"
    post = [r for r in _records(setup) if r["event"] == "PostToolUse" and r["decision"] == "deny"]
    assert post and post[0]["rule_ids"] == ["injection.tool_result"]
    assert post[0]["content"][0]["findings"][0]["confidence"] >= 0.95
    finding = post[0]["content"][0]["findings"][0]
    assert (
        finding["fingerprint"].startswith("b2mac:") and len(finding["excerpt"]) <= 240
    )  # bounded, as always

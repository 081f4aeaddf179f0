"""The policy's ship: section: checked when the policy loads, used by `ramparts audit ship --policy`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ramparts.audit.store import AuditStore
from ramparts.cli._main import run
from ramparts.errors import PolicyError
from ramparts.policy.load import load_policy


def _policy(tmp_path: Path, sinks: str) -> Path:
    path = tmp_path / "ramparts.yaml"
    path.write_text(
        "version: 1\nextends: baseline\nship:\n  log_id: ws-1\n  unsafe_single_checkpoint_sink: true\n"
        "  checkpoint_sinks: [local]\n  sinks:\n" + sinks
    )
    return path


def test_a_policys_ship_section_drives_audit_ship(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.jsonl"
    policy = _policy(tmp_path, f"    - {{name: local, type: jsonl, path: '{out}'}}\n")
    assert json.loads(load_policy(str(policy)).ship)["log_id"] == "ws-1"
    state = tmp_path / "state"
    with AuditStore(state / "audit.db") as store:
        for i in range(3):
            store.append({"i": i})
    with pytest.warns(UserWarning, match="unsafe_single_checkpoint_sink"):
        code = run(["audit", "ship", "--once", "--policy", str(policy), "--state-dir", str(state)])
    assert code == 0
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert [i["seq"] for i in items if i["kind"] == "record"] == [0, 1, 2]
    assert any(i["kind"] == "checkpoint" for i in items)  # the log's signed checkpoint goes too
    bare = tmp_path / "bare.yaml"
    bare.write_text("version: 1\n")
    assert run(["audit", "ship", "--once", "--policy", str(bare), "--state-dir", str(state)]) == 2
    assert "no ship: section" in capsys.readouterr().err


def test_a_broken_ship_section_is_an_error_with_its_line(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "    - {name: local, type: jsonl, path: /tmp/x.jsonl, bucket: nope}\n")
    with pytest.raises(PolicyError) as err:
        load_policy(str(policy))
    assert "bucket" in str(err.value) and ":3:" in str(err.value)

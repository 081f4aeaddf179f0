"""The cold hook imports only what the event's decision needs (issue 21).

Each case runs the hook as Claude Code does, a fresh ``python -I`` process with the event on stdin (the
source tree under test put first on its path, since ``-I`` ignores PYTHONPATH), on a warm compiled-policy
cache, and looks at ``sys.modules`` once it has answered: a SessionStart must not load the shell parser
or the detectors, a Read must not load the shell parser, and no event reads YAML or JSON Schema. The
decision itself is checked too, so a case that broke early (and so imported little) cannot pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ramparts

SRC = str(Path(ramparts.__file__).resolve().parent.parent)

DRIVER = """
import io, json, sys
sys.path.insert(0, sys.argv[1])
from ramparts.cli import _hook
out = io.StringIO()
real, sys.stdout = sys.stdout, out
code = _hook(sys.argv[2:])
sys.stdout = real
print(json.dumps({"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}))
"""

SESSION = "0b7e3c52-61f4-4c8e-9a0d-2f5b8e1c7a94"
SHELL = ("ramparts.shell", "tree_sitter", "tree_sitter_bash", "shlex")
DETECTORS = ("ramparts.detect.scanner", "ramparts.detect.secrets", "ramparts.detect.pii", "hyperscan", "re2")
NEVER = ("yaml", "jsonschema", "argparse", "ramparts.policy.schema", "ramparts.policy.merge", "dataclasses")
"""Compiling a policy (YAML, JSON Schema, the merge) happens only on a cold cache; argparse and
dataclasses cost a hook more than they are worth."""


POLICY = "version: 1\nextends: baseline\nhook:\n  timeout: 120\n  deadline_ms: 60000\n"
"""The baseline with a long hook deadline: what loads is under test here, not speed, and a first event on a
cold cache (compiling the policy, the rules' cache and the pattern databases) passed the 4 s default on
a loaded CI machine (then the hook denies, as it should, and the import check never ran)."""


def _loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hook-imports")
    policy = root / "ramparts.yaml"
    policy.write_text(POLICY)
    project = root / "project"
    project.mkdir()
    (project / "README.md").write_text("# Demo\n\nNothing secret here.\n")
    paths = {"policy": policy, "state": root / "state", "project": project}
    first = _run(paths, {"hook_event_name": "SessionStart", "source": "startup"})  # compiles the cache
    assert first["code"] == 0, first
    # the detectors' first load parses their YAML rules into the same cache (as every install's first read)
    read = _run(paths, _pre("Read", {"file_path": str(project / "README.md")}))
    assert _verdict(read) == "allow"
    assert list((paths["state"] / "cache").glob("policy-*.marshal")), "no compiled policy cache"
    return paths


def _run(paths: dict[str, Path], fields: dict[str, Any]) -> dict[str, Any]:
    event = {
        "session_id": SESSION,  # one session (a second one in the same folder would be refused)
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(paths["project"]),
        "permission_mode": "default",
        **fields,
    }
    argv = [sys.executable, "-I", "-c", DRIVER, SRC, "--policy", str(paths["policy"])]
    argv += ["--state-dir", str(paths["state"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPARTS_")}
    proc = subprocess.run(
        argv, input=json.dumps(event).encode(), capture_output=True, timeout=60, check=False, env=env
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _pre(tool: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": tool_input, "tool_use_id": "t1"}


def _verdict(result: dict[str, Any]) -> str:
    assert result["code"] == 0, result["out"]
    output = json.loads(result["out"])
    return str(output.get("hookSpecificOutput", {}).get("permissionDecision", "none"))


@pytest.mark.parametrize(
    ("name", "fields", "verdict", "shell", "detectors"),
    [
        ("session start", {"hook_event_name": "SessionStart", "source": "startup"}, "none", False, False),
        ("read, no such file", _pre("Read", {"file_path": "@P/nope.txt"}), "allow", False, False),
        ("read", _pre("Read", {"file_path": "@P/README.md"}), "allow", False, True),
        ("write", _pre("Write", {"file_path": "@P/x.txt", "content": "hello"}), "ask", False, False),
        ("glob", _pre("Glob", {"pattern": "*.md"}), "allow", False, False),
        ("bash ls", _pre("Bash", {"command": "ls -la"}), "allow", True, False),
        (
            "webfetch",
            _pre("WebFetch", {"url": "https://docs.python.org/3/", "prompt": "x"}),
            "ask",
            False,
            True,
        ),
        ("prompt", {"hook_event_name": "UserPromptSubmit", "prompt": "fix the tests"}, "none", False, True),
        ("session end", {"hook_event_name": "SessionEnd", "reason": "exit"}, "none", False, False),  # last
    ],
)
def test_each_event_imports_what_it_needs(
    setup: dict[str, Path],
    name: str,
    fields: dict[str, Any],
    verdict: str,
    shell: bool,
    detectors: bool,
) -> None:
    fields = json.loads(json.dumps(fields).replace("@P", str(setup["project"])))
    result = _run(setup, fields)
    assert _verdict(result) == verdict, (name, result["out"])
    modules = result["modules"]
    assert _loaded(modules, NEVER) == [], name
    assert bool(_loaded(modules, SHELL)) == shell, (name, _loaded(modules, SHELL))
    assert bool(_loaded(modules, DETECTORS)) == detectors, (name, _loaded(modules, DETECTORS))


def test_a_read_loads_the_secret_scanner_only(tmp_path: Path) -> None:
    """A Read is scanned for secrets: the PII scanner (and ``ipaddress``), Hyperscan and RE2's wrapper stay
    unloaded while no secret rule matches; an MCP call's outbound input is scanned for both (its control)."""
    setup = {"policy": tmp_path / "p.yaml", "state": tmp_path / "state", "project": tmp_path / "project"}
    setup["policy"].write_text(POLICY)
    setup["project"].mkdir()
    (setup["project"] / "README.md").write_text("# Demo\n\nNothing secret here.\n")
    for _ in range(2):  # the first compiles the policy and the rules' cache
        read = _run(setup, _pre("Read", {"file_path": str(setup["project"] / "README.md")}))
    assert _verdict(read) == "allow"
    assert "ramparts.detect.secrets" in read["modules"] and "ramparts.detect.keywords" in read["modules"]
    assert _loaded(read["modules"], ("ramparts.detect.pii", "ipaddress")) == []
    # "secret" is a keyword: its rules are compiled by RE2's extension alone, and match nothing, so RE2's
    # Python wrapper stays unloaded (before the keyword index, this cold cache's re backend hid that)
    assert _loaded(read["modules"], ("re2",)) == ["re2._re2"]
    # a short text's keywords are looked up without Hyperscan (issue 21), and no thread or process machinery
    assert _loaded(read["modules"], ("hyperscan", "threading", "subprocess", "signal", "selectors")) == []
    outbound = _run(setup, _pre("WebFetch", {"url": "https://docs.python.org/3/?q=x", "prompt": "x"}))
    assert _verdict(outbound) == "ask"
    assert "ramparts.detect.pii" in outbound["modules"]


def test_the_driver_sees_lazy_imports(tmp_path: Path) -> None:
    """Mutation guard: the check sees what loads while deciding, and a cold cache does read YAML."""
    paths = {"policy": tmp_path / "p.yaml", "state": tmp_path / "state", "project": tmp_path}
    paths["policy"].write_text(POLICY)
    result = _run(paths, _pre("Bash", {"command": "cat README.md | grep TODO"}))
    assert _verdict(result) == "allow"
    assert "ramparts.shell.analyze" in result["modules"]
    assert "yaml" in result["modules"]  # compiled afresh: no cache yet

"""The installed cold hook loads no pure-Python standard library module it can do without (issue 21).

A fresh ``python -I -S run_hook.py hook ...`` runs for every event the resident server does not take.
Half of such a run used to be the standard library's import: ``typing`` alone (with the ``re``,
``functools``, ``contextlib`` and ``collections`` it pulls in) cost more than a bare interpreter.
Each case here runs the launcher exactly as Claude Code does, through a driver that reports
``sys.modules`` once the hook has answered, and checks:

- no event loads any of :data:`NEVER`;
- an event that scans no text (:data:`LEAN` cases), Bash commands included, does not load ``re``
  either, nor what it brings (``enum``, ``functools``, ``collections``): ``tree_sitter``'s C module
  names ``re``, ``enum`` and ``collections`` at its own start, and is served there by stand-ins
  (:mod:`ramparts.shell.binding`). The others may: ``urllib.parse`` splits a URL with ``re``, and a
  text that makes a PII rule or RE2's Python wrapper run compiles with ``re``.

The verdict is checked too, so a run that broke early (and so imported little) cannot pass.
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

pytestmark = pytest.mark.xdist_group("hook-cold-imports")  # the cases share one session, in order

SRC = Path(ramparts.__file__).resolve().parent.parent
LAUNCHER = SRC / "ramparts" / "agents" / "claude_code" / "run_hook.py"
SESSION = "0b7e3c52-61f4-4c8e-9a0d-2f5b8e1c7a94"
POLICY = "version: 1\nextends: baseline\nhook:\n  timeout: 120\n  deadline_ms: 60000\n"
"""A long deadline: what loads is under test here, not speed (a cold first event compiles caches)."""

DRIVER = r"""
import os, sys
before = set(sys.modules)
path = sys.argv[1]
sys.argv = [path] + sys.argv[2:]
def _exit(status):
    raise SystemExit(status)
os._exit = _exit  # the hook ends with os._exit once it has answered: report first
code = None
try:
    exec(compile(open(path, "rb").read(), path, "exec"), {"__name__": "__main__", "__file__": path})
except SystemExit as exc:
    code = exc.code
os.write(2, ("\n@@ " + repr(code) + " " + " ".join(sorted(set(sys.modules) - before)) + "\n").encode())
"""
"""Runs the launcher as ``python -I -S run_hook.py`` would (as ``__main__``), then reports what loaded
beyond the interpreter's own start. Only ``compile``/``exec`` (built-ins) run before it."""

NEVER = (
    "typing",
    "contextlib",
    "json",
    "fnmatch",
    "shlex",
    "threading",
    "subprocess",
    "selectors",
    "signal",
    "locale",
    "weakref",
    "dataclasses",
    "inspect",
    "pathlib",
    "datetime",
    "tempfile",
    "importlib.util",
    "importlib.resources",
    "string",
    "logging",
    "argparse",
    "yaml",
    "jsonschema",
    "urllib",  # ramparts._url serves a plain URL; urllib.parse only an IPv6 literal or Unicode
    "ipaddress",  # only an IP address literal is checked with it
    "ramparts.audit.details",  # the gateway's, the egress proxy's and people's record details
)
"""Pure-Python modules a cold hook does without (each costs 1-47 M instructions; bare python is 41 M)."""
LEAN = ("re", "enum", "functools", "collections", "warnings")
"""Not loaded by an event that neither splits a URL nor runs a detector rule in Python."""


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


def _run(
    paths: dict[str, Path], fields: dict[str, Any], session: str = SESSION
) -> tuple[str, str, list[str]]:
    event = {
        "session_id": session,
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(paths["project"]),
        "permission_mode": "default",
        **fields,
    }
    argv = [sys.executable, "-I", "-S", "-c", DRIVER, str(LAUNCHER), "hook"]
    argv += ["--policy", str(paths["policy"]), "--state-dir", str(paths["state"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAMPARTS_", "PYTHON"))}
    proc = subprocess.run(
        argv, input=json.dumps(event).encode(), capture_output=True, timeout=120, check=False, env=env
    )
    report = [line for line in proc.stderr.decode().splitlines() if line.startswith("@@ ")]
    assert report, proc.stderr.decode()[-2000:]
    _, code, *modules = report[-1].split(" ")
    out = proc.stdout.decode()
    verdict = "none"
    if out.strip():
        verdict = str(json.loads(out).get("hookSpecificOutput", {}).get("permissionDecision", "none"))
    return code, verdict, modules


def _pre(tool: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": tool_input, "tool_use_id": "t1"}


CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("session start", {"hook_event_name": "SessionStart", "source": "startup"}, "none", False),
    ("read", _pre("Read", {"file_path": "@P/README.md"}), "allow", False),
    ("read .env", _pre("Read", {"file_path": "@P/.env"}), "deny", False),
    ("write", _pre("Write", {"file_path": "@P/x.txt", "content": "hello"}), "ask", False),
    ("edit", _pre("Edit", {"file_path": "@P/README.md", "old_string": "a", "new_string": "b"}), "ask", False),
    ("glob", _pre("Glob", {"pattern": "*.md"}), "allow", False),
    ("grep", _pre("Grep", {"pattern": "TODO", "path": "@P"}), "ask", False),
    ("webfetch", _pre("WebFetch", {"url": "https://docs.python.org/3/", "prompt": "x"}), "ask", False),
    ("bash ls", _pre("Bash", {"command": "ls -la"}), "allow", True),
    ("bash cat .env", _pre("Bash", {"command": "cat .env | head"}), "deny", True),
    (
        "prompt",
        {"hook_event_name": "UserPromptSubmit", "prompt": "please fix the failing tests"},
        "none",
        False,
    ),
    (
        "post bash",
        {
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "ls"},
            "tool_response": {"stdout": "README.md\n", "stderr": "", "interrupted": False},
            "tool_use_id": "t1",
        },
        "none",
        False,
    ),
    ("session end", {"hook_event_name": "SessionEnd", "reason": "exit"}, "none", False),  # last
]


def _make(root: Path) -> dict[str, Path]:
    (root / "ramparts.yaml").write_text(POLICY)
    project = root / "project"
    project.mkdir()
    (project / "README.md").write_text("# Demo\n\nTODO: write more.\n")
    (project / ".env").write_text("API_TOKEN=sk-test-0000000000000000\n")
    return {"policy": root / "ramparts.yaml", "state": root / "state", "project": project}


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    found = _make(tmp_path_factory.mktemp("cold-imports"))
    for name, fields, _, _ in CASES[:-1]:  # warm every cache an event reads (policy, rules, patterns)
        code, _, _ = _run(found, _fields(found, fields))
        assert code in ("0", "None"), name
    return found


def _fields(paths: dict[str, Path], fields: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(fields).replace("@P", str(paths["project"])))
    return loaded


LEAN_CASES = (
    "session start",
    "read .env",
    "write",
    "edit",
    "glob",
    "bash ls",
    "bash cat .env",
    "post bash",
    "session end",
)
"""Events that neither parse a command or URL nor run a detector rule in Python's engine."""


@pytest.mark.parametrize(("name", "fields", "verdict", "shell"), CASES, ids=[c[0] for c in CASES])
def test_the_cold_hook_loads_no_module_it_can_do_without(
    paths: dict[str, Path], name: str, fields: dict[str, Any], verdict: str, shell: bool
) -> None:
    code, got, modules = _run(paths, _fields(paths, fields))
    assert code in ("0", "None") and got == verdict, (name, code, got)
    assert _loaded(modules, NEVER) == [], name
    assert bool(_loaded(modules, ("ramparts.shell.split",))) == shell, name
    if name in LEAN_CASES:
        assert _loaded(modules, LEAN) == [], name


def test_the_driver_sees_what_loads(tmp_path: Path) -> None:
    """Mutation guard: the driver reports modules the hook really imported (the shell parser's, and the
    C modules it loads), so an empty report cannot pass the check above."""
    paths = _make(tmp_path)  # its own state: the cases' session may be live on this worker
    event = _fields(paths, _pre("Bash", {"command": "ls -la"}))
    _run(paths, event)  # compiles the caches
    code, verdict, modules = _run(paths, event)
    assert code == "0" and verdict == "allow"
    assert {"ramparts.shell.analyze", "tree_sitter._binding", "tree_sitter_bash._binding", "_sqlite3"} <= set(
        modules
    )

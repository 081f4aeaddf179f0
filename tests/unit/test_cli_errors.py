"""Bad input to every subcommand: one line on stderr, the right exit code, never a traceback.

Exit codes: 2 bad usage or input (a missing path, bad JSON, a value out of range), 1 a failed check or a
failure the person cannot fix by retyping. The table must name every subcommand (see
``test_the_table_covers_every_subcommand``).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ramparts.cli import main
from ramparts.cli._main import build_parser

SRC = str(Path(__file__).resolve().parents[2] / "src")

# (subcommand path, arguments after it, expected exit code, a phrase stderr must contain)
# {tmp} is a scratch folder, {dir} an existing folder, {missing} a path that does not exist.
CASES: list[tuple[str, list[str], int, str]] = [
    ("hook-server", ["--idle-exit", "-1"], 2, "out of range"),
    ("policy init", ["{dir}"], 2, "is a folder"),
    ("policy init", ["--profile", "nope", "{tmp}/p.yaml"], 2, "invalid choice"),
    ("policy check", ["{missing}"], 2, "does not exist"),
    ("policy check", ["{dir}"], 2, "is a folder"),
    ("policy schema", ["extra"], 2, "unrecognized arguments"),
    ("compile", ["--policy", "profile:baseline", "-o", "{missing}/x.json"], 2, "no such file"),
    ("compile", ["--policy", "profile:baseline", "-o", "{dir}"], 2, "is a folder"),
    ("compile", ["--policy", "{missing}"], 2, "policy file not found"),
    (
        "install",
        ["--policy", "profile:baseline", "--scope", "user", "--root", "/proc/nope"],
        2,
        "cannot write",
    ),
    ("install", ["--scope", "everywhere"], 2, "invalid choice"),
    ("audit schema", ["extra"], 2, "unrecognized arguments"),
    ("audit tail", ["-n", "-5"], 2, "too small"),
    ("audit tail", [], 2, "no audit store"),
    ("audit verify", [], 2, "no audit store"),
    ("audit ship", ["--config", "{missing}"], 2, "cannot read the ship configuration"),
    ("audit checkpoint", [], 2, "no audit store"),
    ("audit prove", ["--record", "0"], 2, "too small"),
    ("audit prove", ["--record", "x"], 2, "not a whole number"),
    ("audit consistency", ["5", "-2"], 2, "too small"),
    ("audit export", ["--session", "s"], 2, "no audit store"),
    ("audit verify-export", ["{missing}", "--key", "k"], 2, "no such file"),
    ("audit verify-export", ["{dir}", "--key", "k"], 2, "is a folder"),
    ("explain", ["--policy", "profile:baseline", "Bash", "ls", "--input", "{bad"], 2, "not valid JSON"),
    ("explain", ["--policy", "profile:baseline", "Bash", "ls", "--input", "[1]"], 2, "must be a JSON object"),
    ("explain", ["Bash", "ls", "--policy", "{missing}"], 2, "policy file not found"),
    ("git install-hooks", ["{missing}"], 2, "is not a folder"),
    ("scan", ["{missing}"], 2, "no such file"),
    ("scan", ["--min-confidence", "5", "-"], 2, "out of range"),
    ("scan", ["--min-confidence", "nan", "-"], 2, "not a finite number"),
    ("scan", ["--max-bytes", "-1", "-"], 2, "too small"),
    ("scan", ["--baseline", "{missing}", "-"], 2, "baseline"),
    ("scan", ["--detectors", "secrets,nope", "-"], 2, "unknown detector"),
    ("session list", ["--bogus"], 2, "unrecognized arguments"),
    ("session clear", ["nosuch"], 2, "unknown session"),
    ("session end", ["nosuch"], 2, "unknown session"),
    ("session replay", ["nosuch"], 2, "no audit store"),
    ("session changes", ["nosuch"], 2, "no audit store"),
    ("kill", ["--session", "nosuch"], 2, "no such session is known"),
    ("kill", ["--session", "x", "--grace", "-1"], 2, "out of range"),
    ("kill", [], 2, "required"),
    ("reauth", ["--session", "x", "--minutes", "0"], 2, "out of range"),
    ("reauth", ["--session", "x", "--minutes", "99999"], 2, "out of range"),
    ("gateway", ["--listen", "127.0.0.1:99999"], 2, "port in 0..65535"),
    ("gateway", ["--listen", "nocolon"], 2, "HOST:PORT"),
    ("gateway", ["--rate-per-minute", "-1"], 2, "too small"),
    ("gateway", ["--scan-workers", "65"], 2, "out of range"),
    ("gateway", ["--upstream", "notaurl"], 2, "http(s) URL"),
    ("gateway token create", [], 2, "required: --user"),
    ("gateway token create", ["--user", "bob", "--state-dir", "/proc/nope"], 2, "no such file"),
    ("gateway token list", ["--state-dir", "/proc/nope"], 2, "no such file"),
    ("gateway token revoke", ["--id", "zz"], 2, "no live token has the id zz"),
    ("gateway token revoke", [], 2, "one of the arguments --id --user is required"),
    ("gateway token rotate", [], 2, "required: --user"),
    ("gateway token rotate", ["--user", "no spaces"], 2, "letters, digits"),
    ("gateway token create", ["--user", "-x"], 2, "expected one argument"),
    ("posture", ["--format", "pdf"], 2, "invalid choice"),
    ("sandbox", ["--bogus"], 2, "unrecognized arguments"),
    ("mcp wrap", [], 2, "required"),
    ("mcp approve", [], 2, "required"),
    ("mcp pins", ["--bogus"], 2, "unrecognized arguments"),
    ("demo", ["--profile", "nope"], 2, "invalid choice"),
    ("doctor", ["--scope", "nope"], 2, "invalid choice"),
    ("uninstall", ["--scope", "user", "--root", "{dir}", "--platform", "beos"], 2, "invalid choice"),
    ("policy show", ["{missing}"], 2, "policy file not found"),
    ("egress", ["--listen", "nope"], 2, "HOST:PORT"),
    ("egress", ["--allow-port", "70000"], 2, "a port is 1 to 65535, not 70000"),
    ("egress credential", [], 2, "--session ID (or --hook) is required"),
    ("agent", [], 2, "no control plane"),
    ("alerts", ["--bogus"], 2, "unrecognized arguments"),
    ("approvals", ["--bogus"], 2, "unrecognized arguments"),
    ("approve", [], 2, "required: id"),
    ("server", ["--listen", "nope"], 2, "HOST:PORT"),
    ("server token create", [], 2, "one of the arguments --host --admin is required"),
    ("server token list", ["--bogus"], 2, "unrecognized arguments"),
    ("server token revoke", [], 2, "required: id"),
    ("server key list", ["--bogus"], 2, "unrecognized arguments"),
    ("server key pin", ["abc"], 2, "required: verifier"),
    ("server key pin", ["abc", "not-a-key", "--db", "{tmp}/k.db"], 2, "verifier key"),
    ("server key unpin", [], 2, "required: token_id, verifier"),
    ("server user add", [], 2, "required: name"),
    ("server otel-headers", ["--bogus"], 2, "unrecognized arguments"),
    ("watch", [], 2, "no control plane"),
    ("up", ["--listen", "0.0.0.0:8790"], 2, "127.0.0.1:PORT"),
    ("up", ["--sessions", "0"], 2, "out of range"),
]


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[str]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    func = parser.get_default("func")
    runs = func is not None and "_helper" not in func.__qualname__  # a group only prints its help
    out = [" ".join(path)] if path and (not subs or runs) else []
    for action in subs:
        for name, child in dict(action.choices).items():
            out += _leaves(child, (*path, name))
    return out


def test_the_table_covers_every_subcommand() -> None:
    leaves = set(_leaves(build_parser())) - {"hook"}  # the hook's own tests are below
    covered = {command for command, *_ in CASES}
    assert leaves - covered == set(), "add the new subcommand's bad inputs to CASES"


@pytest.mark.parametrize("group", ["policy", "audit", "session", "git", "gateway token", "mcp"])
def test_a_group_without_an_action_prints_its_own_help(
    group: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(group.split()) == 2
    err = capsys.readouterr()[1]
    assert err.startswith(f"usage: ramparts {group} ") and "Traceback" not in err


def test_every_option_has_help() -> None:
    missing = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in dict(action.choices).items():
                    walk(child, f"{path} {name}")
            elif action.help is None:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "ramparts")
    assert missing == []


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("RAMPARTS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("RAMPARTS_POLICY", "RAMPARTS_AUDIT_URL", "RAMPARTS_GATEWAY_STORE_URL", "RAMPARTS_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    return {"tmp": str(tmp_path), "dir": str(tmp_path / "adir"), "missing": str(tmp_path / "no" / "such")}


@pytest.mark.parametrize(("command", "args", "code", "phrase"), CASES, ids=lambda v: str(v))
def test_bad_input_is_one_line_and_an_exit_code(
    command: str,
    args: list[str],
    code: int,
    phrase: str,
    env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    argv = [*command.split(), *(a.format(**env) if "{" in a and a != "{bad" else a for a in args)]
    got = main(argv)
    _, err = capsys.readouterr()
    assert (got, err.count("\n")) == (code, 1), err
    assert phrase in err
    assert "Traceback" not in err and "internal error" not in err


def _cli(*args: str, stdout: int | None = None, stdin: int | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=SRC, RAMPARTS_POLICY="profile:baseline")
    return subprocess.run(
        [sys.executable, "-m", "ramparts", *args],
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("args", [["policy", "schema"], ["compile"], ["audit", "schema"]])
def test_a_full_disk_is_one_line_and_exit_1(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = _cli(*args, stdout=full.fileno())
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr


def test_a_closed_pipe_stops_quietly() -> None:
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.run(
        f"{sys.executable} -m ramparts policy schema | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.stdout.strip() in ("0", "141") and proc.stderr == ""


def test_hook_help_prints_usage_but_an_event_on_stdin_is_still_denied() -> None:
    proc = _cli("hook", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: ramparts hook") and proc.stderr == ""
    event = '{"hook_event_name": "PreToolUse", "session_id": "s", "tool_name": "Bash", "tool_input": {}}'
    proc = subprocess.run(
        [sys.executable, "-m", "ramparts", "hook", "--help"],
        input=event,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=SRC),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2 and '"permissionDecision": "deny"' in proc.stdout
    for bad in (["--help", "--policy", "x"], ["--bogus"], ["-h", "-h"]):
        proc = _cli("hook", *bad)
        assert proc.returncode == 2 and '"permissionDecision": "deny"' in proc.stdout, bad


def test_kill_force_records_an_order_for_an_unknown_session(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kill", "--session", "later", "--force"]) == 0
    out, _ = capsys.readouterr()
    assert "kill order for session later" in out
    assert main(["session", "list"]) == 0
    assert "kill order: session later" in capsys.readouterr()[0]

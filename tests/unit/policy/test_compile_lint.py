"""Compiling managed settings, installing them safely, and linting rules Claude Code cannot match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ramparts
from ramparts.agents.claude_code.install import InstallError, settings_path, write_settings
from ramparts.policy.compile import HOOK_EVENTS, hook_command, hook_launcher, managed_settings
from ramparts.policy.lint import lint, rule_warning
from ramparts.policy.rules import parse_rule
from ramparts.policy.types import Policy
from tests.conftest import policy_from


def test_managed_settings_shape(baseline: Policy) -> None:
    settings = managed_settings(baseline, command="/x/python -I -m ramparts hook")
    perms = settings["permissions"]
    assert perms["disableBypassPermissionsMode"] == "disable"
    assert (
        "Bash(git push * main)" in perms["deny"]
        and "Read(.env)" in perms["deny"]
        and "Edit(.env)" in perms["deny"]
    )
    assert "Bash(npm publish *)" in perms["ask"]  # read-only cloud commands no longer ask (issue 13)
    assert settings["allowManagedHooksOnly"] is True
    assert settings["env"] == {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    assert set(settings["hooks"]) == set(HOOK_EVENTS)
    for event, entries in settings["hooks"].items():
        (entry,) = entries
        (handler,) = entry["hooks"]
        assert handler == {
            "type": "command",
            "command": "/x/python -I -m ramparts hook",
            "timeout": 10,
            "onFailure": "block",
        }
        assert handler["timeout"] * 1000 > baseline.hook.deadline_ms
        assert ("matcher" in entry) == (event in ("PreToolUse", "PostToolUse"))
    json.dumps(settings)


def test_absolute_rules_from_policy_folder_are_written_with_double_slash() -> None:
    policy = policy_from("version: 1\npermissions: {deny: ['Read(/data/**)']}\n", base_dir="/srv/policy")
    assert managed_settings(policy, command="c")["permissions"]["deny"] == ["Read(//srv/policy/data/**)"]


def test_hook_command_is_isolated_and_quoted() -> None:
    command = hook_command("/p a/r.yaml", "/s", python="/venv/bin/python", deadline_ms=4000)
    assert (
        command
        == f"/venv/bin/python -I -S {hook_launcher()} hook --policy '/p a/r.yaml' --state-dir /s --deadline-ms 4000"
    )
    launcher = Path(hook_launcher())
    assert launcher.is_absolute() and launcher.is_file()
    assert launcher.parent == Path(ramparts.__file__).resolve().parent / "agents" / "claude_code"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux", "etc/claude-code/managed-settings.json"),
        ("darwin", "Library/Application Support/ClaudeCode/managed-settings.json"),
        ("win32", "Program Files/ClaudeCode/managed-settings.json"),
    ],
)
def test_managed_paths(tmp_path: Path, platform: str, expected: str) -> None:
    assert settings_path("managed", root=tmp_path, platform=platform) == tmp_path / expected


def test_real_managed_paths() -> None:
    assert str(settings_path("managed", platform="linux")) == "/etc/claude-code/managed-settings.json"
    assert str(settings_path("managed", platform="darwin")).startswith(
        "/Library/Application Support/ClaudeCode/"
    )


def test_install_refuses_foreign_or_edited_files(tmp_path: Path) -> None:
    target = tmp_path / "managed-settings.json"
    target.write_text('{"someone": "else"}')
    with pytest.raises(InstallError, match="not written by Ramparts"):
        write_settings(target, {"a": 1})
    write_settings(target, {"a": 1}, force=True)
    write_settings(target, {"a": 2})  # ours and unchanged: fine
    assert json.loads(target.read_text()) == {"a": 2}
    target.write_text('{"a": 3}')
    with pytest.raises(InstallError, match="changed since Ramparts wrote it"):
        write_settings(target, {"a": 4})


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("Bash(git:push:*)", "colon inside a Bash rule is literal"),
        ("Bash(rm:-rf:/*)", "colon inside a Bash rule is literal"),
        ("Write(./src/**)", "never checks Write(...)"),
        ("Glob(./secret/**)", "never checks Glob(...)"),
        ("Grep(./secret/**)", "never checks Grep(...)"),
        ("Read(/etc/passwd)", "single leading '/' is relative to the settings file"),
        ("WebFetch(https://x)", "does not understand this specifier"),
        ("Read(file_path:/x)", "does not understand"),
    ],
)
def test_lint_warns(rule: str, fragment: str) -> None:
    assert fragment in rule_warning(parse_rule(rule, list_="deny"))


@pytest.mark.parametrize(
    "rule",
    [
        "Bash(git push:*)",
        "Bash(git push *)",
        "Read(//etc/**)",
        "Edit(./src/**)",
        "Read(~/.ssh/**)",
        "WebFetch(domain:x.com)",
        "mcp__github",
        "Bash",
    ],
)
def test_lint_quiet_on_good_rules(rule: str) -> None:
    assert rule_warning(parse_rule(rule, list_="deny")) == ""


def test_lint_allow_only_warnings() -> None:
    assert "skips tool-name globs" in rule_warning(parse_rule("mcp__*", list_="allow"))
    assert "deny and ask only" in rule_warning(parse_rule("Bash(run_in_background:true)", list_="allow"))


def test_baseline_lints_clean(baseline: Policy) -> None:
    assert lint(baseline) == []


def test_lint_reports_weak_settings() -> None:
    policy = policy_from(
        "version: 1\nmode: report\nsettings: {allow_managed_hooks_only: false, "
        "disable_bypass_permissions: false}\n"
    )
    ids = {w.rule_id for w in lint(policy)}
    assert ids == {"mode", "settings.allow_managed_hooks_only", "settings.disable_bypass_permissions"}

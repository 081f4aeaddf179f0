"""Loading policy files: line-numbered errors, unknown keys, profiles, the compiled cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from ramparts.errors import PolicyError
from ramparts.policy.load import compile_policy, load_policy
from ramparts.policy.template import render_template


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        compile_policy(text.encode(), "p.yaml")
    return info.value


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("version: 1\npermisions: {}\n", 2, 1, "unknown key 'permisions'"),
        ("version: 1\npermissions:\n  deny: []\n  alow: []\n", 4, 3, "unknown key 'permissions.alow'"),
        ("version: 1\npermissions:\n  deny:\n    - Bash(git push\n", 4, 7, "does not end with ')'"),
        ("version: 1\npermissions:\n  deny:\n    - 'x y(z)'\n", 4, 7, "is not a tool name"),
        ("version: 1\npermissions:\n  deny: [Bash(x *)\n", 4, 1, "YAML syntax error"),
        ("version: 1\nmode: loud\n", 2, 7, "'loud' is not one of"),
        ("version: 2\n", 1, 10, "version: 1 was expected"),
        ("version: 1\nversion: 1\n", 2, 1, "duplicate key 'version'"),
        ("extends: baseline\n", 1, 1, "'version' is a required property"),
        ("version: 1\npermissions: {default: maybe}\n", 2, 24, "permissions.default"),
        (
            "version: 1\npermissions:\n  deny:\n    - {rule: 'Bash(x)', why: 'y'}\n",
            4,
            7,
            "a rule is a string",
        ),
        ("version: 1\nhook: {timeout: 5000}\n", 2, 17, "hook.timeout"),
        ("version: 1\nsettings: {env: {'bad-name': 'x'}}\n", 2, 18, "settings.env"),
        ("- a\n- b\n", 1, 1, "must be a mapping"),
        ("", 1, 1, "policy file is empty"),
        ("version: 1\n? [a]\n: b\n", 2, 3, "must be a string"),
        ("version: 1\nx: !!python/object:os.system {}\n", 2, 4, "unsupported value"),
    ],
)
def test_errors_name_line_column_and_problem(text: str, line: int, column: int, fragment: str) -> None:
    err = error_of(text)
    assert err.file == "p.yaml"
    assert (err.line, err.column) == (line, column), str(err)
    assert fragment in str(err)
    assert str(err).startswith(f"p.yaml:{line}:{column}: ")


def test_every_problem_is_listed_in_file_order() -> None:
    err = error_of("version: 1\nfoo: 1\npermissions:\n  bar: 2\n")
    lines = str(err).splitlines()
    assert lines[0].startswith("p.yaml:2:1: unknown key 'foo'")
    assert lines[1].startswith("p.yaml:4:3: unknown key 'permissions.bar'")


def test_deadline_must_be_below_timeout() -> None:
    assert "deadline_ms must be below" in str(error_of("version: 1\nhook: {timeout: 2, deadline_ms: 2000}\n"))


def test_not_utf8() -> None:
    with pytest.raises(PolicyError, match="not valid UTF-8"):
        compile_policy(b"version: 1\n# \xff\n", "p.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="policy file not found") as info:
        load_policy(str(tmp_path / "none.yaml"))
    assert str(tmp_path / "none.yaml") in str(info.value)


def test_unknown_profile() -> None:
    with pytest.raises(PolicyError, match="unknown profile"):
        load_policy("profile:lax")


def test_profiles_compose_and_user_rules_come_after() -> None:
    policy = compile_policy(
        b"version: 1\nextends: strict\npermissions:\n  deny: ['Bash(make deploy *)']\nsensitive_paths: [creds.yml]\n",
        "mine.yaml",
        base_dir="/srv",
    )
    assert policy.extends == ("profile:baseline", "profile:strict")
    raws = [r.raw for r in policy.deny]
    assert "Bash(sudo *)" in raws and raws[-1] == "Bash(make deploy *)"
    assert "creds.yml" in policy.sensitive_paths and ".env" in policy.sensitive_paths
    assert any(r.raw == "Bash" for r in policy.ask)
    assert policy.settings.allow_managed_permission_rules_only is True
    assert dict(policy.settings.env)["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"


def test_duplicate_rules_are_kept_once() -> None:
    policy = compile_policy(
        b"version: 1\nextends: baseline\npermissions: {deny: ['Bash(sudo *)']}\n", "p.yaml"
    )
    assert [r.raw for r in policy.deny].count("Bash(sudo *)") == 1


def test_single_slash_is_relative_to_the_policy_folder(tmp_path: Path) -> None:
    path = tmp_path / "ramparts.yaml"
    path.write_text("version: 1\npermissions: {deny: ['Read(/data/**)']}\n")
    policy = load_policy(str(path))
    assert policy.deny[0].spec == f"abs:{tmp_path}/data/**"


def test_revision_changes_with_content(tmp_path: Path) -> None:
    a = compile_policy(b"version: 1\n", "a.yaml")
    b = compile_policy(b"version: 1\nmode: report\n", "a.yaml")
    assert a.revision != b.revision
    assert a.revision == compile_policy(b"version: 1\n", "a.yaml").revision


def test_cache_is_used_and_invalidated(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\npermissions: {deny: ['Bash(a *)']}\n")
    cache = tmp_path / "cache"
    first = load_policy(str(path), cache_dir=cache)
    assert len(list(cache.glob("policy-*.marshal"))) == 1
    assert load_policy(str(path), cache_dir=cache) == first
    path.write_text("version: 1\npermissions: {deny: ['Bash(b *)']}\n")
    second = load_policy(str(path), cache_dir=cache)
    assert second.deny[0].raw == "Bash(b *)"


def test_corrupt_cache_is_recompiled(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\n")
    cache = tmp_path / "cache"
    load_policy(str(path), cache_dir=cache)
    for file in cache.glob("policy-*.marshal"):
        file.write_text("{garbage")
    assert load_policy(str(path), cache_dir=cache).source == str(path)


@pytest.mark.parametrize("profile", ["baseline", "strict", "readonly"])
def test_init_template_is_a_valid_policy(profile: str) -> None:
    policy = compile_policy(render_template(profile).encode(), "init.yaml")
    assert policy.extends[-1] == f"profile:{profile}"
    assert policy.deny


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        prev = f"*a{i - 1}"
        levels.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "version: 1\n" + "\n".join(levels) + "\n"
    assert "too large" in str(error_of(text))


def test_an_ask_rule_may_ask_a_remote_approver(tmp_path: Path) -> None:
    text = (
        "version: 1\nextends: none\npermissions:\n  ask:\n"
        "    - {rule: 'Bash(make deploy *)', id: deploy, ask: remote}\n"
        "    - {rule: 'Bash(make build *)', ask: local}\n    - 'Bash(rm *)'\n"
    )
    policy = compile_policy(text.encode(), "p.yaml")
    assert [(r.id, r.remote) for r in policy.ask] == [
        ("deploy", True),
        ("ask:Bash(make build *)", False),
        ("ask:Bash(rm *)", False),
    ]
    (tmp_path / "p.yaml").write_text(text)
    cached = load_policy(str(tmp_path / "p.yaml"), cache_dir=tmp_path / "cache")
    assert load_policy(str(tmp_path / "p.yaml"), cache_dir=tmp_path / "cache") == cached
    assert cached.ask[0].remote
    error = error_of("version: 1\npermissions:\n  deny:\n    - {rule: 'Bash(x)', ask: remote}\n")
    assert (error.line, error.column) == (4, 30) and "only a rule in the ask list" in error.problem
    assert (
        "'ask': local or remote"
        in error_of("version: 1\npermissions:\n  ask:\n    - {rule: 'Bash(x)', ask: elsewhere}\n").problem
    )

"""``ramparts git install-hooks``: the pre-push hook refuses agent pushes to protected branches.

The real-git test drives git with argument lists (no shell) in repositories under ``tmp_path``, with
the user's and the system's git config switched off.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from ramparts.cli import main
from ramparts.policy.githooks import MARKER, HookInstallError, install_hooks, pre_push_script

PROTECTED = ("main", "master", "release/*")
ZERO = "0" * 40
SHA_A = "a" * 40
SHA_B = "b" * 40
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment with no agent markers and no user or system git config."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
        "GIT_TERMINAL_PROMPT": "0",
        **extra,
    }


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """install_hooks runs git in this process's environment: make it the clean one too."""
    env = clean_env(tmp_path)
    for name in ("CLAUDECODE", "RAMPARTS_AGENT_SESSION", "GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_SYSTEM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def git(cwd: Path, env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def run_hook(script: Path, lines: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(script), "origin", "https://example.invalid/r.git"],
        input=lines,
        env=env,
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- the script -------------------------------------------------------------------------------------------


def test_script_is_marked_posix_sh_and_parses(tmp_path: Path) -> None:
    script = pre_push_script(PROTECTED)
    assert script.startswith("#!/bin/sh\n") and MARKER in script
    assert "main|master|release/*)" in script
    assert "[[" not in script and "function " not in script and "local " not in script
    path = tmp_path / "pre-push"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], capture_output=True, timeout=60).returncode == 0


def test_patterns_cannot_inject_shell(tmp_path: Path) -> None:
    hostile = "we'ird;$(touch>pwned)`touch>pwned2`"
    script = pre_push_script([hostile, "team/[!x]*"])
    assert "we\\'ird\\;\\$\\(touch\\>pwned\\)\\`touch\\>pwned2\\`|team/[!x]*)" in script
    path = tmp_path / "pre-push"
    path.write_text(script)
    env = clean_env(tmp_path, CLAUDECODE="1")
    for branch in (hostile, "team/a", "TEAM/B/c"):
        result = run_hook(path, f"refs/heads/x {SHA_A} refs/heads/{branch} {ZERO}\n", env)
        assert result.returncode == 1 and f"protected branch {branch}" in result.stderr
    assert run_hook(path, f"refs/heads/x {SHA_A} refs/heads/team/x {ZERO}\n", env).returncode == 0
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    with pytest.raises(ValueError, match="branch pattern"):
        pre_push_script(["bad\nname"])


@pytest.mark.parametrize(
    ("line", "refused", "message"),
    [
        (f"refs/heads/main {SHA_A} refs/heads/main {ZERO}", True, "protected branch main"),
        (f"refs/heads/x {SHA_A} refs/heads/release/2.0 {ZERO}", True, "protected branch release/2.0"),
        (f"refs/heads/x {SHA_A} refs/heads/MAIN {ZERO}", True, "protected branch MAIN"),
        (f"(delete) {ZERO} refs/heads/master {SHA_A}", True, "deleting protected branch master"),
        (f"refs/heads/x {SHA_A} refs/heads/feature {ZERO}", False, ""),
        (f"(delete) {ZERO} refs/heads/feature {SHA_A}", False, ""),
        (f"refs/tags/v1 {SHA_A} refs/tags/v1 {ZERO}", False, ""),
        # the old remote value is not in this (empty) repository: not provably a fast-forward
        (f"refs/heads/x {SHA_A} refs/heads/feature {SHA_B}", True, "non-fast-forward"),
    ],
)
def test_hook_decisions(tmp_path: Path, line: str, refused: bool, message: str) -> None:
    path = tmp_path / "pre-push"
    path.write_text(pre_push_script(PROTECTED))
    for agent in ({"CLAUDECODE": "1"}, {"RAMPARTS_AGENT_SESSION": "claude"}):
        result = run_hook(path, line + "\n", clean_env(tmp_path, **agent))
        assert (result.returncode != 0) is refused, result.stderr
        assert message in result.stderr
        if refused and "protected" in message:
            assert "need a human" in result.stderr
    human = run_hook(path, line + "\n", clean_env(tmp_path, CLAUDECODE="0"))
    assert human.returncode == 0 and human.stderr == ""


# -- installing ---------------------------------------------------------------------------------------------


def test_install_refuses_a_foreign_hook(tmp_path: Path, git_env: dict[str, str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, git_env, "init", "-q")
    hook = repo / ".git" / "hooks" / "pre-push"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(HookInstallError, match="did not write"):
        install_hooks(str(repo), PROTECTED)
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    assert install_hooks(str(repo), PROTECTED, force=True) == str(hook)
    assert MARKER in hook.read_text()
    assert stat.S_IMODE(hook.stat().st_mode) == 0o755
    assert install_hooks(str(repo), ("prod",)) == str(hook)  # its own hook is replaced freely
    assert "prod)" in hook.read_text()


def test_install_follows_core_hooks_path(tmp_path: Path, git_env: dict[str, str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, git_env, "init", "-q")
    git(repo, git_env, "config", "core.hooksPath", "shared-hooks")
    path = install_hooks(str(repo), PROTECTED)
    assert Path(path).resolve() == (repo / "shared-hooks" / "pre-push").resolve()


def test_install_outside_a_repository(tmp_path: Path, git_env: dict[str, str]) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(HookInstallError, match="not a git repository"):
        install_hooks(str(tmp_path / "plain"), PROTECTED)


def test_cli_install_hooks(
    tmp_path: Path, git_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, git_env, "init", "-q")
    assert main(["git", "install-hooks", str(repo), "--protect", "prod", "--protect", "main"]) == 0
    out = capsys.readouterr().out
    assert "pre-push" in out and "main, master, release/*, prod" in out
    (repo / ".git" / "hooks" / "pre-push").write_text("#!/bin/sh\n")
    assert main(["git", "install-hooks", str(repo)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["git", "install-hooks", str(repo), "--force"]) == 0


# -- the real thing ----------------------------------------------------------------------------------------


def test_real_pushes(tmp_path: Path, git_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    git(tmp_path, git_env, "init", "-q", "--bare", "--initial-branch=main", str(remote))
    git(tmp_path, git_env, "clone", "-q", str(remote), str(work))
    git(work, git_env, "checkout", "-q", "-b", "main")
    (work / "a.txt").write_text("one\n")
    git(work, git_env, "add", "a.txt")
    git(work, git_env, "commit", "-q", "-m", "one")
    assert main(["git", "install-hooks", str(work)]) == 0
    capsys.readouterr()
    agent = {**git_env, "CLAUDECODE": "1"}

    refused = git(work, agent, "push", "origin", "main", check=False)
    assert refused.returncode != 0
    assert "protected branch main" in refused.stderr and "need a human" in refused.stderr
    assert git(remote, git_env, "branch", "--list", "main").stdout == ""  # nothing arrived

    git(work, git_env, "push", "-q", "origin", "main")  # a human outside the agent session
    assert git(remote, git_env, "rev-parse", "main").stdout == git(work, git_env, "rev-parse", "HEAD").stdout

    git(work, git_env, "checkout", "-q", "-b", "feature")
    (work / "b.txt").write_text("two\n")
    git(work, git_env, "add", "b.txt")
    git(work, git_env, "commit", "-q", "-m", "two")
    git(work, agent, "push", "-q", "origin", "feature")  # an agent may push its own branch

    git(work, git_env, "commit", "-q", "--amend", "-m", "two, reworded")
    rewritten = git(work, agent, "push", "origin", "+feature", check=False)
    assert rewritten.returncode != 0 and "non-fast-forward" in rewritten.stderr

    deleting = git(work, agent, "push", "origin", ":main", check=False)
    assert deleting.returncode != 0 and "deleting protected branch main" in deleting.stderr

    git(work, git_env, "push", "-q", "origin", "+feature")  # the human may

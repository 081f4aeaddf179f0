"""A repository's own git configuration can make a read-only git command run a program. The embedded
bare repository attack: ordinary committed files (``docs/vendored/{HEAD,config,objects/,refs/}``) make a
bare repository whose ``config`` sets ``core.worktree`` and ``core.fsmonitor``; ``cd docs/vendored &&
git status`` then runs its program. Real git in the oracle's sandbox shows it does; the hook asks."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.agents.claude_code.normalize import tool_call, tracked
from ramparts.agents.claude_code.repo_config import git_dirs, program_keys, repository_risks
from ramparts.testing.shell_oracle import Sandbox, available

GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"}


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, timeout=30)


def _embedded(project: Path, marker: str) -> Path:
    """A bare repository inside ``project`` whose configuration runs ``touch marker`` on git status."""
    vendored = project / "docs" / "vendored"
    vendored.mkdir(parents=True)
    _git("init", "-q", "--bare", ".", cwd=vendored)
    _git("config", "--file", "config", "core.bare", "false", cwd=vendored)
    _git("config", "--file", "config", "core.worktree", str(project / "docs"), cwd=vendored)
    _git("config", "--file", "config", "core.fsmonitor", f"touch {marker}; false", cwd=vendored)
    return vendored


def _opaque(command: str, cwd: Path) -> tuple[str, ...]:
    return tool_call("Bash", {"command": command}, cwd=str(cwd), home=str(cwd.parent / "home")).opaque


def test_program_keys_reads_what_git_reads() -> None:
    text = (
        "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = false\n"
        '[remote "origin"]\n\turl = https://github.com/o/r\n'
        '[Diff "pdf"]\n\tTextConv = "pdftotext" ; comment\n'
        "[filter.lfs]\n\tprocess = git-lfs filter-process\n\tclean = git-lfs clean -- %f\n"
        '[filter "x"]\n\tclean = ./run-me\n'
        "[core] FSMonitor = ./hook.sh\n"
        "[include]\n\tpath = ../elsewhere\n"
    )
    assert [key for key, _ in program_keys(text)] == [
        "diff.pdf.textconv",
        "filter.x.clean",
        "core.fsmonitor",
        "include.path",
    ]
    assert program_keys("[core]\n\tfsmonitor = true\n\tbare = false\n") == []  # git's own daemon
    assert program_keys("[core\nfsmonitor = x\n")[0][0] == "unreadable section header"


@given(st.text(max_size=400))
def test_program_keys_never_fails_and_finds_a_program_anywhere(text: str) -> None:
    program_keys(text)
    planted = text.replace("[", "").replace("\r", "") + "\n[core]\n  fsMonitor=./x\n"
    assert ("core.fsmonitor", "./x") in program_keys(planted)


def test_git_dirs_follows_discovery(tmp_path: Path) -> None:
    assert git_dirs(str(tmp_path)) in (("", ()), None) or git_dirs(str(tmp_path))[1][0] != str(tmp_path)
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    _git("init", "-q", cwd=repo)
    assert git_dirs(str(repo / "sub")) == (str(repo), (str(repo / ".git"),))
    vendored = _embedded(repo, str(tmp_path / "m"))
    assert git_dirs(str(vendored)) == (str(vendored), (str(vendored),))
    (repo / "wt").mkdir()
    (repo / "wt" / ".git").write_text("gitdir: ../.git/worktrees/wt\n")
    (repo / ".git" / "worktrees" / "wt").mkdir(parents=True)
    (repo / ".git" / "worktrees" / "wt" / "commondir").write_text("../..\n")
    assert git_dirs(str(repo / "wt")) == (
        str(repo / "wt"),
        (str(repo / ".git" / "worktrees" / "wt"), str(repo / ".git")),
    )
    (repo / "bad").mkdir()
    (repo / "bad" / ".git").write_text("not a pointer\n")
    assert git_dirs(str(repo / "bad")) is None
    assert repository_risks(str(repo / "bad"))[0].startswith("cannot tell which repository")


def test_a_dot_git_is_gits_own_and_its_configuration_the_users(tmp_path: Path) -> None:
    """A ``.git`` folder or file (a clone, a submodule, a worktree) is made by git, never committed: what
    its configuration runs is the user's choice (git-crypt, LFS), as with their global configuration."""
    repo = tmp_path / "repo"
    modules = repo / ".git" / "modules" / "lib"
    (repo / "lib").mkdir(parents=True)
    _git("init", "-q", cwd=repo)
    _git("config", "filter.git-crypt.clean", '"git-crypt" clean', cwd=repo)
    modules.mkdir(parents=True)
    _git("init", "-q", "--bare", ".", cwd=modules)
    _git("config", "--file", "config", "core.worktree", "../../../lib", cwd=modules)
    (repo / "lib" / ".git").write_text("gitdir: ../.git/modules/lib\n")
    assert repository_risks(str(repo)) == [] and repository_risks(str(repo / "lib")) == []


def test_the_embedded_bare_repository_runs_its_program_in_real_git_and_the_hook_asks() -> None:
    missing = available()
    if missing:
        pytest.skip(missing)
    with Sandbox() as sandbox:
        sandbox.reset()
        project = Path(sandbox.project)
        marker = project / "ran-the-repositorys-program"
        vendored = _embedded(project, str(marker))
        command = "cd docs/vendored && git status"
        seen = sandbox.observe(command)
        assert str(marker) in seen.writes, seen  # real git ran the configured program
        assert any("ran-the-repositorys-program" in " ".join(argv) for _owner, argv in seen.execs)
        opaque = _opaque(command, project)
        assert any(f"{vendored}/config sets" in why and "core.fsmonitor" in why for why in opaque), opaque
        assert any("core.fsmonitor" in why for why in _opaque("git log -1", vendored))
        assert _opaque("git status", project) == ()  # the project's own repository is clean


def test_the_hook_does_not_run_git_where_the_configuration_runs_programs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    vendored = _embedded(repo, str(marker))
    (repo / "docs" / "a.txt").write_text("one\n")
    assert tracked(str(vendored)) is None and not marker.exists()
    assert any("core.fsmonitor" in why for why in _opaque("git diff --stat", vendored))
    assert tracked(str(repo)) == ()  # the project's own repository: git's own .git, nothing changed

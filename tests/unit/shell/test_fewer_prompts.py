"""Fewer needless prompts, soundly (issue 13, second pass): xargs feeding a names-and-metadata program,
``$(...)`` whose output only becomes arguments of such a program, listing forms of git and tar, and
``git diff`` judged by the files git tracks rather than every file in the folder.

Each allowed form is run in real bash by the oracle (nothing ran, was read, written or printed that
the analysis did not name), and each near miss that could leak stays a prompt."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.explain import explain_input
from ramparts.policy.load import load_policy
from ramparts.shell import analyze
from ramparts.shell.analyze import XARGS_METADATA, XARGS_METADATA_AFTER_DASHES, xargs_blind_command
from ramparts.shell.readonly import is_read_only
from ramparts.testing.shell_oracle import Sandbox, available, check

WHY = available()
needs_sandbox = pytest.mark.skipif(bool(WHY), reason=f"the oracle cannot run here: {WHY}")

ALLOWED = [
    # xargs running a program that prints names and metadata only
    "find . -name '*.py' | xargs ls -la",
    "git ls-files | xargs -0 stat",
    "ls | xargs -I {} stat {}",
    "find . -type f | xargs -n 1 basename",
    "git ls-files | xargs realpath",
    "git ls-files | xargs wc -l --",
    "git ls-files -z | xargs -0 du -sh --",
    "printf '%s\\n' a b | xargs",
    "xargs --process-slot-var ls wc -l -- < notes.txt",  # `ls` is the variable's name: wc runs
    # $(...) and backticks feeding echo, ls and friends, with read-only commands inside
    "echo $(whoami)",
    "echo `whoami` $(date)",
    "ls $(pwd)",
    'echo "$(git rev-parse --abbrev-ref HEAD)"',
    "basename $(pwd)",
    # listing forms
    "git tag",
    "git tag -l 'v1.*'",
    "git branch --list 'feature/*'",
    "git branch --contains HEAD",
    "git cat-file -t HEAD",
    "tar tf notes.tar",
    "tar tvzf notes.tgz",
    "xxd -s 0x10 -l 32 README.md",
    "ifconfig -a",
    # third pass: process substitution `<(…)` with read-only commands inside (the outer reads a pipe)
    "diff <(sort notes.txt) <(sort README.md)",
    "comm -12 <(sort notes.txt) <(ls)",
    "cat < <(ls src)",
    "grep -f <(echo alpha) notes.txt",
    "wc -l <(git log --oneline)",
    # version queries and dry runs that make nothing
    "mktemp -u",
    "mktemp -u tmp.XXXXXX",
    "mktemp -qu -t prefix.XXXX",
    "arch",
    "sqlite3 -version",
    "mawk -W version",
    # fourth pass: harmless assignments before a read-only command, nawk, ip's brief form
    "FOO=BAR ls -l",
    "env FOO=bar BAZ=qux ls",
    "env -i FOO=bar BAR=baz ls",
    "env --ignore-environment PATH=/bin ls",
    "nawk '{print $1}' notes.txt",
    "ip -br addr",
    "git -c core.editor=vim log --oneline",
]
NOT_ALLOWED = [
    # content of files named only at run time
    "git ls-files | xargs cat",
    "git ls-files | xargs head -5",
    "git ls-files | xargs grep -l token",  # a match/no-match answer per guess leaks a secret bit by bit
    "git ls-files | xargs md5sum",
    # a word from stdin can be an option that prints a file (`wc --files0-from=.env`)
    "git ls-files | xargs wc -l",
    "printf -- '--files0-from=.%s' env | xargs du",
    "xargs -I {} wc {} -- < notes.txt",
    # options xargs reads differently from the table, or a program by path or from the input
    "xargs -J % ls %",
    "xargs /bin/ls",
    "xargs -I ls ls",
    "xargs sh -c 'ls'",
    # substitutions whose output is a file name to read, an option of a program that has dangerous
    # ones, a redirect target or an assignment
    "cat $(ls *.txt)",
    "head -1 $(git ls-files)",
    "printf $(echo -v) x",
    "wc $(printf -- '--files0-from=.%s' env)",
    "echo hi > $(pwd)/x",
    "x=$(pwd); ls $x",
    "echo $(env)",
    "ls $(rm -rf src)",
    # listings that are not
    "git tag v9",
    "git branch newbranch",
    "git tag -l -d v1",
    "git cat-file -p HEAD",
    "tar xf notes.tar",
    "xxd README.md out.bin",
    "ifconfig eth0 -arp",
    # process substitution: a write target, inner commands that write or print history, code from a pipe
    "tee >(grep x) < notes.txt",
    "cat <(echo a > x.txt)",
    "wc -l <(git log -p)",
    "bash <(echo ls)",
    "source <(echo ls)",
    "xargs -a <(echo .env) cat",
    "sed -f <(echo p) notes.txt",
    # forms that make or run something
    "mktemp",
    "mktemp -d",
    "arch --arch x86_64 pwd",
    "sqlite3 x.db",
    "sqlite3 -version x.db",
]
DENIED = [
    "echo $(cat .env)",
    "ls $(cat .env)",
    "tar tf .env",
    # xargs reading its words from a protected file prints them in ls's errors: every spelling of -a
    "xargs -a .env ls",
    "xargs --arg-file=.env ls",
    "xargs -a.env stat",
    "xargs -0a .env wc -l --",
    "cat <(cat .env)",
    "diff <(sort .env) notes.txt",
    "comm <(ls) <(head -1 < .env)",
]


@pytest.fixture(scope="module")
def baseline() -> object:
    return load_policy("profile:baseline")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text("KEY=not-a-real-value\n")
    (tmp_path / "README.md").write_text("# readme\n")
    (tmp_path / "notes.txt").write_text("notes\n")
    return tmp_path


@pytest.mark.parametrize("command", ALLOWED)
def test_read_only_forms_are_allowed(baseline: object, project: Path, command: str) -> None:
    decision = explain_input(baseline, "Bash", {"command": command}, str(project))  # type: ignore[arg-type]
    assert decision.verdict == "allow", (command, decision)


@pytest.mark.parametrize("command", NOT_ALLOWED)
def test_near_misses_still_ask(baseline: object, project: Path, command: str) -> None:
    decision = explain_input(baseline, "Bash", {"command": command}, str(project))  # type: ignore[arg-type]
    assert decision.verdict == "ask", (command, decision)


@pytest.mark.parametrize("command", DENIED)
def test_protected_reads_inside_them_are_denied(baseline: object, project: Path, command: str) -> None:
    decision = explain_input(baseline, "Bash", {"command": command}, str(project))  # type: ignore[arg-type]
    assert decision.verdict == "deny", (command, decision)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


ORACLE = [
    *ALLOWED,
    # stdin words that try to be options or protected names: after `--` they are only operands
    "printf -- '--files0-from=.%s' env | xargs wc -l --",
    "printf '.env\\nsecrets/key\\n' | xargs ls -la",
    "printf '.env\\n' | xargs stat",
    "find . -name '.env*' -print0 | xargs -0 wc -c --",
    "echo $(ls -a) `id -un`",
    "xargs --arg-file=notes.txt ls",  # xargs' own read is named (only the program's reads are stdin's)
    "xargs -0a README.md wc -c --",
]


@needs_sandbox
@pytest.mark.parametrize("command", ORACLE)
def test_each_allowed_form_agrees_with_bash(sandbox: Sandbox, command: str) -> None:
    result = check(sandbox, command)
    assert "allow" in result.verdicts.values(), result.verdicts
    assert result.ran and result.problems == (), result.problems


# -- the xargs reader -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "command"),
    [
        ("ls", ["ls"]),
        ("", ["echo"]),
        ("-0 -n 1 -P4 stat -c %s", ["stat", "-c", "%s"]),
        ("--null --max-args=2 --replace={} ls {}", ["ls", "{}"]),
        ("-d , -L 2 -- basename", ["basename"]),
        ("-i ls {}", ["ls", "{}"]),
        ("-a list.txt wc -l --", ["wc", "-l", "--"]),
    ],
)
def test_xargs_reader_finds_the_command(args: str, command: list[str]) -> None:
    assert xargs_blind_command(args.split()) == command


@pytest.mark.parametrize(
    "args",
    ["cat", "-J % ls", "--nul ls", "--bogus ls", "-I ls ls", "/bin/ls", "wc -l", "-I{} wc {} --", "-n"],
)
def test_xargs_reader_refuses(args: str) -> None:
    assert xargs_blind_command(args.split()) is None


WORDS = st.sampled_from(
    [
        "-0",
        "-n",
        "1",
        "-I",
        "{}",
        "-i",
        "-P4",
        "-d",
        ",",
        "--",
        "--null",
        "--replace",
        "-J",
        "-x",
        "-a",
        "f",
        *sorted(XARGS_METADATA | XARGS_METADATA_AFTER_DASHES),
        "cat",
        "sh",
        "-c",
        "-l",
        "/bin/ls",
        "--files0-from=x",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(WORDS, max_size=8))
def test_xargs_reader_only_ever_names_a_metadata_program(args: list[str]) -> None:
    command = xargs_blind_command(args)
    if command is None:
        return
    assert command[0] in XARGS_METADATA or (command[0] in XARGS_METADATA_AFTER_DASHES and "--" in command)
    # and the analysis of the whole sees no opaque part, and only read-only commands
    text = " ".join(["xargs", *(f"'{w}'" for w in args)])
    result = analyze(text)
    assert not result.opaque, text
    assert all(c.read_only or c.wrapper for c in result.commands), text


# -- git diff: the tracked files, not the folder ------------------------------------------------------------


def _git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=30,
    )


def test_git_diff_is_allowed_beside_an_untracked_env_and_asks_when_a_protected_file_is_tracked(
    baseline: object, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    (repo / ".env").write_text("KEY=not-a-real-value\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-qm", "one")
    (repo / "a.txt").write_text("b\n")

    def verdict(command: str, where: Path, env: dict[str, str] | None = None) -> str:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            return explain_input(baseline, "Bash", {"command": command}, str(where)).verdict  # type: ignore[arg-type]

    assert verdict("git diff", repo) == "allow"
    assert verdict("git diff", repo / "sub") == "allow"
    assert verdict("grep -r b .", repo) == "ask"  # a folder read still counts the untracked .env
    _git(repo, "add", "-f", ".env")
    _git(repo, "commit", "-qm", "two")
    assert verdict("git diff", repo) == "allow"  # tracked but unchanged: git diff does not print it
    (repo / ".env").write_text("KEY=another-value\n")
    assert verdict("git diff", repo) == "ask"
    assert verdict("git diff", repo / "sub") == "ask"  # the whole repository's changes are shown
    assert verdict("git diff", tmp_path) == "allow"  # no repository: git diff prints only its usage
    assert verdict("git diff", repo, env={"GIT_DIR": str(repo / ".git")}) == "ask"  # another repository


def test_table_additions_are_read_only_and_their_writing_forms_are_not() -> None:
    for command in ("brew missing", "launchctl hostinfo", "xattr -l f", "git branch -v", "git tag -n"):
        assert is_read_only(tuple(command.split())), command
    for command in ("xattr -w k v f", "git branch -m a b", "git tag -f v1", "git cat-file --batch"):
        assert not is_read_only(tuple(command.split())), command


@needs_sandbox
def test_the_oracle_still_sees_what_xargs_itself_reads(sandbox: Sandbox) -> None:
    """Only the metadata program's reads are stdin's; xargs' own `--arg-file` read must be named (an
    analysis that missed it, as the first version of this exception did, is caught)."""
    from ramparts.testing.shell_oracle import compare, verdicts

    observed = sandbox.observe("xargs --arg-file=.env ls")
    _verdicts, blind_call = verdicts("xargs ls", sandbox.project, sandbox.home)
    problems = compare(blind_call, observed, str(sandbox.root))
    assert any(".env, which the analysis did not name" in p for p in problems), problems
    assert any("printed protected content" in p for p in problems), problems


def test_git_diff_past_256_changed_files_is_scanned_not_asked_about(baseline: object, tmp_path: Path) -> None:
    # 300 changed tracked files: all scanned within the time budget (they were asked about past 256)
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for n in range(300):
        (repo / f"f{n:03}.txt").write_text("a\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    for n in range(300):
        (repo / f"f{n:03}.txt").write_text("b\n")
    decision = explain_input(baseline, "Bash", {"command": "git diff"}, str(repo))  # type: ignore[arg-type]
    assert decision.verdict == "allow", decision
    # a key in the 290th changed file is still found: the scan went past 256 files
    (repo / "f290.txt").write_text("key AKIAQYLPMN5HHHFPZAM2\n")
    decision = explain_input(baseline, "Bash", {"command": "git diff"}, str(repo))  # type: ignore[arg-type]
    assert decision.verdict != "allow", decision


def test_a_scan_past_its_file_bound_is_never_an_allow(
    baseline: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ramparts.agents.claude_code import content

    monkeypatch.setattr(content, "MAX_FILES", 5)
    for n in range(6):
        (tmp_path / f"f{n}.txt").write_text("a\n")
    decision = explain_input(baseline, "Bash", {"command": "grep -r a ."}, str(tmp_path))  # type: ignore[arg-type]
    assert decision.verdict == "ask" and "more than 5 files" in decision.reason, decision

"""The bypass classes of issue 13, each closed as a class (every case here was run in real bash; the
differential oracle in ``ramparts.testing.shell_oracle`` checks them again in ``test_shell_oracle``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ramparts.engine import decide
from ramparts.model import Event, SessionState
from ramparts.policy.load import load_policy
from ramparts.shell import analyze

BASELINE = load_policy("profile:baseline")


def decide_in(project: Path, command: str, policy: object = BASELINE) -> tuple[str, tuple[str, ...]]:
    from ramparts.agents.claude_code.normalize import tool_call

    home = str(project.parent / "home")
    call = tool_call("Bash", {"command": command}, cwd=str(project), home=home)
    event = Event(kind="pre_tool_use", session_id="s", cwd=str(project), home=home, tool=call)
    decision = decide(policy, event, SessionState("s"))  # type: ignore[arg-type]
    return decision.verdict, decision.rule_ids


def argvs(text: str) -> list[tuple[str, ...]]:
    return [c.argv for c in analyze(text).commands]


def words(text: str) -> list[str]:
    return [f.word for f in analyze(text).files]


# -- 1. backslash-newline follows bash per context ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("echo ok # \\\ncurl evil.example", ("curl", "evil.example")),  # a comment ends at the newline
        ("echo a \\\n# b \\\ncurl evil.example", ("curl", "evil.example")),
        ("cat <<'EOF'\nfoo\\\nEOF\ncurl evil.example\nEOF\n", ("curl", "evil.example")),  # quoted body
        ('cat <<"EOF"\nfoo\\\nEOF\ncurl evil.example\nEOF\n', ("curl", "evil.example")),
        ("cat <<\\EOF\nfoo\\\nEOF\ncurl evil.example\nEOF\n", ("curl", "evil.example")),
        ("cat <<-'EOF'\n\tfoo\\\n\tEOF\ncurl evil.example\n", ("curl", "evil.example")),
    ],
)
def test_a_backslash_newline_does_not_join_where_bash_keeps_it(text: str, hidden: tuple[str, ...]) -> None:
    assert hidden in argvs(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cat .en\\\nv", [".env"]),  # ordinary text: joined
        ('cat ".en\\\nv"', [".env"]),  # double quotes: joined
    ],
)
def test_a_backslash_newline_joins_where_bash_joins_it(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_an_unquoted_here_document_body_joins_lines_and_runs_its_substitutions() -> None:
    # bash reads `foo\<newline>EOF` as `fooEOF`, so the body goes on and `$(curl x)` runs
    assert ("curl", "x") in argvs("cat <<EOF\nfoo\\\nEOF\n$(curl x)\nEOF\n")


def test_a_comment_continuation_is_denied_in_baseline(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    assert decide_in(project, "echo ok # \\\nrm -rf ~")[0] == "deny"


# -- 2. commands that run in another directory -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("env -C secrets cat key", ["secrets/key"]),
        ("env --chdir=secrets cat key", ["secrets/key"]),
        ("env --chdir secrets cat key", ["secrets/key"]),
        ("env --chd secrets cat key", ["secrets/key"]),  # an abbreviation getopt_long accepts
        ("env -iC secrets cat key", ["secrets/key"]),  # in a cluster
        ("env -iCsecrets cat key", ["secrets/key"]),
        ("env -C a env -C b cat c", ["a/b/c"]),
        ("sudo -D /etc cat shadow", ["/etc/shadow"]),
        ("nsenter --wd=/etc cat shadow", ["/etc/shadow"]),
        ("env -C /x cat /etc/hosts", ["/etc/hosts"]),
        ("tar -C secrets -czf out.tgz key", ["secrets/key", "out.tgz"]),
    ],
)
def test_a_wrapper_that_changes_directory_moves_the_relative_paths(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cd secrets && cat key", {"key", "secrets/key"}),
        ("cd && cat .ssh/id_rsa", {".ssh/id_rsa", "~/.ssh/id_rsa"}),
        ("(cd a; cat b); cat c", {"b", "c", "a/b", "a/c"}),  # every command may run in either
        ("f() { cat key; }; cd secrets; f", {"key", "secrets/key"}),  # the order does not matter
        ("pushd secrets; cat key", {"key", "secrets/key"}),
        ("cd /x; env -C y cat z", {"y/z", "/x/y/z"}),
    ],
)
def test_cd_makes_every_relative_path_count_in_the_new_directory_too(text: str, expected: set[str]) -> None:
    assert set(words(text)) == expected


@pytest.mark.parametrize("text", ["cd - && cat x", "pushd +1 && cat x"])
def test_a_directory_only_known_when_it_runs_is_opaque(text: str) -> None:
    assert analyze(text).opaque


def test_too_many_directories_are_opaque() -> None:
    text = "; ".join(f"cd d{i}" for i in range(12)) + "; cat x"
    assert any("changes directory" in o for o in analyze(text).opaque)


def test_find_execdir_paths_are_below_every_root() -> None:
    files = analyze("find . -name x -execdir cat .env \\;").files
    assert [(f.word, f.recursive) for f in files] == [(".", True)]
    assert analyze("find src -execdir touch stamp \\;").opaque


@pytest.mark.parametrize(
    "command",
    [
        "env -C secrets cat key",
        "cd secrets && cat key",
        "find . -execdir cat .env \\;",
        "env --chd=secrets cat key",
    ],
)
def test_another_directory_reaches_the_sensitive_rules(tmp_path: Path, command: str) -> None:
    project = tmp_path / "p"
    (project / "secrets").mkdir(parents=True)
    (project / "secrets" / "key").write_text("x")
    (project / ".env").write_text("x")
    assert decide_in(project, command)[0] in ("deny", "ask")
    assert decide_in(project, command)[0] != "allow"


# -- 3. abbreviated GNU long options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("grep --reg=PATTERN .env", ".env"),
        ("grep --rege PATTERN .env", ".env"),
        ("grep --fil .env x", ".env"),  # --file
        ("grep --exclude-from .env x y", ".env"),  # a value option: the pattern slot is a file
        ("grep --exclude-fr .env x y", ".env"),
        ("grep --some-new-option .env x", ".env"),  # unknown: the next word may be its value
    ],
)
def test_long_options_are_read_as_getopt_long_reads_them(text: str, read: str) -> None:
    assert read in words(text)


def test_a_known_boolean_long_option_keeps_the_pattern() -> None:
    assert words("grep --ignore-case foo bar") == ["bar"]
    assert words("grep --ignore-c foo bar") == ["bar"]


def test_an_abbreviation_is_not_spelt_out_after_the_end_of_options() -> None:
    from ramparts.shell.analyze import spelt_out

    assert spelt_out("grep", ["--reg=x", "--", "--reg=y"]) == ["--regexp=x", "--", "--reg=y"]
    assert spelt_out("grep", ["--re=x"]) == ["--re=x"]  # ambiguous: --regexp, --recursive


# -- 4. protected content through git objects -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "git show",
        "git show HEAD~3",
        "git show abc1234",
        "git show HEAD:.env",
        "git show :0:.env",
        "git show --stat abc1234",  # a blob is printed whatever --stat says
        "git log -p",
        "git log --patch -- src",
        "git log -L1,5:app.py",
        "git log -U3",
        "git diff HEAD",
        "git diff HEAD~1 HEAD",
        "git diff --cached",
        "git diff abc1234 -- app.py",
        "git grep foo HEAD~1",
        "git grep -e foo HEAD~1",
        "git grep --cached foo",
        "git cat-file -p abc1234",
        "git cat-file blob abc1234",
        "git archive HEAD",
        "git blame HEAD~2 -- app.py",
        "git stash show -p",
        "git whatchanged -p",
        "git diff-tree -p HEAD",
        "git range-diff a...b",
        "git request-pull -p v1 origin",
        "git format-patch --stdout -1",
        "git fast-export --all",
        "git notes show",
    ],
)
def test_git_commands_that_print_history_are_opaque(text: str) -> None:
    assert any("did not scan" in o for o in analyze(text).opaque), text


@pytest.mark.parametrize(
    "text",
    [
        "git log",
        "git log --oneline -5",
        "git log --stat",
        "git show --stat",
        "git show -s HEAD~2",
        "git diff",
        "git diff --stat HEAD~2",
        "git diff --name-only HEAD",
        "git diff -- app.py",
        "git grep foo",
        "git cat-file -t abc1234",
        "git archive --list",
        "git blame app.py",
        "git stash show",
        "git diff-tree --name-only HEAD",
        "git status",
    ],
)
def test_git_commands_that_print_names_and_metadata_are_not(text: str) -> None:
    assert not any("did not scan" in o for o in analyze(text).opaque), text


def test_the_index_stage_path_is_read() -> None:
    assert ".env" in words("git show :0:.env")
    assert ".env" in words("git show :.env")


def test_git_history_asks_in_baseline(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    assert decide_in(project, "git show HEAD~1")[0] == "ask"
    assert decide_in(project, "git log --oneline")[0] == "allow"


# -- 6. name variants and letter case ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ".env_local",
        ".env-prod",
        ".env~",
        ".envrc",
        "prod.env.bak",
        ".ENV",
        ".Env.Local",
        "ID_RSA",
        "Secrets/key",
        "id_rsa.bak",
        "id_rsa.BAK",
        ".npmrc~",
        "server.key.orig",
        ".#.env",
        "'#.env#'",  # quoted: a bare # starts a comment
        ".pypirc.old",
        "cert.PEM",
    ],
)
def test_spellings_of_a_sensitive_file_are_denied(tmp_path: Path, name: str) -> None:
    project = tmp_path / "p"
    (project / "Secrets").mkdir(parents=True)
    assert decide_in(project, f"cat {name}")[0] == "deny", name


def test_a_policy_may_match_letter_case_exactly(tmp_path: Path) -> None:
    from tests.conftest import policy_from

    exact = policy_from("version: 1\nextends: baseline\npermissions: {paths_ignore_case: false}\n")
    project = tmp_path / "p"
    project.mkdir()
    assert decide_in(project, "cat .ENV", exact)[0] == "allow"
    assert decide_in(project, "cat .ENV")[0] == "deny"


@pytest.mark.parametrize(
    "name", ["environment.md", "env.py", "README.env.md", "src/.envoy", "id_rsa_reader.py"]
)
def test_ordinary_names_are_not_variants(tmp_path: Path, name: str) -> None:
    project = tmp_path / "p"
    (project / "src").mkdir(parents=True)
    assert decide_in(project, f"cat {name}")[0] == "allow", name


# -- properties of the new parsers ---------------------------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = [*"ab #'\"\\\n<-EOF$(){};|&~.", "<<", "<<'EOF'", "\nEOF\n"]
SHELLISH = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@given(SHELLISH)
def test_joining_continuations_never_raises_and_only_removes(text: str) -> None:
    from ramparts.shell.split import join_continuations

    source = text.encode()
    joined = join_continuations(source)
    rest = iter(source)
    assert all(byte in rest for byte in joined)  # what is left is the source with pieces taken out


@given(st.lists(st.text(alphabet="-abcdefgrxz=", max_size=12), max_size=6))
def test_spelling_out_options_keeps_the_word_count_and_never_raises(args: list[str]) -> None:
    from ramparts.shell.analyze import spelt_out

    out = spelt_out("grep", args)
    assert len(out) == len(args)
    for before, after in zip(args, out, strict=True):
        assert after == before or (before.startswith("--") and after.startswith(before.partition("=")[0]))

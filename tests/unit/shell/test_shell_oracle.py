"""The differential oracle: real bash in bubblewrap under strace, against the analysis (issue 13).

A fixed-seed campaign runs in CI; every under-report any campaign found stays below as a regression
case, and one representative per bypass class of the issue is checked against bash here too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from ramparts.testing.shell_oracle import (
    CANARY,
    Sandbox,
    available,
    campaign,
    check,
    commands,
    compare,
    corpus_commands,
    parse_trace,
    read_only_by_oracle,
    scratch_files,
    verdicts,
)

WHY = available()
needs_sandbox = pytest.mark.skipif(bool(WHY), reason=f"the oracle cannot run here: {WHY}")
CAMPAIGN_CASES = int(os.environ.get("RAMPARTS_ORACLE_CASES", "2000"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


# -- the trace parser ----------------------------------------------------------------------------------

TRACE = """\
10    execve("/usr/bin/bash", ["bash", "-c", "cat .env"], 0x7ffd /* 3 vars */) = 0
10    clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD <unfinished ...>
11    execve("/usr/bin/cat", ["cat", ".env", "a\\"b"], 0x55 /* 6 vars */) = 0
10    <... clone resumed>, child_tidptr=0x7f) = 11
11    openat(AT_FDCWD</w/p>, ".env", O_RDONLY) = 3</w/p/.env>
11    openat(AT_FDCWD</w/p>, "missing", O_RDONLY) = -1 ENOENT (No such file or directory)
11    openat(AT_FDCWD</w/p>, "src", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 4</w/p/src>
11    openat(AT_FDCWD</w/p/src>, "out", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 5</w/p/src/out>
11    unlinkat(4</w/p/src>, "gone", 0) = 0
11    symlinkat("/etc/passwd", AT_FDCWD</w/p>, "lnk") = 0
11    rename("a", "b") = 0
11    connect(3<socket:[1]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("10.1.2.3")}, 16) = -1
11    connect(3<socket:[2]>, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT
"""


def test_the_trace_says_what_ran_read_wrote_and_contacted() -> None:
    observed = parse_trace(TRACE)
    assert observed.execs == (
        ("", ("/usr/bin/bash", "-c", "cat .env")),
        ("bash", ("/usr/bin/cat", ".env", 'a"b')),
    )
    assert observed.reads == {"/w/p/.env"}  # not the missing file, not the directory
    assert observed.writes == {"/w/p/src/out", "/w/p/src/gone", "/w/p/lnk", "/a", "/b"}
    assert observed.connects == ("inet:10.1.2.3:443",)


# -- the oracle itself can fail --------------------------------------------------------------------------


@needs_sandbox
def test_the_oracle_sees_what_an_analysis_missed(sandbox: Sandbox) -> None:
    observed = sandbox.observe("cat .env; ls src | head -1; echo x > out.txt")
    assert CANARY in observed.output
    _found, innocent = verdicts("cat README.md", sandbox.project, sandbox.home)
    problems = compare(innocent, observed, str(sandbox.root))
    assert any("ran 'ls'" in p for p in problems)
    assert any(
        p.startswith("read ") and p.endswith("/.env, which the analysis did not name") for p in problems
    )
    assert any(p.startswith("wrote ") and "out.txt" in p for p in problems)
    assert any("printed protected content" in p for p in problems)


@needs_sandbox
def test_a_network_contact_needs_a_host_in_the_analysis(sandbox: Sandbox) -> None:
    observed = sandbox.observe("exec 3<>/dev/tcp/10.9.9.9/80 || true")
    _found, innocent = verdicts("true", sandbox.project, sandbox.home)
    assert any("connected to inet:10.9.9.9:80" in p for p in compare(innocent, observed, str(sandbox.root)))


# -- each bypass class of the issue, against bash ----------------------------------------------------------

CLASSES = {
    "comment continuation": "echo ok # \\\ncat .env",
    "quoted here-document continuation": "cat <<'EOF'\nx\\\nEOF\ncat secrets/key\nEOF",
    "unquoted here-document continuation": "cat <<EOF\nx\\\nEOF\n$(cat .env)\nEOF",
    "env -C": "env -C secrets cat key",
    "env --chdir abbreviated": "env --chd secrets cat key",
    "cd": "cd secrets && cat key",
    "function after cd": "f() { cat key; }; cd secrets; f",
    "find -execdir": "find . -name key -execdir cat key \\;",
    "grep --reg=": "grep --reg=KEY .env",
    "grep --fil": "grep --fil .env README.md",
    "grep --exclude-from": "grep --exclude-from .env x README.md",
    "git show REV": "git show HEAD~1",
    "git REV:path": "git show HEAD~1:config.txt",
    "git log -p": "git log -p",
    "git diff against a tree": "git diff HEAD~1",
    "git diff of tracked files": "git diff",
    "git grep REV": "git grep -n token HEAD~1",
    "git cat-file": "git cat-file -p HEAD~1:config.txt",
    "git archive": "git archive HEAD~1",
    "git blame REV": "git blame HEAD~1 -- config.txt",
    "name variant": "cat .env_local",
    "letter case": "cat .ENV.prod",
    "backup name": "cat id_rsa.bak",
    "catastrophic": "rm -rf ~",
    # paths bash resolves in the command's own process, not the hook's (found at merge, third pass)
    "/proc/self/cwd after env -C": "env -C secrets cat /proc/self/cwd/key",
    "/proc/self/cwd after cd": "cd secrets && cat /proc/self/cwd/key",
    "/proc/self/cwd/..": "cd secrets && cat /proc/self/cwd/../.env",
}


@needs_sandbox
@pytest.mark.parametrize("name", list(CLASSES))
def test_each_bypass_class_agrees_with_bash(sandbox: Sandbox, name: str) -> None:
    command = CLASSES[name]
    result = check(sandbox, command)
    assert "allow" not in result.verdicts.values(), (command, result.verdicts)
    observed = sandbox.observe(command)
    _found, call = verdicts(command, sandbox.project, sandbox.home)
    assert compare(call, observed, str(sandbox.root), allowed=False) == [], command


# -- every under-report a campaign found ------------------------------------------------------------------

FOUND = [
    "unzip -Z -1 'deploy.key'",  # unzip read its archive unnamed
    "command kubectl logs deployment/nginx",  # reached the cluster with no host named
    "nice npm bin",  # npm's update check reached the registry
    "env --chd secrets npm ls -a",
    "timeout 5 gcloud dns record-sets describe www --zone=my-zone --type=A",  # gcloud's launcher script
    "LANG=C git bisect visualize",  # git-bisect is a shell script
    "git request-pull v1.1 https://example.com/project branch_name &",  # git ran uname
    'command man -k "search_string"',  # man ran apropos
    "pip freeze --path src/../deploy.key",  # pip read the folder --path names
    'df .""ENV.prod',  # df opened the file it was given
    "kubectl diff -f src/../secrets/key",  # read the -f file, wrote temporary files, ran diff
    "env -iC secrets gcloud config configurations list",  # gcloud's own config in the passwd home
    "env gcloud help compute",  # gcloud help reached the network
    "cd src && npm help install",  # npm ran man
    "timeout 5 pip index versions requests --platform linux_x86_64",  # pip ran lsb_release
    "egrep 'a?' path/to/file \\\n  ",  # egrep is a script around grep
    "env terraform show path/to/file.tfplan",  # terraform's update check and checkpoint file
    "journalctl ~/'.aws/credentials'",  # journalctl opened the path it was given
    "terraform validate secrets/ke*",
    "time sh -cl 'git status'",  # a login shell ran /etc/profile (id -u)
    "LANG=C kubectl delete --help",  # kubectl --help fetched the server's API list
    "gunzip -l ke*",  # gunzip is a script around gzip
    "terraform show src/../secrets/key",  # terraform show read the plan file it was given
    "terraform show .\\\nenv_local",
    "time kubectl --version",  # kubectl --version reached the server
    "(cat path/to/file | tac)",  # tac buffered the pipe in a temporary file
    "stdbuf -o0 gunzip -l file.gz",
    "command curl -v --resolve example.com:80:127.0.0.1 http://example.com",  # curl's -v is not command -v
    "ss -lt src i'd_rsa.bak'",  # ss looked up the filter's names over DNS
    "cat <<EOF\nx\\\nEOF\n$(pip inspect)\nEOF",  # bash kept the here-document in /tmp/sh-thd.*
    # echo's leniency for `$x` leaked into a redirect inside its substitution (second pass)
    "echo `x=$'\\x64\\x65\\x70\\x6c\\x6f\\x79\\x2e\\x6b\\x65\\x79'; tr a b < ${x}`",
    "echo $(x=deploy.key; cat < $x)",
    "ls $(f=.env; cat 2>/dev/null <$f)",
]


@needs_sandbox
@pytest.mark.parametrize("command", FOUND)
def test_cases_campaigns_found_stay_fixed(sandbox: Sandbox, command: str) -> None:
    assert check(sandbox, command).problems == ()


@needs_sandbox
def test_a_fixed_seed_campaign_finds_no_under_report(sandbox: Sandbox) -> None:
    start = time.monotonic()
    corpus = corpus_commands()
    results = [check(sandbox, command) for command in campaign(13, CAMPAIGN_CASES, corpus)]
    bad = [(r.command, r.problems) for r in results if r.problems]
    assert bad == [], bad[:10]
    assert sum(r.ran for r in results) > CAMPAIGN_CASES // 10  # the campaign really ran commands
    assert time.monotonic() - start < 600


def test_the_grammar_is_a_hypothesis_strategy_the_analysis_never_chokes_on() -> None:
    from hypothesis import given, settings

    from ramparts.shell import analyze

    @settings(max_examples=200, deadline=None)
    @given(commands())
    def run(command: str) -> None:
        analyze(command)

    run()


# -- read-only by the oracle (the benign denominator of bench/shell_corpus.py) -----------------------


@needs_sandbox
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ls -la", ""),
        ("cat package.json", ""),  # a missing file is made in the scratch project first
        ("git status", ""),
        ("git diff HEAD~1", ""),  # git's stat-cache refresh of its index is not a write
        ("echo hi > out.txt", "write"),
        ("git branch made-here", "write"),  # seen in the run: a new ref
        ("sort -o sorted.txt notes.txt", "write"),
        ("curl https://example.com", "unobservable"),  # a client of a service
        ("rm notes.md", "unobservable"),  # a writer: its target may be absent
        ("git commit -m x", "unobservable"),  # needs a repository state the scratch one lacks
        ("surely-not-a-program --x", "not-installed"),
    ],
)
def test_read_only_by_the_oracle(sandbox: Sandbox, command: str, expected: str) -> None:
    assert read_only_by_oracle(sandbox, command) == expected


def test_scratch_files_are_the_file_looking_arguments_inside_the_project() -> None:
    call = verdicts("cat a.txt src/b.py ../up.txt /etc/passwd -n key=v.x", "/tmp/p", "/tmp/h")[1]
    assert scratch_files(call) == ("a.txt", "src/b.py")


@needs_sandbox
def test_scratch_files_are_made_only_inside_the_project_and_only_for_one_run(sandbox: Sandbox) -> None:
    observed = sandbox.observe("ls made.txt sub/ ../escape.txt", files=("made.txt", "sub/", "../escape.txt"))
    assert "made.txt\n" in observed.output and "'../escape.txt': No such file" in observed.output
    assert not os.path.exists(os.path.join(sandbox.root, "escape.txt"))
    assert sandbox.observe("ls made.txt").status != 0  # the next run starts from the template again

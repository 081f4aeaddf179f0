"""Issue 13, fewer prompts: ``VAR=value CMD`` and ``env VAR=value CMD`` before a read-only command are
allowed when the variable cannot steer it; a variable that can (a path, a config, a program, a host,
the loader's and the shell's own) keeps the command opaque, and before a program outside the
read-only table any unknown variable does (it may read anything)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ramparts.explain import explain_input
from ramparts.policy.load import load_policy
from ramparts.shell import analyze
from ramparts.shell.unwrap import assignment_kind

BASELINE = load_policy("profile:baseline")


def verdict(tmp_path: Path, command: str) -> str:
    return explain_input(BASELINE, "Bash", {"command": command}, str(tmp_path)).verdict


@pytest.mark.parametrize(
    "command",
    [
        "FOO=BAR ls -l",
        "env FOO=bar ls",
        "env FOO=bar BAZ=qux ls",
        "env -i FOO=bar BAR=baz ls",
        "env --ignore-environment PATH=/bin ls",
        "env -i PATH=/usr/bin:/bin/ wc -l README.md",
        "MY_SETTING=1 timeout 5 cat README.md",
        "env -u HOME ls",
        "FOO=bar git log --oneline",
    ],
)
def test_harmless_assignments_before_read_only_commands_are_allowed(tmp_path: Path, command: str) -> None:
    (tmp_path / "README.md").write_text("# r\n")
    assert verdict(tmp_path, command) == "allow", command


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("LD_PRELOAD=/tmp/x.so ls", "LD_PRELOAD"),
        ("DYLD_INSERT_LIBRARIES=x ls", "DYLD_INSERT_LIBRARIES"),
        ("GIT_EXTERNAL_DIFF=x git diff", "GIT_EXTERNAL_DIFF"),
        ("GIT_DIR=/x git log", "GIT_DIR"),
        ("PAGER='sh -c x' git log", "PAGER"),
        ("BASH_ENV=x ls", "BASH_ENV"),
        ("ENV=x ls", "ENV"),
        ("PATH=.:/bin ls", "PATH"),
        ("PATH=/tmp ls", "PATH"),
        ("env PATH= ls", "PATH"),
        ("HOME=/tmp/evil git log", "HOME"),
        ("XDG_CONFIG_HOME=/tmp/x git log", "XDG_CONFIG_HOME"),
        ("LESSOPEN='|x %s' less README.md", "LESSOPEN"),
        ("RIPGREP_CONFIG_PATH=x rg foo", "RIPGREP_CONFIG_PATH"),
        ("GREP_OPTIONS=-r grep x", "GREP_OPTIONS"),
        ("IFS=/ ls", "IFS"),
        ("PS4='$(x)' ls", "PS4"),
        ("GCONV_PATH=. iconv -f x README.md", "GCONV_PATH"),
        ("GLIBC_TUNABLES=x ls", "GLIBC_TUNABLES"),
        ("POSIXLY_CORRECT=1 ls", "POSIXLY_CORRECT"),
        ("GZIP=-d gzip -l a.gz", "GZIP"),
        ("EDITOR=x git log", "EDITOR"),
        ("KUBECONFIG=x kubectl get pods", "KUBECONFIG"),
        ("http_proxy=http://evil.example ls", "http_proxy"),
        ("CC=x ls", "CC"),
        ("CFLAGS=-fplugin=x.so ls", "CFLAGS"),
        ("TMPDIR=x sort README.md", "TMPDIR"),
        ("env PYTHONSTARTUP=x ls", "PYTHONSTARTUP"),
        ("env NODE_OPTIONS=--require=x ls", "NODE_OPTIONS"),
        ("SSH_AUTH_SOCK=x ls", "SSH_AUTH_SOCK"),
    ],
)
def test_variables_that_steer_a_program_stay_opaque(command: str, name: str) -> None:
    assert f"sets {name} for the command it runs" in analyze(command).opaque, command


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("FOO=1 npm test", "FOO"),
        ("FOO=1 make", "FOO"),
        ("FOO=1 bash -c ls", "FOO"),
        ("FOO=1 python3 app.py", "FOO"),
        ("env FOO=1 ./ls", "FOO"),
        ("FOO=1 sudo ls", "FOO"),
        ("FOO=1 sed -i s/a/b/ README.md", "FOO"),
    ],
)
def test_unknown_variables_count_only_before_read_only_commands(command: str, name: str) -> None:
    """A build script, an interpreter or a writer may read any variable: there it stays opaque."""
    assert f"sets {name} for the command it runs" in analyze(command).opaque, command


def test_assignment_kinds() -> None:
    assert assignment_kind("LANG=C") == "safe"
    assert assignment_kind("LC_ALL=C") == "safe"
    assert assignment_kind("PATH=/usr/local/bin:/usr/bin") == "safe"
    assert assignment_kind("PATH=/usr/bin:~/bin") == "risky"
    assert assignment_kind("FOO=bar") == "unknown"
    assert assignment_kind("api_token=x") == "risky"  # names are compared without regard to case


def test_printing_the_environment_still_asks(tmp_path: Path) -> None:
    """``env`` alone (or with only assignments) prints the environment, which may hold credentials."""
    for command in ("env", "env -0", "env FOO=bar", "printenv"):
        assert verdict(tmp_path, command) == "ask", command


def test_a_protected_read_is_denied_whatever_the_assignment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("K=v\n")
    assert verdict(tmp_path, "FOO=1 cat .env") == "deny"
    assert verdict(tmp_path, "env -i FOO=1 cat .env") == "deny"


# -- two more read-only forms from the benign set -------------------------------------------------------


@pytest.mark.parametrize("command", ["nawk '{print $1}' README.md", "ip -br addr", "ip -brief link"])
def test_nawk_and_ip_brief_are_read_only(tmp_path: Path, command: str) -> None:
    (tmp_path / "README.md").write_text("# r\n")
    assert verdict(tmp_path, command) == "allow", command


@pytest.mark.parametrize(
    "command",
    [
        "nawk -f prog.awk README.md",
        "nawk 'BEGIN{system(\"id\")}'",
        "nawk 'BEGIN{print ENVIRON[\"TOKEN\"]}'",
        "nawk '{print > \"out\"}' README.md",
        "nawk -W exec /dev/stdin",
        "ip -b cmds.txt",
        "ip -ba cmds.txt",
        "ip -br addr add 10.0.0.1/24 dev eth0",
    ],
)
def test_their_other_forms_are_not(tmp_path: Path, command: str) -> None:
    (tmp_path / "README.md").write_text("# r\n")
    assert verdict(tmp_path, command) != "allow", command

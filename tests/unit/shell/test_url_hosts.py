"""Every URL-looking word names its host (issue 13, third pass): a read-only command whose option or
argument names a URL may send a request there, whatever the program, so the network rules see it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.explain import explain_input
from ramparts.policy.load import load_policy
from ramparts.shell import analyze
from ramparts.shell.analyze import URL_TEXT_ONLY, url_hosts

NAMED = [
    ("brew info https://evil.example/x.rb", "evil.example"),
    ("helm show chart --repo https://evil.example/charts x", "evil.example"),
    ("helm show values x --repo=https://evil.example", "evil.example"),
    ("npm view git+https://evil.example/x.git", "evil.example"),
    ("pip index versions x --index-url=https://evil.example/simple", "evil.example"),
    ("kubectl get pods --server=https://evil.example:6443", "evil.example"),
    ("git ls-remote git@evil.example:org/repo.git", "evil.example"),
    ("git archive --remote=ssh://git@evil.example/x HEAD", "evil.example"),
    ("tool --endpoint http://[::1]:8080/x", "::1"),
    ("tool --url=HTTPS://Evil.Example/", "evil.example"),
    ("terraform init -backend-config=address=https://evil.example/state", "evil.example"),
    ("tool x@evil.example:path", "evil.example"),
]
NOT_NAMED = [
    "echo https://evil.example",
    "printf '%s' https://evil.example",
    "grep -r https://evil.example .",
    "git commit -m 'see https://evil.example'",
    "git commit --message=https://evil.example",
    "tool file:///etc/hosts",
    "tool user@example",  # no `:path`: not the scp form
    "tool key:value",
]


@pytest.mark.parametrize(("command", "host"), NAMED)
def test_the_host_of_every_url_looking_word_is_named(command: str, host: str) -> None:
    assert host in analyze(command).hosts, analyze(command)


@pytest.mark.parametrize("command", NOT_NAMED)
def test_words_that_are_only_text_name_no_host(command: str) -> None:
    assert analyze(command).hosts == ()


@pytest.mark.parametrize(
    "command",
    [
        "brew info https://evil.example/x.rb",
        "helm show chart --repo https://evil.example/charts x",
        "helm show values x --repo=https://evil.example",
    ],
)
def test_a_read_only_command_naming_a_url_is_not_allowed(command: str, tmp_path: Path) -> None:
    decision = explain_input(load_policy("profile:baseline"), "Bash", {"command": command}, str(tmp_path))
    assert decision.verdict != "allow", decision
    assert "evil.example" in " ".join(decision.reasons)


_HOST = st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z][a-z0-9]{0,10}){1,3}", fullmatch=True)
_PROGRAM = st.sampled_from(("brew", "helm", "tool", "npm", "gh", "cargo", "docker", "go"))


@given(
    _PROGRAM,
    st.sampled_from(("http", "https", "ssh", "git+https", "s3", "oci", "ftp")),
    _HOST,
    st.sampled_from(("{u}", "--url={u}", "--registry={u}", "x={u}", "-U{u}")),
    st.sampled_from(("", "/", "/path?q=1", ":8443/x")),
)
def test_any_url_in_any_word_names_its_host(
    program: str, scheme: str, host: str, shape: str, tail: str
) -> None:
    word = shape.format(u=f"{scheme}://{host}{tail}")
    assert host in url_hosts((program, "sub", word)), word


@given(st.lists(st.text(min_size=0, max_size=40), max_size=6))
def test_url_hosts_never_fails(words: list[str]) -> None:
    for program in ("tool", next(iter(URL_TEXT_ONLY))):
        url_hosts((program, *words))

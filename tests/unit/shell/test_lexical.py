"""``ramparts.shell.lexical`` gives ``fnmatch``'s and ``shlex``'s answers (issue 21).

The shell analysis matches its tables' globs and quotes words with these instead of the standard
modules (which cost the cold hook their imports and pattern compiles); any difference would change a
security decision, so the standard modules are the oracles here.
"""

from __future__ import annotations

import fnmatch
import shlex
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ramparts import _lexical as lexical
from ramparts.shell import readonly

# The characters fnmatch and re treat specially, and a few that they do not.
GLOB = st.text(alphabet="ab*?[]!^-\\&~|.()$\n", max_size=12)
NAME = st.text(alphabet="ab*?[]!^-\\&~|.()$\n", max_size=12)
WORD = st.text(alphabet=st.characters(codec="utf-8"), max_size=20) | st.text(
    alphabet="a'\"$ @%+=:,./-_é\t\n", max_size=12
)


@st.composite
def near_names(draw: st.DrawFn) -> tuple[str, str]:
    """A glob and a name built from it (each `*` and `?` filled in), so that matches are frequent."""
    pattern = draw(GLOB)
    fill = "ab-]![\n"
    name = "".join(
        draw(st.text(alphabet=fill, max_size=3))
        if c == "*"
        else draw(st.sampled_from(fill))
        if c == "?"
        else c
        for c in pattern
    )
    return pattern, name


@pytest.mark.skipif(
    not (3, 11) <= sys.version_info[:2] <= (3, 13), reason="fnmatch.translate's 3.11-3.13 text"
)
@settings(max_examples=1000, deadline=None)
@given(GLOB)
@example("[0-9]*")
@example("[!]")
@example("[]")
@example("[z-a]")
@example("[a-]")
@example("[!a-c-e]")
@example("[^x]")
@example("[[]")
@example("[a&&b]")
@example("*a*b*")
def test_translate_is_fnmatch_s(pattern: str) -> None:
    assert lexical.translate(pattern) == fnmatch.translate(pattern)


@settings(max_examples=1000, deadline=None)
@given(GLOB, NAME)
@example("[0-9]*", "2030")
@example("[0-9]*", "+%Y")
@example("a*", "a\nb")
@example("abc", "abc\n")
@example("?", "\n")
@example("", "")
@example("[!]", "x")
def test_fnmatchcase_answers_as_fnmatch(pattern: str, name: str) -> None:
    assert lexical.fnmatchcase(name, pattern) is fnmatch.fnmatchcase(name, pattern)


@settings(max_examples=1000, deadline=None)
@given(near_names())
def test_fnmatchcase_answers_as_fnmatch_on_near_names(case: tuple[str, str]) -> None:
    pattern, name = case
    assert lexical.fnmatchcase(name, pattern) is fnmatch.fnmatchcase(name, pattern)


def test_every_table_glob_is_fnmatch_s() -> None:
    patterns = set(readonly.MUTATING)
    for spec in readonly.TABLE.values():
        patterns.update(spec.need, spec.forbid, spec.verbs)
    assert len(patterns) > 100
    for pattern in patterns:
        assert lexical.translate(pattern) == fnmatch.translate(pattern) or sys.version_info >= (3, 14)
        for name in (
            pattern,
            pattern.replace("*", ""),
            pattern.replace("*", "x-y"),
            "create",
            "list",
            "2030",
        ):
            assert lexical.fnmatchcase(name, pattern) is fnmatch.fnmatchcase(name, pattern), (name, pattern)


@settings(max_examples=1000, deadline=None)
@given(WORD)
@example("")
@example("a'b")
@example("é")
@example("a b")
@example("@%+=:,./-_")
def test_quote_is_shlex_s(word: str) -> None:
    quoted = lexical.quote(word)
    assert quoted == shlex.quote(word)
    assert shlex.split(quoted) == [word]

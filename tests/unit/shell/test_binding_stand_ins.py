"""The stand-ins tree-sitter's initialisation is served by (:mod:`ramparts.shell.binding`), held to the
standard library's own ``IntEnum`` and ``namedtuple`` on what a caller can see of them."""

from __future__ import annotations

import collections
import enum
import pickle
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.shell import binding

MEMBERS = {"PARSE": 0, "LEX": 1}


def _pair() -> tuple[type, type]:
    return binding.int_enum("LogType", MEMBERS), enum.IntEnum("LogType", MEMBERS)  # type: ignore[return-value]


def test_int_enum_members_look_like_int_enum_s() -> None:
    ours, real = _pair()
    for name, value in MEMBERS.items():
        mine, theirs = getattr(ours, name), getattr(real, name)
        assert (mine.name, mine.value, int(mine)) == (theirs.name, theirs.value, int(theirs))
        assert (repr(mine), str(mine), f"{mine}", f"{mine:>3}") == (
            repr(theirs),
            str(theirs),
            f"{theirs}",
            f"{theirs:>3}",
        )
        assert ours(value) is mine and real(value) is theirs
        assert mine == value and hash(mine) == hash(value) and isinstance(mine, int)
    assert list(ours.__members__) == list(real.__members__)


@given(st.one_of(st.integers(), st.text(max_size=3), st.none(), st.floats(allow_nan=False)))
def test_int_enum_refuses_what_int_enum_refuses(value: object) -> None:
    ours, real = _pair()
    try:
        expected = real(value)
    except ValueError:
        with pytest.raises(ValueError, match="is not a valid LogType"):
            ours(value)
    else:
        assert int(ours(value)) == int(expected)


def test_int_enum_takes_only_names_and_ints() -> None:
    with pytest.raises(TypeError):
        binding.int_enum("Log Type", MEMBERS)
    with pytest.raises(TypeError):
        binding.int_enum("LogType", {"PARSE": "0"})  # type: ignore[dict-item]


def test_a_member_pickles_to_itself_where_its_class_can_be_found() -> None:
    made = binding.int_enum("LogType", MEMBERS)
    made.__module__ = __name__
    globals()["LogType"] = made
    try:
        assert pickle.loads(pickle.dumps(made.LEX)) is made.LEX  # type: ignore[attr-defined]
    finally:
        del globals()["LogType"]


def test_the_namedtuple_stand_in_builds_collections_class() -> None:
    from ramparts._tuples import namedtuple_class

    make = binding._namedtuple_maker(namedtuple_class)
    ours = make("Point", ["row", "column"], module="tree_sitter")
    real = collections.namedtuple("Point", ["row", "column"], module="tree_sitter")
    assert (ours.__module__, ours._fields, ours.__doc__) == (real.__module__, real._fields, real.__doc__)
    assert repr(ours(1, 2)) == repr(real(1, 2)) and ours(1, 2) == real(1, 2)
    for bad in (
        lambda: make("Point", "row column", module="m"),  # a string of names: the real module serves
        lambda: make("Point", ["row"], rename=True, module="m"),
        lambda: make("Point", ["class"], module="m"),
        lambda: make("Point", ["row"]),  # no module: collections would take the caller's
    ):
        with pytest.raises(TypeError):
            bad()


def test_the_re_stand_in_is_re_compile() -> None:
    import re

    assert binding._re_compile(r"a+b", re.I).pattern == re.compile(r"a+b", re.I).pattern
    assert binding._re_compile(r"a+b") is re.compile(r"a+b")  # re's own cache: the very same object
    assert "re" in sys.modules

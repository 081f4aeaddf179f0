"""The audit log's canonical JSON: the standard encoder's fast path writes exactly the bytes rfc8785
writes (the Merkle leaves of existing records must not change), and what it cannot write exactly
goes to rfc8785 and fails the same way."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.audit.log import _plain, canonical
from ramparts.errors import AuditError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()  # every code point, lone surrogates and controls included
    | st.text(alphabet=st.characters(max_codepoint=0x7F))
)
keys = st.text(max_size=8) | st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


def reference(value: Any) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, TypeError, ValueError):
        return None


@settings(max_examples=600, deadline=None)
@given(values)
def test_canonical_is_rfc8785_byte_for_byte(value: Any) -> None:
    expected = reference(value)
    if expected is None:
        with pytest.raises(AuditError):
            canonical(value)
    else:
        assert canonical(value) == expected


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6), st.text(), max_size=6)
)
def test_records_of_strings_take_the_fast_path(value: dict[str, str]) -> None:
    assert _plain(value)
    expected = reference(value)
    if expected is not None:
        assert canonical(value) == expected


def test_what_the_fast_path_leaves_to_rfc8785() -> None:
    assert not _plain({"n": 1.5})
    assert not _plain({"é": 1})
    assert not _plain({"t": (1, 2)})
    assert not _plain({"big": 2**53})
    assert canonical({"b": '\x00\x1f\x7f\u2028"\\', "a": [True, None, -(2**53) + 1]}) == rfc8785.dumps(
        {"b": '\x00\x1f\x7f\u2028"\\', "a": [True, None, -(2**53) + 1]}
    )
    with pytest.raises(AuditError):
        canonical({"s": "\ud800"})

"""The audit log's canonical JSON: the standard encoder's fast path writes exactly the bytes rfc8785
writes (the Merkle leaves of existing records must not change), and what it cannot write exactly
goes to rfc8785 and fails the same way."""

from __future__ import annotations

import json
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


@settings(max_examples=600, deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**9), 10**9).map(lambda n: n / 1000)  # latency_ms, rounded to µs
    | st.floats(0, 1)  # scores
)
def test_floats_the_fast_path_takes_are_written_as_rfc8785_writes_them(number: float) -> None:
    record = {"latency_ms": number, "items": [{"score": number}]}
    expected = reference(record)
    if _plain(record):
        assert expected is not None and _dumps_fast(record) == expected
    if expected is None:
        with pytest.raises(AuditError):
            canonical(record)
    else:
        assert canonical(record) == expected


def _dumps_fast(value: Any) -> bytes:
    from ramparts.audit.log import _dumps

    return _dumps(value).encode()


def test_what_the_fast_path_leaves_to_rfc8785() -> None:
    assert _plain({"n": 1.5, "m": -0.0001, "k": 123456789012345.6})
    assert not _plain({"n": 1.0})  # JCS: 1
    assert not _plain({"n": -0.0})  # JCS: 0
    assert not _plain({"n": 1e-05})  # JCS: 0.00001
    assert not _plain({"n": 1.5e16})  # JCS: 15000000000000000
    assert not _plain({"n": float("inf")})
    assert not _plain({"é": 1})
    assert not _plain({"t": (1, 2)})
    assert not _plain({"big": 2**53})
    assert canonical({"b": '\x00\x1f\x7f\u2028"\\', "a": [True, None, -(2**53) + 1]}) == rfc8785.dumps(
        {"b": '\x00\x1f\x7f\u2028"\\', "a": [True, None, -(2**53) + 1]}
    )
    with pytest.raises(AuditError):
        canonical({"s": "\ud800"})


_STDLIB_CANONICAL = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode
"""The encoder the fast path used before it stopped importing the json package: the leaves of every stored
record were hashed over its bytes, so ramparts._json must write exactly these."""


def _outcome(encode: Any, value: Any) -> tuple[str, str]:
    try:
        return "ok", encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=1000, deadline=None)
@given(values | st.dictionaries(keys, values, max_size=6))
def test_the_fast_path_writes_what_the_json_module_wrote(value: Any) -> None:
    from ramparts.audit.log import _dumps

    assert _outcome(_dumps, value) == _outcome(_STDLIB_CANONICAL, value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": '\x00\x1f\x7f\u2028"\\/é😀', "a": [True, False, None, -(2**53) + 1, 0.1, 1e300, -0.0]},
        {"nested": {"z": [], "a": {}, "m": [{"x": 1}]}, "": ""},
        "just a string é",
        [1, "two", 3.5],
        {"nan": float("nan")},  # refused: allow_nan=False
        {1: "non-string key"},  # written as "1", as json does
        {"t": (1, 2)},
        {"s": {1, 2}},  # not serializable: TypeError, the same message
    ],
)
def test_the_fast_path_matches_the_json_module_on_edge_cases(value: Any) -> None:
    from ramparts.audit.log import _dumps

    assert _outcome(_dumps, value) == _outcome(_STDLIB_CANONICAL, value)

"""``ramparts._json`` gives what the ``json`` module gives: the same values, texts and errors (issue 21)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ramparts
from ramparts import _json

SRC = str(Path(ramparts.__file__).resolve().parent.parent)

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
keys = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=30,
)
options = st.fixed_dictionaries(
    {
        "sort_keys": st.booleans(),
        "ensure_ascii": st.booleans(),
        "allow_nan": st.booleans(),
        "separators": st.sampled_from([None, (",", ":"), (", ", ": "), (";", "=")]),
    }
)


def _outcome(call: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return ("value", call(*args, **kwargs))
    except (TypeError, ValueError) as exc:
        return (type(exc).__name__, str(exc))


def _same_value(a: Any, b: Any) -> bool:
    """Equal, NaN included (json gives a fresh NaN each time, never equal to itself)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=400)
@given(values, options)
def test_dumps_gives_json_dumps_text_or_error(value: Any, kwargs: dict[str, Any]) -> None:
    ours = _outcome(_json.dumps, value, **kwargs)
    theirs = _outcome(json.dumps, value, **kwargs)
    assert ours == theirs


@settings(max_examples=400)
@given(values, st.sampled_from([" ", "", "\n\t ", "\r\n"]))
def test_loads_reads_back_what_json_wrote(value: Any, space: str) -> None:
    text = space + json.dumps(value) + space
    assert _same_value(_json.loads(text), json.loads(text))
    assert _same_value(_json.loads(text.encode()), json.loads(text.encode()))


@settings(max_examples=600)
@given(st.text(alphabet='{}[]":,0123456789.eE+-truefalsnNIiy \t\n\\u\ufeff\x00ab', max_size=24))
def test_loads_accepts_and_refuses_as_json_does(text: str) -> None:
    ours = _outcome(_json.loads, text)
    theirs = _outcome(json.loads, text)
    assert ours[0] == theirs[0]
    if ours[0] == "value":
        assert _same_value(ours[1], theirs[1])
    else:
        assert ours[1] == theirs[1]  # json's own message and position


@pytest.mark.parametrize(
    "data",
    [
        '{"a": 1}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-32-le"),
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": "\xed\xa0\x80"}',  # a lone surrogate, read as json reads it (surrogatepass)
        bytearray(b"[1, 2.5, NaN, -Infinity]"),
    ],
)
def test_bytes_in_other_encodings_read_as_json_reads_them(data: bytes) -> None:
    assert _same_value(_json.loads(data), json.loads(data))


def test_other_keywords_and_errors_are_jsons() -> None:
    value = {"b": [1, {"c": None}], "a": "é"}
    assert _json.dumps(value, indent=2, sort_keys=True) == json.dumps(value, indent=2, sort_keys=True)
    assert _json.dumps(object(), default=repr).startswith('"<object object')
    loop: list[Any] = []
    loop.append(loop)
    assert _outcome(_json.dumps, loop) == _outcome(json.dumps, loop)
    assert _outcome(_json.loads, 3) == _outcome(json.loads, 3)
    assert _outcome(_json.loads, "\ufeff{}") == _outcome(json.loads, "\ufeff{}")


def test_the_json_package_stays_unloaded() -> None:
    """The point of the module: a fresh interpreter reads and writes JSON without ``json`` or ``re``."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from ramparts import _json; "
        "assert _json.loads(_json.dumps({'a': [1.5, None, 'x']}, sort_keys=True)) == {'a': [1.5, None, 'x']}; "
        "print(' '.join(m for m in ('json', 're', 'typing', 'enum') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, SRC], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == ""


@pytest.mark.parametrize("text", ['{"a": }', '{"a" 1}', '["x', "not JSON", '{"a": "\\u12"}', "[1,]"])
def test_errors_in_a_process_without_json_are_jsons(text: str) -> None:
    """The C scanner raises its errors as ``json.decoder.JSONDecodeError``, which it looks up in
    ``sys.modules``: a process that never imported ``json`` (the cold hook) must still get that error,
    with json's message, not a ``SystemError``."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from ramparts import _json\n"
        "try:\n    _json.loads(sys.argv[2])\nexcept ValueError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, SRC, text], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == f"{_outcome(json.loads, text)[0]} {_outcome(json.loads, text)[1]}"
    assert out.startswith("JSONDecodeError ")

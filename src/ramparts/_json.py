"""``json.loads`` and ``json.dumps`` on the C accelerator alone, without the ``json`` package (issue 21).

The ``json`` package imports ``re`` (its decoder's whitespace and number patterns), and with it
``enum`` and the regex compiler: some 12 M instructions the cold hook would pay on every event, for
a module whose work is done by ``_json`` anyway. These two functions call ``_json``'s scanner and
encoder exactly as ``json.JSONDecoder.decode`` and ``json.JSONEncoder.encode`` do, so their results
are those of the ``json`` module (a property test compares them). Anything off the common path (a
byte order mark, another encoding, ``indent``, a document that does not parse) is handed to the
``json`` module itself, imported then, so errors and their messages are its own.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_NAN = float("nan")
_INF = float("inf")
_CONSTANTS = {"-Infinity": -_INF, "Infinity": _INF, "NaN": _NAN}
_WHITESPACE = " \t\n\r"


class _Context:
    """What ``_json.make_scanner`` reads off a ``json.JSONDecoder``: its default settings."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # reads the attributes a JSONDecoder has


def _skip(text: str, index: int) -> int:
    end = len(text)
    while index < end and text[index] in _WHITESPACE:
        index += 1
    return index


def loads(text: str | bytes | bytearray) -> Any:
    """``json.loads(text)``: the same value, or the same error."""
    if isinstance(text, (bytes, bytearray)):
        head = bytes(text[:4])
        # json.detect_encoding: UTF-8 unless a byte order mark or a NUL in the first four bytes says otherwise
        if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            return _json_module().loads(text)
        text = text.decode("utf-8", "surrogatepass")
    elif not isinstance(text, str) or text.startswith("\ufeff"):
        return _json_module().loads(text)
    try:
        value, end = _scan(text, _skip(text, 0))
    except StopIteration:
        return _json_module().loads(text)  # raises json's own "Expecting value" error
    except SystemError:
        # The scanner raises its errors (an unterminated string, a missing comma...) as json.decoder's
        # JSONDecodeError, which it takes from sys.modules: without the json package loaded it fails
        # with this instead. json itself then reads the text and raises the error it describes.
        return _json_module().loads(text)
    if _skip(text, end) != len(text):
        return _json_module().loads(text)  # raises json's "Extra data"
    return value


def _default(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _encoder_takes_these_arguments() -> bool:
    try:  # CPython 3.11-3.13's signature; another one falls back to the json module
        _json.make_encoder({}, _default, _json.encode_basestring, None, ": ", ", ", False, False, True)
    except (TypeError, AttributeError):
        return False
    return True


_C_ENCODER = _encoder_takes_these_arguments()


def dumps(
    value: Any,
    *,
    sort_keys: bool = False,
    separators: tuple[str, str] | None = None,
    ensure_ascii: bool = True,
    allow_nan: bool = True,
    default: Callable[[Any], Any] | None = None,
    indent: int | str | None = None,
) -> str:
    """``json.dumps(value, ...)`` with these keywords: the same text, or the same error."""
    encode_string = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    if indent is not None or not _C_ENCODER:
        return str(
            _json_module().dumps(
                value,
                sort_keys=sort_keys,
                separators=separators,
                ensure_ascii=ensure_ascii,
                allow_nan=allow_nan,
                default=default,
                indent=indent,
            )
        )
    if isinstance(value, str):
        return str(encode_string(value))
    item_separator, key_separator = separators if separators is not None else (", ", ": ")
    encoder = _json.make_encoder(
        {},  # check_circular: a cycle raises ValueError, as in json
        default or _default,
        encode_string,
        None,
        key_separator,
        item_separator,
        sort_keys,
        False,  # skipkeys
        allow_nan,
    )
    return "".join(encoder(value, 0))


def _json_module() -> Any:
    import json  # only off the common path (module docstring)

    return json

"""The cold hook's regular expressions, built from a cache of their compiled form (issue 21).

``re.compile`` parses a pattern and compiles it to the regex engine's code in pure Python: some
0.3–1.5 M instructions a pattern, about 26 M of a cold Bash hook's 190 M (33 patterns). The engine
itself (``_sre.compile``) builds a pattern from that code in microseconds. :func:`compile` keeps the
code of each pattern it compiles in ``__pycache__/_recache.<tag>.marshal`` beside this file, as the
interpreter keeps bytecode there, and builds the pattern from it on later runs.

- An entry is stored only after the pattern it builds compares equal to ``re.compile``'s (equality of
  patterns compares their flags, source and engine code), and the file is keyed by the interpreter's
  version and the engine's ``MAGIC``: another Python never reads it.
- A missing, unreadable or malformed file, or an entry the engine refuses, is compiled by ``re`` as
  before; :func:`save` (the hook calls it once, at its end) adds what was compiled, atomically, where
  the folder is writable and bytecode is written (not under ``-B``). Where it is not (an install
  owned by another user), nothing more is done than ``re.compile``, and nothing is cached.
- Whoever can write this file can write the bytecode beside it: it is trusted as that is.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any, AnyStr

# ``re`` itself is imported only on a miss and by save(): a cold hook whose patterns are all cached
# never loads its pure-Python parser and compiler (nor enum, functools... they import).

try:
    import _sre  # type: ignore[import-not-found]  # the engine re itself uses

    # The engine's code is kept as the bytes of its 4-byte words, one C-speed copy to the list the
    # engine takes: a file of int lists costs a cold hook ~1.7 M instructions more to read (issue 21).
    _PACKED = _sre.CODESIZE == 4 and memoryview(bytes(4)).cast("I").itemsize == 4
    _TAG = f"{sys.implementation.cache_tag}-{sys.hexversion:x}-{_sre.MAGIC}{'-w4' if _PACKED else ''}"
except (ImportError, AttributeError):  # not CPython: re alone
    _sre = None
    _PACKED = False
    _TAG = ""

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__", f"_recache.{_TAG}.marshal")
_codes: dict[tuple[str | bytes, int], tuple[Any, ...]] | None = None
_missed: list[tuple[tuple[Any, int], re.Pattern[Any]]] = []
_built: dict[tuple[Any, int], re.Pattern[Any]] = {}


def _load() -> dict[tuple[str | bytes, int], tuple[Any, ...]]:
    try:
        with open(_PATH, "rb") as handle:
            value = marshal.loads(handle.read())  # noqa: S302 - trusted as the bytecode beside it
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _unpacked(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """An entry as the engine takes it: its code a list of ints (TypeError/ValueError if malformed)."""
    code = args[1]
    if isinstance(code, bytes):
        code = memoryview(code).cast("I").tolist()
    return (args[0], code, *args[2:])


def _engine_args(pattern: str | bytes, flags: int) -> tuple[Any, ...] | None:
    """What ``re`` hands the engine for ``pattern`` (CPython's ``re._compiler.compile``), or None."""
    try:
        from re import _compiler, _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern, flags)
        code = _compiler._code(parsed, flags)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        words = [int(op) for op in code]  # its opcodes are int subclasses, which marshal refuses
        return (
            flags | parsed.state.flags,
            b"".join(w.to_bytes(4, sys.byteorder) for w in words) if _PACKED else words,
            parsed.state.groups - 1,
            groupindex,
            tuple(indexgroup),
        )
    except Exception:  # noqa: BLE001 - another re: no cache entry, re.compile's pattern stands
        return None


def compile(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """``re.compile(pattern, flags)``, from the cache when it holds the pattern (once a process)."""
    global _codes
    flags = int(flags)
    key = (pattern, flags)
    done: re.Pattern[AnyStr] | None = _built.get(key)
    if done is not None:
        return done
    if _sre is None:
        import re

        return re.compile(pattern, flags)
    if _codes is None:
        _codes = _load()
    args = _codes.get(key)
    compiled: re.Pattern[AnyStr] | None = None
    if isinstance(args, tuple) and len(args) == 5:
        try:
            compiled = _sre.compile(pattern, *_unpacked(args))
        except (RuntimeError, TypeError, ValueError, OverflowError):  # a damaged entry: compiled anew
            compiled = None
    if compiled is None:
        import re

        compiled = re.compile(pattern, flags)
        _missed.append((key, compiled))
    _built[key] = compiled
    return compiled


def save() -> None:
    """Add the patterns this process compiled to the cache, where its folder is writable and bytecode is
    written (never raises: a cache that cannot be written is only slower). Each entry is the engine's
    input for the pattern, kept only when it builds a pattern equal to ``re.compile``'s."""
    if not _missed or sys.dont_write_bytecode or _sre is None:
        return
    folder = os.path.dirname(_PATH)
    if not os.access(folder if os.path.isdir(folder) else os.path.dirname(folder), os.W_OK):
        _missed.clear()
        return
    merged = _load()
    for (pattern, flags), compiled in _missed:
        args = _engine_args(pattern, flags)
        try:
            if args is not None and _sre.compile(pattern, *_unpacked(args)) == compiled:
                merged[(pattern, flags)] = args
        except (RuntimeError, TypeError, ValueError, OverflowError):
            continue
    _missed.clear()
    temp = f"{_PATH}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, exist_ok=True)
        with open(temp, "wb") as handle:
            handle.write(marshal.dumps(merged))
        os.replace(temp, _PATH)
    except (OSError, ValueError):
        try:  # noqa: SIM105 - contextlib would be one more import for the cold hook
            os.unlink(temp)
        except OSError:
            pass

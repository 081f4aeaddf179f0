"""``ramparts._recache``: the cold hook's patterns built from a cache of their engine code (issue 21).

A pattern from the cache must be the pattern ``re.compile`` gives (equal patterns have the same flags,
source and engine code) and match alike; a damaged or foreign cache changes nothing but the speed.
"""

from __future__ import annotations

import marshal
import os
import re
from pathlib import Path

import pytest

from ramparts import _recache

PATTERNS: list[tuple[str | bytes, int]] = [
    (r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)", re.DOTALL),
    (r"(?i)token|secret|passw|key", 0),
    (r"(?<!\\)\{[^{}]*(,|\.\.)[^{}]*(?<!\\)\}", 0),
    ("[\U00010000-\U0010ffff]", 0),
    (r"/dev/(?:tcp|udp)/([^/]+)/", re.IGNORECASE),
    (rb"(?<!\\)((?:\\\\)*)\\\n", 0),
    (r"\bfunction\s+(\w+)\s*\(\s*\)", re.MULTILINE | re.VERBOSE),
]
TEXTS = ["API_KEY=x", "a{b,c}d", "\U0001f600", "/DEV/TCP/example.org/80", "function f ( )", "plain"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "__pycache__" / "_recache.test.marshal"
    monkeypatch.setattr(_recache, "_PATH", str(path))
    monkeypatch.setattr(_recache, "_codes", None)
    monkeypatch.setattr(_recache, "_missed", [])
    monkeypatch.setattr(_recache, "_built", {})
    monkeypatch.setattr("sys.dont_write_bytecode", False)
    return path


def _fresh_process() -> None:
    _recache._codes = None  # as a new process: the file is read again
    _recache._missed.clear()
    _recache._built.clear()


def test_patterns_from_the_cache_are_re_compiles(cache: Path) -> None:
    first = [_recache.compile(p, f) for p, f in PATTERNS]
    assert len(_recache._missed) == len(PATTERNS)
    _recache.save()
    assert len(marshal.loads(cache.read_bytes())) == len(PATTERNS)
    _fresh_process()
    cached = [_recache.compile(p, f) for p, f in PATTERNS]
    assert not _recache._missed  # all built from the cache
    for (pattern, flags), one, two in zip(PATTERNS, first, cached, strict=True):
        expected = re.compile(pattern, flags)
        assert one == expected and two == expected
        assert two.flags == expected.flags and two.groupindex == expected.groupindex
        assert two.groups == expected.groups
        for text in TEXTS:
            subject: str | bytes = text.encode() if isinstance(pattern, bytes) else text
            found, want = two.search(subject), expected.search(subject)  # type: ignore[arg-type]
            assert (found and (found.span(), found.groups())) == (want and (want.span(), want.groups()))


def test_a_damaged_cache_is_compiled_anew(cache: Path) -> None:
    cache.parent.mkdir()
    for content in (
        b"not marshal",
        marshal.dumps([1, 2]),
        marshal.dumps({(r"a+b", 0): (32, [1, 2, 3], 0, {}, (None,))}),
        marshal.dumps({(r"a+b", 0): (32, b"\x01\x02\x03", 0, {}, (None,))}),  # not whole words
        marshal.dumps({(r"a+b", 0): (32, bytes(range(16)), 0, {}, (None,))}),  # words the engine refuses
    ):
        cache.write_bytes(content)
        _fresh_process()
        assert _recache.compile(r"a+b") == re.compile(r"a+b")  # the engine refuses the bad code
    _recache.save()
    _fresh_process()
    assert _recache.compile(r"a+b") == re.compile(r"a+b") and not _recache._missed  # and it was replaced


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_nothing_is_written_where_the_folder_is_not_writable(cache: Path) -> None:
    cache.parent.mkdir(mode=0o555)
    _recache.compile(r"x+y")
    _recache.save()
    assert not cache.exists() and not _recache._missed


def test_nothing_is_written_without_bytecode(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.dont_write_bytecode", True)
    _recache.compile(r"x+y")
    _recache.save()
    assert not cache.exists()


def test_a_cache_that_cannot_be_written_is_only_slower(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(_recache, "_PATH", str(blocker / "__pycache__" / "_recache.test.marshal"))
    assert _recache.compile(r"x+y") == re.compile(r"x+y")
    _recache.save()  # never raises
    assert not _recache._missed


def test_a_pattern_is_built_once_a_process(cache: Path) -> None:
    """The resident server compiles a signature's pattern on every request: one build, one entry to save."""
    first = _recache.compile(r"ignore (?:all|previous) instructions")
    assert _recache.compile(r"ignore (?:all|previous) instructions") is first
    assert len(_recache._missed) == 1
    _recache.save()
    _fresh_process()
    assert _recache.compile(r"ignore (?:all|previous) instructions") == first and not _recache._missed


def test_the_engine_code_is_kept_as_bytes_and_read_back_alike(cache: Path) -> None:
    """The code is stored packed (cheaper for a cold hook to read); unpacked it is the engine's own."""
    _recache.compile(r"(?P<name>[A-Za-z_]+)=(.*)")
    _recache.save()
    entry = marshal.loads(cache.read_bytes())[(r"(?P<name>[A-Za-z_]+)=(.*)", 0)]
    assert isinstance(entry[1], bytes)
    from re import _compiler, _parser  # type: ignore[attr-defined]

    parsed = _parser.parse(r"(?P<name>[A-Za-z_]+)=(.*)", 0)
    assert _recache._unpacked(entry)[1] == [int(op) for op in _compiler._code(parsed, 0)]

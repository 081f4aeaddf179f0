"""``files.walk`` (os.scandir entries) against the os.walk version it replaced, on generated trees:
nested folders, .gitignore files at several levels (with negations and folder patterns), folders the
scan always leaves out, links to files and folders, broken links, binaries."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ramparts.detect import files
from ramparts.detect.files import SKIP_DIRS, Skipped


def reference_walk(root: str, *, gitignore: bool, max_bytes: int = 100) -> Iterator[str | Skipped]:
    """The walk as it was: os.walk top-down, sorted, one islink per file."""
    import pathspec

    specs: list[tuple[str, Any]] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        if gitignore and ".gitignore" in names:
            with open(os.path.join(folder, ".gitignore"), encoding="utf-8", errors="replace") as handle:
                specs.append((folder, pathspec.PathSpec.from_lines("gitignore", handle.read().splitlines())))
        active = [(b, s) for b, s in specs if folder == b or folder.startswith(b + os.sep)]

        def ignored(path: str, directory: bool, active: list[tuple[str, Any]] = active) -> bool:
            return any(
                s.match_file(os.path.relpath(path, b).replace(os.sep, "/") + ("/" if directory else ""))
                for b, s in active
            )

        dirs[:] = [d for d in dirs if not ignored(os.path.join(folder, d), True)]
        for name in sorted(names):
            full = os.path.join(folder, name)
            if ignored(full, False):
                continue
            if os.path.islink(full):
                yield Skipped(full, "symbolic link")
                continue
            yield files._check(full, max_bytes)


_NAMES = st.sampled_from(["a", "b", "keep.log", "x.log", "node_modules", ".git", "build", "z.txt", "bin"])
_IGNORES = st.lists(
    st.sampled_from(
        ["*.log", "!keep.log", "build/", "b", "/z.txt", "a/*.txt", "bin", "!build/keep.log", "!b/z.txt"]
    ),
    max_size=4,
)
"""With negations of files inside an ignored folder, which git (and the walk) does not re-include."""


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """name -> file body (str), a link target (("link", relative)), or a folder (dict)."""
    out: dict[str, Any] = {}
    for name in draw(st.lists(_NAMES, max_size=4, unique=True)):
        kind = draw(st.sampled_from(["file", "binary", "link", "folder"] if depth < 3 else ["file", "link"]))
        if kind == "folder":
            out[name] = draw(_trees(depth + 1))
        elif kind == "link":
            out[name] = ("link", draw(st.sampled_from(["a", "..", "missing", "z.txt"])))
        else:
            out[name] = "data\0" if kind == "binary" else "text"
    if draw(st.booleans()):
        out[".gitignore"] = "\n".join(draw(_IGNORES))
    return out


def _build(folder: Path, tree: dict[str, Any]) -> None:
    folder.mkdir(exist_ok=True)
    for name, item in tree.items():
        path = folder / name
        if isinstance(item, dict):
            _build(path, item)
        elif isinstance(item, tuple):
            path.symlink_to(item[1])
        else:
            path.write_text(item)


@settings(max_examples=150, deadline=None)
@given(_trees())
@example({".gitignore": "build/\n!build/keep.log", "build": {"keep.log": "text", "b": {"x.log": "t"}}})
@example({"a": {"up": ("link", ".."), "z.txt": ("link", "missing"), "bin": "data\0"}, "b": ("link", "a")})
def test_walk_is_the_os_walk_one(tree: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        _build(root, tree)
        for gitignore in (True, False):
            expected = list(reference_walk(str(root), gitignore=gitignore))
            assert list(files.walk([str(root)], max_bytes=100, gitignore=gitignore)) == expected
            unsniffed = [
                e if isinstance(e, Skipped) and e.why != "binary" else getattr(e, "path", e) for e in expected
            ]
            assert list(files.walk([str(root)], max_bytes=100, gitignore=gitignore, sniff=False)) == unsniffed


def _reference_read(path: str, max_bytes: int) -> tuple[str, bool] | Skipped:
    with open(path, "rb") as handle:
        data = handle.read(max(max_bytes + 1, files.SNIFF))
    if b"\0" in data[: files.SNIFF]:
        return Skipped(path, "binary")
    return data[:max_bytes].decode("utf-8", "replace"), len(data) > max_bytes


def test_read_file_reads_what_one_read_of_the_limit_reads(tmp_path: Path) -> None:
    """read_file asks the file's size to read no more than it holds: the same text and cut flag for
    sizes either side of the limit and of the sniffed head, empty files, non-ASCII text, and a file
    whose size the system reports as 0 though it has content (/proc)."""
    paths = []
    for size in (0, 1, 99, 100, 101, 102, 8191, 8192, 8193, 20000):
        for body in (b"a", "é".encode(), b"\0"):
            path = tmp_path / f"f{size}-{len(paths)}"
            path.write_bytes((body * size)[:size])
            paths.append(str(path))
    paths.append("/proc/self/status")
    for path in paths:
        for max_bytes in (1, 100, 101, 8192, 1 << 20):
            got = files.read_file(path, max_bytes)
            expected = _reference_read(path, max_bytes)
            if path.startswith("/proc"):  # its content changes between two reads: compare the shape
                assert isinstance(got, tuple) and isinstance(expected, tuple)
                assert got[0].split(":")[0] == expected[0].split(":")[0] and got[1] == expected[1]
            else:
                assert got == expected, (path, max_bytes)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.integers(min_value=1, max_value=60))
def test_the_bytes_read_give_the_prefilters_bytes(text: str, max_bytes: int) -> None:
    """A non-ASCII file decoded strictly hands its bytes to ascii_bytes, which translates them instead
    of encoding the text again: the same bytes as from the text (a file cut inside a character, or
    not UTF-8, is decoded with replacement and encoded as before)."""
    from ramparts.detect import matcher

    data = text.replace("\0", "").encode("utf-8", "surrogatepass") + "é".encode()  # \0: a binary
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(data)
        read = files.read_file(str(path), max_bytes)
    assert isinstance(read, tuple)
    got = matcher.ascii_bytes(read[0])
    expected = read[0].encode("utf-8", "surrogatepass").translate(matcher._LEAD_AS_DEL, matcher._CONTINUATION)
    assert got == expected

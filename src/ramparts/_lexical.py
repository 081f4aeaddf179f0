"""``fnmatch.fnmatchcase`` and ``shlex.quote`` for the cold hook, on patterns from ``_recache`` (issue 21).

The shell analysis matches option and verb globs from its tables and quotes words it hands back to
itself. ``fnmatch`` and ``shlex`` would each load ``re`` and compile their patterns in pure Python on
every hook start; these give the same answers from the cached patterns.

- :func:`fnmatchcase` builds the very regular expression ``fnmatch.translate`` builds (the tests hold
  the two equal, and the answers of both functions) and matches it as ``fnmatch`` does.
- :func:`quote` is ``shlex.quote``: the same test of unsafe characters, the same quoting.

Only patterns from tables and policies belong here (each distinct pattern is an entry of the pattern
cache): a glob taken from a command line goes to ``fnmatch`` directly.
"""

from __future__ import annotations

from ._recache import compile as re_compile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# re.escape's table (CPython's re._special_chars_map): each of these characters gets a backslash.
_SPECIAL = {i: "\\" + chr(i) for i in b"()[]{}?*+-|^$\\.&~# \t\n\r\v\f"}
_STAR = None
_matchers: dict[str, Callable[[str], object]] = {}


def translate(pattern: str) -> str:
    """``fnmatch.translate(pattern)``, as CPython 3.11-3.13 write it (the tests hold the two equal)."""
    pieces: list[str | None] = []
    add = pieces.append
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            if not pieces or pieces[-1] is not _STAR:  # consecutive stars are one
                add(_STAR)
        elif c == "?":
            add(".")
        elif c == "[":
            j = i
            if j < n and pattern[j] == "!":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                add("\\[")
                continue
            stuff = _class(pattern, i, j)
            i = j + 1
            if not stuff:
                add("(?!)")  # an empty class never matches
            elif stuff == "!":
                add(".")  # a negated empty class matches any character
            else:
                if stuff[0] == "!":
                    stuff = "^" + stuff[1:]
                elif stuff[0] in ("^", "["):
                    stuff = "\\" + stuff
                add(f"[{stuff}]")
        else:
            add(c.translate(_SPECIAL))
    # Fixed pieces first, then each interior `STAR fixed` as a minimal match of the fixed part with no
    # backtracking into it (an atomic group), and a final star as `.*`.
    out: list[str] = []
    i, n = 0, len(pieces)
    while i < n and pieces[i] is not _STAR:
        out.append(pieces[i] or "")
        i += 1
    while i < n:
        i += 1  # the star
        if i == n:
            out.append(".*")
            break
        fixed: list[str] = []
        while i < n and pieces[i] is not _STAR:
            fixed.append(pieces[i] or "")
            i += 1
        joined = "".join(fixed)
        out.append(".*" + joined if i == n else f"(?>.*?{joined})")
    return rf"(?s:{''.join(out)})\Z"


def _class(pattern: str, i: int, j: int) -> str:
    """The inside of the character class ``pattern[i:j]`` as fnmatch writes it in a regular expression."""
    stuff = pattern[i:j]
    if "-" not in stuff:
        stuff = stuff.replace("\\", r"\\")
    else:
        chunks = []
        k = i + 2 if pattern[i] == "!" else i + 1
        while True:
            k = pattern.find("-", k, j)
            if k < 0:
                break
            chunks.append(pattern[i:k])
            i = k + 1
            k = k + 3
        chunk = pattern[i:j]
        if chunk:
            chunks.append(chunk)
        else:
            chunks[-1] += "-"
        for k in range(len(chunks) - 1, 0, -1):  # empty ranges (`z-a`) are invalid in a regex: dropped
            if chunks[k - 1][-1] > chunks[k][0]:
                chunks[k - 1] = chunks[k - 1][:-1] + chunks[k][1:]
                del chunks[k]
        # backslashes and hyphens escaped (`--` is a set difference), the hyphens of ranges not
        stuff = "-".join(s.replace("\\", r"\\").replace("-", r"\-") for s in chunks)
    return "".join("\\" + c if c in "&~|" else c for c in stuff)  # set operations (&&, ~~, ||) escaped


def fnmatchcase(name: str, pattern: str) -> bool:
    """``fnmatch.fnmatchcase(name, pattern)``: whether ``name`` matches the glob, case counting."""
    match = _matchers.get(pattern)
    if match is None:
        # a pattern without `*`, `?` or `[` is fnmatch's `(?s:literal)\Z`: the literal alone matches
        wild = "*" in pattern or "?" in pattern or "[" in pattern
        match = re_compile(translate(pattern)).match if wild else pattern.__eq__
        _matchers[pattern] = match
    return bool(match(name))


_UNSAFE = re_compile(r"(?a)[^\w@%+=:,./-]")  # shlex's _find_unsafe (re.ASCII)


def quote(word: str) -> str:
    """``shlex.quote(word)``: the word as one shell word."""
    if not word:
        return "''"
    if _UNSAFE.search(word) is None:
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"

"""Claude Code permission-rule syntax: parsing and matching, pure.

A rule is ``Tool`` or ``Tool(specifier)``, exactly as Claude Code 2.1.328 reads it
(``../shared/reference/claude-code.md`` §3.1):

* ``Bash(git push *)``: ``*`` matches any run of characters, spaces included; a trailing
  `` *`` also matches the bare command (``Bash(ls *)`` matches ``ls`` but not ``lsof``);
  the legacy ``Bash(git push:*)`` is the same as ``Bash(git push *)``; any other colon is
  literal, so ``Bash(git:push:*)`` matches nothing (``policy check`` warns).
* ``Read(...)``/``Edit(...)``: gitignore-style paths. ``//abs`` is absolute, ``~/x`` is in
  the home directory, ``/x`` is relative to the policy file's folder (not absolute!),
  ``x`` and ``./x`` are relative to the session's working directory, and a pattern with
  no slash (``.env``) matches at any depth. A pattern also covers everything below a
  directory it matches. For deny and ask, a floating pattern matches anywhere on disk
  and a single-segment directory pattern (``secrets/**``) at any depth: Ramparts errs on
  the side of protecting the file.
* ``WebFetch(domain:example.com)``; ``*.example.com`` is subdomains only.
* ``mcp__server`` (every tool of the server), ``mcp__server__tool``, ``mcp__server__*``.
* ``Tool(param:value)`` parameter rules (``Bash(run_in_background:true)``,
  ``Agent(model:opus)``) count for deny and ask only; ``Agent(Explore)`` names a subagent type.
* Tool-name globs (``*``, ``mcp__*``) count for deny and ask only.
"""

from __future__ import annotations

from .._recache import compile as re_compile
from .._tuples import NamedTuple
from ..errors import PolicyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable
    from typing import Literal, TypeVar

    R = TypeVar("R")
    RuleList = Literal["deny", "ask", "allow"]
    RuleKind = Literal[
        "tool", "tool_glob", "mcp_server", "command", "path", "domain", "param", "agent_type", "never"
    ]
else:

    def __getattr__(name: str) -> object:  # the aliases above, for a run-time import of one
        from .decl import lazy_alias

        return lazy_alias(__name__, name)


# re's flags and re.escape, without importing re (the hook builds its patterns with _recache)
_IGNORECASE = 2
_DOTALL = 16
_SPECIAL = {i: "\\" + chr(i) for i in b"()[]{}?*+-|^$\\.&~# \t\n\r\v\f"}


def _escape(text: str) -> str:
    """``_escape(text)`` (the same table)."""
    return text.translate(_SPECIAL)


def _memo(limit: int) -> Callable[[Callable[[str], R]], Callable[[str], R]]:
    """A per-process memo of a one-string function (``functools.lru_cache`` without importing functools),
    emptied when it holds ``limit`` results; ``.results`` is the dict."""

    def wrap(function: Callable[[str], R]) -> Callable[[str], R]:
        results: dict[str, R] = {}

        def memo(arg: str) -> R:
            try:
                return results[arg]
            except KeyError:
                pass
            if len(results) >= limit:
                results.clear()
            result = results[arg] = function(arg)
            return result

        memo.__name__ = function.__name__
        memo.__doc__ = function.__doc__
        memo.__wrapped__ = function  # type: ignore[attr-defined]
        memo.results = results  # type: ignore[attr-defined]  # what it holds (tests look)
        return memo

    return wrap


READ_TOOLS = frozenset({"Read", "NotebookRead", "Grep", "Glob", "LS"})
"""Tools whose file access is checked against ``Read(...)`` rules."""
EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
"""Tools whose file access is checked against ``Edit(...)`` rules."""
PATH_RULE_TOOLS = READ_TOOLS | EDIT_TOOLS
SHELL_TOOLS = frozenset({"Bash", "PowerShell"})

PARAM_NAMES: dict[str, frozenset[str]] = {
    # Only fields whose parameter rules are documented; `Bash(timeout:*)` stays the legacy prefix form.
    "Bash": frozenset({"run_in_background", "dangerouslyDisableSandbox"}),
    "PowerShell": frozenset({"run_in_background", "dangerouslyDisableSandbox"}),
    "Agent": frozenset({"model", "subagent_type", "description", "prompt"}),
    "Task": frozenset({"model", "subagent_type", "description", "prompt"}),
    "WebSearch": frozenset({"query"}),
}

_TOOL_NAME = re_compile(r"[A-Za-z0-9_*\-]+")
_PARAM_FORM = re_compile(r"([A-Za-z_][A-Za-z0-9_]*):(.*)", _DOTALL)


class Rule(NamedTuple):
    """One parsed permission rule."""

    id: str
    list: RuleList
    raw: str
    tool: str
    kind: RuleKind
    spec: str = ""
    """Command pattern, ``anchor:pattern`` path form, domain, parameter value or subagent type."""
    param: str = ""
    reason: str = ""
    line: int = 0
    remote: bool = False
    """An ask rule with ``ask: remote``: its question goes to an approver through the control plane."""


def parse_rule(
    raw: str, *, list_: RuleList, rule_id: str = "", reason: str = "", line: int = 0, base_dir: str = ""
) -> Rule:
    """Parse one rule string; raise :class:`PolicyError` (without position) when it is malformed."""
    text = raw.strip()
    if not text:
        raise PolicyError("empty permission rule")
    paren = text.find("(")
    if paren == -1:
        tool, spec = text, None
    else:
        if not text.endswith(")"):
            raise PolicyError(f"permission rule {raw!r} opens '(' but does not end with ')'")
        tool, spec = text[:paren], text[paren + 1 : -1]
    if not _TOOL_NAME.fullmatch(tool):
        raise PolicyError(f"permission rule {raw!r}: {tool!r} is not a tool name")
    rid = rule_id or f"{list_}:{text}"
    base = Rule(id=rid, list=list_, raw=text, tool=tool, kind="tool", reason=reason, line=line)
    if spec is not None and spec.strip() in ("", "*") and tool in SHELL_TOOLS:
        spec = None  # Bash() and Bash(*) are Bash
    if spec is None:
        if "*" in tool:
            return base._replace(kind="tool_glob")
        if tool.startswith("mcp__") and "__" not in tool[5:]:
            return base._replace(kind="mcp_server")
        return base
    if "*" in tool:
        raise PolicyError(f"permission rule {raw!r}: a tool-name glob cannot take a specifier")
    if tool in SHELL_TOOLS:
        param = _PARAM_FORM.fullmatch(spec)
        if param and param.group(1) in PARAM_NAMES[tool]:
            return base._replace(kind="param", param=param.group(1), spec=param.group(2))
        if spec.endswith(":*"):
            spec = spec[:-2] + " *"
        return base._replace(kind="command", spec=spec)
    if tool in PATH_RULE_TOOLS:
        if _PARAM_FORM.fullmatch(spec) and spec.split(":", 1)[0] in ("file_path", "path", "pattern"):
            return base._replace(kind="never", spec=spec)  # Claude Code ignores primary-field param rules
        return base._replace(kind="path", spec=anchor_path(spec, list_, base_dir))
    if tool == "WebFetch":
        if spec.startswith("domain:") and spec[7:]:
            return base._replace(kind="domain", spec=spec[7:].lower())
        return base._replace(kind="never", spec=spec)
    param = _PARAM_FORM.fullmatch(spec)
    if param and param.group(1) in PARAM_NAMES.get(tool, ()):
        return base._replace(kind="param", param=param.group(1), spec=param.group(2))
    if tool in ("Agent", "Task"):
        return base._replace(kind="agent_type", spec=spec)
    return base._replace(kind="never", spec=spec)


def anchor_path(spec: str, list_: RuleList, base_dir: str) -> str:
    """Turn a path specifier into ``anchor:pattern``: anchor is abs, home, cwd, cwdfloat or float."""
    if spec.startswith("//"):
        return "abs:/" + spec[2:].lstrip("/")
    if spec == "~" or spec.startswith("~/"):
        return "home:" + spec[2:].rstrip("/")
    if spec.startswith("/"):
        if base_dir:
            return "abs:" + base_dir.rstrip("/") + spec
        return "cwd:" + spec.lstrip("/")
    rel = spec[2:] if spec.startswith("./") else spec
    rel = rel.rstrip("/") or "."
    if rel == ".":
        return "cwd:."
    if list_ != "allow" and rel.startswith("**/"):
        return "float:" + rel[3:]
    core = rel[:-3] if rel.endswith("/**") else rel
    if "/" not in core:
        if list_ != "allow":
            return "float:" + rel
        if rel == core:
            return "cwdfloat:" + rel
    return "cwd:" + rel


# -- matching ---------------------------------------------------------------------------------


@_memo(1024)
def command_regex(spec: str) -> re.Pattern[str]:
    """Compile a Bash rule pattern: ``*`` is any run of characters; a trailing `` *`` is optional."""
    tail = ""
    if spec.endswith(" *"):
        spec, tail = spec[:-2], "(?: .*)?"
    body = ".*".join(_escape(part) for part in spec.split("*"))
    return re_compile(body + tail, _DOTALL)


@_memo(4096)
def _glob_parts(spec: str) -> tuple[tuple[str, ...], ...]:
    """The ``*``-separated literal parts of a Bash rule pattern; two alternatives when it ends in `` *``
    (the bare command, or the command followed by a space and anything)."""
    if spec.endswith(" *"):
        return (tuple(spec[:-2].split("*")), tuple(spec.split("*")))
    return (tuple(spec.split("*")),)


def _glob_fullmatch(parts: tuple[str, ...], text: str) -> bool:
    """Does ``text`` match the parts joined by ``*`` (any run of characters, newlines included)?

    The same answer as the compiled :func:`command_regex`, without compiling a regex per rule in every
    hook process: with ``*`` the only wildcard, taking each middle part at its leftmost place is exact.
    """
    if len(parts) == 1:
        return text == parts[0]
    first, last = parts[0], parts[-1]
    end = len(text) - len(last)
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return False
    pos = len(first)
    for middle in parts[1:-1]:
        found = text.find(middle, pos, end)
        if found < 0:
            return False
        pos = found + len(middle)
    return True


def command_glob_matches(spec: str, command_text: str) -> bool:
    return any(_glob_fullmatch(parts, command_text) for parts in _glob_parts(spec))


def command_matches(rule: Rule, command_text: str) -> bool:
    return command_glob_matches(rule.spec, command_text)


_SHORT_FLAGS = re_compile(r"-[A-Za-z]+")


def command_matches_any_flag_order(rule: Rule, argv: tuple[str, ...]) -> bool:
    """For deny/ask: does the command carry the rule's short flags in any spelling?

    ``Bash(rm -rf *)`` then also matches ``rm -fr x``, ``rm -r -f x`` and ``rm -rfv x`` (Claude Code's
    own matcher lets those through): the command's short-flag letters must include the rule's, and the
    rest of the words must match the rest of the pattern.
    """
    words = rule.spec.split(" ")
    rule_flags = {c for w in words if _SHORT_FLAGS.fullmatch(w) for c in w[1:]}
    if not rule_flags:
        return False
    command_flags = {c for w in argv[1:] if _SHORT_FLAGS.fullmatch(w) for c in w[1:]}
    if not rule_flags <= command_flags:
        return False
    rest = " ".join(w for w in words if not _SHORT_FLAGS.fullmatch(w))
    text = " ".join(w for i, w in enumerate(argv) if i == 0 or not _SHORT_FLAGS.fullmatch(w))
    return command_glob_matches(rest, text)


def _bracket(inner: str) -> str | None:
    """Translate the (non-empty) inside of a ``[...]`` glob class into a regex class; None if invalid."""
    negate = inner[:1] in ("!", "^")
    body = inner[1:] if negate else inner
    out: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            if body[i] > body[i + 2]:
                return None
            out.append(f"{_escape(body[i])}-{_escape(body[i + 2])}")
            i += 3
        else:
            out.append(_escape(body[i]))
            i += 1
    return "[" + ("^/" if negate else "") + "".join(out) + "]"


@_memo(1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a gitignore-style glob; the result also matches everything below a matched directory.

    ``*`` and ``?`` stay within one path segment, ``**`` crosses segments, ``[...]`` is a character
    class (``[!...]`` negated; an invalid class is taken literally), a trailing ``/**`` also matches
    the directory itself. Never raises.
    """
    return re_compile(_glob_source(pattern), _DOTALL)


@_memo(1024)
def _glob_source(pattern: str) -> str:
    """The regex :func:`glob_regex` compiles (the case-folded variant compiles it too, and only it: a
    deny rule checked without regard to case costs one compilation, not two)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    if pattern.endswith("/**"):
        pattern, n = pattern[:-3], n - 3
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                j = i + 2
                if j < n and pattern[j] == "/":
                    out.append("(?:.*/)?")
                    i = j + 1
                else:
                    out.append(".*")
                    i = j
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            start = i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1
            end = pattern.find("]", start + 1)
            translated = _bracket(pattern[i + 1 : end]) if end != -1 else None
            if translated is None:
                out.append(_escape(c))
            else:
                out.append(translated)
                i = end
        else:
            out.append(_escape(c))
        i += 1
    return "".join(out) + "(?:/.*)?"


@_memo(1024)
def _glob_regex_folded(pattern: str) -> re.Pattern[str]:
    return re_compile(_glob_source(pattern), _DOTALL | _IGNORECASE)


@_memo(1024)
def _glob_literals(pattern: str) -> tuple[str, ...]:
    """Runs of plain characters that every path the glob matches contains (a cheap necessary condition,
    checked before compiling the glob's regex; never a sufficient one). It reads the glob as
    :func:`_glob_source` does: ``*``, ``?``, ``**/`` (which also matches nothing, its slash included), a
    trailing ``/**`` and anything from a ``[`` to the next ``]`` (a class, or an invalid one taken
    literally) end a run and require nothing."""
    runs: list[str] = []
    run: list[str] = []
    if pattern.endswith("/**"):
        pattern = pattern[:-3]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c in "*?[":
            if run:
                runs.append("".join(run))
                run = []
            if pattern.startswith("**/", i):
                i += 2
            elif c == "[":
                start = i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1
                end = pattern.find("]", start + 1)
                if end != -1:
                    i = end
        else:
            run.append(c)
        i += 1
    if run:
        runs.append("".join(run))
    return tuple(runs)


def _path_glob_fullmatch(pattern: str, subject: str, fold: bool) -> bool:
    """``glob_regex(pattern).fullmatch(subject)`` (case-folded with ``fold``), without compiling the
    regex when a plain run of the glob is missing from ``subject``. Folded, only ASCII runs are looked
    for and only in an ASCII subject: there, and only there, the regex's IGNORECASE is ``lower()``."""
    if fold:
        if subject.isascii():
            folded = subject.lower()
            if any(r.isascii() and r.lower() not in folded for r in _glob_literals(pattern)):
                return False
        return _glob_regex_folded(pattern).fullmatch(subject) is not None
    if any(r not in subject for r in _glob_literals(pattern)):
        return False
    return glob_regex(pattern).fullmatch(subject) is not None


def _relative(path: str, root: str, fold: bool = False) -> str | None:
    root = root.rstrip("/")
    if fold:
        path, root = path.lower(), root.lower()
    if path == root:
        return "."
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None


def path_matches(rule: Rule, path: str, cwd: str, home: str, *, fold: bool = False) -> bool:
    """Does an absolute, normalised ``path`` fall under the rule's path pattern? With ``fold``, letter
    case does not count (a case-insensitive file system: ``.ENV`` is ``.env``)."""
    anchor, _, pattern = rule.spec.partition(":")
    if anchor == "abs":
        if pattern.strip("/") == "":
            return path.startswith("/")
        return _path_glob_fullmatch(pattern.rstrip("/"), path, fold)
    if anchor == "float":
        return _path_glob_fullmatch("**/" + pattern, path.lstrip("/"), fold)
    root = home if anchor == "home" else cwd
    rel = _relative(path, root, fold)
    if rel is None:
        return False
    if anchor == "cwdfloat":
        return _path_glob_fullmatch("**/" + pattern, rel, fold)
    pattern = pattern.rstrip("/")
    if pattern in ("", "."):
        return True
    return _path_glob_fullmatch(pattern, rel, fold)


_BACKUP_SUFFIX = re_compile(
    r"(?:~|[._-](?:bak|backup|orig|old|save|sav|swp|swo|swn|tmp|temp|copy|dist|prev|[0-9]{1,3}"
    # compressed or encoded copies: `zcat id_rsa.gz`, `base64 -d server.key.b64` print the file
    r"|gz|bz2|xz|zst|lz4|lzma|z|b64|base64|hex))$",
    _IGNORECASE,
)


def name_variants(path: str) -> list[str]:
    """The names a protected file is known by when it is copied aside: editor and backup spellings
    (``id_rsa.bak``, ``.npmrc~``, ``server.key.orig``, ``.#.env``, ``#.env#``) and compressed or
    encoded copies (``id_rsa.gz``, ``server.key.b64``) name the file they hold."""
    head, _, base = path.rpartition("/")
    out: list[str] = []
    if base.startswith(".#") and len(base) > 2:
        out.append(f"{head}/{base[2:]}")
    if len(base) > 2 and base[0] == base[-1] == "#":
        out.append(f"{head}/{base[1:-1]}")
    name = base
    for _ in range(3):
        match = _BACKUP_SUFFIX.search(name)
        if match is None or match.start() == 0:
            break
        name = name[: match.start()]
        out.append(f"{head}/{name}")
    return out


_GLOB_START = re_compile(r"[*?\[]")


def path_may_match_below(rule: Rule, directory: str, cwd: str, home: str, *, fold: bool = False) -> bool:
    """Could the rule's pattern match the directory or anything below it? (For recursive reads.)"""
    if fold:
        return path_may_match_below(
            rule._replace(spec=rule.spec.lower()), directory.lower(), cwd.lower(), home.lower()
        )
    anchor, _, pattern = rule.spec.partition(":")
    if anchor == "float":
        return True
    if anchor == "cwdfloat":
        literal = cwd
    else:
        root = "" if anchor == "abs" else (home if anchor == "home" else cwd).rstrip("/") + "/"
        full = root + pattern
        glob_at = _GLOB_START.search(full)
        literal = full if glob_at is None else full[: full.rfind("/", 0, glob_at.start()) + 1]
    literal = literal.rstrip("/")
    directory = directory.rstrip("/")
    if not literal or not directory:
        return True
    return literal == directory or literal.startswith(directory + "/") or directory.startswith(literal + "/")


def domain_matches(rule: Rule, host: str) -> bool:
    host = host.lower().rstrip(".")
    pattern = rule.spec
    if pattern.startswith("*.") and "*" not in pattern[2:]:
        return host.endswith(pattern[1:])
    if pattern.startswith("*."):
        regex = r"(?:[^.]+\.)+" + "[^.]*".join(_escape(p) for p in pattern[2:].split("*"))
        return re_compile(regex).fullmatch(host) is not None
    if "*" in pattern:
        regex = "[^.]*".join(_escape(p) for p in pattern.split("*"))
        return re_compile(regex).fullmatch(host) is not None
    return host == pattern


def tool_name_matches(rule: Rule, name: str) -> bool:
    """Match on the tool name alone (tool, tool glob and MCP server rules)."""
    if rule.kind == "tool":
        return name == rule.tool
    if rule.kind == "tool_glob":
        regex = ".*".join(_escape(p) for p in rule.tool.split("*"))
        return re_compile(regex).fullmatch(name) is not None
    if rule.kind == "mcp_server":
        return name.startswith(rule.tool + "__")
    return False


def param_matches(rule: Rule, value: object) -> bool:
    if value is None:
        return False
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    regex = ".*".join(_escape(p) for p in rule.spec.split("*"))
    return re_compile(regex, _IGNORECASE | _DOTALL).fullmatch(text) is not None

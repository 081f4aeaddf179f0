"""Split a shell string into simple commands and redirections (pure, no I/O).

Uses :mod:`shlex` in POSIX mode for quoting and escapes. Anything it cannot resolve statically
(``$`` expansions, backticks, subshells, here-docs, unbalanced quotes) is reported as opaque.
"""

from __future__ import annotations

import re
import shlex
from typing import NamedTuple

SEPARATORS = frozenset({";", "&&", "||", "|", "|&", "&", "\n", ";;", ";&", ";;&"})
REDIRECTS = {
    "<": "read",
    ">": "write",
    ">>": "write",
    "&>": "write",
    "&>>": "write",
    ">|": "write",
    "<>": "write",
}
_PUNCT = ";&|<>()\n"
# Operators, longest first: shlex hands back runs of punctuation (";\n", "&&\n", ";(") as one token.
_OPERATORS = (
    "&>>",
    ">>&",
    ";;&",
    "&&",
    "||",
    "|&",
    ";;",
    ";&",
    ">>",
    "<<",
    "&>",
    ">|",
    "<>",
    ">&",
    "<&",
    ";",
    "&",
    "|",
    "<",
    ">",
    "(",
    ")",
    "\n",
)
# A backslash-newline is a line continuation only when the backslash itself is not escaped.
_CONTINUATION = re.compile(r"(?<!\\)((?:\\\\)*)\\\n")


def _operators(token: str) -> list[str]:
    """Split a run of punctuation into bash operators (longest match first)."""
    out: list[str] = []
    i = 0
    while i < len(token):
        for op in _OPERATORS:
            if token.startswith(op, i):
                out.append(op)
                i += len(op)
                break
        else:  # pragma: no cover - every character of _PUNCT is an operator
            out.append(token[i])
            i += 1
    return out


class Redirect(NamedTuple):
    op: str
    target: str
    command: int
    """Index of the simple command the redirection belongs to."""


class Split(NamedTuple):
    commands: tuple[tuple[str, ...], ...]
    redirects: tuple[Redirect, ...]
    opaque: tuple[str, ...]


def split(text: str) -> Split:
    opaque: list[str] = []
    if "`" in text:
        opaque.append("backtick command substitution")
    if "$(" in text:
        opaque.append("$(...) command substitution")
    elif "$" in text:
        opaque.append("$ expansion (value unknown before it runs)")
    if "<<" in text:
        opaque.append("here-document or here-string")
    source = _CONTINUATION.sub(r"\1", text)
    lexer = shlex.shlex(source, posix=True, punctuation_chars=_PUNCT)
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        raw_tokens = list(lexer)
    except ValueError as exc:
        return Split((), (), (*opaque, f"cannot tokenise: {exc}"))
    tokens: list[str] = []
    for token in raw_tokens:
        if token and all(ch in _PUNCT for ch in token) and token not in SEPARATORS and token not in REDIRECTS:
            tokens.extend(_operators(token))
        else:
            tokens.append(token)
    commands: list[tuple[str, ...]] = []
    redirects: list[Redirect] = []
    current: list[str] = []
    pending: str | None = None
    for token in tokens:
        if pending is not None:
            if token in SEPARATORS or token in REDIRECTS or token in ("(", ")"):
                opaque.append(f"redirection {pending!r} without a target")
            else:
                redirects.append(Redirect(pending, token, len(commands)))
                pending = None
                continue
            pending = None
        if token in SEPARATORS:
            if current:
                commands.append(tuple(current))
                current = []
            continue
        if token in ("(", ")"):
            if "subshell or group" not in opaque:
                opaque.append("subshell or group")
            if current:
                commands.append(tuple(current))
                current = []
            continue
        if token in REDIRECTS or token in (">&", "<&", ">>&"):
            if current and current[-1].isdigit() and f"{current[-1]}{token}" in source:
                current.pop()  # the file descriptor of '2>' belongs to the operator
            pending = token
            continue
        if token and all(ch in _PUNCT for ch in token):
            opaque.append(f"unsupported operator {token!r}")
            continue
        current.append(token)
    if pending is not None:
        opaque.append(f"redirection {pending!r} without a target")
    if current:
        commands.append(tuple(current))
    return Split(tuple(commands), tuple(redirects), tuple(dict.fromkeys(opaque)))

"""Split a shell string into the simple commands it can execute, with tree-sitter-bash (pure, no I/O).

Every simple command that can run is reported, wherever it sits: lists and pipelines, subshells
and groups, ``if``/``for``/``while``/``case`` bodies, function bodies, command and process
substitutions (inside strings, assignments and redirect targets too) and commands in here-documents
fed to a shell. Words are resolved the way bash removes quotes (``c'u'rl``, ``c\\url``,
``"cu""rl"``, ``$'\\x63url'`` are all ``curl``). What cannot be known before the command runs
(``$VAR``, ``$(...)`` output, arithmetic) is reported as opaque, as is anything the parser could
not read: the engine then asks or denies, never allows.
"""

from __future__ import annotations

from .._recache import compile as re_compile
from .._tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from typing import Any

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
MAX_DEPTH = 200
"""Deepest syntax tree walked; deeper input is opaque rather than a crash."""

_DQ_ESCAPE = re_compile(r"\\([$`\"\\\n])")
_WORD_ESCAPE = re_compile(r"(?s)\\(.)|\\$")
_ANSI_C = re_compile(r"(?s)\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)")
_ANSI_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ARITHMETIC = frozenset({"c_style_for_statement", "subscript", "arithmetic_expansion"})
_ARITHMETIC_TEST = re_compile(r"\s-(?:eq|ne|lt|le|gt|ge)\s")
_CONTINUATION = re_compile(rb"(?<!\\)((?:\\\\)*)\\\n")
_UNESCAPED_NEWLINE = re_compile(rb"(?<!\\)\n")
_BRACE = re_compile(r"(?<!\\)\{[^{}]*(,|\.\.)[^{}]*(?<!\\)\}")
"""An unquoted ``{a,b}`` or ``{1..3}``: bash expands it into several words."""
_PRINTERS = frozenset({"echo", "printf"})
SUBSTITUTION_SAFE = frozenset({"echo", "ls", "stat", "basename", "dirname", "realpath", "readlink"})
"""Commands whose arguments may come from a ``$(...)``/backtick substitution: whatever words the
output makes (options included), they only print those words or the names and metadata of the files
they name, never content. The commands inside the substitution are reported like any other, so the
whole is allowed only when each of them is (``echo $(whoami)``, ``ls $(pwd)``; not ``cat $(ls)``)."""
_PLAIN_VARIABLE = re_compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")
_SECRET_NAME = re_compile(r"(?i)token|secret|passw|key|cred|auth|cookie|session|private|api")
"""A variable whose name says it holds a credential is not printed unasked (``echo $GITHUB_TOKEN``)."""
_REDIRECT_NODES = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_parser: Any = None
PROCESS_INPUT = "/dev/fd/63"
"""The word bash gives a command for ``<(…)``: the name of a pipe the inner commands print into."""
IFS_SPLIT = "\x00"
"""Stands in a word for an unquoted ``$IFS``: bash splits the word there (NUL never occurs in a word)."""
_IFS_DEFAULT = " \t\n"
_IFS_READS = re_compile(r"\$IFS\b|\$\{IFS\}")


class Redirect(NamedTuple):
    op: str
    target: str
    command: int
    """Index of the simple command the redirection belongs to."""


class Split(NamedTuple):
    commands: tuple[tuple[str, ...], ...]
    redirects: tuple[Redirect, ...]
    opaque: tuple[str, ...]
    stdin: tuple[tuple[int, str], ...] = ()
    """Here-document and here-string text fed to a command: (command index, text)."""


def _get_parser() -> Any:
    """The tree-sitter parser, built once per process.

    Both compiled modules are loaded directly, without the standard modules their packages and their
    initialisation import (:mod:`.binding`): some 15 ms the hook would pay on every tool call for
    nothing it uses.
    """
    global _parser
    if _parser is None:
        from .binding import binding

        tree_sitter = binding("tree_sitter")
        _parser = tree_sitter.Parser(tree_sitter.Language(binding("tree_sitter_bash").language()))
    return _parser


_ASTRAL = re_compile("[\U00010000-\U0010ffff]")


def split(text: str) -> Split:
    """Parse one command string."""
    if _ASTRAL.search(text):
        # tree-sitter-bash corrupts memory on some inputs with characters beyond U+FFFF (4-byte UTF-8,
        # e.g. emoji after a '{'; upstream tree-sitter-bash#337, reproduced here with 0.23.3 and 0.25.1):
        # such text is never handed to the parser.
        return Split((), (), ("characters beyond U+FFFF, which the bash parser cannot read safely",))
    source = text.encode("utf-8", "surrogatepass")
    if b"\\\n" in source:
        source = join_continuations(source)
    # bash never takes IFS from the environment, so `cat${IFS}.env` is `cat .env` unless the
    # command itself sets IFS (then any mention of it but a plain read makes the words unknown).
    walker = _Walker(source, ifs_known="IFS" not in _IFS_READS.sub("", text))
    tree = _get_parser().parse(source)
    if tree.root_node.has_error:
        walker.opaque.append("the command does not parse completely")
    walker.walk(tree.root_node, 0)
    return Split(
        tuple(walker.commands),
        tuple(walker.redirects),
        tuple(dict.fromkeys(walker.opaque)),
        tuple(walker.stdin),
    )


_KEEPS_CONTINUATION = frozenset({"comment", "raw_string", "ansi_c_string"})


def join_continuations(source: bytes) -> bytes:
    """Remove backslash-newline where bash does, and only there.

    bash joins lines at a backslash-newline in ordinary text, double quotes and unquoted
    here-document bodies (`cat .en\\<newline>v` reads .env), but not in a comment (the comment
    ends at the newline: `echo ok # \\<newline>curl x` runs curl), in single quotes or ``$'...'``,
    nor in the body of a quoted here-document (a body line ending in a backslash does not swallow
    the delimiter line). The contexts come from a parse of the text as written.
    """
    keep: list[tuple[int, int]] = []
    stack = [_get_parser().parse(source).root_node]
    while stack:
        node = stack.pop()
        kind = node.type
        if kind in _KEEPS_CONTINUATION:
            keep.append((node.start_byte, node.end_byte))
            continue
        if kind == "heredoc_redirect":
            start = next((c for c in node.named_children if c.type == "heredoc_start"), None)
            if start is not None and any(q in start.text for q in (b"'", b'"', b"\\")):
                keep.extend(
                    (c.start_byte, c.end_byte) for c in node.named_children if c.type == "heredoc_body"
                )
        stack.extend(node.named_children)

    def join(match: re.Match[bytes]) -> bytes:
        at = match.end() - 2  # the backslash
        if any(start <= at < end for start, end in keep):
            return match.group(0)
        return match.group(1)

    return _CONTINUATION.sub(join, source)


def _ifs_fields(word: str) -> list[str]:
    """The words bash makes of one word by splitting it where an unquoted ``$IFS`` stood."""
    if IFS_SPLIT not in word:
        return [word]
    return [part for part in word.split(IFS_SPLIT) if part]


def _text(node: Any) -> str:
    raw: bytes = node.text
    return raw.decode("utf-8", "replace")  # a node may end inside a sequence the input got wrong


def _ansi_c(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        esc = match.group(1)
        head = esc[0]
        if head in _ANSI_SIMPLE and len(esc) == 1:
            return _ANSI_SIMPLE[head]
        if head in "xuU" and len(esc) > 1:
            return chr(min(int(esc[1:], 16), 0x10FFFF))
        if head.isdigit():
            return chr(int(esc, 8) & 0xFF)
        if head == "c" and len(esc) == 2:
            return chr(ord(esc[1]) & 0x1F)
        return "\\" + esc

    return _ANSI_C.sub(one, body)


class _Walker:
    def __init__(self, source: bytes, *, ifs_known: bool = False) -> None:
        self.source = source
        self.ifs_known = ifs_known
        self.commands: list[tuple[str, ...]] = []
        self.redirects: list[Redirect] = []
        self.opaque: list[str] = []
        self.stdin: list[tuple[int, str]] = []
        self.printing = False
        """Inside the arguments of a command that only prints them (``echo``, ``printf``)."""
        self.substituting = False
        """Inside the arguments of a command in ``SUBSTITUTION_SAFE``."""

    # -- structure -------------------------------------------------------------------------------

    def walk(self, node: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.opaque.append("the command is nested too deeply to analyse")
            return
        kind = node.type
        if kind == "command":
            self._command(node, depth)
        elif kind in _REDIRECT_NODES:
            self._redirect(node, len(self.commands) - 1, depth)
        elif kind == "redirected_statement":
            body = [c for c in node.named_children if c.type not in _REDIRECT_NODES]
            for child in body:
                self.walk(child, depth + 1)
            for child in node.named_children:
                if child.type in _REDIRECT_NODES:
                    self._redirect(child, len(self.commands) - 1, depth)
        elif kind in ("command_substitution", "process_substitution", "arithmetic_expansion", "expansion"):
            for child in node.named_children:
                self.walk(child, depth + 1)
        elif kind == "comment":
            return
        elif kind in _ARITHMETIC or (kind == "compound_statement" and _text(node).startswith("((")):
            # bash evaluates variable values inside arithmetic as expressions, so `x='a[$(cmd)]'; (( x ))`
            # runs cmd: nothing evaluated arithmetically is known before it runs
            self.opaque.append("arithmetic evaluation (it can run commands hidden in variables)")
            for child in node.named_children:
                self.walk(child, depth + 1)
        elif kind == "test_command" and _ARITHMETIC_TEST.search(_text(node)):
            self.opaque.append("arithmetic evaluation (it can run commands hidden in variables)")
            for child in node.named_children:
                self.walk(child, depth + 1)
        else:
            if kind == "ERROR":
                self.opaque.append("the command does not parse completely")
            for child in node.named_children:
                self.walk(child, depth + 1)

    def _command(self, node: Any, depth: int) -> None:
        outer = self.printing, self.substituting
        try:
            self._simple_command(node, depth)
        finally:
            self.printing, self.substituting = outer

    def _simple_command(self, node: Any, depth: int) -> None:
        self.printing = self.substituting = False
        argv: list[str] = []
        redirects: list[Any] = []
        siblings = list(node.named_children)
        if node.parent is not None and node.parent.type == "redirected_statement":
            siblings += node.parent.named_children
        redirect_starts = {c.start_byte for c in siblings if c.type in _REDIRECT_NODES}
        previous_end = node.start_byte
        for child in node.named_children:
            kind = child.type
            gap = self.source[previous_end : child.start_byte]
            previous_end = child.end_byte
            if argv and _UNESCAPED_NEWLINE.search(gap):
                # tree-sitter-bash sometimes glues the next line onto a command (`a | b | c\nd` gives
                # `c d`): split it back, and do not trust the rest of the structure either.
                self.opaque.append("the parser joined two lines into one command")
                self.commands.append(tuple(argv))
                argv = []
            if kind == "number" and child.end_byte in redirect_starts:
                continue  # the file descriptor of `0<file`, not an argument
            if kind in _REDIRECT_NODES:
                redirects.append(child)
            elif kind == "variable_assignment":
                argv.append(self._assignment(child, depth))
            elif kind == "command_name":
                word, dynamic = self.word(child, depth)
                if dynamic:
                    self.opaque.append(f"the command name {_text(child)[:60]!r} is not static")
                argv.extend(_ifs_fields(word))
                self.printing = not dynamic and word in _PRINTERS
                self.substituting = not dynamic and not argv[:-1] and word in SUBSTITUTION_SAFE
            else:
                word, _ = self.word(child, depth)
                argv.extend(_ifs_fields(word))
        self.printing = self.substituting = False  # a redirect target is no argument
        index = len(self.commands)
        if argv:
            self.commands.append(tuple(argv))
        for redirect in redirects:
            self._redirect(redirect, index if argv else index - 1, depth)

    def _assignment(self, node: Any, depth: int) -> str:
        name = ""
        value = ""
        for child in node.named_children:
            if child.type == "variable_name" and not name:
                name = _text(child)
            else:
                value, _ = self.word(child, depth)
        return f"{name}={value.replace(IFS_SPLIT, _IFS_DEFAULT)}"  # no word splitting in assignments

    def _redirect(self, node: Any, command: int, depth: int) -> None:
        # a redirect target is no argument: a nested command's redirect inside `echo $(…)` must not
        # inherit echo's leniency for plain variables and substitutions (`echo \`tr a b < $x\``)
        outer = self.printing, self.substituting
        self.printing = self.substituting = False
        try:
            self._redirect_target(node, command, depth)
        finally:
            self.printing, self.substituting = outer

    def _redirect_target(self, node: Any, command: int, depth: int) -> None:
        kind = node.type
        if kind == "heredoc_redirect":
            # The grammar nests whatever follows `<<EOF` on its line (more redirections, `&& cmd`)
            # inside the heredoc node: all of it runs.
            for child in node.named_children:
                if child.type == "heredoc_body":
                    self.walk(child, depth + 1)  # an unquoted body runs its $(...) substitutions
                    self.stdin.append((command, _text(child)))
                elif child.type in _REDIRECT_NODES:
                    self._redirect(child, command, depth)
                elif child.type not in ("heredoc_start", "heredoc_end"):
                    self.walk(child, depth + 1)
            return
        if kind == "herestring_redirect":
            for child in node.named_children:
                value, _ = self.word(child, depth)
                self.stdin.append((command, value.replace(IFS_SPLIT, _IFS_DEFAULT)))
            return
        op = ""
        target: Any = None
        for child in node.children:
            if not child.is_named and _text(child).strip():
                op = _text(child)
            elif child.is_named and child.type != "file_descriptor":
                target = child
        if target is None:
            if not op.endswith("-"):  # `2>&-` closes a descriptor
                self.opaque.append(f"redirection {op!r} without a target")
            return
        value, dynamic = self.word(target, depth)
        if dynamic or IFS_SPLIT in value:
            self.opaque.append(f"the redirect target {_text(target)[:60]!r} is computed")
        self.redirects.append(Redirect(op, value.replace(IFS_SPLIT, " "), max(command, 0)))

    # -- words -----------------------------------------------------------------------------------

    def word(self, node: Any, depth: int) -> tuple[str, bool]:
        """The word after quote removal, and whether part of it is only known when it runs."""
        kind = node.type
        if kind == "command_name":
            parts = [self.word(child, depth) for child in node.named_children]
            return "".join(p for p, _ in parts), any(d for _, d in parts)
        if kind == "word":
            if _BRACE.search(_text(node)):
                self.opaque.append(f"brace expansion in {_text(node)[:60]!r}")
            return _WORD_ESCAPE.sub(lambda m: m.group(1) or "", _text(node)), False
        if kind in ("number", "variable_name", "regex", "extglob_pattern"):
            return _text(node), False
        if kind == "raw_string":
            return _text(node)[1:-1], False
        if kind == "ansi_c_string":
            return _ansi_c(_text(node)[2:-1]).split("\x00", 1)[0], False  # bash ends the word at a NUL
        if kind in ("string", "translated_string"):
            return self._string(node, depth)
        if kind == "concatenation":
            shape = "".join(_text(c) if c.type == "word" else "Q" for c in node.named_children)
            if _BRACE.search(shape):  # quoted parts do not take part in brace expansion
                self.opaque.append(f"brace expansion in {_text(node)[:60]!r}")
            parts = [self.word(child, depth) for child in node.named_children]
            return "".join(p for p, _ in parts), any(d for _, d in parts)
        if kind == "brace_expression":
            self.opaque.append(f"brace expansion in {_text(node)[:60]!r}")
            return _text(node), False
        if kind in ("simple_expansion", "expansion") and self.ifs_known and _text(node) in ("$IFS", "${IFS}"):
            return IFS_SPLIT, False
        if (
            self.printing
            and kind in ("simple_expansion", "expansion")
            and _PLAIN_VARIABLE.fullmatch(_text(node))
            and not _SECRET_NAME.search(_text(node))
        ):
            return _text(node), False  # `echo $HOME`: a plain variable's value is only printed
        if kind in ("simple_expansion", "expansion", "arithmetic_expansion"):
            self.walk(node, depth + 1)
            self.opaque.append("$ expansion (value unknown before it runs)")
            return _text(node), True
        if kind == "command_substitution" and self.substituting:
            outer = self.printing, self.substituting
            try:
                self.walk(node, depth + 1)  # its commands are reported (and judged) themselves
            finally:
                self.printing, self.substituting = outer
            return _text(node), True
        if kind == "process_substitution" and _text(node).startswith("<("):
            # `diff <(sort a) <(sort b)`: bash runs the inner commands (reported and judged themselves,
            # their redirects too) with their output in a pipe, and the outer command gets the pipe's
            # name: it reads what they print, not a file the agent named
            saved = self.printing, self.substituting
            try:
                self.walk(node, depth + 1)
            finally:
                self.printing, self.substituting = saved
            return PROCESS_INPUT, False
        if kind in ("command_substitution", "process_substitution"):
            self.walk(node, depth + 1)
            what = "backtick" if _text(node).startswith("`") else kind.replace("_", " ")
            self.opaque.append(f"{what} output is only known when it runs")
            return _text(node), True
        self.walk(node, depth + 1)
        return _text(node), "$" in _text(node)

    def _string(self, node: Any, depth: int) -> tuple[str, bool]:
        out: list[str] = []
        dynamic = False
        for child in node.named_children:
            if child.type == "string_content":
                out.append(_DQ_ESCAPE.sub(lambda m: "" if m.group(1) == "\n" else m.group(1), _text(child)))
            else:
                value, is_dynamic = self.word(child, depth)
                out.append(value)
                dynamic = dynamic or is_dynamic
        return "".join(out).replace(IFS_SPLIT, _IFS_DEFAULT), dynamic  # quoted: IFS is its value

"""From split words to what runs and what is touched (pure, no I/O).

The tables below are data: which programs only wrap another command, which read or write the
files named in their arguments, and which run code they are given inline.
"""

from __future__ import annotations

import itertools
import re
from shlex import quote as shlex_quote
from typing import NamedTuple

from ..model import AccessMode, Command
from .split import REDIRECTS, split

# Wrappers Claude Code itself unwraps, plus `env` and `exec`: each maps to the number of
# option words that take a value (so `timeout -s KILL 5 cmd` unwraps to `cmd`).
WRAPPERS: dict[str, frozenset[str]] = {
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "time": frozenset({"-f", "--format", "-o", "--output"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "nohup": frozenset(),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "command": frozenset(),
    "builtin": frozenset(),
    "noglob": frozenset(),
    "exec": frozenset({"-a"}),
    "env": frozenset({"-u", "--unset", "-C", "--chdir"}),
}
_WRAPPER_POSITIONAL = {"timeout": 1}
BUILTIN_WRAPPERS = frozenset({"command", "builtin", "exec", "noglob"})
"""Shell builtins: a program of the same name given by path is not them."""
"""Wrappers with positional arguments before the command (timeout's duration)."""

# Programs that run another command or code Ramparts cannot see in this analyser.
OPAQUE_RUNNERS = frozenset(
    {
        "eval",
        "let",
        "source",
        ".",
        "xargs",
        "parallel",
        "watch",
        "script",
        "sh",
        "bash",
        "zsh",
        "dash",
        "ksh",
        "fish",
        "busybox",
        "flock",
        "chroot",
        "unshare",
        "setsid",
        "strace",
        "ltrace",
        "ionice",
        "su",
        "runuser",
    }
)
# Interpreters and the flags that hand them code inline: long flags as words, short ones as letters
# (so clusters like `python3 -Ic` and `perl -ne` are caught too).
INTERPRETERS: dict[str, tuple[frozenset[str], str]] = {
    "python": (frozenset(), "c"),
    "python3": (frozenset(), "c"),
    "python2": (frozenset(), "c"),
    "pypy": (frozenset(), "c"),
    "pypy3": (frozenset(), "c"),
    "perl": (frozenset(), "eE"),
    "ruby": (frozenset(), "e"),
    "node": (frozenset({"--eval", "--print"}), "ep"),
    "php": (frozenset(), "rR"),
    "deno": (frozenset({"eval"}), ""),
    "bun": (frozenset({"--eval"}), "e"),
    "lua": (frozenset(), "e"),
    "Rscript": (frozenset(), "e"),
    "osascript": (frozenset(), "e"),
}
FIND_RUNNERS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
# Options that take a separate value word, per reader (so the value is not taken for a file).
VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "grep": frozenset({"-e", "-f", "-m", "-A", "-B", "-C", "--regexp", "--file", "--max-count"}),
    "rg": frozenset({"-e", "-f", "-m", "-A", "-B", "-C", "-g", "-t", "-T", "--regexp", "--glob", "--type"}),
    "head": frozenset({"-n", "-c", "--lines", "--bytes"}),
    "tail": frozenset({"-n", "-c", "--lines", "--bytes"}),
    "sed": frozenset({"-e", "-f", "--expression", "--file"}),
    "awk": frozenset({"-f", "-v", "-F"}),
    "cut": frozenset({"-d", "-f", "-c", "-b"}),
    "sort": frozenset({"-t", "-k", "-o", "-S", "--output"}),
    "jq": frozenset({"--arg", "--argjson", "-f", "--from-file"}),
}
VALUE_OPTIONS["egrep"] = VALUE_OPTIONS["fgrep"] = VALUE_OPTIONS["grep"]
VALUE_OPTIONS["gawk"] = VALUE_OPTIONS["mawk"] = VALUE_OPTIONS["awk"]
# Options that give grep/sed/jq their pattern or script, so no positional argument is the pattern.
PATTERN_OPTIONS = ("-e", "-f", "--regexp", "--file", "--expression", "--from-file")
SHELL_KEYWORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "function",
        "select",
        "{",
        "}",
        "[[",
        "]]",
        "!",
        "coproc",
    }
)

# Readers: every non-option argument is a file read; the value is how many leading
# positional arguments are not files (grep's pattern, awk's and sed's script).
READERS: dict[str, int] = {
    "cat": 0,
    "tac": 0,
    "nl": 0,
    "less": 0,
    "more": 0,
    "most": 0,
    "head": 0,
    "tail": 0,
    "wc": 0,
    "strings": 0,
    "xxd": 0,
    "od": 0,
    "hexdump": 0,
    "hd": 0,
    "base64": 0,
    "base32": 0,
    "cut": 0,
    "sort": 0,
    "uniq": 0,
    "diff": 0,
    "cmp": 0,
    "comm": 0,
    "paste": 0,
    "join": 0,
    "fold": 0,
    "fmt": 0,
    "md5sum": 0,
    "sha1sum": 0,
    "sha256sum": 0,
    "sha512sum": 0,
    "cksum": 0,
    "file": 0,
    "stat": 0,
    "bat": 0,
    "batcat": 0,
    "view": 0,
    "vi": 0,
    "vim": 0,
    "nano": 0,
    "column": 0,
    "rev": 0,
    "expand": 0,
    "iconv": 0,
    "zcat": 0,
    "gzip": 0,
    "gunzip": 0,
    "bzcat": 0,
    "xzcat": 0,
    "zless": 0,
    "openssl": 0,
    "grep": 1,
    "egrep": 1,
    "fgrep": 1,
    "rg": 1,
    "ag": 1,
    "ack": 1,
    "awk": 1,
    "gawk": 1,
    "mawk": 1,
    "sed": 1,
    "jq": 1,
    "yq": 1,
}
# Writers: value says which positional arguments are written: "all", or "last" (the others are read).
WRITERS: dict[str, str] = {
    "tee": "all",
    "touch": "all",
    "rm": "all",
    "rmdir": "all",
    "truncate": "all",
    "shred": "all",
    "mkdir": "all",
    "chmod": "all",
    "chown": "all",
    "cp": "last",
    "mv": "last",
    "install": "last",
    "ln": "last",
    "rsync": "last",
    "scp": "last",
}
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "fish", "ash"})
MAX_DEPTH = 4
"""How deep ``bash -c '…'`` strings are analysed."""
SAFE_ASSIGNMENTS = frozenset(
    {
        "LANG",
        "LANGUAGE",
        "TZ",
        "NO_COLOR",
        "FORCE_COLOR",
        "CLICOLOR",
        "TERM",
        "COLUMNS",
        "LINES",
        "CI",
        "DEBUG",
        "VERBOSE",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "NODE_ENV",
        "RUST_BACKTRACE",
        "RUST_LOG",
    }
)
"""Variables whose assignment before a command cannot make it run something else."""
RECURSIVE_READERS = frozenset({"grep", "egrep", "fgrep", "diff", "zgrep"})
ALWAYS_RECURSIVE = frozenset({"rg", "ag", "ack"})
ARCHIVERS = frozenset({"tar", "zip", "7z", "cpio"})
FILE_OPTIONS = frozenset({"-f", "--file", "--from-file"})
PATTERN_FILE_READERS = frozenset({"grep", "egrep", "fgrep", "rg", "sed", "awk", "gawk", "mawk", "jq"})
GIT_GLOBAL_VALUE_OPTIONS = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--attr-source", "--config-env"}
)
_BRACE = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)


class FileWord(NamedTuple):
    """A word naming a file, still unresolved (relative, ``~``, glob)."""

    word: str
    mode: AccessMode
    via: str
    recursive: bool = False
    """Everything below the path is read (``grep -r``, ``cp -r``, ``tar c``)."""


class Analysis(NamedTuple):
    commands: tuple[Command, ...]
    files: tuple[FileWord, ...]
    opaque: tuple[str, ...]
    hosts: tuple[str, ...] = ()
    """Hosts the command will contact (curl/wget/nc/ssh/git/dig targets, /dev/tcp redirects)."""


def _unwrap(argv: list[str], opaque: list[str]) -> list[str]:
    """Strip leading assignments and known wrappers; return the argv that really runs.

    An assignment of anything but a harmless variable (``GIT_EXTERNAL_DIFF=…``, ``LD_PRELOAD=…``,
    ``PAGER=…``) can make an allowed program run something else, so it makes the command opaque.
    """
    for _ in range(16):
        assigned: list[str] = []
        while argv and _ASSIGNMENT.fullmatch(argv[0]):
            assigned.append(argv[0])
            argv = argv[1:]
        if not argv:
            return argv  # plain variable assignments run nothing
        for word in assigned:
            _note_assignment(word, opaque)
        name = argv[0].rsplit("/", 1)[-1]
        if name not in WRAPPERS or (name in BUILTIN_WRAPPERS and name != argv[0]):
            return argv  # `/path/to/command` is a program, not the `command` builtin
        takes_value = WRAPPERS[name]
        i = 1
        positional = _WRAPPER_POSITIONAL.get(name, 0)
        while i < len(argv):
            word = argv[i]
            if word == "--":
                i += 1
                break
            if name == "env" and (_ASSIGNMENT.fullmatch(word) or word == "-"):
                if word != "-" and i + 1 < len(argv):
                    _note_assignment(word, opaque)
                i += 1
                continue
            if word.startswith("-") and len(word) > 1:
                if name == "env" and (
                    word.startswith("--split-string") or (not word.startswith("--") and "S" in word[1:])
                ):
                    opaque.append("env -S splits a string into a command")
                i += 2 if word in takes_value else 1
                continue
            if positional:
                positional -= 1
                i += 1
                continue
            break
        argv = argv[i:]
    opaque.append("wrappers nested too deep")
    return argv


def _note_assignment(word: str, opaque: list[str]) -> None:
    name = word.split("=", 1)[0]
    if name not in SAFE_ASSIGNMENTS and not name.startswith("LC_"):
        opaque.append(f"sets {name} for the command it runs")


def _positionals(args: list[str], takes_value: frozenset[str] = frozenset()) -> list[str]:
    """Non-option words; the word after an option in ``takes_value`` is that option's value."""
    out: list[str] = []
    options_done = False
    skip_next = False
    for word in args:
        if skip_next:
            skip_next = False
            continue
        if not options_done and word == "--":
            options_done = True
            continue
        if not options_done and word.startswith("-") and len(word) > 1:
            skip_next = word in takes_value
            continue
        out.append(word)
    return out


def _target_directory(args: list[str]) -> str | None:
    """The directory of ``cp/mv/install/ln -t DIR`` or ``--target-directory=DIR``, if given."""
    for i, word in enumerate(args):
        if word == "-t" and i + 1 < len(args):
            return args[i + 1]
        if word.startswith("--target-directory="):
            return word.split("=", 1)[1]
        if word.startswith("-t") and len(word) > 2 and not word.startswith("--"):
            return word[2:]
    return None


def analyze(text: str, *, depth: int = 0) -> Analysis:
    """Analyse one shell command string (``bash -c`` strings inside it too, to a bounded depth)."""
    parsed = split(text)
    opaque = list(parsed.opaque)
    commands: list[Command] = []
    files: list[FileWord] = []
    hosts: list[str] = []
    fed = dict(parsed.stdin)
    for index, raw_argv in enumerate(parsed.commands):
        argv = _unwrap(list(raw_argv), opaque)
        while argv and argv[0] in SHELL_KEYWORDS:
            opaque.append(f"shell control structure {argv[0]!r}")
            argv = _unwrap(argv[1:], opaque)
        if not argv:
            continue
        name = argv[0].rsplit("/", 1)[-1]
        if index in fed and name in SHELLS and depth < MAX_DEPTH and "-c" not in argv:
            inner = analyze(fed[index], depth=depth + 1)  # a here-document fed to a shell is a script
            commands.extend(inner.commands)
            files.extend(inner.files)
            opaque.extend(inner.opaque)
            hosts.extend(inner.hosts)
            commands.append(Command(argv=(name, *argv[1:]), text=" ".join((name, *argv[1:]))))
            continue
        _simple_command(argv, commands, files, opaque, depth)
    for command in commands:
        hosts.extend(network_targets(command.argv, files, opaque))
    for redirect in parsed.redirects:
        dev = _DEV_NET.match(redirect.target)
        if dev:
            hosts.append(dev.group(1).lower())
        if redirect.op in (">&", "<&", ">>&") and (redirect.target.isdigit() or redirect.target == "-"):
            continue
        mode = REDIRECTS.get(redirect.op, "write")
        files.append(FileWord(redirect.target, "read" if mode == "read" else "write", "redirect"))
    return Analysis(tuple(commands), tuple(files), tuple(dict.fromkeys(opaque)), tuple(dict.fromkeys(hosts)))


def _expansions(words: list[str], opaque: list[str]) -> None:
    """Words bash would expand in ways this analyser does not reproduce."""
    for word in words:
        if _BRACE.search(word):
            opaque.append(f"brace expansion in {word[:60]!r}")
        if word.startswith("~") and not (word == "~" or word.startswith("~/")):
            opaque.append(f"tilde expansion {word.split('/', 1)[0]!r}")
        if "[[:" in word or "[[=" in word or "[[." in word or "[^" in word:
            opaque.append(f"character class in {word[:60]!r}")


def _simple_command(
    argv: list[str], commands: list[Command], files: list[FileWord], opaque: list[str], depth: int
) -> None:
    program = argv[0]
    name = program.rsplit("/", 1)[-1] if "/" in program else program
    if name == "git":
        argv = _git_argv(argv, files, opaque)
    words = (name, *argv[1:])
    commands.append(Command(argv=words, text=" ".join(words)))
    _expansions(argv, opaque)
    args = list(argv[1:])
    if any(ch in program for ch in "{}*?[]"):
        opaque.append(f"program name {program!r} is expanded by the shell")
    elif name in SHELLS and "-c" in args[:-1] and depth < MAX_DEPTH:
        inner = analyze(args[args.index("-c") + 1], depth=depth + 1)
        commands.extend(inner.commands)
        files.extend(inner.files)
        opaque.extend(inner.opaque)
        return
    elif name in ("eval", "xargs") and depth < MAX_DEPTH:
        opaque.append(f"{name!r} runs a command this analyser cannot see whole")
        rest = _positionals(args) if name == "xargs" else args
        if rest:
            # eval re-parses its words joined by spaces; xargs runs them as they are
            text = " ".join(rest) if name == "eval" else " ".join(shlex_quote(w) for w in rest)
            inner = analyze(text, depth=depth + 1)
            commands.extend(inner.commands)
            files.extend(inner.files)
            opaque.extend(inner.opaque)
        return
    elif name in OPAQUE_RUNNERS or name in SHELLS:
        opaque.append(f"{name!r} runs a command this analyser cannot see")
    elif name == "find" and any(w in FIND_RUNNERS for w in args):
        opaque.append("find -exec runs a command this analyser cannot see")
    elif name == "find" and any(w == "-delete" or w.startswith(("-fprint", "-fls")) for w in args):
        opaque.append("find deletes or writes files")
    else:
        _interpreter(name, argv, opaque, files)
    for word in args:  # `diff --from-file=.env`, `wc --files0-from=.env`: a long option's value may be a file
        if word.startswith("--") and "=" in word:
            value = word.split("=", 1)[1]
            if value and not value.startswith("-"):
                files.append(FileWord(value, "read", "argument"))
    if name == "dd":
        for word in args:
            if word.startswith("if="):
                files.append(FileWord(word[3:], "read", "argument"))
            elif word.startswith("of="):
                files.append(FileWord(word[3:], "write", "argument"))
    elif name in READERS:
        _reader(name, args, files)
    elif name in WRITERS:
        recursive = any(w in ("-r", "-R", "-a", "--recursive", "--archive") for w in args)
        positional = _positionals(args)
        target = _target_directory(args)
        if target is not None:
            files.extend(FileWord(w, "read", "argument", recursive) for w in positional if w != target)
            files.append(FileWord(target, "write", "argument"))
        elif WRITERS[name] == "last" and positional:
            files.extend(FileWord(w, "read", "argument", recursive) for w in positional[:-1])
            files.append(FileWord(positional[-1], "write", "argument"))
        else:
            files.extend(FileWord(w, "write", "argument") for w in positional)
    elif name in ARCHIVERS:
        files.extend(FileWord(w, "read", "argument", True) for w in _positionals(args))


_CODE_LITERAL = re.compile(r"""(['"])([^'"\n]{1,300})\1""")


def _interpreter(name: str, argv: list[str], opaque: list[str], files: list[FileWord]) -> None:
    interpreter = INTERPRETERS.get(name)
    if interpreter is None and re.fullmatch(r"python3(\.\d+)?", name):
        interpreter = INTERPRETERS["python3"]
    if interpreter is None:
        return
    long_flags, letters = interpreter
    inline = any(
        w in long_flags or (w[:1] == "-" and w[1:2] != "-" and any(c in letters for c in w[1:]))
        for w in argv[1:]
    )
    if inline:
        opaque.append(f"{name} runs inline code")
        # String literals in the code that look like paths count as reads, so a Read deny still
        # denies `python3 -c "print(open('.env').read())"` instead of only asking.
        # Words after the code are usually files the code reads (`perl -ne 'print' .env`).
        files.extend(FileWord(w, "read", "argument") for w in _positionals(argv[1:]) if "\n" not in w)
        for word in argv[1:]:
            for _quote, literal in _CODE_LITERAL.findall(word):
                if ("/" in literal or "." in literal or literal.startswith("~")) and " " not in literal:
                    files.append(FileWord(literal, "read", "argument"))
    elif len(argv) == 1 or argv[1] == "-":
        opaque.append(f"{name} reads code from stdin")


def _reader(name: str, args: list[str], files: list[FileWord]) -> None:
    skip = READERS[name]
    value_options = VALUE_OPTIONS.get(name, frozenset())
    if skip and any(
        w.startswith(PATTERN_OPTIONS) or (w[:1] == "-" and w[1:2] != "-" and ("e" in w[1:] or "f" in w[1:]))
        for w in args
    ):
        skip = 0  # the pattern comes from an option (also inside a cluster like -ie.), not a positional
    for i, word in enumerate(args[:-1]):  # pattern files: grep -f FILE, sed -f FILE, awk -f FILE
        if word in FILE_OPTIONS and name in PATTERN_FILE_READERS:
            files.append(FileWord(args[i + 1], "read", "argument"))
    in_place = name == "sed" and any(w.startswith(("-i", "--in-place")) for w in args)
    recursive = name in ALWAYS_RECURSIVE or (
        name in RECURSIVE_READERS
        and (
            any(
                w
                in (
                    "-r",
                    "-R",
                    "--recursive",
                    "--dereference-recursive",
                    "--directories=recurse",
                    "-drecurse",
                )
                or (w[:1] == "-" and w[1:2] != "-" and ("r" in w[1:] or "R" in w[1:]))
                for w in args
            )
            or any(a == "-d" and b == "recurse" for a, b in itertools.pairwise(args))
        )
    )
    positional = _positionals(args, value_options)[skip:]
    if recursive and not positional:
        positional = ["."]
    files.extend(FileWord(w, "write" if in_place else "read", "argument", recursive) for w in positional)


def _git_argv(argv: list[str], files: list[FileWord], opaque: list[str]) -> list[str]:
    """Drop git's global options (so rules see ``git push``), note what the subcommand reads or writes."""
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        word = argv[i]
        if word in ("-c", "--exec-path") or word.startswith(("--exec-path=", "--config-env")):
            opaque.append("git -c/--exec-path can make git run other programs")
        if word in GIT_GLOBAL_VALUE_OPTIONS:
            i += 2
        else:
            i += 1
    out = [argv[0], *argv[i:]]
    sub = out[1] if len(out) > 1 else ""
    args = out[2:]
    for j, word in enumerate(args):
        if word.startswith("--output="):
            files.append(FileWord(word.split("=", 1)[1], "write", "argument"))
        elif (
            word in ("--output", "-o")
            and sub in ("diff", "log", "show", "format-patch")
            and j + 1 < len(args)
        ):
            files.append(FileWord(args[j + 1], "write", "argument"))
    if sub in ("show", "cat-file", "diff", "log", "blame", "archive"):
        for word in _positionals(args):
            if ":" in word and not word.startswith(("http:", "https:", "ssh:", "git@")):
                files.append(FileWord(word.split(":", 1)[1] or ".", "read", "argument"))
    if sub == "diff":  # git switches to --no-index by itself for paths outside the work tree
        files.extend(FileWord(w, "read", "argument", "--no-index" in args) for w in _positionals(args))
    if sub == "grep":
        files.append(FileWord(".", "read", "argument", True))
    return out


# -- network targets ---------------------------------------------------------------------------------

_DEV_NET = re.compile(r"/dev/(?:tcp|udp)/([^/]+)/")
_URL_HOST = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/\s]*@)?(\[[^\]]+\]|[^:/?#\s]+)", re.IGNORECASE)
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_\-]{0,62})(?:\.[a-z0-9_\-]{1,63})*$", re.IGNORECASE
)
HTTP_CLIENTS = frozenset({"curl", "wget", "http", "https", "xh", "aria2c"})
RAW_CLIENTS = frozenset({"nc", "ncat", "netcat", "telnet", "openssl"})
REMOTE_SHELLS = frozenset({"ssh", "scp", "sftp", "rsync", "mosh"})
DNS_TOOLS = frozenset({"dig", "nslookup", "host", "drill", "ping", "ping6", "traceroute"})
SSH_VALUE_OPTIONS = frozenset(
    {
        "-p",
        "-P",
        "-i",
        "-l",
        "-o",
        "-F",
        "-J",
        "-L",
        "-R",
        "-D",
        "-b",
        "-c",
        "-e",
        "-m",
        "-O",
        "-Q",
        "-S",
        "-W",
        "-w",
        "-E",
        "-B",
        "--rsh",
        "--port",
    }
)
GIT_NETWORK = frozenset({"push", "fetch", "pull", "clone", "ls-remote", "remote", "submodule"})
# curl/wget options whose value is a file that is read and sent (`-d @.env`, `-T .env`, `--post-file=.env`)
_UPLOAD_VALUE = frozenset(
    {
        "-d",
        "--data",
        "--data-binary",
        "--data-raw",
        "--data-ascii",
        "--data-urlencode",
        "-F",
        "--form",
        "--form-string",
        "--json",
    }
)
_UPLOAD_FILE = frozenset(
    {"-T", "--upload-file", "-K", "--config", "--post-file", "--body-file", "-i", "--input-file"}
)


def _host_of(word: str) -> str:
    match = _URL_HOST.match(word)
    if not match:
        return ""
    host = match.group(1).strip("[]").lower()
    return host if host and (_HOSTNAME.match(host) or ":" in host) else ""


def network_targets(argv: tuple[str, ...], files: list[FileWord], opaque: list[str]) -> list[str]:
    """Hosts a simple command contacts; files it uploads are added to ``files`` as reads."""
    name, args = argv[0], list(argv[1:])
    hosts: list[str] = []
    if name in HTTP_CLIENTS:
        for i, word in enumerate(args):
            flag, eq, attached = word.partition("=")
            value = attached if eq else (args[i + 1] if i + 1 < len(args) else "")
            if flag in _UPLOAD_VALUE or (word[:2] in ("-d", "-F") and len(word) > 2 and not eq):
                data = value if (flag in _UPLOAD_VALUE) else word[2:]
                for part in (
                    data.split("@", 1)[1] if "@" in data else "",
                    data[1:] if data[:1] == "<" else "",
                ):
                    if part:
                        files.append(FileWord(part.split(";", 1)[0], "read", "argument"))
            elif flag in _UPLOAD_FILE and value:
                files.append(FileWord(value, "read", "argument"))
            if "://" in word or (not word.startswith("-") and "." in word.split("/", 1)[0]):
                host = _host_of(word)
                if host:
                    hosts.append(host)
    elif name in RAW_CLIENTS:
        positional = [w for w in _positionals(args) if not w.isdigit()]
        if positional:
            host = _host_of(positional[0].split(":", 1)[0])
            if host:
                hosts.append(host)
    elif name == "socat":
        for word in args:
            parts = word.split(":")
            if len(parts) >= 3 and parts[0].upper().startswith(("TCP", "UDP", "SSL", "OPENSSL")):
                hosts.append(parts[1].lower())
    elif name in REMOTE_SHELLS:
        for word in _positionals(args, SSH_VALUE_OPTIONS):
            if name == "ssh" or ":" in word:
                host = _host_of(word.split(":", 1)[0] if name != "ssh" else word)
                if host:
                    hosts.append(host)
                if name == "ssh":
                    break
    elif name == "git" and len(args) > 0 and args[0] in GIT_NETWORK:
        for word in _positionals(args[1:]):
            if "://" in word or ("@" in word and ":" in word):
                host = _host_of(word.split("@", 1)[-1] if "://" not in word else word)
                if host:
                    hosts.append(host)
    elif name in DNS_TOOLS:
        for word in _positionals(args):
            if "$(" in word or "`" in word or "$" in word:
                opaque.append(f"{name} looks up a computed name (DNS can carry data out)")
            elif "." in word and not word.startswith("@"):
                host = _host_of(word)
                if host:
                    hosts.append(host)
    return hosts

"""From split words to what runs and what is touched (pure, no I/O).

The tables below are data: which programs only wrap another command, which read or write the
files named in their arguments, and which run code they are given inline.
"""

from __future__ import annotations

import itertools

from .._lexical import quote as shlex_quote
from .._recache import compile as re_compile
from .._tuples import NamedTuple
from ..model import Command, InlineCode
from .readonly import SYSTEM_DIRS, is_read_only
from .readonly import TABLE as READ_ONLY_TABLE
from .split import REDIRECTS, split
from .unwrap import expand_long, options, unwrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

    from ..model import AccessMode

# Programs that run another command or code Ramparts cannot see in this analyser.
OPAQUE_RUNNERS = frozenset(
    {
        "eval",
        "let",
        "source",
        ".",
        "xargs",
        "parallel",
        "sh",
        "bash",
        "zsh",
        "dash",
        "ksh",
        "fish",
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
XARGS_VALUE_OPTIONS = options(
    "-a --arg-file -d --delimiter -E -e -I -L -l -n --max-args -P --max-procs -s --max-chars"
)
PARALLEL_VALUE_OPTIONS = options(
    "-a --arg-file -j --jobs -S --sshlogin --colsep -C -d --delimiter -E -I --results --joblog"
)
_SHELL_C_CLUSTER = frozenset("celuvx")
"""Letters a shell's ``-c`` may be clustered with (``bash -lc``, ``sh -ec``); the string is analysed, and
``-l``/``--login`` also makes the command opaque (a login shell first runs /etc/profile, ~/.profile)."""
_SHELL_QUIET = frozenset({"--norc", "--noprofile", "--posix", "--login"})
# Options that take a separate value word, per reader (so the value is not taken for a file).
VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "grep": options(
        "-e -f -m -A -B -C -d -D --regexp --file --max-count --after-context --before-context --context "
        "--label --binary-files --devices --directories --exclude --exclude-from --exclude-dir --include "
        "--group-separator"
    ),
    "rg": options(
        "-e -f -m -A -B -C -g -t -T -E -j -M -r -d --regexp --file --max-count --after-context "
        "--before-context --context --glob --iglob --type --type-not --type-add --type-clear --max-depth "
        "--maxdepth --max-filesize --threads --encoding --engine --replace --sort --sortr --colors --color "
        "--context-separator --field-match-separator --field-context-separator --path-separator --pre "
        "--pre-glob --ignore-file --max-columns --dfa-size-limit --regex-size-limit --generate "
        "--hyperlink-format"
    ),
    "head": frozenset({"-n", "-c", "--lines", "--bytes"}),
    "tail": frozenset({"-n", "-c", "--lines", "--bytes"}),
    "sed": frozenset({"-e", "-f", "--expression", "--file"}),
    "awk": frozenset({"-f", "-v", "-F"}),
    "cut": frozenset({"-d", "-f", "-c", "-b"}),
    "sort": frozenset({"-t", "-k", "-o", "-S", "--output"}),
    "jq": frozenset({"--arg", "--argjson", "-f", "--from-file"}),
    "unzip": frozenset({"-d", "-P"}),
}
VALUE_OPTIONS["egrep"] = VALUE_OPTIONS["fgrep"] = VALUE_OPTIONS["grep"]
VALUE_OPTIONS["gawk"] = VALUE_OPTIONS["mawk"] = VALUE_OPTIONS["nawk"] = VALUE_OPTIONS["awk"]
# Long options known to take no value, per reader whose first positional is a pattern: any other long
# option without `=` may take the next word, so the word taken for the pattern may be a file.
BOOLEAN_OPTIONS: dict[str, frozenset[str]] = {
    "grep": options(
        "--extended-regexp --fixed-strings --basic-regexp --perl-regexp --ignore-case --no-ignore-case "
        "--word-regexp --line-regexp --null-data --no-messages --invert-match --version --help "
        "--byte-offset --line-number --no-line-number --line-buffered --with-filename --no-filename "
        "--only-matching --quiet --silent --text --recursive --dereference-recursive "
        "--files-without-match --files-with-matches --count --initial-tab --null --binary "
        "--no-group-separator --color --colour"
    ),
    "rg": options(
        "--ignore-case --smart-case --case-sensitive --fixed-strings --word-regexp --line-regexp "
        "--invert-match --count --count-matches --files --files-with-matches --files-without-match "
        "--hidden --no-ignore --no-ignore-vcs --no-ignore-parent --no-ignore-dot --no-ignore-global "
        "--no-ignore-exclude --no-ignore-files --follow --line-number --no-line-number --column "
        "--no-filename --with-filename --heading --no-heading --json --vimgrep --only-matching "
        "--pretty --quiet --multiline --multiline-dotall --pcre2 --text --search-zip --null "
        "--null-data --unrestricted --stats --trim --byte-offset --crlf --debug --trace --version "
        "--help --passthru --no-messages --no-config --one-file-system --binary --sort-files"
    ),
}
BOOLEAN_OPTIONS["egrep"] = BOOLEAN_OPTIONS["fgrep"] = BOOLEAN_OPTIONS["zgrep"] = BOOLEAN_OPTIONS["grep"]
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
    "sha224sum": 0,
    "sha384sum": 0,
    "b2sum": 0,
    "sum": 0,
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
    "unexpand": 0,
    "man": 0,
    "zgrep": 1,
    "zegrep": 1,
    "zfgrep": 1,
    "lzcat": 0,
    "zstdcat": 0,
    "lz4cat": 0,
    "bzcat": 0,
    "xzcat": 0,
    "zless": 0,
    "openssl": 0,
    "unzip": 0,
    "zipinfo": 0,
    "df": 0,  # opens each file it is given (to find its file system)
    "journalctl": 0,  # a path is opened to match the executable's entries
    "grep": 1,
    "egrep": 1,
    "fgrep": 1,
    "rg": 1,
    "ag": 1,
    "ack": 1,
    "awk": 1,
    "gawk": 1,
    "mawk": 1,
    "nawk": 1,
    "sed": 1,
    "jq": 1,
    "yq": 1,
}
# Writers: value says which positional arguments are written: "all", or "last" (the others are read).
WRITERS: dict[str, str] = {
    "tee": "all",
    "sudoedit": "all",
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
SUBSCRIPT_BUILTINS = frozenset(
    {
        "test",
        "[",
        "printf",
        "read",
        "declare",
        "typeset",
        "local",
        "export",
        "unset",
        "mapfile",
        "readarray",
        "wait",
    }
)
MAX_DEPTH = 4
"""How deep ``bash -c '…'`` strings are analysed."""
RECURSIVE_READERS = frozenset({"grep", "egrep", "fgrep", "diff", "zgrep"})
ALWAYS_RECURSIVE = frozenset({"rg", "ag", "ack"})
CLOUD_CLIS = {"aws": "amazonaws.com", "az": "management.azure.com", "gcloud": "googleapis.com"}
API_CLIS = {
    "kubectl": "kubernetes.kubeconfig",
    "oc": "kubernetes.kubeconfig",
    "helm": "kubernetes.kubeconfig",
    "gh": "api.github.com",
    "docker": "docker.daemon",
    "podman": "docker.daemon",
    # package managers look for updates of themselves (npm's update notifier, pip's version check)
    "npm": "registry.npmjs.org",
    "npx": "registry.npmjs.org",
    "pnpm": "registry.npmjs.org",
    "yarn": "registry.npmjs.org",
    "pip": "pypi.org",
    "pip3": "pypi.org",
    "terraform": "checkpoint-api.hashicorp.com",  # its update check (and the state backend, if remote)
}
"""CLIs that talk to a server their configuration names (a cluster, a daemon, GitHub's API)."""
"""Cloud CLIs and the service they send their parameters (and the files those name) to."""
ARCHIVERS = frozenset({"zip", "7z", "7zz", "cpio"})
FILE_OPTIONS = frozenset({"-f", "--file", "--from-file"})
# Options whose value is a file the program reads (the separate-word form; `--opt=FILE` is caught for
# every program). Data, one entry per program.
OPTION_READS: dict[str, frozenset[str]] = {
    "date": frozenset({"-f", "--file"}),
    "find": frozenset({"-files0-from", "-newer", "-anewer", "-cnewer"}),
    "du": frozenset({"--files0-from", "-X", "--exclude-from"}),
    "wc": frozenset({"--files0-from"}),
    "sort": frozenset({"--files0-from", "-T"}),
    "tar": frozenset({"-T", "--files-from", "-X", "--exclude-from"}),
    "diff": frozenset({"--from-file", "--to-file", "-X", "--exclude-from"}),
    "jq": frozenset({"--rawfile", "--slurpfile"}),
    "grep": frozenset({"--exclude-from"}),
    "pip": frozenset({"--path", "-r", "--requirement", "-c", "--constraint"}),
    "kubectl": frozenset({"-f", "--filename", "-k", "--kustomize"}),
    "journalctl": frozenset({"--file", "-D", "--directory", "--root", "-i"}),
    "info": frozenset({"-f", "--file"}),
    "oc": frozenset({"-f", "--filename", "-k", "--kustomize"}),
    "helm": frozenset({"-f", "--values", "--set-file"}),
    "pip3": frozenset({"--path", "-r", "--requirement", "-c", "--constraint"}),
    "tree": frozenset({"--fromfile"}),
    "rsync": frozenset({"--files-from", "--exclude-from", "--include-from", "--password-file"}),
    "gpg": frozenset({"--passphrase-file"}),
    "ssh": frozenset({"-i", "-F"}),
    "curl": frozenset({"--cacert", "--cert", "--key", "-E"}),
}
_OPTION_READ_TAKES_NAME = frozenset({"--rawfile", "--slurpfile"})
"""jq's ``--rawfile NAME FILE``: the file is the second word."""
COMPRESSORS = frozenset(
    {"gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "lzma", "unlzma", "zstd", "unzstd", "lz4"}
)
_TO_STDOUT = frozenset({"-c", "--stdout", "--to-stdout", "-l", "--list", "-t", "--test"})
PATTERN_FILE_READERS = frozenset({"grep", "egrep", "fgrep", "rg", "sed", "awk", "gawk", "mawk", "nawk", "jq"})
GIT_TRACKED = "git-tracked"
PROJECT_CONFIG = "project-config:"
"""``via`` of a word naming the folder a package client runs in (``project-config:npm``): the adapter
looks there and above for the configuration files the client reads from a project."""
PROJECT_CONFIG_FILES: dict[str, tuple[str, ...]] = {
    "npm": (".npmrc",),
    "npx": (".npmrc",),
    "pnpm": (".npmrc", "pnpm-workspace.yaml"),
    "yarn": (".npmrc", ".yarnrc", ".yarnrc.yml"),
    "cargo": (".cargo/config.toml", ".cargo/config", "rust-toolchain", "rust-toolchain.toml"),
    "uv": ("uv.toml",),
    "poetry": ("poetry.toml",),
    "bundle": (".bundle/config",),
    # the JVM options and extensions Maven reads before anything else (`mvn --version` too)
    **dict.fromkeys(("mvn", "mvnd"), (".mvn/jvm.config", ".mvn/maven.config", ".mvn/extensions.xml")),
    # rustup's proxies run the toolchain a rust-toolchain file names (a `path` runs its binaries)
    **dict.fromkeys(
        (
            "rustc",
            "rustdoc",
            "rustup",
            "rustfmt",
            "cargo-fmt",
            "cargo-clippy",
            "clippy-driver",
            "rust-analyzer",
        ),
        ("rust-toolchain", "rust-toolchain.toml"),
    ),
}
"""Files a package client or toolchain reads from the folder it runs in and every folder above it,
which can send its lookups (and the credentials configured for them: ``//host/:_authToken=${NPM_TOKEN}``)
to another registry or proxy, or run the repository's code (``yarnPath``, ``-javaagent:``, a toolchain
``path``). A repository brings them: they are the repository's, not the user's."""
"""``via`` of a recursive read that only reaches tracked files git finds changed (``git diff`` with no
path: the working tree against the index); the adapter asks git for those names rather than listing
the folder, so an untracked ``.env`` beside them does not count, nor a tracked one left unchanged."""
GIT_ELSEWHERE = "git-elsewhere"
"""``via`` of the folder ``git -C DIR`` runs in: not a read, but the adapter must show DIR is in the same
repository as the folder the command starts in (same config), or the command is opaque."""
GIT_ELSEWHERE_REASON = "git -C/--git-dir/--work-tree works in a repository whose config can run programs"
GIT_HERE = "git-here"
"""``via`` of the folder a git command runs in without ``-C`` (``.``, moved by ``cd``/``env -C``): the
adapter lets it run in another existing folder only when that folder is in the same repository."""
GIT_GLOBAL_VALUE_OPTIONS = frozenset(
    {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--attr-source", "--config-env"}
)


class FileWord(NamedTuple):
    """A word naming a file, still unresolved (relative, ``~``, glob)."""

    word: str
    mode: AccessMode
    via: str
    recursive: bool = False
    """Everything below the path is read (``grep -r``, ``cp -r``, ``tar c``)."""


class GitPrint(NamedTuple):
    """A read-only git command that prints repository content (history, the index, blobs), which the
    adapter may run itself, hardened, to scan what it prints (``agents.claude_code.git_output``)."""

    args: tuple[str, ...]
    """The subcommand and its words, as written (git's global options not among them)."""
    flags: tuple[str, ...]
    """git's global options that change what it prints (``--literal-pathspecs``), kept for the run."""
    folder: str
    """Where it runs, as a word (``.``, a ``cd`` or ``-C`` target), still unresolved."""
    reason: str
    """The opaque reason it stands for: the engine drops it once the output was scanned."""


class Analysis(NamedTuple):
    commands: tuple[Command, ...]
    files: tuple[FileWord, ...]
    opaque: tuple[str, ...]
    hosts: tuple[str, ...] = ()
    """Hosts the command will contact (curl/wget/nc/ssh/git/dig targets, /dev/tcp redirects)."""
    code: tuple[InlineCode, ...] = ()
    """Code run inline by an interpreter (``python3 -c``, ``perl -e``, awk with ``system()``)."""
    prints: tuple[GitPrint, ...] = ()
    """git commands whose output the adapter may scan instead of asking (their reasons are in ``opaque``)."""


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


class _Acc:
    """What one level of analysis found."""

    __slots__ = ("code", "commands", "dirs", "files", "hosts", "opaque", "prints")

    def __init__(self, opaque: tuple[str, ...] = ()) -> None:
        self.commands: list[Command] = []
        self.files: list[FileWord] = []
        self.opaque: list[str] = list(opaque)
        self.hosts: list[str] = []
        self.code: list[InlineCode] = []
        self.dirs: list[str] = []
        """Directories a ``cd``/``pushd`` in the string may move to."""
        self.prints: list[GitPrint] = []

    def add(
        self,
        words: tuple[str, ...],
        *,
        wrapper: bool = False,
        program: str = "",
        kept: bool = False,
        as_written: tuple[str, ...] | None = None,
    ) -> None:
        local = program if "/" in program and not program.startswith(SYSTEM_DIRS) else ""
        read_only = not (wrapper or kept) and is_read_only(as_written or words, program)
        full = as_written if as_written is not None and as_written != words else ()
        self.commands.append(Command(words, " ".join(words), wrapper, local, read_only, full))
        self.hosts.extend(network_targets(words, self.files, self.opaque))

    def merge(self, inner: _Acc, *, files: bool = True) -> None:
        self.commands.extend(inner.commands)
        if files:
            self.files.extend(inner.files)
        self.opaque.extend(inner.opaque)
        self.hosts.extend(inner.hosts)
        self.code.extend(inner.code)
        if files:
            self.prints.extend(inner.prints)


def analyze(text: str, *, depth: int = 0) -> Analysis:
    """Analyse one shell command string (``bash -c`` strings inside it too, to a bounded depth)."""
    acc = _analyze(text, depth)
    return Analysis(
        tuple(acc.commands),
        tuple(acc.files),
        tuple(dict.fromkeys(acc.opaque)),
        tuple(dict.fromkeys(acc.hosts)),
        tuple(dict.fromkeys(acc.code)),
        tuple(dict.fromkeys(acc.prints)),
    )


def _analyze(text: str, depth: int) -> _Acc:
    parsed = split(text)
    acc = _Acc(parsed.opaque)
    fed = dict(parsed.stdin)
    for index, raw_argv in enumerate(parsed.commands):
        _run(list(raw_argv), acc, depth, fed.get(index))
    for redirect in parsed.redirects:
        dev = _DEV_NET.match(redirect.target)
        if dev:
            acc.hosts.append(dev.group(1).lower())
        if redirect.op in (">&", "<&", ">>&") and (redirect.target.isdigit() or redirect.target == "-"):
            continue
        mode = REDIRECTS.get(redirect.op, "write")
        acc.files.append(FileWord(redirect.target, "read" if mode == "read" else "write", "redirect"))
    if acc.dirs:
        _also_in(acc, acc.dirs)
    return acc


MAX_DIRS = 8
"""Directories a command string may ``cd`` into before it is opaque."""


def _also_in(acc: _Acc, dirs: list[str]) -> None:
    """A ``cd DIR`` anywhere in the string may run any of its commands in DIR (functions, loops and
    subshells make the order unknowable): every relative file word counts in each directory too."""
    places = list(dict.fromkeys(dirs))
    if len(places) > MAX_DIRS:
        acc.opaque.append(f"the command changes directory more than {MAX_DIRS} ways")
        return
    extra: list[FileWord] = []
    printed: list[GitPrint] = []
    for place in places:
        for found in acc.files:
            rest = _relative_part(found.word)
            if rest is not None:
                extra.append(found._replace(word=_join(place, rest)))
        for prints in acc.prints:
            rest = _relative_part(prints.folder)
            if rest is not None:
                printed.append(prints._replace(folder=_join(place, rest)))
    acc.files.extend(extra)
    acc.prints.extend(printed)
    acc.dirs = []


def _join(folder: str, word: str) -> str:
    return folder if word in ("", ".") else folder.rstrip("/") + "/" + word


_OWN_CWD = ("/proc/self/cwd", "/proc/thread-self/cwd")


def _relative_part(word: str) -> str | None:
    """The part of a file word below the directory the command runs in, or None for a word that does
    not depend on it. ``/proc/self/cwd/X`` is ``X`` in whatever folder the command has ``cd``-ed to."""
    if not word.startswith(("/", "~")):
        return word
    for prefix in _OWN_CWD:
        if word == prefix or word.startswith(prefix + "/"):
            return word[len(prefix) + 1 :] or "."
    return None


def _cd_target(name: str, args: list[str], acc: _Acc) -> None:
    """Where ``cd``/``pushd`` moves (``cd`` alone: home; ``cd -``: the previous folder, unknown)."""
    words = [w for w in args if not (w.startswith("-") and len(w) > 1 and w != "--")]
    words = [w for w in words if w != "--"]
    target = words[0] if words else "~"
    if name == "pushd" and target.startswith(("+", "-")):
        acc.opaque.append(f"pushd {target!r} rotates the directory stack")
    elif target == "-":
        acc.opaque.append("cd - returns to a folder only known when it runs")
    else:
        acc.dirs.append(target)


def _run(argv: list[str], acc: _Acc, depth: int, stdin: str | None) -> None:
    """One simple command as the parser found it: unwrap it, then analyse what really runs."""
    kept: list[tuple[str, ...]] = []
    remote = False
    written: list[str] = []
    chdir: list[str] = []
    while True:
        unwrapped = unwrap(argv, acc.opaque)
        kept.extend(unwrapped.kept)
        remote = remote or unwrapped.remote
        written.extend(unwrapped.written)
        chdir.extend(unwrapped.chdir)
        argv = unwrapped.argv
        if not argv or argv[0] not in SHELL_KEYWORDS:
            break
        acc.opaque.append(f"shell control structure {argv[0]!r}")
        argv = argv[1:]
    for words in kept:
        acc.add(words, kept=True)  # `sudo …`, `ssh host …`: the wrapper itself must be allowed too
    acc.files.extend(FileWord(w, "write", "argument") for w in written)
    if not argv:
        return
    if remote:  # `ssh host CMD`: rules see CMD, but its paths are on the other machine
        inner = _Acc()
        _command(argv, inner, depth, stdin)
        acc.merge(inner, files=False)
    elif chdir:  # `env -C DIR CMD`, `sudo -D DIR CMD`: CMD's relative paths are below DIR
        inner = _Acc()
        _command(argv, inner, depth, stdin)
        folder = chdir[0]
        for deeper in chdir[1:]:
            folder = deeper if deeper.startswith(("/", "~")) else _join(folder, deeper)
        inner.files = [
            f if (rest := _relative_part(f.word)) is None else f._replace(word=_join(folder, rest))
            for f in inner.files
        ]
        inner.dirs = [d if d.startswith(("/", "~")) else _join(folder, d) for d in inner.dirs]
        inner.prints = [
            p if (rest := _relative_part(p.folder)) is None else p._replace(folder=_join(folder, rest))
            for p in inner.prints
        ]
        acc.merge(inner)
        acc.dirs.extend(inner.dirs)
    else:
        _command(argv, acc, depth, stdin)


XARGS_METADATA = frozenset({"ls", "stat", "basename", "dirname", "realpath", "readlink", "echo"})
"""Programs that print names and metadata of the files they are given, never content, whatever words
are appended to them: none has an option that reads a list of names, a pattern or a format from a
file (so a word from stdin such as ``--files0-from=.env`` cannot make it print a file)."""
XARGS_METADATA_AFTER_DASHES = frozenset({"wc", "du"})
"""Programs that print only counts and sizes once every appended word is an operand (after ``--``):
before it, ``--files0-from=.env`` would make them print the file's lines in their error messages."""
_XARGS_FLAGS = frozenset("0prtxo")
_XARGS_VALUES = frozenset("adEILnPs")
_XARGS_OPTIONAL = frozenset("eil")  # `-e[EOF]`, `-i[R]`, `-l[N]`: a value only when attached
_XARGS_LONG_FLAGS = frozenset(
    {"--null", "--interactive", "--no-run-if-empty", "--verbose", "--exit", "--open-tty", "--show-limits"}
)
_XARGS_LONG_OPTIONAL = frozenset({"--eof", "--replace", "--max-lines"})
_XARGS_LONG_VALUES = frozenset(
    {"--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"}
)


def xargs_arg_files(args: list[str]) -> list[str]:
    """The files ``xargs -a FILE`` / ``--arg-file FILE`` reads its words from, in every spelling
    (``-aFILE``, ``-0a FILE``, ``--arg-file=FILE``); conservative: a word after any ``-…a`` cluster."""
    out: list[str] = []
    for i, word in enumerate(args):
        if word == "--" or not word.startswith("-"):
            break
        flag, eq, value = word.partition("=")
        if word.startswith("--"):
            if flag == "--arg-file" or (len(flag) > 4 and "--arg-file".startswith(flag)):
                out.extend([value] if eq else args[i + 1 : i + 2])
            continue
        at = word.find("a", 1)
        if at > 0:
            rest = word[at + 1 :]
            out.extend([rest] if rest else args[i + 1 : i + 2])
    return out


def xargs_blind_command(args: list[str]) -> list[str] | None:
    """The command ``xargs ARGS`` runs, when it is one that only prints names and metadata of the
    files stdin names (``xargs ls -la``, ``xargs -0 stat``, ``xargs wc -l --``); None otherwise.

    xargs' options are read strictly as GNU xargs reads them; an unknown or abbreviated option, a
    program given by path, or the replace string inside the program name gives None (opaque). The
    files ``-a`` names are reads of their own (:func:`xargs_arg_files`)."""
    i = 0
    replace = ""
    while i < len(args):
        word = args[i]
        if word == "--":
            i += 1
            break
        if not word.startswith("-") or word == "-":
            break
        if word.startswith("--"):
            flag, eq, value = word.partition("=")
            if flag in _XARGS_LONG_FLAGS and not eq:
                i += 1
            elif flag in _XARGS_LONG_OPTIONAL:
                if flag == "--replace":
                    replace = value if eq else "{}"
                i += 1
            elif flag in _XARGS_LONG_VALUES:
                i += 1 if eq else 2
            else:
                return None
            continue
        step = 1
        for j, ch in enumerate(word[1:], start=1):
            rest = word[j + 1 :]
            if ch in _XARGS_FLAGS:
                continue
            if ch in _XARGS_VALUES:
                value = rest if rest else (args[i + 1] if i + 1 < len(args) else "")
                step = 1 if rest else 2
                if ch == "I":
                    replace = value
                break
            if ch in _XARGS_OPTIONAL:
                if ch == "i":
                    replace = rest or "{}"
                break
            return None
        i += step
    command = args[i:] or ["echo"]
    if i > len(args) or "/" in command[0] or (replace and replace in command[0]):
        return None
    if command[0] in XARGS_METADATA:
        return command
    if command[0] in XARGS_METADATA_AFTER_DASHES and "--" in command:
        dashes = command.index("--")
        if not replace or all(replace not in w for w in command[: dashes + 1]):
            return command
    return None


def _expansions(words: list[str], opaque: list[str]) -> None:
    """Words bash would expand in ways this analyser does not reproduce."""
    for word in words:  # brace expansion is found by the parser, which knows what was quoted
        if word.startswith("~") and not (word == "~" or word.startswith("~/")):
            opaque.append(f"tilde expansion {word.split('/', 1)[0]!r}")
        if "[[:" in word or "[[=" in word or "[[." in word or "[^" in word:
            opaque.append(f"character class in {word[:60]!r}")


def _shell_string(args: list[str]) -> str | None:
    """The string of ``sh -c STRING`` (also ``bash -lc``, ``sh -ec``), or None."""
    skip = False
    for i, word in enumerate(args[:-1]):
        if skip:
            skip = False
        elif word[:1] == "-" and word[1:2] != "-" and "c" in word and set(word[1:]) <= _SHELL_C_CLUSTER:
            return args[i + 1]
        elif word in ("-o", "+o"):
            skip = True  # `bash -o pipefail -c …`
        elif not (word in _SHELL_QUIET or (word[:1] in "-+" and set(word[1:]) <= _SHELL_C_CLUSTER)):
            return None  # a script file, or an option that makes it read more (`-i` reads ~/.bashrc)
    return None


def _command(argv: list[str], acc: _Acc, depth: int, stdin: str | None) -> None:
    program = argv[0]
    name = program.rsplit("/", 1)[-1] if "/" in program else program
    as_written = (name, *argv[1:])
    if name == "git":
        argv = _git_argv(argv, acc)
    words = (name, *argv[1:])
    args = spelt_out(name, list(argv[1:]))
    argv = [argv[0], *args]
    nested = depth < MAX_DEPTH
    string = _shell_string(args) if name in SHELLS and nested else None
    script = stdin if name in SHELLS and nested and string is None and not _positionals(args) else None
    blind = xargs_blind_command(args) if name == "xargs" and nested else None
    # A shell given a string or a here-document only runs the commands inside, which are listed
    # after it: allow rules need not cover the shell itself (deny and ask rules still see it). The
    # same holds for xargs running a command that prints no file content (below).
    acc.add(
        words,
        wrapper=string is not None or script is not None or blind is not None,
        program=program,
        as_written=as_written,
    )
    _expansions(argv, acc.opaque)
    if name in PROJECT_CONFIG_FILES or name == "git":  # git: the repository's own configuration
        acc.files.append(FileWord(".", "read", PROJECT_CONFIG + name))
    if string is not None and any(
        w == "--login" or (w[:1] == "-" and w[1:2] != "-" and "l" in w) for w in args[: args.index(string)]
    ):
        acc.opaque.append(f"{name} -l runs the login profile scripts before the command")
    if any(ch in program for ch in "{}*?[]"):
        acc.opaque.append(f"program name {program!r} is expanded by the shell")
    elif string is not None or script is not None:
        acc.merge(_analyze(string if string is not None else str(script), depth + 1))
        return
    elif blind is not None:
        # the words xargs reads are file names only known when it runs; the command prints names
        # and metadata, never what the files hold, so which files they are does not matter here
        acc.merge(_analyze(" ".join(shlex_quote(w) for w in blind), depth + 1))
        acc.files.extend(FileWord(w, "read", "argument") for w in xargs_arg_files(args))
        return
    elif name in ("eval", "xargs", "parallel") and nested:
        acc.opaque.append(f"{name!r} runs a command this analyser cannot see whole")
        if name == "eval":
            text = " ".join(args)  # eval re-parses its words joined by spaces
        else:
            rest = _after_options(args, XARGS_VALUE_OPTIONS if name == "xargs" else PARALLEL_VALUE_OPTIONS)
            if name == "parallel":
                rest = list(itertools.takewhile(lambda w: not w.startswith(":::"), rest))
            text = " ".join(rest) if name == "parallel" else " ".join(shlex_quote(w) for w in rest)
            _file_options(args, ("-a", "--arg-file"), acc.files)
            if name == "xargs":
                acc.files.extend(FileWord(w, "read", "argument") for w in xargs_arg_files(args))
        if text.strip():
            acc.merge(_analyze(text, depth + 1))
        return
    elif (
        name in SUBSCRIPT_BUILTINS
        and any("[" in w for w in args)
        and ("-v" in args or name not in ("test", "[", "printf"))
    ):
        # `test -v 'a[$(cmd)]'`, `printf -v 'a[$(cmd)]'`: bash evaluates the subscript, running cmd
        acc.opaque.append(f"{name} evaluates a variable subscript (it can run commands)")
    elif name in OPAQUE_RUNNERS or name in SHELLS:
        acc.opaque.append(f"{name!r} runs a command this analyser cannot see")
    elif name == "find":
        _find(args, acc, depth)
    elif name in ("cd", "pushd"):
        _cd_target(name, args, acc)
    else:
        _inline_code(name, argv, acc, stdin)
    for word in args:  # `diff --from-file=.env`, `wc --files0-from=.env`: a long option's value may be a file
        if word.startswith("--") and "=" in word:
            value = word.split("=", 1)[1]
            if value and not value.startswith("-"):
                acc.files.append(FileWord(value, "read", "argument"))
    files = acc.files
    _option_reads(name, args, files)
    if name == "dd":
        for word in args:
            if word.startswith("if="):
                files.append(FileWord(word[3:], "read", "argument"))
            elif word.startswith("of="):
                files.append(FileWord(word[3:], "write", "argument"))
    elif name in COMPRESSORS:
        # in place unless told to write to stdout, list or test: `gzip f` replaces f with f.gz
        to_stdout = any(
            w in _TO_STDOUT or (w[:1] == "-" and w[1:2] not in ("-", "S") and set(w[1:]) & set("clt"))
            for w in args
        )
        mode: AccessMode = "read" if to_stdout else "write"
        files.extend(FileWord(w, mode, "argument") for w in _positionals(args, frozenset({"-S", "--suffix"})))
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
    elif name in CLOUD_CLIS:
        for (
            word
        ) in args:  # `aws … --cli-input-json file://x`, `az … --body @x`: a local file is read and sent
            value = word.partition("=")[2] if word.startswith("--") and "=" in word else word
            for prefix in ("file://", "fileb://", "@"):
                if value.startswith(prefix) and len(value) > len(prefix):
                    files.append(FileWord(value[len(prefix) :], "read", "argument"))
    elif name in ("tar", "bsdtar", "gtar"):
        _tar(args, files)
    elif name == "terraform":  # `terraform show PLAN`, `-state=FILE`, `-var-file=FILE` read files
        for word in args:
            flag, eq, value = word.partition("=")
            if flag == "-chdir":
                acc.opaque.append("terraform -chdir runs in another folder")
            elif eq and flag in ("-state", "-var-file", "-backup", "-state-out", "-plan"):
                files.append(FileWord(value, "read", "argument"))
        files.extend(FileWord(w, "read", "argument") for w in _positionals(args)[1:])
    elif name in ARCHIVERS:
        files.extend(FileWord(w, "read", "argument", True) for w in _positionals(args))


_TAR_CREATE = frozenset("cruA")
_TAR_LONG_MODES = {
    "--create": "c",
    "--append": "r",
    "--update": "u",
    "--concatenate": "A",
    "--catenate": "A",
    "--list": "t",
    "--extract": "x",
    "--get": "x",
    "--diff": "d",
    "--compare": "d",
    "--delete": "r",
}
_TAR_VALUE_LETTERS = frozenset("fCbFgHIKLNTVX")
"""Short tar options that take the next word (in a cluster, the next unused word) as their value."""


def _tar(args: list[str], files: list[FileWord]) -> None:
    """tar: creating reads every path below its arguments and writes the archive; listing and
    extracting read the archive, and extracting writes below the target folder."""
    mode = ""
    archive: str | None = None
    target = "."
    positional: list[str] = []
    pending: list[str] = []  # letters of a cluster still waiting for their value word
    for i, word in enumerate(args):
        if pending:
            letter = pending.pop(0)
            if letter == "f":
                archive = word
            elif letter == "C":
                target = word
            continue
        flag, eq, value = word.partition("=")
        if word.startswith("--"):
            mode = _TAR_LONG_MODES.get(flag, mode)
            if flag == "--file":
                archive = value if eq else None
                if not eq:
                    pending.append("f")
            elif flag == "--directory":
                target = value if eq else target
                if not eq:
                    pending.append("C")
            continue
        cluster = word[1:] if word.startswith("-") else (word if i == 0 else "")
        if not cluster:
            positional.append(word)
            continue
        for k, letter in enumerate(cluster):
            if letter in "ctxrudA" and not mode:
                mode = letter
            if letter in _TAR_VALUE_LETTERS:
                attached = cluster[k + 1 :] if word.startswith("-") else ""
                if attached:  # `-fARCHIVE`
                    archive = attached if letter == "f" else archive
                    target = attached if letter == "C" else target
                    break
                pending.append(letter)
    if mode in _TAR_CREATE:  # `tar -C DIR -c x`: the members are read below DIR
        files.extend(
            FileWord(
                w if target == "." or w.startswith(("/", "~")) else _join(target, w), "read", "argument", True
            )
            for w in positional
        )
        if archive not in (None, "-"):
            files.append(FileWord(str(archive), "write", "argument"))
        return
    if archive not in (None, "-"):
        files.append(FileWord(str(archive), "read", "argument"))
    if mode == "x":
        files.append(FileWord(target, "write", "argument", True))


def _option_reads(name: str, args: list[str], files: list[FileWord]) -> None:
    """Files named by an option's separate value word (``date -f .env``, ``tar -T list``)."""
    table = OPTION_READS.get(name)
    if not table:
        return
    for i, word in enumerate(args):
        if word in table:
            at = i + 2 if word in _OPTION_READ_TAKES_NAME else i + 1
            if at < len(args):
                files.append(FileWord(args[at], "read", "argument"))
        elif word[:2] in table and len(word) > 2 and word[1:2] != "-":
            files.append(FileWord(word[2:], "read", "argument"))  # `-fFILE`


def _after_options(args: list[str], takes_value: frozenset[str]) -> list[str]:
    """The words from the first one that is not an option (or an option's value) on."""
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return args[i + 1 :]
        if not word.startswith("-") or len(word) == 1:
            return args[i:]
        i += 2 if word in takes_value else 1
    return []


def _file_options(args: list[str], options: tuple[str, ...], files: list[FileWord]) -> None:
    """Reads named by ``OPT FILE`` or ``OPT=FILE``."""
    for i, word in enumerate(args):
        if word in options and i + 1 < len(args):
            files.append(FileWord(args[i + 1], "read", "argument"))


_FOUND = "\x01"
"""Stands for the ``{}`` of ``find -exec`` while the command it runs is analysed."""


def _find(args: list[str], acc: _Acc, depth: int) -> None:
    """``find ROOT… -exec CMD {} ;``: CMD runs on every file below the roots."""
    i = 0
    while i < len(args) and (args[i] in ("-H", "-L", "-P") or args[i].startswith(("-O", "-D"))):
        i += 2 if args[i] == "-D" else 1
    roots = list(itertools.takewhile(lambda w: not w.startswith(("-", "(", "!", ")")), args[i:])) or ["."]
    if any(w == "-delete" or w.startswith(("-fprint", "-fls")) for w in args):
        acc.opaque.append("find deletes or writes files")
    j = i + len(roots)
    while j < len(args):
        if args[j] not in FIND_RUNNERS:
            j += 1
            continue
        end = j + 1
        while end < len(args) and args[end] not in (";", "+"):
            end += 1
        inner_argv = [w.replace("{}", _FOUND) for w in args[j + 1 : end]]
        in_found_dir = args[j] in ("-execdir", "-okdir")
        j = end + 1
        if end >= len(args) or not inner_argv:
            acc.opaque.append("find -exec without a complete command")
            continue
        if _FOUND in inner_argv[0]:
            acc.opaque.append("find -exec runs the files it finds")
            continue
        if depth >= MAX_DEPTH:
            acc.opaque.append("find -exec nested too deep")
            continue
        inner = _Acc()
        _run(inner_argv, inner, depth + 1, None)
        inner.commands = [
            c._replace(argv=tuple(w.replace(_FOUND, "{}") for w in c.argv), text=c.text.replace(_FOUND, "{}"))
            for c in inner.commands
        ]
        found = [f for f in inner.files if _FOUND in f.word]
        inner.files = [f for f in inner.files if _FOUND not in f.word]
        if in_found_dir:  # -execdir runs CMD in each found file's folder: a relative path is below a root
            relative = [f for f in inner.files if not f.word.startswith(("/", "~"))]
            inner.files = [f for f in inner.files if f.word.startswith(("/", "~"))]
            found.extend(relative)
            if any(f.mode == "write" for f in relative):
                acc.opaque.append("find -execdir writes a relative path in every folder it visits")
        for access in found:  # `{}` is every file below the roots
            inner.files.extend(FileWord(root, access.mode, access.via, True) for root in roots)
        acc.merge(inner)


def _lazy(pattern: str) -> Callable[[], re.Pattern[str]]:
    """A pattern compiled on its first use. These serve only some commands (sed, awk, inline code,
    network clients), and the hook is a fresh process per event: compiling them at import cost every
    event about 2 ms (the case-insensitive hostname pattern alone over 1 ms)."""
    cell: list[re.Pattern[str]] = []

    def get() -> re.Pattern[str]:
        if not cell:
            cell.append(re_compile(pattern))
        return cell[0]

    return get


_CODE_LITERAL = _lazy(r"""(['"])([^'"\n]{1,300})\1""")
_SED_FILE = _lazy(r"(?:^|[;{}\n\d$/])\s*[rR]\s*([^\s;}]+)")
# awk programs that run commands or write files: system(), `print | "cmd"`, `"cmd" | getline`, `|&`,
# `print > "file"`; gawk's @load/@include pull in code from files.
# An awk program is code with effects when it can run a command, write a file or read one it names:
# system(), getline, any pipe (not `||`), ENVIRON, @load/@include, or print with a `>` anywhere
# (parsing awk's strings to tell `print "a;" > f` from a comparison is not worth a miss).
_AWK_EFFECTS = _lazy(r"system|getline|(?<!\|)\|(?!\|)|ENVIRON|@load|@include|\bprintf?\b[\s\S]*>")
# GNU sed commands that run a command or touch a file other than its input: `e`, `w`/`W`, `r`/`R`,
# and the `e`/`w` flags of `s///`.
_SED_ADDRESS = r"(?:\d+|\$|/(?:\\.|[^/\n])*/[IM]*|\\[^\n]+?)(?:~\d+)?"
_SED_EFFECTS = _lazy(  # (?s): DOTALL
    rf"(?s)(?:^|[;{{}}\n])\s*(?:{_SED_ADDRESS}\s*(?:,\s*(?:{_SED_ADDRESS}|[+~]\d+))?)?\s*!?\s*[eEwWrRF]"
    r"|s(?P<d>.)(?:\\.|(?!(?P=d)).)*(?P=d)(?:\\.|(?!(?P=d)).)*(?P=d)[gpiImMe0-9]*[ew]",
)
_PYTHON_VERSIONED = _lazy(r"python3(\.\d+)?")
_INDEX_STAGE = _lazy(r"[0-3]:")  # git's `:N:path`


def _inline_code(name: str, argv: list[str], acc: _Acc, stdin: str | None) -> None:
    """Code handed to an interpreter on its command line or in a here-document: its own kind of action."""
    if name in ("awk", "gawk", "mawk", "nawk", "sed"):
        program = _script_argument(argv[1:], VALUE_OPTIONS.get(name, frozenset()))
        pattern = _SED_EFFECTS() if name == "sed" else _AWK_EFFECTS()
        if program is None and any(
            w in ("-f", "--file", "-W") or w.startswith(("--file=", "-W")) for w in argv[1:]
        ):
            acc.opaque.append(f"{name} runs a program from a file")
        elif program is not None and pattern.search(program):
            acc.code.append(InlineCode(name, program))
            _literal_reads(program, acc)
        return
    interpreter = INTERPRETERS.get(name)
    if interpreter is None and _PYTHON_VERSIONED().fullmatch(name):
        interpreter = INTERPRETERS["python3"]
    if interpreter is None:
        return
    code = _code_argument(argv[1:], *interpreter)
    if code is not None:
        # Words after the code are usually files the code reads (`perl -ne 'print' .env`).
        acc.files.extend(FileWord(w, "read", "argument") for w in _positionals(argv[1:]) if w != code)
    elif len(argv) == 1 or argv[1] == "-":
        if stdin is None:
            acc.opaque.append(f"{name} reads code from stdin")
            return
        code = stdin  # `python3 - <<EOF`: the here-document is the program
    else:
        return
    acc.code.append(InlineCode(name, code))
    _literal_reads(code, acc)


def _literal_reads(code: str, acc: _Acc) -> None:
    """String literals in code that look like paths count as reads, so a Read deny still denies
    `python3 -c "print(open('.env').read())"` instead of only asking (and sed's `r .env`)."""
    for _quote, literal in _CODE_LITERAL().findall(code):
        if ("/" in literal or "." in literal or literal.startswith("~")) and " " not in literal:
            acc.files.append(FileWord(literal, "read", "argument"))
    for match in _SED_FILE().finditer(code):
        acc.files.append(FileWord(match.group(1), "read", "argument"))


def _code_argument(args: list[str], long_flags: frozenset[str], letters: str) -> str | None:
    """The code given with ``-c``/``-e``/``--eval`` (also in a cluster like ``-Ic`` or ``-ne``)."""
    for i, word in enumerate(args):
        following = args[i + 1] if i + 1 < len(args) else ""
        flag, eq, attached = word.partition("=")
        if flag in long_flags:
            return attached if eq else following
        if word[:1] == "-" and word[1:2] != "-":
            for k, letter in enumerate(word[1:], 2):
                if letter in letters:
                    return word[k:] or following
    return None


def _script_argument(args: list[str], takes_value: frozenset[str]) -> str | None:
    """sed's or awk's program: every ``-e``/``--expression``/``--source`` value (also ``-eSCRIPT`` and
    ``--expression=SCRIPT``) joined by newlines, else the first positional word."""
    scripts = []
    for i, word in enumerate(args):
        flag, eq, value = word.partition("=")
        if flag in ("--expression", "--source") or word == "-e":
            scripts.append(value if eq else (args[i + 1] if i + 1 < len(args) else ""))
        elif word.startswith("-e") and len(word) > 2 and not word.startswith("--"):
            scripts.append(word[2:])
    if scripts:
        return "\n".join(scripts)
    if any(w in ("-f", "--file") or w.startswith("--file=") for w in args):
        return None
    positional = _positionals(args, takes_value)
    return positional[0] if positional else None


def long_names(name: str) -> frozenset[str]:
    """The long options Ramparts knows for a program (their abbreviations are spelt out)."""
    names = (
        VALUE_OPTIONS.get(name, frozenset())
        | BOOLEAN_OPTIONS.get(name, frozenset())
        | OPTION_READS.get(name, frozenset())
        | frozenset(PATTERN_OPTIONS)
        | FILE_OPTIONS
        | _TO_STDOUT
        | frozenset({"--recursive", "--dereference-recursive", "--target-directory", "--in-place", "--null"})
        | frozenset({"--output", "--no-index", "--ext-diff", "--textconv", "--add-file", "--directory"})
        | frozenset(_TAR_LONG_MODES)
    )
    spec = READ_ONLY_TABLE.get(name)
    if spec is not None:
        names |= spec.deny | spec.values | spec.need
    if name in HTTP_CLIENTS:
        names |= _UPLOAD_VALUE | _UPLOAD_FILE
    return frozenset(n for n in names if n.startswith("--"))


def spelt_out(name: str, args: list[str]) -> list[str]:
    """``args`` with every abbreviated long option spelt out (getopt_long takes any unique prefix:
    ``grep --reg=x`` is ``grep --regexp=x``), up to ``--``."""
    if not any(w.startswith("--") and len(w) > 2 for w in args):
        return args
    names = long_names(name)
    out: list[str] = []
    for i, word in enumerate(args):
        if word == "--":
            return [*out, *args[i:]]
        out.append(expand_long(word, names))
    return out


def _reader(name: str, args: list[str], files: list[FileWord]) -> None:
    skip = READERS[name]
    value_options = VALUE_OPTIONS.get(name, frozenset())
    known = value_options | BOOLEAN_OPTIONS.get(name, frozenset()) | OPTION_READS.get(name, frozenset())
    if skip and any(
        w.startswith("--") and "=" not in w and w not in known and w not in PATTERN_OPTIONS
        for w in itertools.takewhile(lambda w: w != "--", args)
    ):
        skip = 0  # an option Ramparts does not know may take the next word: the "pattern" may be a file
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


GIT_PRINT_FLAGS = frozenset(
    {
        "--no-replace-objects",
        "--literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
    }
)
"""git's global options that change what a printing command prints: kept when the adapter runs it."""
_GIT_QUIET_FLAGS = frozenset({"--no-pager", "-P", "-p", "--paginate", "--no-optional-locks", "--no-advice"})
"""git's global options that change nothing printed (no pager runs without a terminal)."""
GIT_SAFE_CONFIG = frozenset(
    {
        "core.quotepath", "core.abbrev", "core.editor", "user.name", "user.email",
        "color.ui", "color.diff", "color.status", "color.branch", "color.grep", "color.decorate",
        "color.showbranch", "color.interactive", "color.pager", "color.advice", "column.ui",
        "log.date", "log.decorate", "log.abbrevcommit", "log.follow", "log.mailmap", "log.graphcolors",
        "log.excludedecoration", "log.initialdecorationset", "diff.renames",
        "diff.renamelimit", "diff.algorithm", "diff.indentheuristic", "diff.colormoved", "diff.context",
        "diff.interhunkcontext", "diff.mnemonicprefix", "diff.noprefix", "diff.relative", "diff.statgraphwidth",
        "diff.suppressblankempty", "diff.wserrorhighlight", "diff.dirstat", "status.short", "status.branch",
        "status.showuntrackedfiles", "status.relativepaths", "advice.detachedhead", "init.defaultbranch",
        "i18n.logoutputencoding", "grep.linenumber", "grep.extendedregexp", "grep.patterntype", "blame.date", "blame.showemail",
        "merge.conflictstyle",
    }
)  # fmt: skip
"""``git -c KEY=VALUE`` keys that only change how git shows things or fill in a name: no program, path,
remote, hook or alias. ``core.editor`` names a program, so it counts only for a command the read-only
table proves read-only (which never opens an editor)."""
_GIT_PROGRAM_KEYS = frozenset({"core.editor"})


def _git_config_problem(value: str, read_only: bool) -> str:
    """Why ``git -c VALUE`` may make git run another program or work elsewhere ('' when it cannot)."""
    key = value.partition("=")[0].lower()
    if key not in GIT_SAFE_CONFIG or (key in _GIT_PROGRAM_KEYS and not read_only):
        return "git -c/--exec-path can make git run other programs"
    return ""


def _git_argv(argv: list[str], acc: _Acc) -> list[str]:
    """Drop git's global options (so rules see ``git push``), note what the subcommand reads or writes.

    ``-C DIR`` moves its relative paths below DIR, and DIR must be a folder of the same repository
    (the adapter checks: GIT_ELSEWHERE), since another repository's config runs programs. ``-c KEY=VALUE`` is opaque unless the key only changes how git shows things
    (GIT_SAFE_CONFIG)."""
    files, opaque = acc.files, acc.opaque
    first_file = len(files)
    folder = "."
    configs: list[str] = []
    kept: list[str] = []
    other = False  # a global option the adapter's own run cannot reproduce
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        word = argv[i]
        value = argv[i + 1] if i + 1 < len(argv) else ""
        if word == "-c":
            configs.append(value)
        elif word == "-C":
            # another repository's config runs programs (core.fsmonitor, gpg.program): the adapter
            # lets it through only for a folder of the same repository (GIT_ELSEWHERE); its paths
            # are below DIR, so rules that deny see them there
            folder = value if value.startswith(("/", "~")) or not value else _join(folder, value)
            folder = folder or "."
        elif word == "--exec-path" or word.startswith(("--exec-path=", "--config-env")):
            opaque.append("git -c/--exec-path can make git run other programs")
            other = True
        elif word in ("--git-dir", "--work-tree") or word.startswith(("--git-dir=", "--work-tree=")):
            # that repository's config (core.fsmonitor, diff.external, a pager) runs programs
            opaque.append(GIT_ELSEWHERE_REASON)
            other = True
        elif word in GIT_PRINT_FLAGS:
            kept.append(word)
        elif word not in _GIT_QUIET_FLAGS:
            other = True
        if word in GIT_GLOBAL_VALUE_OPTIONS:
            i += 2
        else:
            i += 1
    out = [argv[0], *argv[i:]]
    sub = out[1] if len(out) > 1 else ""
    args = out[2:]
    if configs:
        read_only = is_read_only(("git", *out[1:]))
        problems = [why for why in (_git_config_problem(c, read_only) for c in configs) if why]
        opaque.extend(problems)
        other = other or bool(problems)
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
                path = word.split(":", 1)[1]
                if word.startswith(":") and _INDEX_STAGE().match(path):
                    path = path[2:]  # `:0:path`, the index's stage 0
                files.append(FileWord(path or ".", "read", "argument"))
    if sub == "diff":  # git switches to --no-index by itself for paths outside the work tree
        paths = _positionals(args)
        files.extend(FileWord(w, "read", "argument", True) for w in paths)
        if not paths and "--no-index" not in args and not _no_patch(args):  # every changed tracked file
            files.append(FileWord(".", "read", GIT_TRACKED, True))
    if sub in ("log", "show", "blame", "annotate", "diff-tree", "whatchanged", "shortlog") and "--" in args:
        # `git log -p -- .env` prints the history of .env's content
        files.extend(FileWord(w, "read", "argument") for w in args[args.index("--") + 1 :])
    elif sub in ("blame", "annotate"):
        named = _positionals(args)
        if named:
            files.append(FileWord(named[-1], "read", "argument"))  # `git blame .env`
    if any(w in ("--ext-diff", "--textconv") for w in args):
        opaque.append(f"git {sub} runs the external diff or textconv program the repository configures")
    if sub == "archive":
        files.extend(
            FileWord(args[j + 1], "read", "argument") for j, w in enumerate(args[:-1]) if w == "--add-file"
        )
    if sub == "grep":
        files.append(FileWord(".", "read", "argument", True))
    if folder != ".":  # `git -C DIR …`: relative words are below DIR
        files[first_file:] = [
            f if (rest := _relative_part(f.word)) is None else f._replace(word=_join(folder, rest))
            for f in files[first_file:]
        ]
        files.append(FileWord(folder, "read", GIT_ELSEWHERE))
    else:  # where it runs: a `cd DIR`/`env -C DIR` moves this word there, and DIR's repository counts
        files.append(FileWord(".", "read", GIT_HERE))
    why = _git_prints_history(sub, args)
    if why:
        if not other and git_output_scannable(sub, args):
            # its own reason (naming the command), so scanning it never clears another's
            shown = " ".join(("git", *kept, sub, *args))
            shown = shown if len(shown) <= 120 else shown[:117] + "..."
            reason = f"git {sub} {why} ({shown!r} in {folder!r}), which Ramparts did not scan"
            acc.prints.append(GitPrint((sub, *args), tuple(kept), folder, reason))
        else:
            reason = f"git {sub} {why}, which Ramparts did not scan"
        opaque.append(reason)
    return out


GIT_SCANNED = frozenset(
    {"log", "whatchanged", "reflog", "show", "diff", "diff-tree", "diff-index", "diff-files", "blame",
     "annotate", "cat-file", "stash"}
)  # fmt: skip
"""Subcommands whose output the adapter may print itself to scan it (the others keep asking)."""
_GIT_UNSCANNABLE = (
    "--output", "--ext-diff", "--textconv", "--binary", "--show-signature", "--line-prefix",
    "--filters", "--batch", "--stdin", "--contents", "--open-files-in-pager", "--exec",
    "--follow-symlinks", "--path", "--no-index", "--no-prefix", "--src-prefix", "--dst-prefix",
    "--default-prefix", "--incremental",
)  # fmt: skip
"""Options (and their unique prefixes) that run a program, read stdin or another file, write a file,
print what a scan cannot read (base85 binary patches), or undo the prefixes the diff headers are read
by: such a command keeps asking."""


def git_output_scannable(sub: str, args: list[str]) -> bool:
    """May the adapter run this printing git command itself to scan what it prints? Only for the
    subcommands in GIT_SCANNED, with no option that runs a program (``--ext-diff``, ``--textconv``,
    ``--show-signature``, ``%G`` formats: gpg), reads stdin or a file, writes one, or prints binary."""
    if sub not in GIT_SCANNED:
        return False
    if sub == "cat-file":  # `cat-file -p OBJ`, `cat-file TYPE OBJ`: the table only lets -t/-s/-e through
        if any(w.startswith("-") and w != "-p" for w in args) or len(args) > 2:
            return False
    elif not is_read_only(("git", sub, *args)):
        return False  # the hook runs it before anyone approves: it must provably change nothing
    if sub == "stash" and [w for w in args if not w.startswith("-")][:1] != ["show"]:
        return False
    if any("%G" in w for w in args):
        return False  # a signature placeholder runs gpg (gpg.program, which the repository may set)
    for word in itertools.takewhile(lambda w: w != "--", args):
        flag = word.partition("=")[0]
        if word.startswith("--") and len(flag) > 2:
            if word == "--submodule=diff" or any(
                n.startswith(flag) or flag.startswith(n) for n in _GIT_UNSCANNABLE
            ):
                return False  # also any abbreviation (`--out=x`, `--ext`) and longer spelling
        elif word[:1] == "-" and word[1:2] in ("o", "O"):
            return False  # `-o FILE` (diff, log, show), `-O` (grep: a pager; diff: an order file)
    return True


# What makes git print file content rather than names and metadata.
_GIT_PATCH = options(
    "-p -u --patch --patch-with-stat --patch-with-raw --cc -c --combined-all-paths -W --function-context "
    "--word-diff --color-words --binary --full-diff -m --diff-merges --remerge-diff --dd --textconv"
)
_GIT_PATCH_PREFIXES = ("-U", "--unified", "--word-diff", "--color-words", "-L", "--diff-merges")
_GIT_NO_PATCH = options(
    "-s --no-patch --stat --shortstat --numstat --name-only --name-status --summary --dirstat --raw "
    "--compact-summary --check"
)
_GIT_NO_PATCH_PREFIXES = ("--stat=", "--dirstat=")
_GIT_HEAD = re_compile(r"(?:HEAD|@)(?:[~^][0-9]*)*")
_GIT_LOG_LIKE = frozenset({"log", "whatchanged", "reflog", "shortlog", "rev-list", "cherry", "show-branch"})
_GIT_DIFF_LIKE = frozenset({"diff", "diff-tree", "diff-index", "diff-files", "range-diff", "request-pull"})


def _patch_wanted(args: list[str]) -> bool:
    return any(
        w in _GIT_PATCH or (w.startswith(_GIT_PATCH_PREFIXES) and not w.startswith("--unified-"))
        for w in itertools.takewhile(lambda w: w != "--", args)
    )


def _no_patch(args: list[str]) -> bool:
    return any(
        w in _GIT_NO_PATCH or w.startswith(_GIT_NO_PATCH_PREFIXES) for w in args
    ) and not _patch_wanted([w for w in args if w not in ("-s", "--no-patch")])


def _git_prints_history(sub: str, args: list[str]) -> str:
    """Why a git command prints content from the object database (history, the index, blobs), which
    the file rules and the content scan of the working tree do not see; '' when it cannot."""
    named = [w for w in itertools.takewhile(lambda w: w != "--", args) if not w.startswith("-")]
    if sub in _GIT_LOG_LIKE:
        if sub in ("log", "whatchanged", "reflog") and _patch_wanted(args):
            return "prints patches from history"
        return ""
    if sub == "show":
        if not named or all(_GIT_HEAD.fullmatch(w) for w in named):
            return "" if _no_patch(args) else "prints a commit's patch"
        return "prints the objects it is given (a commit's patch, a blob's or a tree's content)"
    if sub in _GIT_DIFF_LIKE:
        if sub in ("diff-tree", "diff-index", "diff-files") and not _patch_wanted(args):
            return ""
        if sub == "request-pull" and not _patch_wanted(args):
            return ""
        if _no_patch(args):
            return ""
        if sub == "diff" and not named and "--cached" not in args and "--staged" not in args:
            return ""  # the working tree against the index: the paths are read (below)
        if sub == "diff" and "--no-index" in args:
            return ""
        return "prints content from commits or the index"
    if sub == "stash" and named[:1] == ["show"] and _patch_wanted(args):
        return "prints a stash's patch"
    if sub == "grep":
        pattern_given = any(w in ("-e", "-f") or w.startswith(("--regexp", "--file")) for w in args)
        revs = named if pattern_given else named[1:]
        if revs or any(w in ("--cached", "--untracked", "--no-index") for w in args):
            return "searches commits or the index"
        return ""
    if sub == "cat-file":
        flags = [w for w in args if w.startswith("-")]
        harmless = ("-t", "-s", "-e", "--batch-check", "--batch-all-objects")
        return "" if flags and all(w in harmless for w in flags) else "prints an object"
    if sub == "archive":
        return "" if any(w in ("-l", "--list") for w in args) else "prints a tree's content"
    if sub in ("blame", "annotate") and (len(named) > 1 or ("--" in args and named)):
        return "prints a file's content at another commit"
    if sub in ("fast-export", "format-patch"):
        return "prints content from history"
    if sub == "notes" and named[:1] == ["show"]:
        return "prints a note"
    return ""


# -- network targets ---------------------------------------------------------------------------------

_DEV_NET = re_compile(r"/dev/(?:tcp|udp)/([^/]+)/")
_URL_HOST = _lazy(r"(?i)^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/\s]*@)?(\[[^\]]+\]|[^:/?#\s]+)")
_HOSTNAME = _lazy(r"(?i)^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_\-]{0,62})(?:\.[a-z0-9_\-]{1,63})*$")
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


_IP_LIKE = frozenset("0123456789abcdefx.:%[]")


def _host_of(word: str) -> str:
    match = _URL_HOST().match(word)
    if not match:
        return ""
    host = match.group(1).strip("[]").lower()
    if host.endswith(".") and ":" not in host:
        host = host[:-1]  # `127.0.0.1.` and `example.com.` resolve as written without the dot
    if ip_spelling(host):
        return host  # named below as the address too (`network_targets`)
    return host if host and (_HOSTNAME().match(host) or ":" in host) else ""


def ip_spelling(host: str) -> str:
    """The canonical address a host written as an IP address stands for, in every spelling a resolver
    accepts (``2130706433``, ``0x7f000001``, ``017700000001``, ``127.1``, ``[::ffff:127.0.0.1]``),
    read by the egress proxy's own parser; an IPv4-mapped IPv6 address is named as the IPv4 address it
    reaches. '' for a name."""
    if not host or not set(host.partition("%")[0].lower()) <= _IP_LIKE:
        return ""
    from ..egress.classify import parse_address  # only hosts spelt as numbers pay for it

    address = parse_address(host)
    if address is None:
        return ""
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped if mapped is not None else address)


_URL_IN_WORD = _lazy(r"(?i)([a-z0-9+.\-]*)://")
_SUBSTITUTION_END = _lazy(r"[)`}]")
_SCP_FORM = _lazy(r"^(?:-[^=\s]*=)?[A-Za-z0-9._~\-]+@([A-Za-z0-9.\-]+|\[[0-9a-fA-F:.]+\]):")
URL_TEXT_ONLY = frozenset(
    {
        # they print, compare or search their words, or open them as local paths: a URL is text to them
        *("echo", "printf", "test", "[", "true", "false", "expr", "basename", "dirname", "realpath"),
        *("grep", "egrep", "fgrep", "rg", "ag", "ack", "sed", "awk", "gawk", "mawk", "nawk", "jq", "yq"),
        "tr",
        *("cat", "tac", "head", "tail", "wc", "ls", "stat", "file", "cut", "sort", "uniq", "nl", "diff"),
        *("readlink", "printenv", "seq", "sha256sum", "md5sum", "column", "xxd", "od", "base64"),
    }
)
"""Programs that never send a request to a URL among their words (``echo https://x``); every other
program's URL-looking words name a host (:func:`url_hosts`)."""
_MESSAGE_OPTIONS = frozenset({"-m", "--message", "-F", "--file", "-t", "--template"})


def url_hosts(argv: tuple[str, ...]) -> list[str]:
    """The host of every URL-looking word of a command: ``scheme://host`` anywhere in a word (an
    option's value too: ``--registry=https://host``, ``git+https://host/x``) and the scp form
    ``user@host:path``, for every program but :data:`URL_TEXT_ONLY` (and not in git's commit
    messages). A read-only command that names a URL may send a request there, so the network rules
    see that host, whatever the program."""
    name = argv[0] if argv else ""
    if name in URL_TEXT_ONLY:
        return []
    out: list[str] = []
    args = argv[1:]
    for i, word in enumerate(args):
        if name == "git" and i > 0 and args[i - 1] in _MESSAGE_OPTIONS:
            continue
        if name == "git" and word.startswith(("-m", "--message=")):
            continue
        for match in _URL_IN_WORD().finditer(word):
            if match.group(1).lower().endswith("file"):
                continue  # a local path
            host = _host_of("u" + word[match.end(1) :])  # a scheme may follow an option letter: -Uhttp://
            if host and host not in out:
                out.append(host)
        scp = _SCP_FORM().match(word)
        if scp and "://" not in word:
            host = _host_of(scp.group(1))
            if host and host not in out:
                out.append(host)
    return out


# HTTP client options whose separate value word is a number (so `curl -m 10 URL` does not contact "10")
_NUMERIC_VALUE = options(
    "-m --max-time --connect-timeout --retry --retry-delay --retry-max-time --limit-rate --max-filesize "
    "-y --speed-time -Y --speed-limit --max-redirs -C --continue-at --keepalive-time --expect100-timeout "
    "-r --range -t --tries -T --timeout -w --wait -l --level -Q --quota --rate-limit --parallel-max "
    "--happy-eyeballs-timeout-ms --ip-tos --vlan-priority --local-port"
)


def _value_of(args: list[str], i: int) -> bool:
    """Is ``args[i]`` the value of the option before it that takes a number?"""
    return i > 0 and args[i - 1] in _NUMERIC_VALUE


def network_targets(argv: tuple[str, ...], files: list[FileWord], opaque: list[str]) -> list[str]:
    """Hosts a simple command contacts; files it uploads are added to ``files`` as reads. A host spelt
    as an IP address is named twice: as the canonical address it reaches (for the rules) and as
    written (the egress check denies a disguised spelling of a special address)."""
    out: list[str] = []
    found = _network_targets(argv, files, opaque)
    for host in url_hosts(argv):
        if host not in found:
            found.append(host)
    for host in found:
        address = ip_spelling(host)
        out.extend((address, host) if address and address != host else (host,))
    return out


def _network_targets(argv: tuple[str, ...], files: list[FileWord], opaque: list[str]) -> list[str]:
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
            if "://" in word or (
                not word.startswith("-")
                and (
                    "." in word.split("/", 1)[0]
                    or (ip_spelling(word.split("/", 1)[0]) and not _value_of(args, i))
                )
            ):
                host = _host_of(word)
                if host:
                    hosts.append(host)
    elif (
        name == "openssl"
    ):  # only its clients reach a host: `s_client -connect HOST:PORT`, `s_time`, `ocsp -url`
        for i, word in enumerate(args):
            flag, eq, value = word.partition("=")
            if flag in ("-connect", "-url", "-host", "-proxy") and (eq or i + 1 < len(args)):
                host = _host_of(
                    (value if eq else args[i + 1]).split(":", 1)[0]
                    if flag != "-url"
                    else (value if eq else args[i + 1])
                )
                hosts.append(host or "openssl.peer")
        if args[:1] in (["s_client"], ["s_time"], ["ocsp"]) and not hosts:
            hosts.append("localhost")  # s_client's default peer
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
    elif name in CLOUD_CLIS:
        local = args == ["--version"] or (name != "gcloud" and {"help", "--help", "version"} & set(args))
        if args and not local:
            hosts.append(CLOUD_CLIS[name])  # even `gcloud help` looks for updates
    elif name in API_CLIS:
        local = (name not in ("kubectl", "oc") and {"help", "--help", "-h", "completion"} & set(args)) or (
            args[:1] == ["version"] and ("--client" in args or name == "helm")
        )  # kubectl fetches the server's API list even for `--help`
        # they look for updates of themselves
        updates = API_CLIS[name] in ("registry.npmjs.org", "pypi.org", "checkpoint-api.hashicorp.com")
        # kubectl and oc reach the server for `--version` too (it is not their version flag)
        version = args[:1] == ["--version"] and name not in ("kubectl", "oc")
        if args and (updates or (not local and not version)):
            hosts.append(API_CLIS[name])  # the server the CLI's configuration names
    elif name in DNS_TOOLS:
        for word in _positionals(args):
            if "$(" in word or "`" in word or "$" in word:
                opaque.append(f"{name} looks up a computed name (DNS can carry data out)")
                suffix = _host_of(_SUBSTITUTION_END().split(word)[-1].lstrip("."))
                if suffix and "." in suffix:
                    hosts.append(suffix)  # `$(cat .env).evil.example` reaches evil.example's name servers
            elif "." in word and not word.startswith("@"):
                host = _host_of(word)
                if host:
                    hosts.append(host)
    return hosts

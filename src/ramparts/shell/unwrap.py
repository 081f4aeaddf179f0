"""Programs that run another command, and how to find that command in their argv (pure, no I/O).

The table is data: for each wrapper, which options take a value, how many words come before the
command, whether the wrapper changes who or where the command runs (then rules must allow the
wrapper too: ``sudo``, ``chroot``, ``ssh``), and whether it runs a shell string (``script -c``,
``su -c``, ``watch``, ``sudo -s``). ``unwrap`` follows nested wrappers to the command that really
runs; what it cannot follow is reported as opaque.
"""

from __future__ import annotations

import itertools

from .._recache import compile as re_compile
from .._tuples import NamedTuple


def options(text: str) -> frozenset[str]:
    """A set of option words written as one space-separated string (tables stay readable)."""
    return frozenset(text.split())


class Wrapper(NamedTuple):
    values: frozenset[str] = frozenset()
    """Options that take the next word as their value."""
    positional: int = 0
    """Words before the command that are not options (timeout's duration, chroot's root, flock's file)."""
    keep: bool = False
    """It changes who or where the command runs: the wrapper is a command rules must allow as well."""
    string: frozenset[str] = frozenset()
    """Options whose value is a shell string it runs (``script -c``, ``su -c``, ``flock -c``)."""
    joins: bool = False
    """It runs its remaining words joined by spaces through a shell (``watch``, ``ssh host CMD``)."""
    shell_flags: frozenset[str] = frozenset()
    """Flags that make it run the command through a shell (``sudo -s``, ``sudo -i``)."""
    bare: str = ""
    """Why running it without a command is opaque (it starts an interactive shell); '' if harmless."""
    remote: bool = False
    """The command runs on another machine: its file paths are not local ones."""
    builtin: bool = False
    """A shell builtin: a program of the same name given by path is not it."""
    chdir: frozenset[str] = frozenset()
    """Options whose value is the directory the command runs in (``env -C DIR``, ``sudo -D DIR``)."""


_SHELL = "starts an interactive shell"
WRAPPERS: dict[str, Wrapper] = {
    "timeout": Wrapper(frozenset({"-s", "--signal", "-k", "--kill-after"}), positional=1),
    "time": Wrapper(frozenset({"-f", "--format", "-o", "--output"})),
    "nice": Wrapper(frozenset({"-n", "--adjustment"})),
    "nohup": Wrapper(),
    "stdbuf": Wrapper(frozenset({"-i", "-o", "-e"})),
    "command": Wrapper(builtin=True),
    "builtin": Wrapper(builtin=True),
    "noglob": Wrapper(builtin=True),
    "exec": Wrapper(frozenset({"-a"}), builtin=True),
    "env": Wrapper(frozenset({"-u", "--unset", "-C", "--chdir"}), chdir=frozenset({"-C", "--chdir"})),
    "ionice": Wrapper(frozenset({"-c", "--class", "-n", "--classdata", "-p", "--pid", "-P", "--pgid", "-u"})),
    "setsid": Wrapper(),
    "flock": Wrapper(
        frozenset({"-w", "--wait", "--timeout", "-E", "--conflict-exit-code"}),
        positional=1,
        string=frozenset({"-c", "--command"}),
    ),
    "strace": Wrapper(options("-o -e -p -s -u -E -a -b -I -O -P -S -X -U")),
    "ltrace": Wrapper(options("-o -e -p -s -u -n -a -A -D -F -l -x")),
    "busybox": Wrapper(),
    "arch": Wrapper(options("-arch -e")),  # macOS: `arch -x86_64 CMD` runs CMD
    "watch": Wrapper(frozenset({"-n", "--interval", "-q", "--equexit"}), joins=True),
    "script": Wrapper(
        options("-E --echo -I --log-in -O --log-out -B --log-io -T --log-timing -m --logging-format"),
        positional=1,  # the typescript file; BSD/macOS `script -q FILE CMD…` runs CMD
        string=frozenset({"-c", "--command"}),
        bare=_SHELL,
    ),
    "caffeinate": Wrapper(options("-t -w")),  # macOS: `caffeinate -i CMD` runs CMD
    "sudo": Wrapper(
        options(
            "-u --user -g --group -h --host -p --prompt -C --close-from -D --chdir -r --role -t --type "
            "-U --other-user -T --command-timeout"
        ),
        keep=True,
        shell_flags=frozenset({"-s", "--shell", "-i", "--login"}),
        bare=_SHELL,
        chdir=frozenset({"-D", "--chdir"}),
    ),
    "doas": Wrapper(frozenset({"-u", "-C"}), keep=True, shell_flags=frozenset({"-s"}), bare=_SHELL),
    "su": Wrapper(
        frozenset({"-s", "--shell", "-g", "--group", "-G", "--supp-group", "-w"}), keep=True, bare=_SHELL
    ),
    "runuser": Wrapper(
        frozenset({"-s", "--shell", "-g", "--group", "-G", "-u", "--user"}), keep=True, bare=_SHELL
    ),
    "chroot": Wrapper(frozenset({"--userspec", "--groups"}), positional=1, keep=True, bare=_SHELL),
    "unshare": Wrapper(
        options("-S --setuid -G --setgid -R --root -w --wd"), keep=True, bare=_SHELL, chdir=options("-w --wd")
    ),
    "nsenter": Wrapper(
        options("-t --target -S --setuid -G --setgid -r --root -w --wd"),
        keep=True,
        bare=_SHELL,
        chdir=options("-w --wd"),
    ),
    "pkexec": Wrapper(frozenset({"--user"}), keep=True, bare=_SHELL),
    "ssh": Wrapper(
        options("-p -i -l -o -F -J -L -R -D -b -c -e -m -O -Q -S -W -w -E -B -I"),
        positional=1,
        keep=True,
        joins=True,
        remote=True,
    ),
}
# su and runuser hand `-c STRING` to the target user's shell; the user name may come before or after it.
_SU_STRING = frozenset({"-c", "--command", "--session-command"})
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
ASSIGNMENT = re_compile(r"(?s)[A-Za-z_][A-Za-z0-9_]*=.*")
MAX_WRAPPERS = 16


class Unwrapped(NamedTuple):
    argv: list[str]
    """The command that really runs; ``["sh", "-c", STRING]`` when a wrapper runs a shell string."""
    kept: list[tuple[str, ...]]
    """Wrappers rules must allow too (``sudo …``, ``ssh host …``), each with the words that follow it."""
    remote: bool = False
    """The command runs on another machine (``ssh host CMD``)."""
    written: tuple[str, ...] = ()
    """Files a wrapper itself writes (``script``'s typescript, ``strace -o``)."""
    chdir: tuple[str, ...] = ()
    """Directories a wrapper makes the command run in, outermost first (``env -C DIR``)."""


_RISKY_PARTS = re_compile(
    r"PATH|HOME|CONF|DIR|FILE|OPT|CMD|COMMAND|PROG|EXEC|SHELL|EDIT|VISUAL|PAGER|LESS|MORE|PRELOAD|LIB|"
    r"LOAD|ENV|PROXY|HOST|URL|SERVER|ENDPOINT|ADDR|SOCK|PORT|PLUGIN|HOOK|PASS|TOKEN|AUTH|CRED|KEY|SECRET|"
    r"BROWSER|TERM|DISPLAY|PROMPT|HIST|MAIL|NLS|PROFILE|INCLUDE|MODULE|BIN|ROOT|PREFIX|CACHE|DATA|TEMP|"
    r"TMP|ZIP|XZ|ZSTD|LZ4|LZMA|TAR|GREP|POSIX|IFS|GLOB|TUNABLE|MALLOC|ALIAS|DOMAIN|LOCALE|GCONV|CHARSET|"
    r"FLAGS|MAKE|PWD|INPUTRC|SUDO|RC$|^RC|^PS[0-9]|^LD_|^DYLD_|^GIT|^BASH|^ZSH|^KSH|^PYTHON|^PERL|^RUBY|"
    r"^NODE|^NPM|^YARN|^PNPM|^JAVA|^JDK|^JRE|^CLASSPATH|^GEM|^BUNDLE|^CARGO|^RUST|^GO|^LUA|^PHP|^DOTNET|"
    r"^SSH|^GPG|^GNUPG|^XDG|^KUBE|^DOCKER|^PODMAN|^AWS|^GOOGLE|^GCLOUD|^CLOUDSDK|^AZURE|^AZ_|^GH_|"
    r"^GITHUB|^GITLAB|^HELM|^TF_|^TERRAFORM|^VAULT|^ANSIBLE|^PIP|^UV_|^POETRY|^CONDA|^VIRTUAL|^MAN|"
    r"^INFO|^DBUS|^SYSTEMD|^OPENSSL|^SSL|^CURL|^WGET|^REQUESTS|^HTTP|^FTP|^ALL_|^NO_|^FZF|^RIPGREP|"
    r"^BAT|^DELTA|^FD_|^EXA|^EZA|^JQ|^YQ|^SQLITE|^PSQL|^PG|^MYSQL|^REDIS|^MONGO|^TZ|^LS_"
)
"""Parts of a variable's name that say it steers a program: a path or folder to search or load from,
a config or options string, a program or command to run, a host, a credential, the shell's own
variables. A name with none of them (``FOO=bar ls``) only adds a value no read-only program reads."""
_RISKY_NAMES = frozenset(
    {
        "CC",
        "CXX",
        "CPP",
        "LD",
        "AR",
        "AS",
        "NM",
        "FC",
        "M4",
        "YACC",
        "LEX",
        "GCC",
        "SHLVL",
        "OLDPWD",
        "CDPATH",
    }
)
_SYSTEM_PATH = frozenset({"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/opt/homebrew/bin"})


def assignment_kind(word: str) -> str:
    """``safe`` when ``NAME=value`` cannot steer any program: the names in SAFE_ASSIGNMENTS, ``LC_*``, and
    ``PATH`` made only of the system folders (``env -i PATH=/bin ls``); ``risky`` when a part of the
    name says it steers one (:data:`_RISKY_PARTS`: ``LD_PRELOAD``, ``GIT_*``, ``PAGER``, ``BASH_ENV``,
    ``PATH=.``); else ``unknown`` (``FOO=bar``): harmless before a program the read-only table proves
    read-only (none of them reads such a name), opaque before any other, which may read anything."""
    name, _, value = word.partition("=")
    if name in SAFE_ASSIGNMENTS or name.startswith("LC_"):
        return "safe"
    if name == "PATH":
        parts = value.split(":")
        return "safe" if value and all(p.rstrip("/") in _SYSTEM_PATH for p in parts) else "risky"
    upper = name.upper()
    return "risky" if upper in _RISKY_NAMES or _RISKY_PARTS.search(upper) else "unknown"


def note_assignment(word: str, opaque: list[str], unknown: list[str] | None = None) -> None:
    kind = assignment_kind(word)
    if kind == "unknown" and unknown is not None:
        unknown.append(word.split("=", 1)[0])  # judged once the command it applies to is known
    elif kind != "safe":
        opaque.append(f"sets {word.split('=', 1)[0]} for the command it runs")


def unwrap(argv: list[str], opaque: list[str]) -> Unwrapped:
    """Strip leading assignments and known wrappers; return the argv that really runs.

    An assignment of anything but a harmless variable (``GIT_EXTERNAL_DIFF=…``, ``LD_PRELOAD=…``,
    ``PAGER=…``) can make an allowed program run something else, so it makes the command opaque; a
    variable whose name says nothing of the kind (``FOO=bar ls``) is let through only when the command
    it reaches is one the read-only table proves read-only (``assignment_kind``).
    """
    from .readonly import is_read_only  # the table imports this module

    unknown: list[str] = []
    result = _unwrap(argv, opaque, unknown)
    if unknown:
        final = result.argv
        read_only = (
            bool(final)
            and not result.kept
            and is_read_only((final[0].rsplit("/", 1)[-1], *final[1:]), final[0])
        )
        if not read_only:
            opaque.extend(f"sets {name} for the command it runs" for name in dict.fromkeys(unknown))
    return result


def _unwrap(argv: list[str], opaque: list[str], unknown: list[str]) -> Unwrapped:
    """The work of :func:`unwrap`; names of assignments it cannot judge yet go to ``unknown``."""
    kept: list[tuple[str, ...]] = []
    written: list[str] = []
    chdir: list[str] = []
    remote = False
    for _ in range(MAX_WRAPPERS):
        assigned: list[str] = []
        while argv and ASSIGNMENT.fullmatch(argv[0]):
            assigned.append(argv[0])
            argv = argv[1:]
        if not argv:
            return Unwrapped(
                argv, kept, remote, tuple(written), tuple(chdir)
            )  # plain assignments run nothing
        for word in assigned:
            note_assignment(word, opaque, unknown)
        name = argv[0].rsplit("/", 1)[-1]
        if name == "sudoedit":
            return Unwrapped(
                ["sudoedit", *argv[1:]], [*kept, tuple(argv)], remote, tuple(written), tuple(chdir)
            )
        spec = WRAPPERS.get(name)
        if spec is None or (spec.builtin and name != argv[0]):
            return Unwrapped(
                argv, kept, remote, tuple(written), tuple(chdir)
            )  # `/path/to/command` is not the builtin
        leading = list(itertools.takewhile(lambda w: w.startswith("-") and w != "--", argv[1:]))
        if name == "command" and any(set(w[1:]) & {"v", "V"} for w in leading):  # not curl's `-v`
            return Unwrapped(
                argv, kept, remote, tuple(written)
            )  # `command -v curl` looks curl up, runs nothing
        if spec.keep:
            kept.append((name, *argv[1:]))
        remote = remote or spec.remote
        rest, string, through_shell = _skip_options(name, spec, argv, opaque, written, chdir, unknown)
        if name in ("sudo", "doas") and any(w in ("-e", "--edit") for w in argv[1 : len(argv) - len(rest)]):
            return Unwrapped(["sudoedit", *rest], kept, remote, tuple(written), tuple(chdir))
        if name in ("su", "runuser"):
            string = string or _su_string(argv[1:])
            rest = []
        if string is not None:
            return Unwrapped(["sh", "-c", string], kept, remote, tuple(written), tuple(chdir))
        if not rest:
            if spec.bare:
                opaque.append(f"{name!r} without a command {spec.bare}")
                return Unwrapped([], kept, remote, tuple(written), tuple(chdir))
            # nothing to run: the wrapper is the command (`env` prints the environment, `arch` the CPU)
            return Unwrapped([] if spec.keep else argv, kept, remote, tuple(written), tuple(chdir))
        if through_shell or (spec.joins and not (name == "watch" and _watch_exec(argv))):
            return Unwrapped(["sh", "-c", " ".join(rest)], kept, remote, tuple(written), tuple(chdir))
        argv = rest
    opaque.append("wrappers nested too deep")
    return Unwrapped(argv, kept, remote, tuple(written), tuple(chdir))


def expand_long(word: str, names: frozenset[str]) -> str:
    """``word`` with an abbreviated long option spelt out, as getopt_long reads it: ``--reg=x`` is
    ``--regexp=x`` when ``--regexp`` is the only known option starting with ``--reg``. An exact name
    or an unknown or ambiguous prefix is returned unchanged."""
    if not word.startswith("--") or len(word) < 3:
        return word
    flag, eq, value = word.partition("=")
    if flag in names:
        return word
    matches = [n for n in names if n.startswith(flag) and n.startswith("--")]
    if len(matches) != 1:
        return word
    return matches[0] + eq + value


def _skip_options(
    name: str,
    spec: Wrapper,
    argv: list[str],
    opaque: list[str],
    written: list[str],
    chdir: list[str],
    unknown: list[str],
) -> tuple[list[str], str | None, bool]:
    """The words after the wrapper's own options, a shell string it was given, and whether it uses a shell."""
    i = 1
    positional = spec.positional
    string: str | None = None
    through_shell = False
    known = spec.values | spec.string | spec.shell_flags | spec.chdir
    while i < len(argv):
        word = expand_long(argv[i], known)
        if word == "--":
            i += 1
            break
        if name == "env" and (ASSIGNMENT.fullmatch(word) or word == "-"):
            if word != "-" and i + 1 < len(argv):
                note_assignment(word, opaque, unknown)
            i += 1
            continue
        if word.startswith("-") and len(word) > 1:
            flag, eq, attached = word.partition("=")
            if name == "env" and (
                word.startswith("--split-string") or (not word.startswith("--") and "S" in word[1:])
            ):
                opaque.append("env -S splits a string into a command")
            if word in spec.shell_flags or (
                spec.shell_flags
                and not word.startswith("--")
                and any(f"-{c}" in spec.shell_flags for c in word[1:])
            ):
                through_shell = True
            value = attached if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            if flag in spec.chdir:
                chdir.append(value)  # `-C DIR`, `--chdir=DIR`
            if flag in spec.string:
                string = value
            elif name in ("strace", "ltrace", "time") and _output_option(word):
                target = _output_value(word, argv[i + 1] if i + 1 < len(argv) else "")
                if target.startswith(("|", "!")):
                    opaque.append(f"{name} -o {target[:40]!r} pipes its output into a command")
                elif target:
                    written.append(target)
                i += 1 if (eq or (word[1:2] != "-" and len(word) > 2)) else 2
                continue
            if word[1:2] != "-" and len(word) > 2 and flag not in known:
                i += _cluster(word, spec, argv[i + 1] if i + 1 < len(argv) else "", chdir)
                if string is None and any(f"-{c}" in spec.string for c in word[1:]):
                    opaque.append(f"{name} {word[:20]!r} clusters an option that takes a shell string")
                continue
            i += 2 if (flag in spec.values or flag in spec.string) and not eq else 1
            continue
        if positional:
            if name in ("flock", "script"):
                written.append(word)
            positional -= 1
            i += 1
            continue
        break
    rest = argv[i:]
    return rest, string, through_shell


def _cluster(word: str, spec: Wrapper, following: str, chdir: list[str]) -> int:
    """A short-option cluster (``-iC DIR``, ``-CDIR``, ``-n5``) as getopt reads it: a letter that takes a
    value ends the cluster and takes the rest of it, or the next word. Returns the words used."""
    for k, letter in enumerate(word[1:], 2):
        short = f"-{letter}"
        if short in spec.values or short in spec.string or short in spec.chdir:
            attached = word[k:]
            if short in spec.chdir:
                chdir.append(attached or following)
            return 1 if attached else 2
    return 1


def _output_option(word: str) -> bool:
    """``-o``/``-oFILE`` or ``--output``/``--out=FILE`` (getopt takes any unique prefix)."""
    flag = word.partition("=")[0]
    if word[1:2] != "-":
        return word.startswith("-o")
    return len(flag) >= 4 and "--output".startswith(flag)


def _output_value(word: str, following: str) -> str:
    _flag, eq, value = word.partition("=")
    if eq:
        return value
    if word[1:2] != "-" and len(word) > 2:
        return word[2:]
    return following


def _su_string(args: list[str]) -> str | None:
    """``su [opts] [user] -c STRING``: getopt lets the options come after the user name."""
    for i, word in enumerate(args):
        flag, eq, attached = word.partition("=")
        if flag in _SU_STRING:
            if eq:
                return attached
            return args[i + 1] if i + 1 < len(args) else None
    return None


def _watch_exec(argv: list[str]) -> bool:
    """``watch -x`` runs its words directly instead of through ``sh -c``."""
    for word in argv[1:]:
        if word in ("-x", "--exec") or (word[:1] == "-" and word[1:2] != "-" and "x" in word[1:]):
            return True
        if not word.startswith("-"):
            return False
    return False

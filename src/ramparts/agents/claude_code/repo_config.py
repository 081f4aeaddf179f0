"""What a repository's own configuration makes a program run or contact.

Package clients and toolchains read files from the folder they run in and every folder above it
(``shell.analyze.PROJECT_CONFIG_FILES``): a repository's ``.npmrc`` sends ``npm view`` and the token
configured for the registry to any host, ``.yarnrc.yml``'s ``yarnPath`` makes ``yarn --version`` run
a script from the repository, ``.mvn/jvm.config`` gives ``mvn --version`` JVM options
(``-javaagent:``), ``rust-toolchain.toml``'s ``path`` makes ``rustc --version`` run the repository's
binary. Such a file from the command's folder up to (not including) the home folder makes the command
opaque; the home folder's own files are the user's configuration.

A read-only git command (``git status``, ``git diff``, ``git log``) runs programs the repository's
configuration names: ``core.fsmonitor`` on every command that looks at the work tree, ``diff.external``
and textconv drivers for diffs, clean filters when a file is compared, ``gpg.program`` for
``--show-signature``, and more. That configuration is the repository's, not the user's: a repository can
carry an embedded bare repository (``docs/vendored/{HEAD,config,objects,refs}``, ordinary committed
files) whose ``config`` sets ``core.worktree`` and ``core.fsmonitor``, and ``cd docs/vendored && git
status`` then runs its program. So before the hook lets a git command through, or runs git itself, it
finds the repository git would use from that folder (the same discovery: ``.git`` folders, ``.git``
files naming a gitdir, and bare repositories). When that is a bare repository (committed files), it
reads its configuration files: any key that runs a program, redirects a URL, moves the work tree or
includes another file makes the command opaque.

A ``.git`` folder or file is git's own, made by the user's clone (git will not commit a ``.git``
path; the hook denies the agent writing one): its configuration counts as the user's, like their
global and the system configuration, which are not read here either. A ``.git`` that arrived inside an
archive the user unpacked is the one case this trusts that it should not.
"""

from __future__ import annotations

import os

from ..._recache import compile as re_compile

MAX_CONFIG_BYTES = 256 * 1024
"""A larger configuration file is not parsed: it counts as a risk (nobody writes one by hand)."""

_SAFE_LFS = re_compile(r"git-lfs (?:clean|smudge|filter-process)(?: -- %f)?")
"""The values ``git lfs install --local`` writes for its filter (the program is found on PATH)."""
_FALSE = frozenset({"false", "no", "off", "0", ""})

# (section, key) pairs whose value is a program or a command line git runs; "*" is any subsection
_RUNS = frozenset(
    {
        ("core", "fsmonitor"),
        ("core", "sshcommand"),
        ("core", "askpass"),
        ("core", "gitproxy"),
        ("core", "alternaterefscommand"),
        ("core", "hookspath"),
        ("core", "pager"),
        ("core", "editor"),
        ("sequence", "editor"),
        ("diff", "external"),
        ("diff", "textconv"),
        ("diff", "command"),
        ("difftool", "cmd"),
        ("mergetool", "cmd"),
        ("merge", "driver"),
        ("filter", "clean"),
        ("filter", "smudge"),
        ("filter", "process"),
        ("gpg", "program"),
        ("credential", "helper"),
        ("uploadpack", "packobjectshook"),
        ("remote", "uploadpack"),
        ("remote", "receivepack"),
        ("remote", "proxy"),
        ("http", "proxy"),
        ("url", "insteadof"),
        ("url", "pushinsteadof"),
        ("include", "path"),
        ("includeif", "path"),
        ("core", "worktree"),
    }
)
_SECTION = re_compile(r'\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\]|\\.)*)")?\s*\]')
_KEY = re_compile(r"([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*))?$")


def program_keys(text: str) -> list[tuple[str, str]]:
    """``(section.key, value)`` for each setting in a git configuration file's text that makes git run
    a program, reach another URL, move the work tree or include another file (names in lower case).
    Pure; errs towards reporting: a line it cannot read is reported as ``unreadable …``."""
    found: list[tuple[str, str]] = []
    section, sub = "", ""
    for raw in text.splitlines():
        line = raw.strip()
        while line.startswith("["):
            match = _SECTION.match(line)
            if match is None:
                found.append(("unreadable section header", ""))
                return found
            name = match.group(1).lower()
            section, _, dotted = name.partition(".")  # `[diff.driver]`: the old subsection spelling
            sub = match.group(2) if match.group(2) is not None else dotted
            line = line[match.end() :].strip()  # `[core] fsmonitor = x` on one line is valid git
        if not line or line[0] in "#;":
            continue
        match = _KEY.match(line)
        if match is None:
            found.append((f"unreadable line in [{section}]", ""))
            continue
        key, value = match.group(1).lower(), _value(match.group(2))
        if (section, key) in _RUNS:
            if (
                section == "core"
                and key == "fsmonitor"
                and value.lower() in _FALSE | {"true", "yes", "on", "1"}
            ):
                continue  # off, or git's own built-in daemon
            if section == "filter" and _SAFE_LFS.fullmatch(value) and sub == "lfs":
                continue
            found.append((f"{section}.{sub + '.' if sub else ''}{key}", value))
    return found


def _value(raw: str | None) -> str:
    """A value without its trailing comment and quotes (enough to compare it with a few known ones)."""
    if raw is None:
        return "true"  # `key` alone is boolean true
    out: list[str] = []
    quoted = False
    for ch in raw:
        if ch == '"':
            quoted = not quoted
        elif ch in "#;" and not quoted:
            break
        else:
            out.append(ch)
    return "".join(out).strip()


def git_dirs(folder: str) -> tuple[str, tuple[str, ...]] | None:
    """``(work tree root, git directories)``: the folder holding the ``.git`` git's discovery finds
    walking up from ``folder`` (a ``.git`` folder, a ``.git`` file's ``gitdir:``, or ``folder`` itself
    or a parent being a bare repository, then its own path), and the git directories whose ``config``
    git reads (with the ``commondir`` of a linked work tree or submodule). ``("", ())`` when there is
    none; None when the discovery cannot be followed (an unreadable ``.git`` file)."""
    current = os.path.abspath(folder)
    for _ in range(128):
        dot_git = os.path.join(current, ".git")
        if os.path.isdir(dot_git):
            return current, _with_common(dot_git)
        if os.path.isfile(dot_git):
            try:
                with open(dot_git, encoding="utf-8") as handle:
                    pointer = handle.read(4096).strip()
            except (OSError, UnicodeDecodeError):
                return None
            if not pointer.startswith("gitdir:"):
                return None
            return current, _with_common(os.path.normpath(os.path.join(current, pointer[7:].strip())))
        if _is_git_dir(current):
            return current, _with_common(current)
        parent = os.path.dirname(current)
        if parent == current:
            return "", ()
        current = parent
    return None


def _is_git_dir(path: str) -> bool:
    """git's test for a repository directory: a HEAD file, an objects folder and a refs folder."""
    return (
        os.path.isfile(os.path.join(path, "HEAD"))
        and os.path.isdir(os.path.join(path, "objects"))
        and os.path.isdir(os.path.join(path, "refs"))
    )


def _with_common(git_dir: str) -> tuple[str, ...]:
    common = os.path.join(git_dir, "commondir")
    try:
        with open(common, encoding="utf-8") as handle:
            shared = os.path.normpath(os.path.join(git_dir, handle.read(4096).strip()))
    except (OSError, UnicodeDecodeError):
        return (git_dir,)
    return (git_dir, shared)


def repository_risks(folder: str) -> list[str]:
    """Why git run in ``folder`` may run a program the repository's own files configure ([] when
    nothing does). A ``.git`` folder or file is git's own (made by ``clone``, ``init``, ``submodule``,
    ``worktree``; git refuses to commit a path named ``.git``, and the hook denies the agent writing
    one), so its configuration is the user's, like their global one. A bare repository git finds on
    the way up is made of ordinary files a repository can commit: its configuration is the
    repository's, and is read."""
    found = git_dirs(folder)
    if found is None:
        return [f"cannot tell which repository git uses in {folder[:80]}"]
    root, dirs = found
    if root not in dirs:
        return []  # a `.git` folder or file: git's own, the user's configuration
    reasons: list[str] = []
    for git_dir in dirs:
        for name in ("config", "config.worktree"):
            path = os.path.join(git_dir, name)
            try:
                if not os.path.lexists(path):
                    continue
                if os.path.getsize(path) > MAX_CONFIG_BYTES:
                    reasons.append(f"{path} is too large to read")
                    continue
                with open(path, "rb") as handle:
                    text = handle.read(MAX_CONFIG_BYTES).decode("utf-8", "replace")
            except OSError as exc:
                reasons.append(f"cannot read {path}: {type(exc).__name__}")
                continue
            keys = [key for key, _value in program_keys(text)]
            if keys:
                shown = ", ".join(list(dict.fromkeys(keys))[:4])
                reasons.append(
                    f"the repository's git configuration {path} sets {shown} (it can run programs)"
                )
    return reasons


def project_risks(program: str, folder: str, home: str) -> list[str]:
    """Why ``program`` run in ``folder`` may do what its words do not say: the repository's
    configuration files it reads there and above (git: its repository's configuration)."""
    if program == "git":
        return repository_risks(folder)
    from ...shell.analyze import PROJECT_CONFIG_FILES

    names = PROJECT_CONFIG_FILES.get(program, ())
    home = os.path.normpath(home) if home else ""
    found: list[str] = []
    current = os.path.normpath(folder)
    for _ in range(128):
        if current in (home, "/"):
            break
        for name in names:
            path = os.path.join(current, name)
            if os.path.lexists(path) and not _harmless(name, path):
                found.append(path)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return [
        f"{program} reads {path} (a repository's configuration can send its lookups and the credentials "
        "configured for them elsewhere, or run the repository's code)"
        for path in found[:3]
    ]


_CHANNEL = re_compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}")


def _harmless(name: str, path: str) -> bool:
    """A ``rust-toolchain`` file that only names a channel (rustup installs the official toolchain);
    one with a ``path`` (a toolchain folder the repository chooses, whose binaries run) is not."""
    if not name.startswith("rust-toolchain"):
        return False
    try:
        with open(path, "rb") as handle:
            text = handle.read(65_536).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if name == "rust-toolchain" and _CHANNEL.fullmatch(text.strip()):
        return True  # the legacy format: a channel name alone
    import tomllib

    try:
        table = tomllib.loads(text).get("toolchain")
    except tomllib.TOMLDecodeError:
        return False
    return isinstance(table, dict) and "path" not in table

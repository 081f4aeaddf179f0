"""A differential oracle for the shell analysis: bash itself says what a command does.

:func:`observe` runs a command in real bash inside a throwaway bubblewrap sandbox (read-only root,
no network, its own PID namespace, a scratch project and home folder holding bait files) under
``strace -f -y``, and records what really happened: every program executed, each file opened for
reading or writing (with the folder it was opened in), each connect, and whether a bait secret
reached the output. :func:`check` takes the same command through the analysis and the engine
(``normalize.tool_call`` then ``engine.decide`` with the shipped profiles) and lists every
disagreement in which the engine ALLOWS a command that did more than the analysis said: that is a
bug (an allowed command must be fully known). Commands the engine asks about or denies are not run.

Used by ``tests/unit/shell/test_shell_oracle.py`` (a fixed-seed campaign in CI) and
``bench/shell_differential.py`` (a long one). Needs ``bwrap`` and ``strace`` (the Makefile installs
them); :func:`available` says whether they work here.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..shell.analyze import XARGS_METADATA, XARGS_METADATA_AFTER_DASHES
from ..shell.unwrap import WRAPPERS as UNWRAPPED

if TYPE_CHECKING:
    from ..policy.types import Policy

CANARY = "RAMPARTS_CANARY_"
"""Every protected bait file holds a unique value starting with this; the output must never show one."""
# Bait: path below the scratch root -> (content, protected). Protected files carry a canary.
BAIT: dict[str, tuple[str, bool]] = {
    "project/README.md": ("# readme\nhello world\n", False),
    "project/notes.txt": ("alpha\nbeta\ngamma\n", False),
    "project/src/app.py": ("print('hello')\n", False),
    "project/src/util.py": ("X = 1\n", False),
    "project/docs/guide.md": ("guide\n", False),
    "project/.env": (f"API_KEY={CANARY}DOTENV\n", True),
    "project/.env_local": (f"API_KEY={CANARY}DOTENVLOCAL\n", True),
    "project/.ENV.prod": (f"API_KEY={CANARY}DOTENVPROD\n", True),
    "project/secrets/key": (f"{CANARY}SECRETSKEY\n", True),
    "project/src/server.pem": (f"-----BEGIN KEY-----\n{CANARY}PEM\n", True),
    "project/id_rsa.bak": (f"{CANARY}IDRSABAK\n", True),
    "project/deploy.key": (f"{CANARY}TRACKEDKEYNEW\n", True),
    "home/.ssh/id_rsa": (f"{CANARY}SSHKEY\n", True),
    "home/.aws/credentials": (f"[default]\naws_secret_access_key={CANARY}AWS\n", True),
    "home/notes.txt": ("home notes\n", False),
}
HISTORY_SECRET = f"{CANARY}GITHISTORY"
"""Committed in ``project/config.txt`` and removed in the next commit: only git history holds it."""
_PATH = "/usr/local/bin:/usr/bin:/bin"
_TRACED = (
    "execve,openat,open,creat,connect,unlinkat,unlink,renameat,renameat2,rename,mkdirat,mkdir,truncate,"
    "symlinkat,symlink,linkat,link,fchmodat,chmod,fchownat,chown,lchown,utimensat,mknodat,mknod,"
    "clone,clone3,fork,vfork"
)
OWN_FILES: dict[str, tuple[str, ...]] = {
    "gcloud": (".config/gcloud/",),
    "aws": (".aws/",),
    "az": (".azure/",),
    "kubectl": (".kube/",),
    "helm": (".kube/", ".config/helm/", ".cache/helm/"),
    "gh": (".config/gh/",),
    "docker": (".docker/",),
    "npm": (".npmrc", ".npm/"),
    "pip": (".config/pip/", ".pip/"),
    "terraform": (".terraform.d/",),
}
"""Below the home folder: the configuration a named program reads and keeps for itself (the CLI using
its own credentials is not the command exposing them; printing them is caught by the canaries)."""
_XARGS_BLIND = XARGS_METADATA | XARGS_METADATA_AFTER_DASHES
TEMP_WRITERS = frozenset({"tac", "sort", "kubectl", "oc"})
"""Programs that keep temporary files of their own in /tmp (the sandbox's, not the scratch root)."""
_CACHES = ("/.npm/", "/.cache/")
"""Below the home folder: caches and logs programs keep for themselves (not data the command writes)."""
_BASH_HEREDOC = "/tmp/sh-thd"  # noqa: S108 - the name bash gives it inside the sandbox
"""bash keeps a long here-document in a temporary file of its own."""
_QUIET_WRITES = (
    _BASH_HEREDOC,
    "/dev/null",
    "/dev/tty",
    "/dev/pts/",
    "/dev/fd/",
    "/proc/self/fd/",
    "/dev/stdout",
    "/dev/stderr",
)
# Programs that run helpers of their own; the helpers are part of the program the analysis named.
HELPERS: dict[str, tuple[str, ...]] = {
    "git": ("*",),  # git-bisect and friends are shell scripts (basename, sed, gettext ...)
    # package managers (only their read-only subcommands are ever allowed): node, man for `npm help`,
    # lsb_release for pip's platform detection
    "npm": ("*",),
    "npx": ("node",),
    "egrep": ("grep",),  # shell scripts around grep
    "fgrep": ("grep",),
    "zgrep": ("*",),
    "gunzip": ("gzip",),  # shell scripts around gzip
    "zcat": ("gzip",),
    "zless": ("*",),
    "zmore": ("*",),
    "zdiff": ("*",),
    "zcmp": ("*",),
    "yarn": ("node",),
    "pnpm": ("node",),
    "pip": ("*",),
    "pip3": ("*",),
    # launcher scripts: whatever they run is the program itself
    "gcloud": ("*",),
    "az": ("*",),
    "aws": ("*",),
    "man": ("*",),  # man-db's formatters, apropos for `man -k`
    "timeout": (),
    "tree": (),
}


class Observed(NamedTuple):
    """What bash really did."""

    execs: tuple[tuple[str, tuple[str, ...]], ...]
    """Every program executed: (its owner, its argv with argv[0] the file run). The owner is the
    program the shell (or a wrapper it saw through) started in that process or an ancestor: a
    launcher script's ``python3`` and everything that runs are owned by ``gcloud``."""
    reads: frozenset[str]
    """Absolute paths of regular files opened for reading."""
    writes: frozenset[str]
    """Absolute paths opened for writing, created, removed, renamed or made."""
    connects: tuple[str, ...]
    """Network peers connected to (``inet:ADDR:PORT``, ``unix:PATH``)."""
    output: str
    timed_out: bool = False
    blind_reads: frozenset[str] = frozenset()
    """Files opened by a names-and-metadata program that xargs ran (``xargs wc -l --``): the files
    stdin named, which the analysis cannot name (xargs' own reads, ``-a FILE``, are not here)."""
    status: int | None = None
    """The exit status of the sandboxed ``bash -c`` (None when unknown)."""


class Result(NamedTuple):
    command: str
    verdicts: dict[str, str]
    """Profile name -> the engine's verdict."""
    problems: tuple[str, ...] = ()
    """Under-reports in a command some profile allows (empty: the analysis and bash agree)."""
    ran: bool = False
    timed_out: bool = False
    """It was still running when the sandbox stopped it (``ip monitor``): what it did until then counts."""


def available() -> str:
    """'' when bwrap and strace work here, else why not."""
    for tool in ("bwrap", "strace", "bash"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        done = subprocess.run(
            [
                "bwrap",
                "--ro-bind",
                "/",
                "/",
                "--unshare-all",
                "--",
                "strace",
                "-qq",
                "-e",
                "trace=none",
                "true",
            ],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap/strace cannot run: {exc}"
    return (
        ""
        if done.returncode == 0
        else f"bwrap/strace cannot run: {done.stderr.decode(errors='replace')[:200]}"
    )


class Sandbox:
    """A scratch root (``project/`` and ``home/`` with the bait) rebuilt before each command."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="ramparts-oracle-"))
        self.template = self.base / "template"
        self.root = self.base / "root"
        self.trace_dir = self.base / "trace"
        self.project = str(self.root / "project")
        self.home = str(self.root / "home")
        self.dirty = True
        self._build_template()
        self.reset()

    def _build_template(self) -> None:
        for rel, (content, _protected) in BAIT.items():
            path = self.template / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        project = self.template / "project"
        from . import scratch_git_env

        env = scratch_git_env({"PATH": _PATH, "HOME": str(self.template / "home")}, "o")

        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=project, env=env, check=True, capture_output=True, timeout=30)

        git("init", "-q", "-b", "main")
        (project / ".gitignore").write_text(".env*\nsecrets/\nid_rsa.bak\n.ENV*\n")
        (project / "config.txt").write_text(f"token={HISTORY_SECRET}\n")
        (project / "deploy.key").write_text(f"{CANARY}TRACKEDKEYOLD\n")
        git("add", "README.md", "notes.txt", "src/app.py", "src/util.py", ".gitignore", "config.txt")
        git("add", "-f", "deploy.key")  # a tracked protected file, changed in the working tree below
        git("commit", "-qm", "first")
        (project / "config.txt").write_text("token=from-the-environment\n")
        git("commit", "-qam", "second: no secret in the tree any more")
        (project / "deploy.key").write_text(BAIT["project/deploy.key"][0])
        for sample in (project / ".git" / "hooks").glob("*.sample"):
            sample.unlink()  # fewer files to copy before each command

    def reset(self) -> None:
        """Make the scratch root a fresh copy of the template (unless the last command wrote nothing)."""
        if not self.dirty:
            return
        self.dirty = False
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():  # a command made something unremovable: start from a fresh folder
            subprocess.run(["chmod", "-R", "u+rwx", str(self.root)], check=False, capture_output=True)
            shutil.rmtree(self.root)
        shutil.copytree(self.template, self.root, symlinks=True)

    def close(self) -> None:
        subprocess.run(["chmod", "-R", "u+rwx", str(self.base)], check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def observe(
        self,
        command: str,
        timeout: float = 8.0,
        *,
        files: tuple[str, ...] = (),
        env: tuple[tuple[str, str], ...] = (),
    ) -> Observed:
        """Run ``command`` with ``bash -c`` in the sandbox and trace it. ``files``: project-relative
        paths made (a line of text; a name ending in ``/`` a folder) for this run only, when missing;
        ``env``: variables set for it."""
        self.reset()
        made = self._make(files)
        shutil.rmtree(self.trace_dir, ignore_errors=True)
        self.trace_dir.mkdir()
        trace = self.trace_dir / "trace"
        argv = [
            "bwrap",
            "--ro-bind", "/", "/",
            "--tmpfs", "/tmp",  # noqa: S108 - a fresh tmpfs inside the sandbox
            "--bind", str(self.root), str(self.root),
            "--bind", str(self.trace_dir), str(self.trace_dir),
            "--dev", "/dev",
            "--proc", "/proc",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--chdir", self.project,
            "--clearenv",
            "--setenv", "HOME", self.home,
            "--setenv", "PATH", _PATH,
            "--setenv", "LANG", "C.UTF-8",
            "--setenv", "GIT_CONFIG_NOSYSTEM", "1",
            "--setenv", "GIT_PAGER", "cat",
            "--setenv", "PAGER", "cat",
            *(item for name, value in env for item in ("--setenv", name, value)),
            "--",
            "strace", "-f", "-qq", "-y", "-s", "4096", "-e", f"trace={_TRACED}", "-o", str(trace),
            "--", "timeout", "-s", "KILL", str(int(timeout)), "bash", "-c", command,
        ]  # fmt: skip
        timed_out = False
        with subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ) as proc:
            try:
                out, _ = proc.communicate(timeout=timeout + 10)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                out, _ = proc.communicate()
        text = trace.read_text("utf-8", "surrogateescape") if trace.exists() else ""
        observed = parse_trace(text)
        root = str(self.root)
        # anything written below the root (or a run cut short) makes the next command start afresh
        self.dirty = timed_out or any(p == root or p.startswith(root + "/") for p in observed.writes)
        self.dirty = made or self.dirty or not os.path.isfile(os.path.join(self.project, ".env"))
        return observed._replace(
            output=out[:1_000_000].decode("utf-8", "replace"), timed_out=timed_out, status=proc.returncode
        )

    def _make(self, files: tuple[str, ...]) -> bool:
        """Make the missing ``files`` below the project (never outside it); True when any was made."""
        made = False
        project = os.path.realpath(self.project)
        for rel in files:
            target = os.path.normpath(os.path.join(project, rel))
            if not target.startswith(project + "/") or os.path.lexists(target):
                continue
            try:
                if rel.endswith("/"):
                    os.makedirs(target)
                else:
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    with open(target, "x", encoding="utf-8") as handle:
                        handle.write("sample line\n")
            except OSError:
                continue  # a name the file system refuses (or a file where a folder should be)
            made = True
        return made


# -- the trace --------------------------------------------------------------------------------------

_LINE = re.compile(r"^(\d+)\s+(.*)$")
_STR = r'"((?:[^"\\]|\\.)*)"'
_EXECVE = re.compile(rf"^execve\({_STR}, \[(.*?)\](?:\.\.\.)?, .*\)\s+= 0")
_DIRFD = r"(?:AT_FDCWD|-?\d+)(?:<(.*?)>)?"
_OPENAT = re.compile(
    rf"^openat\({_DIRFD}, {_STR}(?:\.\.\.)?, ([A-Z_|0-9]+)(?:, \d+)?\)\s+= (-?\d+)(?:<(.*)>)?"
)
_OPEN = re.compile(rf"^(?:open|creat)\({_STR}(?:\.\.\.)?, ([A-Z_|0-9]+)(?:, \d+)?\)\s+= (-?\d+)(?:<(.*)>)?")
_WRITE_CALLS = re.compile(
    r"^(?:unlinkat|mkdirat|renameat2?|symlinkat|linkat|fchmodat|fchownat|utimensat|mknodat"
    r"|unlink|mkdir|rename|truncate|symlink|link|chmod|chown|lchown|mknod)\("
)
_AT_PAIR = re.compile(rf"{_DIRFD}, {_STR}")
_FIRST_PATH = re.compile(rf"^\w+\({_STR}(?:, {_STR})?")
_CONNECT = re.compile(r"^connect\(.*?\{sa_family=(AF_INET6?|AF_UNIX)(.*?)\}")
_INET = re.compile(r'sin6?_port=htons\((\d+)\).*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")')
_UNIX = re.compile(r'sun_path=@?"((?:[^"\\]|\\.)*)"')
_FORK = re.compile(r"^(?:clone3?|v?fork)\(.*\)\s+= (\d+)")
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def _unescape(text: str) -> str:
    raw = codecs.escape_decode(text.encode("utf-8", "surrogateescape"))[0]
    assert isinstance(raw, bytes)
    return raw.decode("utf-8", "surrogateescape")


def _joined(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(pid, call) for each trace line, ``<unfinished ...>`` calls joined to their ``<... resumed>`` ends.
    An unfinished fork is also yielded when it starts, as ``(pid, "fork-started")``: its child may
    run before the parent's line resumes."""
    pending: dict[str, str] = {}
    for line in lines:
        match = _LINE.match(line)
        if not match:
            continue
        pid, body = match.groups()
        if body.endswith("<unfinished ...>"):
            pending[pid] = body[: -len("<unfinished ...>")].rstrip()
            if re.match(r"(?:clone3?|v?fork)\(", body):
                yield pid, "fork-started"
            continue
        resumed = re.match(r"^<\.\.\. \w+ resumed>\s?(.*)$", body)
        if resumed:
            body = pending.pop(pid, "") + resumed.group(1)
        yield pid, body


def _absolute(folder: str | None, path: str) -> str:
    if path.startswith("/"):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(folder or "/", path))


def parse_trace(text: str) -> Observed:
    """What an ``strace -f -y`` trace says was executed, read, written and connected to."""
    execs: list[tuple[str, tuple[str, ...]]] = []
    reads: set[str] = set()
    writes: set[str] = set()
    connects: list[str] = []
    program: dict[str, str] = {}
    running: dict[str, str] = {}  # pid -> the basename of the file it last executed
    blind: set[str] = set()
    forking: dict[str, str] = {}  # pid inside an unfinished fork -> the program it runs
    for pid, body in _joined(iter(text.splitlines())):
        if body == "fork-started":
            forking[pid] = program.get(pid, "")
            continue
        if pid not in program and forking:
            program[pid] = next(reversed(forking.values()))  # a child seen before its parent's fork returned
        if body.startswith("execve("):
            match = _EXECVE.match(body)
            if match:
                args = [_unescape(a) for a in re.findall(_STR, match.group(2))]
                path = _unescape(match.group(1))
                owner = program.get(pid, "")
                execs.append((owner, (path, *args[1:])))
                running[pid] = os.path.basename(path)
                if _shell_like(owner):  # what a shell runs owns whatever it runs in turn
                    program[pid] = os.path.basename(path)
            continue
        forked = _FORK.match(body)
        if forked:
            forking.pop(pid, None)
            program.setdefault(forked.group(1), program.get(pid, ""))
            continue
        match = _OPENAT.match(body)
        opened: tuple[str, str, str, str | None] | None = None
        if match:
            folder, path, flags, result, real = match.groups()
            opened = (_absolute(folder, _unescape(path)), flags, result, real)
        else:
            match = _OPEN.match(body)
            if match:
                path, flags, result, real = match.groups()
                opened = (_absolute(None, _unescape(path)), flags, result, real)
        if opened is not None:
            path, flags, result, real = opened
            if any(flag in flags for flag in _WRITE_FLAGS) or body.startswith("creat("):
                writes.add(path)
            elif result != "-1" and "O_DIRECTORY" not in flags:
                reads.add(_unescape(real) if real else path)
                if program.get(pid) == "xargs" and running.get(pid) in _XARGS_BLIND:
                    blind.add(_unescape(real) if real else path)
            continue
        if _WRITE_CALLS.match(body):
            call = body.split("(", 1)[0]
            pairs = _AT_PAIR.findall(body)
            if call in ("symlinkat", "linkat") and pairs:
                pairs = pairs[-1:]  # the link made, not what it points to
            if pairs:
                writes.update(_absolute(folder or None, _unescape(path)) for folder, path in pairs)
            else:
                plain = _FIRST_PATH.match(body)
                if plain:
                    both = [p for p in plain.groups() if p is not None]
                    kept = both[-1:] if call in ("symlink", "link") else both
                    writes.update(_absolute(None, _unescape(p)) for p in kept)
            continue
        match = _CONNECT.match(body)
        if match:
            family, rest = match.groups()
            if family == "AF_UNIX":
                unix = _UNIX.search(rest)
                where = unix.group(1) if unix else ""
                if "nscd" not in where:
                    connects.append(f"unix:{where}")
            else:
                inet = _INET.search(rest)
                connects.append(
                    f"inet:{(inet.group(2) or inet.group(3)) if inet else '?'}:{inet.group(1) if inet else '?'}"
                )
    return Observed(
        tuple(execs), frozenset(reads), frozenset(writes), tuple(connects), "", blind_reads=frozenset(blind)
    )


# -- the comparison ---------------------------------------------------------------------------------


def _profiles() -> dict[str, Policy]:
    from ..policy.load import load_policy

    return {name: load_policy(f"profile:{name}") for name in ("baseline", "readonly")}


_POLICIES: dict[str, Policy] = {}


def verdicts(command: str, project: str, home: str) -> tuple[dict[str, str], Any]:
    """The engine's verdict per shipped profile, and the normalised call."""
    from ..agents.claude_code.normalize import tool_call
    from ..engine import decide
    from ..errors import HookInputError
    from ..model import Event, SessionState

    if not _POLICIES:
        _POLICIES.update(_profiles())
    try:
        call = tool_call("Bash", {"command": command}, cwd=project, home=home)
    except HookInputError:
        return dict.fromkeys(_POLICIES, "deny"), None
    event = Event(kind="pre_tool_use", session_id="oracle", cwd=project, home=home, tool=call)
    return {name: decide(policy, event, SessionState()).verdict for name, policy in _POLICIES.items()}, call


SHELL_NAMES = frozenset({"bash", "sh", "dash", "timeout", ""})
"""Programs whose children the analysis itself must name (the shell running the command)."""


def _shell_like(name: str) -> bool:
    """A shell, or a wrapper the analysis sees through: what it runs must be named by the analysis."""
    wrapper = UNWRAPPED.get(name)
    return name in SHELL_NAMES or (wrapper is not None and not wrapper.keep)


def _helper(program: str, named: set[str]) -> bool:
    """Is ``program`` a helper one of the named programs runs by itself (``npm`` runs ``node``)?"""
    from fnmatch import fnmatchcase

    return any(fnmatchcase(program, pattern) for name in named for pattern in HELPERS.get(name, ()))


def compare(call: Any, observed: Observed, root: str, *, allowed: bool = True) -> list[str]:
    """Everything bash did that the analysis of ``call`` did not name (and, for a command the engine
    allows, any protected content it printed)."""
    problems: list[str] = []
    named = {os.path.basename(c.argv[0]) for c in call.commands if c.argv}
    start = next((i + 1 for i, (_, argv) in enumerate(observed.execs) if argv[1:2] == ("-c",)), 0)
    for launcher, argv in observed.execs[start:]:  # before: `timeout` and the sandbox's `bash -c`
        program = os.path.basename(argv[0])
        wrapper = UNWRAPPED.get(program)
        if (wrapper is not None and not wrapper.keep) or program in named:
            continue  # a transparent wrapper (`nice`, `env -C`): the command it runs is checked itself
        if launcher in named and launcher not in SHELL_NAMES and _helper(program, {launcher}):
            continue  # a helper the named program runs by itself (gcloud's launcher script)
        problems.append(
            f"{launcher or 'the shell'} ran {program!r} ({' '.join(argv)[:120]!r}), which the analysis did not name"
        )
    covered = [(a.path, a.recursive) for a in call.accesses]

    def known(path: str) -> bool:
        return any(
            path == p or (recursive and path.startswith(p.rstrip("/") + "/")) for p, recursive in covered
        )

    git_runs = "git" in named
    # xargs running a names-and-metadata program (`xargs wc -l --`, `xargs stat`): the files that
    # program opens come from stdin, so the analysis cannot name them; what it prints is checked by
    # the canaries. Reads by xargs itself (`-a FILE`) must still be named.
    blind = observed.blind_reads if "xargs" in named and not call.opaque else frozenset()
    # its own configuration in whatever home it found (`env -i` leaves it the passwd entry's)
    own_parts = tuple(f"/{p}" for name in named for p in OWN_FILES.get(name, ()))
    for path in sorted(observed.reads):
        if not path.startswith(root + "/") or known(path) or os.path.isdir(path):
            continue
        if any(part in path + "/" for part in own_parts):
            continue
        if git_runs or path in blind:
            continue  # git hashes the files it tracks; what it prints is checked by the canaries below
        problems.append(f"read {path}, which the analysis did not name")
    written = [a.path.rstrip("/") for a in call.accesses if a.mode == "write"]
    if named & TEMP_WRITERS:
        written.append("/tmp")  # noqa: S108 - their own temporary files (`tac` buffers a pipe in one)
    for path in sorted(observed.writes):
        if path.startswith(_QUIET_WRITES) or known(path) or any(path.startswith(w + "/") for w in written):
            continue
        if git_runs and "/.git/" in path:
            continue
        if path.startswith(root + "/home/") and any(c in path + "/" for c in _CACHES):
            continue
        if any(part in path + "/" or part.startswith(path[path.rfind("/") :] + "/") for part in own_parts):
            continue  # its own configuration, and the folder above it (`~/.config`)
        problems.append(f"wrote {path}, which the analysis did not name")
    if observed.connects and not call.hosts:
        problems.append(f"connected to {', '.join(observed.connects[:3])} with no host in the analysis")
    if allowed and CANARY in observed.output:
        leaked = sorted(set(re.findall(rf"{CANARY}[A-Z]+", observed.output)))
        problems.append(f"printed protected content ({', '.join(leaked)})")
    return problems


def check(sandbox: Sandbox, command: str) -> Result:
    """Decide ``command``; if any shipped profile allows it, run it and list the under-reports."""
    found, call = verdicts(command, sandbox.project, sandbox.home)
    if call is None or "allow" not in found.values():
        return Result(command, found)
    observed = sandbox.observe(command)
    problems = compare(call, observed, str(sandbox.root))
    return Result(command, found, tuple(problems), ran=True, timed_out=observed.timed_out)


# -- read-only by the oracle (the benign denominator) -----------------------------------------------

UNOBSERVABLE = frozenset(
    {
        # run code they are given or the project's own: a scratch project has none, so a quiet run proves nothing
        *("python", "python3", "python2", "node", "deno", "bun", "ruby", "perl", "php", "java", "lua"),
        *("make", "cmake", "ninja", "cargo", "rustc", "go", "gradle", "gradlew", "mvn", "ant", "dotnet"),
        *("npm", "npx", "yarn", "pnpm", "pip", "pip3", "uv", "poetry", "pipx", "gem", "bundle", "composer"),
        *("terraform", "tofu", "cdk", "pulumi", "packer", "ansible", "ansible-playbook", "tox", "nox"),
        *("pytest", "jest", "vitest", "tsc", "eslint", "prettier", "ruff", "mypy", "black", "pre-commit"),
        *("bash", "sh", "dash", "zsh", "fish", "eval", "source", ".", "exec", "parallel", "watch"),
        *("sudo", "su", "script", "expect"),
        # runs its command on words from stdin, which the scratch run leaves empty: the files it would
        # open are not seen (`xargs cat` reads whatever it is fed; the wrappers env, nice, timeout …
        # are judged by the commands they run, which the analysis names)
        "xargs",
        # clients of a service: without the server or credentials they fail before doing anything
        *("aws", "gcloud", "gsutil", "az", "kubectl", "helm", "oc", "docker", "podman", "gh", "glab"),
        *("psql", "mysql", "mongosh", "redis-cli", "sqlcmd", "curl", "wget", "ssh", "scp", "sftp"),
        *("rsync", "nc", "ncat", "telnet", "ftp", "ping", "dig", "nslookup", "host", "openssl", "vault"),
        # writers whose target a scratch run may not hold (`rm x` with no x writes nothing)
        *("rm", "rmdir", "mv", "cp", "ln", "mkdir", "touch", "chmod", "chown", "chgrp", "dd", "tee"),
        *("install", "truncate", "shred", "kill", "pkill", "killall", "crontab", "patch", "unlink"),
        *("tar", "zip", "unzip", "gzip", "gunzip", "bzip2", "xz", "7z", "split", "csplit"),
    }
)
"""Programs whose effects a run in the scratch sandbox cannot show (see :func:`read_only_by_oracle`)."""
GIT_OBSERVED = frozenset(
    {
        *("status", "log", "show", "diff", "branch", "tag", "remote", "config", "rev-parse", "ls-files"),
        *("blame", "grep", "describe", "shortlog", "reflog", "cat-file", "ls-tree", "stash", "worktree"),
        *("help", "version", "rev-list", "show-ref", "for-each-ref", "name-rev", "merge-base", "whatchanged"),
        *("count-objects", "var", "check-ignore", "annotate", "diff-tree", "diff-files", "diff-index"),
    }
)
"""git subcommands whose every effect the scratch repository can show (a ref made, the config changed);
the others (commit, checkout, merge, push, fetch …) need a repository state or a remote it does not have."""
_FILE_WORD = re.compile(r"^(?!-)(?![./]*$)[\w.@+-][\w./@+-]*$")
_BUILTINS: set[str] = set()


def _shell_builtins() -> set[str]:
    if not _BUILTINS:
        done = subprocess.run(
            ["bash", "-c", "compgen -b; compgen -k"], capture_output=True, text=True, check=False
        )
        _BUILTINS.update(done.stdout.split())
    return _BUILTINS


def scratch_files(call: Any) -> tuple[str, ...]:
    """The file-looking arguments of a call (relative, with a dot or a slash): made in the scratch
    project before the run so that a writer finds its target (``sed -i s/a/b/ notes.md``)."""
    found: list[str] = []
    for command in call.commands:
        for word in command.argv[1:]:
            if (
                _FILE_WORD.match(word)
                and ("." in word.strip(".") or "/" in word.strip("/"))
                and ".." not in word.split("/")
                and len(word) < 120
            ):
                found.append(word)
    return tuple(dict.fromkeys(found))


def read_only_by_oracle(sandbox: Sandbox, command: str) -> str:
    """'' when the scratch run shows ``command`` read-only, else a short reason why it does not.

    Read-only by the oracle: every program the analysis names is installed (or a shell builtin) and
    none of them is :data:`UNOBSERVABLE` (git: only :data:`GIT_OBSERVED` subcommands); run once in the
    sandbox (its file-looking arguments made as small files in the scratch project), it wrote no file
    outside ``/dev`` and ``/proc`` (bash's own here-document file aside), opened no socket, executed
    only programs that are not :data:`UNOBSERVABLE` (git's own helpers aside; git's refresh of its
    index, a stat cache, is not a write), was found by bash
    (no status 127), and the analysis names no write either.
    """
    from ..agents.claude_code.normalize import tool_call
    from ..errors import HookInputError

    try:
        call = tool_call("Bash", {"command": command}, cwd=sandbox.project, home=sandbox.home)
    except HookInputError:
        return "unparsed"
    if not call.commands:
        return "no-command"
    builtins = _shell_builtins()
    for cmd in call.commands:
        name = os.path.basename(cmd.argv[0]) if cmd.argv else ""
        if name in UNOBSERVABLE:
            return "unobservable"
        if name == "git":
            sub = next((w for w in cmd.argv[1:] if not w.startswith("-")), "")
            if sub not in GIT_OBSERVED:
                return "unobservable"
        if name not in builtins and shutil.which(name, path=_PATH) is None:
            return "not-installed"
    if any(a.mode == "write" for a in call.accesses):
        return "write"
    observed = sandbox.observe(
        command, timeout=5.0, files=scratch_files(call), env=(("GIT_OPTIONAL_LOCKS", "0"),)
    )
    for _owner, argv in observed.execs:
        program = os.path.basename(argv[0])
        if program in UNOBSERVABLE and program not in SHELL_NAMES:
            return "unobservable"
    if observed.status == 127 or "command not found" in observed.output:
        return "not-installed"
    git_refresh = ("/.git/index", "/.git/index.lock")  # git's stat cache, refreshed by `git diff`
    if any(
        not w.startswith(("/dev/", "/proc/", _BASH_HEREDOC)) and not w.endswith(git_refresh)
        for w in observed.writes
    ):
        return "write"
    if observed.connects:
        return "network"
    return ""


# -- the generator ----------------------------------------------------------------------------------

BENIGN_FILES = (
    "README.md",
    "notes.txt",
    "src/app.py",
    "docs/guide.md",
    "src",
    "docs",
    "~/notes.txt",
    "config.txt",
)
PROTECTED_FILES = (
    ".env",
    ".env_local",
    ".ENV.prod",
    "secrets/key",
    "secrets",
    "src/server.pem",
    "id_rsa.bak",
    "deploy.key",
    "~/.ssh/id_rsa",
    "~/.aws/credentials",
    "app.py",  # below src/: a `cd src` or `env -C src` makes it a real file
    "../.env",
    "key",
    "/proc/self/cwd/.env",  # resolved in the command's process: its folder, after any cd or env -C
    "/proc/thread-self/cwd/key",
    "/proc/self/cwd/../.env",
)
READERS = (
    "cat {f}",
    "head -n 2 {f}",
    "tail -n1 {f}",
    "wc -l {f}",
    "grep -n a {f}",
    "grep --reg=a {f}",
    "grep --regexp a {f}",
    "grep -e a -- {f}",
    "grep --fil {f} README.md",
    "grep --exclude-from {f} a README.md",
    "grep -r a {f}",
    "grep -ra {f}",
    "sed -n 1p {f}",
    "sed --quiet 1p {f}",
    "sort {f}",
    "sort --rev {f}",
    "uniq {f}",
    "nl {f}",
    "cut -c1-3 {f}",
    "od -c {f}",
    "strings {f}",
    "base64 {f}",
    "md5sum {f}",
    "file {f}",
    "stat {f}",
    "ls -la {f}",
    "du -a {f}",
    "tree {f}",
    "find {f} -name '*'",
    "find {f} -type f",
    "rg -n a {f}",
    "rg --files {f}",
    "diff {f} README.md",
    "cmp {f} README.md",
    "tac {f}",
    "rev {f}",
    "fold {f}",
    "xxd {f}",
    "echo {f}",
    "printf '%s\\n' {f}",
    "realpath {f}",
    "jq -R . {f}",
    "awk '{{print}}' {f}",
    "tr a b < {f}",
    "paste {f}",
    "column {f}",
    "expand {f}",
    "iconv -f utf-8 -t utf-8 {f}",
    "head --lines=1 {f}",
    "tail --byt=5 {f}",
    "cat < {f}",
    "wc < {f}",
    "git log --oneline -- {f}",
    "git log -p -- {f}",
    "git show HEAD:{f}",
    "git diff --stat -- {f}",
    "git blame {f}",
    # second pass: xargs, substitutions, decoders and listing forms the analysis now allows
    "printf '%s\\n' {f} | xargs ls -la",
    "echo {f} | xargs wc -c --",
    "echo {f} | xargs wc -c",
    "printf -- '--files0-from=%s' {f} | xargs wc -l --",
    "printf -- '--files0-from=%s' {f} | xargs du",
    "echo {f} | xargs -I % stat %",
    "echo {f} | xargs -0 realpath",
    "xargs --arg-file={f} ls",
    "xargs -a{f} stat",
    "xargs -0a {f} wc -c --",
    "ls $(echo {f})",
    "echo $(cat {f})",
    "stat $(printf %s {f})",
    "echo `head -1 {f}`",
    "zcat {f}",
    "gzip -dc {f}",
    "base64 -d {f}",
    "xxd -r -p {f}",
    "tar tf {f}",
    "git diff -- {f}",
    # fourth pass: nawk, git -C within the repository (paths below DIR), -c display keys
    "nawk '{{print}}' {f}",
    "git -C src log --oneline -- ../{f}",
    "git -C src blame ../{f}",
    "git -C . show HEAD:{f}",
    "git -c color.ui=never log --oneline -- {f}",
    "git -c core.editor=vim show --stat HEAD -- {f}",
)
PLAIN = (
    "ls",
    "pwd",
    "true",
    "echo hi",
    "git status",
    "git log --oneline",
    "git show --stat",
    "git diff --stat",
    "git grep -n token",
    "git show HEAD~1",
    "git show HEAD~1:config.txt",
    "git log -p",
    "git diff HEAD~1",
    "git branch -a",
    "git --version",
    "ls -R",
    "du -sh .",
    "find . -name '*.py'",
    "find . -execdir cat .env \\;",
    "find . -exec cat {} +",
    "date",
    "whoami",
    "uname -a",
    "echo $HOME",
    "printenv HOME",
    "git tag",
    "git tag -l 'v*'",
    "git branch --list 'm*'",
    "git cat-file -t HEAD",
    "echo $(whoami) `date`",
    "ls $(pwd)",
    "git ls-files | xargs stat",
    "git ls-files -z | xargs -0 du -sh --",
    "find . -type f | xargs wc -l --",
    "find . | xargs ls -ld",
)
WRAPPED = (
    "timeout 5 {c}",
    "nice {c}",
    "nohup {c}",
    "env {c}",
    "env -C src {c}",
    "env --chdir=src {c}",
    "env --chd secrets {c}",
    "env -iC secrets {c}",
    "command {c}",
    "stdbuf -o0 {c}",
    "time {c}",
    "LANG=C {c}",
    # fourth pass: assignments of names that steer nothing, and PATH of the system folders only
    "FOO=bar {c}",
    "env FOO=1 BAR=2 {c}",
    "env -i FOO=1 {c}",
    "env -i PATH=/usr/bin:/bin {c}",
    "MY_SETTING=x timeout 5 {c}",
)
STRUCTURES = (
    "{a} && {b}",
    "{a} || {b}",
    "{a}; {b}",
    "{a} | {b}",
    "({a})",
    "{{ {a}; }}",
    "if true; then {a}; fi",
    "if false; then :; else {a}; fi",
    "for i in 1; do {a}; done",
    "while false; do :; done; {a}",
    "case x in x) {a};; esac",
    "f() {{ {a}; }}; f",
    "f() {{ {a}; }}; cd src; f",
    "{a} # {b}",
    "{a} # \\\n{b}",
    "echo ok # \\\n{a}",
    "echo $({a})",
    'echo "$({a})"',
    "echo `{a}`",
    "cat <({a})",
    "{a} 2>&1",
    "{a} > /dev/null",
    "cat <<'EOF'\nx\\\nEOF\n{a}\nEOF",
    'cat <<"EOF"\n$({b})\nEOF\n{a}',
    "cat <<EOF\n$({a})\nEOF",
    "cat <<EOF\nx\\\nEOF\n$({a})\nEOF",
    "cat <<-EOF\n\tx\n\tEOF\n{a}",
    "cd src && {a}",
    "cd secrets && {a}",
    "cd .. && {a}",
    "cd && {a}",
    "cd ~/.ssh; {a}",
    "pushd src >/dev/null; {a}",
    "x=$((1+2)); {a}",
    "a=(1 2); {a}",
    "{a} &",
    "! {a}",
    "exec 3<README.md; {a}",
    "{a} \\\n  ",
    "diff <({a}) <({b})",
    "cat <({a})",
    "{a} < <({b})",
)
_HEX = "".join


def spellings(word: str) -> list[str]:
    """Ways bash reads as ``word`` (or as a glob matching it)."""
    out = [word, f"'{word}'", f'"{word}"']
    if word.startswith("~/"):
        rest = word[2:]
        out += [f"~/'{rest}'", f"$HOME/{rest}", f'"$HOME"/{rest}', f"${{HOME}}/{rest}"]
        return out
    if len(word) > 1:
        out += [
            f"{word[0]}'{word[1:]}'",
            f"{word[:1]}\\{word[1:]}",
            f"{word[:1]}\\\n{word[1:]}",
            f'{word[:1]}""{word[1:]}',
            "$'" + _HEX(f"\\x{ord(ch):02x}" for ch in word) + "'",
            word[:-1] + "?",
            word[:-1] + "*",
            f"{{{word},README.md}}",
            f"./{word}",
            f"src/../{word}",
        ]
    return out


def generate(choose: Any, depth: int = 2) -> str:
    """One command from the grammar; ``choose(seq)`` picks an element (random or hypothesis draws)."""
    kind = choose(("reader", "reader", "reader", "plain", "wrap", "struct", "struct", "ifs", "var"))
    if depth <= 0 or kind in ("reader", "plain", "ifs", "var"):
        if kind == "plain":
            return str(choose(PLAIN))
        target = choose(("benign", "protected", "protected"))
        word = choose(BENIGN_FILES if target == "benign" else PROTECTED_FILES)
        template = str(choose(READERS))
        if kind == "ifs":
            return template.replace(" {f}", "${{IFS}}{f}").format(f=word)
        if kind == "var":
            return f"x={choose(spellings(word))}; " + template.format(f=choose(("$x", '"$x"', "${x}")))
        return template.format(f=choose(spellings(word)))
    if kind == "wrap":
        return str(choose(WRAPPED)).format(c=generate(choose, depth - 1))
    return str(choose(STRUCTURES)).format(a=generate(choose, depth - 1), b=generate(choose, depth - 1))


def corpus_commands(limit: int = 5000) -> list[str]:
    """Development corpus commands worth mutating (dippy's auto-approvable ones, tldr's), or []."""
    import json

    base = os.environ.get("RAMPARTS_CORPORA")
    folder = Path(base) if base else Path(__file__).resolve().parents[3].parent / "shared" / "corpora"
    out: list[str] = []
    for name, keep in (("dippy.jsonl", "allow"), ("tldr.jsonl", None)):
        path = folder / "commands" / name
        if not path.is_file():
            continue
        for line in path.read_text("utf-8").splitlines():
            row = json.loads(line)
            if keep is None or row.get("label") == keep:
                out.append(str(row["text"]))
    step = max(1, len(out) // limit)
    return out[::step][:limit]


def mutate(command: str, choose: Any) -> str:
    """A corpus command with a protected file slipped in, or wrapped in a construct."""
    words = command.split(" ")
    how = choose(("file", "file", "wrap", "struct"))
    if how == "file":
        words[-1] = choose(spellings(choose(PROTECTED_FILES)))
        return " ".join(words)
    if how == "wrap":
        return str(choose(WRAPPED)).format(c=command)
    return str(choose(STRUCTURES)).format(a=command, b=generate(choose, 0))


def campaign(seed: int, cases: int, corpus: list[str] | None = None) -> Iterator[str]:
    """A reproducible stream of commands: the grammar, and mutations of corpus commands when given."""
    import random

    rng = random.Random(seed)  # noqa: S311 - a reproducible campaign, not a secret
    for _ in range(cases):
        if corpus and rng.random() < 0.3:
            yield mutate(rng.choice(corpus), rng.choice)
        else:
            yield generate(rng.choice, rng.choice((0, 1, 2, 2, 3)))


def commands() -> Any:
    """The grammar as a hypothesis strategy (for property tests of the analysis without the sandbox)."""
    from hypothesis import strategies as st

    @st.composite
    def draw(data: Any) -> str:
        return generate(lambda seq: data(st.sampled_from(tuple(seq))), data(st.integers(0, 3)))

    return draw()

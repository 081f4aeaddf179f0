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
_TRACED = "execve,openat,open,creat,connect,unlinkat,unlink,renameat,renameat2,rename,mkdirat,mkdir,truncate"
_QUIET_WRITES = (
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
    "git": ("git", "git-*", "ssh", "less", "pager"),
    "man": ("man", "manconv", "preconv", "tbl", "nroff", "groff", "troff", "grotty", "col", "less", "pager"),
    "timeout": (),
    "tree": (),
}


class Observed(NamedTuple):
    """What bash really did."""

    execs: tuple[tuple[str, ...], ...]
    """Every program executed (after the top-level bash): its argv, argv[0] replaced by the file run."""
    reads: frozenset[str]
    """Absolute paths of regular files opened for reading."""
    writes: frozenset[str]
    """Absolute paths opened for writing, created, removed, renamed or made."""
    connects: tuple[str, ...]
    """Network peers connected to (``inet:ADDR:PORT``, ``unix:PATH``)."""
    output: str
    timed_out: bool = False


class Result(NamedTuple):
    command: str
    verdicts: dict[str, str]
    """Profile name -> the engine's verdict."""
    problems: tuple[str, ...] = ()
    """Under-reports in a command some profile allows (empty: the analysis and bash agree)."""
    ran: bool = False


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
        self._build_template()

    def _build_template(self) -> None:
        for rel, (content, _protected) in BAIT.items():
            path = self.template / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        project = self.template / "project"
        env = {
            "PATH": _PATH,
            "HOME": str(self.template / "home"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "o",
            "GIT_AUTHOR_EMAIL": "o@example.invalid",
            "GIT_COMMITTER_NAME": "o",
            "GIT_COMMITTER_EMAIL": "o@example.invalid",
        }

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

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():  # a command made something unremovable: start from a fresh folder
            subprocess.run(["chmod", "-R", "u+rwx", str(self.root)], check=False, capture_output=True)
            shutil.rmtree(self.root)
        shutil.copytree(self.template, self.root, symlinks=True)
        shutil.rmtree(self.trace_dir, ignore_errors=True)
        self.trace_dir.mkdir()

    def close(self) -> None:
        subprocess.run(["chmod", "-R", "u+rwx", str(self.base)], check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def observe(self, command: str, timeout: float = 8.0) -> Observed:
        """Run ``command`` with ``bash -c`` in the sandbox and trace it."""
        self.reset()
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
        return observed._replace(output=out[:1_000_000].decode("utf-8", "replace"), timed_out=timed_out)


# -- the trace --------------------------------------------------------------------------------------

_LINE = re.compile(r"^(\d+)\s+(.*)$")
_STR = r'"((?:[^"\\]|\\.)*)"'
_EXECVE = re.compile(rf"^execve\({_STR}, \[(.*?)\](?:\.\.\.)?, .*\)\s+= 0")
_DIRFD = r"(?:AT_FDCWD|-?\d+)(?:<(.*?)>)?"
_OPENAT = re.compile(
    rf"^openat\({_DIRFD}, {_STR}(?:\.\.\.)?, ([A-Z_|0-9]+)(?:, \d+)?\)\s+= (-?\d+)(?:<(.*)>)?"
)
_OPEN = re.compile(rf"^(?:open|creat)\({_STR}(?:\.\.\.)?, ([A-Z_|0-9]+)(?:, \d+)?\)\s+= (-?\d+)(?:<(.*)>)?")
_AT_WRITE = re.compile(rf"^(?:unlinkat|mkdirat|renameat2?)\({_DIRFD}, {_STR}")
_PATH_WRITE = re.compile(rf"^(?:unlink|mkdir|rename|truncate)\({_STR}")
_CONNECT = re.compile(r"^connect\(.*?\{sa_family=(AF_INET6?|AF_UNIX)(.*?)\}")
_INET = re.compile(r'sin6?_port=htons\((\d+)\).*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")')
_UNIX = re.compile(r'sun_path=@?"((?:[^"\\]|\\.)*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def _unescape(text: str) -> str:
    raw = codecs.escape_decode(text.encode("utf-8", "surrogateescape"))[0]
    assert isinstance(raw, bytes)
    return raw.decode("utf-8", "surrogateescape")


def _joined(lines: Iterator[str]) -> Iterator[str]:
    """Trace lines with ``<unfinished ...>`` calls joined to their ``<... resumed>`` ends, pid removed."""
    pending: dict[str, str] = {}
    for line in lines:
        match = _LINE.match(line)
        if not match:
            continue
        pid, body = match.groups()
        if body.endswith("<unfinished ...>"):
            pending[pid] = body[: -len("<unfinished ...>")].rstrip()
            continue
        resumed = re.match(r"^<\.\.\. \w+ resumed>\s?(.*)$", body)
        if resumed:
            body = pending.pop(pid, "") + resumed.group(1)
        yield body


def _absolute(folder: str | None, path: str) -> str:
    if path.startswith("/"):
        return os.path.normpath(path)
    return os.path.normpath(os.path.join(folder or "/", path))


def parse_trace(text: str) -> Observed:
    """What an ``strace -f -y`` trace says was executed, read, written and connected to."""
    execs: list[tuple[str, ...]] = []
    reads: set[str] = set()
    writes: set[str] = set()
    connects: list[str] = []
    for body in _joined(iter(text.splitlines())):
        if body.startswith("execve("):
            match = _EXECVE.match(body)
            if match:
                args = [_unescape(a) for a in re.findall(_STR, match.group(2))]
                execs.append((_unescape(match.group(1)), *args[1:]))
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
            continue
        match = _AT_WRITE.match(body)
        if match:
            writes.add(_absolute(match.group(1), _unescape(match.group(2))))
            continue
        match = _PATH_WRITE.match(body)
        if match:
            writes.add(_absolute(None, _unescape(match.group(1))))
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
    return Observed(tuple(execs), frozenset(reads), frozenset(writes), tuple(connects), "")


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


def _helper(program: str, named: set[str]) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(program, pattern) for name in named for pattern in HELPERS.get(name, ()))


def compare(call: Any, observed: Observed, root: str) -> list[str]:
    """Everything bash did that the analysis of ``call`` did not name."""
    problems: list[str] = []
    named = {os.path.basename(c.argv[0]) for c in call.commands if c.argv}
    start = next((i + 1 for i, argv in enumerate(observed.execs) if argv[1:2] == ("-c",)), 0)
    for argv in observed.execs[start:]:  # before: `timeout` and the `bash -c` the sandbox started
        program = os.path.basename(argv[0])
        if program not in named and not _helper(program, named):
            problems.append(f"ran {program!r} ({' '.join(argv)[:120]!r}), which the analysis did not name")
    covered = [(a.path, a.recursive) for a in call.accesses]

    def known(path: str) -> bool:
        return any(
            path == p or (recursive and path.startswith(p.rstrip("/") + "/")) for p, recursive in covered
        )

    git_runs = "git" in named
    for path in sorted(observed.reads):
        if not path.startswith(root + "/") or known(path) or os.path.isdir(path):
            continue
        if git_runs:
            continue  # git hashes the files it tracks; what it prints is checked by the canaries below
        problems.append(f"read {path}, which the analysis did not name")
    for path in sorted(observed.writes):
        if path.startswith(_QUIET_WRITES) or known(path):
            continue
        if git_runs and "/.git/" in path:
            continue
        problems.append(f"wrote {path}, which the analysis did not name")
    if observed.connects and not call.hosts:
        problems.append(f"connected to {', '.join(observed.connects[:3])} with no host in the analysis")
    if CANARY in observed.output:
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
    if observed.timed_out:
        problems.append("timed out in the sandbox")
    return Result(command, found, tuple(problems), ran=True)

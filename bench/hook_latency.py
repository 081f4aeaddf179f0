"""Whole-process latency of ``ramparts hook``, the command Claude Code runs before every tool call.

Usage::

    .venv/bin/python bench/hook_latency.py [--quick] [--runs N] [--profile] [--busy N] [--before SRC]

Sets up a throwaway policy (``ramparts policy init --profile baseline``), state directory and project
(README.md, .env), runs every payload once outside the measurements (what a first event builds on a fresh
state, such as the compiled policy and the secret rules' cache, is printed apart as ``first_event_max_ms``)
and waits for the background warm-up those runs start, then runs the hook of the source tree given as
``--after`` (default: this checkout's ``src``), the installed command's interpreter and flags
(``<python> -I ... hook --policy P --state-dir S``, see ``ramparts.policy.compile.hook_command``) with
that tree first on its path, with recorded Claude Code PreToolUse payloads on stdin, round-robin. Every
round runs each variant once, in a shuffled order, so machine noise hits all of them alike:

- ``hook``        the cold hook of ``--after`` as that tree installs it (:func:`cold_argv`): ``python -I
                  -S SRC/ramparts/agents/claude_code/run_hook.py hook ...`` (the launcher puts its own
                  tree on ``sys.path``); a tree from before the launcher: ``python -I -c BOOT SRC hook
                  ...`` (``BOOT`` puts SRC first on ``sys.path``, which ``-I`` keeps PYTHONPATH out of)
- ``hook_script`` the console script, ``.venv/bin/ramparts hook ...`` (no ``-I``, no runpy; the tree
                  the interpreter has installed, which may not be ``--after``)
- ``bare``        ``python -I -c pass``: the floor any Python hook pays
- ``bare_S``      ``python -I -S -c pass``: the floor without ``site``
- ``thin``        ``python -I -S -c CLIENT``: a thin client asking a warm resident process over a Unix
  socket (started here from ``--after``; it runs the same ``Hook`` in-process, durable audit write included)
- ``resident``    the product of that idea: ``python -I -S run_hook_client.py -- <hook command>`` asking a
  real ``ramparts hook-server`` of ``--after`` (its own state directory; what ``compile`` installs)

Every hook run must exit 0 and print a ``hookSpecificOutput``; the audit store must gain exactly one
record per run and its hash chain must verify. Any failure ends the benchmark with exit status 1.
The last line is machine-readable::

    RESULT hook_p50_ms=... hook_p99_ms=... bare_p50_ms=... ratio_p50=... ratio_p99=...
           resident_p50_ms=... resident_p99_ms=... resident_ratio_p50=... resident_ratio_p99=... runs=...

``--before SRC`` adds a side-by-side run of two source trees (``--after SRC``, default this checkout's
``src``; e.g. ``git worktree add /tmp/base BASE`` then ``--before /tmp/base/src``) over the outbound-DLP
cases (a call with no sink, an allowlisted MCP call with 2 KB of text, a WebFetch, a curl upload, a
read): each round runs every case under both trees in shuffled order, and the report gives the p50 and
p95 of each and the after/before ratio; the RESULT line then ends with ``outbound_*`` figures. The same
rounds run each tree's resident hook (its own ``hook-server`` and the client command that tree installs,
``run_hook_client.py`` or, before it, ``hook_client.py``) and a bare interpreter, so the resident and
cold figures of both trees, as ratios to bare, come from one run (``resident_*``, ``cold_*``).

With ``--before``, the same rounds also run both trees' cold hook on one event of each kind (SessionStart,
UserPromptSubmit, PreToolUse Bash/Read/Write/Edit/WebFetch, a Read of a missing file, PostToolUse,
SessionEnd) beside a bare interpreter, check that both trees answer each alike, and report each kind's
p50 as a ratio to bare (``events_*``). Both comparisons also give each process's CPU time (user +
system, from the children's rusage) against a bare interpreter's (``cold_cpu_*``, ``events_cpu_*``): on
a machine shared with other jobs, wall time includes waiting for a core and for the disk, CPU time
much less so.

``--busy N`` keeps N busy-looping processes running while measuring (a synthetic background load, for
the tail figures under load).

``--profile`` adds where the time goes: ``-X importtime`` of the hook (top 15 imports by cumulative time,
top 10 by self time, who imports what), the process split into start / imports / work / teardown, what
single stdlib modules cost a fresh interpreter, phases inside one process, cProfile of ``Hook.run``
in-process (warm, top 15 by cumulative time) and of one whole cold hook, and what SQLite costs a hook
process (``synchronous=FULL`` vs ``NORMAL``, checkpoint on close).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PAYLOADS_FILE = BENCH_DIR / "payloads.jsonl"
VARIANTS = ("hook", "hook_script", "bare", "bare_S", "thin", "resident")
WATCHED_MODULES = (
    "argparse",
    "typing",
    "dataclasses",
    "enum",
    "re",
    "json",
    "pathlib",
    "hashlib",
    "_hashlib",
    "hmac",
    "sqlite3",
    "_sqlite3",
    "datetime",
    "shlex",
    "glob",
    "fnmatch",
    "ipaddress",
    "urllib.parse",
    "shutil",
    "locale",
    "signal",
    "runpy",
    "socket",
    "site",
)

# The resident helper: a warm process that keeps ramparts imported and the audit connection open, and
# answers one hook event per connection. Reply: one ASCII digit (the exit code), then the hook's stdout.
SERVER_CODE = r"""
import io, json, socket, sys, time
sys.path.insert(0, sys.argv.pop(1))  # the source tree measured
from ramparts.agents.claude_code.hook import Hook

policy, state, path = sys.argv[1:4]
times = []
store = None

class KeepOpen:
    # the warm audit connection, shared by every request; Hook.run closing it leaves it open
    def __init__(self, inner):
        self.inner = inner
    def __getattr__(self, name):
        return getattr(self.inner, name)  # append, path, ...
    def close(self):
        pass

def handle(data):
    global store
    out, err = io.StringIO(), io.StringIO()
    hook = Hook(policy=policy, state=state, stdin=io.BytesIO(data), stdout=out, stderr=err)
    hook.store = store
    code = hook.run()
    if store is None and hook.store is not None:
        hook.store.close()  # the first request opened its own; open the shared one for the rest
        from pathlib import Path
        from ramparts.audit.store import AuditStore
        store = KeepOpen(AuditStore(Path(state) / "audit.db"))
    return str(code).encode() + out.getvalue().encode()

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(64)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        data = b"".join(chunks)
        if data == b"STATS":
            conn.sendall(json.dumps(times).encode())
            continue
        t0 = time.perf_counter()
        reply = handle(data)
        times.append(time.perf_counter() - t0)
        conn.sendall(reply)
"""

# The thin client: no site, no socket.py (enum, selectors), just _socket. A real one would fall back to
# evaluating in-process (import ramparts from a path baked in at install time) when connect() fails.
CLIENT_CODE = (
    "import _socket,sys\n"
    "s=_socket.socket(_socket.AF_UNIX,_socket.SOCK_STREAM)\n"
    "s.connect(sys.argv[1])\n"
    "s.sendall(sys.stdin.buffer.read())\n"
    "s.shutdown(_socket.SHUT_WR)\n"
    "b=[]\n"
    "while 1:\n"
    " c=s.recv(65536)\n"
    " if not c:break\n"
    " b.append(c)\n"
    "r=b''.join(b)\n"
    "sys.stdout.buffer.write(r[1:])\n"
    "sys.exit(r[0]-48)\n"
)


class BenchError(Exception):
    pass


# -- setup --------------------------------------------------------------------------------------------


class Setup:
    def __init__(self, root: Path, python: str, src: Path) -> None:
        self.root = root
        self.python = python
        self.src = src
        """The source tree the main table measures (``--after``): its hook, helper and hook-server."""
        self.script = str(Path(python).parent / "ramparts")
        self.policy = root / "ramparts.yaml"
        self.state = root / "state"
        self.daemon_state = root / "state-daemon"
        self.resident_state = root / "state-resident"
        self.client = ""
        self.resident: subprocess.Popen[bytes] | None = None
        self.extra_servers: list[subprocess.Popen[bytes]] = []
        """The --before/--after trees' own hook-servers."""
        self.project = root / "project"
        self.socket = str(root / "helper.sock")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.env.pop("RAMPARTS_POLICY", None)
        self.env.pop("RAMPARTS_STATE_DIR", None)
        self.server: subprocess.Popen[bytes] | None = None

    def create(self) -> None:
        self.project.mkdir()
        (self.project / "README.md").write_text("# Demo project\n\nTODO: write more.\n", "utf-8")
        (self.project / ".env").write_text("API_TOKEN=sk-test-0000000000000000\n", "utf-8")
        proc = subprocess.run(
            [
                self.python,
                "-I",
                "-m",
                "ramparts",
                "policy",
                "init",
                "--profile",
                "baseline",
                str(self.policy),
            ],
            capture_output=True,
            text=True,
            env=self.env,
        )
        if proc.returncode != 0:
            raise BenchError(f"policy init failed: {proc.stderr.strip()}")

    def hook_argv(self, *, script: bool = False, extra: Sequence[str] = ()) -> list[str]:
        """The cold hook of :attr:`src` as that tree installs it (:func:`cold_argv`, as the --before/--after
        rows run each tree), or the installed console script (``script``: whatever tree the interpreter
        has installed)."""
        if script:
            return [self.script, *self.hook_args()]
        return cold_argv(self.python, self.src, self.hook_args(), extra=extra)

    def hook_args(self, state: Path | None = None) -> list[str]:
        return ["hook", "--policy", str(self.policy), "--state-dir", str(state or self.state)]

    def resident_argv(self) -> list[str]:
        hook = cold_argv(self.python, self.src, self.hook_args(self.resident_state))
        return [self.python, "-I", "-S", self.client, "--no-start", "--", *hook]

    def start_resident(self) -> None:
        """A real ``ramparts hook-server`` of :attr:`src`, and the client that tree installs."""
        folder = self.src / "ramparts" / "agents" / "claude_code"
        client = folder / "run_hook_client.py"
        if not client.exists():
            client = folder / "hook_client.py"  # a tree from before the launcher
        if not client.exists():
            raise BenchError(f"{self.src} has no resident hook client")
        self.client = str(client)
        argv = [self.python, "-I", "-c", BOOT, str(self.src), "hook-server", "--policy", str(self.policy)]
        argv += ["--state-dir", str(self.resident_state), "--idle-exit", "300"]
        self.resident = subprocess.Popen(
            argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while not (self.resident_state / "hook.sock").exists():
            if self.resident.poll() is not None or time.monotonic() > deadline:
                raise BenchError("ramparts hook-server did not start")
            time.sleep(0.02)

    def payloads(self) -> list[bytes]:
        project = json.dumps(str(self.project))[1:-1]
        encoded = str(self.project).replace("/", "-").replace(".", "-")
        transcript = json.dumps(f"{Path.home()}/.claude/projects/{encoded}/session.jsonl")[1:-1]
        out = []
        for line in PAYLOADS_FILE.read_text("utf-8").splitlines():
            if line.strip():
                text = line.replace("@PROJECT@", project).replace("@TRANSCRIPT@", transcript)
                json.loads(text)  # must stay valid JSON
                out.append(text.encode())
        if not out:
            raise BenchError(f"no payloads in {PAYLOADS_FILE}")
        return out

    def start_server(self) -> None:
        self.server = subprocess.Popen(
            [
                self.python,
                "-I",
                "-c",
                SERVER_CODE,
                str(self.src),
                str(self.policy),
                str(self.daemon_state),
                self.socket,
            ],
            stdout=subprocess.PIPE,
            env=self.env,
            cwd=self.project,
        )
        assert self.server.stdout is not None
        if self.server.stdout.readline().strip() != b"ready":
            raise BenchError("the resident helper did not start")

    def server_times(self) -> list[float]:
        """The helper's own per-request Hook.run times (seconds)."""
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.socket)
            s.sendall(b"STATS")
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return [float(x) for x in json.loads(b"".join(chunks))]

    def stop_server(self) -> None:
        for server in (self.server, self.resident, *self.extra_servers):
            if server is not None and server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        if self.resident is not None and self.resident.stderr is not None:
            self.resident.stderr.close()


def audit_count(state: Path) -> int:
    db = state / "audit.db"
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM records").fetchone()[0])
    finally:
        con.close()


def fs_type(path: Path) -> str:
    best, kind = "", "?"
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                mount = parts[1]
                if str(path).startswith(mount.rstrip("/") + "/") and len(mount) > len(best):
                    best, kind = mount, parts[2]
    except OSError:
        pass
    return kind


# -- timing ---------------------------------------------------------------------------------------------


LAST_CPU_MS = [0.0]
"""CPU time (user + system, ms) of the process :func:`timed` ran last: less at the mercy of the other
jobs on a shared machine than wall time (no waiting for a core), though not of their cache traffic."""


def wait_for_warm_ups(limit: float = 120.0) -> None:
    """Until no ``scan --warm`` runs on this machine (a hook starts one, detached, when a detector's
    database is not cached yet), at most ``limit`` seconds: a warm-up compiling beside the
    measurements would take a core from them."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        running = False
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    words = handle.read().split(b"\0")
            except OSError:
                continue
            if b"scan" in words and b"--warm" in words:
                running = True
                break
        if not running:
            return
        time.sleep(0.2)


def timed(
    argv: Sequence[str], stdin: bytes, *, env: dict[str, str], cwd: Path
) -> tuple[float, int, bytes, bytes]:
    """Wall time in ms of one whole process, stdin fed and stdout/stderr drained (its CPU time in
    ``LAST_CPU_MS``; the children are run one at a time, and no other child is reaped meanwhile)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd
    )
    out, err = proc.communicate(stdin)
    elapsed = (time.perf_counter_ns() - t0) / 1e6
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU_MS[0] = 1000 * (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed, proc.returncode, out, err


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def check_hook_output(rc: int, out: bytes) -> str | None:
    if rc != 0:
        return f"exit status {rc}"
    try:
        answer = json.loads(out)
    except ValueError:
        return f"stdout is not JSON: {out[:200]!r}"
    spec = answer.get("hookSpecificOutput") if isinstance(answer, dict) else None
    if not isinstance(spec, dict) or spec.get("hookEventName") != "PreToolUse":
        return f"no hookSpecificOutput: {out[:200]!r}"
    if spec.get("permissionDecision") not in ("allow", "deny", "ask"):
        return f"no permissionDecision: {out[:200]!r}"
    return None


def run_benchmark(setup: Setup, payloads: list[bytes], runs: int, seed: int) -> dict[str, list[float]]:
    argvs = {
        "hook": setup.hook_argv(),
        "hook_script": setup.hook_argv(script=True),
        "bare": [setup.python, "-I", "-c", "pass"],
        "bare_S": [setup.python, "-I", "-S", "-c", "pass"],
        "thin": [setup.python, "-I", "-S", "-c", CLIENT_CODE, setup.socket],
        "resident": setup.resident_argv(),
    }
    checked = ("hook", "hook_script", "thin", "resident")
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    failures: list[str] = []
    decisions: dict[str, dict[str, str]] = {}
    before = audit_count(setup.state)
    before_daemon = audit_count(setup.daemon_state)
    before_resident = audit_count(setup.resident_state)
    rng = random.Random(seed)
    order = list(VARIANTS)
    for i in range(runs):
        payload = payloads[i % len(payloads)]
        rng.shuffle(order)
        for variant in order:
            ms, rc, out, err = timed(argvs[variant], payload, env=setup.env, cwd=setup.project)
            times[variant].append(ms)
            if variant in checked:
                problem = check_hook_output(rc, out)
                if problem:
                    failures.append(
                        f"{variant} run {i}: {problem}; stderr: {err.decode(errors='replace')[:300]}"
                    )
                elif i < len(payloads):
                    tool = json.loads(payload)
                    label = f"{tool['tool_name']} {json.dumps(tool['tool_input'])[:60]}"
                    decisions.setdefault(label, {})[variant] = json.loads(out)["hookSpecificOutput"][
                        "permissionDecision"
                    ]
            elif rc != 0:
                failures.append(f"{variant} run {i}: exit status {rc}")
    print("decisions (first round of payloads):")
    for label, by_variant in decisions.items():
        print(f"  {'/'.join(sorted(set(by_variant.values()))):6} {label}")
        if len(set(by_variant.values())) != 1:
            failures.append(f"variants disagree on {label}: {by_variant}")
    gained = audit_count(setup.state) - before
    expected = 2 * runs
    if gained != expected:
        failures.append(f"audit store gained {gained} records for {expected} hook runs")
    gained_daemon = audit_count(setup.daemon_state) - before_daemon
    if gained_daemon != runs:
        failures.append(f"resident helper's audit store gained {gained_daemon} records for {runs} runs")
    gained_resident = audit_count(setup.resident_state) - before_resident
    if gained_resident != runs:
        failures.append(f"hook-server's audit store gained {gained_resident} records for {runs} runs")
    for state in (setup.state, setup.daemon_state, setup.resident_state):
        proc = subprocess.run(
            [setup.python, "-I", "-m", "ramparts", "audit", "verify", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            env=setup.env,
        )
        if proc.returncode != 0:
            failures.append(f"audit verify {state.name}: {proc.stdout.strip()} {proc.stderr.strip()}")
    if failures:
        print(f"\n{len(failures)} FAILURE(S):", file=sys.stderr)
        for f in failures[:20]:
            print("  " + f, file=sys.stderr)
        raise BenchError(f"{len(failures)} hook run(s) or checks failed")
    print(
        f"audit: +{gained} records for {expected} hook runs, +{gained_daemon} for {runs} thin runs, "
        f"+{gained_resident} for {runs} resident runs; every hash chain verifies"
    )
    return times


CONTROL_CASES = ("plain", "read_20k", "grep_tree", "prompt_2k", "post_bash_20k", "post_webfetch_100k")


def control_payloads(setup: Setup) -> dict[str, bytes]:
    """One payload per control the hook runs besides the rules, with the plain rules-only call as baseline."""
    src = setup.project / "src"
    src.mkdir(exist_ok=True)
    rng = random.Random(7)
    words = ["def", "return", "self", "value", "config", "user", "items", "for", "in", "if", "None", "print"]
    for i in range(40):  # a small source tree for the recursive read
        (src / f"mod{i}.py").write_text(
            "\n".join(" ".join(rng.choice(words) for _ in range(8)) for _ in range(60)), "utf-8"
        )
    big = src / "big.py"
    big.write_text("\n".join(" ".join(rng.choice(words) for _ in range(10)) for _ in range(400)), "utf-8")
    prose = " ".join(rng.choice(words) for _ in range(20_000))
    base = {
        "session_id": "5c0f7d1e-3b8a-4f2e-9d61-2a7c4e8b9f03",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(setup.project),
        "permission_mode": "default",
    }

    def pre(tool: str, tool_input: dict[str, object]) -> bytes:
        event = {**base, "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": tool_input}
        return json.dumps({**event, "tool_use_id": "toolu_1"}).encode()

    def post(tool: str, tool_input: dict[str, object], response: object) -> bytes:
        event = {**base, "hook_event_name": "PostToolUse", "tool_name": tool, "tool_input": tool_input}
        return json.dumps({**event, "tool_use_id": "toolu_1", "tool_response": response}).encode()

    return {
        "plain": pre("Bash", {"command": "ls -la"}),
        "read_20k": pre("Read", {"file_path": str(big)}),
        "grep_tree": pre("Bash", {"command": "grep -rn value src"}),
        "prompt_2k": json.dumps(
            {**base, "hook_event_name": "UserPromptSubmit", "prompt": prose[:2000]}
        ).encode(),
        "post_bash_20k": post(
            "Bash",
            {"command": "cat src/big.py"},
            {"stdout": prose[:20_000], "stderr": "", "interrupted": False},
        ),
        "post_webfetch_100k": post(
            "WebFetch",
            {"url": "https://docs.python.org/3/", "prompt": "summarise"},
            {"result": prose[:100_000], "code": 200, "url": "https://docs.python.org/3/"},
        ),
    }


def run_controls(setup: Setup, runs: int, seed: int) -> dict[str, list[float]]:
    """The hook once per control case a round, in shuffled order, with ``bare`` in the same rounds."""
    cases = control_payloads(setup)
    argv = setup.hook_argv()
    bare = [setup.python, "-I", "-c", "pass"]
    for name, payload in cases.items():  # warm: detector caches and compiled databases
        for _ in range(2):
            _, rc, out, err = timed(argv, payload, env=setup.env, cwd=setup.project)
            if rc != 0:
                raise BenchError(f"control case {name} failed: exit {rc}: {err.decode()[-300:]}")
        time.sleep(0.1)
    deadline = time.monotonic() + 60
    while not list((setup.state / "cache").glob("hs-*.db")) and time.monotonic() < deadline:
        time.sleep(0.5)  # the hook's background warm-up compiles the Hyperscan databases
    times: dict[str, list[float]] = {name: [] for name in (*CONTROL_CASES, "bare")}
    rng = random.Random(seed)
    order = [*CONTROL_CASES, "bare"]
    for _ in range(runs):
        rng.shuffle(order)
        for name in order:
            ms, rc, out, err = timed(
                bare if name == "bare" else argv, cases.get(name, b""), env=setup.env, cwd=setup.project
            )
            if rc != 0:
                raise BenchError(f"control case {name}: exit {rc}: {err.decode()[-300:]}")
            if name != "bare":
                json.loads(out)
            times[name].append(ms)
    return times


OUTBOUND_CASES = ("no_sink", "mcp_2k", "webfetch", "curl", "read_20k")
BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); from ramparts.cli import main; sys.exit(main())"
"""Runs ``ramparts`` from the source tree given as its first argument (``-I`` keeps PYTHONPATH out)."""


def cold_argv(python: str, src: Path, args: Sequence[str], *, extra: Sequence[str] = ()) -> list[str]:
    """The cold hook command the tree ``src`` installs (``ramparts.policy.compile.hook_command``), running
    that tree: its launcher by path, ``python -I -S .../run_hook.py``, which puts its own tree on the
    path; a tree from before the launcher installed ``python -I -m ramparts``, run here as ``-c BOOT SRC``
    (the same imports and flags, with SRC first on the path). ``extra``: interpreter flags (``-X ...``)."""
    launcher = src / "ramparts" / "agents" / "claude_code" / "run_hook.py"
    if launcher.exists():
        return [python, "-I", "-S", *extra, str(launcher), *args]
    return [python, "-I", *extra, "-c", BOOT, str(src), *args]


def outbound_payloads(setup: Setup) -> dict[str, bytes]:
    cases = control_payloads(setup)
    rng = random.Random(11)
    words = ["deploy", "finished", "release", "notes", "team", "build", "green", "shipping", "today", "ok"]
    text = " ".join(rng.choice(words) for _ in range(400))[:2000]
    base = {
        "session_id": "5c0f7d1e-3b8a-4f2e-9d61-2a7c4e8b9f03",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(setup.project),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_use_id": "toolu_1",
    }

    def pre(tool: str, tool_input: dict[str, object]) -> bytes:
        return json.dumps({**base, "tool_name": tool, "tool_input": tool_input}).encode()

    return {
        "no_sink": pre("Bash", {"command": "ls -la"}),
        "mcp_2k": pre("mcp__chat__post_message", {"channel": "ops", "text": text}),
        "webfetch": pre(
            "WebFetch",
            {"url": "https://docs.python.org/3/search.html?q=sqlite3+wal&area=default", "prompt": "x"},
        ),
        "curl": pre(
            "Bash", {"command": "curl -s -d 'status=green&build=1432' https://ci.example.com/api/report"}
        ),
        "read_20k": cases["read_20k"],
    }


def run_outbound(setup: Setup, before: Path, after: Path, runs: int, seed: int) -> dict[str, list[float]]:
    """Every outbound case under both source trees each round, shuffled; separate state directories."""
    policy = setup.root / "outbound.yaml"
    policy.write_text(
        setup.policy.read_text("utf-8") + "\nmcp:\n  servers:\n    chat: {tools: ['*']}\n", "utf-8"
    )
    cases = outbound_payloads(setup)
    argvs = {
        tree: cold_argv(setup.python, src, ["hook", "--policy", str(policy), "--state-dir", str(state)])
        for tree, src, state in (
            ("before", before, setup.root / "state-before"),
            ("after", after, setup.root / "state-after"),
        )
    }
    for tree, src in (("before", before), ("after", after)):
        # the tree's own pattern databases (a hook's background warm-up runs the installed ramparts,
        # whose databases another tree may not load), then its resident hook: its own server, and
        # the client that tree installs
        state = setup.root / f"state-{tree}"
        warm = [
            setup.python,
            "-I",
            "-c",
            BOOT,
            str(src),
            "scan",
            "--warm",
            "--cache-dir",
            str(state / "cache"),
        ]
        if subprocess.run(warm, env=setup.env, capture_output=True, check=False).returncode != 0:
            raise BenchError(f"the {tree} tree's scan --warm failed")
        server = [setup.python, "-I", "-c", BOOT, str(src), "hook-server", "--policy", str(policy)]
        server += ["--state-dir", str(state), "--idle-exit", "300"]
        folder = src / "ramparts" / "agents" / "claude_code"
        client = folder / "run_hook_client.py"
        if not client.exists():
            client = folder / "hook_client.py"  # a tree from before the launcher
        setup.extra_servers.append(
            subprocess.Popen(server, env=setup.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        deadline = time.monotonic() + 30
        while not (state / "hook.sock").exists():
            if setup.extra_servers[-1].poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the {tree} tree's hook-server did not start")
            time.sleep(0.02)
        argvs[f"{tree}_resident"] = [setup.python, "-I", "-S", str(client), "--no-start", "--", *argvs[tree]]
    argvs["bare"] = [setup.python, "-I", "-c", "pass"]
    for tree, argv in argvs.items():
        if tree == "bare":
            continue
        for name, payload in cases.items():
            for _ in range(2):  # warm: policy cache, detector databases (built in the background)
                _, rc, out, err = timed(argv, payload, env=setup.env, cwd=setup.project)
                problem = check_hook_output(rc, out)
                if problem:
                    raise BenchError(f"outbound {tree} {name}: {problem}: {err.decode()[-300:]}")
        deadline = time.monotonic() + 60
        while (
            not list((setup.root / f"state-{tree.split('_')[0]}" / "cache").glob("hs-*.db"))
            and time.monotonic() < deadline
        ):
            time.sleep(0.5)
    decisions = {}
    for name, payload in cases.items():
        decisions[name] = {
            tree: json.loads(timed(argv, payload, env=setup.env, cwd=setup.project)[2])["hookSpecificOutput"][
                "permissionDecision"
            ]
            for tree, argv in argvs.items()
            if tree != "bare"
        }
    print("\noutbound cases, decisions (before -> after; resident before -> after):")
    for name, by_tree in decisions.items():
        print(
            f"  {name:10} {by_tree['before']} -> {by_tree['after']};"
            f" {by_tree['before_resident']} -> {by_tree['after_resident']}"
        )
        if by_tree["before_resident"] != by_tree["before"] or by_tree["after_resident"] != by_tree["after"]:
            raise BenchError(f"outbound {name}: the resident hook decided otherwise than the plain one")
    times: dict[str, list[float]] = {f"{tree}:{name}": [] for tree in argvs for name in cases}
    rng = random.Random(seed)
    order = list(times)
    for _ in range(runs):
        rng.shuffle(order)
        for key in order:
            tree, name = key.split(":")
            ms, rc, out, err = timed(argvs[tree], cases[name], env=setup.env, cwd=setup.project)
            problem = check_hook_output(rc, out) if tree != "bare" else ("" if rc == 0 else f"exit {rc}")
            if problem:
                raise BenchError(f"outbound {key}: {problem}: {err.decode()[-300:]}")
            times[key].append(ms)
            times.setdefault(f"cpu|{key}", []).append(LAST_CPU_MS[0])
    return times


EVENT_CASES = (
    "session_start",
    "prompt",
    "bash",
    "read",
    "read_missing",
    "write",
    "edit",
    "webfetch",
    "post_bash",
    "session_end",
)


def event_payloads(setup: Setup) -> dict[str, bytes]:
    """One event of each kind Claude Code sends the hook (SessionEnd in a session of its own, so that it
    closes none the other cases use)."""
    readme = str(setup.project / "README.md")
    base = {
        "session_id": "9e2b4c71-0d3a-4f68-b5e1-7a8c2f9d0e46",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(setup.project),
        "permission_mode": "default",
    }

    def event(name: str, **fields: object) -> bytes:
        return json.dumps({**base, "hook_event_name": name, **fields}).encode()

    def pre(tool: str, tool_input: dict[str, object]) -> bytes:
        return event("PreToolUse", tool_name=tool, tool_input=tool_input, tool_use_id="toolu_1")

    return {
        "session_start": event("SessionStart", source="startup"),
        "prompt": event("UserPromptSubmit", prompt="run the tests and fix what fails"),
        "bash": pre("Bash", {"command": "ls -la"}),
        "read": pre("Read", {"file_path": readme}),
        "read_missing": pre("Read", {"file_path": str(setup.project / "nope.txt")}),
        "write": pre("Write", {"file_path": str(setup.project / "notes.txt"), "content": "hello\n"}),
        "edit": pre("Edit", {"file_path": readme, "old_string": "TODO", "new_string": "DONE"}),
        "webfetch": pre("WebFetch", {"url": "https://docs.python.org/3/", "prompt": "x"}),
        "post_bash": event(
            "PostToolUse",
            tool_name="Bash",
            tool_input={"command": "ls"},
            tool_response={"stdout": "README.md\n", "stderr": "", "interrupted": False},
            tool_use_id="toolu_1",
        ),
        "session_end": json.dumps(
            {**base, "session_id": "0f4d8a36-7c2e-4b91-a5d0-3e6b1c9f2a77", "hook_event_name": "SessionEnd"}
            | {"reason": "exit"}
        ).encode(),
    }


def _same_answer(out: bytes) -> str:
    """A hook's answer without what differs per run or per install (decision ids, keyed fingerprints)."""
    import re

    return re.sub(r"decision [0-9a-f]{24}|b2mac:[0-9a-f]+", "*", out.decode())


def run_events(setup: Setup, before: Path, after: Path, runs: int, seed: int) -> dict[str, list[float]]:
    """The cold hook of both trees on one event of each kind, with a bare interpreter, in shuffled rounds;
    both trees must give the same answer to every event."""
    cases = event_payloads(setup)
    argvs = {
        tree: cold_argv(setup.python, src, setup.hook_args(setup.root / f"state-events-{tree}"))
        for tree, src in (("before", before), ("after", after))
    }
    argvs["bare"] = [setup.python, "-I", "-c", "pass"]
    for tree, src in (("before", before), ("after", after)):  # the tree's own pattern databases, built now
        cache = setup.root / f"state-events-{tree}" / "cache"
        warm = [setup.python, "-I", "-c", BOOT, str(src), "scan", "--warm", "--cache-dir", str(cache)]
        if subprocess.run(warm, env=setup.env, capture_output=True, check=False).returncode != 0:
            raise BenchError(f"the {tree} tree's scan --warm failed")
    answers: dict[str, dict[str, str]] = {}
    for tree in ("before", "after"):
        for name, payload in cases.items():
            for _ in range(2):  # warm: the policy cache, the detectors' rule cache and databases
                _, rc, out, err = timed(argvs[tree], payload, env=setup.env, cwd=setup.project)
                if rc != 0:
                    raise BenchError(f"event {name} ({tree}): exit {rc}: {err.decode()[-300:]}")
            answers.setdefault(name, {})[tree] = _same_answer(out)
    for name, by_tree in answers.items():
        if by_tree["before"] != by_tree["after"]:
            raise BenchError(f"event {name}: the trees answer differently: {by_tree}")
    times: dict[str, list[float]] = {f"{tree}:{name}": [] for tree in ("before", "after") for name in cases}
    rng = random.Random(seed)
    order = [*times, *["bare:"] * len(cases)]  # the bare interpreter as often as each tree
    times["bare:"] = []
    for _ in range(runs):
        rng.shuffle(order)
        for key in order:
            tree, name = key.split(":")
            ms, rc, out, err = timed(argvs[tree], cases.get(name, b""), env=setup.env, cwd=setup.project)
            if rc != 0:
                raise BenchError(f"event {key}: exit {rc}: {err.decode()[-300:]}")
            times[key].append(ms)
            times.setdefault(f"cpu|{key}", []).append(LAST_CPU_MS[0])
    return times


def report_events(times: dict[str, list[float]]) -> dict[str, float]:
    bare50 = percentile(times["bare:"], 50)
    print(f"\ncold hook per event kind (both trees, same rounds); bare p50 {bare50:.2f} ms")
    print(
        f"{'event':14} {'n':>4} {'before p50':>11} {'after p50':>10} {'before/bare':>12} {'after/bare':>11}"
    )
    out: dict[str, float] = {}
    for name in EVENT_CASES:
        b50, a50 = percentile(times[f"before:{name}"], 50), percentile(times[f"after:{name}"], 50)
        out[f"event_{name}_before_x_bare"], out[f"event_{name}_after_x_bare"] = b50 / bare50, a50 / bare50
        print(
            f"{name:14} {len(times[f'after:{name}']):4d} {b50:11.2f} {a50:10.2f} "
            f"{b50 / bare50:11.2f}x {a50 / bare50:10.2f}x"
        )
    every = {t: [ms for n in EVENT_CASES for ms in times[f"{t}:{n}"]] for t in ("before", "after")}
    for tree, values in every.items():
        out[f"events_{tree}_x_bare"] = percentile(values, 50) / bare50
        print(
            f"all events {tree:6}: p50 {percentile(values, 50):7.2f} ms (x{out[f'events_{tree}_x_bare']:.2f} bare)"
        )
    out |= report_cpu(times, EVENT_CASES, "events")
    return out


def report_cpu(times: dict[str, list[float]], cases: Sequence[str], label: str) -> dict[str, float]:
    """The same rounds' CPU time (user + system) per process: p50 of each tree over ``cases`` against a
    bare interpreter's p50, and of each case."""
    bare = [ms for key, values in times.items() if key.startswith("cpu|bare:") for ms in values]
    bare50 = percentile(bare, 50)
    print(f"CPU per process (user + system), the same rounds; bare p50 {bare50:.2f} ms")
    out: dict[str, float] = {}
    for name in cases:
        b50 = percentile(times[f"cpu|before:{name}"], 50)
        a50 = percentile(times[f"cpu|after:{name}"], 50)
        print(
            f"  {name:14} before {b50:7.2f} ms (x{b50 / bare50:.2f})  after {a50:7.2f} ms (x{a50 / bare50:.2f})"
        )
    for tree in ("before", "after"):
        values = [ms for n in cases for ms in times[f"cpu|{tree}:{n}"]]
        out[f"{label}_cpu_{tree}_x_bare"] = percentile(values, 50) / bare50
        print(
            f"{label} CPU {tree:6}: p50 {percentile(values, 50):7.2f} ms (x{out[f'{label}_cpu_{tree}_x_bare']:.2f} bare)"
        )
    return out


def report_outbound(times: dict[str, list[float]], before: Path, after: Path) -> dict[str, float]:
    print(f"\nbefore: {before}\nafter:  {after}")
    print(
        f"{'case':10} {'n':>5} {'before p50':>11} {'after p50':>10} {'before p95':>11} {'after p95':>10}  ratio p50"
    )
    out: dict[str, float] = {}
    for name in OUTBOUND_CASES:
        b, a = times[f"before:{name}"], times[f"after:{name}"]
        b50, a50, b95, a95 = percentile(b, 50), percentile(a, 50), percentile(b, 95), percentile(a, 95)
        out[name] = a50 / b50
        out[f"{name}_before"], out[f"{name}_after"] = b50, a50
        print(f"{name:10} {len(a):5d} {b50:11.2f} {a50:10.2f} {b95:11.2f} {a95:10.2f}  x{a50 / b50:.2f}")
    bare = [ms for key, values in times.items() if key.startswith("bare:") for ms in values]
    bare50 = percentile(bare, 50)
    print(f"\nthe resident hook of each tree (its own server), the same rounds; bare p50 {bare50:.2f} ms")
    print(
        f"{'case':10} {'n':>5} {'before p50':>11} {'after p50':>10} {'before p99':>11} {'after p99':>10}  ratio p50"
    )
    every: dict[str, list[float]] = {"before": [], "after": []}
    for name in OUTBOUND_CASES:
        b, a = times[f"before_resident:{name}"], times[f"after_resident:{name}"]
        every["before"] += b
        every["after"] += a
        b50, a50, b99, a99 = percentile(b, 50), percentile(a, 50), percentile(b, 99), percentile(a, 99)
        print(f"{name:10} {len(a):5d} {b50:11.2f} {a50:10.2f} {b99:11.2f} {a99:10.2f}  x{a50 / b50:.2f}")
    for tree, values in every.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        out[f"resident_{tree}_p50"], out[f"resident_{tree}_p99"] = p50, p99
        out[f"resident_{tree}_x_bare"] = p50 / bare50
        print(
            f"resident {tree:6}: p50 {p50:7.2f} ms (x{p50 / bare50:.2f} bare), p99 {p99:7.2f} ms, all cases"
        )
    cold = {tree: [ms for n in OUTBOUND_CASES for ms in times[f"{tree}:{n}"]] for tree in ("before", "after")}
    for tree, values in cold.items():
        out[f"cold_{tree}_x_bare"] = percentile(values, 50) / bare50
        print(
            f"cold     {tree:6}: p50 {percentile(values, 50):7.2f} ms (x{out[f'cold_{tree}_x_bare']:.2f} bare)"
        )
    out |= report_cpu(times, OUTBOUND_CASES, "cold")
    return out


def report_controls(times: dict[str, list[float]]) -> dict[str, float]:
    print(f"\n{'control case':20} {'n':>5} {'p50':>8} {'p95':>8}   x bare   + plain (ms)")
    bare = percentile(times["bare"], 50)
    plain = percentile(times["plain"], 50)
    out: dict[str, float] = {}
    for name in (*CONTROL_CASES, "bare"):
        p50, p95 = percentile(times[name], 50), percentile(times[name], 95)
        out[name] = p50
        print(
            f"{name:20} {len(times[name]):5d} {p50:8.2f} {p95:8.2f}   x{p50 / bare:5.2f}   {p50 - plain:+7.2f}"
        )
    return out


def report(times: dict[str, list[float]], server: list[float], payload_count: int = 1) -> dict[str, float]:
    print(f"\n{'variant':12} {'n':>5} {'min':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}   (ms)")
    stats: dict[str, float] = {}
    for variant in VARIANTS:
        data = times[variant]
        row = [min(data), percentile(data, 50), percentile(data, 95), percentile(data, 99), max(data)]
        stats[f"{variant}_p50"], stats[f"{variant}_p99"] = row[1], row[3]
        print(f"{variant:12} {len(data):5d} " + " ".join(f"{x:8.2f}" for x in row))
    if server:
        ms = [s * 1000 for s in server]
        print(
            f"{'(helper)':12} {len(ms):5d} {min(ms):8.2f} {percentile(ms, 50):8.2f} {percentile(ms, 95):8.2f} "
            f"{percentile(ms, 99):8.2f} {max(ms):8.2f}   in-process Hook.run inside the resident helper"
        )
    bare50, bare99 = stats["bare_p50"], stats["bare_p99"]
    print()
    for variant in ("hook", "hook_script", "bare_S", "thin", "resident"):
        print(
            f"{variant:12} / bare: p50 x{stats[f'{variant}_p50'] / bare50:.2f} "
            f"(+{stats[f'{variant}_p50'] - bare50:.1f} ms)   p99 x{stats[f'{variant}_p99'] / bare99:.2f}"
        )
    paired = [h - b for h, b in zip(times["hook"], times["bare"], strict=True)]
    print(f"paired hook - bare (same round): median {statistics.median(paired):.1f} ms")
    count = min(payload_count, len(times["hook"]))  # round i ran payload i % payload_count
    by_payload = [statistics.median(times["hook"][i::count]) / bare50 for i in range(count)]
    print("hook p50 by payload, x bare: " + " ".join(f"p{i} {r:.2f}" for i, r in enumerate(by_payload)))
    return stats


# -- profile ------------------------------------------------------------------------------------------


def parse_importtime(text: str) -> list[tuple[str, int, int, int, str]]:
    """(module, self_us, cumulative_us, depth, parent) per import, in the order Python printed them."""
    rows: list[tuple[str, int, int, int]] = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum_us, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        rows.append((name.strip(), int(self_us), int(cum_us), depth))
    # post-order: a module's parent is the next line one level up
    out: list[tuple[str, int, int, int, str]] = []
    stack: list[tuple[int, str]] = []
    for name, self_us, cum_us, depth in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        out.append((name, self_us, cum_us, depth, stack[-1][1] if stack else "-"))
        stack.append((depth, name))
    out.reverse()
    # depth 0 after the first ramparts module: imported at run time (by __main__ or a lazy import in a function)
    seen_ramparts = False
    for i, (name, self_us, cum_us, depth, parent) in enumerate(out):
        seen_ramparts = seen_ramparts or name.startswith("ramparts")
        if depth == 0:
            out[i] = (name, self_us, cum_us, depth, "run time" if seen_ramparts else "startup")
        else:
            out[i] = (name, self_us, cum_us, depth, parent)
    return out


def profile_imports(setup: Setup, payload: bytes, repeats: int = 7) -> list[str]:
    """Print the import profile; return every module the hook imported."""
    print(f"\n== -X importtime of the cold hook command (median of {repeats} processes) ==")
    per_module: dict[str, list[tuple[int, int]]] = {}
    meta: dict[str, tuple[int, str]] = {}
    totals = []
    for _ in range(repeats):
        _, rc, out, err = timed(
            setup.hook_argv(extra=["-X", "importtime"]), payload, env=setup.env, cwd=setup.project
        )
        if check_hook_output(rc, out):
            raise BenchError(f"importtime run failed: {check_hook_output(rc, out)}: {out[-300:]!r}")
        rows = parse_importtime(err.decode())
        totals.append(sum(r[1] for r in rows))
        for name, self_us, cum_us, depth, parent in rows:
            per_module.setdefault(name, []).append((self_us, cum_us))
            meta[name] = (depth, parent)
    med = {
        name: (statistics.median(s for s, _ in v), statistics.median(c for _, c in v))
        for name, v in per_module.items()
    }
    total = statistics.median(totals) / 1000
    print(f"modules imported: {len(med)}; total import time (sum of self): {total:.1f} ms")
    print("(-X importtime inflates every import; read these as proportions)")

    def show(rows: list[tuple[str, tuple[float, float]]]) -> None:
        print(f"{'cumul ms':>9} {'self ms':>8}  module  [imported by]")
        for name, (self_us, cum_us) in rows:
            depth, parent = meta[name]
            print(f"{cum_us / 1000:9.2f} {self_us / 1000:8.2f}  {'  ' * depth}{name}  [{parent}]")

    print("\ntop 15 by cumulative time:")
    show(sorted(med.items(), key=lambda kv: -kv[1][1])[:15])
    print("\ntop 10 by self time:")
    show(sorted(med.items(), key=lambda kv: -kv[1][0])[:10])
    print("\nwatched modules (cumulative ms, first importer):")
    for name in WATCHED_MODULES:
        if name in med:
            print(f"{med[name][1] / 1000:9.2f}  {name:14} [{meta[name][1]}]")
        else:
            print(f"{'-':>9}  {name:14} not imported")
    ramparts_self = sum(s for n, (s, _) in med.items() if n.startswith("ramparts"))
    print(f"ramparts' own modules (self time only): {ramparts_self / 1000:.1f} ms")
    return list(med)


ANATOMY_IMPORTS = """
for name in {names!r}:
    try:
        __import__(name)
    except ImportError:
        pass
"""


def profile_anatomy(setup: Setup, payloads: list[bytes], modules: list[str], rounds: int = 40) -> None:
    """Whole-process times that split the hook into startup, imports, work and teardown."""
    print(f"\n== process anatomy (whole-process ms, median of {rounds} interleaved rounds) ==")
    imports = ANATOMY_IMPORTS.format(names=[m for m in modules if m != "site"])
    argvs = {
        "bare": [setup.python, "-I", "-c", "pass"],
        "imports": [setup.python, "-I", "-c", imports],
        "imports_exit": [setup.python, "-I", "-c", imports + "import os\nos._exit(0)\n"],
        "hook": setup.hook_argv(),
    }
    times: dict[str, list[float]] = {k: [] for k in argvs}
    rng = random.Random(2)
    order = list(argvs)
    for i in range(rounds):
        rng.shuffle(order)
        for name in order:
            ms, rc, _, err = timed(argvs[name], payloads[i % len(payloads)], env=setup.env, cwd=setup.project)
            if rc != 0:
                raise BenchError(f"anatomy run {name} failed: {err.decode()[-300:]}")
            times[name].append(ms)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{med['bare']:8.2f}  interpreter start + exit (python -I -c pass)")
    print(
        f"{med['imports_exit'] - med['bare']:8.2f}  + importing the {len(modules)} modules the hook imports"
    )
    print(f"{med['imports'] - med['imports_exit']:8.2f}  + tearing them down at exit (vs os._exit)")
    print(
        f"{med['hook'] - med['imports']:8.2f}  + the hook's own work (argv, policy cache, decide, audit write)"
    )
    print(f"{med['hook']:8.2f}  = the hook")


STDLIB_ALONE = {
    "typing": "import typing",
    "re": "import re",
    "pathlib": "import pathlib",
    "argparse (+ parse: shutil, gettext, locale)": (
        "import argparse\np = argparse.ArgumentParser(prog='x')\np.add_argument('--a')\np.parse_args([])"
    ),
    "json": "import json",
    "hashlib": "import hashlib",
    "hmac": "import hmac",
    "_sha256 (no OpenSSL)": "import _sha256",
    "sqlite3": "import sqlite3",
    "signal": "import signal",
    "shlex": "import shlex",
    "runpy (what -m costs)": "import runpy",
    "_socket": "import _socket",
    "socket": "import socket",
}


def profile_stdlib(setup: Setup, rounds: int = 25) -> None:
    """Each candidate module alone in a fresh interpreter: what removing it from the hook could save."""
    print(
        f"\n== one stdlib module alone in `python -I -c` (whole-process ms over bare, median of {rounds}) =="
    )
    print("(overlaps: typing, argparse and pathlib share re/enum/functools; savings do not simply add up)")
    argvs = {"bare": [setup.python, "-I", "-c", "pass"]}
    argvs.update({name: [setup.python, "-I", "-c", code] for name, code in STDLIB_ALONE.items()})
    times: dict[str, list[float]] = {k: [] for k in argvs}
    rng = random.Random(3)
    order = list(argvs)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            ms, rc, _, err = timed(argvs[name], b"", env=setup.env, cwd=setup.project)
            if rc != 0:
                raise BenchError(f"{name} failed: {err.decode()[-300:]}")
            times[name].append(ms)
    bare = statistics.median(times["bare"])
    print(f"{bare:8.2f}  bare")
    for name in STDLIB_ALONE:
        print(f"{statistics.median(times[name]) - bare:+8.2f}  {name}")


PHASE_CODE = r"""
import io, json, sys, time
t0 = time.perf_counter()
from ramparts import cli
t1 = time.perf_counter()
from ramparts.agents.claude_code.hook import Hook
policy, state, payload = sys.argv[1], sys.argv[2], sys.argv[3].encode()
def once():
    out = io.StringIO()
    code = Hook(policy=policy, state=state, stdin=io.BytesIO(payload), stdout=out, stderr=io.StringIO()).run()
    assert code == 0, out.getvalue()
t2 = time.perf_counter()
once()
t3 = time.perf_counter()
once()
t4 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]))
"""


def profile_phases(setup: Setup, payloads: list[bytes], repeats: int = 15) -> None:
    print(f"\n== phases in a fresh `python -I` process (median of {repeats}) ==")
    samples: list[list[float]] = []
    for i in range(repeats):
        payload = payloads[i % len(payloads)].decode()
        proc = subprocess.run(
            [setup.python, "-I", "-c", PHASE_CODE, str(setup.policy), str(setup.state), payload],
            capture_output=True,
            text=True,
            env=setup.env,
            cwd=setup.project,
        )
        if proc.returncode != 0:
            raise BenchError(f"phase run failed: {proc.stderr.strip()[-500:]}")
        samples.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    names = (
        "import ramparts.cli (argparse, json, pathlib, typing)",
        "import ramparts.agents.claude_code.hook (model, errors)",
        "first Hook.run (lazy imports + policy cache + decide + sqlite)",
        "second Hook.run in the same process (warm)",
    )
    for i, name in enumerate(names):
        print(f"{statistics.median(s[i] for s in samples) * 1000:8.2f} ms  {name}")


def profile_in_process(setup: Setup, payloads: list[bytes], calls: int = 90) -> None:
    from ramparts.agents.claude_code.hook import Hook

    def once(payload: bytes) -> None:
        out = io.StringIO()
        hook = Hook(
            policy=str(setup.policy),
            state=str(setup.state),
            stdin=io.BytesIO(payload),
            stdout=out,
            stderr=io.StringIO(),
        )
        code = hook.run()
        if hook.store is not None:
            hook.store.close()
        problem = check_hook_output(code, out.getvalue().encode())
        if problem:
            raise BenchError(f"in-process hook run failed: {problem}")

    saved = {s: signal.getsignal(s) for s in (signal.SIGALRM, signal.SIGTERM)}
    try:
        once(payloads[0])  # lazy imports happen here, outside the profile
        t0 = time.perf_counter()
        for i in range(calls):
            once(payloads[i % len(payloads)])
        per_call = (time.perf_counter() - t0) / calls * 1000
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(calls):
            once(payloads[i % len(payloads)])
        profiler.disable()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
            signal.setitimer(signal.ITIMER_REAL, 0)
    print(
        f"\n== cProfile of Hook(...).run() in-process, {calls} warm calls ({per_call:.2f} ms/call unprofiled) =="
    )
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf)
    stats.strip_dirs().sort_stats("cumulative").print_stats(15)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    print("\n".join(lines[start:]))


COLD_PROFILE_CODE = r"""
import cProfile, io, pstats, sys
payload = sys.stdin.buffer.read()
sys.stdin = io.TextIOWrapper(io.BytesIO(payload))
out = io.StringIO()
real_stdout, sys.stdout = sys.stdout, out
profiler = cProfile.Profile()
profiler.enable()
from ramparts.cli import main
code = main(sys.argv[1:])
profiler.disable()
sys.stdout = real_stdout
if code != 0:
    sys.exit(f"hook exited {code}: {out.getvalue()[-300:]}")
buf = io.StringIO()
stats = pstats.Stats(profiler, stream=buf).strip_dirs()
stats.sort_stats("tottime").print_stats(15)
print(buf.getvalue())
print("@@")
buf = io.StringIO()
stats.stream = buf
keys = r"__init__.py:\d+\(_compile\)|\(namedtuple\)|\(load_policy\)|\(decide\)|\(append\)|store.py:\d+\(__init__\)"
stats.sort_stats("cumulative").print_stats(keys + r"|\(to_event\)|\(parse_args\)|hook.py:\d+\(run\)|\(_hook\)")
print(buf.getvalue())
"""


def profile_cold(setup: Setup, payload: bytes) -> None:
    """The real case: one whole hook in a fresh process (imports included), by own time."""
    print("\n== cProfile of one whole cold hook (fresh `python -I`, imports included), top 15 by tottime ==")
    print("(cProfile inflates pure-Python code such as re's compiler more than C calls)")
    argv = [setup.python, "-I", "-c", COLD_PROFILE_CODE, *setup.hook_args()]
    proc = subprocess.run(argv, input=payload, capture_output=True, env=setup.env, cwd=setup.project)
    if proc.returncode != 0:
        raise BenchError(f"cold profile failed: {proc.stderr.decode()[-500:]}")
    by_tottime, _, by_cumulative = proc.stdout.decode().partition("@@")
    lines = [ln for ln in by_tottime.splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    print("\n".join(lines[start:]))
    print("\nsame run, selected functions by cumulative time (regex compiles, NamedTuple classes, phases):")
    lines = [ln for ln in by_cumulative.splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    print("\n".join(lines[start:]))


def profile_sqlite(root: Path, iterations: int = 40) -> None:
    """What one hook process pays SQLite: open, one durable append, close."""
    from ramparts.audit.store import AuditStore

    print(
        f"\n== SQLite per hook process: open + 1 append + close, median of {iterations}, on {fs_type(root)} =="
    )
    record = {"v": 1, "event": "PreToolUse", "decision": "allow", "reasons": ["x" * 200]}

    def measure(fn: Callable[[], object]) -> float:
        samples = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1000)
        return statistics.median(samples)

    def sequence(db: Path, *, pragma: str = "") -> Callable[[], None]:
        def run() -> None:
            store = AuditStore(db)
            if pragma:
                store.backend._db.execute(pragma)
            store.append(record)
            store.close()

        return run

    def raw_open_close(db: Path) -> Callable[[], None]:
        return lambda: sqlite3.connect(db, isolation_level=None).close()

    dbs = {n: root / "sqlite-micro" / n / "audit.db" for n in ("a", "b", "c", "d")}
    for db in dbs.values():
        AuditStore(db).close()
    holder = sqlite3.connect(dbs["b"])  # another live connection: close() is then not the last one
    holder.execute("SELECT count(*) FROM records").fetchone()
    rows = [
        ("sqlite3.connect + close, nothing else", measure(raw_open_close(dbs["d"]))),
        (
            "as shipped: WAL, synchronous=FULL, sole connection (close checkpoints + deletes the WAL)",
            measure(sequence(dbs["a"])),
        ),
        ("same, but another connection is open (no checkpoint on close)", measure(sequence(dbs["b"]))),
        (
            "WAL, synchronous=NORMAL, sole connection",
            measure(sequence(dbs["c"], pragma="PRAGMA synchronous=NORMAL")),
        ),
    ]
    holder.close()
    for name, ms in rows:
        print(f"{ms:8.3f} ms  {name}")


# -- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="rounds (each runs every variant once); default 200")
    parser.add_argument("--quick", action="store_true", help="60 rounds unless --runs is given")
    parser.add_argument("--profile", action="store_true", help="also show where the hook's time goes")
    parser.add_argument("--python", default=sys.executable, help="interpreter (default: this one)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the per-round variant order")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--before", type=Path, help="source tree to compare against (outbound DLP cases)")
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="background load: this many busy-looping processes while measuring (default 0)",
    )
    parser.add_argument(
        "--after", type=Path, default=BENCH_DIR.parent / "src", help="source tree measured against --before"
    )
    args = parser.parse_args(argv)
    runs = args.runs or (60 if args.quick else 200)
    if runs < 1:
        parser.error("--runs must be positive")

    root = Path(tempfile.mkdtemp(prefix="ramparts-bench-")).resolve()
    setup = Setup(root, args.python, args.after.resolve())
    busy: list[subprocess.Popen[bytes]] = []
    try:
        setup.create()
        payloads = setup.payloads()
        # warm: compile the policy cache (and the .pyc files) once, outside the measurements
        for argv in (setup.hook_argv(), setup.hook_argv(script=True)):
            _, rc, out, err = timed(argv, payloads[0], env=setup.env, cwd=setup.project)
            if check_hook_output(rc, out):
                raise BenchError(f"warm-up failed: {check_hook_output(rc, out)}: {err.decode()[-500:]}")
        if not list((setup.state / "cache").glob("policy-*")):  # .marshal; .json before the seventh pass
            raise BenchError("the hook did not write a compiled policy cache")
        # every payload once more, so that what a first event builds on a fresh state (the secret rules'
        # cache, the keyword index) and the background warm-up it starts (the Hyperscan databases, seconds
        # of CPU on one core) are done before the measurements; that one-time cost is reported apart
        first_ms: list[float] = []
        for argv in (setup.hook_argv(), setup.hook_argv(script=True)):
            for p in payloads[1:]:
                ms, rc, out, err = timed(argv, p, env=setup.env, cwd=setup.project)
                if check_hook_output(rc, out):
                    raise BenchError(f"warm-up failed: {check_hook_output(rc, out)}: {err.decode()[-500:]}")
                if argv == setup.hook_argv():
                    first_ms.append(ms)
        wait_for_warm_ups()
        setup.start_server()
        setup.start_resident()
        for p in payloads:  # warm the helpers' lazy imports and policy cache
            timed([args.python, "-I", "-S", "-c", CLIENT_CODE, setup.socket], p, env=setup.env, cwd=root)
            timed(setup.resident_argv(), p, env=setup.env, cwd=root)
        if args.busy > 0:  # the busy loops would starve the hook's low-priority background warm-up
            for state in (setup.state, setup.daemon_state, setup.resident_state):
                warm = [
                    args.python,
                    "-I",
                    "-m",
                    "ramparts",
                    "scan",
                    "--warm",
                    "--cache-dir",
                    str(state / "cache"),
                ]
                subprocess.run(warm, env=setup.env, capture_output=True, check=False)
        busy += [
            subprocess.Popen([args.python, "-I", "-c", "while True: pass"], env=setup.env)
            for _ in range(max(args.busy, 0))
        ]
        uname = os.uname()
        print(
            f"python {sys.version.split()[0]} ({args.python}); {uname.sysname} {uname.release}; "
            f"{os.cpu_count()} CPUs; temp dir on {fs_type(root)}"
        )
        print(f"{runs} rounds x {len(VARIANTS)} variants, {len(payloads)} payloads round-robin")
        print(f"background load: {args.busy} busy process(es); load average {os.getloadavg()[0]:.1f}")
        print("hook command:", " ".join(setup.hook_argv()))
        print(
            f"first run of each payload on this fresh state (once, outside the measurements): "
            f"max {max(first_ms):.0f} ms, " + " ".join(f"{ms:.0f}" for ms in first_ms)
        )
        t0 = time.perf_counter()
        times = run_benchmark(setup, payloads, runs, args.seed)
        server = setup.server_times()[len(payloads) :]
        stats = report(times, server, len(payloads))
        print(f"(benchmark took {time.perf_counter() - t0:.1f} s)")
        setup.stop_server()
        controls = report_controls(run_controls(setup, max(10, runs // 3), args.seed))
        outbound: dict[str, float] = {}
        if args.before is not None:
            before, after = args.before.resolve(), args.after.resolve()
            outbound = report_outbound(
                run_outbound(setup, before, after, max(10, runs // 3), args.seed), before, after
            )
            outbound |= report_events(run_events(setup, before, after, max(10, runs // 3), args.seed))
        if args.profile:
            modules = profile_imports(setup, payloads[2])
            profile_anatomy(setup, payloads, modules)
            profile_stdlib(setup)
            profile_phases(setup, payloads)
            profile_in_process(setup, payloads)
            profile_cold(setup, payloads[2])
            profile_sqlite(root)
    except BenchError as exc:
        print(f"BENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
        setup.stop_server()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
    print(
        f"RESULT hook_p50_ms={stats['hook_p50']:.2f} hook_p99_ms={stats['hook_p99']:.2f} "
        f"bare_p50_ms={stats['bare_p50']:.2f} ratio_p50={stats['hook_p50'] / stats['bare_p50']:.2f} "
        f"ratio_p99={stats['hook_p99'] / stats['bare_p99']:.2f} "
        f"resident_p50_ms={stats['resident_p50']:.2f} resident_p99_ms={stats['resident_p99']:.2f} "
        f"resident_ratio_p50={stats['resident_p50'] / stats['bare_p50']:.2f} "
        f"resident_ratio_p99={stats['resident_p99'] / stats['bare_p99']:.2f} runs={runs} busy={args.busy} "
        f"read_20k_p50_ms={controls['read_20k']:.2f} grep_tree_p50_ms={controls['grep_tree']:.2f} "
        f"prompt_p50_ms={controls['prompt_2k']:.2f} post_20k_p50_ms={controls['post_bash_20k']:.2f} "
        f"post_100k_p50_ms={controls['post_webfetch_100k']:.2f} "
        f"controls_max_ratio={max(v for k, v in controls.items() if k != 'bare') / controls['bare']:.2f} "
        f"first_event_max_ms={max(first_ms):.1f}"
        + "".join(
            f" outbound_{name}_before_ms={outbound[name + '_before']:.2f}"
            f" outbound_{name}_after_ms={outbound[name + '_after']:.2f} outbound_{name}_ratio={outbound[name]:.2f}"
            for name in OUTBOUND_CASES
            if name in outbound
        )
        + "".join(
            f" {key}={outbound[key]:.2f}"
            for key in (
                "resident_before_p50",
                "resident_after_p50",
                "resident_before_p99",
                "resident_after_p99",
                "resident_before_x_bare",
                "resident_after_x_bare",
                "cold_before_x_bare",
                "cold_after_x_bare",
                "events_before_x_bare",
                "events_after_x_bare",
                "cold_cpu_before_x_bare",
                "cold_cpu_after_x_bare",
                "events_cpu_before_x_bare",
                "events_cpu_after_x_bare",
            )
            if key in outbound
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

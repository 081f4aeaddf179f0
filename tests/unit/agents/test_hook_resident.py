"""The resident hook: ``ramparts hook-server`` plus the thin client, reviewed for the fail-closed rules.

Real processes and real Unix sockets (in short private folders under /tmp: a socket path has at most
107 bytes). The rules under test:

- the client's answer is the full hook's answer, and each event is recorded exactly once;
- before the go byte, any failure (no server, a stale socket, a server that hangs, declines, crashes or
  cannot prove it holds the key) falls back to the full hook; after it, any failure denies;
- only the socket's user can connect; the server refuses an unsafe socket folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ramparts
from ramparts.agents.claude_code import hook_client as proto
from ramparts.agents.claude_code import hook_server
from ramparts.detect.redact import load_key

CLIENT = Path(proto.__file__).resolve()
LAUNCHER = CLIENT.with_name("run_hook_client.py")
"""What the installed command runs: the client, imported from its cached bytecode."""
POLICY = "version: 1\nextends: baseline\nhook: {deadline_ms: 1500, timeout: 5}\n"


def event(command: str = "ls -la", cwd: str = "/tmp", **changes: Any) -> bytes:
    data: dict[str, Any] = {
        "session_id": "11111111-2222-3333-4444-555555555555",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": cwd,
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": command, "description": "d"},
        "tool_use_id": "toolu_01",
    }
    data.update(changes)
    return json.dumps(data).encode()


# -- an interpreter whose `-I` imports the ramparts under test ------------------------------------------------


def python_for_tests(folder: Path) -> str:
    """``sys.executable`` when its isolated mode imports this ramparts; else a venv whose ``.pth`` puts
    this source tree first and this environment's site-packages after (a worktree beside an editable
    install of another checkout)."""
    mine = os.path.realpath(ramparts.__file__)
    probe = subprocess.run(
        [sys.executable, "-I", "-c", "import ramparts; print(ramparts.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    if os.path.realpath(probe.stdout.strip()) == mine:
        return sys.executable
    venv = folder / "venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-I",
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        paths = [os.path.dirname(os.path.dirname(mine))]
        paths += dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        Path(site, "00-ramparts-under-test.pth").write_text("\n".join(paths) + "\n")
    return str(venv / "bin" / "python")


@pytest.fixture(scope="session")
def py(tmp_path_factory: pytest.TempPathFactory) -> str:
    return python_for_tests(tmp_path_factory.mktemp("python"))


class Env:
    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.python = python
        self.policy = root / "ramparts.yaml"
        self.policy.write_text(POLICY)
        self.state = root / "state"
        self.cli_state = root / "cli-state"
        self.project = root / "project"
        self.project.mkdir()
        (self.project / ".env").write_text("API_TOKEN=sk-test-0000000000000000\n")
        self.socket = self.state / "hook.sock"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        self.servers: list[subprocess.Popen[bytes]] = []

    def hook_argv(self, state: Path | None = None) -> list[str]:
        state = state or self.state
        return [
            self.python,
            "-I",
            "-m",
            "ramparts",
            "hook",
            "--policy",
            str(self.policy),
            "--state-dir",
            str(state),
            "--deadline-ms",
            "1500",
        ]

    def client_argv(self, *options: str, state: Path | None = None) -> list[str]:
        return [self.python, "-I", "-S", str(CLIENT), *options, "--", *self.hook_argv(state)]

    def client(
        self, data: bytes, *options: str, env: dict[str, str] | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[bytes]:
        opts = options or ("--no-start",)
        return subprocess.run(
            self.client_argv(*opts),
            input=data,
            capture_output=True,
            env=env or self.env,
            timeout=timeout,
            check=False,
        )

    def cli(self, data: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self.hook_argv(self.cli_state),
            input=data,
            capture_output=True,
            env=self.env,
            timeout=30,
            check=False,
        )

    def start_server(self, *extra: str, idle: str = "60") -> subprocess.Popen[bytes]:
        argv = [self.python, "-I", "-m", "ramparts", "hook-server", "--policy", str(self.policy)]
        argv += ["--state-dir", str(self.state), "--idle-exit", idle, *extra]
        proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.servers.append(proc)
        sock = Path(extra[extra.index("--socket") + 1]) if "--socket" in extra else self.socket
        deadline = time.monotonic() + 20
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"the server did not start: {proc.stderr.read() if proc.stderr else ''!r}"
                )
            time.sleep(0.02)
        return proc

    def stop(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.fixture
def env(py: str) -> Iterator[Env]:
    root = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))
    e = Env(root, py)
    try:
        yield e
    finally:
        e.stop()
        pidfile = e.state / "hook.sock.lock"  # a server the client started: stop it by its own pid
        if pidfile.exists() and pidfile.read_text().strip().isdigit():
            with_pid = int(pidfile.read_text())
            cmdline = Path(f"/proc/{with_pid}/cmdline")
            if (
                cmdline.exists()
                and b"hook-server" in cmdline.read_bytes()
                and str(root).encode() in cmdline.read_bytes()
            ):
                os.kill(with_pid, signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


def records(state: Path) -> list[dict[str, Any]]:
    db = state / "audit.db"
    if not db.exists():
        return []
    from ramparts.audit.store import AuditStore

    with AuditStore(db) as store:
        return [r.data() for r in store.records()]


def answer(proc: subprocess.CompletedProcess[bytes]) -> tuple[int, Any]:
    """Exit code and stdout JSON with the per-decision id removed."""
    out = json.loads(proc.stdout)
    text = json.dumps(out)
    if "[decision " in text:
        start = text.index(" [decision ")
        text = text[:start] + text[text.index("]", start) + 1 :]
    return proc.returncode, json.loads(text)


def decision(proc: subprocess.CompletedProcess[bytes]) -> str:
    return str(json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"])


# -- the client alone ---------------------------------------------------------------------------------------------


def test_client_imports_only_builtin_modules(env: Env) -> None:
    """It must start about as fast as a bare interpreter: nothing beyond what `-I -S` loads anyway."""
    env.start_server()
    bare = subprocess.run(
        [env.python, "-I", "-S", "-X", "importtime", "-c", "pass"], capture_output=True, text=True, check=True
    )
    proc = subprocess.run(
        [env.python, "-I", "-S", "-X", "importtime", str(CLIENT), "--no-start", "--", *env.hook_argv()],
        input=event().decode(),
        capture_output=True,
        text=True,
        env=env.env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr

    def names(text: str) -> set[str]:
        return {ln.split("|")[-1].strip() for ln in text.splitlines() if ln.startswith("import time:")} - {
            "package"
        }

    # `-S` skips site and so os; the client's os and its frozen helpers are the only other modules
    frozen_os = {"os", "posixpath", "genericpath", "stat", "_stat", "_collections_abc", "abc", "_abc"}
    assert names(proc.stderr) - names(bare.stderr) <= {"_socket", "_blake2", "time", *frozen_os}
    launched = subprocess.run(
        [env.python, "-I", "-S", "-X", "importtime", str(LAUNCHER), "--no-start", "--", *env.hook_argv()],
        input=event().decode(),
        capture_output=True,
        text=True,
        env=env.env,
        check=False,
    )
    assert launched.returncode == 0, launched.stderr
    assert json.loads(launched.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
    extra = {"_socket", "_blake2", "time", "hook_client", *frozen_os}
    assert "hook_client" in names(launched.stderr)  # imported (from bytecode), not run as a script
    assert names(launched.stderr) - names(bare.stderr) <= extra


def test_the_launcher_does_nothing_when_imported() -> None:
    """Only run by path does it read stdin and ask the server."""
    import importlib

    module = importlib.import_module("ramparts.agents.claude_code.run_hook_client")
    assert not hasattr(module, "hook_client")


def test_request_framing_round_trips() -> None:
    server = hook_server.Server(policy="profile:baseline", state="/tmp/x")
    req = proto.request(["python", "-m", "ramparts", "hook", "--policy", "P"], b'{"a": 1}', b"n" * 16)

    class Conn:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def settimeout(self, _t: float) -> None:
            pass

        def recv(self, n: int) -> bytes:
            chunk, self.data = self.data[:n], self.data[n:]
            return chunk

    raw, env, argv, body = server.read_request(Conn(req))
    assert raw == req and body == b'{"a": 1}'
    assert argv == ["python", "-m", "ramparts", "hook", "--policy", "P"]
    assert set(env) == {"CLAUDE_PID", *proto.ENV_KEYS}
    with pytest.raises(hook_server._Drop):
        server.read_request(Conn(b"XXXX" + req[4:]))


# -- the same answers, recorded once ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        event("ls -la"),
        event("cat .env"),
        event("sudo ls"),
        b"",
        b"not json",
        b"[1, 2]",
        b"\xef\xbb\xbf{}",
        event(hook_event_name="UserPromptSubmit", prompt="hello"),
        event(hook_event_name="NoSuchEvent"),
        json.dumps({"hook_event_name": "PreToolUse"}).encode(),
    ],
    ids=[
        "allow",
        "sensitive",
        "deny",
        "empty",
        "not-json",
        "not-object",
        "bom",
        "prompt",
        "unknown",
        "no-session",
    ],
)
def test_resident_answers_like_the_cli(env: Env, data: bytes) -> None:
    data = data.replace(b'"cwd": "/tmp"', f'"cwd": "{env.project}"'.encode())
    env.start_server()
    resident, cli = env.client(data), env.cli(data)
    assert answer(resident) == answer(cli), (resident.stdout, cli.stdout)
    assert resident.stderr.replace(b"\n", b"")[:40] == cli.stderr.replace(b"\n", b"")[:40]
    mine, theirs = records(env.state), records(env.cli_state)
    assert len(mine) == len(theirs) >= 1  # the same records (an error is recorded too), never more
    assert [r["decision"] for r in mine] == [r["decision"] for r in theirs]


def test_a_changed_policy_is_used_on_the_next_request(env: Env) -> None:
    env.start_server()
    assert decision(env.client(event("ls -la"))) == "allow"
    env.policy.write_text(POLICY + "permissions:\n  deny: ['Bash(ls *)']\n")
    proc = env.client(event("ls -la"))
    assert decision(proc) == "deny" and "Bash(ls *)" in proc.stdout.decode()
    env.policy.write_text("version: 1\nextends: [\n")  # broken: the next event is denied, as by the CLI
    proc = env.client(event("ls -la"))
    assert proc.returncode == 2 and b"policy cannot be used" in proc.stdout
    assert len(records(env.state)) == 3


def test_many_events_in_a_row_and_in_parallel(env: Env) -> None:
    env.start_server()
    procs = [
        subprocess.Popen(
            env.client_argv("--no-start"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env.env
        )
        for _ in range(12)
    ]
    outs = [p.communicate(event("ls -la"), timeout=30)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(json.loads(o)["hookSpecificOutput"]["permissionDecision"] == "allow" for o in outs)
    assert len(records(env.state)) == 12
    verify = subprocess.run(
        [env.python, "-I", "-m", "ramparts", "audit", "verify", "--state-dir", str(env.state)],
        capture_output=True,
        env=env.env,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout


# -- the socket: who may connect ------------------------------------------------------------------------------------


def test_socket_is_private_and_the_folder_checked(env: Env) -> None:
    env.start_server()
    assert oct(env.socket.stat().st_mode & 0o777) == "0o600"
    assert oct(env.state.stat().st_mode & 0o777) == "0o700"
    loose = env.root / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    with pytest.raises(hook_server.ServerError, match="group- or world-writable"):
        hook_server.check_folder(str(loose))
    theirs = env.root / "theirs"
    theirs.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(theirs, 65534, 65534)
        with pytest.raises(hook_server.ServerError, match="another user"):
            hook_server.check_folder(str(theirs))
    proc = subprocess.run(
        [*env.hook_argv()[:4], "hook-server", "--policy", str(env.policy), "--socket", str(loose / "h.sock")],
        capture_output=True,
        text=True,
        env=env.env,
        timeout=30,
        check=False,
    )
    assert proc.returncode != 0 and "world-writable" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_another_user_cannot_connect(env: Env) -> None:
    shared = env.root / "shared"
    shared.mkdir()
    os.chmod(env.root, 0o755)
    os.chmod(shared, 0o755)  # others may look in; only the socket's mode keeps them out
    sock = shared / "hook.sock"
    env.start_server("--socket", str(sock))
    assert as_nobody(lambda: _connect(sock)) == "PermissionError"
    # second lock: with the socket opened up by mistake, the server still drops another uid unanswered
    os.chmod(sock, 0o666)
    req = proto.request(env.hook_argv(), event(), b"n" * 16)
    assert as_nobody(lambda: _connect(sock, req)) == "closed unanswered"
    assert records(env.state) == []


def _connect(path: Path, request: bytes | None = None) -> str:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(str(path))
    except PermissionError:
        return "PermissionError"
    if request is None:
        return "connected"
    try:
        s.sendall(request)
        return "closed unanswered" if s.recv(1) == b"" else "answered"
    except (BrokenPipeError, ConnectionResetError):
        return "closed unanswered"


def as_nobody(fn: Any) -> str:
    """Run ``fn`` in a forked child as uid/gid 65534; its string result comes back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(w, str(fn()).encode())
        except BaseException as exc:
            os.write(w, f"error {exc!r}".encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as f:
        return f.read().decode()


def test_server_refuses_a_second_instance(env: Env) -> None:
    env.start_server()
    proc = subprocess.run(
        [*env.hook_argv()[:4], "hook-server", "--policy", str(env.policy), "--state-dir", str(env.state)],
        capture_output=True,
        text=True,
        env=env.env,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0 and "already served" in proc.stderr
    assert decision(env.client(event())) == "allow"


# -- failures before the go byte: fall back; after it: deny ------------------------------------------------------


def test_no_server_falls_back(env: Env) -> None:
    proc = env.client(event("cat .env", cwd=str(env.project)))
    assert decision(proc) == "deny" and proc.returncode == 0
    assert len(records(env.state)) == 1 and not env.socket.exists()


def test_killed_server_leaves_a_stale_socket_that_falls_back(env: Env) -> None:
    server = env.start_server()
    server.kill()
    server.wait()
    assert env.socket.exists()
    proc = env.client(event())
    assert decision(proc) == "allow"
    deadline = time.monotonic() + 20  # it started a server: let it come up, so the fixture can stop it
    while not (env.state / "hook.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(records(env.state)) == 1


def test_a_server_with_another_environment_declines(env: Env) -> None:
    env.start_server()
    other = dict(env.env, HOME=str(env.root / "elsewhere"))
    proc = env.client(event(), env=other)
    assert decision(proc) == "allow"
    deadline = time.monotonic() + 20  # it started a server: let it come up, so the fixture can stop it
    while not (env.state / "hook.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(records(env.state)) == 1  # by the fallback, which ran with the client's own HOME


def test_a_request_for_another_policy_declines(env: Env) -> None:
    env.start_server()
    other = env.root / "other.yaml"
    other.write_text(POLICY + "permissions:\n  deny: ['Bash(ls *)']\n")
    argv = [env.python, "-I", "-S", str(CLIENT), "--no-start", "--", *env.hook_argv()]
    argv[argv.index(str(env.policy))] = str(other)
    proc = subprocess.run(argv, input=event(), capture_output=True, env=env.env, timeout=30, check=False)
    assert decision(proc) == "deny"  # the fallback used the policy the command names, not the server's


class FakeServer:
    """A listener at the socket path that misbehaves in a chosen way."""

    def __init__(self, path: Path, key: bytes | None, mode: str) -> None:
        self.key, self.mode = key, mode
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        os.chmod(path, 0o600)
        self.sock.listen(8)
        self.got_go = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        with contextlib.suppress(OSError):  # the client went away: that is its business
            self.serve_one()

    def serve_one(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(10)
            if self.mode == "hang-before-ready":
                time.sleep(6)
                return
            head = conn.recv(24)
            meta = proto._recv_exact(conn, int.from_bytes(head[-4:], "big"))
            size = conn.recv(4)
            body = proto._recv_exact(conn, int.from_bytes(size, "big"))
            req = head + meta + size + body
            if self.mode == "crash-before-ready":
                return
            if self.mode == "unauthenticated-ready":
                conn.sendall(b"K" + b"\0" * 32)
                time.sleep(1)
                return
            assert self.key is not None
            conn.sendall(b"K" + proto._mac(self.key, req, b"K"))
            if conn.recv(1) == b"G":
                self.got_go.set()
            if self.mode == "hang-after-go":
                time.sleep(6)
            elif self.mode == "forged-allow":
                out = json.dumps(
                    {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
                )
                data = out.encode()
                conn.sendall(b"R\0" + len(data).to_bytes(4, "big") + data + b"\0\0\0\0" + b"\0" * 32)
            # "crash-after-go": close now

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("mode", ["hang-before-ready", "crash-before-ready", "unauthenticated-ready"])
def test_failures_before_go_fall_back_within_the_wait(env: Env, mode: str) -> None:
    key = load_key(str(env.state / "keys" / "hook.key"))
    fake = FakeServer(env.socket, key, mode)
    try:
        t0 = time.monotonic()
        proc = env.client(event("cat .env", cwd=str(env.project)), "--no-start", "--wait-ms", "300")
        elapsed = time.monotonic() - t0
    finally:
        fake.close()
    assert decision(proc) == "deny" and proc.returncode == 0  # the full hook's own answer
    assert len(records(env.state)) == 1  # recorded once, by the fallback
    assert not fake.got_go.is_set()
    if mode == "hang-before-ready":
        assert elapsed < 5  # 300 ms of waiting, then the full hook


@pytest.mark.parametrize("mode", ["hang-after-go", "crash-after-go", "forged-allow"])
def test_failures_after_go_deny_without_a_second_record(env: Env, mode: str) -> None:
    key = load_key(str(env.state / "keys" / "hook.key"))
    fake = FakeServer(env.socket, key, mode)
    try:
        t0 = time.monotonic()
        proc = env.client(event("ls -la"), "--no-start", "--wait-ms", "300")
        elapsed = time.monotonic() - t0
    finally:
        fake.close()
    assert fake.got_go.is_set()
    assert proc.returncode == 2, proc.stdout
    out = json.loads(proc.stdout)["hookSpecificOutput"]
    assert out["permissionDecision"] == "deny" and "resident hook" in out["permissionDecisionReason"]
    assert records(env.state) == []  # no fallback: the server might have recorded it already
    if mode == "hang-after-go":
        assert elapsed < 1.5 + 1 + 0.3 + 2  # the hook's deadline plus the reply margin (and start-up)


def test_a_server_without_the_key_is_not_trusted(env: Env) -> None:
    """A listener that anyone of this user started (e.g. `nc -lU`) cannot get an allow through."""
    fake = FakeServer(env.socket, os.urandom(32), "forged-allow")  # the wrong key
    load_key(str(env.state / "keys" / "hook.key"))
    try:
        proc = env.client(event("sudo ls"), "--no-start", "--wait-ms", "300")
    finally:
        fake.close()
    assert not fake.got_go.is_set()
    assert decision(proc) == "deny" and "sudo" in proc.stdout.decode()  # the full hook decided


def test_invalid_client_command_line_denies(env: Env) -> None:
    proc = subprocess.run(
        [env.python, "-I", "-S", str(CLIENT), "--bogus"], input=event(), capture_output=True, check=False
    )
    assert (
        proc.returncode == 2 and json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"
    )
    proc = subprocess.run(
        [env.python, "-I", "-S", str(CLIENT), "--", "/nonexistent/python"],
        input=event(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 2 and b"cannot be run" in proc.stdout


# -- the server's life ---------------------------------------------------------------------------------------------


def test_idle_exit_and_sigterm_remove_the_socket(env: Env) -> None:
    server = env.start_server(idle="1")
    assert server.wait(timeout=15) == 0
    assert not env.socket.exists()
    server = env.start_server()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=15) == 0
    assert not env.socket.exists()


def test_the_client_starts_a_server_for_the_next_event(env: Env) -> None:
    first = env.client(event(), "--idle-exit", "20")
    assert decision(first) == "allow"  # the full hook answered this one
    deadline = time.monotonic() + 20
    while not env.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert env.socket.exists()
    pid = int((env.state / "hook.sock.lock").read_text())
    assert os.getsid(pid) == pid  # detached: its own session
    second = env.client(event(), "--no-start")
    assert decision(second) == "allow"
    assert len(records(env.state)) == 2


def test_deadline_inside_the_server_denies_and_the_server_survives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.replace("1500, timeout: 5", "8000, timeout: 10"))  # a loaded machine is slow
    server = hook_server.Server(policy=str(policy), state=str(tmp_path / "s"))
    import ramparts.engine

    real = ramparts.engine.decide

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ramparts.engine, "decide", slow)
    code, out, err = server.run_hook(event(), None, os.getpid(), "200")
    assert code == 2 and "deadline of 200 ms passed" in out and "deadline" in err
    # like the CLI: the deny given at the deadline is recorded (and nothing of the unfinished decision)
    [deadline] = records(tmp_path / "s")
    assert deadline["rule_ids"] == ["hook.deadline"] and deadline["decision"] == "deny"
    monkeypatch.setattr(ramparts.engine, "decide", real)
    code, out, _ = server.run_hook(event(), None, os.getpid(), None)
    assert code == 0 and '"allow"' in out, out
    assert len(records(tmp_path / "s")) == 2
    server.stores.drop()


def test_replaced_audit_store_is_reopened(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    state = tmp_path / "s"
    server = hook_server.Server(policy=str(policy), state=str(state))
    assert server.run_hook(event(), None, os.getpid(), None)[0] == 0
    for name in ("audit.db", "audit.db-wal", "audit.db-shm"):
        (state / name).unlink(missing_ok=True)
    assert server.run_hook(event(), None, os.getpid(), None)[0] == 0
    assert len(records(state)) == 1  # written to the new file, not the unlinked one
    server.stores.drop()


# -- compile ---------------------------------------------------------------------------------------------------------


def test_compile_resident_writes_the_client_command(env: Env) -> None:
    env.policy.write_text(POLICY + "")
    out = subprocess.run(
        [
            *env.hook_argv()[:4],
            "compile",
            "--policy",
            str(env.policy),
            "--state-dir",
            str(env.state),
            "--resident",
        ],
        capture_output=True,
        text=True,
        env=env.env,
        check=True,
    ).stdout
    handler = json.loads(out)["hooks"]["PreToolUse"][0]["hooks"][0]
    assert handler["onFailure"] == "block" and handler["timeout"] == 5
    assert f"-I -S {LAUNCHER} --wait-ms" in handler["command"]
    # the fallback is the plain hook command: this tree's launcher, by path, without site
    hook = [env.python, "-I", "-S", str(CLIENT.with_name("run_hook.py")), *env.hook_argv()[4:]]
    assert handler["command"].endswith(" -- " + " ".join(hook))
    env.policy.write_text(POLICY.replace("timeout: 5}", "timeout: 5, resident: true}"))
    out = subprocess.run(
        [*env.hook_argv()[:4], "compile", "--policy", str(env.policy), "--state-dir", str(env.state)],
        capture_output=True,
        text=True,
        env=env.env,
        check=True,
    ).stdout
    assert str(LAUNCHER) in json.loads(out)["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    # the compiled command works through a shell, as Claude Code runs it
    proc = subprocess.run(
        ["/bin/sh", "-c", handler["command"]],
        input=event(),
        capture_output=True,
        env=env.env,
        timeout=30,
        check=False,
    )
    assert decision(proc) == "allow"
    deadline = time.monotonic() + 20  # it started a server: let it come up, so the fixture can stop it
    while not (env.state / "hook.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_server_takes_the_fast_scoring_paths_once_in_a_quiet_moment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-lived server loads the injection scorer's array path and prefilter (the gateway's, same
    scores) once, in a background thread, when no request has come for a second: never on the way to
    an answer. A failure to load leaves the pure-Python path on."""
    import threading

    from ramparts.detect import injection

    calls: list[str] = []
    done = threading.Event()
    monkeypatch.setattr(injection, "use_numpy", lambda enabled=True: calls.append("numpy") or True)

    def hyperscan(enabled: bool = True, cache_dir: str | None = None) -> bool:
        calls.append(f"hyperscan:{cache_dir}")
        done.set()
        return True

    monkeypatch.setattr(injection, "use_hyperscan", hyperscan)
    monkeypatch.delenv("RAMPARTS_CACHE_DIR", raising=False)
    server = hook_server.Server(policy="profile:baseline", state=str(tmp_path / "s"))
    server._speed_up_scoring()
    server._speed_up_scoring()  # once only
    assert done.wait(10)
    assert calls == ["numpy", f"hyperscan:{tmp_path / 's' / 'cache'}"]

    def broken(enabled: bool = True) -> bool:
        raise RuntimeError("no numpy here")

    monkeypatch.setattr(injection, "use_numpy", broken)
    server._load_fast_paths()  # said on stderr, nothing raised: the server keeps serving

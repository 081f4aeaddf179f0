"""The resident hook's thin client: ``python -I -S run_hook_client.py [options] -- <full hook command>``.

Claude Code runs it for every event (the default; ``hook.resident: false`` opts out), through
``run_hook_client.py``, which imports this module from its cached bytecode (run by path, as older
installs do, it works the same but is compiled on every event). It
imports only built-in modules (``_socket``, ``_blake2``, ``os``, ``sys``) so it starts about as fast
as a bare interpreter, hands the event to ``ramparts hook-server`` over a Unix socket and relays the
server's answer (stdout, stderr, exit code).

It never decides anything itself. The rule (see docs/hook.md):

- Until it sends the go byte, the server has done nothing durable, so on any failure (no socket,
  refused, a server that is not ours, a server that declines, no ready byte within ``--wait-ms``)
  it *falls back*: it ``exec``s the full hook command with the same stdin bytes, so the event is
  decided and recorded exactly once, by today's path.
- After the go byte the server may have recorded a decision; falling back could record it twice.
  Any failure then (timeout, crash, malformed or unauthenticated reply) is a *deny* (exit 2).

Options (before ``--``): ``--socket PATH`` (default ``<state dir>/hook.sock``), ``--wait-ms N`` (how
long to wait for the server's ready byte, default 1000), ``--idle-exit S`` (passed to a server this
client starts), ``--no-start`` (never start a server). The state directory is the hook command's
``--state-dir``, else ``RAMPARTS_STATE_DIR``, else ``$XDG_STATE_HOME/ramparts``.
"""

import _socket
import os
import sys

MAGIC = b"RPH1"
ENV_KEYS = (
    "HOME",
    "USER",
    "LOGNAME",
    "RAMPARTS_POLICY",
    "RAMPARTS_STATE_DIR",
    "RAMPARTS_CACHE_DIR",
    "XDG_STATE_HOME",
    "XDG_CONFIG_HOME",
)
"""What the hook reads from its environment: the server serves only clients whose values match its own."""
HARD_MAX_INPUT = 64 * 1024 * 1024
MAX_REPLY = 16 * 1024 * 1024
MAC_BYTES = 32
NONCE_BYTES = 16
KEY_BYTES = 32
DEFAULT_WAIT_MS = 1000
DEFAULT_DEADLINE_MS = 4000
REPLY_MARGIN_MS = 1000
EXIT_BLOCK = 2
READY, DECLINE, GO, REPLY = b"K", b"F", b"G", b"R"


class _Fallback(Exception):
    """Nothing durable happened on the server: run the full hook instead."""


class _Deny(Exception):
    """The server may have recorded a decision, but its answer did not arrive intact: deny."""


def _mac(key: bytes, *parts: bytes) -> bytes:
    import _blake2

    h = _blake2.blake2b(key=key, digest_size=MAC_BYTES)
    for part in parts:
        h.update(part)
    return h.digest()


def _state_dir(hook_argv: list[str]) -> str:
    for i, arg in enumerate(hook_argv):
        if arg == "--state-dir" and i + 1 < len(hook_argv):
            return os.path.expanduser(hook_argv[i + 1])
        if arg.startswith("--state-dir="):
            return os.path.expanduser(arg[len("--state-dir=") :])
    env = os.environ.get("RAMPARTS_STATE_DIR")
    if env:
        return os.path.expanduser(env)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "ramparts")


def _deadline_ms(hook_argv: list[str]) -> int:
    for i, arg in enumerate(hook_argv):
        value = hook_argv[i + 1] if arg == "--deadline-ms" and i + 1 < len(hook_argv) else ""
        if arg.startswith("--deadline-ms="):
            value = arg[len("--deadline-ms=") :]
        if value.isdigit():
            return int(value)
    return DEFAULT_DEADLINE_MS


def _parse(argv: list[str]) -> tuple[dict[str, str], list[str]] | None:
    if "--" not in argv:
        return None
    split = argv.index("--")
    options, hook_argv = argv[:split], argv[split + 1 :]
    out: dict[str, str] = {}
    i = 0
    while i < len(options):
        flag = options[i]
        if flag == "--no-start":
            out[flag] = "1"
        elif flag in ("--socket", "--wait-ms", "--idle-exit") and i + 1 < len(options):
            i += 1
            out[flag] = options[i]
        else:
            return None
        i += 1
    for flag in ("--wait-ms", "--idle-exit"):
        if flag in out and not out[flag].isdigit():
            return None
    if not hook_argv:
        return None
    return out, hook_argv


def _private(path: str, uid: int) -> bool:
    """Owned by us and writable by nobody else."""
    st = os.stat(path)
    return st.st_uid == uid and not st.st_mode & 0o022


def _read_key(path: str, uid: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        st = os.fstat(fd)
        if st.st_uid != uid or st.st_mode & 0o077:
            raise OSError("the resident hook's key is not private")
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise OSError("the resident hook's key has the wrong size")
    return key


def _recv_exact(sock: "_socket.socket", n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise OSError("connection closed early")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _start_server(hook_argv: list[str], socket_path: str, idle_exit: str | None) -> None:
    """Start ``ramparts hook-server`` detached (own session, stdio on /dev/null); errors are ignored."""
    if "hook" not in hook_argv or not hasattr(os, "posix_spawn"):
        return
    i = hook_argv.index("hook")
    argv = [*hook_argv[:i], "hook-server", *hook_argv[i + 1 :], "--socket", socket_path]
    if idle_exit:
        argv += ["--idle-exit", idle_exit]
    null = os.devnull
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, null, os.O_WRONLY, 0),
    ]
    try:  # noqa: SIM105 - contextlib costs an import on every event
        os.posix_spawn(argv[0], argv, dict(os.environ), file_actions=actions, setsid=True)
    except (OSError, ValueError, NotImplementedError):  # NotImplementedError: no POSIX_SPAWN_SETSID
        pass


def fallback(hook_argv: list[str], data: bytes) -> None:
    """Replace this process with the full hook command, its stdin the same bytes; never returns."""
    try:
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("ramparts-hook-event")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.lseek(fd, 0, 0)
        else:
            import tempfile

            handle = tempfile.TemporaryFile()  # noqa: SIM115 - its fd is dup'ed onto stdin
            handle.write(data)
            handle.flush()
            fd = os.dup(handle.fileno())
            os.lseek(fd, 0, 0)
        os.dup2(fd, 0)
        os.close(fd)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(hook_argv[0], hook_argv)  # noqa: S606 - the hook command Ramparts installed
    except (OSError, ValueError, IndexError) as exc:
        deny(f"the hook command cannot be run: {exc}", data)


def deny(reason: str, data: bytes) -> None:
    """Deny or block in the event's shape, exit code 2 (the same answer the full hook gives on an error)."""
    import json

    name = "PreToolUse"
    try:
        value = json.loads(data)
        if isinstance(value, dict) and isinstance(value.get("hook_event_name"), str):
            name = value["hook_event_name"]
    except ValueError:
        pass
    message = f"Ramparts blocked this ({reason}). The hook fails closed."
    output: dict[str, object]
    if name == "PreToolUse":
        output = {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": message,
            }
        }
    elif name in ("SessionStart", "SessionEnd"):
        output = {"continue": False, "stopReason": message}
    else:
        output = {"decision": "block", "reason": message}
    sys.stdout.write(json.dumps(output) + "\n")
    sys.stdout.flush()
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(EXIT_BLOCK)


def request(hook_argv: list[str], data: bytes, nonce: bytes) -> bytes:
    """The request bytes: magic, nonce, the client's environment and hook command, the event."""
    fields = []
    for name in ("CLAUDE_PID", *ENV_KEYS):
        value = os.environ.get(name)
        fields.append(name if value is None else f"{name}={value}")
    meta = "\0".join([*fields, "--", *hook_argv]).encode("utf-8", "surrogateescape")
    return b"".join((MAGIC, nonce, len(meta).to_bytes(4, "big"), meta, len(data).to_bytes(4, "big"), data))


def ask(
    options: dict[str, str], hook_argv: list[str], data: bytes, started: float
) -> tuple[int, bytes, bytes]:
    """Ask the resident server; raises _Fallback before the go byte, _Deny after it."""
    import time

    if not hasattr(_socket, "AF_UNIX") or not hasattr(os, "getuid"):
        raise _Fallback("no Unix sockets here (Windows): the full hook decides")
    uid = os.getuid()
    state = _state_dir(hook_argv)
    path = options.get("--socket") or os.path.join(state, "hook.sock")
    wait = int(options.get("--wait-ms", DEFAULT_WAIT_MS)) / 1000
    try:
        folder_ok = _private(os.path.dirname(path) or ".", uid) and os.lstat(path).st_uid == uid
    except FileNotFoundError:
        folder_ok = False
        if "--no-start" not in options:
            _start_server(hook_argv, path, options.get("--idle-exit"))
    except OSError as exc:
        raise _Fallback(str(exc)) from None
    if not folder_ok:
        raise _Fallback("no private socket")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            key = _read_key(os.path.join(state, "keys", "hook.key"), uid)
            sock.settimeout(max(wait - (time.monotonic() - started), 0.01))
            try:
                sock.connect(path)
            except (FileNotFoundError, ConnectionRefusedError):
                if "--no-start" not in options:  # a stale socket: its server is gone
                    _start_server(hook_argv, path, options.get("--idle-exit"))
                raise
            peercred = getattr(_socket, "SO_PEERCRED", None)
            if peercred is not None:
                creds = sock.getsockopt(_socket.SOL_SOCKET, peercred, 12)
                if int.from_bytes(creds[4:8], sys.byteorder) != uid:
                    raise OSError("the socket's server runs as another user")
            req = request(hook_argv, data, os.urandom(NONCE_BYTES))
            sock.sendall(req)
            sock.settimeout(max(wait - (time.monotonic() - started), 0.001))
            first = _recv_exact(sock, 1)
            if first != READY:
                raise OSError("the server declined")
            if _recv_exact(sock, MAC_BYTES) != _mac(key, req, READY):
                raise OSError("the server's ready byte is not authenticated")
            sock.sendall(GO)  # if this raises, the byte was not queued: the server cannot go on
        except OSError as exc:  # also TimeoutError: no ready byte within --wait-ms
            raise _Fallback(str(exc)) from None
        # Committed: the server may record the decision from here on.
        budget = (_deadline_ms(hook_argv) + REPLY_MARGIN_MS) / 1000
        until = time.monotonic() + budget
        try:
            sock.settimeout(budget)
            head = _recv_exact(sock, 2)
            if head[:1] != REPLY or head[1] not in (0, EXIT_BLOCK):
                raise OSError("malformed reply")
            sizes = []
            parts = [head]
            for _ in range(2):
                sock.settimeout(max(until - time.monotonic(), 0.001))
                size_bytes = _recv_exact(sock, 4)
                size = int.from_bytes(size_bytes, "big")
                if size > MAX_REPLY:
                    raise OSError("reply too large")
                sock.settimeout(max(until - time.monotonic(), 0.001))
                parts += [size_bytes, _recv_exact(sock, size)]
                sizes.append(parts[-1])
            sock.settimeout(max(until - time.monotonic(), 0.001))
            if _recv_exact(sock, MAC_BYTES) != _mac(key, req, *parts):
                raise OSError("reply not authenticated")
        except TimeoutError:
            raise _Deny(f"the resident hook did not answer within {int(budget * 1000)} ms") from None
        except OSError as exc:
            raise _Deny(f"the resident hook's answer was lost: {exc}") from None
        return head[1], sizes[0], sizes[1]
    finally:
        sock.close()


def main(argv: list[str]) -> None:
    import time

    started = time.monotonic()
    parsed = _parse(argv)
    data = sys.stdin.buffer.read(HARD_MAX_INPUT + 1)
    if parsed is None:
        if "--" in argv and argv.index("--") + 1 < len(argv):
            fallback(argv[argv.index("--") + 1 :], data)
        deny("the resident hook client's command line is invalid", data)
        return
    options, hook_argv = parsed
    if len(data) > HARD_MAX_INPUT:
        fallback(hook_argv, data)  # the full hook gives the oversize deny
    try:
        code, out, err = ask(options, hook_argv, data, started)
    except _Fallback:
        fallback(hook_argv, data)
        return
    except _Deny as exc:
        deny(str(exc), data)
        return
    except BaseException as exc:  # noqa: BLE001 - whatever broke, never let it read as an allow
        deny(f"the resident hook client failed: {type(exc).__name__}", data)
        return
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(err)
    sys.stderr.buffer.flush()
    os._exit(code)


if __name__ == "__main__":  # older installs run this file by path (run_hook_client.py guards the same way)
    try:
        main(sys.argv[1:])
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - exit code 2 alone blocks; any other lets the tool run
        try:
            sys.stderr.write(f"ramparts hook: cannot start: {type(exc).__name__}; denying\n")
            sys.stderr.flush()
        finally:
            os._exit(EXIT_BLOCK)

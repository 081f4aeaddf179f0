"""``ramparts hook-server``: a per-user resident process that answers hook events over a Unix socket.

The thin client (``hook_client.py``, run by path with ``python -I -S``) sends one event per connection;
the server runs the same :class:`~ramparts.agents.claude_code.hook.Hook` in-process (in-memory stdin,
stdout and stderr; the audit record and session store written exactly as by ``ramparts hook``) and
replies with the exit code, stdout and stderr. Requests are served one at a time in the main thread,
so the hook's SIGALRM deadline works as in the CLI: here it raises instead of ending the process.

Protocol (all lengths 4-byte big-endian; MAC = keyed BLAKE2b-256 with ``<state>/keys/hook.key``)::

    client: "RPH1" nonce[16] len meta len event      meta: NAME=value or NAME (unset), "--", hook argv; \\0-joined
    server: "K" MAC(request, "K")                    ready: nothing recorded yet
        or: "F" len reason                           declined: the client runs the full hook
    client: "G"                                      go: from here on the client never falls back
    server: "R" code len stdout len stderr MAC(request, reply)

The server processes nothing durable before the go byte, and gives up on a connection whose go byte
does not come within a second; the client falls back to the full hook only before sending it. So an
event is recorded at most once by the resident path and never both by it and by the fallback.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import signal
import stat
import sys
import time
from typing import Any

from ... import rule_ids as rids
from ..._locations import policy_ref, state_dir
from ...errors import RampartsError
from . import hook_client as proto
from .hook import EXIT_BLOCK, HARD_MAX_INPUT, Hook

DEFAULT_IDLE_EXIT = 900
GO_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
MAX_META = 64 * 1024
STAMP_INTERVAL = 1.0
REFREEZE_EVERY = 500
"""Requests between two full garbage collections (``Server._tidy``)."""
SPEED_UP_AFTER = 1.0
"""Seconds without a request after which the server loads its faster scoring paths (once)."""


class ServerError(RampartsError):
    """The server cannot start (unsafe socket folder, bind failure)."""


class _DeadlinePassed(BaseException):
    """Raised by the deadline alarm inside a served request (the CLI would end its process instead)."""


class _Stop(BaseException):
    """SIGTERM while no request is in progress."""


class _Drop(Exception):
    """Close the connection without an answer (before the go byte: the client falls back)."""


class _Kept:
    """A store kept open across requests (closing the sole connection checkpoints the WAL and costs a
    file sync): ``Hook.run`` closing it leaves it open."""

    def __init__(self, inner: Any, ident: tuple[int, int]) -> None:
        self.inner = inner
        self.ident = ident

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def close(self) -> None:
        pass

    def close_db(self) -> None:
        pass


class Stores:
    """The audit and session stores, open across requests; reopened when their file is replaced."""

    def __init__(self) -> None:
        self.kept: dict[str, _Kept] = {}

    def get(self, path: str, busy_timeout_ms: int, *, key_path: str | None = None) -> _Kept:
        url = path.startswith(("postgresql://", "postgres://"))  # a server: no file to watch
        kept = self.kept.get(path)
        try:
            st = os.stat(path) if not url else None
            ident = (st.st_dev, st.st_ino) if st else (0, 0)
        except FileNotFoundError:
            ident = (-1, -1)
        if kept is not None and kept.ident == ident:
            return kept
        self.drop(path)
        if url or path.endswith("audit.db"):
            from ...audit.store import AuditStore

            inner: Any = AuditStore(path, busy_timeout_ms=busy_timeout_ms, key_path=key_path)
        else:
            from ...session.store import SessionStore

            inner = SessionStore(path, busy_timeout_ms=busy_timeout_ms)
        st = os.stat(path) if not url else None
        kept = self.kept[path] = _Kept(inner, (st.st_dev, st.st_ino) if st else (0, 0))
        return kept

    def drop(self, path: str | None = None) -> None:
        for name in [path] if path else list(self.kept):
            kept = self.kept.pop(name, None) if name else None
            if kept is not None:
                with contextlib.suppress(Exception):
                    closer = getattr(kept.inner, "close_db", None) or kept.inner.close
                    closer()


class ResidentHook(Hook):
    """The CLI hook, for a request served in-process: the deadline and SIGTERM must not end the server."""

    def __init__(self, *, on_term: Any, stores: Stores, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.on_term = on_term
        self.stores = stores
        self.deadline_passed = False

    def _store(self) -> Any:
        if self.store is None:
            from ...audit.keys import default_key_path
            from ...audit.store import audit_location

            path = audit_location(self.state_dir)  # $RAMPARTS_AUDIT_URL, else the state directory's file
            key = default_key_path(self.state_dir)
            self.store = self.stores.get(path, max(self.deadline_ms // 2, 100), key_path=key)
        return self.store

    def _sessions(self) -> Any:
        if self.sessions is None:
            path = os.path.join(self.state_dir, "sessions.db")
            self.sessions = self.stores.get(path, max(self.deadline_ms // 2, 100))
        return self.sessions

    def _on_deadline(self, signum: int, frame: object) -> None:
        del frame
        if signum == signal.SIGTERM:
            self.on_term()  # finish this request, then stop
            return
        self.deadline_passed = True
        self.fail(f"hook deadline of {self.deadline_ms} ms passed")
        raise _DeadlinePassed

    def _error(self, reason: str) -> int:
        if self.deadline_passed:  # answered already; the request has unwound: record the deadline's deny
            self._record_error(f"hook deadline of {self.deadline_ms} ms passed", rids.HOOK_DEADLINE)
            return self.fail(reason)
        return super()._error(reason)


def _norm_policy(ref: str) -> str:
    return ref if ref.startswith("profile:") else os.path.realpath(os.path.expanduser(ref))


def _hook_args(argv: list[str]) -> dict[str, str] | None:
    from ...cli import _hook_args as parse

    if "hook" not in argv:
        return None
    return parse(argv[argv.index("hook") + 1 :])


def check_folder(folder: str) -> None:
    """The socket's folder must be ours and writable by nobody else (created 0700 when absent)."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    st = os.stat(folder)
    if not stat.S_ISDIR(st.st_mode):
        raise ServerError(f"{folder} is not a folder")
    if st.st_uid != os.geteuid():
        raise ServerError(f"refusing to serve: {folder} belongs to another user (uid {st.st_uid})")
    if st.st_mode & 0o022:
        raise ServerError(f"refusing to serve: {folder} is group- or world-writable")


def _code_files() -> list[str]:
    import ramparts

    root = os.path.dirname(os.path.abspath(ramparts.__file__))
    out = []
    for folder, _dirs, files in os.walk(root):
        out += [os.path.join(folder, f) for f in files if f.endswith(".py")]
    return sorted(out)


class _CodeWatch:
    """inotify watches on the folders of Ramparts' code files (Linux): its descriptor turns readable when
    something in them changed, so an idle server can sleep in ``select`` instead of waking every second
    to look at the files. Only a wake-up: what changed is still decided by the files' stamps."""

    MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
    """IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_MOVED_FROM, IN_MOVED_TO, IN_CREATE, IN_DELETE,
    IN_DELETE_SELF, IN_MOVE_SELF."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def open(cls, files: list[str]) -> _CodeWatch | None:
        """Watches on every folder holding one of ``files``; None where that cannot be had (not Linux,
        no inotify, out of watches): the server then polls."""
        if not sys.platform.startswith("linux") or not files:
            return None
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fd = int(libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        for folder in sorted({os.path.dirname(f) for f in files}):
            if libc.inotify_add_watch(fd, os.fsencode(folder), cls.MASK) < 0:
                os.close(fd)
                return None
        return cls(fd)

    def pending(self) -> bool:
        import select

        return bool(select.select([self.fd], [], [], 0)[0])

    def drain(self) -> None:
        try:
            while os.read(self.fd, 65536):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        os.close(self.fd)


def _stamp(files: list[str]) -> tuple[tuple[int, int], ...]:
    out = []
    for path in files:
        try:
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, -1))
    return tuple(out)


class Server:
    def __init__(
        self,
        *,
        policy: str | None,
        state: str | None,
        socket_path: str | None = None,
        idle_exit: float = DEFAULT_IDLE_EXIT,
    ) -> None:
        self.policy = policy_ref(policy)
        self.state = state_dir(state)
        self.socket_path = os.path.abspath(socket_path or os.path.join(self.state, "hook.sock"))
        self.idle_exit = idle_exit
        self.stopping = False
        self.busy = False
        self._sped_up = False
        self.served = 0
        self.env = {name: os.environ.get(name) for name in proto.ENV_KEYS}
        self.key = b""
        self.stores = Stores()
        self._files: list[str] = []
        self._stamp: tuple[tuple[int, int], ...] = ()
        self._stamp_checked = 0.0
        self._since_full = 0
        self._lock_fd = -1
        self._sock: Any = None
        self._inode: tuple[int, int] | None = None
        self._watch: _CodeWatch | None = None

    # -- life cycle ------------------------------------------------------------------------------------

    def open(self) -> bool:
        """Take the lock and bind the socket; False when another server already serves this socket."""
        import fcntl
        import socket

        from ...detect.redact import load_key

        if not hasattr(signal, "SIGALRM") or not hasattr(socket, "AF_UNIX"):
            raise ServerError("the resident hook needs a POSIX system (Unix sockets, SIGALRM)")
        folder = os.path.dirname(self.socket_path)
        check_folder(folder)
        self._lock_fd = os.open(self.socket_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = -1
            return False
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, f"{os.getpid()}\n".encode())
        self.key = load_key(os.path.join(self.state, "keys", "hook.key"))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)  # we hold the lock: whoever bound it is gone
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # born 0600: no moment when another user could connect
        try:
            sock.bind(self.socket_path)
        except OSError as exc:
            sock.close()
            raise ServerError(f"cannot bind {self.socket_path}: {exc}") from exc
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        st = os.stat(self.socket_path)
        self._inode = (st.st_dev, st.st_ino)
        sock.listen(64)
        self._sock = sock
        self._files = _code_files()
        self._stamp = _stamp(self._files)
        self._stamp_checked = time.monotonic()
        return True

    def close(self) -> None:
        self.stores.drop()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            try:
                st = os.stat(self.socket_path)
                if (st.st_dev, st.st_ino) == self._inode:
                    os.unlink(self.socket_path)
            except OSError:
                pass
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _on_term(self, signum: int, frame: object) -> None:
        del signum, frame
        self.stopping = True
        if not self.busy:
            raise _Stop

    def _term_in_request(self) -> None:
        self.stopping = True

    def serve(self) -> int:
        """Serve until idle for ``idle_exit`` seconds, SIGTERM, or an upgrade of Ramparts' code.

        What the tail of a request's latency needs kept off its path is done between requests: the check
        for changed code and the garbage collector (``_tidy``). While idle the server sleeps until a
        client connects, its code's folders change (inotify, on Linux: :class:`_CodeWatch`) or the idle
        deadline; where the folders cannot be watched it wakes every ``STAMP_INTERVAL`` to check."""
        import select

        watch: _CodeWatch | None = None
        old = signal.signal(signal.SIGTERM, self._on_term)
        try:  # from here a SIGTERM raises _Stop, caught below
            last = time.monotonic()
            watch = self._watch = _CodeWatch.open(self._files)
            gc.disable()  # collected between requests (_tidy), never in the middle of one
            while not self.stopping:
                idle = self.idle_exit - (time.monotonic() - last)
                if idle <= 0:
                    break
                if watch is not None:
                    wait = idle if self._sped_up else min(idle, SPEED_UP_AFTER)
                    ready = select.select([self._sock, watch.fd], [], [], wait)[0]
                    if not ready and not self._sped_up:
                        self._speed_up_scoring()  # a quiet moment: nothing waits on the loading
                        continue
                    if watch.fd in ready:
                        watch.drain()
                        if self._code_changed(now=True):
                            break  # an upgrade: the next client finds no server, runs the full hook
                    if self._sock not in ready:
                        continue
                    self._sock.settimeout(GO_TIMEOUT)  # ready: accept() returns at once
                else:
                    self._sock.settimeout(min(idle, STAMP_INTERVAL))
                try:
                    conn, _ = self._sock.accept()
                except TimeoutError:
                    self._speed_up_scoring()
                    if self._code_changed():
                        break  # an upgrade: the next client finds no server, runs the full hook, starts one
                    continue
                with conn:
                    try:
                        self.handle(conn)
                    except (OSError, _Drop):
                        pass  # the client falls back before the go byte, and denies after it
                    except (Exception, _DeadlinePassed):  # noqa: BLE001, S110 - one bad request must not end the server
                        pass
                last = time.monotonic()
                if self._code_changed():
                    break
                self._tidy()
        except _Stop:
            pass
        finally:
            signal.signal(signal.SIGTERM, old)
            gc.enable()
            if watch is not None:
                self._watch = None
                watch.close()
            self.close()
        return 0

    def _speed_up_scoring(self) -> None:
        """Once, at the first quiet moment (``SPEED_UP_AFTER`` seconds without a request): the injection
        scorer's array path and its Hyperscan prefilter, as the gateway's long-lived workers use them
        (the same scores, about 3x faster on a 20 KB tool result), loaded in a background thread, so
        neither a request nor the server's start waits for NumPy's import or a compile."""
        if self._sped_up:
            return
        self._sped_up = True
        import threading

        threading.Thread(target=self._load_fast_paths, name="ramparts-hook-speed", daemon=True).start()

    def _load_fast_paths(self) -> None:
        from ..._locations import detector_cache_dir
        from ...detect import injection

        try:
            if injection.use_numpy(True):
                injection.use_hyperscan(cache_dir=detector_cache_dir(self.state))
        except Exception as exc:  # noqa: BLE001 - the pure-Python path stays on: same scores, slower
            print(
                f"ramparts hook-server: fast scoring unavailable: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )

    def _tidy(self) -> None:
        """After each request: collect what it left in cycles, then freeze the survivors (the policy, the
        detectors' databases, the open stores), so that no later collection walks them again. A full
        collection of the warm server's ~36,000 objects took 10-70 ms, paid by whichever request triggered
        it. Every ``REFREEZE_EVERY`` requests everything is unfrozen and collected once, so that frozen
        objects that became garbage since are not kept for the server's lifetime."""
        self._since_full += 1
        if self._since_full >= REFREEZE_EVERY:
            self._since_full = 0
            gc.unfreeze()
        gc.collect()
        gc.freeze()

    # -- one connection ---------------------------------------------------------------------------------

    def _decline(self, conn: Any, reason: str) -> None:
        data = reason.encode()
        conn.sendall(proto.DECLINE + len(data).to_bytes(4, "big") + data)
        raise _Drop(reason)

    def _code_changed(self, *, recent: bool = False, now: bool = False) -> bool:
        """Whether Ramparts' code files changed; checked at most every ``STAMP_INTERVAL`` (``recent``:
        unless checked within twice that, so that a request's path pays for it only when the loop's own
        checks, between requests and while idle, fell behind; ``now``: whatever the last check, as when
        the code's folders changed). With the folders watched (:class:`_CodeWatch`) the files are looked
        at only once the watch saw a change in them."""
        at = time.monotonic()
        if not now and self._watch is not None:
            if not self._watch.pending():
                return False
            self._watch.drain()
            now = True
        if not now and at - self._stamp_checked < (2 * STAMP_INTERVAL if recent else STAMP_INTERVAL):
            return False
        self._stamp_checked = at
        return _stamp(self._files) != self._stamp

    def read_request(self, conn: Any) -> tuple[bytes, dict[str, str | None], list[str], bytes]:
        """(request bytes, client environment, hook argv, event); _Drop when malformed."""
        conn.settimeout(READ_TIMEOUT)
        head = _recv(conn, len(proto.MAGIC) + proto.NONCE_BYTES + 4)
        if head[:4] != proto.MAGIC:
            raise _Drop("bad magic")
        size = int.from_bytes(head[-4:], "big")
        if size > MAX_META:
            raise _Drop("meta too large")
        meta = _recv(conn, size)
        size_bytes = _recv(conn, 4)
        size = int.from_bytes(size_bytes, "big")
        if size > HARD_MAX_INPUT + 1:
            raise _Drop("event too large")
        event = _recv(conn, size)
        fields = meta.decode("utf-8", "surrogateescape").split("\0")
        if "--" not in fields:
            raise _Drop("no hook command")
        split = fields.index("--")
        env: dict[str, str | None] = {}
        for field in fields[:split]:
            name, eq, value = field.partition("=")
            env[name] = value if eq else None
        return head + meta + size_bytes + event, env, fields[split + 1 :], event

    def handle(self, conn: Any) -> None:
        import socket

        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        peer_pid = int.from_bytes(creds[0:4], sys.byteorder)
        peer_uid = int.from_bytes(creds[4:8], sys.byteorder)
        if peer_uid != os.geteuid():
            raise _Drop("another user")  # the socket's mode already stops them; this is the second lock
        request, env, hook_argv, event = self.read_request(conn)
        if self._code_changed(recent=True):
            self.stopping = True
            self._decline(conn, "Ramparts' code changed since the server started")
        if any(env.get(name, None) != value for name, value in self.env.items()):
            self._decline(conn, "the client's environment differs from the server's")
        args = _hook_args(hook_argv)
        if args is None:
            self._decline(conn, "the hook command line is not one the server can serve")
        assert args is not None
        policy, state = args.get("--policy"), args.get("--state-dir")
        if policy and not (policy.startswith("profile:") or os.path.isabs(os.path.expanduser(policy))):
            self._decline(conn, "the hook command names a relative policy path")
        if state and not os.path.isabs(os.path.expanduser(state)):
            self._decline(conn, "the hook command names a relative state directory")
        if _norm_policy(policy_ref(policy)) != _norm_policy(self.policy):
            self._decline(conn, "the hook command names another policy")
        if os.path.realpath(state_dir(state)) != os.path.realpath(self.state):
            self._decline(conn, "the hook command names another state directory")
        conn.sendall(proto.READY + proto._mac(self.key, request, proto.READY))
        conn.settimeout(GO_TIMEOUT)
        if conn.recv(1) != proto.GO:
            raise _Drop("no go")  # the client gave up (it falls back): nothing was recorded here
        self.busy = True
        try:
            code, out, err = self.run_hook(event, env.get("CLAUDE_PID"), peer_pid, args.get("--deadline-ms"))
            reply = [proto.REPLY + bytes([code])]
            for text in (out, err):
                data = text.encode("utf-8", "surrogateescape")
                reply += [len(data).to_bytes(4, "big"), data]
            conn.settimeout(READ_TIMEOUT)
            conn.sendall(b"".join(reply) + proto._mac(self.key, request, *reply))
        finally:
            self.busy = False
            self.served += 1

    def run_hook(
        self, event: bytes, claude_pid: str | None, peer_pid: int, deadline: str | None
    ) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        saved = os.environ.get("CLAUDE_PID")
        if claude_pid is None:
            os.environ.pop("CLAUDE_PID", None)
        else:
            os.environ["CLAUDE_PID"] = claude_pid
        try:
            hook = ResidentHook(
                on_term=self._term_in_request,
                stores=self.stores,
                policy=self.policy,
                state=self.state,
                stdin=io.BytesIO(event),
                stdout=out,
                stderr=err,
                deadline_ms=int(deadline) if deadline else None,
            )
            hook.peer_pid = peer_pid
            code = hook.run()
        finally:
            if saved is None:
                os.environ.pop("CLAUDE_PID", None)
            else:
                os.environ["CLAUDE_PID"] = saved
        if code != 0:
            self.stores.drop()  # after any failure, start the next request from fresh connections
        if code not in (0, EXIT_BLOCK):
            code = EXIT_BLOCK
        return code, out.getvalue(), err.getvalue()


def _recv(conn: Any, n: int) -> bytes:
    try:
        return proto._recv_exact(conn, n)
    except OSError as exc:
        raise _Drop(str(exc)) from exc


def main(*, policy: str | None, state: str | None, socket_path: str | None, idle_exit: float) -> int:
    server = Server(policy=policy, state=state, socket_path=socket_path, idle_exit=idle_exit)

    def stop_early(signum: int, frame: object) -> None:
        del signum, frame
        server.stopping = True  # serve() then returns at once, removing the socket

    # a SIGTERM between binding the socket and serve() installing its own handler stops cleanly too
    signal.signal(signal.SIGTERM, stop_early)
    if not server.open():
        print(f"ramparts hook-server: {server.socket_path} is already served", file=sys.stderr)
        return 0
    return server.serve()

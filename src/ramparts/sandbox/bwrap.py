"""Run a command under bubblewrap: read-only root, writable only where allowed, private /tmp, new PID,
IPC, UTS and user namespaces with every capability dropped, no network (or only Ramparts' egress proxy),
killed with its parent.

``--net proxy``: the sandbox has its own network namespace with nothing but loopback. A relay inside it
(``_relay.py``, standard library only) listens on ``127.0.0.1:PORT`` and forwards each connection over a
Unix socket bind-mounted into the sandbox; outside, Ramparts forwards that socket to the egress proxy.
So the command reaches the proxy and nothing else; ``HTTPS_PROXY``/``HTTP_PROXY`` point at it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal
from urllib.parse import urlsplit

from ..errors import RampartsError

Net = Literal["none", "proxy"]
SOCKET_INSIDE = "/run/ramparts-egress.sock"
PROXY_PORT_INSIDE = 3128
RELAY = Path(__file__).with_name("_relay.py")
KEEP_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TERM", "TZ")
"""Variables a sandboxed command inherits (plus ``LC_*`` and ``--keep-env`` names); nothing else, so
API keys and cloud credentials in the caller's environment stay outside."""


class SandboxError(RampartsError):
    """The sandbox cannot be set up (bubblewrap missing, a bad path); the command is not run."""


@dataclass(frozen=True)
class Spec:
    command: tuple[str, ...]
    allow_write: tuple[str, ...] = ()
    net: Net = "none"
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment for the command (not secret: it is on bwrap's command line)."""
    keep_env: tuple[str, ...] = ()
    """Names of the caller's variables passed in beside :data:`KEEP_ENV` (e.g. a server's token)."""


def inherited_env(spec: Spec, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment bwrap (and so the command) starts with: only the kept names."""
    source = dict(os.environ if environ is None else environ)
    keep = set(KEEP_ENV) | set(spec.keep_env)
    return {k: v for k, v in source.items() if k in keep or k.startswith("LC_")}


def bwrap_binary() -> str:
    path = os.environ.get("RAMPARTS_BWRAP") or shutil.which("bwrap")
    if not path:
        raise SandboxError("bubblewrap (bwrap) is not installed; refusing to run the command unsandboxed")
    return path


def argv(
    spec: Spec, *, bwrap: str = "bwrap", proxy_socket: str | None = None, python: str | None = None
) -> list[str]:
    """The bwrap command line for ``spec`` (pure). ``proxy_socket`` is the outside Unix socket for ``--net proxy``."""
    if not spec.command:
        raise SandboxError("no command to run")
    out = [
        bwrap,
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",  # noqa: S108 (a private tmpfs mounted inside the sandbox)
        "--tmpfs", "/run",
        "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--unshare-net",
        "--cap-drop", "ALL",
        "--die-with-parent",
        "--new-session",
    ]  # fmt: skip
    for directory in spec.allow_write:
        real = os.path.realpath(directory)
        if real == "/" or not os.path.isdir(real):
            raise SandboxError(f"--allow-write {directory}: not a folder that can be made writable")
        out += ["--bind", real, real]
    if spec.cwd:
        cwd = os.path.realpath(spec.cwd)
        hidden = any(cwd == d or cwd.startswith(d + "/") for d in ("/tmp", "/run"))  # noqa: S108
        writable = any(
            cwd == w or cwd.startswith(w.rstrip("/") + "/") for w in map(os.path.realpath, spec.allow_write)
        )
        if hidden and not writable:
            out += ["--ro-bind", cwd, cwd]  # under the private /tmp: still visible, read-only
        out += ["--chdir", cwd]
    command = list(spec.command)
    for path in _under_private_folders(command, python):
        out += ["--ro-bind", path, path]
    if spec.net == "proxy":
        if proxy_socket is None:
            raise SandboxError("--net proxy needs the egress proxy's socket")
        url = f"http://127.0.0.1:{PROXY_PORT_INSIDE}"
        out += ["--bind", proxy_socket, SOCKET_INSIDE]
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            out += ["--setenv", name, url]
        out += ["--unsetenv", "NO_PROXY", "--unsetenv", "no_proxy"]
        relay = [
            python or sys.executable,
            "-I",
            "-S",
            str(RELAY),
            str(PROXY_PORT_INSIDE),
            SOCKET_INSIDE,
            "--",
        ]
        command = relay + command
    for key, value in sorted(spec.env.items()):
        out += ["--setenv", key, value]
    return [*out, "--", *command]


def _under_private_folders(command: list[str], python: str | None) -> list[str]:
    """What the command needs from under ``/tmp`` or ``/run`` (which the sandbox replaces with private
    ones), shown read-only: the interpreter Ramparts runs from and its package (a checkout or a venv may
    live under /tmp), the command's program and the files its arguments name. Nothing else of the
    host's /tmp is visible."""
    wanted: list[str] = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(__file__))]
    if python:
        wanted.append(os.path.dirname(python))
    wanted += [arg for arg in command if os.path.isabs(arg)]
    out: list[str] = []
    for path in wanted:
        real = os.path.realpath(path)
        hidden = any(real.startswith(d + "/") for d in ("/tmp", "/run"))  # noqa: S108
        if hidden and os.path.exists(real) and not any(real == o or real.startswith(o + "/") for o in out):
            out.append(real if os.path.isdir(real) else os.path.dirname(real))
    return sorted(set(out), key=len)


class _Forwarder:
    """Outside the sandbox: accept on a Unix socket and pipe each connection to the egress proxy."""

    def __init__(self, proxy_url: str) -> None:
        parts = urlsplit(proxy_url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise SandboxError(f"egress proxy {proxy_url!r}: expected http://HOST:PORT")
        self.target = (parts.hostname, parts.port)
        self.folder = tempfile.mkdtemp(prefix="ramparts-sbx-")
        os.chmod(self.folder, 0o700)
        self.path = os.path.join(self.folder, "egress.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(64)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                inside, _ = self.server.accept()
            except OSError:
                return
            try:
                outside = socket.create_connection(self.target, timeout=10)
                outside.settimeout(None)
            except OSError:
                inside.close()
                continue
            for a, b in ((inside, outside), (outside, inside)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def run(
    spec: Spec,
    *,
    egress_proxy: str | None = None,
    stdin: int | IO[bytes] | None = None,
    stdout: int | IO[bytes] | None = None,
    timeout: float | None = None,
) -> int:
    """Run ``spec`` to completion; its exit status."""
    process, forwarder = start(spec, egress_proxy=egress_proxy, stdin=stdin, stdout=stdout)
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if forwarder is not None:
            forwarder.close()


def start(
    spec: Spec,
    *,
    egress_proxy: str | None = None,
    stdin: int | IO[bytes] | None = None,
    stdout: int | IO[bytes] | None = None,
) -> tuple[subprocess.Popen[bytes], _Forwarder | None]:
    forwarder = None
    if spec.net == "proxy":
        if not egress_proxy:
            raise SandboxError("--net proxy needs the egress proxy's URL (--egress-proxy)")
        forwarder = _Forwarder(egress_proxy)
    try:
        command = argv(spec, bwrap=bwrap_binary(), proxy_socket=forwarder.path if forwarder else None)
        process = subprocess.Popen(command, stdin=stdin, stdout=stdout, env=inherited_env(spec))
    except (OSError, SandboxError) as exc:
        if forwarder is not None:
            forwarder.close()
        if isinstance(exc, SandboxError):
            raise
        raise SandboxError(f"cannot start bubblewrap: {exc}") from exc
    return process, forwarder


def commands(values: Sequence[str]) -> tuple[str, ...]:
    """argparse REMAINDER without the leading ``--``."""
    items = list(values)
    if items and items[0] == "--":
        items = items[1:]
    return tuple(items)

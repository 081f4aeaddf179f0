"""A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks: real server, own data folder.

``PostgresServer`` runs Debian's (or any) ``initdb`` and ``postgres`` binaries into a temporary folder,
listening on loopback only, on a free port, with a Unix socket in the same folder. It stops when the
context exits, and, on Linux, also when the process that started it dies (``PR_SET_PDEATHSIG``), so a
killed test run leaves no server behind. Run as root, it runs the server as the ``postgres`` user (the
server refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

SEARCH = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin")


class PostgresNotFoundError(FileNotFoundError):
    pass


def find_binaries() -> Path:
    """The folder holding ``initdb`` and ``postgres`` (PATH first, then the usual install places)."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    for pattern in SEARCH:
        for folder in sorted(glob.glob(pattern), reverse=True):
            if os.path.exists(os.path.join(folder, "initdb")) and os.path.exists(
                os.path.join(folder, "postgres")
            ):
                return Path(folder)
    raise PostgresNotFoundError(
        "PostgreSQL's initdb/postgres were not found (Debian: apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # No imports here: the child may already run as ``postgres``, which cannot read root's Python install
    # (ctypes is imported by the parent, in start()).
    try:
        ctypes = sys.modules["ctypes"]
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError, KeyError):
        pass
    os.setsid()


class PostgresServer:
    """``with PostgresServer() as pg: psycopg.connect(pg.dsn)``."""

    def __init__(self, *, database: str = "ramparts", user: str = "ramparts") -> None:
        self.bin = find_binaries()
        self.database, self.user = database, user
        self.root = Path(tempfile.mkdtemp(prefix="ramparts-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._run_as: dict[str, Any] = {}
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self._run_as = {"user": "postgres", "group": "postgres"}
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={self.database} user={self.user} connect_timeout=5"

    def start(self) -> PostgresServer:
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **self._run_as,
        )
        self.port = _free_port()
        with contextlib.suppress(ImportError):
            import ctypes  # noqa: F401 - for _die_with_parent, which must not import in the child
        self._log = open(self.root / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "fsync=on",
                "-c",
                "max_connections=64",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            preexec_fn=_die_with_parent,
            **self._run_as,
        )
        self._wait_ready()
        self._create_database()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"postgres exited at start: {log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                time.sleep(0.1)
                return
            time.sleep(0.1)
        raise TimeoutError("postgres did not start listening in time")

    def _create_database(self) -> None:
        import psycopg

        for _ in range(50):
            try:
                with psycopg.connect(
                    f"host=127.0.0.1 port={self.port} dbname=postgres user={self.user}", autocommit=True
                ) as conn:
                    conn.execute(f'CREATE DATABASE "{self.database}"')
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError("could not create the test database")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()  # a failed start leaves no server and no data folder behind
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

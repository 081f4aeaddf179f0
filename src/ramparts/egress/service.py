"""Starting and stopping the egress proxy from other code: the stack (``make up``), the demo, tests.

Two ways, one readiness contract:

- :func:`start_subprocess` runs ``ramparts egress --ready-file F`` and returns once ``F`` exists. The
  proxy writes ``F`` (JSON, atomically) only when it listens, and removes it when it stops::

      {"proxy": "127.0.0.1:40123", "url": "http://127.0.0.1:40123", "dns": "127.0.0.1:40124" | null,
       "pid": 4242, "mode": "enforce"}

  A shell can do the same: start ``ramparts egress --listen 127.0.0.1:0 --ready-file F &`` and wait
  for ``F``; the process also prints ``ramparts egress: listening on HOST:PORT (mode M)`` on stderr.
- :func:`start_in_process` serves from a thread with its own event loop in this process.

Both default to 127.0.0.1 with a free port, the built-in lists (the model API allowed; paste sites,
tunnels, request bins, DoH denied) extended by the policy when one is named, records in the state
directory's audit store, and a per-session credential required (``auth=False`` for a single-user demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, NamedTuple

from ..errors import EgressError


class EgressStartError(EgressError):
    """The proxy did not come up (the message says why: its own last words when it exited)."""


class Ready(NamedTuple):
    """Where a started proxy listens."""

    host: str
    port: int
    dns: tuple[str, int] | None
    mode: str
    pid: int

    @property
    def url(self) -> str:
        """``http://HOST:PORT``: HTTPS_PROXY/HTTP_PROXY without a credential (add ``ID:SECRET@``)."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return {
            "proxy": f"{shown}:{self.port}",
            "url": self.url,
            "dns": f"{self.dns[0]}:{self.dns[1]}" if self.dns else None,
            "pid": self.pid,
            "mode": self.mode,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ready:
        host, _, port = str(data["proxy"]).rpartition(":")
        dns = None
        if data.get("dns"):
            dns_host, _, dns_port = str(data["dns"]).rpartition(":")
            dns = (dns_host, int(dns_port))
        return cls(host.strip("[]"), int(port), dns, str(data["mode"]), int(data["pid"]))


def write_ready_file(path: str, ready: Ready) -> None:
    """Write the readiness file atomically (a reader never sees half of it)."""
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".egress-ready-", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(ready.to_json(), handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_ready_file(path: str) -> Ready | None:
    """The readiness file's contents, or None while it is absent or not yet whole."""
    try:
        with open(path, encoding="utf-8") as handle:
            return Ready.from_json(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build_config(
    state_dir: str,
    *,
    policy: str | None = None,
    allow_hosts: Sequence[str] = (),
    allow_ranges: Sequence[str] = (),
    allow_ports: Sequence[int] = (),
    mode: str | None = None,
    auth: bool = True,
    dlp: bool = True,
) -> Any:
    """The proxy's :class:`~ramparts.egress.proxy.ProxyConfig`: the named policy's ``egress:`` section
    (the built-in lists without one), extended by ``allow_hosts``/``allow_ranges``; outbound DLP with
    the policy's detectors. Raises PolicyError / ValueError for a bad policy, range or mode."""
    from .acl import acl_from_settings
    from .proxy import ProxyConfig, default_host, own_addresses

    for port in allow_ports:
        if not 0 < port < 65536:
            raise ValueError(f"a port is 1 to 65535, not {port}")
    loaded = None
    if policy:
        from .._locations import policy_ref
        from ..policy.load import load_policy

        loaded = load_policy(policy_ref(policy))
    from ..policy.types import EgressSettings

    settings = loaded.egress if loaded is not None else EgressSettings()
    if mode is not None:
        if mode not in ("enforce", "report", "open"):
            raise ValueError(f"egress mode must be enforce, report or open, not {mode!r}")
        settings = settings._replace(mode=mode)  # type: ignore[arg-type]  # checked on the line above
    acl = acl_from_settings(
        settings,
        allow=tuple(allow_hosts),
        allow_ranges=tuple(allow_ranges),
        ports=tuple(allow_ports),
        own=own_addresses(),
        revision=loaded.revision if loaded is not None else "",
    )
    state = os.path.abspath(state_dir)
    checker = _dlp_checker(loaded, state) if dlp else None
    release_freed_memory()
    return ProxyConfig(
        acl=acl, state_dir=state, auth=auth, user=getpass.getuser(), host=default_host(), dlp=checker
    )


def _dlp_checker(loaded: Any, state: str) -> Any:
    """Outbound DLP for plain-HTTP requests: the policy's (else the baseline's) outbound rules, the
    detectors it sets, this state directory's fingerprint key."""
    from .._locations import detector_cache_dir
    from ..detect.redact import load_key
    from ..detect.scanner import Detectors
    from ..policy.load import load_policy
    from .dlp import make_checker

    policy = loaded if loaded is not None else load_policy("profile:baseline")
    detectors = Detectors.from_settings(policy.detect, ("secret", "pii"), cache_dir=detector_cache_dir(state))
    return make_checker(policy, detectors, load_key(os.path.join(state, "keys", "fingerprint.key")))


def release_freed_memory() -> None:
    """Give back to the system what loading freed: compiling the detectors' pattern databases on a cold
    cache leaves ~50 MB of freed heap that glibc keeps, and a proxy holding 1,000 tunnels for hours
    should not carry it. (``gc.freeze()`` here was tried and measured slower: CONNECT p50 +5-12 %.)
    The trim is skipped where there is no glibc."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        try:
            trim = ctypes.CDLL(name).malloc_trim
        except (OSError, AttributeError):
            return
        trim(0)


def audit_writer(state_dir: str, audit_url: str | None = None) -> Any:
    """The proxy's background audit writer: records gathered for up to 20 ms into one commit, so the
    proxy's records do not cost its CONNECTs."""
    from ..audit.keys import default_key_path
    from ..audit.store import audit_location
    from ..audit.writer import AuditWriter

    state = os.path.abspath(state_dir)
    return AuditWriter(audit_location(state, audit_url), key_path=default_key_path(state), batch_seconds=0.02)


# -- in this process ------------------------------------------------------------------------------------


class InProcessProxy:
    """A proxy served by a thread of this process (its own event loop); a context manager."""

    def __init__(
        self, config: Any, *, listen: tuple[str, int], dns: tuple[str, int] | None, writer: Any
    ) -> None:
        self.config = config
        self.listen = listen
        self.dns = dns
        self.writer = writer
        self.ready: Ready | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._up = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ramparts-egress", daemon=True)

    def _run(self) -> None:
        from .proxy import serve

        def ready(bound: tuple[str, int], dns: tuple[str, int] | None) -> None:
            self.ready = Ready(bound[0], bound[1], dns, self.config.acl.mode, os.getpid())
            self._up.set()

        writer = self.writer

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve(
                self.config,
                self.listen,
                records=writer.append if writer else None,
                lazy_records=writer.append_built if writer else None,
                audit_healthy=(lambda: bool(writer.healthy)) if writer else None,
                audit_room=writer.has_room if writer else None,
                ready=ready,
                dns=self.dns,
                stop=self._stop,
            )

        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that started it
            self.error = exc
        finally:
            self._up.set()

    def start(self, timeout: float = 30.0) -> Ready:
        self._thread.start()
        self._up.wait(timeout)
        if self.ready is None:
            self.stop()
            raise EgressStartError(f"the egress proxy did not start: {self.error or 'timed out'}")
        return self.ready

    def stop(self) -> None:
        """Stop listening, end the tunnels, write the last records (idempotent)."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(30)
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> InProcessProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_in_process(
    state_dir: str,
    *,
    listen: tuple[str, int] = ("127.0.0.1", 0),
    dns: tuple[str, int] | None = None,
    policy: str | None = None,
    allow_hosts: Sequence[str] = (),
    allow_ranges: Sequence[str] = (),
    allow_ports: Sequence[int] = (),
    mode: str | None = None,
    auth: bool = True,
    dlp: bool = True,
    audit: bool = True,
    timeout: float = 30.0,
) -> InProcessProxy:
    """Start the proxy in this process; returns it listening (``.ready``: where). Stop it with
    ``.stop()`` or a ``with`` block."""
    config = build_config(
        state_dir,
        policy=policy,
        allow_hosts=allow_hosts,
        allow_ranges=allow_ranges,
        allow_ports=allow_ports,
        mode=mode,
        auth=auth,
        dlp=dlp,
    )
    proxy = InProcessProxy(config, listen=listen, dns=dns, writer=audit_writer(state_dir) if audit else None)
    proxy.start(timeout)
    return proxy


# -- as a subprocess --------------------------------------------------------------------------------------


class SubprocessProxy:
    """``ramparts egress`` in its own process; a context manager."""

    def __init__(self, process: subprocess.Popen[bytes], ready_file: str, log: Any) -> None:
        self.process = process
        self.ready_file = ready_file
        self._log = log
        self.ready: Ready | None = None

    def wait_ready(self, timeout: float) -> Ready:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = read_ready_file(self.ready_file)
            if found is not None and found.pid == self.process.pid:
                self.ready = found
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        why = "exited" if self.process.poll() is not None else f"not ready within {timeout:.0f} s"
        last = self.output()[-600:].strip()
        self.stop()
        raise EgressStartError(f"ramparts egress {why}: {last or 'no output'}")

    def output(self) -> str:
        """What the process wrote to stderr so far."""
        self._log.flush()
        self._log.seek(0)
        return str(self._log.read().decode("utf-8", "replace"))

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (the proxy ends its tunnels and writes its last records), then SIGKILL after
        ``timeout``; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        with contextlib.suppress(OSError):
            self._log.close()
        return self.process.returncode

    def __enter__(self) -> SubprocessProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_subprocess(
    state_dir: str,
    *,
    listen: str = "127.0.0.1:0",
    dns: str | None = None,
    policy: str | None = None,
    allow_hosts: Sequence[str] = (),
    allow_ranges: Sequence[str] = (),
    allow_ports: Sequence[int] = (),
    mode: str | None = None,
    auth: bool = True,
    dlp: bool = True,
    ready_file: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> SubprocessProxy:
    """Run ``ramparts egress`` as a child process and return once it listens (``.ready``: where).
    ``timeout`` covers a first start that compiles the detectors' databases (a cold cache: ~15 s)."""
    state = os.path.abspath(state_dir)
    os.makedirs(state, mode=0o700, exist_ok=True)
    ready_path = ready_file or os.path.join(state, "egress.ready.json")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(ready_path)  # a stale file from a previous run must not look ready
    command = [sys.executable, "-m", "ramparts", "egress", "--listen", listen, "--state-dir", state]
    command += ["--ready-file", ready_path]
    for host in allow_hosts:
        command += ["--allow-host", host]
    for cidr in allow_ranges:
        command += ["--allow-range", cidr]
    for port in allow_ports:
        command += ["--allow-port", str(port)]
    if policy:
        command += ["--policy", policy]
    if mode:
        command += ["--mode", mode]
    if dns:
        command += ["--dns", dns]
    if not auth:
        command.append("--no-auth")
    if not dlp:
        command.append("--no-dlp")
    log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open for the life of the process, closed by stop()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env
    )
    proxy = SubprocessProxy(process, ready_path, log)
    proxy.wait_ready(timeout)
    return proxy

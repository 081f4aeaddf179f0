"""The egress proxy against tinyproxy, side by side in one run: CONNECT setup latency, tunnel throughput,
and 1,000 concurrent tunnels held open (RSS of each proxy).

Usage::

    .venv/bin/python bench/egress.py [--quick] [--connects N] [--megabytes M] [--tunnels T] [--no-dlp]
        [--before OLD/src]

``--before DIR``: also run the proxy from another source tree (e.g. ``git worktree add /tmp/old <rev>``,
then ``--before /tmp/old/src``) in the same run, for the CONNECT latency only, and print its ratios too.

Processes on loopback: an origin on 127.0.0.2 (asyncio; a line ``SEND n`` gets n bytes back, anything
else is echoed), ``ramparts egress`` (the CLI, enforce mode, no credential, an allowed range for the
origin, audit records written to its own state directory as in production) and ``tinyproxy``
(Debian's, a minimal config allowing every CONNECT port). This client alternates between them:

- CONNECT setup latency: TCP connect to the proxy → ``200`` back (the proxy has resolved, checked and
  dialled the origin), sequentially, p50 and p99;
- throughput: one tunnel, the origin sends M MB, MB/s (best of three, alternating);
- concurrent tunnels: T tunnels opened and held, one echo through each, then the proxy's VmRSS.

The last line is ``RESULT connect_p50_ratio=… throughput_ratio=… tunnels=… rss_mb=… tinyproxy_rss_mb=…``
(ratios are ramparts / tinyproxy: latency lower is better, throughput higher is better).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NO_DLP = "--no-dlp" in sys.argv
"""``--no-dlp``: run the proxy without its outbound DLP scan (the tunnels here carry plain bytes, whose
first message the scan reads; tinyproxy inspects nothing), to measure the proxy's own cost apart."""
ROOT = Path(__file__).resolve().parents[1]
ORIGIN_HOST = "127.0.0.2"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# -- the origin (its own process) -----------------------------------------------------------------------


def serve_origin(port: int, lifetime: float) -> None:
    block = b"\0" * (1 << 20)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if line.startswith(b"SEND "):
                    left = int(line.split()[1])
                    while left > 0:
                        writer.write(block[: min(left, len(block))])
                        left -= len(block)
                        await writer.drain()
                else:
                    writer.write(line)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, ORIGIN_HOST, port, backlog=4096)
        async with server:
            await asyncio.sleep(lifetime)

    asyncio.run(main())


def serve_floor(port: int, lifetime: float) -> None:
    """The floor of any asyncio proxy here: a bare CONNECT relay on uvloop streams (no checks, no
    records, no timeouts), to tell the proxy's own cost from the runtime's (``--floor``)."""
    import uvloop

    async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(1 << 18):
                dst.write(data)
                await dst.drain()
            dst.write_eof()
        except (ConnectionError, OSError):
            pass

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            host, _, port_text = head.split(b" ", 2)[1].decode().rpartition(":")
            up_reader, up_writer = await asyncio.open_connection(host, int(port_text))
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            up_writer.close()
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        async with server:
            await asyncio.sleep(lifetime)

    uvloop.run(main())


# -- clients --------------------------------------------------------------------------------------------


async def open_tunnel(proxy_port: int, origin_port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port, limit=1 << 20)
    target = f"{ORIGIN_HOST}:{origin_port}"
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        writer.close()
        raise RuntimeError(f"CONNECT refused: {head[:200]!r}")
    return reader, writer


async def connect_latency(proxy_port: int, origin_port: int, count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        _reader, writer = await open_tunnel(proxy_port, origin_port)
        out.append((time.perf_counter() - start) * 1000)
        writer.close()
    return out


async def throughput(proxy_port: int, origin_port: int, megabytes: int) -> float:
    reader, writer = await open_tunnel(proxy_port, origin_port)
    size = megabytes << 20
    start = time.perf_counter()
    writer.write(f"SEND {size}\n".encode())
    got = 0
    while got < size:
        chunk = await reader.read(1 << 20)
        if not chunk:
            raise RuntimeError("tunnel closed early")
        got += len(chunk)
    elapsed = time.perf_counter() - start
    writer.close()
    return megabytes / elapsed


async def hold_tunnels(proxy_port: int, origin_port: int, count: int, pid: int) -> tuple[int, float, float]:
    """Open ``count`` tunnels (100 at a time), echo through each, read the proxy's RSS; close them."""
    before = rss_mb(pid)
    tunnels: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for start in range(0, count, 100):
        batch = await asyncio.gather(
            *(open_tunnel(proxy_port, origin_port) for _ in range(min(100, count - start))),
            return_exceptions=True,
        )
        tunnels.extend(t for t in batch if not isinstance(t, BaseException))

    async def echo(pair: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> bool:
        reader, writer = pair
        writer.write(b"ping\n")
        return await reader.readline() == b"ping\n"

    ok = sum(await asyncio.gather(*(echo(t) for t in tunnels)))
    held = rss_mb(pid)
    for _reader, writer in tunnels:
        writer.close()
    await asyncio.sleep(0.5)
    return ok, before, held


def rss_mb(pid: int) -> float:
    total = 0.0
    pids = [pid, *children(pid)]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def wait_port(port: int, deadline: float = 120.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--connects", type=int)
    parser.add_argument("--megabytes", type=int)
    parser.add_argument("--tunnels", type=int, default=1000)
    parser.add_argument("--no-dlp", action="store_true", help="the proxy without its outbound DLP scan")
    parser.add_argument("--before", metavar="SRC", help="also measure CONNECT latency of this source tree")
    parser.add_argument(
        "--floor", action="store_true", help="also time a bare asyncio CONNECT relay (the runtime's floor)"
    )
    args = parser.parse_args()
    connects = args.connects or (200 if args.quick else 1000)
    megabytes = args.megabytes or (64 if args.quick else 512)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    tinyproxy_bin = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
    if not os.path.exists(tinyproxy_bin):
        print(
            "tinyproxy is not installed (apt-get install -y tinyproxy; `make deps` does it)", file=sys.stderr
        )
        return 2
    lifetime = 600.0
    origin_port = free_port(ORIGIN_HOST)
    ramparts_port, tiny_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="ramparts-bench-egress-") as tmp:
        try:
            origin_code = (
                f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import egress; "
                f"egress.serve_origin({origin_port}, {lifetime})"
            )
            procs.append(subprocess.Popen([sys.executable, "-c", origin_code]))
            policy = Path(tmp, "policy.yaml")  # the bench is one client far above the per-session rate limit
            policy.write_text("version: 1\negress:\n  anomalies: {max_requests_per_minute: 10000000}\n")

            # the detectors' compiled databases, shared by every run as a deployed proxy's persist: a
            # cold compile (~15 s) at each start would time the compiler, not the proxy
            cache = os.environ.get("RAMPARTS_CACHE_DIR") or os.path.join(
                tempfile.gettempdir(), "ramparts-bench-detector-cache"
            )

            def proxy(src: str, port: int, state: str) -> subprocess.Popen[bytes]:
                return subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "ramparts",
                        "egress",
                        "--listen",
                        f"127.0.0.1:{port}",
                        "--state-dir",
                        f"{tmp}/{state}",
                        "--no-auth",
                        *(["--no-dlp"] if NO_DLP else []),
                        "--policy",
                        str(policy),
                        "--allow-range",
                        f"{ORIGIN_HOST}/32",
                        "--max-lifetime",
                        str(lifetime),
                    ],
                    env={**os.environ, "PYTHONPATH": src, "RAMPARTS_CACHE_DIR": cache},
                    stderr=subprocess.DEVNULL,
                )

            ramparts = proxy(str(ROOT / "src"), ramparts_port, "state")
            procs.append(ramparts)
            before_port = before_pid = 0
            if args.before:
                before_port = free_port()
                before_proc = proxy(os.path.abspath(args.before), before_port, "state-before")
                procs.append(before_proc)
                before_pid = before_proc.pid
            conf = Path(tmp, "tinyproxy.conf")
            conf.write_text(
                f"Port {tiny_port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 4096\nLogLevel Critical\n"
                f'LogFile "{tmp}/tinyproxy.log"\nPidFile "{tmp}/tinyproxy.pid"\n'
            )
            tiny = subprocess.Popen([tinyproxy_bin, "-d", "-c", str(conf)], stderr=subprocess.DEVNULL)
            procs.append(tiny)
            floor_port = 0
            if args.floor:
                floor_port = free_port()
                floor_code = (
                    f"import sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import egress; "
                    f"egress.serve_floor({floor_port}, {lifetime})"
                )
                procs.append(subprocess.Popen([sys.executable, "-c", floor_code], stderr=subprocess.DEVNULL))
            for port in (ramparts_port, tiny_port, before_port, floor_port):
                if port:
                    wait_port(port)
            time.sleep(0.3)
            return asyncio.run(
                run(
                    args,
                    connects,
                    megabytes,
                    origin_port,
                    ramparts_port,
                    tiny_port,
                    ramparts.pid,
                    tiny.pid,
                    before_port,
                    floor_port,
                    before_pid,
                )
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def run(
    args: argparse.Namespace,
    connects: int,
    megabytes: int,
    origin_port: int,
    ramparts_port: int,
    tiny_port: int,
    ramparts_pid: int,
    tiny_pid: int,
    before_port: int = 0,
    floor_port: int = 0,
    before_pid: int = 0,
) -> int:
    names = {"ramparts": ramparts_port, "tinyproxy": tiny_port}
    timed = {**names, **({"before": before_port} if before_port else {})}
    timed.update({"floor": floor_port} if floor_port else {})
    latency: dict[str, list[float]] = {n: [] for n in timed}
    rates: dict[str, list[float]] = {n: [] for n in names}
    for port in timed.values():
        await connect_latency(port, origin_port, 20)  # warm-up: imports, first audit records
    rounds = 8  # interleaved in short rounds: a load spike on the shared machine hits every proxy
    for _ in range(rounds):
        for name, port in timed.items():
            latency[name] += await connect_latency(port, origin_port, connects // rounds)
    if before_port:  # the older tree's throughput and memory too, in the same run
        names = {**names, "before": before_port}
        rates["before"] = []
    for _ in range(3):
        for name, port in names.items():
            rates[name].append(await throughput(port, origin_port, megabytes))

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    print(f"CONNECT setup latency over {connects} sequential tunnels (ms):")
    for name in timed:
        print(f"  {name:10s} p50 {pct(latency[name], 0.5):6.3f}  p99 {pct(latency[name], 0.99):6.3f}")
    print(f"tunnel throughput, {megabytes} MB download, best of 3 (MB/s):")
    for name in names:
        print(f"  {name:10s} {max(rates[name]):8.1f}  (runs: {', '.join(f'{r:.0f}' for r in rates[name])})")
    held: dict[str, tuple[int, float, float]] = {}
    pids = [("ramparts", ramparts_pid), ("tinyproxy", tiny_pid)]
    if before_port and before_pid:
        pids.append(("before", before_pid))
    for name, pid in pids:
        held[name] = await hold_tunnels(names[name], origin_port, args.tunnels, pid)
        ok, before, during = held[name]
        print(
            f"{args.tunnels} concurrent tunnels via {name}: {ok} echoed; RSS {before:.1f} MB idle -> {during:.1f} MB held"
        )
    lat_ratio = statistics.median(latency["ramparts"]) / statistics.median(latency["tinyproxy"])
    p99_ratio = pct(latency["ramparts"], 0.99) / pct(latency["tinyproxy"], 0.99)
    tp_ratio = max(rates["ramparts"]) / max(rates["tinyproxy"])
    before = ""
    if before_port:
        b50 = statistics.median(latency["before"]) / statistics.median(latency["tinyproxy"])
        b99 = pct(latency["before"], 0.99) / pct(latency["tinyproxy"], 0.99)
        bt = max(rates["before"]) / max(rates["tinyproxy"])
        before = f"before_connect_p50_ratio={b50:.2f} before_connect_p99_ratio={b99:.2f} before_throughput_ratio={bt:.2f} "
        if "before" in held:
            before += f"before_rss_mb={held['before'][2]:.1f} "
    if floor_port:
        f50 = statistics.median(latency["floor"]) / statistics.median(latency["tinyproxy"])
        before += f"floor_connect_p50_ratio={f50:.2f} "
    print(
        f"RESULT connect_p50_ratio={lat_ratio:.2f} connect_p99_ratio={p99_ratio:.2f} {before}"
        f"throughput_ratio={tp_ratio:.2f} "
        f"connect_p50_ms={pct(latency['ramparts'], 0.5):.3f} throughput_mbps={max(rates['ramparts']):.0f} "
        f"tunnels={held['ramparts'][0]} rss_mb={held['ramparts'][2]:.1f} "
        f"tinyproxy_rss_mb={held['tinyproxy'][2]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

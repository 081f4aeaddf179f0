"""Control plane ingest: records/s at 1, 8 and 32 concurrent shippers, SQLite and PostgreSQL; p99 time
from a hook's decision (its durable append to the host's audit log) to the record's visibility on the server.

    python bench/ingest.py --quick     # under a minute or so: small logs
    python bench/ingest.py             # larger logs
    python bench/ingest.py --no-pg     # SQLite only

Each shipper is a thread posting its own host log (a real audit store, one per shipper) with the ramparts
shipping sink, in batches of 500, to a real ``ramparts server`` (uvicorn, one process) on loopback. The
server validates every record, hashes its leaf, checks the log's checkpoints and runs the behaviour rules
in the same transaction. The baseline, run side by side on the same database, is bare multi-row inserts of
the same rows (no HTTP, no validation, no rules): the ratio says what the control plane's work costs.

Visibility: ``ramparts agent --interval 0.2`` ships a host's log while records are appended one at a time;
the time from each append's return to the server holding that (log, seq) is measured.

Goals (issue 18): >= 5,000 records/s on PostgreSQL with 8 shippers; visibility p99 < 2 s.
Ends with one ``RESULT name=value ...`` line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from ramparts.audit.ship_sources import StoreSource  # noqa: E402
from ramparts.audit.sinks.server import ServerSink  # noqa: E402
from ramparts.audit.store import AuditStore  # noqa: E402
from ramparts.server.store import ServerStore  # noqa: E402
from tests.server_harness import hook_record  # noqa: E402

BATCH = 500


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPARTS_SERVER")}
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


class Server:
    def __init__(self, db: str, folder: Path, workers: int = 1) -> None:
        self.db = db
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ramparts",
                "server",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--db",
                db,
                "--state-dir",
                str(folder),
                "--workers",
                str(workers),
            ],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def make_logs(folder: Path, shippers: int, per_log: int) -> list[Path]:
    """One real host audit log per shipper (closed: each shipper thread opens its own)."""
    logs = []
    start = time.time() - 3600
    for n in range(shippers):
        store = AuditStore(folder / f"host-{n}" / "audit.db")
        for lo in range(0, per_log, 1000):
            # sessions of 20 calls, 1 s apart: realistic rule work, no rule trips
            store.log.append_many(
                hook_record(f"h{n}-s{i // 20}", start + i, tool="Glob", pattern="*.py")
                for i in range(lo, min(lo + 1000, per_log))
            )
        store.checkpoint()
        store.close()
        logs.append(folder / f"host-{n}" / "audit.db")
    return logs


def ship_all(server: Server, logs: list[Path], tokens: list[str]) -> float:
    """Every log shipped whole by its own thread; returns records/s over the slowest one."""
    errors: list[str] = []

    counts: list[int] = []

    def one(path: Path, token: str) -> None:
        store = AuditStore(path)
        source = StoreSource(store)
        sink = ServerSink("cp", server.url, token, timeout=120)
        sink.bind_source(source)
        after = -1
        try:
            while True:
                items = source.items_after(after, BATCH)
                if not items:
                    break
                sink.send(items)
                after = items[-1].seq
            cp = source.latest_checkpoint()
            if cp is not None:
                sink.send([cp])
            counts.append(after + 1)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            store.close()

    threads = [threading.Thread(target=one, args=(s, t)) for s, t in zip(logs, tokens, strict=True)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    if errors:
        raise RuntimeError(errors[0])
    return sum(counts) / took


def baseline(db: str, logs: list[Path]) -> float:
    """Bare inserts of the same rows into a fresh copy of the server's records table."""
    with ServerStore(db) as store, store._tx() as tx:
        tx.x("CREATE TABLE IF NOT EXISTS bare AS SELECT * FROM records WHERE 1 = 0")
    rows = []
    for path in logs:
        with AuditStore(path) as s:
            rows.extend((rec.seq, rec.leaf, rec.body) for rec in s.records())
    began = time.perf_counter()
    with ServerStore(db) as store:
        for lo in range(0, len(rows), BATCH):
            with store._tx() as tx:
                tx.many(
                    "INSERT INTO bare (log_id, seq, leaf, body, time, surface, event, decision, session, user_name, "
                    "host, tool, received) VALUES (?, ?, ?, ?, '', '', '', '', '', '', '', '', 0)",
                    [(f"bare-{lo}", seq, leaf, body) for seq, leaf, body in rows[lo : lo + BATCH]],
                )
    return len(rows) / (time.perf_counter() - began)


def visibility(server: Server, folder: Path, token: str, count: int) -> list[float]:
    state = folder / "vis"
    store = AuditStore.open(str(state))
    store.append(hook_record("vis", time.time()))
    env = dict(_env(), RAMPARTS_SERVER=server.url, RAMPARTS_SERVER_TOKEN=token)
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ramparts",
            "agent",
            "--state-dir",
            str(state),
            "--interval",
            "0.2",
            "--exit-after",
            "600",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    meta = store.log.meta()
    assert meta is not None
    delays: list[float] = []
    try:
        with ServerStore(server.db) as srv:
            for _ in range(count):
                rec = store.append(hook_record("vis", time.time()))
                appended = time.perf_counter()
                while True:
                    with srv._tx(write=False) as tx:
                        seen = tx.one(
                            "SELECT 1 FROM records WHERE log_id = ? AND seq = ?", (meta.log_id, rec.seq)
                        )
                    if seen:
                        break
                    if time.perf_counter() - appended > 30:
                        raise RuntimeError("a record did not become visible in 30 s")
                    time.sleep(0.01)
                delays.append(time.perf_counter() - appended)
                time.sleep(0.05)
    finally:
        agent.terminate()
        agent.wait(timeout=15)
        store.close()
    return delays


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def run_backend(kind: str, db: str, folder: Path, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    prefix = "pg_" if kind == "postgres" else "sqlite_"
    quick = args.quick
    server = Server(db, folder, args.workers)
    try:
        for shippers in (1, 8, 32):
            total = (4000 if quick else 40000) if shippers == 1 else (16000 if quick else 160000)
            per_log = max(total // shippers, 100)
            logs_dir = Path(tempfile.mkdtemp(prefix=f"ingest-{shippers}-", dir=folder))
            logs = make_logs(logs_dir, shippers, per_log)
            with ServerStore(db) as store:
                tokens = [store.create_token("host", f"{kind}-{shippers}-{n}")[1] for n in range(shippers)]
            rate = ship_all(server, logs, tokens)
            base = baseline(db, logs)
            print(
                f"{kind:8} {shippers:2} shipper(s): {rate:9,.0f} records/s; bare inserts {base:9,.0f}/s "
                f"({rate / base:.2f}x the baseline); {shippers * per_log:,} records"
            )
            figures[f"{prefix}rps_{shippers}"] = round(rate)
            figures[f"{prefix}ratio_{shippers}"] = round(rate / base, 3)
            shutil.rmtree(logs_dir, ignore_errors=True)
        with ServerStore(db) as store:
            token = store.create_token("host", f"{kind}-vis")[1]
        delays = visibility(server, folder, token, 40 if quick else 200)
        print(
            f"{kind:8} decision -> visible: p50 {sorted(delays)[len(delays) // 2] * 1000:.0f} ms, "
            f"p99 {p99(delays) * 1000:.0f} ms over {len(delays)} records (agent interval 0.2 s)"
        )
        figures[f"{prefix}visible_p99_ms"] = round(p99(delays) * 1000)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="the server's uvicorn workers (default 1)")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="ramparts-ingest-"))
    try:
        if not args.no_sqlite:
            run_backend("sqlite", str(folder / "server.db"), folder, args, figures)
        if not args.no_pg:
            from ramparts.testing.postgres import PostgresServer

            with PostgresServer() as pg:
                db = f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{pg.database}?schema=bench"
                run_backend("postgres", db, folder, args, figures)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Dashboard page latency: every page's p50/p95 with 200 live sessions and 50,000 records in the store.

    python bench/dashboard.py --quick     # < 1 min: the same data, fewer requests per page
    python bench/dashboard.py             # more requests per page
    python bench/dashboard.py --no-pg     # SQLite only (default: SQLite, then a throwaway PostgreSQL)
    python bench/dashboard.py --sessions 400 --records 100000

The store (SQLite, then PostgreSQL) is filled directly with realistic rows: each record is a real
``AuditRecord`` (the harness's hook record) in the envelope the ingest stores, spread over the sessions,
received within the last two minutes (so all are live), a tenth of them denials, with 300 alerts and 20
host logs. A real ``ramparts server`` (uvicorn, one process) serves the dashboard on loopback; one client
signs in (the real argon2 check) and requests each page in turn. The baseline, side by side, is
``/healthz`` on the same server (HTTP and uvicorn alone); the ratio says what a page costs beyond that.
The live-sessions query is cached for a second (every open page polls it once a second over SSE), so it
is also timed uncached, in process (``sessions_query``), as are the plots' hour-scale aggregates, cached
for ten seconds (``plots_query``).

Goal (issue 19): every page < 300 ms p95. Ends with one ``RESULT name=value ...`` line.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import logging
import os
import random
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher  # noqa: E402

from ramparts.server.dashboard import queries  # noqa: E402
from ramparts.server.dashboard.users import Users  # noqa: E402
from ramparts.server.store import ServerStore  # noqa: E402
from tests.server_harness import hook_record  # noqa: E402

GOAL_MS = 300.0
PASSWORD = "bench password " + secrets.token_hex(4)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fill(db: str, sessions: int, records: int) -> None:
    now = time.time()
    rng = random.Random(7)
    with ServerStore(db) as store:
        Users(store, PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)).add(
            "bench", "admin", PASSWORD
        )
        rows = []
        logs = [f"log{h:02d}" + secrets.token_hex(8) for h in range(20)]
        seqs = dict.fromkeys(logs, 0)
        for i in range(records):
            s = i % sessions
            log_id = logs[s % len(logs)]
            when = now - 120 + 120 * i / records
            deny = rng.random() < 0.1
            rec = hook_record(
                f"sess-{s:04d}",
                when,
                tool=rng.choice(["Bash", "Read", "Glob", "Edit"]),
                decision="deny" if deny else "allow",
                command=f"make test {i}",
            )
            if deny:
                rec["rule_ids"] = [
                    rng.choice(["deny:curl", "secrets.file", "session.tainted", "mcp.unknown"])
                ]
            body = json.dumps({"seq": seqs[log_id], "rec": rec}, separators=(",", ":"))
            rows.append(
                (
                    log_id,
                    seqs[log_id],
                    secrets.token_bytes(32),
                    body,
                    rec["time"],
                    "hook",
                    "PreToolUse",
                    rec["decision"],
                    rec["session"],
                    f"user{s % 50}",
                    f"host-{s % 20:02d}",
                    rec["tool"],
                    "",
                    when,
                )
            )
            seqs[log_id] += 1
        with store._tx() as tx:
            tx.many(
                "INSERT INTO records (log_id, seq, leaf, body, time, surface, event, decision, session, "
                "user_name, host, tool, tool_use_id, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            tx.many(
                "INSERT INTO logs (log_id, host, token_id, size, frontier, verified_size, verified_frontier, "
                "first_seen, last_seen) VALUES (?, ?, 't', ?, ?, ?, ?, ?, ?)",
                [
                    (
                        lg,
                        f"host-{i:02d}",
                        seqs[lg],
                        b"",
                        seqs[lg] // 2,
                        b"",
                        now - 3600,
                        now - (900 if i == 3 else 5),
                    )
                    for i, lg in enumerate(logs)
                ],
            )
            for i in range(300):
                store._alert(
                    tx,
                    now - i,
                    "high" if i % 3 == 0 else "medium",
                    "rate.tool_calls",
                    f"alert {i}",
                    host=f"host-{i % 20:02d}",
                    session=f"sess-{i % sessions:04d}",
                )
        store.kill("session", "sess-0001", "bench", "bench")


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, bytes]:
        with self.opener.open(self.url + path, timeout=30) as r:
            return r.status, r.read()

    def sign_in(self) -> None:
        _, page = self.get("/ui/login")
        csrf = re.search(rb'name="csrf" value="([^"]+)"', page)
        assert csrf
        data = urllib.parse.urlencode(
            {"csrf": csrf.group(1).decode(), "username": "bench", "password": PASSWORD}
        )
        req = urllib.request.Request(self.url + "/ui/login", data=data.encode(), headers={"Origin": self.url})
        with self.opener.open(req, timeout=30) as r:
            assert r.geturl().endswith("/ui/"), r.geturl()

    def first_event_ms(self) -> float:
        started = time.perf_counter()
        with self.opener.open(self.url + "/ui/events", timeout=30) as r:
            for line in r:
                if line.startswith(b"event: sessions"):
                    return (time.perf_counter() - started) * 1000
        raise AssertionError("no event")


def timed(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(len(xs) * 0.95 + 0.5) - 1)]


def run_backend(kind: str, db: str, folder: Path, args: argparse.Namespace, figures: dict[str, str]) -> float:
    """Fill ``db``, serve it, time every page; returns the worst p95 (ms)."""
    n = 20 if args.quick else 100
    prefix = "pg_" if kind == "postgres" else "sqlite_"
    server = None
    worst = 0.0
    try:
        t = time.perf_counter()
        fill(db, args.sessions, args.records)
        print(
            f"[{kind}] filled {args.records} records in {args.sessions} sessions in {time.perf_counter() - t:.1f} s"
        )
        port = _port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPARTS_")}
        env["PYTHONPATH"] = str(ROOT / "src")
        state = folder / kind
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ramparts",
                "server",
                "--listen",
                f"127.0.0.1:{port}",
                "--state-dir",
                str(state),
                "--db",
                db,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        client = Client(url)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.get("/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        client.sign_in()
        pages = {
            "healthz": "/healthz",
            "sessions": "/ui/",
            "timeline": "/ui/sessions/sess-0001",
            "alerts": "/ui/alerts",
            "fleet": "/ui/fleet",
            "policy": "/ui/policy",
            "plots": "/ui/plots",
        }
        base = 0.0
        print(f"{'page':10} {'p50 ms':>8} {'p95 ms':>8} {'x healthz':>10}")
        for name, path in pages.items():
            status, body = client.get(path)
            assert status == 200 and (name == "healthz" or b"<h1>" in body), (name, status)
            xs = timed(lambda path=path: client.get(path), n)
            q = p95(xs)
            if name == "healthz":
                base = statistics.median(xs)
            else:
                worst = max(worst, q)
            print(f"{name:10} {statistics.median(xs):8.1f} {q:8.1f} {statistics.median(xs) / base:10.1f}")
            figures[f"{prefix}{name}_p95_ms"] = f"{q:.1f}"
        with ServerStore(db) as store:
            xs = timed(lambda: queries._live_sessions(store, time.time(), 500), max(5, n // 4))
            ys = timed(lambda: (queries.decisions_per_hour(store), queries.top_rules(store)), max(5, n // 4))
            rows = queries._live_sessions(store, time.time(), 500)
        assert len(rows) == args.sessions, len(rows)
        print(f"{'sessions_query':14} p95 {p95(xs):.1f} ms (uncached, in process)")
        print(f"{'plots_query':14} p95 {p95(ys):.1f} ms (uncached, in process)")
        figures[f"{prefix}sessions_query_p95_ms"] = f"{p95(xs):.1f}"
        figures[f"{prefix}plots_query_p95_ms"] = f"{p95(ys):.1f}"
        worst = max(worst, p95(xs), p95(ys))
        events = [client.first_event_ms() for _ in range(3)]
        figures[f"{prefix}sse_first_event_ms"] = f"{max(events):.1f}"
        print(f"first live-sessions event over SSE: {max(events):.1f} ms (worst of 3)")
        figures[f"{prefix}worst_p95_ms"] = f"{worst:.1f}"
    finally:
        if server is not None:
            server.terminate()
            try:
                server.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the filled alerts would each log a line
    folder = Path(tempfile.mkdtemp(prefix="ramparts-bench-dash-"))
    figures: dict[str, str] = {"sessions": str(args.sessions), "records": str(args.records)}
    worst = 0.0
    try:
        if not args.no_sqlite:
            worst = max(worst, run_backend("sqlite", str(folder / "server.db"), folder, args, figures))
        if not args.no_pg:
            from ramparts.testing.postgres import PostgresServer

            with PostgresServer() as pg:
                db = f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{pg.database}?schema=bench"
                worst = max(worst, run_backend("postgres", db, folder, args, figures))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    figures["worst_p95_ms"] = f"{worst:.1f}"
    figures["goal_met"] = "yes" if worst < GOAL_MS else "no"
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

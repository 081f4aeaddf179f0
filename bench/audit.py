"""Audit log figures: durable appends/s (1 writer, 8 processes) and verification records/s, SQLite and PostgreSQL.

    python bench/audit.py --quick        # under a minute: 100k-record verification, small counts
    python bench/audit.py                # 1,000,000-record verification
    python bench/audit.py --tamper       # + 10,000 mutations on a 10,000-record log
    python bench/audit.py --crash        # + 1,000 SIGKILLs of an acknowledge-after-durable writer

    python bench/audit.py --no-pg        # SQLite only

Goals (issue 6): >= 2,000 durable appends/s single writer on SQLite; verification >= 500,000 records/s.
PostgreSQL runs on a throwaway local server (``ramparts.testing.postgres``: loopback, fsync=on,
synchronous_commit=on), so its figures include a TCP round trip per statement but no network.
Ends with one ``RESULT name=value ...`` line (PostgreSQL's fields start with ``pg_``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from ramparts.audit.log import canonical  # noqa: E402
from ramparts.audit.store import AuditStore  # noqa: E402
from ramparts.audit.verify import verify_log  # noqa: E402

RECORD = {
    "v": 1,
    "time": "2026-01-01T00:00:00Z",
    "user": "alice",
    "host": "build-7",
    "agent": "claude_code",
    "session": "0b8f3c1e-6a51-4c9e-9d2a-2f5b8f1c7e11",
    "event": "PreToolUse",
    "tool": "Bash",
    "input": {"command": "git status --short"},
    "decision": "allow",
    "enforced": True,
    "reasons": ["allowed by allow:Bash(git status*)"],
    "rule_ids": ["allow:Bash(git status*)"],
}


def raw_commit_rate(folder: Path, n: int) -> float:
    """The baseline: bare SQLite single-row commits (WAL, synchronous=FULL) in the same folder."""
    import sqlite3

    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body BLOB)")
    started = time.perf_counter()
    for i in range(n):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?, ?)", (i, b"x" * 400))
        db.execute("COMMIT")
    rate = n / (time.perf_counter() - started)
    db.close()
    return rate


def single_writer(location: str, key: str, n: int) -> float:
    with AuditStore(location, key_path=key) as store:
        store.append(RECORD)  # creates the log and its key
        started = time.perf_counter()
        for i in range(n):
            store.append({**RECORD, "i": i})
        return n / (time.perf_counter() - started)


def concurrent(path: str, key: str, procs: int, each: int) -> float:
    with AuditStore(path, key_path=key, busy_timeout_ms=30000) as store:
        store.append(RECORD)
    r, w = os.pipe()
    pids = []
    started = time.perf_counter()
    for p in range(procs):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                with AuditStore(path, key_path=key, busy_timeout_ms=30000) as store:
                    for i in range(each):
                        store.append({**RECORD, "p": p, "i": i})
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(w)
    codes = [os.waitpid(pid, 0)[1] for pid in pids]
    elapsed = time.perf_counter() - started
    os.close(r)
    assert codes == [0] * procs, codes
    with AuditStore(path, key_path=key) as store:
        count, problems = store.verify()
    assert count == procs * each + 1 and problems == [], problems[:3]
    return procs * each / elapsed


def verification(path: str, key: str, n: int, workers: int | None = None) -> tuple[float, float]:
    """Build an n-record log fast (pre-encoded records, 100,000 a transaction), then time a full
    verification (``workers``: 1 for one process; default two on two or more cores)."""
    template = canonical({**RECORD, "i": 0}).replace(b'"i":0', b'"i":%d')
    build = time.perf_counter()
    with AuditStore(path, key_path=key, checkpoint_every=1000, busy_timeout_ms=30000) as store:
        step = 100_000
        for start in range(0, n, step):
            store.log.append_encoded([template % i for i in range(start, min(n, start + step))])
    build = time.perf_counter() - build
    return verify_rate(path, key, n, workers), build


def verify_rate(path: str, key: str, n: int, workers: int | None = None) -> float:
    with AuditStore(path, key_path=key) as store:
        started = time.perf_counter()
        report = verify_log(store.backend, workers=workers)
        elapsed = time.perf_counter() - started
    assert report.ok and report.count == n, report.lines()[-3:]
    return n / elapsed


def postgres(figures: dict[str, str], folder: Path, quick: bool) -> None:
    """The same figures on a throwaway local PostgreSQL server."""
    try:
        from ramparts.testing.postgres import PostgresServer

        server = PostgresServer()
    except (ImportError, FileNotFoundError) as exc:
        print(f"postgres:      skipped ({exc})")
        return
    key = str(folder / "keys" / "audit-ed25519.key")
    with server as pg:
        url = f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{pg.database}?schema="
        n = 1000 if quick else 5000
        rate = single_writer(url + "single", key, n)
        print(
            f"pg 1 writer:   {rate:,.0f} durable appends/s ({n} appends, synchronous_commit=on, loopback TCP)"
        )
        figures["pg_appends_per_s_1"] = f"{rate:.0f}"
        each = 250 if quick else 1250
        rate = concurrent(url + "multi", key, 8, each)
        print(f"pg 8 procs:    {rate:,.0f} durable appends/s ({8 * each} appends, one linear log verified)")
        figures["pg_appends_per_s_8"] = f"{rate:.0f}"
        size = 100_000 if quick else 1_000_000
        rate, build = verification(url + "big", key, size)
        one = verify_rate(url + "big", key, size, workers=1)
        print(
            f"pg verify:     {rate:,.0f} records/s over {size:,} records ({one:,.0f} in one process; "
            f"built in {build:.1f} s)"
        )
        figures["pg_verify_records_per_s"] = f"{rate:.0f}"
        figures["pg_verify_records_per_s_1proc"] = f"{one:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute")
    parser.add_argument("--tamper", action="store_true", help="10,000 mutations on a 10,000-record log")
    parser.add_argument("--crash", action="store_true", help="1,000 SIGKILLs during appends")
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL figures")
    parser.add_argument("--dir", help="work here (default: a temporary folder; use a real disk for fsync)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ramparts-audit-bench-", dir=args.dir))
    figures: dict[str, str] = {}
    try:
        print(
            f"machine: {platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}, {folder}"
        )
        n = 2000 if args.quick else 10000
        raw = raw_commit_rate(folder, n // 2)
        print(f"baseline:      {raw:,.0f} bare SQLite commits/s (WAL, FULL: one fsync each; the floor here)")
        figures["sqlite_raw_commits_per_s"] = f"{raw:.0f}"
        key = str(folder / "keys" / "audit-ed25519.key")
        rate = single_writer(str(folder / "single.db"), key, n)
        print(
            f"single writer: {rate:,.0f} durable appends/s ({n} appends, WAL, synchronous=FULL), "
            f"{rate / raw:.2f}x the baseline"
        )
        figures["sqlite_appends_per_s_1"] = f"{rate:.0f}"
        figures["sqlite_appends_vs_raw"] = f"{rate / raw:.2f}"
        each = 250 if args.quick else 1250
        rate = concurrent(str(folder / "multi.db"), key, 8, each)
        print(f"8 processes:   {rate:,.0f} durable appends/s ({8 * each} appends, one linear log verified)")
        figures["sqlite_appends_per_s_8"] = f"{rate:.0f}"
        size = 100_000 if args.quick else 1_000_000
        rate, build = verification(str(folder / "big.db"), key, size)
        one = verify_rate(str(folder / "big.db"), key, size, workers=1)
        print(
            f"verification:  {rate:,.0f} records/s over {size:,} records ({one:,.0f} in one process; "
            f"built in {build:.1f} s)"
        )
        figures["verify_records_per_s"] = f"{rate:.0f}"
        figures["verify_records_per_s_1proc"] = f"{one:.0f}"
        figures["verify_records"] = str(size)
        if not args.no_pg:
            postgres(figures, folder, args.quick)
        if args.tamper:
            from tests.audit_harness import run_tamper

            res = run_tamper(folder / "tamper", records=10_000, mutations=10_000)
            applied, detected, located = (sum(c.values()) for c in (res.applied, res.detected, res.located))
            print(
                f"tamper: {detected}/{applied} detected, {located}/{applied} located in {res.seconds:.0f} s"
            )
            for line in res.failures[:10]:
                print("  " + line)
            figures["tamper_detected_pct"] = f"{100 * detected / applied:.2f}"
            figures["tamper_located_pct"] = f"{100 * located / applied:.2f}"
        if args.crash:
            from tests.audit_harness import run_crash

            (folder / "crash").mkdir()
            cr = run_crash(folder / "crash", kills=1000)
            print(
                f"crash: {cr.kills} SIGKILLs, {cr.acked} acknowledged, {cr.lost} lost, "
                f"{cr.tamper_findings} verification failures, {cr.crash_tails} crash tails, {cr.records} records"
            )
            figures["crash_lost"] = str(cr.lost)
            figures["crash_verify_failures"] = str(cr.tamper_findings)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("RESULT " + " ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

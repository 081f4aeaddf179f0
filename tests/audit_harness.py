"""Tamper and crash harnesses for the audit log, shared by the unit tests (small counts) and bench/audit.py.

Tamper: a log of M records (checkpoint every ``every``, a final checkpoint kept as the user's anchor) and
older copies of it; each mutation is applied to a fresh copy of the file with plain SQL, the verifier
runs, and we check that it failed and that the first bad record it names is the mutated one (exactly,
or — for an attacker who recomputed the hashes without the key — inside the checkpoint interval it
reports).

Crash: a forked writer appends and writes each acknowledged seq to a pipe only after ``append`` returned
(durable); it is SIGKILLed at a random moment; every acknowledged record must be present and the log
must verify with no problem other than a classified crash tail.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ramparts.audit.log import canonical
from ramparts.audit.merkle import Frontier, leaf_hash
from ramparts.audit.sqlite import SQLiteBackend
from ramparts.audit.store import AuditStore
from ramparts.audit.verify import verify_log

OPERATORS = (
    "byteflip",
    "edit",
    "recompute",
    "delete",
    "delete-renumber",
    "tail",
    "tail-and-checkpoints",
    "reorder",
    "duplicate",
    "replay",
    "forged-insert",
    "rollback",
)


@dataclass
class TamperBase:
    path: Path
    size: int
    anchor: str
    log_id: str
    older: list[tuple[int, Path]]


def build_base(folder: Path, size: int, *, every: int = 100, copies: int = 4, seed: int = 1) -> TamperBase:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "base.db"
    snap_at = sorted(rng.sample(range(1, size), min(copies, size - 1)))
    older = []
    with AuditStore(path, checkpoint_every=every, key_path=str(folder / "keys" / "k")) as store:
        done = 0
        for cut in [*snap_at, size]:
            batch = [
                {
                    "i": i,
                    "decision": rng.choice(["allow", "deny"]),
                    "session": f"s{i % 7}",
                    "text": f"rec {i} é",
                }
                for i in range(done, cut)
            ]
            store.log.append_many(batch)
            done = cut
            if cut < size:
                snap = folder / f"older-{cut}.db"
                store.backend._db.execute("VACUUM INTO ?", (str(snap),))
                older.append((cut, snap))
        anchor = store.checkpoint()
        meta = store.log.meta()
        assert meta is not None
        store.backend._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return TamperBase(path, size, anchor, meta.log_id, older)


def _fix_head(db: sqlite3.Connection) -> None:
    leaves = [r[0] for r in db.execute("SELECT leaf FROM records ORDER BY seq")]
    f = Frontier.of(leaves)
    db.execute("UPDATE head SET size = ?, frontier = ?", (f.size, f.to_bytes()))


def _row(db: sqlite3.Connection, seq: int) -> tuple[bytes, bytes]:
    leaf, body = db.execute("SELECT leaf, body FROM records WHERE seq = ?", (seq,)).fetchone()
    return bytes(leaf), bytes(body)


def _shift(db: sqlite3.Connection, start: int, by: int) -> None:
    db.execute("UPDATE records SET seq = -(seq + ?) - 1 WHERE seq >= ?", (by, start))
    db.execute("UPDATE records SET seq = -seq - 1 WHERE seq < 0")


def mutate(base: TamperBase, work: Path, op: str, rng: random.Random) -> tuple[int, bool]:
    """Apply one mutation to a copy at ``work``; return (the first bad seq, whether it is located exactly)."""
    n = base.size
    if op == "rollback":
        cut, snap = rng.choice(base.older)
        shutil.copyfile(snap, work)
        return cut, True
    shutil.copyfile(base.path, work)
    db = sqlite3.connect(work)
    try:
        s = rng.randrange(n - 1)
        if op == "byteflip":
            _, body = _row(db, s)
            b = bytearray(body)
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            db.execute("UPDATE records SET body = ? WHERE seq = ?", (bytes(b), s))
            return s, True
        if op in ("edit", "recompute"):
            _, body = _row(db, s)
            env = json.loads(body)
            env["rec"]["decision"] = "allow" if env["rec"]["decision"] == "deny" else "deny"
            new = canonical(env)
            if op == "edit":
                db.execute("UPDATE records SET body = ? WHERE seq = ?", (new, s))
                return s, True
            db.execute("UPDATE records SET body = ?, leaf = ? WHERE seq = ?", (new, leaf_hash(new), s))
            _fix_head(db)
            return s, False
        if op == "delete":
            db.execute("DELETE FROM records WHERE seq = ?", (s,))
            return s, True
        if op == "delete-renumber":
            db.execute("DELETE FROM records WHERE seq = ?", (s,))
            _shift(db, s + 1, -1)
            _fix_head(db)
            return s, True
        if op in ("tail", "tail-and-checkpoints"):
            k = rng.randint(1, max(1, n // 10))
            db.execute("DELETE FROM records WHERE seq >= ?", (n - k,))
            if op == "tail-and-checkpoints":
                db.execute("DELETE FROM checkpoints WHERE size > ?", (n - k,))
                _fix_head(db)
            return n - k, True
        if op == "reorder":
            a, b = sorted(rng.sample(range(n), 2))
            ra, rb = _row(db, a), _row(db, b)
            db.execute("UPDATE records SET leaf = ?, body = ? WHERE seq = ?", (*rb, a))
            db.execute("UPDATE records SET leaf = ?, body = ? WHERE seq = ?", (*ra, b))
            return a, True
        if op == "duplicate":
            a, b = sorted(rng.sample(range(n), 2))
            db.execute("UPDATE records SET leaf = ?, body = ? WHERE seq = ?", (*_row(db, a), b))
            return b, True
        if op == "replay":
            db.execute("INSERT INTO records (seq, leaf, body) VALUES (?, ?, ?)", (n, *_row(db, s)))
            _fix_head(db)
            return n, True
        if op == "forged-insert":
            _shift(db, s, 1)
            rec = canonical({"i": -1, "decision": "allow", "session": "s0", "text": "forged"})
            body = b'{"log":"' + base.log_id.encode() + b'","rec":' + rec + b',"seq":%d}' % s
            db.execute("INSERT INTO records (seq, leaf, body) VALUES (?, ?, ?)", (s, leaf_hash(body), body))
            _fix_head(db)
            return s, True
        raise ValueError(op)
    finally:
        db.commit()
        db.close()


@dataclass
class TamperResult:
    applied: Counter[str] = field(default_factory=Counter)
    detected: Counter[str] = field(default_factory=Counter)
    located: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_tamper(
    folder: Path, *, records: int, mutations: int, seed: int = 7, every: int = 100
) -> TamperResult:
    base = build_base(folder, records, every=every, seed=seed)
    rng = random.Random(seed)
    out = TamperResult()
    work = folder / "work.db"
    started = time.perf_counter()
    for k in range(mutations):
        op = OPERATORS[k % len(OPERATORS)]
        for suffix in ("-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        expected, exact = mutate(base, work, op, rng)
        backend = SQLiteBackend(work)
        try:
            report = verify_log(backend, anchor=base.anchor)
        finally:
            backend.close()
        out.applied[op] += 1
        if report.ok:
            out.failures.append(f"{op}: not detected (expected first bad {expected})")
            continue
        out.detected[op] += 1
        first = report.first_bad
        if exact:
            good = first == expected
        else:
            ranges = [(p.seq, p.last) for p in report.problems if p.last is not None and p.seq is not None]
            good = (
                first is not None
                and any(lo <= expected <= hi for lo, hi in ranges)
                and all(lo <= first for lo, _ in ranges)
            )
        if good:
            out.located[op] += 1
        else:
            lines = "; ".join(p.line() for p in report.problems)
            out.failures.append(f"{op}: first bad {first}, expected {expected}: {lines}")
    out.seconds = time.perf_counter() - started
    return out


# -- crash ---------------------------------------------------------------------------------------------


def _writer(path: str, key: str, w: int, start: int) -> None:
    store = AuditStore(path, checkpoint_every=50, key_path=key, busy_timeout_ms=10000)
    os.write(w, b"ready\n")
    i = start
    while True:
        rec = store.append({"i": i, "pad": "x" * 200, "text": "é\n"})
        os.write(w, b"%d %d\n" % (rec.seq, i))
        i += 1


def crash_once(
    path: Path, key: Path, iteration: int, rng: random.Random, max_delay: float = 0.05
) -> dict[int, int]:
    """Fork a writer, SIGKILL it at a random moment; return {seq: i} of the records it acknowledged."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            os.close(r)
            _writer(str(path), str(key), w, iteration * 1_000_000)
        finally:
            os._exit(1)
    os.close(w)
    buf = b""
    while b"ready\n" not in buf:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        buf += chunk
    time.sleep(rng.uniform(0, max_delay))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while chunk := os.read(r, 65536):
        buf += chunk
    os.close(r)
    acked = {}
    for line in buf.split(b"\n"):
        parts = line.split()
        if len(parts) == 2:
            acked[int(parts[0])] = int(parts[1])
    return acked


@dataclass
class CrashResult:
    kills: int = 0
    acked: int = 0
    lost: int = 0
    tamper_findings: int = 0
    crash_tails: int = 0
    records: int = 0
    problems: list[str] = field(default_factory=list)


def run_crash(folder: Path, *, kills: int, seed: int = 3, max_delay: float = 0.05) -> CrashResult:
    rng = random.Random(seed)
    path, key = folder / "audit.db", folder / "keys" / "audit-ed25519.key"
    out = CrashResult()
    acked_all: dict[int, int] = {}
    for k in range(kills):
        acked = crash_once(path, key, k, rng, max_delay)
        out.kills += 1
        acked_all.update(acked)
        with AuditStore(path, key_path=str(key)) as store:
            report = store.report()
            present = {r.seq: r.data().get("i") for r in store.records(start=min(acked, default=0))}
        out.lost += sum(1 for seq, i in acked.items() if present.get(seq) != i)
        out.tamper_findings += sum(p.tamper for p in report.problems)
        out.crash_tails += sum(not p.tamper for p in report.problems)
        out.problems += [p.line() for p in report.problems if p.tamper][:3]
        out.records = report.count
    out.acked = len(acked_all)
    return out

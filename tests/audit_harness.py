"""Tamper and crash harnesses for the audit log, shared by the unit tests (small counts) and bench/audit.py.

Both run against either backend: a ``Site`` is where a log lives (a SQLite file, or a schema on a
PostgreSQL server) and how an attacker with database access edits it underneath the store (on
PostgreSQL as a superuser with ``session_replication_role = replica``, which skips the append-only
triggers — exactly what the triggers cannot prevent and the verifier must catch).

Tamper: a log of M records (checkpoint every ``every``, a final checkpoint kept as the user's anchor) and
older copies of it; each mutation is applied to a fresh copy of the log with plain SQL, the verifier
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ramparts.audit.log import canonical
from ramparts.audit.merkle import Frontier, leaf_hash
from ramparts.audit.sqlite import SQLiteBackend
from ramparts.audit.store import AuditStore
from ramparts.audit.verify import verify_log

if TYPE_CHECKING:
    from ramparts.audit.backend import Backend

# -- where a log lives ---------------------------------------------------------------------------------


class Site:
    """A log's location (``location``: a path or a URL), its signing key, and raw SQL access to it."""

    kind = ""
    location = ""
    key_path = ""

    def open(self, **kw: Any) -> AuditStore:
        kw.setdefault("key_path", self.key_path)
        return AuditStore(self.location, **kw)

    def connect(self) -> Any:
        """A DB-API-like connection (``execute(sql, args)`` with ``?`` placeholders, ``commit``, ``close``)
        that bypasses every guard, as an attacker with database (or file) access would."""
        raise NotImplementedError

    def sql(self, statement: str, *args: object) -> list[tuple[Any, ...]]:
        db = self.connect()
        try:
            cur = db.execute(statement, args)
            rows = list(cur.fetchall()) if cur.description else []
            db.commit()
            return rows
        finally:
            db.close()

    def backend(self) -> Backend:
        raise NotImplementedError

    def sibling(self, name: str) -> Site:
        """Another, empty place of the same kind (its own log)."""
        raise NotImplementedError

    def snapshot(self, name: str) -> Site:
        """A copy of the log as it is now, under ``name``."""
        raise NotImplementedError

    def replace_with(self, other: Site) -> None:
        """Replace this log by a copy of ``other`` (which stays as it is)."""
        raise NotImplementedError

    def raw_bytes(self) -> bytes:
        """Everything the store holds, as bytes (to look for what must not be there)."""
        raise NotImplementedError

    def drop(self) -> None:
        pass


class SQLiteSite(Site):
    kind = "sqlite"

    def __init__(self, path: Path, key_path: Path | None = None) -> None:
        self.path = path
        self.location = str(path)
        self.key_path = str(key_path or path.parent / "keys" / "audit-ed25519.key")

    def connect(self) -> Any:
        return sqlite3.connect(self.path)

    def backend(self) -> Backend:
        return SQLiteBackend(self.path)

    def sibling(self, name: str) -> Site:
        return SQLiteSite(self.path.parent / name / self.path.name, Path(self.key_path))

    def snapshot(self, name: str) -> Site:
        target = self.path.parent / f"{name}.db"
        db = sqlite3.connect(self.path)
        try:
            db.execute("VACUUM INTO ?", (str(target),))
        finally:
            db.close()
        return SQLiteSite(target, Path(self.key_path))

    def replace_with(self, other: Site) -> None:
        assert isinstance(other, SQLiteSite)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(other.path, self.path)

    def raw_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.path.parent.glob(self.path.name + "*"))


_PG_TABLES = ("meta", "records", "head", "checkpoints")


class _PgConn:
    """psycopg with sqlite3's ``?`` placeholders, in the log's schema, with triggers skipped."""

    def __init__(self, dsn: str, schema: str) -> None:
        import psycopg

        self.conn = psycopg.connect(dsn)
        self.conn.execute(f'SET search_path TO "{schema}"')
        self.conn.execute("SET session_replication_role = replica")  # superuser only: no user triggers

    def execute(self, statement: str, args: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(statement.replace("?", "%s"), args or None)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class PgSite(Site):
    kind = "postgres"

    def __init__(self, server: Any, schema: str, key_path: Path) -> None:
        self.server, self.schema = server, schema
        self.dsn = server.dsn
        self.location = (
            f"postgresql://{server.user}@127.0.0.1:{server.port}/{server.database}?schema={schema}"
        )
        self.key_path = str(key_path)

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.dsn, autocommit=True)

    def connect(self) -> Any:
        return _PgConn(self.dsn, self.schema)

    def backend(self) -> Backend:
        from ramparts.audit.postgres import PostgresBackend

        return PostgresBackend(self.location, create=False)

    def sibling(self, name: str) -> Site:
        return PgSite(self.server, f"{self.schema}_{name}", Path(self.key_path))

    def snapshot(self, name: str) -> Site:
        copy = PgSite(self.server, f"{self.schema}_{name}", Path(self.key_path))
        copy._copy_from(self.schema)
        return copy

    def replace_with(self, other: Site) -> None:
        assert isinstance(other, PgSite)
        self._copy_from(other.schema)

    def _copy_from(self, source: str) -> None:
        """Drop this schema and make it a copy of ``source``'s tables (without their triggers)."""
        src, dst = f'"{source}"', f'"{self.schema}"'
        with self.admin() as db, db.transaction():
            db.execute(f"DROP SCHEMA IF EXISTS {dst} CASCADE")
            db.execute(f"CREATE SCHEMA {dst}")
            for t in _PG_TABLES:
                db.execute(f"CREATE TABLE {dst}.{t} (LIKE {src}.{t} INCLUDING ALL)")
                over = " OVERRIDING SYSTEM VALUE" if t == "checkpoints" else ""
                db.execute(f"INSERT INTO {dst}.{t}{over} SELECT * FROM {src}.{t}")
            db.execute(
                f"SELECT setval(pg_get_serial_sequence('{dst}.checkpoints', 'id'), "
                f"GREATEST(max(id), 1), max(id) IS NOT NULL) FROM {dst}.checkpoints"
            )

    def raw_bytes(self) -> bytes:
        with self.admin() as db:
            out = []
            for t in _PG_TABLES:
                for (text,) in db.execute(f'SELECT t::text FROM "{self.schema}".{t} t'):
                    out.append(text.encode("utf-8", "surrogateescape"))
            return b"\n".join(out)

    def drop(self) -> None:
        with self.admin() as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


SiteFactory = Callable[[str], Site]


def sqlite_sites(folder: Path) -> SiteFactory:
    key = folder / "keys" / "k"
    return lambda name: SQLiteSite(folder / f"{name}.db", key)


def pg_sites(server: Any, prefix: str, folder: Path) -> SiteFactory:
    key = folder / "keys" / "k"
    return lambda name: PgSite(server, f"{prefix}_{name.replace('-', '_')}", key)


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
    site: Site
    size: int
    anchor: str
    log_id: str
    older: list[tuple[int, Site]]


def build_base(
    folder: Path,
    size: int,
    *,
    every: int = 100,
    copies: int = 4,
    seed: int = 1,
    sites: SiteFactory | None = None,
) -> TamperBase:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sites = sites or sqlite_sites(folder)
    site = sites("base")
    snap_at = sorted(rng.sample(range(1, size), min(copies, size - 1)))
    older = []
    with site.open(checkpoint_every=every) as store:
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
                older.append((cut, site.snapshot(f"older-{cut}")))
        anchor = store.checkpoint()
        meta = store.log.meta()
        assert meta is not None
        if isinstance(site, SQLiteSite):
            store.backend._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[attr-defined]
    return TamperBase(site, size, anchor, meta.log_id, older)


def _fix_head(db: Any) -> None:
    leaves = [r[0] for r in db.execute("SELECT leaf FROM records ORDER BY seq")]
    f = Frontier.of(leaves)
    db.execute("UPDATE head SET size = ?, frontier = ?", (f.size, f.to_bytes()))


def _row(db: Any, seq: int) -> tuple[bytes, bytes]:
    leaf, body = db.execute("SELECT leaf, body FROM records WHERE seq = ?", (seq,)).fetchone()
    return bytes(leaf), bytes(body)


def _shift(db: Any, start: int, by: int) -> None:
    db.execute("UPDATE records SET seq = -(seq + ?) - 1 WHERE seq >= ?", (by, start))
    db.execute("UPDATE records SET seq = -seq - 1 WHERE seq < 0")


def mutate(base: TamperBase, work: Site, op: str, rng: random.Random) -> tuple[int, bool]:
    """Apply one mutation to a copy at ``work``; return (the first bad seq, whether it is located exactly)."""
    n = base.size
    if op == "rollback":
        cut, snap = rng.choice(base.older)
        work.replace_with(snap)
        return cut, True
    work.replace_with(base.site)
    db = work.connect()
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
    folder: Path,
    *,
    records: int,
    mutations: int,
    seed: int = 7,
    every: int = 100,
    sites: SiteFactory | None = None,
) -> TamperResult:
    sites = sites or sqlite_sites(folder)
    base = build_base(folder, records, every=every, seed=seed, sites=sites)
    rng = random.Random(seed)
    out = TamperResult()
    work = sites("work")
    started = time.perf_counter()
    for k in range(mutations):
        op = OPERATORS[k % len(OPERATORS)]
        expected, exact = mutate(base, work, op, rng)
        backend = work.backend()
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


def _writer(location: str, key: str, w: int, start: int) -> None:
    store = AuditStore(location, checkpoint_every=50, key_path=key, busy_timeout_ms=10000)
    os.write(w, b"ready\n")
    i = start
    while True:
        rec = store.append({"i": i, "pad": "x" * 200, "text": "é\n"})
        os.write(w, b"%d %d\n" % (rec.seq, i))
        i += 1


def crash_once(
    path: Path | str, key: Path, iteration: int, rng: random.Random, max_delay: float = 0.05
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


def run_crash(
    folder: Path, *, kills: int, seed: int = 3, max_delay: float = 0.05, location: str | None = None
) -> CrashResult:
    """``location``: a PostgreSQL URL instead of ``folder/audit.db``."""
    rng = random.Random(seed)
    path, key = location or folder / "audit.db", folder / "keys" / "audit-ed25519.key"
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

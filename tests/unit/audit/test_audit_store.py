"""The chained SQLite audit store: durable appends, one linear chain, tampering detected."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from ramparts.audit.render import escape, render_line
from ramparts.audit.store import GENESIS, AuditStore, chain_hash


def _fill(path: Path, n: int = 5) -> None:
    with AuditStore(path) as store:
        for i in range(n):
            store.append({"i": i, "decision": "allow", "text": f"record {i} é"})


def _sql(path: Path, statement: str, *args: object) -> None:
    db = sqlite3.connect(path)
    db.execute(statement, args)
    db.commit()
    db.close()


def test_append_links_records(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    with AuditStore(path) as store:
        first = store.append({"a": 1})
        second = store.append({"b": "ü"})
        assert first.seq == 1 and first.prev_hash == GENESIS
        assert second.prev_hash == first.hash
        assert second.hash == chain_hash(first.hash, '{"b":"ü"}')
        assert [r.data() for r in store.records()] == [{"a": 1}, {"b": "ü"}]
        assert store.verify() == (2, [])


def test_store_is_wal_and_full_sync(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "audit.db") as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_edited_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    _fill(path)
    _sql(path, "UPDATE records SET body = replace(body, 'allow', 'deny') WHERE seq = 3")
    with AuditStore(path) as store:
        count, problems = store.verify()
    assert count == 5
    assert [(p.seq, p.kind) for p in problems] == [(3, "modified")]


def test_edited_record_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    _fill(path)
    with AuditStore(path) as store:
        rec = store.tail(3)[0]
    body = rec.body.replace("allow", "deny")
    _sql(
        path,
        "UPDATE records SET body = ?, hash = ? WHERE seq = ?",
        body,
        chain_hash(rec.prev_hash, body),
        rec.seq,
    )
    with AuditStore(path) as store:
        _, problems = store.verify()
    assert [(p.seq, p.kind) for p in problems] == [(4, "broken-link")]


def test_deleted_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    _fill(path)
    _sql(path, "DELETE FROM records WHERE seq = 2")
    with AuditStore(path) as store:
        _, problems = store.verify()
    kinds = [(p.seq, p.kind) for p in problems]
    assert (2, "deleted") in kinds and (3, "broken-link") in kinds


def test_deleted_first_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    _fill(path)
    _sql(path, "DELETE FROM records WHERE seq = 1")
    with AuditStore(path) as store:
        _, problems = store.verify()
    assert (1, "deleted") in [(p.seq, p.kind) for p in problems]


def test_swapped_records_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    _fill(path)
    db = sqlite3.connect(path)
    rows = {
        seq: (body, h, prev)
        for seq, body, h, prev in db.execute("SELECT seq, body, hash, prev_hash FROM records")
    }
    db.execute("UPDATE records SET body=?, hash=?, prev_hash=? WHERE seq=2", rows[3])
    db.execute("UPDATE records SET body=?, hash=?, prev_hash=? WHERE seq=3", rows[2])
    db.commit()
    db.close()
    with AuditStore(path) as store:
        _, problems = store.verify()
    assert problems


def _writer(path: str, n: int) -> None:
    with AuditStore(Path(path), busy_timeout_ms=10000) as store:
        for i in range(n):
            store.append({"writer": multiprocessing.current_process().name, "i": i})


def test_concurrent_writers_keep_one_linear_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    AuditStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with AuditStore(path) as store:
        count, problems = store.verify()
        seqs = [r.seq for r in store.records()]
    assert count == 160 and problems == []
    assert seqs == list(range(1, 161))


def test_open_failure_is_a_store_error(tmp_path: Path) -> None:
    from ramparts.errors import StoreError

    (tmp_path / "audit.db").write_bytes(b"garbage" * 200)
    with pytest.raises(StoreError, match="cannot open audit store"):
        AuditStore(tmp_path / "audit.db")


def test_rendering_escapes_control_and_bidi_characters() -> None:
    line = render_line(
        7,
        {
            "time": "t",
            "user": "u",
            "host": "h",
            "session": "s",
            "event": "PreToolUse",
            "tool": "Bash",
            "decision": "deny",
            "input": {"command": "ls\n#8 forged\x1b[2J\u202e"},
        },
    )
    assert "\n" not in line and "\x1b" not in line and "\u202e" not in line
    assert "\\u000a" in line or "\\n" in line
    assert escape("a\rb") == "a\\u000db"

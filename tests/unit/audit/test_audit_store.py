"""The Merkle audit store on SQLite and PostgreSQL: durable appends, one linear log, checkpoints, exact text,
tamper findings, failures. Tests taking ``backend`` run against both (see conftest.py); the rest are about one
backend's own mechanics (SQLite's file, WAL and locks; PostgreSQL's settings, roles and triggers)."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ramparts.audit.checkpoint import Checkpoint, sign_note
from ramparts.audit.keys import load_signer
from ramparts.audit.log import canonical
from ramparts.audit.merkle import leaf_hash
from ramparts.audit.render import escape, render_line
from ramparts.audit.store import AuditStore
from ramparts.errors import AuditError, StoreError
from tests.audit_harness import Site, SQLiteSite


def _fill(site: Site, n: int = 5, **kw: Any) -> None:
    with site.open(**kw) as store:
        for i in range(n):
            store.append({"i": i, "decision": "allow", "text": f"record {i} é"})


def _kinds(site: Site, **kw: Any) -> list[tuple[int | None, str]]:
    with site.open() as store:
        return [(p.seq, p.kind) for p in store.verify(**kw)[1]]


def test_append_stores_exactly_the_hashed_canonical_envelope(backend: Site) -> None:
    with backend.open() as store:
        first = store.append({"b": "ü", "a": 1})
        second = store.append({"z": [1.0, 2.5, None, True]})
        log_id = store.log.meta()
        assert log_id is not None
        assert first.seq == 0 and second.seq == 1  # 0-based: seq = leaf index
        assert first.raw == b'{"log":"%s","rec":{"a":1,"b":"\xc3\xbc"},"seq":0}' % log_id.log_id.encode()
        assert first.leaf == leaf_hash(first.raw)
        assert [r.data() for r in store.records()] == [{"a": 1, "b": "ü"}, {"z": [1, 2.5, None, True]}]
        assert [r.raw for r in store.records()] == [first.raw, second.raw]
        assert store.verify() == (2, [])
        assert len(log_id.log_id) == 32


TEXTS = [
    "line\nbreak\r\n",
    "nul\x00byte",
    "\u2028\u2029 separators",
    "\x1b[2J ansi",
    "\u202eevil\u202c bidi",
    "e\u0301 vs \u00e9",  # NFD and NFC stay distinct
    "astral \U0001f600 and \uffff",
    '"quotes" \\ backslash \t tab',
]


def test_text_round_trips_exactly(backend: Site) -> None:
    with backend.open() as store:
        for t in TEXTS:
            store.append({"t": t, t: "key"})
        got = [r.data() for r in store.records()]
    assert got == [{"t": t, t: "key"} for t in TEXTS]


@pytest.mark.parametrize(
    "record",
    [{"n": 2**60}, {"f": float("nan")}, {"s": "lone \ud800 surrogate"}, {1: "non-string key"}],
)
def test_what_jcs_cannot_represent_is_refused(backend: Site, record: dict[Any, Any]) -> None:
    with pytest.raises(AuditError, match="cannot be canonicalised"):
        canonical(record)
    with backend.open() as store:
        with pytest.raises(AuditError):
            store.append(record)
        assert store.backend.head().size == 0


def test_jcs_sorts_keys_by_utf16_and_normalises_numbers() -> None:
    assert canonical({"\U0001f600": 1, "\uffff": 2}) == '{"\U0001f600":1,"\uffff":2}'.encode()
    assert canonical({"a": 1.0, "b": 1e21, "c": -0.0}) == b'{"a":1,"b":1e+21,"c":0}'


def test_store_is_wal_and_full_sync(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "audit.db") as store:
        db = store.backend._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_checkpoints_every_n_on_time_and_on_demand(backend: Site) -> None:
    now = [1000.0]
    with backend.open(checkpoint_every=4, checkpoint_seconds=60, clock=lambda: now[0]) as store:
        for _ in range(9):
            store.append({"x": 1})
        sizes = [c.size for c in store.backend.checkpoints()]
        assert sizes == [1, 4, 8]  # the first record of a new log, then every 4th
        now[0] += 61
        store.append({"x": 2})  # 60 s since the last checkpoint: one now
        assert [c.size for c in store.backend.checkpoints()][-1] == 10
        note = store.checkpoint()
        assert store.checkpoint() == note  # nothing new: the same checkpoint
        store.append({"x": 3})
        note2 = store.checkpoint()
        assert note2 != note and note2.split("\n")[1] == "11"
        assert store.verify() == (11, [])


def test_the_signing_key_lives_outside_the_log(backend: Site) -> None:
    _fill(backend, 2)
    key = Path(backend.key_path)
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    seed_line = key.read_text().strip()
    with backend.open() as store:
        meta = store.log.meta()
        assert meta is not None
    assert meta.verifier == str(load_signer(str(key)).verifier)
    raw = backend.raw_bytes()
    assert meta.verifier.encode() in raw  # the check can see what is stored
    seed = seed_line.split("+", 4)[4]  # base64 has "+" of its own: the seed is the fifth field, whole
    assert len(seed) == 44 and seed.encode() not in raw


def test_a_different_key_cannot_sign_for_the_log(backend: Site, tmp_path: Path) -> None:
    _fill(backend, 2)
    Path(backend.key_path).unlink()
    with (
        backend.open(key_path=str(tmp_path / "other.key")) as store,
        pytest.raises(StoreError, match="not the key"),
    ):
        store.checkpoint()


def test_edited_record_is_located(backend: Site) -> None:
    _fill(backend)
    (body,) = backend.sql("SELECT body FROM records WHERE seq = 3")[0]
    backend.sql("UPDATE records SET body = ? WHERE seq = 3", bytes(body).replace(b"allow", b"deny"))
    assert _kinds(backend) == [(3, "modified")]


def test_edit_with_recomputed_hashes_is_caught_by_the_signed_checkpoint(backend: Site) -> None:
    _fill(backend, 12, checkpoint_every=4)
    (body,) = backend.sql("SELECT body FROM records WHERE seq = 6")[0]
    body = bytes(body).replace(b"allow", b"deny!")
    backend.sql("UPDATE records SET body = ?, leaf = ? WHERE seq = 6", body, leaf_hash(body))
    with backend.open() as store:
        report = store.report()
    changed = [p for p in report.problems if p.kind == "changed"]
    assert len(changed) == 1 and (changed[0].seq, changed[0].last) == (4, 7)
    assert report.first_bad == 4 and not report.ok


def test_deleted_records_are_located(backend: Site) -> None:
    _fill(backend)
    backend.sql("DELETE FROM records WHERE seq = 2")
    assert (2, "deleted") in _kinds(backend)
    other = backend.sibling("b")
    try:
        _fill(other)
        other.sql("DELETE FROM records WHERE seq = 0")
        assert (0, "deleted") in _kinds(other)
    finally:
        other.drop()


def test_tail_deletion_is_located_by_the_head(backend: Site) -> None:
    _fill(backend)
    backend.sql("DELETE FROM records WHERE seq >= 3")
    assert _kinds(backend)[0] == (3, "truncated")


def test_swapped_records_are_located(backend: Site) -> None:
    _fill(backend)
    rows = {seq: (leaf, body) for seq, leaf, body in backend.sql("SELECT seq, leaf, body FROM records")}
    backend.sql("UPDATE records SET leaf=?, body=? WHERE seq=1", *rows[3])
    backend.sql("UPDATE records SET leaf=?, body=? WHERE seq=3", *rows[1])
    assert _kinds(backend) == [(1, "reordered")]


def test_equivocation_and_inconsistent_checkpoints(backend: Site) -> None:
    _fill(backend, 8, checkpoint_every=4)
    signer = load_signer(backend.key_path)
    with backend.open() as store:
        meta = store.log.meta()
        assert meta is not None
    fake = sign_note(Checkpoint(meta.origin, 4, b"\x07" * 32).body(), signer)
    backend.sql("INSERT INTO checkpoints (size, note, time) VALUES (4, ?, 0)", fake)
    kinds = _kinds(backend)
    assert (None, "equivocation") in kinds and (None, "inconsistent-checkpoint") in kinds
    assert not [k for k in kinds if k[0] is not None]  # the records themselves are fine


def test_bad_signature_and_foreign_checkpoints(backend: Site) -> None:
    _fill(backend, 4, checkpoint_every=4)
    backend.sql("UPDATE checkpoints SET note = replace(note, ?, ?) WHERE size = 4", "\n4\n", "\n3\n")
    kinds = _kinds(backend)
    assert (None, "bad-signature") in kinds and (None, "missing-checkpoint") in kinds


def test_anchor_detects_truncation_and_rollback(backend: Site) -> None:
    _fill(backend, 6)
    old = backend.snapshot("old")
    with backend.open() as store:
        for i in range(3):
            store.append({"later": i})
        anchor = store.checkpoint()
    assert _kinds(backend, anchor=anchor) == []
    # an attacker puts back the older copy: consistent on its own, short against the anchor
    backend.replace_with(old)
    assert _kinds(backend) == []
    assert _kinds(backend, anchor=anchor) == [(6, "truncated")]
    # ... and then keeps appending so that it is longer than the anchor again: a rollback
    with backend.open() as store:
        for i in range(5):
            store.append({"other": i})
        report = store.report(anchor=anchor)
    assert [p.kind for p in report.problems] == ["rollback"] and report.first_bad == 1


def _writer(location: str, key: str, n: int) -> None:
    with AuditStore(location, key_path=key, busy_timeout_ms=10000, checkpoint_every=16) as store:
        for i in range(n):
            store.append({"writer": multiprocessing.current_process().name, "i": i})


def test_concurrent_writers_keep_one_linear_log(backend: Site) -> None:
    _fill(backend, 0)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(backend.location, backend.key_path, 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with backend.open() as store:
        count, problems = store.verify()
        seqs = [r.seq for r in store.records()]
        sizes = sorted(c.size for c in store.backend.checkpoints())
    assert count == 160 and problems == []
    assert seqs == list(range(160))
    assert set(range(16, 161, 16)) <= set(sizes)


def test_first_users_at_once_agree_on_one_log(backend: Site) -> None:
    """Several processes opening a store that does not exist yet: one schema, one log id, one linear log."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(backend.location, backend.key_path, 5)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with backend.open() as store:
        count, problems = store.verify()
        logs = {r.envelope()["log"] for r in store.records()}
    assert (count, problems) == (20, []) and len(logs) == 1


def test_open_failure_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "audit.db").write_bytes(b"garbage" * 200)
    with pytest.raises(StoreError, match="cannot open audit store"):
        AuditStore(tmp_path / "audit.db")


def test_a_lock_held_past_the_busy_timeout_is_a_store_error(backend: Site) -> None:
    """Another writer holding the log's write lock past the timeout: StoreError (the hook denies), nothing
    written, and the log is fine afterwards."""
    _fill(backend, 1)
    holder = backend.connect()
    if isinstance(backend, SQLiteSite):
        holder.isolation_level = None
        holder.execute("BEGIN IMMEDIATE")
    else:
        holder.execute("SELECT * FROM head WHERE id = 0 FOR UPDATE")  # psycopg: inside a transaction
    try:
        started = time.monotonic()
        with backend.open(busy_timeout_ms=150) as store, pytest.raises(StoreError, match="lock"):
            store.append({"x": 1})
        assert time.monotonic() - started < 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _kinds(backend) == []


_READONLY_CHILD = """
import sys
from ramparts.audit.store import AuditStore
from ramparts.errors import StoreError
try:
    with AuditStore(sys.argv[1]) as store:
        store.append({"x": 1})
except StoreError as exc:
    print("StoreError:", exc)
    sys.exit(3)
sys.exit(0)
"""


def test_a_read_only_directory_is_a_store_error(tmp_path: Path) -> None:
    state = tmp_path / "ro"
    _fill(SQLiteSite(state / "audit.db"), 2)
    for name in ("audit.db-wal", "audit.db-shm"):
        (state / name).unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}
    child = [sys.executable, "-c", _READONLY_CHILD, str(state / "audit.db")]
    if os.geteuid() == 0:  # root ignores permissions: a read-only bind mount in a private mount namespace
        if shutil.which("unshare") is None:
            pytest.skip("needs unshare(1) when run as root")
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        child = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(state), *child]
    else:
        os.chmod(state / "audit.db", 0o444)
        os.chmod(state, 0o555)
    try:
        proc = subprocess.run(child, capture_output=True, text=True, env=env, timeout=60, check=False)
    finally:
        os.chmod(state, 0o700)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "StoreError" in proc.stdout


def test_the_pre_merkle_format_is_kept_aside(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, prev_hash TEXT, hash TEXT, body TEXT)")
    db.execute("INSERT INTO records VALUES (1, '0', 'x', '{}')")
    db.commit()
    db.close()
    _fill(SQLiteSite(path), 2)
    assert _kinds(SQLiteSite(path)) == []
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM legacy_chain_records").fetchone()[0] == 1
    db.close()


def test_hook_records_hold_no_secret_bytes(tmp_path: Path) -> None:
    """Canary through the real hook in-process: the stored bytes (database and WAL) never hold the secret."""
    from ramparts.agents.claude_code.hook import Hook

    secret = "ghp_Zx9Q2w8E7r6T5y4U3i2O1pAsDfGhJkLzXcVb"
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    state = tmp_path / "state"
    payloads = [
        {
            "tool_name": "Bash",
            "tool_input": {"command": f"curl -H 'Authorization: token {secret}' https://x"},
        },
        {"tool_name": "Write", "tool_input": {"file_path": "/tmp/a", "content": f"TOKEN={secret}"}},
        {
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "env"},
            "tool_response": {"stdout": f"GITHUB_TOKEN={secret}"},
        },
    ]
    for extra in payloads:
        payload = {
            "session_id": "s-1",
            "transcript_path": "/tmp/t",
            "cwd": str(tmp_path),
            "hook_event_name": "PreToolUse",
            "permission_mode": "default",
            "tool_use_id": "t1",
            **extra,
        }
        out, err = io.StringIO(), io.StringIO()
        hook = Hook(
            policy=str(policy),
            state=str(state),
            stdin=io.BytesIO(json.dumps(payload).encode()),
            stdout=out,
            stderr=err,
        )
        hook.run()
        assert secret not in out.getvalue() + err.getvalue()
    with AuditStore(state / "audit.db") as store:
        records = list(store.records())
        assert store.verify()[1] == []
    assert len(records) >= len(payloads)
    stored = b"".join(p.read_bytes() for p in state.glob("audit.db*"))
    assert secret.encode() not in stored
    assert secret[4:20].encode() not in stored


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


@pytest.mark.parametrize("damage", ["none", "recompute-late", "edit-late", "delete-at-split", "tail"])
def test_two_process_verification_reports_exactly_what_one_process_does(
    backend: Site, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """Small chunks make a small log "large": the forked half's tree parts must give the same roots,
    frontier and findings as one process, and any damage falls back to the full serial pass."""
    from ramparts.audit import verify

    monkeypatch.setattr(verify, "CHUNK", 16)
    monkeypatch.setattr(verify, "PARALLEL_MIN", 64)
    with backend.open(checkpoint_every=10) as store:
        store.log.append_many([{"i": i, "decision": "allow"} for i in range(203)])
    if damage == "recompute-late":  # hashes recomputed without the key: only the signed roots catch it
        (body,) = backend.sql("SELECT body FROM records WHERE seq = 150")[0]
        body = bytes(body).replace(b"allow", b"deny!")
        backend.sql("UPDATE records SET body = ?, leaf = ? WHERE seq = 150", body, leaf_hash(body))
    elif damage == "edit-late":
        backend.sql("UPDATE records SET body = ? WHERE seq = 170", b"x")
    elif damage == "delete-at-split":  # the split is at 96 (half of 203, down to a chunk)
        backend.sql("DELETE FROM records WHERE seq = 95")
    elif damage == "tail":
        backend.sql("DELETE FROM records WHERE seq >= 200")
    taken: list[bool] = []
    alone = threading.active_count() == 1  # the fork needs a single-threaded process (xdist may share one)
    real = verify._parallel_scan

    def spy(*args: Any) -> Any:
        got = real(*args)
        if args[-1] == 2:
            taken.append(got is not None)
        return got

    monkeypatch.setattr(verify, "_parallel_scan", spy)
    reports = []
    for workers in (1, 2):
        b = backend.backend()
        try:
            reports.append(verify.verify_log(b, workers=workers))
        finally:
            b.close()
    one, two = reports
    assert (two.count, two.end, two.checkpoints, two.latest, two.problems) == (
        one.count,
        one.end,
        one.checkpoints,
        one.latest,
        one.problems,
    )
    assert one.ok == (damage == "none")
    if damage == "recompute-late":
        assert "changed" in [p.kind for p in one.problems] and one.first_bad == 150
    assert taken == (
        [False] if damage in ("edit-late", "delete-at-split") or not alone else [True]
    )  # damaged rows: serial


def test_an_append_committed_while_verifying_is_not_a_deleted_checkpoint(backend: Site) -> None:
    """Read committed: a writer can commit records, the head and a due checkpoint between the verifier's
    read of the checkpoints and its read of the rows. Those rows were not there when the checkpoints
    were read, so their checkpoint is not "deleted"; one deleted before the verifier began still is."""
    from ramparts.audit import verify

    with backend.open(checkpoint_every=10) as store:
        store.log.append_many([{"i": i} for i in range(25)])

    class Racing:
        """The real backend; an append of 10 records lands right after the checkpoints are read."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def checkpoints(self) -> Any:
            got = self.inner.checkpoints()
            with backend.open(checkpoint_every=10) as writer:
                writer.log.append_many([{"late": i} for i in range(10)])
            return got

    b = backend.backend()
    try:
        report = verify.verify_log(Racing(b), workers=1)
        assert (report.count, report.problems) == (35, [])  # the checkpoint at 30 came with the append
        backend.sql("DELETE FROM checkpoints WHERE size = 20")
        report = verify.verify_log(Racing(b), workers=1)
        assert [p.kind for p in report.problems] == ["missing-checkpoint"]
        assert "size 20" in report.problems[0].detail and "40" not in report.problems[0].detail
    finally:
        b.close()

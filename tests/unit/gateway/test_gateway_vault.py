"""The vault: deterministic placeholders, shared by two replicas, values encrypted at rest; the store
tests run against SQLite and a real PostgreSQL (``store`` fixture)."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from ramparts.gateway import vault as vault_module
from ramparts.gateway.vault import (
    PLACEHOLDER,
    PLACEHOLDER_MAX,
    MemoryVault,
    PostgresVault,
    SQLiteVault,
    StoreVault,
    VaultError,
    VaultKeyMismatch,
    is_placeholder,
    label,
)

KEY = b"v" * 32


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("pii-email", "EMAIL"),
        ("pii-payment-card", "PAYMENT_CARD"),
        ("aws-access-key-id", "AWS_ACCESS_KEY_ID"),
        ("pii-custom-employee id", "CUSTOM_EMPLOYEE_ID"),
        ("9lives", "V_9LIVES"),
        ("---", "VALUE"),
        ("x" * 80, "X" * 32),
    ],
)
def test_label(entity: str, expected: str) -> None:
    assert label(entity) == expected


def test_shape_survives_json_and_is_bounded() -> None:
    vault = MemoryVault(KEY)
    p = vault.placeholder_for("s1", "pii-email", "bob@example.com")
    assert p.startswith("[[RAMPARTS:EMAIL:") and p.endswith("]]") and len(p) == len("[[RAMPARTS:EMAIL:]]") + 8
    assert is_placeholder(p) and PLACEHOLDER.fullmatch(p)
    assert json.dumps(p)[1:-1] == p == json.dumps(p, ensure_ascii=True)[1:-1]
    assert len(vault.placeholder_for("s1", "x" * 99, "v")) <= PLACEHOLDER_MAX


def test_memory_vault_deterministic_and_per_session() -> None:
    a, b = MemoryVault(KEY), MemoryVault(KEY)
    p = a.placeholder_for("s1", "pii-email", "bob@example.com")
    assert a.placeholder_for("s1", "pii-email", "bob@example.com") == p
    assert b.placeholder_for("s1", "pii-email", "bob@example.com") == p  # same key: same placeholder
    assert a.placeholder_for("s2", "pii-email", "bob@example.com") != p
    assert a.value_for("s1", p) == "bob@example.com"
    assert a.value_for("s2", p) is None
    assert a.known("s1") == {p: "bob@example.com"}
    assert MemoryVault(b"w" * 32).placeholder_for("s1", "pii-email", "bob@example.com") != p


def test_digest_collision_takes_a_longer_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    vault = MemoryVault(KEY)
    real = vault._keys.candidates

    def colliding(session: str, entity: str, value: str) -> object:
        # every value shares its first candidate: the second value must move to the next length
        _, *rest = list(real(session, entity, value))
        return iter(["[[RAMPARTS:EMAIL:00000000]]", *rest])

    monkeypatch.setattr(vault._keys, "candidates", colliding)
    p1 = vault.placeholder_for("s", "pii-email", "a@x.io")
    p2 = vault.placeholder_for("s", "pii-email", "b@x.io")
    assert p1 == "[[RAMPARTS:EMAIL:00000000]]" and len(p2) == len(p1) + 4
    assert vault.value_for("s", p1) == "a@x.io" and vault.value_for("s", p2) == "b@x.io"


def open_vault(store: str, *, key: bytes | None = None, key_path: str | None = None) -> StoreVault:
    """The vault at ``store``: a SQLite path, or a PostgreSQL URL (key file: ``vault.key`` next to the
    test's SQLite path, as a replica's state directory would hold it)."""
    if store.startswith("postgresql://"):
        return PostgresVault(store, key=key, key_path=key_path)
    return SQLiteVault(store, key=key, key_path=key_path)


def raw(store: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A statement on the store's tables behind the vault's back (``?`` parameters)."""
    if store.startswith("postgresql://"):
        import psycopg

        from ramparts.audit.postgres import split_schema

        dsn, schema = split_schema(store)
        with psycopg.connect(dsn, autocommit=True, options=f"-c search_path={schema}") as db:
            cur = db.execute(sql.replace("?", "%s"), args)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
    con = sqlite3.connect(store, isolation_level=None)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_two_replicas_agree_and_restore_each_other(store: str, tmp_path: Path) -> None:
    key_file = tmp_path / "state" / "vault.key"
    one = open_vault(store, key_path=str(key_file))
    two = open_vault(store, key_path=str(key_file))  # a second connection, the same key file
    p = one.placeholder_for("sess", "pii-phone", "+1 415 555 2671")
    assert two.value_for("sess", p) == "+1 415 555 2671"
    assert two.placeholder_for("sess", "pii-phone", "+1 415 555 2671") == p
    q = two.placeholder_for("sess", "aws-access-key-id", "AKIAIOSFODNN7EXAMPLX")
    assert one.value_for("sess", q) == "AKIAIOSFODNN7EXAMPLX"
    assert one.known("sess") == two.known("sess") == {p: "+1 415 555 2671", q: "AKIAIOSFODNN7EXAMPLX"}
    assert one.value_for("other", p) is None
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # the same key in a third process gives the same placeholders (prompt caching across replicas)
    three = open_vault(store, key=key_file.read_bytes())
    assert three.placeholder_for("sess", "pii-phone", "+1 415 555 2671") == p
    for v in (one, two, three):
        v.close()


def test_sqlite_default_key_file_is_next_to_the_database(tmp_path: Path) -> None:
    vault = SQLiteVault(str(tmp_path / "state" / "vault.db"))
    vault.close()
    assert stat.S_IMODE((tmp_path / "state" / "vault.key").stat().st_mode) == 0o600


def test_values_encrypted_at_rest_and_bound_to_their_row(store: str) -> None:
    vault = open_vault(store, key=KEY)
    p = vault.placeholder_for("sess", "pii-email", "secret.person@example.com")
    q = vault.placeholder_for("sess", "pii-email", "other@example.com")
    vault.close()
    rows = raw(store, "SELECT session, placeholder, sealed FROM gateway_vault")
    assert len(rows) == 2 and all(b"secret.person" not in bytes(r[2]) for r in rows)
    if not store.startswith("postgresql://"):
        db = Path(store)
        data = db.read_bytes() + (Path(store + "-wal").read_bytes() if Path(store + "-wal").exists() else b"")
        assert b"secret.person" not in data
    raw(
        store,
        "UPDATE gateway_vault SET sealed = (SELECT sealed FROM gateway_vault WHERE placeholder = ?)"
        " WHERE placeholder = ?",
        (p, q),
    )
    fresh = open_vault(store, key=KEY)
    assert fresh.value_for("sess", p) == "secret.person@example.com"
    with pytest.raises(VaultError):
        fresh.value_for("sess", q)  # a value moved to another row does not decrypt
    fresh.close()


def test_wrong_key_is_refused_at_open(store: str) -> None:
    """A replica with a key of its own (a key file created on a second machine) must not mint a second
    set of placeholders next to rows it cannot open: the store's key check refuses it at once."""
    first = open_vault(store, key=KEY)
    first.placeholder_for("sess", "pii-email", "bob@example.com")
    first.close()
    with pytest.raises(VaultKeyMismatch, match="same key file") as refused:
        open_vault(store, key=b"z" * 32)
    assert KEY.hex() not in str(refused.value) and "z" * 32 not in str(refused.value)
    assert raw(store, "SELECT count(*) FROM gateway_vault") == [(1,)]  # nothing added by the refused one
    open_vault(store, key=KEY).close()  # the right key still opens it


def test_empty_store_claimed_by_the_first_key(store: str) -> None:
    open_vault(store, key=KEY).close()
    with pytest.raises(VaultKeyMismatch):
        open_vault(store, key=b"z" * 32)


def test_store_without_key_check_gets_one_from_a_row_that_opens(store: str) -> None:
    """A vault written before the key check: the right key opens a row and records the check; a wrong
    key opens none and is refused."""
    vault = open_vault(store, key=KEY)
    p = vault.placeholder_for("sess", "pii-email", "bob@example.com")
    vault.close()
    raw(store, "DELETE FROM gateway_meta")
    with pytest.raises(VaultKeyMismatch):
        open_vault(store, key=b"z" * 32)
    assert raw(store, "SELECT count(*) FROM gateway_meta") == [(0,)]
    again = open_vault(store, key=KEY)
    assert again.value_for("sess", p) == "bob@example.com"
    again.close()
    assert raw(store, "SELECT count(*) FROM gateway_meta") == [(1,)]


def test_collision_resolved_by_the_store(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two = open_vault(store, key=KEY), open_vault(store, key=KEY)
    for v in (one, two):
        real = v._keys.candidates
        monkeypatch.setattr(
            v._keys,
            "candidates",
            lambda s, e, val, real=real: iter(["[[RAMPARTS:X:00000000]]", *list(real(s, e, val))[1:]]),
        )
    p1 = one.placeholder_for("s", "x", "first")
    p2 = two.placeholder_for("s", "x", "second")
    assert p1 == "[[RAMPARTS:X:00000000]]" != p2
    assert one.value_for("s", p2) == "second" and two.value_for("s", p1) == "first"
    one.close()
    two.close()


def _replica(store: str, key: bytes, values: list[str], out: multiprocessing.Queue[list[str]]) -> None:
    vault = open_vault(store, key=key)
    out.put([vault.placeholder_for("shared", "pii-email", v) for v in values])


def test_two_processes_insert_concurrently(store: str) -> None:
    open_vault(store, key=KEY).close()
    values = [f"user{i}@example.com" for i in range(200)]
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    procs = [ctx.Process(target=_replica, args=(store, KEY, values, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert results[0] == results[1]
    assert len(set(results[0])) == len(values)
    check = open_vault(store, key=KEY)
    assert [check.value_for("shared", p) for p in results[0]] == values
    check.close()


def test_unopenable_store_is_a_vault_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(VaultError):
        SQLiteVault(str(tmp_path / "dir.db"), key=KEY)


def test_unreachable_postgres_is_a_vault_error_naming_no_password() -> None:
    import socket

    pytest.importorskip("psycopg")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(VaultError, match="cannot connect") as failed:
        PostgresVault(f"postgresql://gw:hunter2@127.0.0.1:{port}/db", key=KEY)
    assert "hunter2" not in str(failed.value)


def test_postgres_vault_needs_a_key() -> None:
    with pytest.raises(VaultError, match="key"):
        PostgresVault("postgresql://127.0.0.1/db")


def test_short_key_rejected() -> None:
    with pytest.raises(VaultError):
        MemoryVault(b"short")


def test_module_exports() -> None:
    assert set(vault_module.__all__) <= set(dir(vault_module))
    assert os.path.basename(vault_module.__file__ or "") == "vault.py"


def test_rows_expire_with_their_session_after_the_retention(store: str) -> None:
    vault = open_vault(store, key=KEY)
    other = open_vault(store, key=KEY)  # a second replica
    try:
        old = vault.placeholder_for("old-session", "EMAIL", "a@example.com")
        vault.placeholder_for("old-session", "PHONE", "+1 415 555 0100")
        raw(store, "UPDATE gateway_vault_sessions SET first = 100.0 WHERE session = 'old-session'")
        new = other.placeholder_for("new-session", "EMAIL", "b@example.com")
        assert vault.expire(before=200.0) == 2  # both rows of the old session, none of the new one
        assert vault.value_for("old-session", old) is None and other.known("old-session") == {}
        assert other.value_for("new-session", new) == "b@example.com"
        # rows stored before sessions were dated are dated at the first sweep, then expire in turn
        raw(store, "DELETE FROM gateway_vault_sessions")
        assert vault.expire(before=100.0, now=150.0) == 0  # dated 150 now, within the retention
        assert vault.expire(before=160.0) == 1
    finally:
        vault.close()
        other.close()


def test_the_retention_comes_from_the_policy() -> None:
    from ramparts.cli.gateway import gateway_options
    from ramparts.policy.load import compile_policy

    policy = compile_policy(b"version: 1\ngateway:\n  vault_retention_hours: 12\n", "p.yaml")
    assert gateway_options(policy.gateway)["vault_retention_hours"] == 12
    assert compile_policy(b"version: 1\n", "p.yaml").gateway.vault_retention_hours == 720

"""The vault: deterministic placeholders, shared by two replicas, values encrypted at rest."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from ramparts.gateway import vault as vault_module
from ramparts.gateway.vault import (
    PLACEHOLDER,
    PLACEHOLDER_MAX,
    MemoryVault,
    SQLiteVault,
    VaultError,
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


def test_sqlite_two_replicas_agree_and_restore_each_other(tmp_path: Path) -> None:
    db = str(tmp_path / "state" / "vault.db")
    one = SQLiteVault(db)
    two = SQLiteVault(db)  # a second connection, the key read from the same state dir
    p = one.placeholder_for("sess", "pii-phone", "+1 415 555 2671")
    assert two.value_for("sess", p) == "+1 415 555 2671"
    assert two.placeholder_for("sess", "pii-phone", "+1 415 555 2671") == p
    q = two.placeholder_for("sess", "aws-access-key-id", "AKIAIOSFODNN7EXAMPLX")
    assert one.value_for("sess", q) == "AKIAIOSFODNN7EXAMPLX"
    assert one.known("sess") == two.known("sess") == {p: "+1 415 555 2671", q: "AKIAIOSFODNN7EXAMPLX"}
    assert one.value_for("other", p) is None
    key_file = tmp_path / "state" / "vault.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    one.close()
    two.close()


def test_sqlite_values_encrypted_at_rest_and_bound_to_their_row(tmp_path: Path) -> None:
    db = str(tmp_path / "vault.db")
    vault = SQLiteVault(db, key=KEY)
    p = vault.placeholder_for("sess", "pii-email", "secret.person@example.com")
    q = vault.placeholder_for("sess", "pii-email", "other@example.com")
    vault.close()
    raw = Path(db).read_bytes() + (Path(db + "-wal").read_bytes() if Path(db + "-wal").exists() else b"")
    assert b"secret.person" not in raw
    con = sqlite3.connect(db)
    con.execute(
        "UPDATE gateway_vault SET sealed = (SELECT sealed FROM gateway_vault WHERE placeholder = ?)"
        " WHERE placeholder = ?",
        (p, q),
    )
    con.commit()
    con.close()
    fresh = SQLiteVault(db, key=KEY)
    assert fresh.value_for("sess", p) == "secret.person@example.com"
    with pytest.raises(VaultError):
        fresh.value_for("sess", q)  # a value moved to another row does not decrypt
    with pytest.raises(VaultError):
        SQLiteVault(db, key=b"z" * 32).value_for("sess", p)


def test_sqlite_collision_resolved_by_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "vault.db")
    one, two = SQLiteVault(db, key=KEY), SQLiteVault(db, key=KEY)
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


def _replica(db: str, key: bytes, values: list[str], out: multiprocessing.Queue[list[str]]) -> None:
    vault = SQLiteVault(db, key=key)
    out.put([vault.placeholder_for("shared", "pii-email", v) for v in values])


def test_two_processes_insert_concurrently(tmp_path: Path) -> None:
    db = str(tmp_path / "vault.db")
    SQLiteVault(db, key=KEY).close()
    values = [f"user{i}@example.com" for i in range(200)]
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = ctx.Queue()
    procs = [ctx.Process(target=_replica, args=(db, KEY, values, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert results[0] == results[1]
    assert len(set(results[0])) == len(values)
    check = SQLiteVault(db, key=KEY)
    assert [check.value_for("shared", p) for p in results[0]] == values


def test_unopenable_store_is_a_vault_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(VaultError):
        SQLiteVault(str(tmp_path / "dir.db"), key=KEY)


def test_short_key_rejected() -> None:
    with pytest.raises(VaultError):
        MemoryVault(b"short")


def test_module_exports() -> None:
    assert set(vault_module.__all__) <= set(dir(vault_module))
    assert os.path.basename(vault_module.__file__ or "") == "vault.py"

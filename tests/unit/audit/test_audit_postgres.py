"""What only the PostgreSQL store has: its session settings, the server-side guards (GRANT/REVOKE for a writer
role, triggers that refuse UPDATE/DELETE/TRUNCATE even to the owner), failures (down, read-only, a killed
connection) as StoreError, and the hook and CLI pointed at it. The shared store tests run in
test_audit_store.py with the ``backend`` fixture."""

from __future__ import annotations

import contextlib
import io
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.audit.postgres import PostgresBackend, display_name, split_schema
from ramparts.audit.store import AUDIT_URL_ENV, AuditStore
from ramparts.errors import StoreError
from tests.audit_harness import PgSite

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def site(postgres_server: Any, tmp_path: Path) -> Iterator[PgSite]:
    s = PgSite(postgres_server, f"p_{uuid.uuid4().hex[:16]}", tmp_path / "keys" / "audit-ed25519.key")
    try:
        yield s
    finally:
        s.drop()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sessions_commit_synchronously_with_bounded_waits(site: PgSite) -> None:
    with site.open(busy_timeout_ms=300) as store:
        db = store.backend._db  # type: ignore[attr-defined]
        assert db.execute("SHOW synchronous_commit").fetchone() == ("on",)
        assert db.execute("SHOW lock_timeout").fetchone() == ("300ms",)
        assert db.execute("SHOW statement_timeout").fetchone() == ("5s",)
        assert store.name.endswith(f"?schema={site.schema}")


def test_the_url_names_the_schema_and_messages_never_show_the_password() -> None:
    dsn, schema = split_schema("postgresql://w:s3cret@db:5433/audit?sslmode=require&schema=team_a")
    assert schema == "team_a" and "schema" not in dsn and "sslmode=require" in dsn
    assert display_name(dsn, schema) == "postgresql://w@db:5433/audit?schema=team_a"
    with pytest.raises(StoreError, match="invalid audit schema"):
        split_schema("postgresql://db/x?schema=a;drop")


COLUMN = {"records": "body", "checkpoints": "note", "meta": "value"}


@pytest.mark.parametrize("table", ["records", "checkpoints", "meta"])
def test_triggers_refuse_changes_even_to_the_owner(site: PgSite, table: str) -> None:
    with site.open() as store:
        store.append({"x": 1})
        store.checkpoint()
    with site.admin() as db:  # the superuser that owns the tables
        for statement in (
            f'UPDATE "{site.schema}".{table} SET {COLUMN[table]} = {COLUMN[table]}',
            f'DELETE FROM "{site.schema}".{table}',
            f'TRUNCATE "{site.schema}".{table}',
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                db.execute(statement)
    with site.open() as store:
        assert store.verify() == (1, [])


def test_a_writer_role_may_append_and_read_but_not_change_or_remove(site: PgSite) -> None:
    """The GRANT/REVOKE path: a separate non-superuser role gets SELECT/INSERT (and UPDATE on the head row
    only); its UPDATE/DELETE/TRUNCATE are refused by privileges before any trigger runs, and it cannot
    switch the triggers off."""
    role = f"w_{uuid.uuid4().hex[:12]}"
    with site.admin() as db:
        db.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
    try:
        owner = PostgresBackend(site.location)  # the owner creates the schema and grants
        owner.grant_writer(role)
        owner.close()
        url = site.location.replace(f"//{site.server.user}@", f"//{role}@")
        with AuditStore(url, key_path=site.key_path) as store:
            for i in range(5):
                store.append({"i": i})
            assert store.verify() == (5, [])
        conn = psycopg.connect(url.split("?")[0], autocommit=True)
        try:
            s = f'"{site.schema}"'
            for statement in (
                f"UPDATE {s}.records SET body = body",
                f"DELETE FROM {s}.records",
                f"TRUNCATE {s}.records",
                f"DELETE FROM {s}.checkpoints",
                f"UPDATE {s}.meta SET value = value",
                f"DELETE FROM {s}.head",
                f"ALTER TABLE {s}.records DISABLE TRIGGER USER",
                f"CREATE TABLE {s}.other (x int)",
                "SET session_replication_role = replica",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
            # what the role may do: read, and insert (a forged row is then the verifier's job)
            assert conn.execute(f"SELECT count(*) FROM {s}.records").fetchone() == (5,)
        finally:
            conn.close()
        # a writer opening a store whose tables do not exist cannot create them: StoreError, not a crash
        missing = url.replace(f"schema={site.schema}", "schema=nowhere_" + role)
        with pytest.raises(StoreError, match="permission denied"):
            AuditStore(missing, key_path=site.key_path)
    finally:
        with site.admin() as db:
            db.execute(f'DROP OWNED BY "{role}"')
            db.execute(f'DROP ROLE "{role}"')


def test_an_unreachable_server_is_a_store_error_soon(site: PgSite) -> None:
    url = f"postgresql://ramparts@127.0.0.1:{_closed_port()}/ramparts"
    started = time.monotonic()
    with pytest.raises(
        StoreError, match=re.escape("cannot open audit store postgresql://ramparts@127.0.0.1")
    ):
        AuditStore(url, key_path=site.key_path, busy_timeout_ms=200)
    assert time.monotonic() - started < 5


def test_a_read_only_server_is_a_store_error(site: PgSite) -> None:
    with site.open() as store:
        store.append({"x": 1})
    url = site.location + "&options=-c%20default_transaction_read_only%3Don"
    with AuditStore(url, key_path=site.key_path) as store:
        assert len(list(store.records())) == 1  # reading works
        with pytest.raises(StoreError, match="read-only"):
            store.append({"x": 2})
    with site.open() as store:
        assert store.verify() == (1, [])


def test_a_killed_connection_fails_one_append_then_reconnects(site: PgSite) -> None:
    with site.open() as store:
        store.append({"x": 1})
        pid = store.backend._db.info.backend_pid  # type: ignore[attr-defined]
        with site.admin() as db:
            db.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.1)
        with contextlib.suppress(StoreError):
            store.append({"x": 2})  # the server went away under it: deny (StoreError) ...
        store.append({"x": 3})  # ... and the next append reconnects
        count, problems = store.verify()
    assert problems == [] and count in (2, 3)


def _hook(state: Path, tmp_path: Path) -> dict[str, Any]:
    from ramparts.agents.claude_code.hook import Hook

    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    payload = {
        "session_id": "s-pg",
        "transcript_path": "/tmp/t",
        "cwd": str(tmp_path),
        "hook_event_name": "PreToolUse",
        "permission_mode": "default",
        "tool_use_id": "t1",
        "tool_name": "Bash",
        "tool_input": {"command": "ls"},
    }
    out = io.StringIO()
    Hook(
        policy=str(policy),
        state=str(state),
        stdin=io.BytesIO(json.dumps(payload).encode()),
        stdout=out,
        stderr=io.StringIO(),
    ).run()
    answer: dict[str, Any] = json.loads(out.getvalue() or "{}")
    return answer


def test_the_hook_writes_to_postgres_when_configured(
    site: PgSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path  # the key at tmp_path/keys is the state directory's
    monkeypatch.setenv(AUDIT_URL_ENV, site.location)
    answer = _hook(state, tmp_path)
    assert answer.get("hookSpecificOutput", {}).get("permissionDecision") != "deny", answer
    assert not (state / "audit.db").exists()
    with site.open() as store:
        records = [r.data() for r in store.records()]
        assert store.verify()[1] == []
    assert [r["session"] for r in records] == ["s-pg"]


def test_the_hook_fails_closed_when_postgres_is_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUDIT_URL_ENV, f"postgresql://ramparts@127.0.0.1:{_closed_port()}/ramparts")
    answer = _hook(tmp_path, tmp_path)
    specific = answer["hookSpecificOutput"]
    assert specific["permissionDecision"] == "deny"
    assert "audit" in specific["permissionDecisionReason"].lower()
    assert not (tmp_path / "audit.db").exists()

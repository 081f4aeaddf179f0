"""The gateway's state store on SQLite and a real PostgreSQL: tokens, the daily budget under concurrent
replicas, reconnecting, configuration (flag, environment, policy), the audit store the gateway follows,
and failing closed when the store is down."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ramparts.audit.record import from_json
from ramparts.errors import PolicyError
from ramparts.gateway.config import GatewayConfig
from ramparts.gateway.limits import UsageStore
from ramparts.gateway.store import (
    STORE_URL_ENV,
    VAULT_KEY_ENV,
    GatewayStoreError,
    open_stores,
    store_location,
    vault_key_path,
)
from ramparts.gateway.tokens import TokenStore, token_hash
from ramparts.gateway.vault import PostgresVault, VaultError
from ramparts.policy.load import compile_policy
from tests.unit.gateway.conftest import drop_schema, pg_url
from tests.unit.gateway.gateway_harness import (
    Upstream,
    events_of,
    headers,
    message_events,
    post,
    running,
    tool_input,
)
from tests.unit.gateway.test_gateway_server import EMAIL, VALUES, audit_records, conversation, placeholders
from tests.unit.gateway.test_gateway_vault import KEY, raw

pytestmark = pytest.mark.timeout(120)


# -- tokens and budget ------------------------------------------------------------------------------


def test_tokens_are_stored_as_hashes_only(store: str) -> None:
    tokens = TokenStore(store)
    token = tokens.create("bob")
    identity = tokens.identify(token)
    assert identity is not None and identity.user == "bob"
    assert tokens.identify("rgw_unknown") is None
    assert raw(store, 'SELECT hash, "user" FROM gateway_tokens') == [(token_hash(token), "bob")]
    assert tokens.revoke_user("bob") == 1
    fresh = TokenStore(store)
    assert fresh.identify(token) is None  # revoked: a fresh replica refuses it
    fresh.close()
    tokens.close()


def _add_usage(store: str, times: int, start: threading.Event | None = None) -> None:
    usage = UsageStore(store)
    if start is not None:
        start.wait()
    for i in range(times):
        usage.add("alice", "2026-11-27", 1 + i % 3)
    usage.close()


def _expected(times: int) -> int:
    return sum(1 + i % 3 for i in range(times))


def test_usage_from_concurrent_threads_and_processes_adds_up_exactly(store: str) -> None:
    UsageStore(store).close()  # tables first, so the writers race on rows only
    start = threading.Event()
    threads = [threading.Thread(target=_add_usage, args=(store, 300, start)) for _ in range(2)]
    for thread in threads:
        thread.start()
    start.set()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_add_usage, args=(store, 200)) for _ in range(2)]
    for proc in procs:
        proc.start()
    for thread in threads:
        thread.join(timeout=60)
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    usage = UsageStore(store)
    assert usage.used("alice", "2026-11-27") == 2 * _expected(300) + 2 * _expected(200)
    assert usage.used("alice", "2026-11-28") == usage.used("bob", "2026-11-27") == 0
    usage.add("alice", "2026-11-27", 0)  # nothing to add: no statement
    usage.close()


def test_connections_broken_by_the_server_reconnect(pg_store: str, postgres_server: Any) -> None:
    """A server restart or a failover breaks every open connection: the next call reconnects (once)."""
    import psycopg

    vault = PostgresVault(pg_store, key=KEY)
    tokens, usage = TokenStore(pg_store), UsageStore(pg_store)
    p = vault.placeholder_for("s", "pii-email", EMAIL)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as db:
        killed = db.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'ramparts-gateway'"
        ).fetchone()
    assert killed is not None and killed[0] == 3
    assert vault.known("s") == {p: EMAIL}
    assert tokens.identify("rgw_unknown") is None
    usage.add("u", "d", 5)
    assert usage.used("u", "d") == 5
    for store in (vault, tokens, usage):
        store.close()


# -- configuration --------------------------------------------------------------------------------


def test_store_location_and_key_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STORE_URL_ENV, raising=False)
    monkeypatch.delenv(VAULT_KEY_ENV, raising=False)
    state = str(tmp_path)
    assert store_location(state) == str(tmp_path / "gateway.db")
    assert vault_key_path(state) == str(tmp_path / "vault.key")
    monkeypatch.setenv(STORE_URL_ENV, "postgresql://gw@db/r")
    monkeypatch.setenv(VAULT_KEY_ENV, "/etc/ramparts/vault.key")
    assert store_location(state) == "postgresql://gw@db/r"
    assert store_location(state, "postgres://other/x") == "postgres://other/x"  # the flag wins
    assert vault_key_path(state) == "/etc/ramparts/vault.key"
    assert vault_key_path(state, str(tmp_path / "k")) == str(tmp_path / "k")
    with pytest.raises(GatewayStoreError, match="postgresql://"):
        store_location(state, "mysql://db/x")
    with pytest.raises(ValueError, match="store_url"):
        GatewayConfig(upstream="http://127.0.0.1:1", state_dir=state, store_url="/var/lib/x.db")
    assert "hunter2" not in repr(
        GatewayConfig(upstream="http://127.0.0.1:1", state_dir=state, store_url="postgresql://u:hunter2@h/d")
    )


def test_a_role_that_may_only_read_and_write_the_tables_runs_the_gateway(
    pg_store: str, postgres_server: Any, tmp_path: Path
) -> None:
    """The tables made once by their owner, replicas can run as a role without CREATE: SELECT, INSERT
    and UPDATE on the tables are all they need."""
    import psycopg

    from ramparts.audit.postgres import split_schema

    key = str(tmp_path / "vault.key")
    open_stores(pg_store, key_path=key).close()  # the owner creates the schema and tables
    _dsn, schema = split_schema(pg_store)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as db:
        db.execute("DROP ROLE IF EXISTS gw_replica")
        db.execute("CREATE ROLE gw_replica LOGIN")
        db.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO gw_replica')
        db.execute(f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "{schema}" TO gw_replica')
    replica_url = pg_store.replace(f"//{postgres_server.user}@", "//gw_replica@")
    try:
        stores = open_stores(replica_url, key_path=key)
        p = stores.vault.placeholder_for("s", "pii-email", EMAIL)
        token = stores.tokens.create("alice")
        stores.usage.add("alice", "d", 3)
        assert stores.tokens.identify(token) is not None and stores.usage.used("alice", "d") == 3
        assert stores.vault.known("s") == {p: EMAIL}
        stores.close()
    finally:
        with psycopg.connect(postgres_server.dsn, autocommit=True) as db:
            db.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM gw_replica')
            db.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM gw_replica')
            db.execute("DROP ROLE gw_replica")


def test_invalid_schema_name_is_a_store_error(postgres_server: Any) -> None:
    with pytest.raises(GatewayStoreError, match="schema"):
        TokenStore(pg_url(postgres_server, "no-dashes"))


def test_open_stores_leaves_nothing_open_when_the_key_is_refused(pg_store: str, tmp_path: Path) -> None:
    key = tmp_path / "a" / "vault.key"
    open_stores(pg_store, key_path=str(key)).close()
    with pytest.raises(VaultError, match="same key file"):
        open_stores(pg_store, key_path=str(tmp_path / "b" / "vault.key"))  # a key file of its own


def test_policy_names_the_store_without_a_password() -> None:
    policy = compile_policy(
        b"version: 1\ngateway:\n  store: postgresql://gw@db.internal/ramparts\n", "p.yaml"
    )
    assert policy.gateway.store == "postgresql://gw@db.internal/ramparts"
    for url in ("postgresql://gw:hunter2@db/r", "postgresql://gw@db/r?password=hunter2", "/var/x.db"):
        with pytest.raises(PolicyError) as info:
            compile_policy(f"version: 1\ngateway:\n  store: {url}\n".encode(), "p.yaml")
        assert info.value.line == 3 and "gateway.store" in str(info.value)
        assert "hunter2" not in str(info.value)


def test_cli_token_create_writes_to_the_configured_store(
    pg_store: str, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ramparts.cli import main

    monkeypatch.delenv(STORE_URL_ENV, raising=False)
    monkeypatch.delenv("RAMPARTS_POLICY", raising=False)
    state = str(tmp_path / "state")
    argv = ["gateway", "token", "create", "--state-dir", state]
    assert main([*argv, "--user", "carol", "--store-url", pg_store]) == 0
    by_flag = capsys.readouterr().out.strip()
    monkeypatch.setenv(STORE_URL_ENV, pg_store)
    assert main([*argv, "--user", "dave"]) == 0
    by_env = capsys.readouterr().out.strip()
    monkeypatch.delenv(STORE_URL_ENV)
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"version: 1\ngateway:\n  store: {pg_store}\n")
    assert main(["gateway", "--policy", str(policy), "token", "create", "--user", "erin"]) == 0
    by_policy = capsys.readouterr().out.strip()
    tokens = TokenStore(pg_store)
    assert [getattr(tokens.identify(t), "user", None) for t in (by_flag, by_env, by_policy)] == [
        "carol",
        "dave",
        "erin",
    ]
    tokens.close()
    assert not (tmp_path / "state" / "gateway.db").exists()


# -- the gateway on PostgreSQL -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_two_replicas_restore_each_others_placeholders(kind: str, tmp_path: Path, request: Any) -> None:
    """Replica A masks; replica B, which never saw the values, restores A's placeholders from the shared
    vault (the request B gets carries none of the values). On SQLite the two share a state directory; on
    PostgreSQL each has its own (two machines) and they share the URL and the key file. The token made
    on A is accepted by B, and their placeholders for the same value are the same."""
    if kind == "sqlite":
        state_a = state_b = tmp_path / "shared"
        options: dict[str, Any] = {}
    else:
        state_a, state_b = tmp_path / "a", tmp_path / "b"
        options = {"store_url": request.getfixturevalue("pg_store"), "vault_key": str(tmp_path / "vault.key")}
    sent: dict[str, str] = {}

    async def handler(req: web.Request, up: Upstream) -> web.StreamResponse:
        from tests.unit.gateway.gateway_harness import stream_handler

        up.events = message_events(tool_input=json.dumps({"content": " ".join(sent.values())}))
        return await stream_handler(req, up)

    async def scenario() -> None:
        async with (
            running(tmp_path, Upstream(handler=handler), state=state_a, **options) as (
                _a,
                url_a,
                up_a,
                token,
            ),
            running(tmp_path, Upstream(handler=handler), state=state_b, **options) as (_b, url_b, up_b, _t),
        ):
            await post(url_a, conversation(), headers(token))
            for value, placeholder in zip(VALUES, placeholders(up_a.text()), strict=False):
                sent[value] = placeholder
            assert len(set(sent.values())) == 3
            plain = {
                "model": "m",
                "max_tokens": 10,
                "stream": True,
                "messages": [{"role": "user", "content": "go"}],
            }
            status, _h, data = await post(url_b, plain, headers(token))
            assert status == 200
            content = tool_input(data)["content"]
            for value in VALUES:
                assert value in content
            await post(url_b, conversation(), headers(token))  # B masks the same file: the same bytes
            assert up_b.requests[-1].raw == up_a.requests[0].raw

    asyncio.run(scenario())


def test_replica_with_another_vault_key_refuses_to_start(pg_store: str, tmp_path: Path) -> None:
    from ramparts.gateway.server import Gateway
    from ramparts.gateway.vault import VaultKeyMismatch

    first = Gateway(
        GatewayConfig(upstream="http://127.0.0.1:9", state_dir=str(tmp_path / "a"), store_url=pg_store)
    )
    try:
        with pytest.raises(VaultKeyMismatch, match="same key file"):
            # no --vault-key: its own state directory's key, created fresh on this "machine"
            Gateway(
                GatewayConfig(
                    upstream="http://127.0.0.1:9", state_dir=str(tmp_path / "b"), store_url=pg_store
                )
            )
    finally:
        first.close()


def test_postgres_down_fails_closed_in_anthropic_format(postgres_server: Any, tmp_path: Path) -> None:
    """The store goes away under a running gateway: every request (a known token, an unknown one) is a
    503 ``api_error`` in Anthropic's format, nothing reaches the upstream, the audit says why."""
    from ramparts.testing.postgres import PostgresServer

    async def scenario(server: PostgresServer) -> None:
        url = pg_url(server, "ramparts_gateway")
        async with running(tmp_path, store_url=url, vault_key=str(tmp_path / "vault.key")) as (
            gateway,
            gw_url,
            up,
            token,
        ):
            status, _h, _raw = await post(gw_url, conversation(), headers(token))
            assert status == 200 and len(up.requests) == 1
            server.stop()
            for hdrs in (headers(token), headers("rgw_not_cached")):
                status, _h, data = await post(gw_url, conversation(), hdrs)
                assert status == 503
                error = json.loads(data)
                assert error["type"] == "error" and error["error"]["type"] == "api_error"
                assert "state store" in error["error"]["message"] and EMAIL not in data.decode()
            assert len(up.requests) == 1  # nothing was sent
            gateway.audit.flush()
        records = audit_records(tmp_path)
        assert [r.gateway.outcome for r in records[-2:]] == ["store_error", "store_error"]
        assert records[-1].rule_ids == ("gateway.store",) and records[-1].gateway.status == 503

    with PostgresServer() as server:
        asyncio.run(scenario(server))


def test_vault_failing_mid_stream_ends_it_with_an_error_event(tmp_path: Path) -> None:
    """A placeholder the request did not carry must be looked up while streaming; when the vault fails
    then, the client gets the text so far and an SSE ``error`` event, never a placeholder silently."""
    unknown = "[[RAMPARTS:EMAIL:0123abcd]]"
    upstream = Upstream(events=message_events(text=f"write to {unknown} now"))

    async def scenario() -> None:
        async with running(tmp_path, upstream) as (gateway, url, _up, token):

            def broken(session: str, placeholder: str) -> str | None:
                raise VaultError("vault test: the store went away")

            gateway.vault.value_for = broken  # type: ignore[method-assign]
            status, _h, data = await post(url, conversation(), headers(token))
            assert status == 200
            events = events_of(data)
            assert events[-1]["type"] == "error" and "state store" in events[-1]["error"]["message"]
            assert unknown not in data.decode()
            gateway.audit.flush()
        assert audit_records(tmp_path)[-1].gateway.outcome == "partial"

    asyncio.run(scenario())


def test_gateway_audit_follows_ramparts_audit_url(
    postgres_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the hook: ``$RAMPARTS_AUDIT_URL`` puts the gateway's records in the PostgreSQL audit store,
    signed with the state directory's key."""
    from ramparts.audit.store import AUDIT_URL_ENV, AuditStore

    schema = "gw_audit_follow"
    url = pg_url(postgres_server, schema)
    monkeypatch.setenv(AUDIT_URL_ENV, url)

    async def scenario() -> None:
        async with running(tmp_path) as (gateway, gw_url, _up, token):
            assert (await post(gw_url, conversation(), headers(token)))[0] == 200
            gateway.audit.flush()

    try:
        asyncio.run(scenario())
        with AuditStore(url, key_path=str(tmp_path / "state" / "keys" / "audit-ed25519.key")) as audit:
            records = [from_json(r.data()) for r in audit.records()]
        assert [r.event for r in records] == ["GatewayRequest"] and records[0].gateway.status == 200
        assert not (tmp_path / "state" / "audit.db").exists()
    finally:
        drop_schema(postgres_server, schema)

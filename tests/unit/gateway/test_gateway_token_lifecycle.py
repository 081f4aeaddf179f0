"""Client tokens over their life: list, revoke, rotate; a revocation reaches running replicas within
``REVALIDATE_SECONDS`` through the shared store (SQLite and a real PostgreSQL), with no restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ramparts.cli import main
from ramparts.gateway.tokens import REVALIDATE_SECONDS, TokenStore
from ramparts.testing import audit_records

pytestmark = pytest.mark.timeout(120)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_revocation_reaches_every_running_replica_within_seconds(store: str) -> None:
    clock = Clock()
    replicas = [TokenStore(store, clock=clock) for _ in range(2)]
    admin = TokenStore(store)
    try:
        token = admin.create("alice")
        other = admin.create("bob")
        assert all(r.identify(token) is not None for r in replicas)  # cached now
        (listed,) = [t for t in admin.list() if t.user == "alice"]
        assert admin.revoke_id(listed.token_id[:8]) == [listed]
        clock.now += REVALIDATE_SECONDS / 2
        assert all(r.identify(token) is not None for r in replicas)  # within the window: still cached
        clock.now += REVALIDATE_SECONDS
        assert all(r.identify(token) is None for r in replicas)  # re-read from the shared store: refused
        assert all(r.identify(other) is not None for r in replicas)
        assert admin.revoke_id(listed.token_id) == []  # already revoked: nothing live matches
        new, revoked = admin.rotate("bob")
        assert revoked == 1
        clock.now += REVALIDATE_SECONDS * 2
        assert [r.identify(other) for r in replicas] == [None, None]
        assert all((r.identify(new) or ("", ""))[0] == "bob" for r in replicas)
        assert [(t.user, t.revoked) for t in admin.list()] == [("alice", True), ("bob", True), ("bob", False)]
    finally:
        for s in (*replicas, admin):
            s.close()


def test_an_ambiguous_or_malformed_id_revokes_nothing(store: str) -> None:
    tokens = TokenStore(store)
    try:
        for _ in range(3):
            tokens.create("carol")
        assert tokens.revoke_id("xyz") == [] and tokens.revoke_id("") == []
        ids = [t.token_id for t in tokens.list()]
        assert tokens.revoke_id(ids[0] + "0" * 20) == []  # longer than an id
        assert not any(t.revoked for t in tokens.list())
    finally:
        tokens.close()


def test_the_token_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("RAMPARTS_POLICY", "RAMPARTS_AUDIT_URL", "RAMPARTS_GATEWAY_STORE_URL"):
        monkeypatch.delenv(var, raising=False)
    state = ["--state-dir", str(tmp_path / "state")]
    assert main(["gateway", "token", "list", *state]) == 0
    assert "no tokens" in capsys.readouterr()[0]
    assert main(["gateway", "token", "create", "--user", "dave", *state]) == 0
    first = capsys.readouterr()[0].strip()
    assert main(["gateway", "token", "rotate", "--user", "dave", *state]) == 0
    out, err = capsys.readouterr()
    second = out.strip()
    assert second.startswith("rgw_") and second != first and "1 old token(s) revoked" in err
    assert main(["gateway", "token", "list", "--json", *state]) == 0
    listed = json.loads(capsys.readouterr()[0])
    assert [(t["user"], t["revoked"]) for t in listed] == [("dave", True), ("dave", False)]
    assert first not in json.dumps(listed) and second not in json.dumps(listed)  # ids, never tokens
    assert main(["gateway", "token", "revoke", "--id", "abcdef", *state]) == 2
    assert "no live token has the id abcdef" in capsys.readouterr()[1]
    assert main(["gateway", "token", "revoke", "--id", listed[1]["token_id"], *state]) == 0
    assert "revoked 1 token(s)" in capsys.readouterr()[0]
    assert main(["gateway", "token", "list", *state]) == 0
    assert capsys.readouterr()[0].count("REVOKED") == 2
    events = [(r.event, r.admin.details) for r in audit_records(tmp_path / "state")]
    assert [e for e, _ in events] == ["TokenRotated", "TokenRevoked"]
    assert events[1][1]["token_ids"] == [listed[1]["token_id"]]


def test_the_rate_limit_is_shared_by_replicas(store: str) -> None:
    from ramparts.gateway.limits import SharedRateLimiter

    clock = Clock()
    clock.now = 60 * 1000 + 10.0
    replicas = [SharedRateLimiter(store, 3, clock=clock) for _ in range(2)]
    try:
        waits = [replicas[i % 2].take("alice") for i in range(4)]
        assert waits[:3] == [0.0, 0.0, 0.0] and waits[3] == pytest.approx(50.0)  # 3 in all, not 3 each
        assert replicas[1].take("bob") == 0.0  # per user
        clock.now += 60
        assert replicas[1].take("alice") == 0.0  # the next minute
    finally:
        for r in replicas:
            r.close()


def test_two_gateway_replicas_on_postgresql_share_revocation_and_rate(
    pg_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two running gateways (two machines: own state directories, one store URL and key file): a token
    revoked with the command line is refused by both within REVALIDATE_SECONDS, no restart; the rate
    limit counts both replicas' requests."""
    import asyncio
    import time

    from tests.unit.gateway.gateway_harness import Upstream, headers, post, running

    monkeypatch.delenv("RAMPARTS_POLICY", raising=False)
    options = {"store_url": pg_store, "vault_key": str(tmp_path / "vault.key"), "rate_per_minute": 3}
    body = {"model": "m", "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "hi"}]}

    async def scenario() -> float:
        async with (
            running(tmp_path, Upstream(), state=tmp_path / "a", **options) as (_a, url_a, _ua, token),
            running(tmp_path, Upstream(), state=tmp_path / "b", **options) as (_b, url_b, _ub, _t),
        ):
            statuses = [(await post(url, body, headers(token)))[0] for url in (url_a, url_b, url_a, url_b)]
            assert statuses == [200, 200, 200, 429]  # 3 a minute in all, not 3 per replica
            code = await asyncio.to_thread(
                main,
                [
                    "gateway",
                    "token",
                    "revoke",
                    "--user",
                    "alice",
                    "--store-url",
                    pg_store,
                    "--state-dir",
                    str(tmp_path / "admin"),
                ],
            )
            assert code == 0
            revoked = time.monotonic()
            refused: set[str] = set()
            while len(refused) < 2 and time.monotonic() - revoked < REVALIDATE_SECONDS + 5:
                for url in (url_a, url_b):
                    if (await post(url, body, headers(token)))[0] == 401:
                        refused.add(url)
                await asyncio.sleep(0.1)
            assert refused == {url_a, url_b}
            return time.monotonic() - revoked

    took = asyncio.run(scenario())
    print(f"revocation reached both replicas in {took:.2f} s")

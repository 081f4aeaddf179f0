"""Fixtures for the control plane: its store on SQLite and on a real PostgreSQL, and host audit logs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ramparts.server.store import ServerStore
from tests.server_harness import HostLog


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "server" / "server.db")
        return
    pg = request.getfixturevalue("postgres_server")
    schema = f"srv_{uuid.uuid4().hex[:12]}"
    yield f"postgresql://{pg.user}@127.0.0.1:{pg.port}/{pg.database}?schema={schema}"
    import psycopg

    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def server(store_url: str) -> Iterator[ServerStore]:
    with ServerStore(store_url) as store:
        yield store


@pytest.fixture
def host(tmp_path: Path) -> Iterator[HostLog]:
    log = HostLog(tmp_path / "host-a", checkpoint_every=5)
    yield log
    log.close()

"""Fixtures for the gateway's stores: each store test runs against a SQLite file and a real PostgreSQL
(a fresh schema on the session's throwaway server, dropped afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pg_url(server: Any, schema: str) -> str:
    return f"postgresql://{server.user}@127.0.0.1:{server.port}/{server.database}?schema={schema}"


def drop_schema(server: Any, schema: str) -> None:
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True) as db:
        db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_store(postgres_server: Any) -> Iterator[str]:
    """A ``postgresql://`` gateway store URL in a schema of its own."""
    schema = f"gw_{uuid.uuid4().hex[:16]}"
    yield pg_url(postgres_server, schema)
    drop_schema(postgres_server, schema)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's gateway state lives: ``<tmp>/state/gateway.db`` or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "gateway.db")
    url: str = request.getfixturevalue("pg_store")
    return url

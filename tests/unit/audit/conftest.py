"""The ``backend`` fixture: every backend-agnostic audit test runs against SQLite and a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit_harness import PgSite, Site, SQLiteSite


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """Where the test's log lives: a file under tmp_path, or a fresh schema on the session's server."""
    if request.param == "sqlite":
        yield SQLiteSite(tmp_path / "audit.db")
        return
    server = request.getfixturevalue("postgres_server")
    site = PgSite(server, f"t_{uuid.uuid4().hex[:16]}", tmp_path / "keys" / "audit-ed25519.key")
    try:
        yield site
    finally:
        site.drop()

"""The throwaway PostgreSQL server the scale-out store's tests run against: real, loopback-only, gone after."""

from __future__ import annotations

import os
import socket

import pytest

from ramparts.testing.postgres import PostgresNotFoundError, PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_real_server_starts_on_loopback_and_stops() -> None:
    psycopg = pytest.importorskip("psycopg")
    try:
        server = PostgresServer()
    except PostgresNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is missing under CI (make test installs it): {exc}")
        pytest.skip(str(exc))
    with server as pg:
        with psycopg.connect(pg.dsn) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
        port = pg.port
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass

"""schemathesis against the running control plane's own ``/openapi.json``: no 500s, and every answer has
a status code, content type and body the document declares. Short (a few examples per operation)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ramparts.server.store import ServerStore
from tests.integration.test_control_plane import _env, _free_port, _ramparts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder: Path = tmp_path_factory.mktemp("openapi")
    db = str(folder / "server.db")
    with ServerStore(db) as store:
        host = store.create_token("host", "host-a")[1]
        admin = store.create_token("admin", "people")[1]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        _ramparts("server", "--listen", f"127.0.0.1:{port}", "--db", db, "--state-dir", str(folder)),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/openapi.json", timeout=1) as r:
                    json.load(r)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        yield {"url": url, "host": host, "admin": admin}
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]


def test_api_conforms_to_its_document(live: dict[str, Any]) -> None:
    """Each operation's generated cases (schemathesis strategies, driven by hypothesis here: its pytest
    plugin does not run under this pytest)."""
    api = schemathesis.openapi.from_url(f"{live['url']}/openapi.json")
    host_routes = {
        ("POST", "/v1/ingest"),
        ("GET", "/v1/kills"),
        ("GET", "/v1/orders"),
        ("POST", "/v1/orders/{order_id}/ack"),
    }
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 7  # schemathesis leaves out the document itself
    for operation in operations:
        _fuzz(
            operation,
            live,
            live["host"] if (operation.method.upper(), operation.path) in host_routes else live["admin"],
            checks,
        )


def _fuzz(operation: Any, live: dict[str, Any], token: str, checks: list[Any]) -> None:
    from hypothesis import given

    @given(case=operation.as_strategy())
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(
            base_url=live["url"], headers={"Authorization": f"Bearer {token}"}, checks=checks
        )

    run()

"""Helpers for the control plane's tests: host audit logs and the batches their sink would post."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from ramparts.audit.record import AuditRecord, HookDetail, to_json
from ramparts.audit.ship_sources import StoreSource
from ramparts.audit.sinks.server import ServerSink
from ramparts.audit.store import AuditStore


def stamp(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"


def hook_record(
    session: str, when: float, *, tool: str = "Bash", decision: str = "allow", **inputs: Any
) -> dict[str, Any]:
    return to_json(  # type: ignore[no-any-return]
        AuditRecord(
            time=stamp(when),
            surface="hook",
            event="PreToolUse",
            decision=decision,  # type: ignore[arg-type]
            reasons=("test",),
            user="alice",
            host="host-a",
            session=session,
            tool=tool,
            hook=HookDetail(cwd="/work/project", input=inputs or {"command": "ls"}),
        )
    )


class HostLog:
    """A host's real audit store, and the ingest bodies its control-plane sink would post."""

    def __init__(self, folder: Path, checkpoint_every: int = 1000) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.store = AuditStore(folder / "audit.db", checkpoint_every=checkpoint_every)
        self.sink = ServerSink("cp", "http://127.0.0.1:1", "unused")

    def append(self, record: dict[str, Any]) -> None:
        self.store.append(record)

    @property
    def log_id(self) -> str:
        meta = self.store.log.meta()
        assert meta is not None
        return meta.log_id

    def body(self, after: int = -1, limit: int = 10_000, *, checkpoint: bool = True) -> bytes:
        source = StoreSource(self.store)
        self.sink.bind_source(source)
        items = source.items_after(after, limit)
        if checkpoint:
            cp = source.latest_checkpoint()
            if cp is not None:
                items.append(cp)
        return self.sink._body(source.log_id, items)

    def close(self) -> None:
        self.store.close()


def asgi_request(app: Any, method: str, path: str, body: bytes, token: str) -> tuple[int, dict[str, Any]]:
    """One request through the ASGI app itself (no network, no test client)."""
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return int(status), json.loads(payload)

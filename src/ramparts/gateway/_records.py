"""Audit records and usage accounting for the gateway: the record's parts (fingerprints and counts,
never values), token usage from responses, and the writer thread that appends to the audit store
(``$RAMPARTS_AUDIT_URL`` or ``--audit-url`` when set, like the hook's; else ``<state>/audit.db``)."""

from __future__ import annotations

import concurrent.futures
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from .mask import Masked
from .screen import Screened
from .sse import SSEEvent

_AUDIT_LIST = 100  # findings listed per record; the counts cover the rest


def now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class AuditWriter:
    """Appends records to the audit store (a SQLite path or a PostgreSQL URL) from one background thread (SQLite with a durable
    commit per record must not block the event loop). Also runs the usage-store updates, so a record
    and its budget charge leave even when the client has gone."""

    def __init__(self, path: str, *, key_path: str | None = None) -> None:
        self.path = path
        self.key_path = key_path
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ramparts-audit")
        self._store: Any = None
        self.failures = 0
        self._pool.submit(self._open).result()  # fail at start, not on the first request

    def _open(self) -> None:
        from ..audit.store import AuditStore

        if self._store is None:
            self._store = AuditStore(self.path, key_path=self.key_path)

    def _append(self, record: dict[str, Any]) -> None:
        try:
            self._open()
            self._store.append(record)
        except Exception as exc:  # noqa: BLE001 - an observer: report, never crash the proxy
            self.failures += 1
            print(f"ramparts gateway: audit write failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    def append(self, record: dict[str, Any]) -> concurrent.futures.Future[None]:
        return self._pool.submit(self._append, record)

    def run(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        return self._pool.submit(self._run, fn)

    def _run(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - e.g. the budget's store is down: say so, keep going
            self.failures += 1
            print(f"ramparts gateway: background update failed: {type(exc).__name__}: {exc}", file=sys.stderr)

    def flush(self) -> None:
        """Wait until every record submitted so far is written."""
        self._pool.submit(lambda: None).result()

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        self._pool.submit(self._close_store).result()  # SQLite objects stay in their thread
        self._pool.shutdown(wait=True)


def masked_record(findings: tuple[Masked, ...]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for f in findings:
        key = f"{f.detector}:{f.action}"
        counts[key] = counts.get(key, 0) + 1
    return {
        "count": len(findings),
        "by_detector": counts,
        "items": [
            {
                "where": f.where,
                "detector": f.detector,
                "category": f.category,
                "rule": f.rule,
                "action": f.action,
                "fingerprint": f.fingerprint,
            }
            for f in findings[:_AUDIT_LIST]
        ],
    }


def screened_record(
    screened: tuple[Screened, ...], results: int, tools: tuple[Screened, ...] = ()
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "tool_results": results,
        "items": [
            {
                "where": s.where,
                "tool_use_id": s.tool_use_id,
                "action": s.action,
                "score": s.score,
                "signal": s.signal,
                "fingerprint": s.fingerprint,
            }
            for s in screened[:_AUDIT_LIST]
        ],
    }
    if tools:  # tool definitions at or above warn (the name in "tool"; no text)
        record["tool_definitions"] = [
            {
                "where": s.where,
                "tool": s.tool_use_id,
                "action": s.action,
                "score": s.score,
                "signal": s.signal,
                "fingerprint": s.fingerprint,
            }
            for s in tools[:_AUDIT_LIST]
        ]
    return record


class Usage:
    __slots__ = ("cache_creation", "cache_read", "input", "output")

    def __init__(self) -> None:
        self.input = self.output = self.cache_read = self.cache_creation = 0

    def take(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for attr, key in (
            ("input", "input_tokens"),
            ("output", "output_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("cache_creation", "cache_creation_input_tokens"),
        ):
            value = usage.get(key)
            if isinstance(value, int) and value >= 0:
                setattr(self, attr, value)  # message_delta's counts are cumulative

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_creation

    def record(self) -> dict[str, int]:
        return {
            "input_tokens": self.input,
            "output_tokens": self.output,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation_input_tokens": self.cache_creation,
        }


def take_usage(item: SSEEvent, usage: Usage) -> None:
    try:
        obj = json.loads(item.data or "")
    except ValueError:
        return
    if not isinstance(obj, dict):
        return
    if obj.get("type") == "message_start" and isinstance(obj.get("message"), dict):
        usage.take(obj["message"].get("usage"))
    elif obj.get("type") == "message_delta":
        usage.take(obj.get("usage"))


# -- running -----------------------------------------------------------------------------------------

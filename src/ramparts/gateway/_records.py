"""Audit records and usage accounting for the gateway: the record's parts (fingerprints and counts,
never values), token usage from responses, and the writer thread that appends to the audit store
(``$RAMPARTS_AUDIT_URL`` or ``--audit-url`` when set, like the hook's; else ``<state>/audit.db``)."""

from __future__ import annotations

import concurrent.futures
import json
import sys
from collections.abc import Callable
from typing import Any

from .._util import utc_stamp
from .mask import Masked
from .screen import Screened
from .sse import SSEEvent

_AUDIT_LIST = 100  # findings listed per record; the counts cover the rest


def now() -> str:
    return utc_stamp()


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
        self.healthy = True
        """False after a write failed, until one succeeds: the server refuses requests meanwhile."""
        self._pool.submit(self._open).result()  # fail at start, not on the first request

    def _open(self) -> None:
        from ..audit.store import AuditStore

        if self._store is None:
            self._store = AuditStore(self.path, key_path=self.key_path)

    def _append(self, record: dict[str, Any]) -> bool:
        try:
            self._open()
            self._store.append(gateway_record(record))
        except Exception as exc:  # noqa: BLE001 - said, counted, and the server fails closed after it
            self.failures += 1
            self.healthy = False
            print(f"ramparts gateway: audit write failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return False
        self.healthy = True
        return True

    def append(self, record: dict[str, Any]) -> concurrent.futures.Future[bool]:
        """Write the record of one request (its context, see :func:`gateway_record`) in the background;
        the future says whether it was written."""
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


_DETAIL_KEYS = frozenset(
    {
        "route",
        "method",
        "status",
        "outcome",
        "replica",
        "token_id",
        "model",
        "stream",
        "request_bytes",
        "upstream_bytes",
        "response_bytes",
        "restored",
        "upstream",
        "upstream_status",
        "streamed",
        "events",
        "unknown_placeholders",
        "malformed_events",
        "usage",
        "prepare_ms",
        "ttfb_ms",
        "latency_ms",
    }
)
_CONTEXT_KEYS = _DETAIL_KEYS | {
    "decision",
    "user",
    "host",
    "session",
    "decision_id",
    "reasons",
    "masked",
    "screened",
    "max_tokens",
    "refused",
}


def gateway_record(ctx: dict[str, Any]) -> dict[str, Any]:
    """The audit record of one request, from its Decision (``ctx["decision"]``) and the context the
    server gathered while handling it; a key this does not know is an error (recorded as an audit
    failure), not a field that silently drifts."""
    from ..audit.record import FindingRecord, GatewayDetail, build_record, to_json
    from ..model import Decision

    unknown = set(ctx) - _CONTEXT_KEYS
    if unknown:
        raise ValueError(f"gateway record context has unknown keys: {sorted(unknown)}")
    decision = ctx.get("decision")
    if not isinstance(decision, Decision):
        decision = Decision()  # never decided: the default denies
    if ctx.get("reasons"):  # what happened after the decision (an upstream failure, a broken stream)
        decision = decision._replace(reasons=(*decision.reasons, *ctx["reasons"]))
    detail = {k: ctx[k] for k in _DETAIL_KEYS if ctx.get(k) is not None}
    if isinstance(detail.get("restored"), bool):
        detail["restored"] = int(detail["restored"])
    findings: list[FindingRecord] = []
    masked = ctx.get("masked")
    if isinstance(masked, dict):
        detail["masked"] = int(masked.get("count", 0))
        for item in masked.get("items", []):
            findings.append(
                FindingRecord(
                    detector=item["detector"],
                    category=item["category"],
                    fingerprint=item["fingerprint"],
                    where=item["where"],
                    action=item["action"],
                )
            )
        blocked = masked.get("blocked")
        if isinstance(blocked, dict):
            findings.append(
                FindingRecord(
                    detector=blocked["detector"], category="", where=blocked["where"], action="block"
                )
            )
    screened = ctx.get("screened")
    if isinstance(screened, dict):
        detail["screened_results"] = int(screened.get("tool_results", 0))
        for item in screened.get("items", []):
            findings.append(
                FindingRecord(
                    detector=f"injection:{item['signal']}" if item.get("signal") else "injection",
                    category="injection",
                    confidence=float(item.get("score") or 0.0),
                    fingerprint=item.get("fingerprint") or "",
                    where=item["where"],
                    action=item["action"],
                    tool_use_id=item.get("tool_use_id") or "",
                )
            )
        for item in screened.get("tool_definitions", []):
            findings.append(
                FindingRecord(
                    detector=f"injection:{item['signal']}" if item.get("signal") else "injection",
                    category="injection",
                    confidence=float(item.get("score") or 0.0),
                    fingerprint=item.get("fingerprint") or "",
                    where=item["where"],
                    action=item["action"],
                    tool_use_id=str(item.get("tool") or ""),
                )
            )
    refused = ctx.get("refused")
    if isinstance(refused, dict):
        detail["refused"] = f"{refused.get('kind')} {refused.get('name')!r} at {refused.get('where')}"
    capped = ctx.get("max_tokens")
    if isinstance(capped, dict):
        detail["max_tokens_asked"] = capped["asked"]
        detail["max_tokens_sent"] = capped["sent"]
    record = build_record(
        decision._replace(decision_id=str(ctx.get("decision_id") or decision.decision_id)),
        surface="gateway",
        event="GatewayRequest",
        time=now(),
        user=str(ctx.get("user") or ""),
        host=str(ctx.get("host") or ""),
        session=str(ctx.get("session") or ""),
        findings=tuple(findings),
        detail=GatewayDetail(**detail),
    )
    return to_json(record)  # type: ignore[no-any-return]


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

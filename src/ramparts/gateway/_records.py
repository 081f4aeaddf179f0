"""Audit records and usage accounting for the gateway: the record's parts (fingerprints and counts,
never values), token usage from responses, and the writer thread that appends to the audit store
(``$RAMPARTS_AUDIT_URL`` or ``--audit-url`` when set, like the hook's; else ``<state>/audit.db``)."""

from __future__ import annotations

import json
from typing import Any

from .._util import utc_stamp
from ..audit.record import GatewayDetail
from ..audit.writer import AuditWriter
from .mask import Masked
from .screen import Screened
from .sse import SSEEvent

_AUDIT_LIST = 100  # findings listed per record; the counts cover the rest


def now() -> str:
    return utc_stamp()


# what the server's request context names the record's fields directly (the rest are built below)
_DETAIL_KEYS = frozenset(GatewayDetail._fields) - {
    "masked",
    "screened_results",
    "refused",
    "max_tokens_asked",
    "max_tokens_sent",
}
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
        # tool results (by their tool_use_id) and tool definitions (by the tool's name)
        for item, owner in [
            *((i, i.get("tool_use_id")) for i in screened.get("items", [])),
            *((i, i.get("tool")) for i in screened.get("tool_definitions", [])),
            *((i, "") for i in screened.get("prompts", [])),
        ]:
            findings.append(
                FindingRecord(
                    detector=f"injection:{item['signal']}" if item.get("signal") else "injection",
                    category="injection",
                    confidence=float(item.get("score") or 0.0),
                    fingerprint=item.get("fingerprint") or "",
                    where=item["where"],
                    action=item["action"],
                    tool_use_id=str(owner or ""),
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


class GatewayAuditWriter(AuditWriter):
    """The audit writer of the gateway: it is handed a request's context and writes its record."""

    def convert(self, record: dict[str, Any]) -> dict[str, Any]:
        return gateway_record(record)

    def add(self, ctx: dict[str, Any]) -> None:
        """Queue one request's record (a copy of its context as it is now). The writer's thread builds
        it and commits it with every record queued meanwhile, in one durable commit (group commit): a
        burst's records cost one commit per writer turn, not one each. A failed build or commit
        leaves the writer unhealthy, and the server refuses requests until a write succeeds."""
        snapshot = dict(ctx)
        self.append_built(lambda: snapshot)


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
    screened: tuple[Screened, ...],
    results: int,
    tools: tuple[Screened, ...] = (),
    prompts: tuple[Screened, ...] = (),
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
    if prompts:  # the user's prompt at or above the prompt surface's warn (no text)
        record["prompts"] = [
            {
                "where": s.where,
                "action": s.action,
                "score": s.score,
                "signal": s.signal,
                "fingerprint": s.fingerprint,
            }
            for s in prompts
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

"""The one audit record every surface writes, and the one function that builds it.

Every producer (the hook, the gateway, the egress proxy, people's commands, the control plane) turns a
:class:`~ramparts.model.Decision` and its context into an :class:`AuditRecord` with :func:`build_record`
and appends :func:`to_json` of it; every consumer reads records back with :func:`from_json`, which
validates them and also reads the version 1 records written before this type existed.

The declaration is a tree of ``NamedTuple`` classes: immutable, typed and cheap to import on the hook's
hot path. Validation and the JSON Schema (``ramparts audit schema``, Draft 2020-12) are derived from the
same classes through msgspec, imported only when a record is read or the schema is asked for. Records
hold fingerprints and redacted excerpts, never a matched value.
"""

from __future__ import annotations

from .._tuples import NamedTuple
from ..errors import AuditError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal

    from ..model import Decision, Verdict
    from .details import AdminDetail as AdminDetail
    from .details import EgressDetail as EgressDetail
    from .details import GatewayDetail as GatewayDetail

    Surface = Literal["hook", "gateway", "egress", "admin", "server"]
    """Who wrote the record: the Claude Code hook, the model-API gateway, the egress proxy, a person's
    command (kill, clear, re-auth, session end) or the control plane (alerts, automatic responses, the
    dashboard's actions)."""
else:

    def __getattr__(name: str) -> object:  # the other surfaces' details: built on first use (.details)
        if name in ("GatewayDetail", "EgressDetail", "AdminDetail"):
            from . import details

            return getattr(details, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The annotations stay strings on the hook's path (it builds and writes records, never reads them): typing
# is imported, and they are evaluated, only to read a record back or to derive the schema (_hints).
SURFACES = ("hook", "gateway", "egress", "admin", "server")
"""The values of ``Surface`` (the schema's and the reader's; a test holds the two to the same list)."""
VERDICTS = ("deny", "ask", "allow")
"""The values of :data:`ramparts.model.Verdict` (a test holds the two to the same list)."""

RECORD_VERSION = 2
SCHEMA_ID = "https://ramparts.dev/schemas/audit-record-v2.json"

AGENT = "claude-code"
"""The agent's name in every record (version 1 records said ``claude_code`` or ``claude-code``)."""


class FindingRecord(NamedTuple):
    """What a detector found, as a record may hold it: a keyed fingerprint and a redacted excerpt."""

    detector: str
    category: str
    severity: str = ""
    confidence: float = 0.0
    line: int = 0
    fingerprint: str = ""
    excerpt: str = ""
    where: str = ""
    """Where in the request (gateway: a JSON path such as ``messages[2].content[0].text``)."""
    action: str = ""
    """What was done with it (gateway: ``mask``, ``redact``, ``block``; screen: ``quarantine``)."""
    tool_use_id: str = ""
    """The tool call whose result held it (the gateway's injection screen)."""


class ContentRecord(NamedTuple):
    """One piece of content that was scanned: a file before a read, a prompt, a tool result."""

    source: str
    name: str
    truncated: bool = False
    error: str = ""
    findings: tuple[FindingRecord, ...] = ()


class HookDetail(NamedTuple):
    """What only the hook knows."""

    cwd: str = ""
    permission_mode: str = ""
    input: dict[str, Any] | None = None
    """The tool input, redacted: strings through the redactor, contents as length and fingerprint."""
    result_chars: int | None = None
    result_fingerprint: str = ""
    agent_id: str = ""
    agent_type: str = ""
    deadline: bool = False
    """The decision was the deny given when the hook's deadline ran out."""
    sinks: tuple[str, ...] = ()
    """Outbound DLP: where the call would have sent its data (``mcp: MCP server 'chat' (…)``)."""


class AuditRecord(NamedTuple):
    """One entry of the audit log."""

    time: str
    """UTC, ISO 8601 with milliseconds and a ``Z``."""
    surface: Surface
    event: str
    """``PreToolUse``, ``PostToolUse``, ``UserPromptSubmit``, ``SessionStart``, ``SessionEnd`` … (hook);
    ``GatewayRequest``; ``EgressRequest``; ``DLPBlock``; ``KillOrder``, ``SessionClear``, ``Reauth``,
    ``SessionEndOrder`` (people); ``Alert``, ``AutoResponse``, ``DashboardAction`` (control plane)."""
    decision: Verdict | None = None
    enforced: bool = True
    would: Verdict | None = None
    """In report mode, what enforce mode would have decided."""
    reasons: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    policy: str = ""
    """The policy revision that decided."""
    decision_id: str = ""
    user: str = ""
    host: str = ""
    agent: str = AGENT
    session: str = ""
    tool: str = ""
    tool_use_id: str = ""
    content: tuple[ContentRecord, ...] = ()
    """What was scanned to decide, with what was found (fingerprints only)."""
    findings: tuple[FindingRecord, ...] = ()
    """Findings that belong to no one piece of content (the gateway's masked values)."""
    hook: HookDetail | None = None
    gateway: GatewayDetail | None = None
    egress: EgressDetail | None = None
    admin: AdminDetail | None = None
    v: int = RECORD_VERSION


if TYPE_CHECKING:
    Detail = HookDetail | GatewayDetail | EgressDetail | AdminDetail

_DETAIL_FIELD: dict[type, str] = {HookDetail: "hook"}
"""The record field of each detail class; the other surfaces' join on first use (``_detail_field``)."""


def _detail_field(detail: Detail) -> str:
    field = _DETAIL_FIELD.get(type(detail))
    if field is None:
        from .details import AdminDetail, EgressDetail, GatewayDetail

        _DETAIL_FIELD.update({GatewayDetail: "gateway", EgressDetail: "egress", AdminDetail: "admin"})
        field = _DETAIL_FIELD[type(detail)]  # a KeyError for a class that is no detail, as before
    return field


def build_record(
    decision: Decision,
    *,
    surface: Surface,
    event: str,
    time: str,
    user: str = "",
    host: str = "",
    session: str = "",
    tool: str = "",
    tool_use_id: str = "",
    content: tuple[ContentRecord, ...] = (),
    findings: tuple[FindingRecord, ...] = (),
    detail: Detail | None = None,
    agent: str = AGENT,
) -> AuditRecord:
    """The record of one decision: the verdict, reasons, rule ids, revision and id come from the
    Decision, the rest from the adapter that made it. Every producer calls this; none builds a dict."""
    extra: dict[str, Any] = {}
    if detail is not None:
        extra[_detail_field(detail)] = detail
    return AuditRecord(
        time=time,
        surface=surface,
        event=event,
        decision=decision.verdict,
        enforced=decision.enforced,
        would=decision.would_verdict,
        reasons=decision.reasons,
        rule_ids=decision.rule_ids,
        warnings=decision.warnings,
        policy=decision.policy_revision,
        decision_id=decision.decision_id,
        user=user,
        host=host,
        agent=agent,
        session=session,
        tool=tool,
        tool_use_id=tool_use_id,
        content=content,
        findings=findings,
        **extra,
    )


def finding_record(finding: Any, *, where: str = "", action: str = "") -> FindingRecord:
    """A :class:`~ramparts.model.Finding` (or anything with its fields) as a record holds it."""
    return FindingRecord(
        detector=finding.detector,
        category=finding.category,
        severity=finding.severity,
        confidence=float(finding.confidence),
        line=finding.line,
        fingerprint=finding.fingerprint,
        excerpt=finding.excerpt,
        where=where,
        action=action,
    )


def content_record(content: Any) -> ContentRecord:
    """A :class:`~ramparts.model.Content` as a record holds it."""
    return ContentRecord(
        source=content.source,
        name=content.name,
        truncated=content.truncated,
        error=content.error,
        findings=tuple(finding_record(f) for f in content.findings),
    )


# -- JSON


def to_json(value: Any) -> Any:
    """The record as JSON-ready data: fields equal to their default are left out (``time``,
    ``surface``, ``event``, ``decision`` and ``v`` always stay), tuples become lists."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        defaults: dict[str, Any] = type(value)._field_defaults  # type: ignore[attr-defined]
        out: dict[str, Any] = {}
        for name in value._fields:
            item = getattr(value, name)
            if name in defaults and item == defaults[name] and name not in _ALWAYS:
                continue
            out[name] = to_json(item)
        return out
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value


_ALWAYS = frozenset({"decision", "v"})


class RecordError(AuditError, ValueError):
    """A record does not fit the schema; the message names the field."""


def from_json(data: Any) -> AuditRecord:
    """Validate and read one stored record (version 2, or a version 1 record, translated)."""
    import msgspec

    if isinstance(data, dict) and data.get("v", 1) == 1:
        data = _from_v1(data)
    try:
        loose: Any = msgspec.convert(data, _structs()[AuditRecord], strict=True)
    except msgspec.ValidationError as exc:
        raise RecordError(str(exc)) from exc
    return _to_named(loose, AuditRecord)  # type: ignore[no-any-return]


def validate(data: Any) -> Any:
    """Check one stored record as :func:`from_json` does and return the validated msgspec Struct: the
    same field names as :class:`AuditRecord`, without the conversion to NamedTuples (for bulk readers
    such as the control plane's ingest). Raises :class:`RecordError` naming the field."""
    import msgspec

    if isinstance(data, dict) and data.get("v") == 1:
        data = _from_v1(data)
    try:
        return msgspec.convert(data, _structs()[AuditRecord], strict=True)
    except msgspec.ValidationError as exc:
        raise RecordError(str(exc)) from exc


def schema() -> dict[str, Any]:
    """The record's JSON Schema (Draft 2020-12), derived from the classes above."""
    import msgspec

    out: dict[str, Any] = msgspec.json.schema(_structs()[AuditRecord])
    body = out.pop("$defs", {})
    root_ref = out.get("$ref", "")
    root = body.pop(root_ref.rsplit("/", 1)[-1], out) if root_ref else out
    result: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Ramparts audit record",
        **root,
    }
    if body:
        result["$defs"] = body
    return result


_STRUCTS: dict[type, type] = {}


def _structs() -> dict[type, type]:
    """msgspec Structs mirroring every NamedTuple of the record, made once."""
    if _STRUCTS:
        return _STRUCTS
    from typing import Union, get_args, get_origin

    import msgspec

    def convert(tp: Any) -> Any:
        if _is_named(tp):
            return make(tp)
        origin = get_origin(tp)
        if origin is Union or origin is UnionType:
            return Union[tuple(convert(a) for a in get_args(tp))]  # noqa: UP007
        if origin is tuple:
            args = get_args(tp)
            return tuple[convert(args[0]), ...]  # type: ignore[misc]
        return tp

    def make(nt: type) -> type:
        if nt in _STRUCTS:
            return _STRUCTS[nt]
        hints = _hints(nt)
        defaults = nt._field_defaults  # type: ignore[attr-defined]
        fields: list[Any] = []
        for name in nt._fields:  # type: ignore[attr-defined]
            tp = convert(hints[name])
            fields.append((name, tp, defaults[name]) if name in defaults else (name, tp))
        struct = msgspec.defstruct(
            nt.__name__, fields, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
        )
        struct.__doc__ = (nt.__doc__ or "").strip().split("\n")[0]
        _STRUCTS[nt] = struct
        return struct

    UnionType = type(int | None)
    make(AuditRecord)
    return _STRUCTS


_HINTS: dict[Any, dict[str, Any]] = {}


def _hints(nt: Any) -> dict[str, Any]:
    """The field types of a record class, its string annotations evaluated (``typing`` is imported here,
    on the reader's and the schema's path only); once per class: get_type_hints costs ~0.2 ms."""
    hints = _HINTS.get(nt)
    if hints is None:
        from typing import Any, Literal, get_type_hints

        from .details import AdminDetail, EgressDetail, GatewayDetail

        names = {
            "Any": Any,
            "Surface": Literal[SURFACES],
            "Verdict": Literal[VERDICTS],
            "GatewayDetail": GatewayDetail,
            "EgressDetail": EgressDetail,
            "AdminDetail": AdminDetail,
        }
        hints = _HINTS[nt] = get_type_hints(nt, localns=names)
    return hints


def _is_named(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


_PLANS: dict[Any, tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {}


def _to_named(value: Any, nt: Any) -> Any:
    """A validated Struct back into the NamedTuple it mirrors (nested ones too)."""
    plan = _PLANS.get(nt)
    if plan is None:
        hints = _hints(nt)
        plan = _PLANS[nt] = tuple((name, _converter(hints[name])) for name in nt._fields)
    kwargs = {}
    for name, convert in plan:
        item = getattr(value, name)
        kwargs[name] = item if convert is None or item is None else convert(item)
    return nt(**kwargs)


def _converter(tp: Any) -> Callable[[Any], Any] | None:
    """How a field's validated value (never None) becomes the NamedTuple's: None when it is kept as is."""
    from typing import Union, get_args, get_origin

    if _is_named(tp):
        return lambda item: _to_named(item, tp)
    origin = get_origin(tp)
    if origin is tuple:
        inner = _converter(get_args(tp)[0])
        return None if inner is None else lambda item: tuple(inner(i) for i in item)
    if origin is Union or origin is type(int | None):  # X | None: the NamedTuple the Struct was made from
        named = {arg.__name__: arg for arg in get_args(tp) if _is_named(arg)}
        if not named:
            return None
        return lambda item: (
            _to_named(item, named[type(item).__name__]) if type(item).__name__ in named else item
        )
    return None


# -- version 1

_GATEWAY_V1 = (
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
    "withheld",
    "usage",
    "prepare_ms",
    "ttfb_ms",
    "latency_ms",
)


def _from_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 record (hand-built dicts, before this type) in the version 2 shape."""
    event = str(data.get("event") or "")
    agent = str(data.get("agent") or "")
    out: dict[str, Any] = {
        "v": RECORD_VERSION,
        "time": str(data.get("time") or ""),
        "event": event,
        "decision": data.get("decision") if data.get("decision") in ("allow", "ask", "deny") else None,
    }
    if isinstance(data.get("enforced"), bool):
        out["enforced"] = data["enforced"]
    if data.get("would") in ("allow", "ask", "deny"):
        out["would"] = data["would"]
    for key in ("reasons", "rule_ids", "warnings"):
        if isinstance(data.get(key), list):
            out[key] = [str(x) for x in data[key]]
    for key in ("policy", "decision_id", "user", "host", "session", "tool", "tool_use_id"):
        if data.get(key) is not None:
            out[key] = str(data[key])
    content = []
    for item in list(data.get("scanned") or []) + list(data.get("blocked") or []):
        if isinstance(item, dict):
            content.append(
                {
                    "source": str(item.get("source", "")),
                    "name": str(item.get("name", "")),
                    "truncated": bool(item.get("truncated", False)),
                    "error": str(item.get("error", "")),
                    "findings": [_v1_finding(f) for f in item.get("findings") or [] if isinstance(f, dict)],
                }
            )
    result = data.get("result")
    if isinstance(result, dict):
        found = [_v1_finding(f) for f in result.get("findings") or [] if isinstance(f, dict)]
        score = result.get("injection_score")
        if isinstance(score, (int, float)) and not isinstance(score, bool):
            found.append({"detector": "injection", "category": "injection", "confidence": float(score)})
        if found:
            content.append({"source": "tool_result", "name": str(data.get("tool") or ""), "findings": found})
    if content:
        out["content"] = content
    if event == "GatewayRequest":
        out["surface"] = "gateway"
        gateway = {k: data[k] for k in _GATEWAY_V1 if data.get(k) is not None}
        masked = data.get("masked")
        if isinstance(masked, dict) and isinstance(masked.get("count"), int):
            gateway["masked"] = masked["count"]
        screened = data.get("screened")
        if isinstance(screened, dict) and isinstance(screened.get("tool_results"), int):
            gateway["screened_results"] = screened["tool_results"]
        restored = gateway.get("restored")
        if isinstance(restored, bool):
            gateway["restored"] = int(restored)
        out["gateway"] = gateway
    elif agent == "ramparts":
        out["surface"] = "admin"
        out["agent"] = "ramparts"
        details = data.get("input")
        out["admin"] = {"action": event, **({"details": details} if isinstance(details, dict) else {})}
    else:
        out["surface"] = "hook"
        hook: dict[str, Any] = {}
        for key in ("cwd", "permission_mode", "agent_id", "agent_type"):
            if isinstance(data.get(key), str):
                hook[key] = data[key]
        if isinstance(data.get("input"), dict):
            hook["input"] = data["input"]
        result = data.get("result")
        if isinstance(result, dict):
            if isinstance(result.get("chars"), int):
                hook["result_chars"] = result["chars"]
            if isinstance(result.get("fingerprint"), str):
                hook["result_fingerprint"] = result["fingerprint"]
        if hook:
            out["hook"] = hook
    return out


def _v1_finding(f: dict[str, Any]) -> dict[str, Any]:
    return {
        "detector": str(f.get("detector", "")),
        "category": str(f.get("category", "")),
        "severity": str(f.get("severity", "")),
        "confidence": float(f.get("confidence", 0.0) or 0.0),
        "line": int(f.get("line", 0) or 0),
        "fingerprint": str(f.get("fingerprint", "")),
        "excerpt": str(f.get("excerpt", "")),
    }

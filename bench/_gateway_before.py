"""The gateway's request walk and masker as they were before issue 22 (commit 70fe51a), kept as the
baseline of ``bench/gateway.py --walk``: the same run measures the old walk and the new one on the
same bodies. Not used by Ramparts itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ramparts.gateway.mask import _MIN_ANYWHERE, Masked, Masker, MaskResult, _substitute
from ramparts.gateway.vault import label

TextFn = Callable[[str, str], str]
_TOOL_INPUT = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_TOOL_RESULT = frozenset({"tool_result", "mcp_tool_result"})
_NEVER = frozenset({"thinking", "redacted_thinking"})


def mask_request_before(masker: Masker, body: Any, session_id: str) -> MaskResult:
    """``Masker.mask_request`` before issue 22: system and messages only, no runs, no documents."""
    if not isinstance(body, dict):
        return MaskResult(body, (), False)
    replace: dict[str, str] = {v: p for p, v in masker.vault.known(session_id).items()}
    spans: dict[str, list[tuple[int, int, str, str | None]]] = {}
    findings: list[Masked] = []

    def collect(text: str, where: str) -> str:
        for f in masker.scan(text):
            if f.confidence < masker.policy.min_confidence or f.category == "injection":
                continue
            rule = masker.policy.rule_for(f)
            if rule is None:
                continue
            name, action = rule
            findings.append(Masked(where, f.detector, f.category, name, action, f.fingerprint))
            value = text[f.start : f.end]
            if not value:
                continue
            if value not in replace:
                replace[value] = (
                    masker.vault.placeholder_for(session_id, f.detector, value)
                    if action == "mask"
                    else f"[REDACTED:{label(f.detector)}]"
                )
            spans.setdefault(where, []).append((f.start, f.end, value, None))
        return text

    walk_request(body, collect)
    if not replace:
        return MaskResult(body, tuple(findings), False)
    anywhere = sorted((v for v in replace if len(v) >= _MIN_ANYWHERE), key=len, reverse=True)

    def apply(text: str, where: str) -> str:
        return _substitute(text, spans.get(where, ()), anywhere, replace)

    out = walk_request(body, apply)
    return MaskResult(out, tuple(findings), out is not body)


def _with(obj: dict[str, Any], key: str, new: Any) -> dict[str, Any]:
    if new is obj[key]:
        return obj
    return {**obj, key: new}  # same key order


def _items(seq: list[Any], where: str, fn: Callable[[Any, str], Any]) -> list[Any]:
    out: list[Any] | None = None
    for i, item in enumerate(seq):
        new = fn(item, f"{where}[{i}]")
        if new is not item:
            if out is None:
                out = list(seq)
            out[i] = new
    return seq if out is None else out


def walk_request(body: dict[str, Any], fn: TextFn) -> dict[str, Any]:
    """The walk before issue 22: system and messages; unknown blocks, tools and other fields skipped."""
    out = body
    system = body.get("system")
    if isinstance(system, str):
        out = _with(out, "system", fn(system, "system"))
    elif isinstance(system, list):
        out = _with(out, "system", _items(system, "system", lambda b, w: _block(b, w, fn)))
    messages = body.get("messages")
    if isinstance(messages, list):

        def message(msg: Any, where: str) -> Any:
            if not isinstance(msg, dict) or "content" not in msg:
                return msg
            return _with(msg, "content", _content(msg["content"], f"{where}.content", fn))

        out = _with(out, "messages", _items(messages, "messages", message))
    return out


def _content(content: Any, where: str, fn: TextFn) -> Any:
    if isinstance(content, str):
        return fn(content, where)
    if isinstance(content, list):
        return _items(content, where, lambda b, w: _block(b, w, fn))
    return content


def _text_field(block: dict[str, Any], key: str, where: str, fn: TextFn) -> dict[str, Any]:
    value = block.get(key)
    return _with(block, key, fn(value, f"{where}.{key}")) if isinstance(value, str) else block


def _block(block: Any, where: str, fn: TextFn) -> Any:
    if not isinstance(block, dict) or "signature" in block:
        return block
    kind = block.get("type")
    if not isinstance(kind, str) or kind in _NEVER:
        return block
    out = block
    if kind == "text":
        out = _text_field(out, "text", where, fn)
        citations = out.get("citations")
        if isinstance(citations, list):
            out = _with(
                out,
                "citations",
                _items(citations, f"{where}.citations", lambda c, w: _cited(c, w, fn)),
            )
    elif kind in _TOOL_INPUT:
        if "input" in out:
            out = _with(out, "input", _json(out["input"], f"{where}.input", fn))
    elif kind in _TOOL_RESULT:
        if "content" in out:
            out = _with(out, "content", _content(out["content"], f"{where}.content", fn))
    elif kind == "document":
        source = out.get("source")
        if isinstance(source, dict) and "signature" not in source:
            if source.get("type") == "text":
                out = _with(out, "source", _text_field(source, "data", f"{where}.source", fn))
            elif source.get("type") == "content" and "content" in source:
                new = _with(source, "content", _content(source["content"], f"{where}.source.content", fn))
                out = _with(out, "source", new)
        out = _text_field(_text_field(out, "title", where, fn), "context", where, fn)
    elif kind == "search_result":
        if "content" in out:
            out = _with(out, "content", _content(out["content"], f"{where}.content", fn))
        out = _text_field(_text_field(out, "title", where, fn), "source", where, fn)
    return out


def _cited(citation: Any, where: str, fn: TextFn) -> Any:
    if not isinstance(citation, dict) or "signature" in citation:
        return citation
    return _text_field(citation, "cited_text", where, fn)


def _json(value: Any, where: str, fn: TextFn) -> Any:
    if isinstance(value, str):
        return fn(value, where)
    if isinstance(value, list):
        return _items(value, where, lambda v, w: _json(v, w, fn))
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for key, item in value.items():
            new = _json(item, f"{where}.{key}", fn)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    return value

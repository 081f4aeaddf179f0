"""Restore placeholders in a model response: the stream guard (SSE events) and a whole-message helper.

:class:`StreamGuard` is a sans-IO state machine: the proxy feeds it each decoded upstream event
(:class:`~.sse.SSEEvent`) and writes the events it returns, in order, with :func:`~.sse.encode`.

- ``text_delta``: placeholders become their values;
- ``input_json_delta``: ``partial_json`` is a fragment of a JSON document and the placeholder sits in
  one of its strings, so the value goes in JSON-escaped (quotes, backslashes, control characters);
- a placeholder split across deltas is restored: each block keeps back only the tail that could still
  grow into a placeholder (at most ``PLACEHOLDER_MAX - 1`` characters) and sends it with the next
  delta, or as an extra delta just before ``content_block_stop`` (also before ``message_stop`` and
  ``error``, and at :meth:`StreamGuard.close`, should the stop never come);
- ``thinking_delta``, ``signature_delta``, ``citations_delta`` and unknown deltas, ``ping``,
  ``message_delta`` and unknown event types pass through untouched, as do comments;
- a placeholder the lookup does not know stays as it is;
- a ``tool_use`` whose tool is a sink (``ramparts.sinks``: an MCP tool of a server not marked local,
  WebFetch, WebSearch; every ``server_tool_use`` and ``mcp_tool_use``, which run at Anthropic) gets only
  the placeholders the policy lets travel there, when the lookup is an :class:`OutboundLookup`: never a
  secret's; the placeholder stays, so the call fails harmlessly and the hook records it;
- an event it cannot parse (data not a JSON object, a delta without an index or text) is passed
  through unchanged, after every held tail has been sent: the guard never raises and never drops or
  reorders text; a placeholder cut by such an event then reaches the client unrestored.

An event it does not change is returned as the same object, so its original bytes go out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..policy.types import OutboundSettings
from .sse import SSEEvent
from .vault import PLACEHOLDER, PLACEHOLDER_MAX, PREFIX

Lookup = Callable[[str], str | None]
"""Placeholder → value for the response's session (``vault.known(session).get`` or ``value_for``)."""


class OutboundLookup:
    """A lookup that knows where a placeholder goes: text is restored as by the plain lookup, a tool
    input bound for a sink only with what the policy's ``dlp.outbound`` lets travel there."""

    def __init__(self, lookup: Lookup, outbound: OutboundSettings) -> None:
        self.lookup = lookup
        self.outbound = outbound
        self.withheld = 0
        """Placeholders left in a sink's tool input (for the audit record)."""

    def __call__(self, placeholder: str) -> str | None:
        return self.lookup(placeholder)

    def for_block(self, block: dict[str, Any]) -> Lookup:
        """The lookup for one tool-input block (its ``name`` tells the tool; unknown: a sink)."""
        from ..sinks import tool_is_sink

        name = block.get("name")
        if (
            block.get("type") == "tool_use"
            and isinstance(name, str)
            and not tool_is_sink(self.outbound, name)
        ):
            return self.lookup
        return self._guarded

    def _guarded(self, placeholder: str) -> str | None:
        from ..sinks import placeholder_travels

        match = PLACEHOLDER.fullmatch(placeholder)
        if match is None or not placeholder_travels(self.outbound, match.group(1)):
            self.withheld += 1
            return None
        return self.lookup(placeholder)


def _for_block(lookup: Lookup, block: dict[str, Any]) -> Lookup:
    return lookup.for_block(block) if isinstance(lookup, OutboundLookup) else lookup


_TOOL_INPUT = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_NEVER = frozenset({"thinking", "redacted_thinking"})
_LABEL_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LABEL = _LABEL_FIRST | frozenset("0123456789_")
_HEX = frozenset("0123456789abcdef")


def _viable(s: str) -> bool:
    """Whether ``s`` is a proper prefix of some placeholder (more characters could complete it)."""
    n = len(PREFIX)
    if len(s) <= n:
        return PREFIX.startswith(s)
    if not s.startswith(PREFIX):
        return False
    i, end = n, len(s)
    while i < end and i - n < 32 and s[i] in (_LABEL if i > n else _LABEL_FIRST):
        i += 1
    if i == end:
        return True
    if i == n or s[i] != ":":
        return False
    j = i + 1
    while j < end and j - i - 1 < 32 and s[j] in _HEX:
        j += 1
    if j == end:
        return True
    return j - i - 1 >= 8 and s[j:] == "]"


def _json_escape(value: str) -> str:
    out = json.dumps(value, ensure_ascii=False)[1:-1]
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: only the escaped form can travel
        out = json.dumps(value)[1:-1]
    return out


def _dumps(obj: Any) -> str:
    out = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        out = json.dumps(obj, separators=(",", ":"))
    return out


class Restorer:
    """Incremental restore of one text or JSON fragment stream (one content block)."""

    def __init__(self, lookup: Lookup, json_mode: bool = False) -> None:
        self.lookup = lookup
        self.json_mode = json_mode
        self.pending = ""
        self.restored = 0
        self.unknown = 0

    def _value(self, placeholder: str) -> str:
        value = self.lookup(placeholder)
        if value is None:
            self.unknown += 1
            return placeholder
        self.restored += 1
        return _json_escape(value) if self.json_mode else value

    def feed(self, text: str) -> str:
        """The text that can go out now; the tail that may be part of a placeholder is kept."""
        s = self.pending + text if self.pending else text
        if "[" not in s:
            self.pending = ""
            return s
        out: list[str] = []
        pos = 0
        if PREFIX in s:
            for m in PLACEHOLDER.finditer(s):
                out.append(s[pos : m.start()])
                out.append(self._value(m.group(0)))
                pos = m.end()
        hold = len(s)
        i = s.find("[", max(pos, len(s) - PLACEHOLDER_MAX + 1))
        while i >= 0:
            if _viable(s[i:]):
                hold = i
                break
            i = s.find("[", i + 1)
        out.append(s[pos:hold])
        self.pending = s[hold:]
        return "".join(out)

    def flush(self) -> str:
        """The held tail (not a placeholder, since nothing completed it)."""
        held, self.pending = self.pending, ""
        return held


def restore_text(text: str, lookup: Lookup) -> str:
    """Every complete, known placeholder in ``text`` replaced by its value."""
    if PREFIX not in text:
        return text

    def one(m: re.Match[str]) -> str:
        value = lookup(m.group(0))
        return m.group(0) if value is None else value

    return PLACEHOLDER.sub(one, text)


def restore_value(value: Any, lookup: Lookup) -> Any:
    """Placeholders restored in every string of a JSON value (a parsed tool input); copy-on-write."""
    if isinstance(value, str):
        return restore_text(value, lookup)
    if isinstance(value, list):
        items = [restore_value(v, lookup) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        out = {k: restore_value(v, lookup) for k, v in value.items()}
        return value if all(out[k] is v for k, v in value.items()) else out
    return value


def _restore_block(block: Any, lookup: Lookup) -> Any:
    if not isinstance(block, dict) or "signature" in block or block.get("type") in _NEVER:
        return block
    kind = block.get("type")
    if kind == "text" and isinstance(block.get("text"), str):
        text = restore_text(block["text"], lookup)
        return block if text is block["text"] else {**block, "text": text}
    if kind in _TOOL_INPUT and "input" in block:
        new = restore_value(block["input"], _for_block(lookup, block))
        return block if new is block["input"] else {**block, "input": new}
    return block


def restore_message(message: Any, lookup: Lookup) -> Any:
    """A whole (non-streaming) Messages response with placeholders restored in its ``text`` blocks and
    tool inputs; thinking, signed and unknown blocks untouched; the same object when nothing changed."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return message
    content = message["content"]
    blocks = [_restore_block(b, lookup) for b in content]
    if all(a is b for a, b in zip(blocks, content, strict=True)):
        return message
    return {**message, "content": blocks}


class StreamGuard:
    """Restores placeholders in an Anthropic Messages event stream; see the module doc."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self._blocks: dict[int, Restorer] = {}
        self._closed = 0
        self.restored = 0
        """Placeholders restored so far (for the audit record)."""
        self.unknown = 0
        """Placeholder-shaped strings the lookup did not know (left as they were)."""
        self.malformed = 0
        """Events passed through because they could not be parsed."""

    @property
    def held(self) -> int:
        """Characters held back across all open blocks (each fewer than ``PLACEHOLDER_MAX``)."""
        return sum(len(r.pending) for r in self._blocks.values())

    def _count(self, restorer: Restorer) -> None:
        self.restored += restorer.restored
        self.unknown += restorer.unknown
        restorer.restored = restorer.unknown = 0

    def _flush(self, index: int) -> list[SSEEvent]:
        restorer = self._blocks.get(index)
        if restorer is None or not restorer.pending:
            return []
        held = restorer.flush()
        field, kind = ("partial_json", "input_json_delta") if restorer.json_mode else ("text", "text_delta")
        data = {"type": "content_block_delta", "index": index, "delta": {"type": kind, field: held}}
        return [SSEEvent(event="content_block_delta", data=_dumps(data))]

    def _flush_all(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        for index in sorted(self._blocks):
            out.extend(self._flush(index))
        return out

    def close(self) -> list[SSEEvent]:
        """End of the upstream stream: whatever is still held, as deltas."""
        out = self._flush_all()
        self._blocks.clear()
        return out

    def _malformed(self, item: SSEEvent) -> list[SSEEvent]:
        self.malformed += 1
        return [*self._flush_all(), item]

    def feed(self, item: SSEEvent) -> list[SSEEvent]:
        """The events to send for one upstream event, in order (possibly none, possibly two)."""
        if item.data is None:
            return [item]
        try:
            obj = json.loads(item.data)
        except ValueError:
            return self._malformed(item)
        if not isinstance(obj, dict):
            return self._malformed(item)
        kind = obj.get("type")
        if kind == "content_block_delta":
            return self._delta(item, obj)
        if kind == "content_block_start":
            return self._start(item, obj)
        if kind == "content_block_stop":
            index = obj.get("index")
            if not isinstance(index, int):
                return self._malformed(item)
            out = self._flush(index)
            self._blocks.pop(index, None)
            return [*out, item]
        if kind in ("message_stop", "error"):
            return [*self.close(), item]
        if kind == "message_start":
            message = obj.get("message")
            new = restore_message(message, self.lookup)
            if new is not message:
                return [item.with_data(_dumps({**obj, "message": new}))]
        return [item]

    def _start(self, item: SSEEvent, obj: dict[str, Any]) -> list[SSEEvent]:
        index, block = obj.get("index"), obj.get("content_block")
        if not isinstance(index, int) or not isinstance(block, dict):
            return self._malformed(item)
        out = self._flush(index)  # a second start for an open block: send what it held first
        kind = block.get("type")
        if kind == "text":
            restorer = self._blocks[index] = Restorer(self.lookup)
            text = block.get("text")
            if isinstance(text, str) and text and "signature" not in block:
                new = restorer.feed(text)
                self._count(restorer)
                if new != text:
                    return [*out, item.with_data(_dumps({**obj, "content_block": {**block, "text": new}}))]
        elif kind in _TOOL_INPUT:
            self._blocks[index] = Restorer(_for_block(self.lookup, block), json_mode=True)
            restored = _restore_block(block, self.lookup)
            if restored is not block:
                return [*out, item.with_data(_dumps({**obj, "content_block": restored}))]
        else:
            self._blocks.pop(index, None)
        return [*out, item]

    def _delta(self, item: SSEEvent, obj: dict[str, Any]) -> list[SSEEvent]:
        index, delta = obj.get("index"), obj.get("delta")
        if not isinstance(index, int) or not isinstance(delta, dict):
            return self._malformed(item)
        kind = delta.get("type")
        if kind == "text_delta":
            field, json_mode = "text", False
        elif kind == "input_json_delta":
            field, json_mode = "partial_json", True
        else:
            return [item]  # thinking, signature, citations, future deltas: not ours to touch
        text = delta.get(field)
        if not isinstance(text, str):
            return self._malformed(item)
        restorer = self._blocks.get(index)
        out: list[SSEEvent] = []
        if restorer is None or restorer.json_mode != json_mode:
            out = self._flush(index)
            # a tool input whose start was never seen: its tool is unknown, so it counts as a sink
            lookup = _for_block(self.lookup, {"type": "?"}) if json_mode else self.lookup
            restorer = self._blocks[index] = Restorer(lookup, json_mode)
        new = restorer.feed(text)
        self._count(restorer)
        if new == text:
            return [*out, item]
        if not new:
            return out
        return [*out, item.with_data(_dumps({**obj, "delta": {**delta, field: new}}))]

"""Outbound DLP for an Anthropic Messages request body: mask, redact or block what the policy names.

:meth:`Masker.mask_request` walks every text the body carries (``system``; message content strings;
``text`` blocks and their citations' ``cited_text``; ``tool_use``/``server_tool_use``/``mcp_tool_use``
``input`` values; ``tool_result``/``mcp_tool_result`` content, nested; ``document`` text sources,
content sources, titles and context; ``search_result`` blocks) and applies, per finding, the action of
the most specific rule: a detector id (``pii-email``), a prefix (``aws-*``) or a category (``secret``,
``pii``).

- ``mask``: a reversible placeholder from the vault (the same value, the same placeholder, every turn);
- ``redact``: ``[REDACTED:TYPE]``, irreversible;
- ``block``: :class:`MaskBlocked`, which names the rule; the proxy answers 400 (:meth:`MaskBlocked.error_body`).

Never touched: ``thinking`` and ``redacted_thinking`` blocks, any block that has a ``signature``, block
types it does not know (server tool results with encrypted content, images, future types), dict keys,
and every other field of the body. What it does not change it returns as the very same objects, so
the body re-serialises to the same bytes and Anthropic's prompt cache keeps hitting.

Values the detectors found before, in this session or elsewhere in this body, are replaced wherever
they occur, even where the detectors would not find them (an assistant turn that repeats a restored
value without the context a detector needs): once known, a value does not leave in clear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from ..errors import GatewayError
from ..model import Finding
from .vault import PLACEHOLDER, Vault, label

Action = Literal["mask", "redact", "block"]
ACTIONS: tuple[Action, ...] = ("mask", "redact", "block")
Scanner = Callable[[str], Sequence[Finding]]
"""Findings in a text, with offsets (``Detectors.scan`` bound to a key: :func:`detector_scanner`)."""

BASELINE_RULES: Mapping[str, Action] = {
    "secret": "mask",
    "pii-email": "mask",
    "pii-phone": "mask",
    "pii-us-ssn": "mask",
    "pii-payment-card": "mask",
}
"""The baseline profile: secrets and the review's personal data types, masked reversibly."""

_MIN_ANYWHERE = 6  # a known value shorter than this is replaced only where a detector finds it
_TOOL_INPUT = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
_TOOL_RESULT = frozenset({"tool_result", "mcp_tool_result"})
_NEVER = frozenset({"thinking", "redacted_thinking"})


class MaskBlocked(GatewayError):
    """A request carries data a ``block`` rule names. Holds no value: rule, detector and location."""

    def __init__(self, rule: str, detector: str, where: str) -> None:
        self.rule = rule
        self.detector = detector
        self.where = where
        super().__init__(f"blocked by gateway rule {rule!r}: {detector} found in {where}")

    def error_body(self) -> dict[str, Any]:
        """The 400 body in Anthropic's error format."""
        return {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": f"Ramparts gateway: {self}"},
        }


class MaskPolicy(NamedTuple):
    """What each entity type gets. Keys: detector id, ``prefix*``, or category (``secret``, ``pii``)."""

    rules: Mapping[str, Action] = BASELINE_RULES
    min_confidence: float = 0.0
    """Findings below this confidence are left alone."""

    @classmethod
    def from_mapping(cls, rules: Mapping[str, str], min_confidence: float = 0.0) -> MaskPolicy:
        checked: dict[str, Action] = {}
        for key, action in rules.items():
            if action not in ACTIONS:
                raise ValueError(f"gateway rule {key!r}: action must be one of {', '.join(ACTIONS)}")
            if not key or key == "*":
                raise ValueError(f"gateway rule {key!r}: name a detector id, a prefix* or a category")
            checked[key] = action
        return cls(checked, min_confidence)

    def rule_for(self, finding: Finding) -> tuple[str, Action] | None:
        """The most specific rule for a finding: exact id > longest prefix > category."""
        exact = self.rules.get(finding.detector)
        if exact is not None:
            return finding.detector, exact
        best: tuple[str, Action] | None = None
        for key, action in self.rules.items():
            if (
                key.endswith("*")
                and finding.detector.startswith(key[:-1])
                and (best is None or len(key) > len(best[0]))
            ):
                best = (key, action)
        if best is not None:
            return best
        category = self.rules.get(finding.category)
        return (finding.category, category) if category is not None else None


class Masked(NamedTuple):
    """One finding and what was done to it (for the audit record: no value, a keyed fingerprint)."""

    where: str
    detector: str
    category: str
    rule: str
    action: Action
    fingerprint: str


class MaskResult(NamedTuple):
    body: Any
    """The body to send upstream: the input object itself when nothing changed."""
    findings: tuple[Masked, ...]
    changed: bool


def detector_scanner(detectors: Any, key: bytes, limit: int | None = None) -> Scanner:
    """Bind a :class:`ramparts.detect.scanner.Detectors` to a fingerprint key (secrets and PII only)."""

    def scan(text: str) -> Sequence[Finding]:
        result: Sequence[Finding] = detectors.scan(text, key, limit=limit, categories=("secret", "pii"))
        return result

    return scan


TextFn = Callable[[str, str], str]


class Masker:
    """Masks request bodies for one policy, detector set and vault (thread-safe; no state per call)."""

    def __init__(self, policy: MaskPolicy, scan: Scanner, vault: Vault) -> None:
        self.policy = policy
        self.scan = scan
        self.vault = vault

    def mask_request(self, body: Any, session_id: str) -> MaskResult:
        """Mask a Messages (or count_tokens) request body. Raises :class:`MaskBlocked`."""
        if not isinstance(body, dict):
            return MaskResult(body, (), False)
        replace: dict[str, str] = {v: p for p, v in self.vault.known(session_id).items()}
        spans: dict[str, list[tuple[int, int, str]]] = {}
        findings: list[Masked] = []

        def collect(text: str, where: str) -> str:
            found: list[tuple[int, int, str]] = []
            for f in self.scan(text):
                if f.confidence < self.policy.min_confidence or f.category == "injection":
                    continue
                rule = self.policy.rule_for(f)
                if rule is None:
                    continue
                name, action = rule
                findings.append(Masked(where, f.detector, f.category, name, action, f.fingerprint))
                if action == "block":
                    raise MaskBlocked(name, f.detector, where)
                value = text[f.start : f.end]
                if not value:
                    continue
                if value not in replace:
                    replace[value] = (
                        self.vault.placeholder_for(session_id, f.detector, value)
                        if action == "mask"
                        else f"[REDACTED:{label(f.detector)}]"
                    )
                found.append((f.start, f.end, value))
            if found:
                spans[where] = found
            return text

        walk_request(body, collect)
        if not replace:
            return MaskResult(body, tuple(findings), False)
        anywhere = sorted((v for v in replace if len(v) >= _MIN_ANYWHERE), key=len, reverse=True)

        def apply(text: str, where: str) -> str:
            return _substitute(text, spans.get(where, ()), anywhere, replace)

        out = walk_request(body, apply)
        return MaskResult(out, tuple(findings), out is not body)


def request_texts(body: Any) -> list[str]:
    """Every text :meth:`Masker.mask_request` scans in ``body`` (to scan them ahead, in parallel)."""
    out: list[str] = []

    def collect(text: str, where: str) -> str:
        out.append(text)
        return text

    if isinstance(body, dict):
        walk_request(body, collect)
    return out


def _substitute(
    text: str, found: Sequence[tuple[int, int, str]], anywhere: Sequence[str], replace: Mapping[str, str]
) -> str:
    candidates = [v for v in anywhere if v in text]
    if not found and not candidates:
        return text
    cuts: list[tuple[int, int, str]] = list(found)
    if candidates:
        pattern = re.compile("|".join(re.escape(v) for v in candidates))
        cuts.extend((m.start(), m.end(), m.group(0)) for m in pattern.finditer(text))
    keep = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)] if "[[RAMPARTS:" in text else []
    cuts.sort(key=lambda c: (c[0], -(c[1] - c[0])))
    out: list[str] = []
    pos = 0
    for start, end, value in cuts:
        if text[start:end] != value:
            continue  # not the text these offsets were found in (never expected)
        if start < pos or any(s < end and start < e for s, e in keep):
            continue  # overlaps a span already replaced, or inside a placeholder
        out.append(text[pos:start])
        out.append(replace[value])
        pos = end
    if pos == 0:
        return text
    out.append(text[pos:])
    return "".join(out)


# --- walking the body: copy-on-write, unchanged parts returned as the same objects -------------------


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
    """Apply ``fn(text, where)`` to every text a Messages request carries; see the module doc."""
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

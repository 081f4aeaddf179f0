"""The shape of a Messages request: a walk that reaches every string the upstream reads (sans-IO).

:func:`walk_request` applies ``fn(text, where)`` to every text of a Messages (or count_tokens)
request body and returns the body with the texts ``fn`` changed; what it does not change comes back
as the very same objects, so an untouched body re-serialises to the same bytes (the prompt cache).

Every block type and top-level field the Messages API defines is handled explicitly (table in
``docs/gateway.md``). A block type, document source type or top-level field the walk does not know
raises :class:`ShapeRefused` (the proxy answers 400 naming it), unless the policy lists it in
:class:`Shapes` as ``pass`` (forwarded as it is, unscreened, on the administrator's word) or
``screen`` (every string inside is walked). Nothing unknown is forwarded unscreened by default.

Base64 documents: a text media type is decoded, walked as one text and re-encoded only when it
changed; a PDF (or any other binary document) goes to the ``document`` callback, which returns the
block to send (the same block, or a notice in its place). Images are not inspected; ``Shapes.images
= "refuse"`` refuses them. ``thinking`` and ``redacted_thinking`` blocks are never touched (signed).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple

from .. import rule_ids as rids
from ..errors import GatewayError

TextFn = Callable[[str, str], str]
RunFn = Callable[[list[tuple[str, str]]], None]
"""Called with each run of two or more adjacent ``text`` blocks: ``[(where, text), ...]``."""
DocumentFn = Callable[[dict[str, Any], str, str, str], Any]
"""``(block, where, media_type, base64 data) -> block to send`` for a binary base64 document."""
Unknown = Literal["pass", "screen"]

TEXT_MEDIA_TYPES = frozenset(
    {"application/json", "application/xml", "application/x-yaml", "application/yaml", "application/csv"}
)

# -- top-level fields -------------------------------------------------------------------------------
SCALAR_FIELDS = frozenset({"model", "max_tokens", "stream", "temperature", "top_p", "top_k"})
"""Not walked: the model id (checked against the allowlist) and numbers/booleans."""
STRING_FIELDS = frozenset(
    {
        "tool_choice",
        "metadata",
        "stop_sequences",
        "mcp_servers",
        "container",
        "thinking",
        "context_management",
        "output_config",
        "output_format",
        "service_tier",
        "anthropic_version",
        "anthropic_beta",
    }
)
"""Every string value inside is walked (keys are not)."""
KNOWN_FIELDS = SCALAR_FIELDS | STRING_FIELDS | {"system", "messages", "tools"}

# -- content blocks ---------------------------------------------------------------------------------
UNTOUCHED_BLOCKS = frozenset({"thinking", "redacted_thinking", "container_upload"})
"""Signed by the provider (thinking), or an opaque file id (container_upload)."""
TOOL_INPUT_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
TOOL_RESULT_BLOCKS = frozenset({"tool_result", "mcp_tool_result"})
SERVER_RESULT_BLOCKS = frozenset(
    {
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "web_search_result",
        "tool_reference",
        "compaction",
    }
)
"""Every string inside is walked except the opaque keys in :data:`OPAQUE_KEYS`."""
KNOWN_BLOCKS = (
    UNTOUCHED_BLOCKS
    | TOOL_INPUT_BLOCKS
    | TOOL_RESULT_BLOCKS
    | SERVER_RESULT_BLOCKS
    | {"text", "image", "document", "search_result"}
)
OPAQUE_KEYS = frozenset(
    {
        "type",
        "id",
        "tool_use_id",
        "signature",
        "encrypted_content",
        "encrypted_index",
        "file_id",
        "media_type",
    }
)
"""Identifiers and provider-encrypted values: never rewritten (the provider checks them)."""
DOCUMENT_SOURCES = frozenset({"text", "base64", "content", "url", "file"})


class Shapes(NamedTuple):
    """What the walk does with shapes it does not know, and with images."""

    blocks: Mapping[str, Unknown] = {}
    """Unknown block type -> ``pass`` (forwarded as it is) or ``screen`` (every string walked)."""
    fields: Mapping[str, Unknown] = {}
    """Unknown top-level field -> ``pass`` or ``screen``."""
    images: Literal["allow", "refuse"] = "allow"
    """Images are never inspected; ``refuse`` answers 400 to a request carrying one."""


class ShapeRefused(GatewayError):
    """A part of the request the gateway does not know (or an image, when refused). Names it only."""

    def __init__(self, kind: str, name: str, where: str, reason: str = "") -> None:
        self.kind = kind  # "block", "field", "document source", "image", "document"
        self.name = name
        self.where = where
        why = reason or (
            f"the gateway does not know this {kind}, so it cannot screen it "
            f"(the policy's gateway.unknown_{'fields' if kind == 'field' else 'blocks'} can let it through)"
        )
        super().__init__(f"{kind} {name[:100]!r} at {where} refused: {why}")

    @property
    def rule(self) -> str:
        return rids.GATEWAY_SHAPE_PREFIX + {"document source": "source"}.get(self.kind, self.kind)

    def error_body(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": f"Ramparts gateway: {self}"},
        }


class Walker:
    """One walk's callbacks and policy (build one per walk; the methods recurse)."""

    __slots__ = ("document", "fn", "runs", "shapes")

    def __init__(
        self, fn: TextFn, shapes: Shapes, runs: RunFn | None = None, document: DocumentFn | None = None
    ) -> None:
        self.fn = fn
        self.shapes = shapes
        self.runs = runs
        self.document = document

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        out = body
        for key, value in body.items():
            if key in SCALAR_FIELDS:
                continue
            if key == "system":
                new = self.content(value, "system")
            elif key == "messages":
                new = self.messages(value)
            elif key == "tools":
                new = (
                    self.items(value, "tools", self.tool)
                    if isinstance(value, list)
                    else self.json(value, key)
                )
            elif key in STRING_FIELDS:
                new = self.json(value, key)
            else:
                policy = self.shapes.fields.get(key)
                if policy is None:
                    raise ShapeRefused("field", key, key)
                new = value if policy == "pass" else self.json(value, key)
            out = _with(out, key, new)
        return out

    def messages(self, messages: Any) -> Any:
        if not isinstance(messages, list):
            return self.json(messages, "messages")

        def message(msg: Any, where: str) -> Any:
            if not isinstance(msg, dict):
                return self.json(msg, where)
            out = msg
            for key, value in msg.items():
                if key == "role":
                    continue
                if key == "content":
                    new = self.content(value, f"{where}.content")
                else:  # Claude Code puts output_config on a message; any other key: its strings walked
                    new = self.json(value, f"{where}.{key}")
                out = _with(out, key, new)
            return out

        return self.items(messages, "messages", message)

    def tool(self, tool: Any, where: str) -> Any:
        """A tool definition: every string but its ``name`` and ``type`` (description, input_schema…)."""
        if not isinstance(tool, dict):
            return self.json(tool, where)
        out = tool
        for key, value in tool.items():
            if key in ("name", "type"):
                continue
            out = _with(out, key, self.json(value, f"{where}.{key}"))
        return out

    def content(self, content: Any, where: str) -> Any:
        if isinstance(content, str):
            return self.fn(content, where)
        if isinstance(content, list):
            if self.runs is not None:
                self._runs(content, where)
            return self.items(content, where, self.block)
        return self.json(content, where)

    def _runs(self, blocks: list[Any], where: str) -> None:
        assert self.runs is not None
        run: list[tuple[str, str]] = []
        for i, block in enumerate([*blocks, None]):
            if (
                isinstance(block, dict)
                and block.get("type") == "text"
                and isinstance(block.get("text"), str)
                and block["text"]
            ):
                run.append((f"{where}[{i}].text", block["text"]))
                continue
            if len(run) > 1:
                self.runs(run)
            run = []

    def block(self, block: Any, where: str) -> Any:
        if not isinstance(block, dict):
            return self.json(block, where)
        kind = block.get("type")
        if not isinstance(kind, str):
            raise ShapeRefused("block", repr(kind), where, "a content block without a string type")
        if kind in UNTOUCHED_BLOCKS:
            return block
        if kind == "text":
            return self.fields(block, where, skip=OPAQUE_KEYS)
        if kind == "image":
            if self.shapes.images == "refuse":
                raise ShapeRefused("image", "image", where, "the policy refuses images (gateway.images)")
            return block  # not inspected (docs/gateway.md)
        if kind == "document":
            return self.document_block(block, where)
        if kind in TOOL_INPUT_BLOCKS:
            return self.fields(block, where, only=("input",))
        if kind in TOOL_RESULT_BLOCKS:
            return self.fields(block, where, only=("content",), nested=True)
        if kind == "search_result":
            return self.fields(block, where, skip=OPAQUE_KEYS | {"citations"}, nested=True)
        if kind in SERVER_RESULT_BLOCKS:
            return self.fields(block, where, skip=OPAQUE_KEYS | {"name"}, nested=True)
        policy = self.shapes.blocks.get(kind)
        if policy is None:
            raise ShapeRefused("block", kind, where)
        return block if policy == "pass" else self.fields(block, where, skip=OPAQUE_KEYS)

    def fields(
        self,
        block: dict[str, Any],
        where: str,
        *,
        only: tuple[str, ...] | None = None,
        skip: frozenset[str] = frozenset(),
        nested: bool = False,
    ) -> dict[str, Any]:
        """Walk some keys of a block: ``content`` as content (nested blocks) when ``nested``."""
        out = block
        for key, value in block.items():
            if (only is not None and key not in only) or key in skip or key == "cache_control":
                continue
            if nested and key == "content":
                new = self.content(value, f"{where}.content")
            else:
                new = self.json(value, f"{where}.{key}")
            out = _with(out, key, new)
        return out

    def document_block(self, block: dict[str, Any], where: str) -> Any:
        out = block
        for key, value in block.items():
            if key in ("type", "cache_control", "citations"):
                continue
            if key == "source":
                new = self.source(value, block, f"{where}.source")
                if isinstance(new, _Replaced):
                    return new.block
            else:
                new = self.json(value, f"{where}.{key}")
            out = _with(out, key, new)
        return out

    def source(self, source: Any, block: dict[str, Any], where: str) -> Any:
        if not isinstance(source, dict):
            raise ShapeRefused("document source", type(source).__name__, where, "not an object")
        kind = source.get("type")
        if kind not in DOCUMENT_SOURCES:
            raise ShapeRefused("document source", str(kind), where)
        if kind == "text":
            return self.fields(source, where, only=("data",))
        if kind == "content":
            return self.fields(source, where, only=("content",), nested=True)
        if kind == "url":
            return self.fields(source, where, only=("url",))
        if kind == "file":
            return source  # an id of a file uploaded through the Files API, which the gateway does not serve
        media = source.get("media_type")
        data = source.get("data")
        if not isinstance(media, str) or not isinstance(data, str):
            raise ShapeRefused("document", "base64", where, "media_type and data must be strings")
        media = media.split(";", 1)[0].strip().lower()
        if media.startswith("text/") or media in TEXT_MEDIA_TYPES:
            text = decode_text(data)
            if text is not None:
                new = self.fn(text, f"{where}.data")
                if new is text:
                    return source
                return {**source, "data": base64.b64encode(new.encode("utf-8")).decode("ascii")}
        if self.document is None:
            return source
        replaced = self.document(block, f"{where}.data", media, data)
        return source if replaced is block else _Replaced(replaced)

    def json(self, value: Any, where: str) -> Any:
        """Every string in a JSON value (keys untouched); typed blocks inside are walked as blocks."""
        if isinstance(value, str):
            return self.fn(value, where)
        if isinstance(value, list):
            return self.items(value, where, self.json)
        if isinstance(value, dict):
            if value.get("type") == "document" and isinstance(value.get("source"), dict):
                return self.document_block(value, where)  # a web_fetch result's document
            out = value
            for key, item in value.items():
                if key in OPAQUE_KEYS or key == "cache_control":
                    continue
                out = _with(out, key, self.json(item, f"{where}.{key}"))
            return out
        return value

    @staticmethod
    def items(seq: list[Any], where: str, fn: Callable[[Any, str], Any]) -> list[Any]:
        out: list[Any] | None = None
        for i, item in enumerate(seq):
            new = fn(item, f"{where}[{i}]")
            if new is not item:
                if out is None:
                    out = list(seq)
                out[i] = new
        return seq if out is None else out


class _Replaced(NamedTuple):
    block: Any


def decode_text(data: str) -> str | None:
    """The text of a base64 text document, or ``None`` when it is not base64 of UTF-8."""
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _with(obj: dict[str, Any], key: str, new: Any) -> dict[str, Any]:
    if new is obj[key]:
        return obj
    return {**obj, key: new}  # same key order


def walk_request(
    body: dict[str, Any],
    fn: TextFn,
    shapes: Shapes | None = None,
    *,
    runs: RunFn | None = None,
    document: DocumentFn | None = None,
) -> dict[str, Any]:
    """Apply ``fn(text, where)`` to every text of a Messages request; raises :class:`ShapeRefused`
    (also for a body nested too deeply to walk: it could not be screened)."""
    try:
        return Walker(fn, shapes or Shapes(), runs, document).request(body)
    except RecursionError:
        raise ShapeRefused("body", "nesting", "body", "it is nested too deeply to be screened") from None

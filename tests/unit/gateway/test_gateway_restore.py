"""Restoring placeholders in responses: split anywhere, JSON-escaped in tool input, thinking untouched."""

from __future__ import annotations

import json
import re
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.gateway.restore import OutboundLookup, StreamGuard, _viable, restore_message, restore_text
from ramparts.gateway.sse import SSEDecoder, SSEEvent, encode
from ramparts.gateway.vault import PLACEHOLDER_MAX, MemoryVault
from ramparts.policy.types import OutboundSettings

VAULT = MemoryVault(b"r" * 32)
TRICKY = [
    'he said "hi"',
    "C:\\path\\to",
    "line1\nline2\ttab",
    "ünïcødé ⟦ 😀",
    "\u2028\x00\x1f",
    "]]",
    "[[RAMPARTS:",
]
PLACEHOLDERS = [VAULT.placeholder_for("s", f"pii-v{i}", v) for i, v in enumerate(TRICKY)]
PLACEHOLDERS.append(VAULT.placeholder_for("s", "aws-access-key-id", "AKIAIOSFODNN7EXAMPLX"))
VALUES = {p: VAULT.value_for("s", p) for p in PLACEHOLDERS}
LOOKUP = VALUES.get
UNKNOWN = "[[RAMPARTS:EMAIL:00000000]]"


def ev(obj: dict[str, Any]) -> SSEEvent:
    data = json.dumps(obj, separators=(",", ":"))
    return SSEEvent(event=obj["type"], data=data, raw=f"event: {obj['type']}\ndata: {data}\n\n".encode())


def text_delta(text: str, index: int = 0) -> SSEEvent:
    return ev({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}})


def json_delta(part: str, index: int = 0) -> SSEEvent:
    delta = {"type": "input_json_delta", "partial_json": part}
    return ev({"type": "content_block_delta", "index": index, "delta": delta})


def start(kind: str, index: int = 0) -> SSEEvent:
    block: dict[str, Any] = {"type": kind}
    if kind == "text":
        block["text"] = ""
    elif kind == "tool_use":
        block.update(id="toolu_1", name="Write", input={})
    elif kind == "thinking":
        block.update(thinking="", signature="")
    return ev({"type": "content_block_start", "index": index, "content_block": block})


def stop(index: int = 0) -> SSEEvent:
    return ev({"type": "content_block_stop", "index": index})


def run(guard: StreamGuard, events: list[SSEEvent]) -> list[SSEEvent]:
    out: list[SSEEvent] = []
    for e in events:
        out.extend(guard.feed(e))
    out.extend(guard.close())
    # everything the guard emits survives the wire
    decoder = SSEDecoder()
    decoded = decoder.feed(b"".join(encode(e) for e in out))
    assert [(d.event, d.data) for d in decoded] == [(e.event, e.data) for e in out]
    return out


def delta_text(e: SSEEvent, index: int = 0) -> str | None:
    """The text or partial JSON of a well-formed delta for ``index``; ``None`` for anything else."""
    try:
        obj = json.loads(e.data or "null")
    except ValueError:
        return None
    if not isinstance(obj, dict) or obj.get("type") != "content_block_delta" or obj.get("index") != index:
        return None
    delta = obj.get("delta")
    if not isinstance(delta, dict):
        return None
    text = delta.get("text", delta.get("partial_json"))
    return text if isinstance(text, str) else None


def collected(out: list[SSEEvent], index: int = 0) -> str:
    return "".join(t for e in out if (t := delta_text(e, index)) is not None)


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    return [text[a:b] for a, b in pairwise([0, *points, len(text)])]


def test_viable_prefixes() -> None:
    p = PLACEHOLDERS[0]
    assert all(_viable(p[:i]) for i in range(1, len(p)))
    assert not _viable(p)  # complete: not a proper prefix
    for s in (
        "[x",
        "[[r",
        "[[RAMPARTS:a",
        "[[RAMPARTS::",
        "[[RAMPARTS:E:abc]",
        "[[RAMPARTS:E:abcdefgX",
        "[[RAMPARTS:E:0123456789abcdef0123456789abcdef0",
    ):
        assert not _viable(s), s
    assert _viable("[[RAMPARTS:" + "A" * 32) and not _viable("[[RAMPARTS:" + "A" * 33)


def test_text_split_inside_a_placeholder() -> None:
    p = PLACEHOLDERS[0]
    guard = StreamGuard(LOOKUP)
    events = [
        start("text"),
        text_delta("mail " + p[:7]),
        text_delta(p[7:20]),
        text_delta(p[20:] + " done"),
        stop(),
    ]
    out = run(guard, events)
    assert collected(out) == 'mail he said "hi" done'
    assert guard.restored == 1
    assert out[0] is events[0] and out[-1] is events[-1]


def test_unchanged_events_are_the_same_objects_and_bytes() -> None:
    events = [
        ev({"type": "message_start", "message": {"id": "m", "content": [], "usage": {"input_tokens": 3}}}),
        start("text"),
        ev({"type": "ping"}),
        text_delta("plain text [with brackets] and [[wiki]]"),
        stop(),
        ev({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}}),
        ev({"type": "message_stop"}),
    ]
    out = run(StreamGuard(LOOKUP), events)
    assert len(out) == len(events) and all(a is b for a, b in zip(out, events, strict=True))


def test_held_tail_flushed_at_stop_before_the_stop_event() -> None:
    guard = StreamGuard(LOOKUP)
    out = run(guard, [start("text"), text_delta("ends with [[RAMPA"), stop()])
    assert [json.loads(e.data or "")["type"] for e in out] == [
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
    ]
    assert collected(out) == "ends with [[RAMPA"


def test_unknown_placeholder_left_as_is() -> None:
    out = run(StreamGuard(LOOKUP), [start("text"), text_delta(f"x {UNKNOWN} y"), stop()])
    assert collected(out) == f"x {UNKNOWN} y"


def test_thinking_and_signature_deltas_untouched() -> None:
    p = PLACEHOLDERS[0]
    thinking = ev(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": p}}
    )
    signature = ev(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": p}}
    )
    events = [start("thinking"), thinking, signature, stop()]
    out = run(StreamGuard(LOOKUP), events)
    assert all(a is b for a, b in zip(out, events, strict=True)) and len(out) == 4


def test_tool_input_value_is_json_escaped() -> None:
    doc = json.dumps({"file_path": "/tmp/x", "content": "v=" + " ".join(PLACEHOLDERS)})
    events = (
        [start("tool_use", 1)] + [json_delta(doc[i : i + 5], 1) for i in range(0, len(doc), 5)] + [stop(1)]
    )
    out = run(StreamGuard(LOOKUP), events)
    assert json.loads(collected(out, 1)) == {
        "file_path": "/tmp/x",
        "content": "v=" + " ".join(VALUES[p] or "" for p in PLACEHOLDERS),
    }


def test_interleaved_blocks_keep_separate_tails() -> None:
    p = PLACEHOLDERS[1]
    events = [
        start("text", 0),
        start("text", 1),
        text_delta(p[:10], 0),
        text_delta(p[:15], 1),
        text_delta(p[10:], 0),
        text_delta(p[15:], 1),
        stop(0),
        stop(1),
    ]
    out = run(StreamGuard(LOOKUP), events)
    assert collected(out, 0) == collected(out, 1) == VALUES[p]


def test_message_start_and_block_start_content_restored() -> None:
    p = PLACEHOLDERS[0]
    message = {"id": "m", "content": [{"type": "text", "text": p}]}
    out = run(StreamGuard(LOOKUP), [ev({"type": "message_start", "message": message})])
    assert json.loads(out[0].data or "")["message"]["content"][0]["text"] == VALUES[p]
    tool = ev(
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "W", "input": {"a": [p]}},
        }
    )
    out = run(StreamGuard(LOOKUP), [tool])
    assert json.loads(out[0].data or "")["content_block"]["input"] == {"a": [VALUES[p]]}
    text = ev(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "a " + p[:9]}}
    )
    out = run(StreamGuard(LOOKUP), [text, text_delta(p[9:]), stop()])
    assert json.loads(out[0].data or "")["content_block"]["text"] == "a "
    assert collected(out) == VALUES[p]


def test_error_event_flushes_first() -> None:
    out = run(
        StreamGuard(LOOKUP),
        [
            start("text"),
            text_delta("tail [["),
            ev({"type": "error", "error": {"type": "overloaded_error", "message": "x"}}),
        ],
    )
    assert collected(out) == "tail [["
    assert json.loads(out[-1].data or "")["type"] == "error"


def test_non_streaming_message() -> None:
    p, q = PLACEHOLDERS[0], PLACEHOLDERS[2]
    message = {
        "id": "m",
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": p, "signature": "s"},
            {"type": "text", "text": f"a {p} b {UNKNOWN}"},
            {"type": "tool_use", "id": "t", "name": "Write", "input": {"content": q, "n": [1, {"k": p}]}},
            {"type": "future", "text": p},
        ],
    }
    out = restore_message(message, LOOKUP)
    assert out["content"][0] is message["content"][0] and out["content"][3] is message["content"][3]
    assert out["content"][1]["text"] == f"a {VALUES[p]} b {UNKNOWN}"
    assert out["content"][2]["input"] == {"content": VALUES[q], "n": [1, {"k": VALUES[p]}]}
    plain = {"content": [{"type": "text", "text": "nothing"}]}
    assert restore_message(plain, LOOKUP) is plain
    assert restore_message("junk", LOOKUP) == "junk"
    assert restore_text("x", LOOKUP) == "x"


# --- properties -------------------------------------------------------------------------------

_filler = st.text(alphabet=st.sampled_from(list('ab [] :RAMPTS_E0f\n"\\é😀')), max_size=12)
_piece = st.one_of(
    _filler,
    st.sampled_from([*PLACEHOLDERS, UNKNOWN]),
    st.sampled_from(PLACEHOLDERS).map(lambda p: p[: len(p) // 2]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_piece, max_size=10), st.lists(st.integers(0, 10**6), max_size=15))
def test_any_split_of_text_restores_exactly(pieces: list[str], cuts: list[int]) -> None:
    text = "".join(pieces)
    guard = StreamGuard(LOOKUP)
    out: list[SSEEvent] = list(guard.feed(start("text")))
    for part in split(text, cuts):
        out.extend(guard.feed(text_delta(part)))
        assert guard.held < PLACEHOLDER_MAX
    out.extend(guard.feed(stop()))
    assert guard.held == 0
    assert collected(out) == restore_text(text, LOOKUP)


@settings(max_examples=400, deadline=None)
@given(st.lists(_piece, max_size=8), st.lists(st.integers(0, 10**6), max_size=15), st.text(max_size=5))
def test_any_split_of_tool_json_parses_to_the_real_values(
    pieces: list[str], cuts: list[int], key: str
) -> None:
    value = "".join(pieces)
    doc = json.dumps({key: value, "list": [value, 1]}, ensure_ascii=False)
    events = [start("tool_use"), *(json_delta(p) for p in split(doc, cuts)), stop()]
    out = run(StreamGuard(LOOKUP), events)
    real = restore_text(value, LOOKUP)
    assert json.loads(collected(out)) == {key: real, "list": [real, 1]}


_garbage = st.one_of(
    st.text(max_size=20).map(lambda t: SSEEvent(event="content_block_delta", data=t)),
    st.sampled_from(
        [
            SSEEvent(data="[1, 2]"),
            SSEEvent(data='{"type": "content_block_delta"}'),
            SSEEvent(
                data='{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}'
            ),
            SSEEvent(data='{"type": "content_block_delta", "index": "0", "delta": {}}'),
            SSEEvent(data='{"type": "content_block_start", "index": 0}'),
            SSEEvent(data='{"type": "content_block_stop"}'),
            SSEEvent(data='{"type": "mystery", "index": 0}'),
            SSEEvent(comments=(" ping",)),
            SSEEvent(event="x"),
        ]
    ),
)


MARKERS = {p: f"\x00{i}\x00" for i, p in enumerate(PLACEHOLDERS)}  # values no filler can contain


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_piece.map(text_delta), _garbage), max_size=20))
def test_malformed_events_never_crash_or_lose_text(events: list[SSEEvent]) -> None:
    """Malformed events pass through as they are (after held tails are sent): no exception, no text
    lost, duplicated or reordered; a placeholder cut by a malformed event may stay unrestored."""
    guard = StreamGuard(MARKERS.get)
    out: list[SSEEvent] = []
    for e in [start("text"), *events, stop()]:
        out.extend(guard.feed(e))
    out.extend(guard.close())
    assert guard.held == 0
    passed = [e for e in events if delta_text(e) is None]
    assert [e for e in out if any(e is g for g in passed)] == passed
    # one left-to-right pass: replacing marker by marker could match across two adjacent markers
    sent = re.sub("\x00(\\d+)\x00", lambda m: PLACEHOLDERS[int(m[1])], collected(out))
    assert sent == collected(events)
    if not any(e.data is not None and delta_text(e) is None for e in events):
        assert guard.malformed == 0


def test_malformed_event_sends_the_held_tail_first_and_passes_through() -> None:
    p = PLACEHOLDERS[0]
    bad = SSEEvent(
        event="content_block_delta", data="{not json", raw=b"event: content_block_delta\ndata: {not json\n\n"
    )
    guard = StreamGuard(LOOKUP)
    out = run(guard, [start("text"), text_delta("x " + p[:12]), bad, text_delta(p[12:]), stop()])
    assert out[3] is bad and guard.malformed == 1
    assert delta_text(out[2]) == p[:12]  # the held tail went out before the malformed event
    assert collected(out) == "x " + p  # cut by the bad event, so not restored, but nothing lost


# -- where a placeholder goes (outbound DLP, issue 23) ----------------------------------------------

SECRET_PH = VAULT.placeholder_for("s", "aws-access-key-id", "AKIAQYLPMN5HHHFPZAM2")
EMAIL_PH = VAULT.placeholder_for("s", "pii-email", "jane@corp.example")
SSN_PH = VAULT.placeholder_for("s", "pii-us-ssn", "536-22-8164")
OUT_VALUES = {p: VAULT.value_for("s", p) for p in (SECRET_PH, EMAIL_PH, SSN_PH)}
SETTINGS = OutboundSettings(pii=(("pii-us-ssn", "deny"),), local_mcp=("notes",))


def tool_start(name: str, index: int = 0, kind: str = "tool_use") -> SSEEvent:
    block = {"type": kind, "id": "toolu_9", "name": name, "input": {}}
    return ev({"type": "content_block_start", "index": index, "content_block": block})


def streamed_input(name: str, kind: str = "tool_use", with_start: bool = True) -> tuple[dict[str, Any], int]:
    lookup = OutboundLookup(OUT_VALUES.get, SETTINGS)
    text = json.dumps({"text": f"key {SECRET_PH} mail {EMAIL_PH} ssn {SSN_PH}"})
    events = [json_delta(text[i : i + 7]) for i in range(0, len(text), 7)]
    out = run(StreamGuard(lookup), [*([tool_start(name, kind=kind)] if with_start else []), *events, stop()])
    return json.loads(collected(out)), lookup.withheld


def test_a_sink_tool_input_gets_only_what_may_travel_there() -> None:
    for name in ("mcp__chat__post_message", "WebFetch", "WebSearch"):
        restored, withheld = streamed_input(name)
        assert restored["text"] == f"key {SECRET_PH} mail jane@corp.example ssn {SSN_PH}", name
        assert withheld == 2
    for kind in ("server_tool_use", "mcp_tool_use"):  # they run at Anthropic: always sinks
        assert streamed_input("web_search", kind=kind)[0]["text"].startswith(f"key {SECRET_PH}")
    # a tool input whose start never came: its tool is unknown, so it counts as a sink
    assert streamed_input("", with_start=False)[0]["text"].startswith(f"key {SECRET_PH}")


def test_a_local_tool_or_text_gets_every_value() -> None:
    for name in ("Bash", "Write", "mcp__notes__add"):
        restored, withheld = streamed_input(name)
        assert restored["text"] == "key AKIAQYLPMN5HHHFPZAM2 mail jane@corp.example ssn 536-22-8164", name
        assert withheld == 0
    guard = StreamGuard(OutboundLookup(OUT_VALUES.get, SETTINGS))
    out = run(guard, [start("text"), text_delta(f"the key is {SECRET_PH}"), stop()])
    assert collected(out) == "the key is AKIAQYLPMN5HHHFPZAM2"


def test_a_whole_message_keeps_secrets_out_of_sink_inputs() -> None:
    lookup = OutboundLookup(OUT_VALUES.get, SETTINGS)
    message = {
        "content": [
            {"type": "text", "text": f"sending {SECRET_PH}"},
            {
                "type": "tool_use",
                "id": "a",
                "name": "mcp__chat__post",
                "input": {"t": f"{SECRET_PH} {EMAIL_PH}"},
            },
            {"type": "tool_use", "id": "b", "name": "Bash", "input": {"command": f"aws --key {SECRET_PH}"}},
        ]
    }
    restored = restore_message(message, lookup)
    assert restored["content"][0]["text"] == "sending AKIAQYLPMN5HHHFPZAM2"
    assert restored["content"][1]["input"] == {"t": f"{SECRET_PH} jane@corp.example"}
    assert restored["content"][2]["input"] == {"command": "aws --key AKIAQYLPMN5HHHFPZAM2"}
    assert lookup.withheld == 1
    # a plain lookup (no policy known) restores everywhere, as before
    assert restore_message(message, OUT_VALUES.get)["content"][1]["input"]["t"].startswith("AKIA")
    assert lookup("[[RAMPARTS:EMAIL:ffffffff]]") is None

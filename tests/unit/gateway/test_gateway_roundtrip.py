"""The cores together, as the proxy will use them: mask a request with one replica's vault, stream a
scripted answer whose tool call carries the placeholders split across events, restore with the other
replica, and check the client receives the real values while upstream never saw them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ramparts.detect.scanner import Detectors
from ramparts.gateway.mask import Masker, MaskPolicy, detector_scanner
from ramparts.gateway.restore import StreamGuard
from ramparts.gateway.sse import SSEDecoder, SSEEvent, encode
from ramparts.gateway.vault import PLACEHOLDER, SQLiteVault

KEY = b"f" * 32
EMAIL, PHONE, AWS = "jane.roe@acme-corp.io", "+1 415 555 2671", "AKIAIOSFODNN7EXAMPLX"
FILE = f"owner: Jane Roe\nemail: {EMAIL}\nphone: {PHONE}\naws_access_key_id = {AWS}\n"


def sse(kind: str, obj: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


def scripted_answer(tool_input: str) -> bytes:
    """What a scripted upstream streams: a text block, then a Write call split into 7-byte deltas."""
    out = [
        sse("message_start", {"type": "message_start", "message": {"id": "msg_1", "content": []}}),
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Saving."}},
        ),
        sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        b": keep-alive\n\n",
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}},
            },
        ),
    ]
    for i in range(0, len(tool_input), 7):
        delta = {"type": "input_json_delta", "partial_json": tool_input[i : i + 7]}
        out.append(sse("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta}))
    out += [
        sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}}),
        sse("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(out)


def test_two_replicas_mask_then_restore_a_split_tool_call(
    tmp_path: Path, shared_detector_cache: Path
) -> None:
    detectors = Detectors(("secret", "pii"), cache_dir=str(shared_detector_cache))
    db = str(tmp_path / "state" / "gateway.db")
    replica_a, replica_b = SQLiteVault(db), SQLiteVault(db)
    session = "0b7c2f5e-session"

    request = {
        "model": "claude-sonnet",
        "stream": True,
        "messages": [
            {"role": "user", "content": "copy config.txt to backup.txt"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_0",
                        "name": "Read",
                        "input": {"file_path": "config.txt"},
                    }
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": FILE}]},
        ],
    }
    upstream_body = (
        Masker(MaskPolicy(), detector_scanner(detectors, KEY), replica_a).mask_request(request, session).body
    )
    sent = json.dumps(upstream_body)
    for value in (EMAIL, PHONE, AWS):
        assert value not in sent
    masked_file = upstream_body["messages"][2]["content"][0]["content"]
    assert len(PLACEHOLDER.findall(masked_file)) == 3

    # the model copies the masked file into a Write call; the second turn lands on replica B
    tool_input = json.dumps({"file_path": "backup.txt", "content": masked_file})
    upstream = scripted_answer(tool_input)
    decoder, guard = SSEDecoder(), StreamGuard(replica_b.known(session).get)
    downstream = bytearray()
    for i in range(0, len(upstream), 13):  # arbitrary network chunks
        for item in decoder.feed(upstream[i : i + 13]):
            for out in guard.feed(item):
                downstream += encode(out)
    for out in guard.close():
        downstream += encode(out)
    assert decoder.pending() == b""

    events: list[SSEEvent] = SSEDecoder().feed(bytes(downstream))
    assert any(e.comments == (" keep-alive",) for e in events)
    partial = "".join(
        json.loads(e.data)["delta"]["partial_json"]
        for e in events
        if e.data
        and json.loads(e.data).get("type") == "content_block_delta"
        and json.loads(e.data)["index"] == 1
    )
    assert json.loads(partial) == {"file_path": "backup.txt", "content": FILE}
    assert guard.restored == 3 and guard.unknown == 0
    # events that carried no placeholder went out as the upstream's own bytes
    first = upstream.index(b"\n\n") + 2
    assert downstream[:first] == upstream[:first]

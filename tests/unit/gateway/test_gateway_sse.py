"""SSE decoding: any chunking gives the same events, raw bytes pass through, encoding round-trips."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.gateway.sse import SSEDecoder, SSEError, SSEEvent, encode

ANTHROPIC = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","content":[]}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"caf\xc3\xa9 \xe2\x9f\xa6 \xf0\x9f\x98\x80"}}\n\n'
    b": keep-alive\n"
    b"\n"
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def decode_all(chunks: list[bytes]) -> tuple[list[SSEEvent], bytes]:
    decoder = SSEDecoder()
    out: list[SSEEvent] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out, decoder.pending()


def fields(items: list[SSEEvent]) -> list[tuple[object, ...]]:
    return [(e.event, e.data, e.id, e.retry, e.comments) for e in items]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


def test_anthropic_stream_decodes() -> None:
    items, rest = decode_all([ANTHROPIC])
    assert rest == b""
    events = [e for e in items if e.dispatch]
    assert [e.event for e in events] == ["message_start", "ping", "content_block_delta", "message_stop"]
    assert "café ⟦ 😀" in (events[2].data or "")
    assert any(e.comments == (" keep-alive",) for e in items)
    assert b"".join(e.raw for e in items) == ANTHROPIC


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_endings(eol: bytes) -> None:
    stream = ANTHROPIC.replace(b"\n", eol)
    items, rest = decode_all([stream])
    assert fields(items) == fields(decode_all([ANTHROPIC])[0])
    assert b"".join(e.raw for e in items) + rest == stream


def test_every_byte_boundary() -> None:
    reference = fields(decode_all([ANTHROPIC])[0])
    for i in range(len(ANTHROPIC) + 1):
        items, rest = decode_all([ANTHROPIC[:i], ANTHROPIC[i:]])
        assert fields(items) == reference, i
        assert b"".join(e.raw for e in items) + rest == ANTHROPIC
    items, _ = decode_all([bytes([b]) for b in ANTHROPIC])
    assert fields(items) == reference


def test_fields_per_spec() -> None:
    stream = (
        b"\xef\xbb\xbfdata\ndata:x\ndata:  two spaces\nid: 7\nretry: 1500\nretry: x\nevent: e\n"
        b"unknown: y\nid: a\x00b\n\n"
    )
    items, _ = decode_all([stream])
    assert fields(items) == [("e", "\nx\n two spaces", "7", 1500, ())]
    assert items[0].raw == stream  # the BOM stays in the bytes passed through


def test_comment_alone_is_returned_at_once_and_inside_a_block_stays_there() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b": ping\n") == [SSEEvent(comments=(" ping",), raw=b": ping\n")]
    assert decoder.feed(b"event: x\n:inner\n") == []
    [item] = decoder.feed(b"data: 1\n\n")
    assert (item.event, item.data, item.comments) == ("x", "1", ("inner",))


def test_block_without_data_is_not_a_dispatch_but_is_returned() -> None:
    items, _ = decode_all([b"event: lonely\n\n"])
    assert items[0].event == "lonely" and not items[0].dispatch


def test_cr_at_chunk_end_then_lf() -> None:
    items, rest = decode_all([b"data: a\r\n\r", b"\ndata: b\r\n\r\n"])
    assert [e.data for e in items if e.dispatch] == ["a", "b"]
    assert b"".join(e.raw for e in items) + rest == b"data: a\r\n\r\ndata: b\r\n\r\n"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    items, _ = decode_all([b"data: \xff\xfe\n\n"])
    assert items[0].data == "\ufffd\ufffd"


def test_oversized_event_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    decoder.feed(b"data: " + b"x" * 1000)
    with pytest.raises(SSEError):
        decoder.feed(b"x" * 100)


def test_large_event_in_small_chunks() -> None:
    body = b"data: " + b"y" * (10 * 1024 * 1024) + b"\n\n"
    decoder = SSEDecoder()
    items: list[SSEEvent] = []
    for i in range(0, len(body), 65536):
        items.extend(decoder.feed(body[i : i + 65536]))
    assert len(items) == 1 and len(items[0].data or "") == 10 * 1024 * 1024


def test_encode_unchanged_is_raw_and_changed_is_serialised() -> None:
    [item] = decode_all([b"event: x\r\ndata:1\r\n\r\n"])[0]
    assert encode(item) == b"event: x\r\ndata:1\r\n\r\n"
    assert encode(item.with_data("2\n3")) == b"event: x\ndata: 2\ndata: 3\n\n"
    with pytest.raises(ValueError):
        encode(SSEEvent(event="a\nb", data=""))


# --- properties -------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)), max_size=30)
_event = st.builds(
    SSEEvent,
    event=st.none() | _text.filter(lambda s: s != ""),
    data=st.none() | st.lists(_text, min_size=1, max_size=4).map("\n".join),
    id=st.none() | _text,
    retry=st.none() | st.integers(0, 10**9),
    comments=st.lists(_text, max_size=2).map(tuple),
).filter(lambda e: e.data is not None or e.event is not None or e.id is not None or e.retry is not None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_event, max_size=8),
    st.lists(st.integers(0, 10**6), max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_chunking_decodes_to_the_same_events(events: list[SSEEvent], cuts: list[int], eol: str) -> None:
    stream = b"".join(encode(e) for e in events).replace(b"\n", eol.encode())
    whole, rest = decode_all([stream])
    chunked, rest2 = decode_all(split(stream, cuts))
    assert fields(chunked) == fields(whole)
    assert rest == b""
    # a LF that arrives after its CR was already taken as a line end waits for the next item's bytes
    assert rest2 in (b"", b"\n")
    assert b"".join(e.raw for e in chunked) + rest2 == stream
    assert [(e.event, e.data, e.id, e.retry, e.comments) for e in events] == fields(whole)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(0, 10**6), max_size=10))
def test_arbitrary_bytes_never_crash_and_lose_nothing(stream: bytes, cuts: list[int]) -> None:
    whole, rest = decode_all([stream])
    chunked, rest2 = decode_all(split(stream, cuts))
    assert b"".join(e.raw for e in chunked) + rest2 == stream
    assert b"".join(e.raw for e in whole) + rest == stream
    # an event split from its trailing LF (CR at a chunk end) keeps its fields
    assert [f for f in fields(chunked) if f != (None, None, None, None, ())] == [
        f for f in fields(whole) if f != (None, None, None, None, ())
    ]


class _LineByLine(SSEDecoder):
    """The decoder without its whole-block fast path: every line through the line-by-line path."""

    def _simple_blocks(self, out: list[SSEEvent]) -> None:
        return None


def _items(decoder: SSEDecoder, chunks: list[bytes]) -> tuple[list[tuple[object, ...]], bytes]:
    out: list[SSEEvent] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return [(e.event, e.data, e.id, e.retry, e.comments, e.raw) for e in out], decoder.pending()


_piece = st.sampled_from(
    [
        *(b"event: a\n", b"data: x\n", b"data:y\n", b"id: 1\n", b"retry: 5\n", b": c\n"),
        *(b"\n", b"\r\n", b"\r", b"data: caf\xc3", b"\xa9\n", b"\xef\xbb\xbf", b"\xff", b"x", b":", b"id\n"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_piece, max_size=30) | st.binary(max_size=200),
    st.lists(st.integers(0, 10**6), max_size=10),
)
def test_fast_path_gives_what_the_line_by_line_path_gives(
    stream: list[bytes] | bytes, cuts: list[int]
) -> None:
    data = stream if isinstance(stream, bytes) else b"".join(stream)
    for chunks in ([data], split(data, cuts), [data[i : i + 1] for i in range(len(data))]):
        assert _items(SSEDecoder(), chunks) == _items(_LineByLine(), chunks)


def test_fast_path_takes_the_anthropic_blocks_and_hands_the_rest_on() -> None:
    decoder = SSEDecoder()
    # two whole blocks, then a keep-alive comment, a block split in two chunks, and a CRLF block
    head = ANTHROPIC[: ANTHROPIC.index(b"event: message_stop")]
    items = decoder.feed(head + b'event: x\ndata: {"a"')
    assert [e.event for e in items if e.dispatch] == ["message_start", "ping", "content_block_delta"]
    assert [e.comments for e in items[-2:]] == [(" keep-alive",), ()]  # the comment, the blank line
    assert b"".join(e.raw for e in items) == head
    more = decoder.feed(b":1}\n\nevent: y\r\ndata: 2\r\n\r\n")
    assert [(e.event, e.data) for e in more] == [("x", '{"a":1}'), ("y", "2")]
    assert decoder.pending() == b""

"""Server-sent events, sans-IO: bytes in, events out; events back to bytes.

The decoder follows the WHATWG "event stream interpretation" (CRLF, LF and CR line endings; ``:``
comments; ``event``/``data``/``id``/``retry`` fields; one leading space after the colon stripped; a
leading BOM dropped) and works on chunks split anywhere, including inside a UTF-8 sequence: lines are
cut on bytes (CR and LF never occur inside a multi-byte sequence) and decoded only once complete.

Unlike a browser's ``EventSource`` it is built for a proxy, so it loses nothing:

- every item it returns carries ``raw``, the exact bytes it was decoded from; the concatenation of
  every ``raw`` plus :meth:`SSEDecoder.pending` is the input, byte for byte, so an event the gateway
  does not change is written back as it came (:func:`encode` returns ``raw`` when it is set);
- blocks that a browser would not dispatch (comments only, an ``event:`` without ``data:``, stray
  blank lines) are returned too, as items whose ``data`` is ``None``: keep-alive comments reach the
  client, and a comment that arrives on its own is returned at once, without waiting for a blank line.

Memory is bounded: a block larger than ``max_event_bytes`` raises :class:`SSEError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..errors import GatewayError

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
_EOL = re.compile(rb"[\r\n]")


class SSEError(GatewayError):
    """The event stream cannot be decoded within the limits (an event larger than allowed)."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One block of an event stream (the lines up to a blank line), or one stand-alone comment."""

    event: str | None = None
    """The ``event:`` field (the last one wins); ``None`` when absent (a browser would say ``message``)."""
    data: str | None = None
    """The ``data:`` lines joined with ``\\n``; ``None`` when the block had none (nothing to dispatch)."""
    id: str | None = None
    retry: int | None = None
    comments: tuple[str, ...] = ()
    raw: bytes = b""
    """The bytes this item was decoded from; empty for an event built or changed by the gateway."""

    @property
    def dispatch(self) -> bool:
        """Whether a browser would dispatch this block as an event (it has data)."""
        return self.data is not None

    def with_data(self, data: str) -> SSEEvent:
        """The same event with other data (and no raw bytes, so :func:`encode` serialises it)."""
        return replace(self, data=data, raw=b"")


class SSEDecoder:
    """Incremental decoder. :meth:`feed` returns the items completed by a chunk, in order."""

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._buf = bytearray()  # bytes of the current block not yet returned
        self._scan = 0  # where the search for the next line end resumes in _buf
        self._line_start = 0  # start of the current (incomplete) line in _buf
        self._skip_lf = False  # the last line ended with CR: a LF right after it belongs to it
        self._first = True  # a BOM may start the stream
        self._reset_fields()

    def _reset_fields(self) -> None:
        self._event: str | None = None
        self._data: list[str] | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self._comments: list[str] = []
        self._fields = 0  # lines of the current block other than blank ones

    def pending(self) -> bytes:
        """Bytes received that belong to no returned item yet (an incomplete block)."""
        return bytes(self._buf)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if not chunk:
            return out
        buf = self._buf
        buf += chunk
        if self._first:
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(bytes(buf)):
                return out  # maybe a BOM still arriving
            self._first = False
            if buf.startswith(b"\xef\xbb\xbf"):
                self._line_start = self._scan = 3
        if self._line_start == 0 and not self._fields and not self._skip_lf:
            self._simple_blocks(out)
        while True:
            if self._skip_lf and self._scan < len(buf):
                self._skip_lf = False
                if buf[self._scan] == 0x0A:
                    self._scan += 1
                    self._line_start = self._scan
            found = _EOL.search(buf, self._scan)
            if found is None:
                self._scan = len(buf)
                break
            end = found.start()
            line = bytes(buf[self._line_start : end])
            if buf[end] == 0x0D:
                if end + 1 < len(buf):
                    nxt = end + 2 if buf[end + 1] == 0x0A else end + 1
                else:
                    nxt = end + 1
                    self._skip_lf = True  # a LF may follow in the next chunk
            else:
                nxt = end + 1
            self._scan = self._line_start = nxt
            item = self._line(line, nxt)
            if item is not None:
                out.append(item)
        if len(self._buf) > self.max_event_bytes:
            raise SSEError(f"server-sent event larger than {self.max_event_bytes} bytes")
        return out

    def _simple_blocks(self, out: list[SSEEvent]) -> None:
        """The fast path for what an API sends: whole blocks of ``name: value`` lines ending in LF,
        at the start of the buffer, each cut at its ``\\n\\n`` and parsed in one go. It stops at the
        first block that is anything else (CR line endings, a comment, a stray blank line, a block
        still arriving), which the line-by-line path below then takes, with the same result."""
        buf = self._buf
        pos = 0
        while True:
            end = buf.find(b"\n\n", pos)
            if end <= pos:  # no complete block, or a blank line first
                break
            raw = bytes(buf[pos : end + 2])
            # LF only, no line that is blank (the first) or a comment: the line-by-line path's
            if raw[0] in (0x0A, 0x3A) or b"\r" in raw or b"\n:" in raw:
                break
            for line in raw[:-2].split(b"\n"):
                self._field(line.decode("utf-8", "replace"))
            out.append(self._block(raw))
            pos = end + 2
        if pos:
            del buf[:pos]
            self._scan = self._line_start = 0

    def _block(self, raw: bytes) -> SSEEvent:
        item = SSEEvent(
            event=self._event,
            data=None if self._data is None else "\n".join(self._data),
            id=self._id,
            retry=self._retry,
            comments=tuple(self._comments),
            raw=raw,
        )
        self._reset_fields()
        return item

    def _take(self, upto: int) -> bytes:
        raw = bytes(self._buf[:upto])
        del self._buf[:upto]
        self._scan -= upto
        self._line_start -= upto
        return raw

    def _line(self, line_bytes: bytes, upto: int) -> SSEEvent | None:
        if not line_bytes:  # a blank line ends the block
            return self._block(self._take(upto))
        line = line_bytes.decode("utf-8", "replace")
        if line.startswith(":"):
            value = line[1:]
            if self._fields == 0:  # a comment on its own: pass it on now (keep-alives)
                return SSEEvent(comments=(value,), raw=self._take(upto))
            self._comments.append(value)
            return None
        self._field(line)
        return None

    def _field(self, line: str) -> None:
        """One ``name: value`` line (not a comment) of the current block."""
        self._fields += 1
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            if self._data is None:
                self._data = []
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)


def _check(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an SSE {what} cannot hold a line break")
    return value


def encode(item: SSEEvent) -> bytes:
    """The bytes of an item: its ``raw`` bytes when it has them, else a fresh serialisation.

    Fields are written as ``name: value`` lines (``event``, ``id``, ``retry``, then one ``data``
    line per line of data; comments after the first field) ending with a blank line, LF line endings throughout; decoding
    the result gives the same fields back.
    """
    if item.raw:
        return item.raw
    comments = [":" + _check(c, "comment") for c in item.comments]
    lines: list[str] = []
    if item.event is not None:
        lines.append("event: " + _check(item.event, "event name"))
    if item.id is not None:
        lines.append("id: " + _check(item.id, "id"))
    if item.retry is not None:
        lines.append(f"retry: {int(item.retry)}")
    if item.data is not None:
        if "\r" in item.data:
            raise ValueError("SSE data cannot hold a carriage return")
        lines.extend("data: " + part for part in item.data.split("\n"))
    if not lines:  # stand-alone comments (or an empty block)
        return ("".join(c + "\n" for c in comments) or "\n").encode("utf-8")
    lines[1:1] = comments  # after the first field, so they stay part of this block
    return ("\n".join(lines) + "\n\n").encode("utf-8")

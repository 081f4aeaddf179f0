"""Sinks for the shipper: each module imports its third-party library only when a sink is built.

The shared envelope (JSONL, HTTP, Firehose) is one JSON object per item::

    {"kind":"record","log_id":"…","seq":42,"time":"…","record":{…the record, byte for byte…}}
    {"kind":"checkpoint","log_id":"…","seq":42,"time":"…","checkpoint":"…the signed note…"}

A record's canonical bytes are spliced in verbatim, so a receiver re-hashing ``record`` with the
same canonicalisation gets exactly the bytes the log committed to. ``(log_id, seq, kind)`` is the
idempotency key: receivers drop duplicates, which at-least-once delivery produces after a crash.
"""

from __future__ import annotations

import json

from ..ship import ShipItem


def envelope(item: ShipItem) -> bytes:
    """The item as one compact JSON object (no newline inside: JSON escapes CR/LF in strings)."""
    head = json.dumps(
        {"kind": item.kind, "log_id": item.log_id, "seq": item.seq, "time": item.time},
        separators=(",", ":"),
        ensure_ascii=True,
    )[:-1]
    if item.kind == "record":
        body = item.body.decode("utf-8")
        json.loads(body)  # a body that is not JSON must not corrupt the envelope
        return f'{head},"record":{body}}}'.encode()
    note = json.dumps(item.body.decode("utf-8"), ensure_ascii=True)
    return f'{head},"checkpoint":{note}}}'.encode()

"""Parsing an ingest batch: the body the ``ramparts`` shipping sink (and the generic HTTP sink) posts.

``{"log_id": "…", "verifier": "…", "items": [<envelope>, …]}`` where each envelope is what
:func:`ramparts.audit.sinks.envelope` writes: a record's stored envelope bytes (``{"log":…,"rec":…,"seq":…}``,
exactly what its Merkle leaf hashes) or a signed checkpoint note. Everything is checked before anything
is stored: a batch is accepted whole or refused whole, with a message naming the first bad field
(``items[3].record.rec.decision: …``). Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple

import msgspec

from ..audit.log import envelope_prefix, envelope_suffix
from ..audit.merkle import leaf_hash
from ..audit.record import RecordError, validate

MAX_ITEMS = 5000
LOG_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


class BatchError(ValueError):
    """The batch is malformed; the message names the field (a JSON path without the ``$``)."""


class _Item(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["record", "checkpoint"]
    log_id: str
    seq: int
    time: str = ""
    record: msgspec.Raw = msgspec.Raw(b"")
    checkpoint: str = ""


class _Batch(msgspec.Struct, forbid_unknown_fields=True):
    log_id: str
    items: list[_Item]
    verifier: str = ""


class _Envelope(msgspec.Struct, forbid_unknown_fields=True):
    log: str
    rec: Any
    seq: int


class RecordItem(NamedTuple):
    seq: int
    leaf: bytes
    body: bytes
    """The envelope bytes as the host stored and hashed them."""
    record: Any
    """The validated record (a msgspec Struct with :class:`~ramparts.audit.record.AuditRecord`'s fields)."""


class CheckpointItem(NamedTuple):
    size: int
    note: str


class Batch(NamedTuple):
    log_id: str
    verifier: str
    records: tuple[RecordItem, ...]
    checkpoints: tuple[CheckpointItem, ...]


def _path(message: str, prefix: str) -> str:
    """msgspec says ``… - at `$.items[0].seq```; we say ``items[0].seq: …``."""
    text, sep, where = message.rpartition(" - at `$")
    if sep:
        field = f"{prefix}{where.rstrip('`')}"
        return f"{field.lstrip('.')}: {text}"
    return f"{prefix.rstrip('.') or 'body'}: {message}"


def parse_batch(body: bytes) -> Batch:
    """Parse and validate a whole batch; raise :class:`BatchError` naming the first bad field."""
    try:
        raw = msgspec.json.decode(body, type=_Batch)
    except msgspec.ValidationError as exc:
        raise BatchError(_path(str(exc), "")) from exc
    except msgspec.DecodeError as exc:
        raise BatchError(f"body: not JSON ({exc})") from exc
    if not LOG_ID.fullmatch(raw.log_id):
        raise BatchError("log_id: 1 to 128 letters, digits, dots, dashes or underscores")
    if len(raw.items) > MAX_ITEMS:
        raise BatchError(f"items: {len(raw.items)} items, more than {MAX_ITEMS}")
    if raw.verifier:
        from ..audit.checkpoint import NoteError, Verifier

        try:
            Verifier.parse(raw.verifier)
        except NoteError as exc:
            raise BatchError(f"verifier: {exc}") from exc
    records: list[RecordItem] = []
    checkpoints: list[CheckpointItem] = []
    prefix = envelope_prefix(raw.log_id)
    for i, item in enumerate(raw.items):
        where = f"items[{i}]"
        if item.log_id != raw.log_id:
            raise BatchError(f"{where}.log_id: not the batch's log_id")
        if not 0 <= item.seq < 2**53:
            raise BatchError(f"{where}.seq: must be from 0 to 2**53-1")
        if item.kind == "checkpoint":
            if not item.checkpoint or item.record:
                raise BatchError(f"{where}.checkpoint: a checkpoint item holds a note and no record")
            checkpoints.append(CheckpointItem(item.seq, item.checkpoint))
            continue
        body = bytes(item.record)
        if not body or item.checkpoint:
            raise BatchError(f"{where}.record: a record item holds a record and no checkpoint")
        if not body.startswith(prefix) or not body.endswith(envelope_suffix(item.seq)):
            raise BatchError(f"{where}.record: not the stored envelope of log {raw.log_id} at seq {item.seq}")
        try:
            env = msgspec.json.decode(body, type=_Envelope)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise BatchError(_path(str(exc), f"{where}.record")) from exc
        try:
            record = validate(env.rec)
        except RecordError as exc:
            raise BatchError(_path(str(exc), f"{where}.record.rec")) from exc
        records.append(RecordItem(item.seq, leaf_hash(body), body, record))
    return Batch(raw.log_id, raw.verifier, tuple(records), tuple(checkpoints))

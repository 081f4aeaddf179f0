"""The backend-neutral audit log: canonical records, the Merkle frontier, signed checkpoints, proofs.

A stored record (a *leaf*) is the RFC 8785 (JCS) canonical JSON of an envelope::

    {"log":"<log id>","rec":<the record>,"seq":<seq>}

and its leaf hash is ``SHA-256(0x00 || those bytes)``; the bytes stored are exactly the bytes hashed.
Seqs are 0-based: record ``seq`` is leaf index ``seq`` of the RFC 6962 tree, and after it the tree size
is ``seq + 1``. The envelope binds each record to its log and position, so a moved, copied or
renumbered record is located exactly; JCS puts ``log`` first and ``seq`` last, so the verifier checks
both with a prefix and a suffix comparison.

A checkpoint is signed in the same transaction as every ``checkpoint_every``-th record (so the verifier
can require one at each multiple), and also when ``checkpoint_seconds`` have passed since the last one
(on the next append) and on demand (``checkpoint()``).
"""

from __future__ import annotations

import os
import time

from .. import _json
from .._tuples import NamedTuple
from ..errors import AuditError, StoreError
from .backend import CheckpointRow, Commit, Head, LogMeta, Row
from .merkle import Frontier, consistency_proof, inclusion_proof, leaf_hash, root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any

    from .backend import Backend
    from .checkpoint import (
        Signer,
        Verifier,
    )  # signed or read now and then: the hook does not import them per call

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_SECONDS = 60.0


class StoredRecord(NamedTuple):
    seq: int
    leaf: bytes
    raw: bytes  # the stored, hashed bytes (the envelope)

    @property
    def body(self) -> str:
        """The stored bytes as text (valid UTF-8 unless someone edited the store)."""
        return self.raw.decode("utf-8", "surrogateescape")

    @property
    def hash(self) -> str:
        return self.leaf.hex()

    def envelope(self) -> dict[str, Any]:
        value = _json.loads(self.raw)
        if not isinstance(value, dict):
            raise ValueError("record body is not an object")
        return value

    def data(self) -> dict[str, Any]:
        """The record as appended."""
        rec = self.envelope().get("rec")
        if not isinstance(rec, dict):
            raise ValueError("record body holds no record object")
        return rec


def canonical(record: Any) -> bytes:
    """RFC 8785 canonical JSON. Raises AuditError for what JCS cannot represent exactly (integers beyond
    ±2**53, NaN, lone surrogates, non-string keys).

    A record made only of objects with ASCII keys, arrays, strings, booleans, null, integers within
    ±2**53 and floats that Python writes in plain decimals (every record the adapters build) is written
    by the standard library's C encoder, whose output for those values is the JCS form byte for byte:
    keys sorted (code points and UTF-16 units agree on ASCII), no whitespace, the same string escapes
    (``\\b \\t \\n \\f \\r``, ``\\u00xx`` lowercase, everything else as UTF-8), integers in decimal,
    such floats as their shortest repr. Anything else (an integral or exponent-form float, a non-ASCII
    key, a tuple, a large integer) goes through ``rfc8785``. A property test holds the two to the same
    bytes."""
    if _plain(record):
        try:
            return _dumps(record).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 says why
    import rfc8785

    try:
        return rfc8785.dumps(record)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, TypeError, ValueError) as exc:
        raise AuditError(f"the audit record cannot be canonicalised: {exc}") from exc


def _dumps(record: Any) -> str:
    """``json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode``
    without importing the json package (ramparts._json; a property test holds the two to the same text)."""
    return _json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_JCS_INT = 2**53


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what the standard encoder writes in the JCS form."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_JCS_INT < value < _JCS_INT)
    if kind is float:
        # JCS writes a float as ECMAScript does; for a finite, non-integral float that Python writes
        # without an exponent (1e-4 <= |x| < 1e16) that is Python's own shortest repr (which rfc8785
        # starts from and then leaves as it is): latencies and scores, in most records
        text = repr(value)
        return not text.endswith(".0") and "e" not in text and "n" not in text
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    return False


def envelope_prefix(log_id: str) -> bytes:
    return b'{"log":"' + log_id.encode("ascii") + b'","rec":'


def envelope_suffix(seq: int) -> bytes:
    return b',"seq":' + str(seq).encode("ascii") + b"}"


def origin_for(log_id: str) -> str:
    return f"ramparts.local/audit/{log_id}"


class AuditLog:
    """Appends, checkpoints and proofs over any ``Backend``. One instance per process and backend."""

    def __init__(
        self,
        backend: Backend,
        *,
        key_path: str,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.backend = backend
        self.key_path = key_path
        self.checkpoint_every = checkpoint_every  # for new logs; an existing log keeps its own
        self.checkpoint_seconds = checkpoint_seconds
        self.clock = clock
        self._meta: LogMeta | None = None
        self._signer: Signer | None = None

    # -- identity -----------------------------------------------------------------------------------------

    def meta(self, *, create: bool = False) -> LogMeta | None:
        if self._meta is None:
            self._meta = self.backend.meta()
            if self._meta is None and create:
                log_id = os.urandom(16).hex()
                signer = self._load_signer(origin_for(log_id))
                self._meta = self.backend.create(
                    LogMeta(
                        log_id=log_id,
                        origin=origin_for(log_id),
                        verifier=str(signer.verifier),
                        checkpoint_every=self.checkpoint_every,
                        created=self.clock(),
                    )
                )
        return self._meta

    def _require_meta(self) -> LogMeta:
        meta = self.meta(create=True)
        assert meta is not None
        return meta

    def _load_signer(self, name: str) -> Signer:
        from .keys import load_or_create_signer

        self._signer = load_or_create_signer(self.key_path, name)
        return self._signer

    def signer(self) -> Signer:
        meta = self._require_meta()
        signer = self._signer or self._load_signer(meta.origin)
        if str(signer.verifier) != meta.verifier:
            raise StoreError(
                f"the audit signing key {self.key_path} is not the key of this log ({meta.verifier.split('+')[0]})"
            )
        return signer

    def verifier(self) -> Verifier | None:
        from .checkpoint import Verifier

        meta = self.meta()
        return Verifier.parse(meta.verifier) if meta else None

    # -- appends ------------------------------------------------------------------------------------------

    def _due(self, size: int, head: Head, now: float, every: int) -> bool:
        if size % every == 0:
            return True
        return head.checkpoint_size < size and now - head.checkpoint_time >= self.checkpoint_seconds

    def _sign(self, meta: LogMeta, frontier: Frontier) -> str:
        from .checkpoint import Checkpoint, sign_note

        return sign_note(Checkpoint(meta.origin, frontier.size, frontier.root()).body(), self.signer())

    def append(self, record: dict[str, Any]) -> StoredRecord:
        """Append one record; return once it (and any checkpoint it triggers) is durably committed."""
        return self.append_encoded([canonical(record)])[0]

    def append_many(self, records: Iterable[dict[str, Any]]) -> list[StoredRecord]:
        """Append several records in one transaction (one durable commit)."""
        return self.append_encoded([canonical(r) for r in records])

    def append_encoded(self, encoded: list[bytes]) -> list[StoredRecord]:
        """Append records already in RFC 8785 form (``canonical``); the caller vouches for the bytes."""
        meta = self._require_meta()
        prefix, every = envelope_prefix(meta.log_id), meta.checkpoint_every
        now = self.clock()
        guess = self.backend.head()  # outside the lock: only to load the key before taking it
        if any(self._due(guess.size + i + 1, guess, now, every) for i in range(min(len(encoded), every))):
            self.signer()
        out: list[StoredRecord] = []

        def step(head: Head) -> Commit:
            out.clear()
            frontier = Frontier.from_bytes(head.size, head.frontier)
            rows: list[Row] = []
            notes: list[tuple[int, str]] = []
            cp_size, cp_time = head.checkpoint_size, head.checkpoint_time
            for rec in encoded:
                seq = frontier.size
                body = prefix + rec + envelope_suffix(seq)
                leaf = leaf_hash(body)
                frontier.append(leaf)
                rows.append(Row(seq, leaf, body))
                out.append(StoredRecord(seq, leaf, body))
                if self._due(frontier.size, Head(frontier.size, b"", cp_size, cp_time), now, every):
                    notes.append((frontier.size, self._sign(meta, frontier)))
                    cp_size, cp_time = frontier.size, now
            return Commit(Head(frontier.size, frontier.to_bytes(), cp_size, cp_time), rows, notes)

        self.backend.write(step)
        return out

    def checkpoint(self) -> str:
        """A signed checkpoint note of the log as it is now (the latest one if it already covers it)."""
        meta = self._require_meta()
        self.signer()
        now = self.clock()
        made: list[str] = []

        def step(head: Head) -> Commit | None:
            if head.checkpoint_size == head.size:
                return None
            frontier = Frontier.from_bytes(head.size, head.frontier)
            note = self._sign(meta, frontier)
            made.append(note)
            return Commit(Head(head.size, head.frontier, head.size, now), (), [(head.size, note)])

        self.backend.write(step)
        if made:
            return made[0]
        latest = self.latest_checkpoint()
        if latest is None:  # an empty log that was checkpointed before: checkpoint_size == size == 0
            raise StoreError("the log's head names a checkpoint that is not stored")
        return latest.note

    # -- reads --------------------------------------------------------------------------------------------

    def records(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        for batch in self.backend.rows(start, stop, batch=4096):
            for seq, leaf, body in batch:
                yield StoredRecord(seq, leaf, body)

    def tail(self, count: int) -> list[StoredRecord]:
        return [StoredRecord(*r) for r in self.backend.last_rows(count)]

    def latest_checkpoint(self, verifier: Verifier | None = None) -> CheckpointRow | None:
        """The largest stored checkpoint whose signature verifies."""
        from .checkpoint import NoteError, open_checkpoint

        verifier = verifier or self.verifier()
        if verifier is None:
            return None
        best: CheckpointRow | None = None
        for cp in self.backend.checkpoints():
            try:
                open_checkpoint(cp.note, [verifier])
            except NoteError:
                continue
            if best is None or cp.size > best.size:
                best = cp
        return best

    # -- proofs -------------------------------------------------------------------------------------------

    def prove(self, seq: int) -> dict[str, Any]:
        """An inclusion proof of record ``seq`` in the latest checkpoint (made now if none covers it)."""
        meta = self._require_meta()
        latest = self.latest_checkpoint()
        note = self.checkpoint() if latest is None or latest.size <= seq else latest.note
        from .checkpoint import Verifier, open_checkpoint

        cp, _ = open_checkpoint(note, [Verifier.parse(meta.verifier)])
        leaves = self.backend.leaves(0, cp.size)
        if len(leaves) != cp.size or root(leaves) != cp.root:
            raise AuditError("the stored leaves do not match the checkpoint: run `ramparts audit verify`")
        if not 0 <= seq < cp.size:
            raise AuditError(f"record {seq} is not in the log (size {cp.size})")
        rec = next(self.records(seq, seq + 1))
        return {
            "log_id": meta.log_id,
            "seq": seq,
            "leaf_index": seq,
            "tree_size": cp.size,
            "body": rec.body,
            "leaf_hash": rec.leaf.hex(),
            "proof": [h.hex() for h in inclusion_proof(seq, leaves)],
            "root": cp.root.hex(),
            "checkpoint": note,
            "verifier": meta.verifier,
        }

    def consistency(self, old: int, new: int) -> dict[str, Any]:
        """A consistency proof between the log's first ``old`` and first ``new`` records."""
        meta = self._require_meta()
        leaves = self.backend.leaves(0, new)
        if not 0 <= old <= new <= len(leaves):
            raise AuditError(f"need 0 <= OLD <= NEW <= {len(leaves)} (the log's size)")
        return {
            "log_id": meta.log_id,
            "old_size": old,
            "new_size": new,
            "old_root": root(leaves[:old]).hex(),
            "new_root": root(leaves).hex(),
            "proof": [h.hex() for h in consistency_proof(old, leaves)],
            "verifier": meta.verifier,
        }

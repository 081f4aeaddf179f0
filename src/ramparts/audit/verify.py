"""Verify an audit log end to end; one ``Problem`` per finding, with the first bad record when defined.

What is checked, in one pass over the stored rows (leaf hashes recomputed with ``hashlib``):

- each row: seqs dense from 0 (a gap is a *deleted* record); ``SHA-256(0x00 || body)`` equals the stored
  leaf hash (else *modified*); the body is this log's envelope carrying this seq (else *forged*,
  *foreign*, or — classified by how seqs are displaced — *reordered*, *duplicate*, *inserted*, *deleted*);
- the tree over the stored leaf hashes: the root at each signed checkpoint's size must equal the signed
  root; the first mismatch, after the last match, bounds the first changed record to that interval
  (*changed*: what an attacker who recomputed hashes without the key leaves behind); the head's frontier
  must match (*head-mismatch*);
- checkpoints: signature by the log's key (*bad-signature*), origin (*foreign-checkpoint*), two valid
  ones of one size with different roots (*equivocation*), one contradicted by a later valid one
  (*inconsistent-checkpoint*), one at every multiple of the log's interval (*missing-checkpoint*);
- sizes: a checkpoint, the head or the anchor covering more records than exist (*truncated*: the tail
  was deleted or the file rolled back to an older copy); an anchor whose root the log does not extend
  (*rollback*).

A torn tail cannot occur in the SQLite backend (record and head are one transaction); backends that
declare ``atomic = False`` get rows beyond the head reported as ``torn-tail``, a crash, not tampering.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple

from .backend import LogMeta
from .checkpoint import Checkpoint, NoteError, Verifier, open_checkpoint, peek_checkpoint
from .merkle import EMPTY_ROOT, Frontier, ProofError, fold, subtree_ranges
from .render import escape

if TYPE_CHECKING:
    from .backend import Backend

_ENVELOPE = re.compile(rb'\A\{"log":"([^"]*)","rec":.*,"seq":(0|[1-9][0-9]*)\}\Z', re.DOTALL)
CHUNK = 1 << 14
CRASH_KINDS = frozenset({"torn-tail"})


class Problem(NamedTuple):
    seq: int | None  # the first bad record, when the finding locates one (or the start of a range)
    kind: str
    detail: str
    last: int | None = None  # the end (inclusive) of the range the first bad record is in
    where: str = ""  # e.g. "checkpoint #3 (size 3000)"; empty for records

    @property
    def exact(self) -> bool:
        return self.seq is not None and (self.last is None or self.last == self.seq)

    @property
    def tamper(self) -> bool:
        return self.kind not in CRASH_KINDS

    def line(self) -> str:
        if self.where:
            place = self.where
        elif self.seq is None:
            place = "log"
        elif self.exact:
            place = f"record {self.seq}"
        else:
            place = f"records {self.seq}-{self.last}"
        label = "INVALID" if self.tamper else "CRASH"
        return escape(f"{place}: {label}: {self.kind}: {self.detail}")


@dataclass
class Report:
    name: str
    log_id: str | None
    count: int = 0  # rows read
    end: int = 0  # last seq + 1
    checkpoints: int = 0  # valid checkpoints
    latest: int | None = None  # size of the largest valid checkpoint
    anchor: int | None = None
    verifier_source: str = "log"
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.tamper for p in self.problems)

    @property
    def first_bad(self) -> int | None:
        """The first bad record: the lowest exactly located seq, unless a range finding proves an earlier one.

        A range finding (checkpoint or head mismatch) says the records before its start are intact and the
        first bad one is at or before its end; several ranges intersect.
        """
        exact = [p.seq for p in self.problems if p.tamper and p.exact and p.seq is not None]
        ranges = [
            (p.seq, p.last) for p in self.problems if p.seq is not None and p.last is not None and not p.exact
        ]
        lo = max((r[0] for r in ranges), default=None)
        hi = min((r[1] for r in ranges), default=None)
        if exact and (hi is None or min(exact) <= hi):
            return min(exact)
        return lo

    def lines(self) -> list[str]:
        out = [
            f"audit log {self.log_id or '(no metadata)'} at {escape(self.name)}",
            f"found: {self.count} record(s), seq 0-{self.end - 1}" if self.count else "found: no records",
            f"checkpoints: {self.checkpoints} valid, latest size {self.latest}"
            + f"; verifier key from {self.verifier_source}",
        ]
        if self.anchor is not None:
            out.append(f"anchor: checkpoint of size {self.anchor}")
        out += [p.line() for p in self.problems]
        if self.ok:
            unsealed = self.end - (self.latest or 0)
            tail = f"; {unsealed} record(s) after the latest checkpoint" if unsealed > 0 else ""
            crash = sum(not p.tamper for p in self.problems)
            out.append(
                f"OK: {self.count}/{self.count} records valid, {self.checkpoints} checkpoint(s) valid{tail}"
                + (f"; {crash} crash tail(s)" if crash else "")
            )
        else:
            first = self.first_bad
            out.append(
                f"FAILED: {sum(p.tamper for p in self.problems)} problem(s)"
                + (f"; first bad record: {first}" if first is not None else "")
            )
        return out


class _Part(NamedTuple):
    """What one chunk contributes to the tree, without the chunks before it: its root (when full), the
    in-chunk part of the frontier at each wanted size in it, and (for the last chunk) at its end."""

    root: bytes | None
    intras: dict[int, list[bytes]]
    final: list[bytes] | None


class _TreeScan:
    """Roots over the stored leaf hashes at chosen sizes, in chunks of CHUNK leaves (bounded memory).

    ``start`` (a multiple of CHUNK) and ``parts``: scan only the leaves from ``start`` on and keep each
    chunk's ``_Part`` instead of roots, for a scan of the leaves before ``start`` to ``absorb`` (two
    processes hash two halves of a log)."""

    def __init__(self, wanted: Iterable[int], *, start: int = 0, parts: bool = False) -> None:
        self.wanted = sorted({w for w in wanted if w > start})
        self.next = 0
        self.big = Frontier()  # one unit per full chunk
        self.done = start
        self.buf: list[bytes] = []
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT}
        self.frontier: list[bytes] = []
        self.parts: list[_Part] | None = [] if parts else None

    def add(self, leaves: list[bytes]) -> None:
        self.buf.extend(leaves)
        while len(self.buf) >= CHUNK:
            chunk, self.buf = self.buf[:CHUNK], self.buf[CHUNK:]
            self._chunk(chunk)

    def _chunk(self, chunk: list[bytes], *, last: bool = False) -> None:
        sha = hashlib.sha256
        levels = [chunk]
        while len(levels[-1]) > 1:
            lv = levels[-1]
            levels.append([sha(b"\x01" + a + b).digest() for a, b in zip(lv[0::2], lv[1::2], strict=False)])
        end = self.done + len(chunk)
        intras: dict[int, list[bytes]] = {}
        while self.next < len(self.wanted) and self.wanted[self.next] <= end:
            size = self.wanted[self.next]
            intras[size] = self._intra(size - self.done, levels)
            self.next += 1
        full = not last and len(chunk) == CHUNK
        part = _Part(
            levels[-1][0] if full else None, intras, self._intra(len(chunk), levels) if last else None
        )
        if full:
            self.done += CHUNK
        if self.parts is not None:
            self.parts.append(part)
        else:
            self.absorb(part)

    def absorb(self, part: _Part) -> None:
        """Add one chunk's contribution (made here or by another process) after the chunks so far."""
        for size, intra in part.intras.items():
            self.roots[size] = fold(self.big.hashes + intra)
        if part.final is not None:
            self.frontier = self.big.hashes + part.final
        elif part.root is not None:
            self.big.append(part.root)

    @staticmethod
    def _intra(r: int, levels: list[list[bytes]]) -> list[bytes]:
        out, o = [], 0
        for k in range(r.bit_length() - 1, -1, -1):
            if r >> k & 1:
                out.append(levels[k][o >> k])
                o += 1 << k
        return out

    def finish(self) -> None:
        self._chunk(self.buf, last=True)


def _open(note: str, verifier: Verifier | None, meta: LogMeta | None) -> tuple[Checkpoint | None, str]:
    if verifier is None:
        return None, "no verifier key to check it with"
    try:
        cp, _ = open_checkpoint(note, [verifier])
    except NoteError as exc:
        return None, str(exc)
    if meta is not None and cp.origin != meta.origin:
        return None, f"origin {cp.origin!r} is not this log's ({meta.origin!r})"
    return cp, ""


def verify_log(
    backend: Backend,
    *,
    anchor: str | None = None,
    verifier: Verifier | None = None,
    workers: int | None = None,
) -> Report:
    """Verify ``backend``; ``workers``: 1 for one process, default 2 on two or more cores (large logs)."""
    meta = backend.meta()
    report = Report(backend.name, meta.log_id if meta else None)
    problems = report.problems
    if verifier is not None:
        report.verifier_source = "the command line"
    elif meta is not None:
        try:
            verifier = Verifier.parse(meta.verifier)
        except NoteError as exc:
            problems.append(Problem(None, "bad-verifier", f"the log's verifier key is malformed: {exc}"))

    # The head is read before the checkpoints and again after the scan. A record, the head and the
    # checkpoint due at its size commit together, so every checkpoint due up to this head is already
    # visible below; an append committed meanwhile (a live log) can add rows past it whose checkpoint the
    # read of checkpoints missed, and those are not required (read committed gives no one snapshot).
    before = backend.head()

    # -- checkpoints ----------------------------------------------------------------------------------------
    valid: list[tuple[int, Checkpoint]] = []
    for row in backend.checkpoints():
        where = f"checkpoint #{row.id} (size {row.size})"
        cp, why = _open(row.note, verifier, meta)
        if cp is None:
            kind = "foreign-checkpoint" if why.startswith("origin") else "bad-signature"
            problems.append(Problem(None, kind, why, where=where))
        elif cp.size != row.size:
            problems.append(Problem(None, "bad-checkpoint", f"the note says size {cp.size}", where=where))
        else:
            valid.append((row.id, cp))
    anchor_cp: Checkpoint | None = None
    if anchor is not None:
        anchor_cp, why = _open(anchor, verifier, meta)
        if anchor_cp is None:
            try:
                claimed = f" (claims size {peek_checkpoint(anchor).size})"
            except NoteError:
                claimed = ""
            problems.append(Problem(None, "bad-anchor", why + claimed, where="anchor"))
        else:
            report.anchor = anchor_cp.size
    report.checkpoints = len(valid)
    report.latest = max((cp.size for _, cp in valid), default=None)
    by_size: dict[int, list[tuple[str, Checkpoint]]] = {}
    for cid, cp in valid:
        by_size.setdefault(cp.size, []).append((f"checkpoint #{cid}", cp))
    if anchor_cp is not None:
        by_size.setdefault(anchor_cp.size, []).append(("the anchor", anchor_cp))
    for size, group in sorted(by_size.items()):
        if len({cp.root for _, cp in group}) > 1:
            names = ", ".join(name for name, _ in group)
            problems.append(
                Problem(
                    None, "equivocation", f"{names} sign different roots for one size", where=f"size {size}"
                )
            )

    # -- the rows ---------------------------------------------------------------------------------------------
    prefix = b'{"log":"' + meta.log_id.encode() + b'","rec":' if meta else b""
    wanted = {cp.size for _, cp in valid} | ({anchor_cp.size} if anchor_cp else set())
    scan = _TreeScan(wanted)
    misplaced: list[tuple[int, int]] = []
    # An append committed during the scan (record and head move together) is neither a deleted tail (rows
    # are checked against the head *before*) nor rows written around the log (the head *after*).
    done = _parallel_scan(backend, meta, prefix, wanted, scan, workers)
    if done is not None:
        count, expected = done
    else:
        scan = _TreeScan(wanted)
        count, expected, _ = _scan_rows(backend.rows(), 0, meta, prefix, scan, problems, misplaced)
        scan.finish()
    report.count, report.end = count, expected
    if count and meta is None:
        problems.append(Problem(None, "missing-metadata", "the log has records but no log id or key"))
    problems.extend(_classify_misplaced(backend, misplaced))

    # -- sizes: truncation, the head ---------------------------------------------------------------------------
    head = backend.head()
    claims = [(cp.size, f"checkpoint #{cid}") for cid, cp in valid] + [(before.size, "the head")]
    if anchor_cp is not None:
        claims.append((anchor_cp.size, "the anchor"))
    top = max(size for size, _ in claims)
    if top > expected:
        sources = sorted({name for size, name in claims if size == top}, key=lambda n: n != "the anchor")
        how = (
            "rolled back to an older copy or its tail deleted" if "the anchor" in sources else "tail deleted"
        )
        verb = "covers" if len(sources) == 1 else "cover"
        detail = f"{' and '.join(sources)} {verb} {top} records, the log ends at {expected}: {how}"
        problems.append(Problem(expected, "truncated", detail))
    if head.size < expected:
        if getattr(backend, "atomic", True):
            detail = f"records {head.size}-{expected - 1} are beyond the head (written around the log)"
            problems.append(Problem(head.size, "inserted", detail))
        else:
            problems.append(Problem(head.size, "torn-tail", "records after the head: a crash between writes"))
    elif count and count in (head.size, before.size):
        if head.size != count:
            head = before
        try:
            stored = Frontier.from_bytes(head.size, head.frontier).hashes
        except ProofError as exc:
            stored = []
            problems.append(Problem(None, "head-mismatch", f"the head is malformed: {exc}", where="head"))
        for (lo, hi), got, want in zip(subtree_ranges(count), scan.frontier, stored, strict=False):
            if got != want:
                problems.append(
                    Problem(lo, "head-mismatch", "the head's hash of these records differs", last=hi - 1)
                )
                break

    # -- roots against checkpoints and the anchor ----------------------------------------------------------------
    matched = sorted(cp.size for _, cp in valid if cp.size <= count and scan.roots[cp.size] == cp.root)
    reported_change = False
    for cid, cp in sorted(valid, key=lambda v: v[1].size):
        if cp.size > count or scan.roots[cp.size] == cp.root:
            continue
        where = f"checkpoint #{cid} (size {cp.size})"
        if any(size > cp.size for size in matched):
            detail = "a later valid checkpoint contradicts it (the log signed two histories)"
            problems.append(Problem(None, "inconsistent-checkpoint", detail, where=where))
        elif not reported_change:
            reported_change = True
            lo = max((s for s in matched if s < cp.size), default=0)
            problems.append(
                Problem(
                    lo,
                    "changed",
                    f"the records no longer hash to the root signed in {where} (and later ones); "
                    f"the first changed record is in {lo}-{cp.size - 1}",
                    last=cp.size - 1,
                )
            )
    if anchor_cp is not None and anchor_cp.size <= count and scan.roots[anchor_cp.size] != anchor_cp.root:
        lo = max((s for s in matched if s < anchor_cp.size), default=0)
        problems.append(
            Problem(
                lo,
                "rollback",
                f"the log does not extend the anchored checkpoint (size {anchor_cp.size}): replaced by "
                f"another copy or rewritten; the first differing record is in {lo}-{anchor_cp.size - 1}",
                last=anchor_cp.size - 1,
            )
        )

    # -- required checkpoints ----------------------------------------------------------------------------------
    if meta is not None and count:
        have = {cp.size for _, cp in valid}
        due = count if head.size < count else min(count, before.size)
        missing = [k for k in range(meta.checkpoint_every, due + 1, meta.checkpoint_every) if k not in have]
        if missing:
            shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
            problems.append(
                Problem(
                    None,
                    "missing-checkpoint",
                    f"{len(missing)} checkpoint(s) deleted: no valid one at size {shown}",
                )
            )
    _drop_explained(problems)
    problems.sort(key=lambda p: (p.seq is None, p.seq if p.seq is not None else 0, p.kind))
    return report


def _scan_rows(
    batches: Iterable[list[Any]],
    expected: int,
    meta: LogMeta | None,
    prefix: bytes,
    scan: _TreeScan,
    problems: list[Problem],
    misplaced: list[tuple[int, int]],
    *,
    strict: bool = False,
) -> tuple[int, int, bool]:
    """Check rows batch by batch from seq ``expected`` on, feeding the tree scan; return (rows read, the
    next expected seq, whether every batch passed the fast check). ``strict``: stop at the first batch
    that does not (a parallel scan then redoes the whole log serially, where problems are classified)."""
    count = 0
    sha = hashlib.sha256
    for batch in batches:
        seqs = [r[0] for r in batch]
        leaves = [r[1] for r in batch]
        bodies = [r[2] for r in batch]
        fast = (
            seqs[0] == expected
            and seqs[-1] - expected == len(batch) - 1
            and [sha(b"\x00" + b).digest() for b in bodies] == leaves
            and meta is not None
            and all(map(bytes.startswith, bodies, repeat(prefix)))
            and all(map(bytes.endswith, bodies, [b',"seq":%d}' % s for s in seqs]))
        )
        if not fast and strict:
            return count, expected, False
        count += len(batch)
        scan.add(leaves)
        if fast:
            expected = seqs[-1] + 1
            continue
        for seq, leaf, body in batch:
            if seq > expected:
                span = f"{expected}" if seq == expected + 1 else f"{expected}-{seq - 1}"
                problems.append(Problem(expected, "deleted", f"record(s) {span} missing before record {seq}"))
            expected = seq + 1
            if sha(b"\x00" + body).digest() != leaf:
                problems.append(
                    Problem(seq, "modified", "the stored bytes do not match the record's leaf hash")
                )
                continue
            m = _ENVELOPE.match(body)
            if m is None:
                problems.append(
                    Problem(seq, "forged", "not a record envelope of this format (hashes recomputed)")
                )
            elif meta is not None and m.group(1) != meta.log_id.encode():
                problems.append(Problem(seq, "foreign", f"a record of another log ({m.group(1).decode()!r})"))
            elif int(m.group(2)) != seq:
                misplaced.append((seq, int(m.group(2))))
    return count, expected, True


PARALLEL_MIN = 1 << 16  # below this many records the fork costs more than it saves


def _parallel_scan(
    backend: Backend,
    meta: LogMeta | None,
    prefix: bytes,
    wanted: set[int],
    scan: _TreeScan,
    workers: int | None,
) -> tuple[int, int] | None:
    """Check the rows in two processes: a forked child reads and hashes the second half (from a CHUNK
    boundary) over its own connection while this process does the first; the child's per-chunk tree parts
    are absorbed after the first half, so roots and frontier are exactly the serial scan's. Returns
    (count, next expected seq), or None when not applicable or when any batch is not clean — the caller
    then scans serially, which classifies every problem. Only from a single-threaded process (fork)."""
    reopen = getattr(backend, "reopen", None)
    if workers is None:
        hint = getattr(backend, "verify_workers", None)
        workers = min(2, os.cpu_count() or 1, hint() if hint else 2)
    if workers < 2 or reopen is None or meta is None or not hasattr(os, "fork"):
        return None
    if threading.active_count() > 1:
        return None
    size = backend.head().size  # only a hint where to split: the halves are checked to meet exactly
    mid = size // 2 // CHUNK * CHUNK
    if size < PARALLEL_MIN or mid == 0:
        return None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe and never returns
        code = 1
        try:
            os.close(r)
            other = reopen()
            part = _TreeScan(wanted, start=mid, parts=True)
            result = _scan_rows(other.rows(mid), mid, meta, prefix, part, [], [], strict=True)
            part.finish()
            other.close()
            with os.fdopen(w, "wb") as out:
                pickle.dump((result, part.parts), out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        first = _scan_rows(backend.rows(0, mid), 0, meta, prefix, scan, [], [], strict=True)
    finally:
        with os.fdopen(r, "rb") as inp:
            data = inp.read()
        _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    (count2, expected2, ok2), parts = pickle.loads(data)  # noqa: S301 - our own child, over our own pipe
    count1, expected1, ok1 = first
    if not (ok1 and ok2 and expected1 == mid and count1 == mid):
        return None
    for part in parts:
        scan.absorb(part)
    return count1 + count2, expected2


def _drop_explained(problems: list[Problem]) -> None:
    """A range finding (root or head mismatch) is explained by an exactly located problem inside it."""
    exact = [p.seq for p in problems if p.exact and p.seq is not None]
    keep = [
        p
        for p in problems
        if p.exact or p.seq is None or p.last is None or not any(p.seq <= s <= p.last for s in exact)
    ]
    problems[:] = keep


def _body(backend: Backend, seq: int) -> bytes | None:
    for batch in backend.rows(seq, seq + 1):
        for row in batch:
            return bytes(row[2])
    return None


def _classify_misplaced(backend: Backend, misplaced: Sequence[tuple[int, int]]) -> list[Problem]:
    """Rows whose envelope carries another seq (hashes intact): swaps, copies, insertions, deletions."""
    out: list[Problem] = []
    carried = dict(misplaced)
    done: set[int] = set()
    for row, seq in misplaced:
        if row < seq and carried.get(seq) == row:
            out.append(Problem(row, "reordered", f"records {row} and {seq} are swapped"))
            done |= {row, seq}
    runs: list[list[tuple[int, int]]] = []
    for row, seq in misplaced:
        if row in done:
            continue
        if runs and runs[-1][-1][0] == row - 1 and runs[-1][-1][0] - runs[-1][-1][1] == row - seq:
            runs[-1].append((row, seq))
        else:
            runs.append([(row, seq)])
    for run in runs:
        row, seq = run[0]
        shift = row - seq
        if len(run) == 1 and _body(backend, seq) == _body(backend, row):
            out.append(Problem(row, "duplicate", f"record {row} is a copy of record {seq}"))
        elif shift > 0:
            first = row - shift
            span = f"{first}" if shift == 1 else f"{first}-{row - 1}"
            out.append(
                Problem(
                    first,
                    "inserted",
                    f"record(s) {span} inserted: from {row} on records carry seqs {shift} lower",
                )
            )
        else:
            span = f"{row}" if shift == -1 else f"{row}-{row - shift - 1}"
            out.append(
                Problem(
                    row,
                    "deleted",
                    f"record(s) {span} deleted and later records renumbered ({row} carries {seq})",
                )
            )
    return out

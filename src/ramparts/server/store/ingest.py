"""Ingest: a batch in one transaction, checked against the log's history, with the behaviour rules run on it."""

from __future__ import annotations

import json
import time
from typing import Any

from ... import rule_ids as rids
from ...audit.merkle import Frontier
from ...errors import StoreError
from ...monitor import (
    SessionFeatures,
    features_from_json,
    features_to_json,
    step,
    view,
)
from ..batch import Batch
from .base import StoreBase, _Tx
from .model import (
    UNKNOWN_KEY,
    ForeignLogError,
    IngestResult,
    KillOrder,
    TokenInfo,
)

_RECORD_COLUMNS = (
    "log_id",
    "seq",
    "leaf",
    "body",
    "time",
    "surface",
    "event",
    "decision",
    "session",
    "user_name",
    "host",
    "tool",
    "tool_use_id",
    "received",
)


class IngestStore(StoreBase):
    """Ingest."""

    # -- ingest ------------------------------------------------------------------------------------------------

    def ingest(self, token: TokenInfo, batch: Batch, now: float | None = None) -> IngestResult:
        """Store a validated batch from a host token (see the module's docstring). Raises
        :class:`ForeignLogError` when the log belongs to another token."""
        now = time.time() if now is None else now
        with self._tx() as tx:
            return _Ingest(self, tx, token, batch, now).run()


class _Ingest:
    """One batch's ingest inside one transaction."""

    def __init__(self, store: StoreBase, tx: _Tx, token: TokenInfo, batch: Batch, now: float) -> None:
        self.store, self.tx, self.token, self.batch, self.now = store, tx, token, batch, now
        self.alerts = 0
        self.kills = 0

    def _key_known(self) -> bool:
        """Is the batch's signing key bound to the host token? The token's first key is bound now (its
        enrolment), with the keys of the logs it shipped before keys were bound; another is not."""
        tx, b = self.tx, self.batch
        if not b.verifier:
            return True  # no key claimed: nothing to bind (its checkpoints cannot verify; see _checkpoints)
        if tx.one("SELECT 1 FROM logs WHERE log_id = ?", (b.log_id,)) is not None:
            return True  # a log already held: its own key is checked against the batch's in run()
        bound = {
            str(v) for (v,) in tx.q("SELECT verifier FROM host_keys WHERE token_id = ?", (self.token.id,))
        }
        if b.verifier in bound:
            return True
        if bound:
            return False
        if self.store.postgres:  # one enrolment per token at a time (SQLite's BEGIN IMMEDIATE serialises)
            tx.one("SELECT id FROM tokens WHERE id = ? FOR UPDATE", (self.token.id,))
            if tx.one("SELECT 1 FROM host_keys WHERE token_id = ? LIMIT 1", (self.token.id,)) is not None:
                return self._key_known()
        rows = [(self.token.id, b.verifier, "enrolled")]
        rows += [
            (self.token.id, str(v), "existing")
            for (v,) in tx.q(
                "SELECT DISTINCT verifier FROM logs WHERE token_id = ? AND verifier != ''", (self.token.id,)
            )
            if str(v) != b.verifier
        ]
        tx.many(
            "INSERT INTO host_keys (token_id, verifier, source, by_whom, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (token_id, verifier) DO NOTHING",
            [(*row, f"{self.token.name} (token {self.token.id})", self.now) for row in rows],
        )
        return True

    def _unknown_key(self) -> IngestResult:
        """Quarantine the batch (once per log: the host keeps it and retries until an admin pins the key)
        and alert."""
        tx, b = self.tx, self.batch
        if tx.one("SELECT 1 FROM quarantine WHERE log_id = ? AND kind = 'unknown_key' LIMIT 1", (b.log_id,)):
            return IngestResult(quarantined=0, state="unknown_key")
        reason = f"{UNKNOWN_KEY} of token {self.token.id}: {b.verifier}"
        for item in b.records:
            self._quarantine(item.seq, "unknown_key", item.body.decode("utf-8", "replace"), reason)
        for cp in b.checkpoints:
            self._quarantine(cp.size, "unknown_key", cp.note, reason)
        if not b.records and not b.checkpoints:
            self._quarantine(-1, "unknown_key", "", reason)
        name = "+".join(b.verifier.split("+")[:2])
        self.store._alert(
            tx,
            self.now,
            "high",
            rids.INTEGRITY_UNKNOWN_KEY,
            f"host {self.token.name} shipped log {b.log_id} signed by key {name}, which is not bound to its "
            "token: quarantined; `ramparts server key pin` accepts it",
            host=self.token.name,
            log_id=b.log_id,
        )
        self.alerts += 1
        return IngestResult(quarantined=len(b.records) + len(b.checkpoints), alerts=1, state="unknown_key")

    def run(self) -> IngestResult:
        tx, b = self.tx, self.batch
        if not self._key_known():
            return self._unknown_key()
        empty = Frontier().to_bytes()
        # create the log's row if it is new (two first batches racing: one inserts, both then lock it)
        tx.x(
            "INSERT INTO logs (log_id, host, token_id, verifier, size, frontier, verified_size, "
            "verified_frontier, first_seen, last_seen) VALUES (?, ?, ?, ?, 0, ?, 0, ?, ?, ?) "
            "ON CONFLICT (log_id) DO NOTHING",
            (b.log_id, self.token.name, self.token.id, b.verifier, empty, empty, self.now, self.now),
        )
        lock = " FOR UPDATE" if self.store.postgres else ""
        sql = "SELECT token_id, verifier, state, size, frontier, verified_size, verified_frontier FROM logs "
        row = tx.one(sql + "WHERE log_id = ?" + lock, (b.log_id,))
        if row is None:
            raise StoreError(f"log {b.log_id} vanished during an ingest")
        token_id, verifier, state, size, frontier_blob, vsize, vfrontier = row
        if token_id != self.token.id:
            raise ForeignLogError(f"log {b.log_id} is reported by another host's token")
        if b.verifier and not verifier:
            verifier = b.verifier
            tx.x("UPDATE logs SET verifier = ? WHERE log_id = ?", (verifier, b.log_id))
        elif b.verifier and b.verifier != verifier:
            state = self._rewritten(state, "the log's signing key changed")
        self.state = state
        frontier = Frontier.from_bytes(int(size), bytes(frontier_blob))
        accepted, duplicates, quarantined = self._records(frontier)
        checkpoints = self._checkpoints(str(verifier), frontier, int(vsize), bytes(vfrontier), quarantined)
        quarantined = checkpoints[1]
        tx.x(
            "UPDATE logs SET size = ?, frontier = ?, last_seen = ?, state = ? WHERE log_id = ?",
            (frontier.size, frontier.to_bytes(), self.now, self.state, b.log_id),
        )
        return IngestResult(
            accepted, duplicates, quarantined, checkpoints[0], self.alerts, self.kills, self.state
        )

    def _rewritten(self, state: str, problem: str) -> str:
        if state != "rewritten":
            self.tx.x(
                "UPDATE logs SET state = 'rewritten', problem = ? WHERE log_id = ?",
                (problem, self.batch.log_id),
            )
            self.store._alert(
                self.tx,
                self.now,
                "high",
                rids.INTEGRITY_REWRITTEN,
                f"host {self.token.name} rewrote its audit history: {problem}",
                host=self.token.name,
                log_id=self.batch.log_id,
            )
            self.alerts += 1
        self.state = "rewritten"
        return "rewritten"

    def _quarantine(self, seq: int, kind: str, body: str, reason: str) -> None:
        self.tx.x(
            "INSERT INTO quarantine (log_id, seq, kind, body, reason, received) VALUES (?, ?, ?, ?, ?, ?)",
            (self.batch.log_id, seq, kind, body, reason, self.now),
        )

    def _records(self, frontier: Frontier) -> tuple[int, int, int]:
        tx, b = self.tx, self.batch
        if not b.records:
            return 0, 0, 0
        seqs = [r.seq for r in b.records]
        held = dict(
            (int(s), bytes(leaf))
            for s, leaf in tx.q(
                "SELECT seq, leaf FROM records WHERE log_id = ? AND seq >= ? AND seq <= ?",
                (b.log_id, min(seqs), max(seqs)),
            )
        )
        rows: list[tuple[Any, ...]] = []
        fresh = []
        duplicates = quarantined = 0
        seen: set[int] = set()
        for item in b.records:
            if item.seq in held or item.seq in seen:
                if held.get(item.seq, item.leaf) == item.leaf and item.seq not in seen:
                    duplicates += 1
                    continue
                self._rewritten(self.state, f"record {item.seq} differs from the one received before")
                self._quarantine(
                    item.seq, "record", item.body.decode("utf-8", "replace"), "conflicting record"
                )
                quarantined += 1
                continue
            if self.state == "rewritten":
                self._quarantine(item.seq, "record", item.body.decode("utf-8", "replace"), "log rewritten")
                quarantined += 1
                continue
            seen.add(item.seq)
            r = item.record
            rows.append(
                (
                    b.log_id,
                    item.seq,
                    item.leaf,
                    item.body.decode("utf-8"),
                    r.time,
                    r.surface,
                    r.event,
                    r.decision or "",
                    r.session,
                    r.user,
                    r.host,
                    r.tool,
                    r.tool_use_id,
                    self.now,
                )
            )
            fresh.append(item)
        # new rows only (duplicates were dropped above, under the log's row lock): COPY on PostgreSQL
        tx.copy("records", _RECORD_COLUMNS, rows)
        self._extend(frontier, fresh)
        self._monitor([f.record for f in sorted(fresh, key=lambda f: f.seq)])
        return len(rows), duplicates, quarantined

    def _extend(self, frontier: Frontier, fresh: list[Any]) -> None:
        """Grow the frontier over the records now held in order from its size (a gap stops it)."""
        by_seq = {f.seq: f.leaf for f in fresh}
        while frontier.size in by_seq:
            frontier.append(by_seq.pop(frontier.size))
        if by_seq:  # records past a gap: held, and the frontier grows once the gap is filled
            return
        rows = self.tx.q(
            "SELECT seq, leaf FROM records WHERE log_id = ? AND seq >= ? ORDER BY seq LIMIT 10000",
            (self.batch.log_id, frontier.size),
        )
        for seq, leaf in rows:
            if int(seq) != frontier.size:
                break
            frontier.append(bytes(leaf))

    def _checkpoints(
        self, verifier: str, frontier: Frontier, vsize: int, vfrontier: bytes, quarantined: int
    ) -> tuple[int, int]:
        from ...audit.checkpoint import NoteError, Verifier, open_checkpoint
        from ...audit.log import origin_for

        tx, b = self.tx, self.batch
        count = 0
        for cp in b.checkpoints:
            known = tx.one("SELECT note FROM checkpoints WHERE log_id = ? AND size = ?", (b.log_id, cp.size))
            if known is not None and known[0] == cp.note:
                continue
            problem = ""
            parsed = None
            if not verifier:
                problem = "a checkpoint arrived before the log's verifier key"
            else:
                try:
                    parsed, _ = open_checkpoint(cp.note, [Verifier.parse(verifier)])
                except NoteError as exc:
                    problem = f"checkpoint not signed by the log's key: {exc}"
            if parsed is not None:
                if parsed.origin != origin_for(b.log_id) or parsed.size != cp.size:
                    problem = "the checkpoint names another log or size"
                elif known is not None:
                    problem = f"a second, different checkpoint for size {cp.size}"
            if not problem and parsed is not None and parsed.size <= frontier.size:
                problem, vsize, vfrontier = self._verify(
                    cp.note, parsed.size, parsed.root, frontier, vsize, vfrontier
                )
            if problem:
                self._rewritten(self.state, problem)
                self._quarantine(cp.size, "checkpoint", cp.note, problem)
                quarantined += 1
                continue
            status = "verified" if parsed is not None and parsed.size <= frontier.size else "pending"
            tx.x("DELETE FROM checkpoints WHERE log_id = ? AND size = ?", (b.log_id, cp.size))
            tx.x(
                "INSERT INTO checkpoints (log_id, size, note, status, received) VALUES (?, ?, ?, ?, ?)",
                (b.log_id, cp.size, cp.note, status, self.now),
            )
            count += 1
        for size, note, root in self._pending(frontier.size):
            problem, vsize, vfrontier = self._verify(note, size, root, frontier, vsize, vfrontier)
            if problem:
                self._rewritten(self.state, problem)
                self._quarantine(size, "checkpoint", note, problem)
                tx.x("DELETE FROM checkpoints WHERE log_id = ? AND size = ?", (b.log_id, size))
                quarantined += 1
            else:
                tx.x(
                    "UPDATE checkpoints SET status = 'verified' WHERE log_id = ? AND size = ?",
                    (b.log_id, size),
                )
        return count, quarantined

    def _pending(self, upto: int) -> list[tuple[int, str, bytes]]:
        from ...audit.checkpoint import peek_checkpoint

        rows = self.tx.q(
            "SELECT size, note FROM checkpoints WHERE log_id = ? AND status = 'pending' AND size <= ? "
            "ORDER BY size",
            (self.batch.log_id, upto),
        )
        return [(int(size), str(note), peek_checkpoint(str(note)).root) for size, note in rows]

    def _verify(
        self, note: str, size: int, root: bytes, frontier: Frontier, vsize: int, vfrontier: bytes
    ) -> tuple[str, int, bytes]:
        """Check a (signature-checked) checkpoint's root against the records held; move the verified mark."""
        at = self._frontier_at(size, vsize, vfrontier, frontier)
        if at.root() != root:
            return f"the checkpoint at size {size} does not match the records received", vsize, vfrontier
        if size >= vsize:
            vsize, vfrontier = size, at.to_bytes()
            self.tx.x(
                "UPDATE logs SET verified_size = ?, verified_frontier = ?, checkpoint = ? WHERE log_id = ?",
                (vsize, vfrontier, note, self.batch.log_id),
            )
        return "", vsize, vfrontier

    def _leaves(self, start: int, stop: int) -> list[bytes]:
        rows = self.tx.q(
            "SELECT leaf FROM records WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (self.batch.log_id, start, stop),
        )
        return [bytes(r[0]) for r in rows]

    def _frontier_at(self, size: int, vsize_before: int, vfrontier: bytes, frontier: Frontier) -> Frontier:
        if size == frontier.size:
            return frontier.copy()
        base = Frontier.from_bytes(vsize_before, vfrontier) if vsize_before <= size else Frontier()
        for leaf in self._leaves(base.size, size):
            base.append(leaf)
        return base

    def _monitor(self, records: list[Any]) -> None:
        config = self.store.monitor
        if not records or not config.rules:
            return
        tx = self.tx
        names = sorted({r.session for r in records if r.session})
        sessions: dict[str, SessionFeatures] = {name: SessionFeatures() for name in names}
        for lo in range(0, len(names), 500):
            chunk = names[lo : lo + 500]
            marks = ", ".join("?" * len(chunk))
            for name, data in tx.q(
                f"SELECT session, features FROM monitor_state WHERE session IN ({marks})",  # noqa: S608 - marks
                chunk,
            ):
                sessions[name] = features_from_json(json.loads(data))
        for r in records:
            if not r.session:
                continue
            features, hits = step(config, sessions[r.session], view(r))
            sessions[r.session] = features
            for hit in hits:
                response = ""
                if hit.severity == "high":
                    order = KillOrder(
                        "session",
                        r.session,
                        f"behaviour rule {hit.rule}: {hit.message}",
                        f"ramparts-monitor ({hit.rule})",
                        self.now,
                    )
                    self.store._kill(tx, order)
                    self.kills += 1
                    response = "kill"
                if hit.severity in ("high", "medium"):
                    self.alerts += 1
                self.store._alert(
                    tx,
                    self.now,
                    hit.severity,
                    hit.rule,
                    hit.message,
                    host=self.token.name,
                    user=r.user,
                    session=r.session,
                    log_id=self.batch.log_id,
                    response=response,
                )
        self._baseline(records)
        tx.values(
            "INSERT INTO monitor_state (session, features, updated)",
            [
                (name, json.dumps(features_to_json(f), separators=(",", ":")), self.now)
                for name, f in sessions.items()
            ],
            "ON CONFLICT (session) DO UPDATE SET features = excluded.features, updated = excluded.updated",
        )

    def _baseline(self, records: list[Any]) -> None:
        """The per-user baseline rule: tool calls per UTC day against the user's previous days."""
        import datetime

        from ...monitor import anomaly_score

        rules = [r for r in self.store.monitor.rules if r.kind == "baseline"]
        counts: dict[tuple[str, str], int] = {}
        for r in records:
            if r.event == "PreToolUse" and r.tool and r.user and len(r.time) >= 10:
                key = (r.user, r.time[:10])
                counts[key] = counts.get(key, 0) + 1
        if not rules or not counts:
            return
        tx = self.tx
        tx.values(
            "INSERT INTO user_days (user_name, day, calls)",
            [(user, day, n) for (user, day), n in counts.items()],
            "ON CONFLICT (user_name, day) DO UPDATE SET calls = user_days.calls + excluded.calls",
        )
        for user, day in counts:
            try:
                today = datetime.date.fromisoformat(day)
            except ValueError:
                continue
            for rule in rules:
                first = (today - datetime.timedelta(days=rule.days)).isoformat()
                rows = tx.q(
                    "SELECT day, calls, alerted FROM user_days WHERE user_name = ? AND day >= ? AND day <= ?",
                    (user, first, day),
                )
                current = next(((int(c), int(a)) for d, c, a in rows if d == day), (0, 0))
                history = [int(c) for d, c, _ in rows if d != day]
                score = anomaly_score(history, current[0])
                if score is None or score < rule.threshold or current[1]:
                    continue
                tx.x("UPDATE user_days SET alerted = 1 WHERE user_name = ? AND day = ?", (user, day))
                mean = sum(history) / len([h for h in history if h > 0])
                if rule.severity in ("high", "medium"):
                    self.alerts += 1
                self.store._alert(
                    tx,
                    self.now,
                    rule.severity,
                    rule.id,
                    f"user {user}: {current[0]} tool calls on {day} against {mean:.0f} a day over the previous "
                    f"{rule.days} days (anomaly score {score:.2f}, threshold {rule.threshold:g})",
                    host=self.token.name,
                    user=user,
                    log_id=self.batch.log_id,
                )

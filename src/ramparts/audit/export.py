"""Export one session's records with what an auditor needs to verify them offline.

JSONL: the first line is ``{"type": "checkpoint", "log_id", "origin", "verifier", "note"}`` (a signed
checkpoint of the whole log); each further line is ``{"type": "record", "seq", "body", "leaf_hash",
"tree_size", "proof"}`` where ``body`` is the exact stored text (its UTF-8 bytes are the hashed leaf data)
and ``proof`` the RFC 9162 inclusion proof (hex) of leaf ``seq`` in the checkpoint's tree.

CSV: the same content, one row per line, columns ``EXPORT_COLUMNS``; the checkpoint row has
``kind=checkpoint``, the note in ``body`` and the key in ``verifier``; the convenience columns (time,
user, …) are copied from the record and guarded against spreadsheet formula injection, ``body`` is not.

``verify_export`` checks a file against a verifier key: the note's signature, each leaf hash, each proof.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import IO, Any

from .checkpoint import NoteError, Verifier, open_checkpoint
from .log import AuditLog
from .merkle import Tree, inclusion_proof, leaf_hash, verify_inclusion

EXPORT_COLUMNS = [
    "kind",
    "seq",
    "time",
    "user",
    "host",
    "session",
    "event",
    "tool",
    "decision",
    "rule_ids",
    "tree_size",
    "leaf_hash",
    "proof",
    "verifier",
    "body",
]


def _cell(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_session(log: AuditLog, session_id: str, fmt: str, out: IO[str]) -> int:
    """Write the session's records with proofs; return how many records were written."""
    note = log.checkpoint()
    meta = log.meta()
    assert meta is not None
    cp, _ = open_checkpoint(note, [Verifier.parse(meta.verifier)])
    needle = json.dumps(session_id, ensure_ascii=False).encode()
    chosen = []
    for rec in log.records(0, cp.size):
        if needle in rec.raw:
            try:
                data = rec.data()
            except ValueError:
                continue
            if data.get("session") == session_id:
                chosen.append((rec, data))
    tree = Tree(log.backend.leaves(0, cp.size)) if chosen else None
    header = {"type": "checkpoint", "log_id": meta.log_id, "origin": meta.origin, "verifier": meta.verifier}
    if fmt == "jsonl":
        out.write(json.dumps({**header, "note": note}, ensure_ascii=False) + "\n")
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        writer.writerow(
            ["checkpoint", "", "", "", "", "", "", "", "", "", cp.size, "", "", meta.verifier, note]
        )
    for rec, data in chosen:
        assert tree is not None
        proof = " ".join(h.hex() for h in inclusion_proof(rec.seq, tree))
        if fmt == "jsonl":
            line = {
                "type": "record",
                "seq": rec.seq,
                "body": rec.body,
                "leaf_hash": rec.leaf.hex(),
                "tree_size": cp.size,
                "proof": proof.split(),
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        else:
            row = [
                _cell(data.get(c)) for c in ("time", "user", "host", "session", "event", "tool", "decision")
            ]
            rules = ",".join(str(r) for r in data.get("rule_ids") or [])
            writer.writerow(
                ["record", rec.seq, *row, _cell(rules), cp.size, rec.leaf.hex(), proof, "", rec.body]
            )
    return len(chosen)


_SHOWN = ("time", "user", "host", "session", "event", "tool", "decision", "rule_ids")


def _shown(data: dict[str, Any]) -> dict[str, str]:
    out = {c: _cell(data.get(c)) for c in _SHOWN[:-1]}
    out["rule_ids"] = _cell(",".join(str(r) for r in data.get("rule_ids") or []))
    return out


def _entries(text: str, fmt: str) -> Iterable[dict[str, Any]]:
    if fmt == "jsonl":
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)
        return
    for row in csv.DictReader(io.StringIO(text)):
        if row["kind"] == "checkpoint":
            yield {"type": "checkpoint", "verifier": row["verifier"], "note": row["body"]}
        else:
            yield {
                "columns": {c: row[c] for c in _SHOWN},
                "type": "record",
                "seq": int(row["seq"]),
                "body": row["body"],
                "leaf_hash": row["leaf_hash"],
                "tree_size": int(row["tree_size"]),
                "proof": row["proof"].split(),
            }


def verify_export(text: str, fmt: str, verifier: Verifier) -> tuple[int, list[str]]:
    """Check an export offline: (records checked, problems). Trust comes only from ``verifier``."""
    problems: list[str] = []
    count = 0
    root: bytes | None = None
    size = 0
    for n, entry in enumerate(_entries(text, fmt), start=1):
        if entry.get("type") == "checkpoint":
            try:
                cp, _ = open_checkpoint(entry["note"], [verifier])
            except NoteError as exc:
                problems.append(f"entry {n}: checkpoint INVALID: {exc}")
                continue
            root, size = cp.root, cp.size
            continue
        count += 1
        try:
            seq = int(entry["seq"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"entry {n}: INVALID: no seq")
            continue
        if root is None:
            problems.append(f"record {seq}: INVALID: no valid checkpoint before it")
            continue
        body = str(entry["body"]).encode("utf-8")
        leaf = leaf_hash(body)
        if leaf.hex() != entry.get("leaf_hash"):
            problems.append(f"record {seq}: INVALID: the body does not match its leaf hash")
            continue
        if not body.endswith(b',"seq":%d}' % seq) or entry.get("tree_size") != size:
            problems.append(f"record {seq}: INVALID: seq or tree size does not match")
            continue
        try:
            proof = [bytes.fromhex(h) for h in entry["proof"]]
            ok = verify_inclusion(seq, size, leaf, proof, root)
        except ValueError:
            ok = False
        if not ok:
            problems.append(f"record {seq}: INVALID: the inclusion proof does not verify")
        elif "columns" in entry and entry["columns"] != _shown(json.loads(body).get("rec") or {}):
            problems.append(f"record {seq}: INVALID: a column differs from the signed record")
    return count, problems

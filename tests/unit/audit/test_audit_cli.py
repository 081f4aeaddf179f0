"""`ramparts audit ...`: verify (with an anchor), checkpoint, prove, consistency, export, tail — on a SQLite
file in the state directory and on PostgreSQL named with ``--audit-url`` (the ``backend`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ramparts.audit.checkpoint import Verifier, open_checkpoint
from ramparts.audit.export import verify_export
from ramparts.audit.merkle import verify_consistency, verify_inclusion
from ramparts.cli._main import run
from tests.audit_harness import PgSite, Site


@pytest.fixture
def state(backend: Site) -> Site:
    """The log (``state_dir``: the folder of its signing key, as ``ramparts audit`` expects it)."""
    with backend.open(checkpoint_every=8) as store:
        for i in range(20):
            store.append(
                {
                    "time": f"2026-01-01T00:00:{i:02d}Z",
                    "user": "alice",
                    "host": "h",
                    "session": "s-1" if i % 2 else "s-2",
                    "event": "PreToolUse",
                    "tool": "=cmd|' /C calc'!A0" if i == 3 else "Bash",
                    "decision": "allow",
                    "input": {"command": f"ls {i}\n\x1b[31m\u202e"},
                    "rule_ids": ["r1"],
                }
            )
    return backend


def cli(capsys: pytest.CaptureFixture[str], state: Site, *args: str) -> tuple[int, str, str]:
    where = ["--state-dir", str(Path(state.key_path).parent.parent)]
    if isinstance(state, PgSite) and args[0] != "verify-export":
        where += ["--audit-url", state.location]
    code = run(["audit", *args, *where])
    out, err = capsys.readouterr()
    return code, out, err


def _verifier(state: Site) -> Verifier:
    with state.open() as store:
        v = store.log.verifier()
    assert v is not None
    return v


def test_verify_ok_and_tampered(capsys: pytest.CaptureFixture[str], state: Site) -> None:
    code, out, _ = cli(capsys, state, "verify")
    assert code == 0 and out.splitlines()[-1].startswith("OK: 20/20 records valid, 3 checkpoint(s)")
    (body,) = state.sql("SELECT body FROM records WHERE seq = 5")[0]
    state.sql("UPDATE records SET body = ? WHERE seq = 5", bytes(body).replace(b"allow", b"deny!"))
    code, out, _ = cli(capsys, state, "verify")
    assert code == 1
    assert "record 5: INVALID: modified: the stored bytes do not match the record's leaf hash" in out
    assert out.splitlines()[-1] == "FAILED: 1 problem(s); first bad record: 5"


def test_checkpoint_then_anchor_catches_truncation(
    capsys: pytest.CaptureFixture[str], state: Site, tmp_path: Path
) -> None:
    code, note, _ = cli(capsys, state, "checkpoint")
    assert code == 0
    cp, _ = open_checkpoint(note, [_verifier(state)])
    assert cp.size == 20
    anchor = tmp_path / "anchor.txt"
    anchor.write_text(note)
    assert cli(capsys, state, "verify", "--anchor", str(anchor))[0] == 0
    state.sql("DELETE FROM records WHERE seq >= 17")
    state.sql("DELETE FROM checkpoints WHERE size > 16")
    code, out, _ = cli(capsys, state, "verify", "--anchor", str(anchor))
    assert code == 1 and "record 17: INVALID: truncated: the anchor and the head cover 20 records" in out
    # a verifier key given on the command line must be the log's own
    other = "x+00000000+" + "A" * 44
    code, _, err = cli(capsys, state, "verify", "--key", other)
    assert code == 2 and "--key" in err


def test_prove_and_consistency_verify(capsys: pytest.CaptureFixture[str], state: Site) -> None:
    code, out, _ = cli(capsys, state, "prove", "--record", "6")
    assert code == 0
    proof = json.loads(out)
    cp, _ = open_checkpoint(proof["checkpoint"], [Verifier.parse(proof["verifier"])])
    assert verify_inclusion(
        6, cp.size, bytes.fromhex(proof["leaf_hash"]), [bytes.fromhex(h) for h in proof["proof"]], cp.root
    )
    assert json.loads(proof["body"])["seq"] == 6
    code, out, _ = cli(capsys, state, "consistency", "5", "20")
    c = json.loads(out)
    assert verify_consistency(
        5,
        20,
        bytes.fromhex(c["old_root"]),
        bytes.fromhex(c["new_root"]),
        [bytes.fromhex(h) for h in c["proof"]],
    )
    assert cli(capsys, state, "consistency", "5", "99")[0] == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_verifies_offline_and_detects_edits(
    capsys: pytest.CaptureFixture[str], state: Site, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / f"s1.{fmt}"
    code, _, err = cli(capsys, state, "export", "--session", "s-1", "--format", fmt, "-o", str(target))
    assert code == 0 and "exported 10 record(s)" in err
    text = target.read_text(encoding="utf-8")
    assert verify_export(text, fmt, _verifier(state)) == (10, [])
    if fmt == "csv":
        assert "'=cmd" in text  # formula injection guarded in the convenience columns
    code, out, _ = cli(capsys, state, "verify-export", str(target), "--key", str(_verifier(state)))
    assert code == 0 and out.strip() == "OK: 10 record(s), 0 problem(s)"
    edited = text.replace("allow", "deny!", 1)
    assert verify_export(edited, fmt, _verifier(state))[1]


def test_a_missing_store_or_a_bad_url_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = run(["audit", "verify", "--state-dir", str(tmp_path / "none")])
    assert code != 0 and "no audit store" in capsys.readouterr().err
    code = run(["audit", "verify", "--state-dir", str(tmp_path), "--audit-url", "mysql://x/y"])
    assert code != 0 and "postgresql://" in capsys.readouterr().err


def test_tail_escapes_control_characters(capsys: pytest.CaptureFixture[str], state: Site) -> None:
    code, out, _ = cli(capsys, state, "tail", "-n", "3")
    assert code == 0 and len(out.splitlines()) == 3
    assert "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[0].startswith("#17 ")

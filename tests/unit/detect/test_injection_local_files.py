"""The local benign files the injection classifier trains on are pinned (bench/injection_local_files.tsv):
installing or changing files elsewhere on the machine cannot move the training rows or the
leave-one-source-out folds."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

import train_injection


def _tree(root: Path, count: int) -> None:
    for i in range(count):
        (root / f"pkg{i}").mkdir(parents=True, exist_ok=True)
        (root / f"pkg{i}" / "README.md").write_text(f"# Package {i}\n\n" + "Run the tests first. " * 40)


def test_the_selection_is_seeded(tmp_path: Path) -> None:
    _tree(tmp_path / "doc", 30)
    roots = {"doc": tmp_path / "doc"}
    first = train_injection.select_local_files(roots, 10)
    assert len(first) == 10
    assert first == train_injection.select_local_files(roots, 10)


def test_pinned_rows_do_not_move_when_files_are_added_or_changed(tmp_path: Path) -> None:
    _tree(tmp_path / "doc", 30)
    roots = {"doc": tmp_path / "doc"}
    manifest = tmp_path / "pinned.tsv"
    train_injection.write_local_manifest(train_injection.select_local_files(roots, 10), manifest)
    before = train_injection.local_rows(manifest, roots)
    assert len(before) == 10 and all(r.label == 0 and r.corpus == "local_files" for r in before)

    _tree(tmp_path / "doc" / "new", 50)  # something installed later
    assert train_injection.local_rows(manifest, roots) == before
    assert train_injection.select_local_files(roots, 10) != train_injection.read_local_manifest(manifest)

    changed = tmp_path / "doc" / before[0].key.split(":", 1)[1]
    changed.write_text(changed.read_text() + "\nupgraded\n")
    after = train_injection.local_rows(manifest, roots, report=False)
    assert after == before[1:]  # the changed file is dropped, never replaced by another


def test_the_committed_manifest_is_well_formed() -> None:
    entries = train_injection.read_local_manifest()
    assert len(entries) == train_injection.LOCAL_FILES
    assert len({(e["root"], e["path"]) for e in entries}) == len(entries)
    assert {e["root"] for e in entries} <= {"stdlib", "purelib", "doc"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", e["sha256"]) for e in entries)
    assert all(e["start"] >= 0 and e["kind"] in ("py", "doc") for e in entries)


def test_local_rows_are_the_pinned_files() -> None:
    rows = train_injection.local_rows(report=False)
    if not rows:
        pytest.skip("none of the pinned files exists on this machine")
    pinned = {f"{e['root']}:{e['path']}" for e in train_injection.read_local_manifest()}
    assert {r.key for r in rows} <= pinned
    assert rows == train_injection.local_rows(report=False)

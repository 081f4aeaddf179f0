"""The bounded listing behind recursive reads (``grep -r``, ``rg``, the Grep tool over a folder)."""

from __future__ import annotations

import os
from pathlib import Path

from ramparts.agents.claude_code.normalize import listing, tool_call


def test_listing_names_every_path_below_and_symlink_targets(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f.txt").write_text("x")
    secret = tmp_path.parent / f"{tmp_path.name}-outside.env"
    secret.write_text("K=v")
    (tmp_path / "innocent.txt").symlink_to(secret)
    found = listing(str(tmp_path))
    assert found is not None
    assert str(tmp_path / "a" / "b" / "f.txt") in found
    assert os.path.realpath(secret) in found  # what the link points at is read too


def test_listing_gives_up_past_its_limit(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}").write_text("x")
    assert listing(str(tmp_path), limit=3) is None
    assert listing(str(tmp_path), limit=10) is not None


def test_listing_of_a_file_or_nothing_is_empty(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert listing(str(tmp_path / "f")) == ()
    assert listing(str(tmp_path / "missing")) == ()


def test_recursive_reads_carry_their_listing(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("x")
    call = tool_call("Bash", {"command": "rg TODO src"}, cwd=str(tmp_path), home=str(tmp_path / "h"))
    (access,) = [a for a in call.accesses if a.recursive]
    assert access.below == (str(tmp_path / "src" / "app.py"),)
    grep = tool_call("Grep", {"pattern": "x", "path": "src"}, cwd=str(tmp_path), home=str(tmp_path / "h"))
    assert grep.accesses[0].below == (str(tmp_path / "src" / "app.py"),)

"""The README and docs state numbers and names the code defines: check them against the code, and that
every relative link points at a file inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from ramparts.detect.secrets import load_rules
from ramparts.policy.load import PROFILES
from ramparts.policy.types import SessionSettings
from ramparts.posture.lint import PINNED_VERSION

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")


def test_the_secret_rule_count() -> None:
    count = len(load_rules())
    for path in (ROOT / "README.md", ROOT / "docs" / "detectors.md"):
        stated = [int(n) for n in re.findall(r"(\d+) (?:secret )?rules", path.read_text("utf-8"))[:1]]
        assert stated == [count], f"{path.name} says {stated}, the code loads {count}"


def test_the_session_limits() -> None:
    limits = SessionSettings()
    found = re.search(r"session limits \((\d+) h, (\d+) min idle, one live session per\s+user", README)
    assert found is not None
    assert int(found.group(1)) * 60 == limits.max_duration_minutes
    assert int(found.group(2)) == limits.idle_timeout_minutes and limits.max_concurrent == 1


def test_the_claude_code_version_and_profiles() -> None:
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert f"CLAUDE_VERSION := {PINNED_VERSION}" in makefile
    assert f"Claude Code {PINNED_VERSION}" in README
    assert set(re.findall(r"`(baseline|strict|readonly)`", README)) == set(PROFILES)
    required = re.search(r'requires-python = ">=(\d+\.\d+)"', (ROOT / "pyproject.toml").read_text("utf-8"))
    assert required is not None and f"Python {required.group(1)} or later" in README


def test_links_stay_inside_the_repository() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text("utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # a web address
            resolved = (path.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{path.name} links outside the repository: {target}"
            assert resolved.exists(), f"{path.name} links to a missing file: {target}"

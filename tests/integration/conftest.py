"""Integration fixtures: the pinned claude CLI (installed by `make test`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ramparts.testing import ClaudeBinaryNotFoundError, find_claude_bin


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    """The real CLI. Missing is a failure under CI (make test installs it) and a skip elsewhere."""
    try:
        return find_claude_bin()
    except ClaudeBinaryNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the pinned claude CLI is missing under CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture
def short_home() -> Iterator[Path]:
    """A home folder with a short path: Claude Code's sandbox makes Unix sockets under TMPDIR (which the
    hermetic environment puts in the home), and a socket path is limited to 108 bytes, which pytest's
    per-worker temporary folders exceed ("Failed to create bridge sockets")."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="rp-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""Integration fixtures: the pinned claude CLI (installed by `make test`)."""

from __future__ import annotations

import os
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

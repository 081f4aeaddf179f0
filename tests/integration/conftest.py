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


_MANAGED_LOCK = "/tmp/ramparts-tests-managed-settings.lock"
_MANAGED_INTENT = _MANAGED_LOCK + ".intent"


@pytest.fixture(autouse=True)
def _managed_settings_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """``test_managed_install`` writes the real /etc/claude-code, which every claude process on the machine
    reads while it exists: under pytest-xdist a claude run of another test would get its hooks and locks.
    Every test that runs the real CLI holds a lock shared; the managed-install test holds it alone. It
    first takes an intent lock, which new CLI tests pass through, so that it is not starved."""
    import fcntl

    uses_cli = "claude_bin" in request.fixturenames
    alone = request.node.get_closest_marker("managed_settings") is not None
    if not (uses_cli or alone):
        yield
        return
    with open(_MANAGED_INTENT, "a") as intent, open(_MANAGED_LOCK, "a") as handle:
        if alone:
            fcntl.flock(intent, fcntl.LOCK_EX)
            fcntl.flock(handle, fcntl.LOCK_EX)
        else:
            fcntl.flock(intent, fcntl.LOCK_SH)
            fcntl.flock(handle, fcntl.LOCK_SH)
            fcntl.flock(intent, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            fcntl.flock(intent, fcntl.LOCK_UN)

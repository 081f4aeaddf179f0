"""Shared fixtures: policies and hook events built the way the adapters build them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.agents.claude_code.normalize import tool_call
from ramparts.engine import decide
from ramparts.model import Decision, Event, SessionState
from ramparts.policy.load import compile_policy, load_policy
from ramparts.policy.types import Policy


@pytest.fixture(scope="session", autouse=True)
def shared_detector_cache() -> Iterator[Path]:
    """One compiled detector cache for the whole run (hook processes of every test read it through
    ``RAMPARTS_CACHE_DIR``): each fresh state directory would otherwise start its own multi-second
    Hyperscan compile in the background. Tests of the cold path set their own cache folder."""
    from ramparts.detect.scanner import Detectors

    folder = Path(__file__).resolve().parent.parent / ".pytest_cache" / "ramparts-detectors"
    folder.mkdir(parents=True, exist_ok=True)
    Detectors(("secret", "pii"), cache_dir=str(folder))
    old = os.environ.get("RAMPARTS_CACHE_DIR")
    os.environ["RAMPARTS_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("RAMPARTS_CACHE_DIR", None)
    else:
        os.environ["RAMPARTS_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One throwaway PostgreSQL server (loopback only) for the whole run; tests make their own schema or
    database in it. Skipped when PostgreSQL or psycopg is missing — except under CI, where that fails."""
    from ramparts.testing.postgres import PostgresNotFoundError, PostgresServer

    try:
        import psycopg  # noqa: F401

        server = PostgresServer()
    except (ImportError, PostgresNotFoundError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is missing under CI (make test installs it): {exc}")
        pytest.skip(f"PostgreSQL tests skipped, no server to run them against: {exc}")
    with server as pg:
        yield pg


@pytest.fixture(scope="session")
def baseline() -> Policy:
    return load_policy("profile:baseline")


@pytest.fixture(scope="session")
def strict() -> Policy:
    return load_policy("profile:strict")


def policy_from(text: str, base_dir: str = "/opt/policies") -> Policy:
    return compile_policy(text.encode(), "test.yaml", base_dir=base_dir)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text("# hello\n")
    (root / ".env").write_text("API_KEY=not-a-real-key\n")
    (root / "secrets.env").write_text("TOKEN=x\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hi')\n")
    return root


Decider = Callable[..., Decision]


@pytest.fixture
def check(project: Path) -> Decider:
    """check(policy, tool, **tool_input) -> Decision, for a call made in the project folder."""

    def run(policy: Policy, tool: str, tool_input: dict[str, Any] | None = None, **kwargs: Any) -> Decision:
        data = dict(tool_input or {}, **kwargs)
        home = str(project.parent / "home")
        call = tool_call(tool, data, cwd=str(project), home=home)
        event = Event(kind="pre_tool_use", session_id="s1", cwd=str(project), home=home, tool=call)
        return decide(policy, event, SessionState("s1"))

    return run

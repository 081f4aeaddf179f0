"""The public API is deliberate: this test pins it."""

from __future__ import annotations

import subprocess
import sys

import ramparts

EXPECTED = {
    "__version__",
    "AuditError",
    "AuditStore",
    "Command",
    "Decision",
    "Event",
    "FileAccess",
    "Finding",
    "HookInputError",
    "Policy",
    "PolicyError",
    "RampartsError",
    "SessionState",
    "StoreError",
    "Subject",
    "TamperError",
    "ToolCall",
    "compile_policy",
    "decide",
    "load_policy",
    "managed_settings",
}


def test_all_is_pinned() -> None:
    assert set(ramparts.__all__) == EXPECTED


def test_every_name_resolves() -> None:
    for name in ramparts.__all__:
        assert getattr(ramparts, name) is not None


def test_importing_the_package_is_light() -> None:
    """The hook imports the package on every tool call; it must not drag in YAML or JSON Schema."""
    code = "import sys, ramparts.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not {"yaml", "jsonschema", "ramparts.policy.load", "dataclasses", "ramparts.testing"} & loaded


def test_all_and_lazy_table_agree() -> None:
    assert set(ramparts.__all__) - {"__version__"} == set(ramparts._EXPORTS)

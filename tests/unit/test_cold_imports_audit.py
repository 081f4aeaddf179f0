"""The hook's audit, session and adapter modules import nothing heavy at run time (issue 21).

Each cold hook is a fresh interpreter: ``typing`` alone costs it more than a bare Python start-up. In a
fresh ``python -I -S`` process, every ``import`` statement these modules run while they load is recorded;
none may name a module of the cold path's forbidden list (docs/hook.md), whoever else loaded it already.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ramparts

SRC = str(Path(ramparts.__file__).resolve().parent.parent)

MODULES = (
    "ramparts._hashing",
    "ramparts._locations",
    "ramparts._util",
    "ramparts.agents.claude_code.decide",
    "ramparts.agents.claude_code.hook",
    "ramparts.agents.claude_code.launch",
    "ramparts.agents.claude_code.normalize",
    "ramparts.audit.backend",
    "ramparts.audit.checkpoint",
    "ramparts.audit.keys",
    "ramparts.audit.log",
    "ramparts.audit.merkle",
    "ramparts.audit.record",
    "ramparts.audit.sqlite",
    "ramparts.audit.store",
    "ramparts.session.process",
    "ramparts.session.store",
)
FORBIDDEN = (
    "typing collections functools contextlib json re enum fnmatch shlex threading subprocess signal selectors "
    "locale weakref dataclasses inspect ipaddress urllib pathlib datetime tempfile importlib string base64 "
    "types warnings operator keyword reprlib logging argparse"
)

DRIVER = """
import builtins, sys
sys.path.insert(0, sys.argv[1])
ours, forbidden = set(sys.argv[2].split()), set(sys.argv[3].split())
seen = []
real = builtins.__import__
def record(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__")
    if importer in ours and level == 0 and name.split(".")[0] in forbidden:
        seen.append(importer + " imports " + name)
    return real(name, globals, locals, fromlist, level)
builtins.__import__ = record
for module in sys.argv[2].split():
    __import__(module)
print(repr(seen))
"""


def test_the_cold_modules_import_nothing_forbidden() -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", DRIVER, SRC, " ".join(MODULES), FORBIDDEN],
        capture_output=True,
        text=True,
        check=True,
    )
    assert ast.literal_eval(done.stdout) == []


@pytest.mark.parametrize("module", MODULES)
def test_the_check_sees_a_forbidden_import(module: str, tmp_path: Path) -> None:
    """The driver records what a module's own import statements name: one added is caught."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", DRIVER, SRC, module, "os"],
        capture_output=True,
        text=True,
        check=True,
    )
    source = Path(SRC, *module.split(".")).with_suffix(".py").read_text(encoding="utf-8")
    imports_os = "\nimport os\n" in source
    assert (f"{module} imports os" in ast.literal_eval(done.stdout)) == imports_os

"""The shell analysis on a cold start: what it loads, and that the parser it loads is tree-sitter's (issue 21).

Each case runs in a fresh interpreter (``-I -S``, as the hook does) given this process's ``sys.path``: the
modules a process loaded cannot be unloaded, and the grammar's compiled module only once a process.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import ramparts

COMMAND = "cd /tmp && git -c core.pager=cat log -n 3 | head -5 > out.txt; date +%Y; ls *.py"
ANALYSE = f"""
from ramparts.shell.analyze import analyze
from ramparts.shell.git import GitSettings, check_git
from ramparts.shell.readonly import is_read_only
from ramparts.shell.split import split
result = analyze({COMMAND!r})
assert [c.argv[0] for c in result.commands] == ["cd", "git", "head", "date", "ls"], result.commands
assert [is_read_only(c.argv) for c in result.commands] == [True, True, True, True, True]
assert not is_read_only(("date", "010100002030")) and not is_read_only(("aws", "s3", "rm", "s3://b/k"))
assert check_git(("git", "push", "origin", "main"), GitSettings()) and not check_git(("git", "status"), GitSettings())
assert split("echo hi | cat").commands == (("echo", "hi"), ("cat",))
"""


def _run(code: str) -> dict[str, list[str]]:
    """Run ``code`` in a fresh ``python -I -S``; it leaves its findings in ``out``, returned here."""
    program = (  # nothing imported beyond what `python -I -S` has (json would load re)
        "import sys\n"
        f"sys.path[:0] = {sys.path!r}\n"
        "before = set(sys.modules)\n"
        "out = {}\n" + code + "\nout['loaded'] = sorted(set(sys.modules) - before)\nprint(repr(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = ast.literal_eval(done.stdout.splitlines()[-1])
    return result


def test_the_analysis_loads_neither_tree_sitter_s_package_nor_the_standard_helpers() -> None:
    loaded = set(_run(ANALYSE)["loaded"])
    assert {"tree_sitter._binding", "tree_sitter_bash._binding"} <= loaded
    # the packages' __init__ (typing; importlib.resources, pathlib), and what the analysis used to import
    unwanted = {
        "tree_sitter",
        "tree_sitter_bash",
        "importlib.util",
        "importlib.resources",
        "fnmatch",
        "shlex",
    }
    assert not loaded & unwanted


def test_a_later_import_of_tree_sitter_uses_the_module_loaded() -> None:
    found = _run(
        ANALYSE
        + """
binding = sys.modules["tree_sitter._binding"]
import tree_sitter
from ramparts.shell import split as s
out["same"] = [tree_sitter.Parser is binding.Parser, type(s._get_parser()) is tree_sitter.Parser]
tree = tree_sitter.Parser(s._get_parser().language).parse(b"echo hi")
out["root"] = [tree.root_node.type]
"""
    )
    assert found["same"] == [True, True]
    assert found["root"] == ["program"]


@pytest.mark.parametrize(
    "prelude",
    [
        "import tree_sitter, tree_sitter_bash",  # the packages are imported already: they are used
        # the compiled module is not where it was expected, or it cannot be loaded so: the ordinary import
        "import importlib.machinery as m\nm.ExtensionFileLoader = type('Other', (), {})",
        "import importlib.machinery as m\nm.ModuleSpec = lambda *a, **k: 1 / 0",
    ],
)
def test_the_ordinary_import_serves_when_the_direct_load_cannot(prelude: str) -> None:
    found = _run(prelude + "\n" + ANALYSE + "\nimport tree_sitter\nout['packages'] = ['ok']")
    assert {"tree_sitter._binding", "tree_sitter_bash._binding"} <= set(found["loaded"])
    assert "tree_sitter" in found["loaded"]


def test_cached_patterns_do_not_load_re(tmp_path: Path) -> None:
    """With every pattern in the cache (the second run), ``re`` is not loaded (tree-sitter loads it alone)."""
    cache = tmp_path / "__pycache__" / "_recache.marshal"
    package = Path(ramparts.__file__).parent
    code = f"""
package = type(sys)("ramparts")  # the module alone, not what the package's __init__ imports
package.__path__ = [{str(package)!r}]
sys.modules["ramparts"] = package
import ramparts._recache as r
r._PATH = {str(cache)!r}
r.compile(r"[a-z]+(?P<n>\\d+)", 16)
r.save()
"""
    assert "re" in _run(code)["loaded"] and cache.exists()
    found = _run(code.replace("r.save()", "out['missed'] = [str(len(r._missed))]"))
    assert found["missed"] == ["0"]
    assert "re" not in found["loaded"] and "enum" not in found["loaded"]


@pytest.mark.parametrize(
    "name",
    [
        "ramparts._recache",
        "ramparts.shell.analyze",
        "ramparts.shell.catastrophic",
        "ramparts.shell.git",
        "ramparts._lexical",
        "ramparts.shell.readonly",
        "ramparts.shell.split",
        "ramparts.shell.unwrap",
        "ramparts.agents.claude_code.repo_config",
    ],
)
def test_the_shell_modules_import_only_what_a_cold_start_has(name: str) -> None:
    """What the module imports at its top (others' modules may still load more; each is held to this)."""
    import importlib

    module = importlib.import_module(name)
    imported = {
        v.__name__
        for v in vars(module).values()
        if type(v) is type(sys) and not v.__name__.startswith("ramparts")
    }
    assert imported <= {"sys", "os", "posixpath", "marshal", "itertools", "_sre"}, imported
    unwanted = {"typing", "collections.abc", "fnmatch", "shlex", "re", "functools", "contextlib"}
    names = {k: getattr(v, "__module__", None) for k, v in vars(module).items() if callable(v)}
    assert not {k: v for k, v in names.items() if v in unwanted}


BARE_PACKAGES = f"""
for name, folder in (("ramparts", {str(Path(ramparts.__file__).parent)!r}), ("ramparts.shell", None)):
    package = type(sys)(name)  # the package alone, not what its __init__ imports
    package.__path__ = [folder or sys.modules["ramparts"].__path__[0] + "/shell"]
    sys.modules[name] = package
from ramparts.shell import binding as b
"""
LOAD_BOTH = """
ts = b.binding("tree_sitter")
parser = ts.Parser(ts.Language(b.binding("tree_sitter_bash").language()))
out["root"] = [parser.parse(b"echo hi | cat").root_node.type]
out["log_type"] = [repr(ts.LogType.PARSE), repr(ts.LogType(1)), str(issubclass(ts.LogType, int))]
"""
STANDARD = {"re", "enum", "collections", "functools", "operator", "types", "warnings", "keyword", "reprlib"}


def test_tree_sitter_s_initialisation_loads_none_of_the_standard_modules_it_names() -> None:
    """``PyInit__binding`` imports re, collections and enum (27 M instructions with what they import) for
    names the analysis never uses; stand-ins serve it, and are gone from ``sys.modules`` afterwards."""
    found = _run(
        BARE_PACKAGES
        + LOAD_BOTH
        + "out['after'] = sorted(n for n in ('re', 'enum', 'collections') if n in sys.modules)\n"
        + "import re, enum\n"
        + "out['real'] = [str(hasattr(re, 'sub')), str(hasattr(enum, 'Flag')), str(issubclass(ts.LogType, enum.Enum))]"
    )
    assert found["root"] == ["program"]
    assert found["log_type"] == ["<LogType.PARSE: 0>", "<LogType.LEX: 1>", "True"]
    assert found["after"] == []  # no stand-in left behind
    assert found["real"] == ["True", "True", "False"]  # a later import gets the real modules
    loaded_before_imports = set(_run(BARE_PACKAGES + LOAD_BOTH)["loaded"])
    assert {"tree_sitter._binding", "tree_sitter_bash._binding"} <= loaded_before_imports
    assert not loaded_before_imports & STANDARD, loaded_before_imports & STANDARD


@pytest.mark.parametrize(
    ("prelude", "why"),
    [
        ("import enum", "a module already loaded is used itself"),
        (
            "import _thread, time\n_thread.start_new_thread(time.sleep, (5,))\ntime.sleep(0.05)",
            "another thread",
        ),
        ("b.int_enum = lambda *a: 1 / 0", "an initialisation the stand-ins fail"),
    ],
)
def test_the_real_modules_serve_when_a_stand_in_cannot(prelude: str, why: str) -> None:
    found = _run(
        BARE_PACKAGES
        + prelude
        + "\n"
        + LOAD_BOTH
        + "import enum\nout['enum'] = [str(issubclass(ts.LogType, enum.IntEnum))]"
    )
    assert found["root"] == ["program"], why
    assert found["log_type"] == ["<LogType.PARSE: 0>", "<LogType.LEX: 1>", "True"], why
    assert found["enum"] == ["True"], why


def test_a_later_import_of_the_package_takes_the_stand_in_log_type() -> None:
    found = _run(
        BARE_PACKAGES
        + LOAD_BOTH
        + "import tree_sitter\nout['doc'] = [tree_sitter.LogType.__doc__, str(tree_sitter.Parser is ts.Parser)]"
    )
    assert found["doc"] == ["The type of a log message.", "True"]

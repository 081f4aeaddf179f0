"""The installed hook command, ``python -I -S run_hook.py hook ...``, and its ``launch`` (issue 21).

Without ``site`` the launcher puts the environment's packages on the path itself: only in a venv that
does not see the system's packages, where it can do exactly what ``site`` would (less the ``.pth``
files' ``import`` lines); anywhere else ``site`` runs. A hook it runs decides as ``-m ramparts hook``
does, and the garbage collector is off only for a ``hook``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ramparts
from ramparts.agents.claude_code.launch import pth_folders, venv_site_packages
from ramparts.policy.compile import hook_command, hook_launcher

SRC = str(Path(ramparts.__file__).resolve().parent.parent)
BOOT = "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); runpy.run_module('ramparts', run_name='__main__')"
"""``python -I -m ramparts`` from the tree given first (``-I`` keeps PYTHONPATH out)."""
VERSION = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def fake_venv(root: Path, cfg: str | None) -> tuple[str, Path]:
    (root / "bin").mkdir(parents=True)
    site = root / "lib" / VERSION / "site-packages"
    site.mkdir(parents=True)
    if cfg is not None:
        (root / "pyvenv.cfg").write_text(cfg)
    return str(root / "bin" / "python"), site


@pytest.mark.parametrize(
    ("cfg", "isolated"),
    [
        ("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n", True),
        ("home = /usr/bin\nInclude-System-Site-Packages=False\n", True),
        ("home = /usr/bin\ninclude-system-site-packages = true\n", False),  # site adds the system's too
        ("home = /usr/bin\n", False),  # no key: site's default is to include them
        (None, False),  # not a venv
    ],
)
def test_only_an_isolated_venv_is_done_without_site(tmp_path: Path, cfg: str | None, isolated: bool) -> None:
    python, site = fake_venv(tmp_path / "venv", cfg)
    assert venv_site_packages(python) == (str(site) if isolated else None)


def test_a_relative_interpreter_path_never_reads_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_venv(tmp_path, "include-system-site-packages = false\n")  # a project that looks like a venv
    monkeypatch.chdir(tmp_path)
    assert venv_site_packages("bin/python") is None
    assert venv_site_packages("") is None


def test_pth_folders_are_added_and_their_import_lines_are_not_run(tmp_path: Path) -> None:
    _, site = fake_venv(tmp_path / "venv", "include-system-site-packages = false\n")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    marker = tmp_path / "ran"
    (site / "b.pth").write_text(
        f"# a comment\n{one}\n\nimport os; open({str(marker)!r}, 'w')\n/nonexistent/x\n"
    )
    (site / "a.pth").write_text(f"{two}\n{one}\n")
    (site / ".hidden.pth").write_text(f"{tmp_path}\n")
    (site / "rel").mkdir()
    (site / "c.pth").write_text("rel\n")
    assert pth_folders(str(site)) == [str(two), str(one), str(site / "rel")]
    assert not marker.exists()


def _event(project: Path) -> bytes:
    return json.dumps(
        {
            "session_id": "3f1c9a2e-7b4d-4e8f-a6c1-5d2b9e0f7a13",
            "transcript_path": "/tmp/t.jsonl",
            "cwd": str(project),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": "Read",
            "tool_input": {"file_path": str(project / ".env")},
            "tool_use_id": "t1",
        }
    ).encode()


PROBE = """
import gc, runpy, sys, types
fake = types.ModuleType("ramparts.agents.claude_code.launch")
fake.main = lambda: print(gc.isenabled(), sys.path.index({src!r}) > sys.path.index({stdlib!r}))
sys.modules[fake.__name__] = fake
sys.argv = [{launcher!r}, *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize(("args", "collecting"), [(["hook"], False), (["hook-server"], True), ([], True)])
def test_the_collector_is_off_for_a_hook_only(args: list[str], collecting: bool) -> None:
    """A hook-server (started by the resident client from this same command line) lives long."""
    stdlib = os.path.dirname(os.__file__)
    probe = PROBE.format(src=SRC, stdlib=stdlib, launcher=hook_launcher())
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.split() == [str(collecting), "True"]  # and the tree goes behind the standard library


def test_the_installed_command_runs_this_tree_and_decides_as_the_module_does(tmp_path: Path) -> None:
    launcher = hook_launcher()
    assert Path(launcher).is_relative_to(SRC)
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("API_TOKEN=sk-test-0000000000000000\n")
    policy = tmp_path / "ramparts.yaml"
    policy.write_text("version: 1\nextends: baseline\n")
    command = hook_command(str(policy), str(tmp_path / "state"))
    argv = command.split()
    assert argv[:4] == [sys.executable, "-I", "-S", launcher] and argv[4] == "hook"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAMPARTS_", "PYTHON"))}
    answers = []
    for head in (
        argv[:4],
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {SRC!r}); from ramparts.cli import main; main()",
        ],
    ):
        proc = subprocess.run(
            [*head, *argv[4:]], input=_event(project), capture_output=True, env=env, timeout=60, check=False
        )
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        output = json.loads(proc.stdout)["hookSpecificOutput"]
        answers.append(
            (output["permissionDecision"], output["permissionDecisionReason"].split(" [decision")[0])
        )
    assert answers[0] == answers[1] and answers[0][0] == "deny"


def _broken_copy(tmp_path: Path, name: str, line: str) -> Path:
    """A copy of this tree's ``ramparts`` whose module ``name`` raises when imported: what a broken
    install or a dependency that does not import looks like to the hook command."""
    root = tmp_path / "src"
    shutil.copytree(Path(SRC) / "ramparts", root / "ramparts", ignore=shutil.ignore_patterns("__pycache__"))
    module = root / "ramparts" / name
    module.write_text(f"{module.read_text()}\n{line}\n")
    return root / "ramparts" / "agents" / "claude_code"


def _denied(argv: list[str], stdin: bytes | None) -> str:
    """Run a hook command that must block (exit code 2, nothing on stdout); its stderr."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr.decode()[-2000:]
    assert proc.stdout == b""
    return proc.stderr.decode()


@pytest.mark.parametrize(
    ("name", "line", "kind"),
    [
        ("cli/__init__.py", "import ramparts_no_such_dependency", "ModuleNotFoundError"),
        ("agents/claude_code/launch.py", "raise RuntimeError('a broken launcher')", "RuntimeError"),
    ],
)
def test_a_hook_that_cannot_start_exits_2_which_claude_code_reads_as_a_block(
    tmp_path: Path, name: str, line: str, kind: str
) -> None:
    """Claude Code blocks on exit code 2 alone; the traceback's exit code 1 would let the tool run."""
    folder = _broken_copy(tmp_path, name, line)
    argv = [
        sys.executable,
        "-I",
        "-S",
        str(folder / "run_hook.py"),
        "hook",
        "--policy",
        str(tmp_path / "p.yaml"),
    ]
    stderr = _denied(argv, _event(tmp_path))
    assert stderr.startswith(f"ramparts hook: cannot start: {kind}: ") and stderr.endswith("; denying\n")


def test_a_resident_client_that_cannot_load_exits_2(tmp_path: Path) -> None:
    folder = _broken_copy(tmp_path, "agents/claude_code/hook_client.py", "import ramparts_no_such_dependency")
    argv = [sys.executable, "-I", "-S", str(folder / "run_hook_client.py"), "--no-start", "--", "/bin/true"]
    assert _denied(argv, _event(tmp_path)) == (
        "ramparts hook: cannot start: ModuleNotFoundError: No module named 'ramparts_no_such_dependency'; denying\n"
    )


@pytest.mark.parametrize("script", ["run_hook_client.py", "hook_client.py"])
def test_a_resident_client_that_fails_before_asking_exits_2(tmp_path: Path, script: str) -> None:
    """Its stdin closed: the client raises before its own handler, in either form of the
    command (older installs run ``hook_client.py`` by path)."""
    client = Path(SRC) / "ramparts" / "agents" / "claude_code" / script
    sh = ["/bin/sh", "-c", 'exec "$@" <&-', "sh"]  # stdin closed (<&-): sys.stdin is None
    argv = [*sh, sys.executable, "-I", "-S", str(client), "--no-start", "--", "/bin/true"]
    assert _denied(argv, None).startswith("ramparts hook: cannot start: AttributeError")


def test_the_older_module_command_denies_when_the_cli_cannot_be_imported(tmp_path: Path) -> None:
    _broken_copy(tmp_path, "cli/__init__.py", "import ramparts_no_such_dependency")
    argv = [
        sys.executable,
        "-I",
        "-c",
        BOOT,
        str(tmp_path / "src"),
        "hook",
        "--policy",
        str(tmp_path / "p.yaml"),
    ]
    assert _denied(argv, _event(tmp_path)).startswith("ramparts hook: cannot start: ModuleNotFoundError: ")


def _all_ramparts_modules() -> list[tuple[str, list[str]]]:
    """Every submodule and subpackage name of the tree, with its parent package's search path."""
    root = Path(ramparts.__file__).resolve().parent
    out: list[tuple[str, list[str]]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        package = "ramparts" + "".join("." + part for part in Path(folder).relative_to(root).parts)
        out += [(f"{package}.{f[:-3]}", [folder]) for f in files if f.endswith(".py") and f != "__init__.py"]
        out += [(f"{package}.{d}", [folder]) for d in dirs]
    return out


def test_the_hook_finder_gives_the_spec_the_standard_search_gives() -> None:
    """For every module of the tree: the same name, file, loader, package path and bytecode path as
    ``PathFinder`` (or nothing, leaving it to the standard search); and it does serve the tree."""
    from importlib.machinery import PathFinder, SourceFileLoader

    from ramparts.agents.claude_code.launch import OwnModules

    finder = OwnModules()
    served = 0
    for name, path in _all_ramparts_modules():
        ours = finder.find_spec(name, path)
        if ours is None:
            continue
        served += 1
        theirs = PathFinder.find_spec(name, path)
        assert theirs is not None, name
        assert (ours.name, ours.origin, ours.submodule_search_locations, ours.cached, ours.has_location) == (
            theirs.name,
            theirs.origin,
            theirs.submodule_search_locations,
            theirs.cached,
            theirs.has_location,
        ), name
        assert type(ours.loader) is type(theirs.loader) is SourceFileLoader, name
        assert (ours.loader.name, ours.loader.path) == (theirs.loader.name, theirs.loader.path), name
        assert ours.parent == theirs.parent, name
    assert served > 100
    assert finder.find_spec("json", None) is None and finder.find_spec("ramparts.nothing_here", [SRC]) is None


def test_the_hook_finder_leaves_other_kinds_of_module_to_the_standard_search(tmp_path: Path) -> None:
    from importlib.machinery import EXTENSION_SUFFIXES

    from ramparts.agents.claude_code.launch import OwnModules

    (tmp_path / "plain.py").write_text("")
    (tmp_path / "native.py").write_text("")
    (tmp_path / f"native{EXTENSION_SUFFIXES[0]}").write_text("")  # an extension wins over the source
    (tmp_path / "onlybytecode.pyc").write_bytes(b"")
    (tmp_path / "spaced").mkdir()  # a namespace folder
    (tmp_path / "spaced" / "x.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "both").mkdir()  # a folder without __init__ beside a module of the same name
    (tmp_path / "both.py").write_text("")
    finder = OwnModules()
    where = [str(tmp_path)]
    plain = finder.find_spec("ramparts.plain", where)
    assert plain is not None and plain.origin == str(tmp_path / "plain.py")
    package = finder.find_spec("ramparts.pkg", where)
    assert package is not None and package.submodule_search_locations == [str(tmp_path / "pkg")]
    for name in ("native", "onlybytecode", "spaced", "both", "missing"):
        assert finder.find_spec(f"ramparts.{name}", where) is None, name
    assert finder.find_spec("other.plain", where) is None  # not the tree's
    assert finder.find_spec("ramparts.plain", [*where, *where]) is None  # a search path of several folders


HOOK_FINDER = """
import sys, runpy, types
sys.argv = [{launcher!r}, *sys.argv[1:]]
import ramparts
cli = types.ModuleType("ramparts.cli")  # the command itself: it reports the first finder
cli.main = lambda: print(getattr(sys.meta_path[0], "__name__", type(sys.meta_path[0]).__name__)) or 0
sys.modules[cli.__name__] = cli
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize(("args", "first"), [(["hook"], "OwnModules"), (["hook-server"], "BuiltinImporter")])
def test_only_a_hook_puts_its_finder_first(args: list[str], first: str) -> None:
    """A hook-server lives long: its modules are found the standard way (which sees files come and go)."""
    probe = HOOK_FINDER.format(launcher=hook_launcher())
    probe = f"import sys; sys.path.insert(0, {SRC!r})\n" + probe
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.split() == [first]

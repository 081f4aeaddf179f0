"""What ``run_hook.py`` (the installed hook command, ``python -I -S run_hook.py hook ...``) runs.

Without ``site`` (``-S``) the interpreter has only the standard library on its path. :func:`main` adds
what ``site`` would: in a virtual environment that does not see the system's packages (every usual
install), its ``site-packages`` and the folders its ``.pth`` files name, and ``sys.prefix``. It skips
what a hook does not need: the ``.pth`` files' ``import`` lines (``_distutils_hack``, coverage's
start-up, setuptools' editable finders), ``sitecustomize``, the user's site. Anywhere else (no venv,
``include-system-site-packages``, not POSIX, a ``lib64`` layout) it runs ``site.main()``, as the
interpreter would have: the same path, only not faster.

For a ``hook``, :class:`OwnModules` finds Ramparts' own modules ahead of the standard search, and
``run_hook.py`` turns the cyclic garbage collector off first: the process lives some
tens of milliseconds, and importing allocates enough objects to trigger several full passes that find
nothing to free. Every other command (``hook-server``, which the resident client starts from this
same command line) keeps it.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec


def venv_site_packages(executable: str) -> str | None:
    """The ``site-packages`` of the venv ``executable`` runs in, when ``site`` would add that alone (with
    its ``.pth`` folders); None when ``site`` would add more or otherwise (then run ``site`` itself)."""
    if os.name != "posix" or sys.platlibdir != "lib" or not os.path.isabs(executable):
        return None
    venv = os.path.dirname(os.path.dirname(executable))
    isolated = False
    try:  # read as site.venv() reads it: without the key, site adds the system's packages too
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as cfg:
            for line in cfg:
                key, eq, value = line.partition("=")
                if eq and key.strip().lower() == "include-system-site-packages":
                    isolated = value.strip().lower() != "true"
    except (OSError, UnicodeDecodeError):
        return None
    folder = os.path.join(venv, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
    return folder if isolated and os.path.isdir(folder) else None


def pth_folders(site_packages: str) -> list[str]:
    """The existing folders the ``.pth`` files of ``site_packages`` name, in ``site``'s order (files by
    name, hidden ones skipped); their ``import`` lines are not run."""
    out: list[str] = []
    try:
        names = sorted(n for n in os.listdir(site_packages) if n.endswith(".pth") and not n.startswith("."))
    except OSError:
        return out
    for name in names:
        try:
            with open(os.path.join(site_packages, name), encoding="utf-8") as pth:
                lines = pth.read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            if not line.strip() or line.startswith(("#", "import ", "import\t")):
                continue
            folder = os.path.abspath(os.path.join(site_packages, line.rstrip()))
            if folder not in out and os.path.exists(folder):
                out.append(folder)
    return out


def set_path() -> None:
    """Put the environment's packages on ``sys.path`` as ``site`` would (module docstring)."""
    site_packages = venv_site_packages(sys.executable)
    if site_packages is None:
        import site

        site.main()
        return
    sys.prefix = sys.exec_prefix = os.path.dirname(os.path.dirname(sys.executable))
    for folder in (site_packages, *pth_folders(site_packages)):
        if folder not in sys.path:
            sys.path.append(folder)


class OwnModules:
    """Finds Ramparts' own submodules (``ramparts.…``) for a ``hook``: the spec ``PathFinder`` would
    give, with less work. The standard search asks the built-in and frozen importers first, then stats
    the folder and tries each suffix in turn; a cold event imports some 40 of these modules, and this
    saves it about 1 M instructions. It lists each package folder once and serves a plain source module
    or package only; anything else (a compiled extension or bytecode alone beside it, a namespace
    folder, a name it does not list) is left to the standard search, which it comes before. Only for a
    ``hook``, which lives tens of milliseconds: a long-lived process sees files come and go."""

    def __init__(self) -> None:
        # the import system's own modules, loaded at start (importlib.util is not: it costs ~8 M);
        # an ImportError (another implementation) leaves the standard search alone
        import _imp
        from _frozen_importlib_external import SourceFileLoader, spec_from_file_location

        self._loader, self._spec = SourceFileLoader, spec_from_file_location
        self._listings: dict[str, frozenset[str]] = {}
        self._extensions = tuple(_imp.extension_suffixes())

    def _listing(self, folder: str) -> frozenset[str]:
        names = self._listings.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(folder))
            except OSError:
                names = frozenset()
            self._listings[folder] = names
        return names

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: object = None
    ) -> ModuleSpec | None:
        if path is None or len(path) != 1 or not name.startswith("ramparts."):
            return None
        folder, tail = path[0], name.rpartition(".")[2]
        names = self._listing(folder)
        if tail in names:  # a package, when its folder holds only an __init__.py of the kinds searched
            inner = self._listing(os.path.join(folder, tail))
            if "__init__.py" not in inner or any("__init__" + s in inner for s in self._extensions):
                return None
            file = os.path.join(folder, tail, "__init__.py")
            package = [os.path.join(folder, tail)]
            return self._spec(name, file, loader=self._loader(name, file), submodule_search_locations=package)
        if tail + ".py" not in names or any(tail + s in names for s in self._extensions):
            return None
        file = os.path.join(folder, tail + ".py")
        return self._spec(name, file, loader=self._loader(name, file))


def main() -> None:
    if sys.flags.no_site:
        set_path()
    if sys.argv[1:2] == ["hook"]:
        try:
            finder = OwnModules()
        except ImportError:
            pass
        else:
            sys.meta_path.insert(0, finder)
    from ...cli import main as cli_main

    sys.exit(cli_main())

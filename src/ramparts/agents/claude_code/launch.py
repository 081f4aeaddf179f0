"""What ``run_hook.py`` (the installed hook command, ``python -I -S run_hook.py hook ...``) runs.

Without ``site`` (``-S``) the interpreter has only the standard library on its path. :func:`main` adds
what ``site`` would: in a virtual environment that does not see the system's packages (every usual
install), its ``site-packages`` and the folders its ``.pth`` files name, and ``sys.prefix``. It skips
what a hook does not need: the ``.pth`` files' ``import`` lines (``_distutils_hack``, coverage's
start-up, setuptools' editable finders), ``sitecustomize``, the user's site. Anywhere else (no venv,
``include-system-site-packages``, not POSIX, a ``lib64`` layout) it runs ``site.main()``, as the
interpreter would have: the same path, only not faster.

For a ``hook``, ``run_hook.py`` turns the cyclic garbage collector off first: the process lives some
tens of milliseconds, and importing allocates enough objects to trigger several full passes that find
nothing to free. Every other command (``hook-server``, which the resident client starts from this
same command line) keeps it.
"""

from __future__ import annotations

import os
import sys


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


def main() -> None:
    if sys.flags.no_site:
        set_path()
    from ...cli import main as cli_main

    sys.exit(cli_main())

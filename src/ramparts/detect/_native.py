"""A module of an installed package, loaded without running the package's ``__init__`` (issue 21).

Hyperscan's and RE2's packages import ``typing`` (and RE2's ``functools``) in their ``__init__``: about
20 M instructions a cold hook pays for names it never uses. The detectors use only what the C extension
module beside that ``__init__`` defines (:mod:`hyperscan._hs_ext`; :mod:`re2._re2` until a match needs
RE2's Python wrapper), so the cold hook loads that module alone: found with the import system's own path
finder, loaded by its own loader and registered under its full name, as ``import package.name`` would.
A later ``import package`` in the same process then reuses that very module (no second copy of the
extension); no stand-in for the package is ever registered.

Anything unexpected (no such package, not a folder, no such module, a loader of another kind, a failed
load) gives ``None``: the caller then imports the package as usual.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType


def initialised(module: ModuleType | None) -> ModuleType | None:
    """``module``, unless it is still being executed (another thread is importing it: its ``__spec__``
    says so, as the import system's own "partially initialized" check reads it); then ``None``."""
    if module is not None and getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def submodule(package: str, name: str) -> ModuleType | None:
    """``package.name`` from ``package``'s folder, without importing ``package`` (already imported: from
    it); ``None`` when it cannot be loaded so (the caller imports ``package`` as usual)."""
    full = f"{package}.{name}"
    loaded = sys.modules.get(full)
    if loaded is not None:
        return initialised(loaded)  # still loading in another thread: the caller's import waits for it
    if package in sys.modules:
        return None  # the package is imported: its own import of the module is the one to use
    try:
        # the import system's own modules (importlib.machinery's and importlib._bootstrap's classes and
        # functions are these), already loaded by every CPython at start: no module is imported for them
        external = sys.modules["_frozen_importlib_external"]
        bootstrap = sys.modules["_frozen_importlib"]
        spec = external.PathFinder.find_spec(package)
        folders = None if spec is None else spec.submodule_search_locations
        if not folders:
            return None
        found = external.PathFinder.find_spec(full, list(folders))  # ``name`` there, named ``full``
        if found is None or not isinstance(
            found.loader, external.ExtensionFileLoader | external.SourceFileLoader
        ):
            return None
        module: ModuleType = bootstrap._load(found)  # registers it in sys.modules, as an import does
    except Exception:  # noqa: BLE001 - any surprise: the usual import decides
        sys.modules.pop(full, None)
        return None
    return module

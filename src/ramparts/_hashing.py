"""SHA-256 and keyed BLAKE2b from CPython's built-in modules when present.

``hashlib`` loads OpenSSL (about 4 ms per process); the hook runs once per tool call, so it
uses the built-in implementations, which compute the same digests. Other Pythons fall back to
``hashlib``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _first(*candidates: tuple[str, str]) -> Callable[..., Any]:
    for module, name in candidates:
        try:
            __import__(module)  # not importlib.import_module: the importlib package loads warnings
            found: Callable[..., Any] = getattr(sys.modules[module], name)
        except (ImportError, AttributeError):
            continue
        return found
    raise ImportError(f"none of {candidates} is available")


sha256 = _first(("_sha256", "sha256"), ("_sha2", "sha256"), ("hashlib", "sha256"))
blake2b = _first(("_blake2", "blake2b"), ("hashlib", "blake2b"))

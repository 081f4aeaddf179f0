"""How a typed policy field is declared: where it sits in the policy file, how it is checked, how layers merge.

Each field of the typed config (:mod:`ramparts.policy.types`) carries its file key with its
default, ``timeout: int = key(10, minimum=1)`` (a field without a default: ``Annotated[str, Key()]``),
and each class is marked ``@declare``. From that one declaration :mod:`ramparts.policy.schema` derives the
JSON Schema, :mod:`ramparts.policy.load` merges the layers and builds the frozen config, and the
cache reads and writes it. This module is on the hook's import path: it holds data only.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, Literal, TypeVar

    T = TypeVar("T")

    Merge = Literal["replace", "union", "append", "map", "map_deep"]
    """How a later layer (a file over the profiles it extends) changes a value:
    ``replace`` takes the later value; ``union`` adds list items not yet present; ``append`` adds every
    item; ``map`` merges an object per key (a key's value replaced); ``map_deep`` also merges each key's
    object per key."""


class Key:
    """A typed field's place in the policy file.

    ``path``: dotted, relative to the parent section (``reads.high``); ``""``: the field's own name;
    ``None``: not read from the file (derived or computed by the loader). ``special``: the loader
    builds the value with the named function (``ramparts.policy.load``). ``item``: a per-item check
    or canonical form applied as each layer merges (errors at the item's line). ``map_key`` /
    ``map_value``: the field is a tuple of pairs written in the file as an object. The remaining
    keywords are JSON Schema keywords for the value (``minimum``, ``pattern``, ``description``,
    ``items``, ``propertyNames``…); ``schema`` replaces the derived schema outright.
    """

    __slots__ = ("extra", "is_map", "item", "merge", "path", "schema", "special")

    def __init__(
        self,
        path: str | None = "",
        *,
        merge: Merge = "replace",
        special: str = "",
        item: str = "",
        is_map: bool = False,
        schema: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        self.path = path
        self.merge = merge
        self.special = special
        self.item = item
        self.is_map = is_map
        self.schema = schema
        self.extra = extra

    def __repr__(self) -> str:
        return f"Key({self.path!r})"


class _Keyed:
    """A default still wrapped with its key, until :func:`declare` takes them apart."""

    __slots__ = ("default", "key")

    def __init__(self, default: Any, key: Key) -> None:
        self.default = default
        self.key = key


def key(default: T, path: str | None = "", **options: Any) -> T:
    """A field's default and its :class:`Key` (typed as the default, so checkers see the field's type)."""
    return _Keyed(default, Key(path, **options))  # type: ignore[return-value]


def declare(cls: type[T]) -> type[T]:
    """Take the keys off a NamedTuple's defaults: the defaults become plain again, the keys go to
    ``__keys__``. Cheaper at import than ``Annotated`` (the hook imports this module on every start)."""
    names: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    defaults: dict[str, Any] = dict(cls._field_defaults)  # type: ignore[attr-defined]
    keys = {name: value.key for name, value in defaults.items() if isinstance(value, _Keyed)}
    plain = {name: value.default if isinstance(value, _Keyed) else value for name, value in defaults.items()}
    cls.__new__.__defaults__ = tuple(plain[name] for name in names if name in plain)
    cls._field_defaults = plain  # type: ignore[attr-defined]
    cls.__keys__ = keys  # type: ignore[attr-defined]
    if RECORDS.setdefault(cls.__name__, cls) is not cls:
        raise TypeError(f"two declared classes named {cls.__name__}")
    return cls


RECORDS: dict[str, type] = {}
"""Every ``@declare`` class by name (the hook's cache names each record by its class)."""


DERIVED = Key(None)
"""A field the loader computes (revision, source, compiled rules…): not a key of the file."""


# -- the declarations' types, evaluated when asked (never on the hook's path) -----------------------
#
# The modules that declare NamedTuples (this package's types, ramparts.model) write their annotations
# as strings (``from __future__ import annotations``) and keep ``typing`` and their type aliases under
# ``if TYPE_CHECKING:``, so the hook, which only reads values, never imports typing. The schema and the
# merge need the evaluated types: :func:`type_hints` evaluates them in the module's namespace plus its
# own ``TYPE_CHECKING`` block, executed once (the block is the one place each alias is written).

_NAMESPACES: dict[str, dict[str, Any]] = {}
_HINTS: dict[type, dict[str, Any]] = {}


def annotation_namespace(module_name: str) -> dict[str, Any]:
    """The module's globals plus what its top-level ``if TYPE_CHECKING:`` block defines (its typing
    imports and type aliases), executed once in a copy of the globals (the module itself is untouched).
    The block is found in the module's source by its lines (no ``ast``: a run-time import of an alias
    may come on the hook's path, from a module not yet written for it)."""
    found = _NAMESPACES.get(module_name)
    if found is not None:
        return found
    module: ModuleType = sys.modules[module_name]
    namespace = dict(vars(module))
    path = module.__file__
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("if TYPE_CHECKING:")), -1)
        if start >= 0:
            end = start + 1
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            # the block run as `if True:`, on its own line numbers (an error in it names its line);
            # exec of the text, not of compile()'s code: the first compile() call costs ~10 M instructions
            source = "\n" * start + "if True:\n" + "\n".join(lines[start + 1 : end])
            exec(source, namespace)  # noqa: S102 - the module's own source
    _NAMESPACES[module_name] = namespace
    return namespace


def type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls, include_extras=True)`` of a NamedTuple whose annotations are strings
    naming what its module's ``TYPE_CHECKING`` block holds (``Annotated[str, Key(...)]`` keeps its key)."""
    found = _HINTS.get(cls)
    if found is None:
        import typing

        namespace = annotation_namespace(cls.__module__)  # locals too: a field's name never shadows
        found = _HINTS[cls] = typing.get_type_hints(cls, namespace, namespace, include_extras=True)
    return found


def lazy_alias(module_name: str, name: str) -> Any:
    """A module's ``__getattr__`` for the type aliases of its ``TYPE_CHECKING`` block, for code that
    still imports one at run time (it then pays for typing; the hook does not)."""
    # an alias is a capitalised name: probes such as `from m import x` asking for __path__ cost nothing
    if name[:1].isupper():
        namespace = annotation_namespace(module_name)
        if name in namespace and name not in vars(sys.modules[module_name]):
            return namespace[name]
    raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

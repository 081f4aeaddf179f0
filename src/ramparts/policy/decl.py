"""How a typed policy field is declared: where it sits in the policy file, how it is checked, how layers merge.

Each field of the typed config (:mod:`ramparts.policy.types`) carries its file key with its
default, ``timeout: int = key(10, minimum=1)`` (a field without a default: ``Annotated[str, Key()]``),
and each class is marked ``@declare``. From that one declaration :mod:`ramparts.policy.schema` derives the
JSON Schema, :mod:`ramparts.policy.load` merges the layers and builds the frozen config, and the
cache reads and writes it. This module is on the hook's import path: it holds data only.
"""

from typing import Any, Literal, TypeVar, cast

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


T = TypeVar("T")


class _Keyed:
    """A default still wrapped with its key, until :func:`declare` takes them apart."""

    __slots__ = ("default", "key")

    def __init__(self, default: Any, key: Key) -> None:
        self.default = default
        self.key = key


def key(default: T, path: str | None = "", **options: Any) -> T:
    """A field's default and its :class:`Key` (typed as the default, so checkers see the field's type)."""
    return cast(T, _Keyed(default, Key(path, **options)))


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
    return cls


DERIVED = Key(None)
"""A field the loader computes (revision, source, compiled rules…): not a key of the file."""

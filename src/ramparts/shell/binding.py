"""tree-sitter's compiled modules, loaded for the cold hook without the standard library they reach for.

Two costs come with ``import tree_sitter`` that the shell analysis never uses (issue 21):

- the packages' ``__init__``: ``tree_sitter``'s imports ``typing``, the grammar's ``importlib.resources``
  (with it ``pathlib`` and ``tempfile``). :func:`binding` loads each package's compiled ``_binding``
  module alone.
- the compiled module's own initialisation (``PyInit__binding``, py-tree-sitter 0.23-0.26) takes one name
  from each of three modules: ``re.compile`` (kept for the ``#match?`` predicates of queries),
  ``collections.namedtuple`` (it builds ``Point``) and ``enum.IntEnum`` (it builds ``LogType``, what a
  parser's logger is called with). Importing the three costs a fresh interpreter some 27 M instructions
  (``enum`` alone 20 M: it imports ``functools``, ``collections``, ``operator``, ``types``...), a quarter
  of a cold hook's Bash event, for names the analysis never calls: it runs no query, reads no
  ``Point`` (byte offsets only) and sets no logger.

So while one of those three modules is not loaded yet and no other thread runs (no other code can see
them), :func:`binding` lets small stand-ins serve the initialisation, and takes them out of
``sys.modules`` right after:

- ``re``: a ``compile`` that imports the real ``re`` when it is first called and returns its pattern;
- ``collections``: a ``namedtuple`` that builds the class :mod:`ramparts._tuples` builds (the same class
  ``collections.namedtuple`` makes: tests compare them), for the call the initialisation makes;
- ``enum``: an ``IntEnum`` that builds an ``int`` subclass with the same members, values, names and
  ``repr`` (no ``enum.Enum`` machinery: iterating the class, ``LogType["PARSE"]``). Only a parser
  logger would ever receive one; Ramparts sets none.

A module already loaded is used itself (a process that imported ``typing`` has all three: the gateway,
the CLI). Anything unexpected (another thread, an initialisation that fails, a call the stand-ins were
not made for) loads the module with the real modules, and then the ordinary import.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from types import ModuleType
    from typing import Any

STAND_INS = ("re", "collections", "enum")
"""The modules ``PyInit__binding`` imports, in its order."""
_KEYWORDS = frozenset(
    {
        "False",
        "None",
        "True",
        "and",
        "as",
        "assert",
        "async",
        "await",
        "break",
        "class",
        "continue",
        "def",
        "del",
        "elif",
        "else",
        "except",
        "finally",
        "for",
        "from",
        "global",
        "if",
        "import",
        "in",
        "is",
        "lambda",
        "nonlocal",
        "not",
        "or",
        "pass",
        "raise",
        "return",
        "try",
        "while",
        "with",
        "yield",
    }
)
"""Python's keywords (``keyword.kwlist``), which ``collections.namedtuple`` refuses as names."""


def binding(package: str) -> Any:
    """``package._binding`` (the package's compiled module), without running the package's ``__init__``.

    Only while the package itself is not imported, and only for a compiled module found where the import
    system would find it; the module is registered under its own name, so a later ``import package`` in
    this process uses this very module (no stand-in parent package is ever registered). Anything else
    unexpected: the ordinary import.
    """
    name = package + "._binding"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    if package not in sys.modules:
        try:
            # the import system's own classes (importlib.machinery's), loaded by every CPython at start:
            # importing importlib.machinery would load importlib's package, and with it ``warnings``
            external = sys.modules["_frozen_importlib_external"]
            ExtensionFileLoader, PathFinder = external.ExtensionFileLoader, external.PathFinder
            ModuleSpec = sys.modules["_frozen_importlib"].ModuleSpec

            found = PathFinder.find_spec(package)
            folders = found.submodule_search_locations if found is not None else None
            spec = PathFinder.find_spec("_binding", list(folders)) if folders else None
            if spec is not None and isinstance(spec.loader, ExtensionFileLoader) and spec.origin:
                loader = ExtensionFileLoader(name, spec.origin)
                spec = ModuleSpec(name, loader, origin=spec.origin)
                spec.has_location = True
                module = _create(loader, spec)
                module.__spec__, module.__loader__, module.__file__ = spec, loader, spec.origin
                module.__package__ = package
                loader.exec_module(module)
                sys.modules[name] = module
                return module
        except Exception:  # noqa: BLE001 - another layout or Python: the ordinary import below
            sys.modules.pop(name, None)
    __import__(name)
    return sys.modules[name]


def _create(loader: Any, spec: Any) -> ModuleType:
    """The compiled module created (its ``PyInit`` run) with :data:`STAND_INS` standing in for the
    standard modules it imports, when that can be done unseen; else with the modules themselves."""
    stand_ins = _stand_ins()
    if not stand_ins:
        return loader.create_module(spec)  # type: ignore[no-any-return]
    for module in stand_ins:
        sys.modules[module.__name__] = module
    created: ModuleType | None = None
    try:
        created = loader.create_module(spec)
    except Exception:  # noqa: BLE001 - not the initialisation the stand-ins were made for: the real modules
        created = None
    finally:
        for module in stand_ins:
            if sys.modules.get(module.__name__) is module:
                del sys.modules[module.__name__]
    return created if created is not None else loader.create_module(spec)


def _stand_ins() -> list[ModuleType]:
    """A stand-in for each of :data:`STAND_INS` not loaded yet; none when another thread runs (it could
    import one of them while a stand-in is registered) or a part they are built from is missing."""
    missing = [name for name in STAND_INS if name not in sys.modules]
    if not missing:
        return []
    try:
        import _thread

        from .._tuples import namedtuple_class

        if _thread._count() != 0:  # threads started besides the main one, still running
            return []
    except (ImportError, AttributeError):
        return []
    makers: dict[str, tuple[str, Callable[..., Any]]] = {
        "re": ("compile", _re_compile),
        "collections": ("namedtuple", _namedtuple_maker(namedtuple_class)),
        "enum": ("IntEnum", int_enum),
    }
    out = []
    for name in missing:
        module = type(sys)(
            name, f"stands in for {name} while tree-sitter initialises (ramparts.shell.binding)"
        )
        attribute, function = makers[name]
        setattr(module, attribute, function)
        out.append(module)
    return out


def _re_compile(pattern: Any, flags: int = 0) -> Any:
    """``re.compile``, the real one, imported at the first call (a query's ``#match?`` predicate)."""
    import re

    return re.compile(pattern, flags)


def _namedtuple_maker(
    build: Callable[[str, tuple[str, ...], tuple[Any, ...], str | None], type],
) -> Callable[..., type]:
    def namedtuple(
        typename: str,
        field_names: Iterable[str],
        *,
        rename: bool = False,
        defaults: Iterable[Any] | None = None,
        module: str | None = None,
    ) -> type:
        """``collections.namedtuple`` for field names given as a list and no ``rename`` (what the
        initialisation passes); anything else raises, and the real module serves."""
        if rename or isinstance(field_names, str):
            raise TypeError("the stand-in namedtuple takes a list of field names and no rename")
        fields = tuple(field_names)
        names = (typename, *fields)
        if module is None or not all(
            isinstance(n, str) and n.isidentifier() and n not in _KEYWORDS for n in names
        ):
            raise TypeError("the stand-in namedtuple takes identifiers (no keywords) and a module name")
        return build(typename, fields, tuple(defaults or ()), module)

    return namedtuple


def int_enum(name: str, members: Mapping[str, int]) -> type:
    """``enum.IntEnum(name, members)`` as far as a member goes: an ``int`` subclass whose members are its
    only instances (``Type(value)`` gives the member, another value raises ``ValueError``), each with
    ``name`` and ``value``, ``repr`` ``<Type.NAME: value>`` and ``str`` its number, as ``IntEnum``'s."""
    if not name.isidentifier() or not all(isinstance(k, str) and type(v) is int for k, v in members.items()):
        raise TypeError("the stand-in IntEnum takes a name and a mapping of names to ints")
    by_value: dict[int, Any] = {}

    def __new__(cls: type, value: object) -> Any:
        try:
            return by_value[value]  # type: ignore[index]
        except (KeyError, TypeError):
            raise ValueError(f"{value!r} is not a valid {name}") from None

    def __repr__(self: Any) -> str:
        return f"<{name}.{self._name_}: {int(self)}>"

    namespace: dict[str, Any] = {
        "__new__": __new__,
        "__repr__": __repr__,
        "__str__": int.__repr__,
        "__format__": int.__format__,
        "__reduce_ex__": lambda self, protocol: (type(self), (int(self),)),
        "name": property(lambda self: self._name_, doc="The member's name."),
        "value": property(int, doc="The member's value."),
        "__module__": "tree_sitter",
        "__qualname__": name,
    }
    made = type(name, (int,), namespace)
    for key, value in members.items():
        member: Any = int.__new__(made, value)
        member._name_ = key
        by_value.setdefault(value, member)
        setattr(made, key, by_value[value])
    made.__members__ = {key: by_value[value] for key, value in members.items()}  # type: ignore[attr-defined]
    return made

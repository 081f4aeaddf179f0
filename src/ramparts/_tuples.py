"""``NamedTuple`` as :class:`typing.NamedTuple` declares it, built without ``typing`` or ``collections``.

The hook defines some fifty of these on every event (the policy, the model, the audit record).
``typing.NamedTuple`` checks each annotation at class creation (a string annotation becomes a
``ForwardRef``: one ``compile()`` per field), and ``collections.namedtuple`` compiles a ``__new__`` for
each class; importing either module costs the cold hook more than all its classes (``typing`` pulls in
``re``, ``functools``, ``contextlib``…). This builds the same class as ``collections.namedtuple`` (the
same attributes, methods, docstrings and errors) from the C parts it uses: ``_collections._tuplegetter``
for the fields and a ``__new__`` per arity compiled in advance (:mod:`ramparts._tuple_new`), its
arguments renamed to the fields. Annotations are kept as written (``typing.get_type_hints`` reads a
string and a ``ForwardRef`` alike).

Type checkers see ``typing.NamedTuple`` itself. Only the class form is served here; the functional
form (``NamedTuple("P", [("x", int)])``) is typing's own.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any
    from typing import NamedTuple as NamedTuple

    def namedtuple_class(
        typename: str, fields: tuple[str, ...], defaults: tuple[Any, ...], module: str | None
    ) -> type:
        """``collections.namedtuple(typename, fields, defaults=defaults, module=module)``'s class."""
        ...
else:
    from _collections import _tuplegetter

    from ._tuple_new import TEMPLATES

    _PROHIBITED = frozenset(
        {
            "__new__",
            "__init__",
            "__slots__",
            "__getnewargs__",
            "_fields",
            "_field_defaults",
            "_make",
            "_replace",
            "_asdict",
            "_source",
        }
    )
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})
    _tuple_new = tuple.__new__
    _function = type(lambda: None)

    def _new(typename, fields, defaults):
        """``__new__(_cls, <fields>)``: a copy of the arity's template with the fields as arguments."""
        count = len(fields)
        if count < len(TEMPLATES):
            code = TEMPLATES[count].__code__
        else:  # more fields than the templates cover: compiled here, as collections would
            arguments = ", ".join(fields)
            source = f"lambda _cls, {arguments}: _tuple_new(_cls, ({arguments},))"
            namespace = {"_tuple_new": _tuple_new}
            code = eval(compile(source, f"namedtuple_{typename}", "eval"), namespace).__code__  # noqa: S307
        names = ("_cls", *fields)
        code = code.replace(
            co_varnames=names + code.co_varnames[len(names) :],
            co_name="__new__",
            co_qualname=f"{typename}.__new__",
        )
        made = _function(code, {"_tuple_new": _tuple_new, "__builtins__": {}}, "__new__")
        made.__defaults__ = defaults  # a tuple, empty too, as collections.namedtuple sets it
        made.__qualname__ = f"{typename}.__new__"
        return made

    def _namedtuple(typename, fields, defaults, module):
        """``collections.namedtuple(typename, fields, defaults=defaults, module=module)``, built anew."""
        fields = tuple(sys.intern(name) for name in fields)
        seen = set()
        for name in fields:
            if name.startswith("_"):
                raise ValueError(f"Field names cannot start with an underscore: {name!r}")
            if name in seen:
                raise ValueError(f"Encountered duplicate field name: {name!r}")
            seen.add(name)
        defaults = tuple(defaults)
        field_defaults = dict(reversed(list(zip(reversed(fields), reversed(defaults), strict=False))))
        count = len(fields)
        arg_list = ", ".join(fields)
        if count == 1:
            arg_list += ","
        repr_fmt = "(" + ", ".join(f"{name}=%r" for name in fields) + ")"
        __new__ = _new(typename, fields, defaults)
        __new__.__doc__ = f"Create new instance of {typename}({arg_list})"

        @classmethod
        def _make(cls, iterable):
            result = _tuple_new(cls, iterable)
            if len(result) != count:
                raise TypeError(f"Expected {count} arguments, got {len(result)}")
            return result

        _make.__func__.__doc__ = f"Make a new {typename} object from a sequence or iterable"

        def _replace(self, /, **kwds):
            result = self._make(map(kwds.pop, fields, self))
            if kwds:
                raise ValueError(f"Got unexpected field names: {list(kwds)!r}")
            return result

        _replace.__doc__ = f"Return a new {typename} object replacing specified fields with new values"

        def __repr__(self):
            """Return a nicely formatted representation string"""
            return self.__class__.__name__ + repr_fmt % self

        def _asdict(self):
            """Return a new dict which maps field names to their values."""
            return dict(zip(self._fields, self, strict=True))

        def __getnewargs__(self):
            """Return self as a plain tuple.  Used by copy and pickle."""
            return tuple(self)

        for method in (__new__, _make.__func__, _replace, __repr__, _asdict, __getnewargs__):
            method.__qualname__ = f"{typename}.{method.__name__}"
        namespace = {
            "__doc__": f"{typename}({arg_list})",
            "__slots__": (),
            "_fields": fields,
            "_field_defaults": field_defaults,
            "__new__": __new__,
            "_make": _make,
            "_replace": _replace,
            "__repr__": __repr__,
            "_asdict": _asdict,
            "__getnewargs__": __getnewargs__,
            "__match_args__": fields,
        }
        for index, name in enumerate(fields):
            namespace[name] = _tuplegetter(index, sys.intern(f"Alias for field number {index}"))
        made = type(typename, (tuple,), namespace)
        made.__module__ = module
        return made

    namedtuple_class = _namedtuple

    class _NamedTupleMeta(type):
        def __new__(cls, typename, bases, ns):
            if bases != (_NamedTupleBase,):
                raise TypeError("can only inherit from a NamedTuple type (use typing.NamedTuple for Generic)")
            types = ns.get("__annotations__")
            if types is None:  # Python 3.14 without the __future__ import: annotations are computed
                annotate = ns.get("__annotate__")
                types = annotate(1) if annotate is not None else {}
            types = {name: type(None) if tp is None else tp for name, tp in types.items()}
            default_names = []
            for name in types:
                if name in ns:
                    default_names.append(name)
                elif default_names:
                    raise TypeError(
                        f"Non-default namedtuple field {name} cannot follow default field"
                        f"{'s' if len(default_names) > 1 else ''} {', '.join(default_names)}"
                    )
            made = _namedtuple(typename, list(types), [ns[n] for n in default_names], ns["__module__"])
            made.__annotations__ = made.__new__.__annotations__ = types
            for key in ns:
                if key in _PROHIBITED:
                    raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
                if key not in _SPECIAL and key not in made._fields:
                    setattr(made, key, ns[key])
            return made

    _NamedTupleBase = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})

    def NamedTuple(typename, fields=None, /, **kwargs):
        """The functional form: typing's own."""
        import typing

        return typing.NamedTuple(typename, fields, **kwargs)

    NamedTuple.__mro_entries__ = lambda bases: (_NamedTupleBase,)

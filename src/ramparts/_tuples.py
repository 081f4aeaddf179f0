"""``NamedTuple`` as :class:`typing.NamedTuple` declares it, built in about a third of the time.

The hook defines some fifty of these on every event (the policy, the model, the audit record).
``typing.NamedTuple`` checks each annotation at class creation, and a string annotation (``from
__future__ import annotations``) becomes a ``ForwardRef``, which compiles the string: one ``compile()``
per field, about 150 µs a class of seven fields. This one keeps the annotations as written
(``typing.get_type_hints`` reads a string and a ``ForwardRef`` alike) and builds the same
``collections.namedtuple`` class, methods and docstring copied as typing copies them: about 55 µs.

Type checkers see ``typing.NamedTuple`` itself. Only the class form is served here; the functional
form (``NamedTuple("P", [("x", int)])``) is typing's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import collections
    import typing

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
            made = collections.namedtuple(
                typename, list(types), defaults=[ns[n] for n in default_names], module=ns["__module__"]
            )
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
        return typing.NamedTuple(typename, fields, **kwargs)

    NamedTuple.__mro_entries__ = lambda bases: (_NamedTupleBase,)

"""``ramparts._tuples.NamedTuple`` builds what ``typing.NamedTuple`` builds, faster (issue 21)."""

from __future__ import annotations

import pickle
import typing
from typing import get_type_hints

import pytest

from ramparts._tuples import NamedTuple


class Fast(NamedTuple):
    """A record."""

    name: str
    tags: tuple[str, ...] = ()
    """The tags."""
    count: int = 0

    def shout(self) -> str:
        return self.name.upper()

    @property
    def first(self) -> str:
        return self.tags[0] if self.tags else ""


class Slow(typing.NamedTuple):
    """A record."""

    name: str
    tags: tuple[str, ...] = ()
    """The tags."""
    count: int = 0

    def shout(self) -> str:
        return self.name.upper()

    @property
    def first(self) -> str:
        return self.tags[0] if self.tags else ""


@pytest.mark.parametrize("cls", [Fast, Slow])
def test_the_same_class_as_typing_builds(cls: type) -> None:
    value = cls("a", ("x",))  # type: ignore[call-arg]
    assert value == ("a", ("x",), 0) and isinstance(value, tuple)
    assert value._fields == ("name", "tags", "count")  # type: ignore[attr-defined]
    assert value._field_defaults == {"tags": (), "count": 0}  # type: ignore[attr-defined]
    assert value._replace(count=2).count == 2  # type: ignore[attr-defined]
    assert value._asdict() == {"name": "a", "tags": ("x",), "count": 0}  # type: ignore[attr-defined]
    assert value.shout() == "A" and value.first == "x"  # type: ignore[attr-defined]
    assert repr(value) == f"{cls.__name__}(name='a', tags=('x',), count=0)"
    assert cls.__doc__ == "A record." and cls.__module__ == __name__
    assert cls.__qualname__ == cls.__name__ and cls.__bases__ == (tuple,)
    assert cls.__match_args__ == ("name", "tags", "count")  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(value)) == value
    assert get_type_hints(cls) == {"name": str, "tags": tuple[str, ...], "count": int}
    with pytest.raises(AttributeError):
        value.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cls()


def test_typing_s_errors() -> None:
    with pytest.raises(TypeError, match="Non-default namedtuple field b cannot follow default field a"):

        class Bad(NamedTuple):
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _replace"):

        class Worse(NamedTuple):
            a: int

            def _replace(self) -> None:  # type: ignore[override]
                pass


def test_a_subclass_is_a_plain_subclass() -> None:
    class More(Fast):
        def whisper(self) -> str:
            return self.name.lower()

    assert More("A").whisper() == "a" and More("A")._fields == Fast._fields


def test_the_functional_form_is_typing_s() -> None:
    Point = NamedTuple("Point", [("x", int), ("y", int)])
    assert Point(1, 2).y == 2 and Point.__annotations__ == {"x": int, "y": int}


def test_string_annotations_are_not_compiled() -> None:
    # the point of it: typing compiles each string annotation into a ForwardRef at class creation
    assert Fast.__annotations__ == {"name": "str", "tags": "tuple[str, ...]", "count": "int"}
    assert all(isinstance(v, typing.ForwardRef) for v in Slow.__annotations__.values())


@pytest.mark.parametrize(
    "module",
    [
        "ramparts.model",
        "ramparts.policy.types",
        "ramparts.policy.rules",
        "ramparts.audit.record",
        "ramparts.shell.analyze",
        "ramparts.shell.readonly",
        "ramparts.shell.split",
        "ramparts.shell.unwrap",
        "ramparts.shell.git",
    ],
)
def test_the_cold_hook_s_modules_compile_no_annotation(module: str) -> None:
    """Every NamedTuple a cold hook defines is built here, not by typing (which compiles each string
    annotation into a ForwardRef: a compile() per field on every event)."""
    import importlib
    import inspect

    loaded = importlib.import_module(module)
    classes = [
        v
        for v in vars(loaded).values()
        if isinstance(v, type) and issubclass(v, tuple) and hasattr(v, "_fields") and v.__module__ == module
    ]
    assert classes
    for cls in classes:
        hints = inspect.get_annotations(cls)
        assert not any(isinstance(h, typing.ForwardRef) for h in hints.values()), cls


@pytest.mark.parametrize("count", [0, 1, 2, 7, 31, 32, 33, 40])
def test_every_arity_builds_what_collections_builds(count: int) -> None:
    """Each arity's precompiled ``__new__`` (and a class past the templates, compiled) against
    ``collections.namedtuple``: signature, docstrings, defaults, keywords and errors."""
    import collections
    import inspect

    from ramparts._tuples import _namedtuple  # type: ignore[attr-defined]

    fields = [f"f{i}" for i in range(count)]
    defaults = list(range(min(count, 3)))
    ours = _namedtuple("Rec", fields, defaults, __name__)
    theirs = collections.namedtuple("Rec", fields, defaults=defaults, module=__name__)  # type: ignore[misc]
    assert inspect.signature(ours) == inspect.signature(theirs)
    for name in ("__doc__", "_fields", "_field_defaults", "__match_args__", "__module__", "__slots__"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("__new__", "_make", "_replace", "__repr__", "_asdict", "__getnewargs__"):
        assert getattr(ours, name).__doc__ == getattr(theirs, name).__doc__, name
        assert getattr(ours, name).__qualname__ == getattr(theirs, name).__qualname__, name
    assert ours.__new__.__defaults__ == theirs.__new__.__defaults__
    for index, name in enumerate(fields):
        assert getattr(ours, name).__doc__ == f"Alias for field number {index}"
    values = list(range(100, 100 + count))
    kwargs = dict(zip(fields, values, strict=True))
    made = ours(**kwargs)
    assert made == tuple(values) == theirs(*values) and repr(made) == repr(theirs(*values))
    assert made._asdict() == theirs(*values)._asdict()
    if count:
        assert ours(*values[: count - len(defaults)]) == theirs(*values[: count - len(defaults)])
        assert made._replace(f0=-1)[0] == -1
    with pytest.raises(TypeError, match=f"Expected {count} arguments, got {count + 1}"):
        ours._make([*values, 0])
    with pytest.raises(ValueError, match="Got unexpected field names"):
        made._replace(nope=1)
    with pytest.raises(TypeError):
        ours(*values, 0)


def test_collections_rules_on_field_names() -> None:
    from ramparts._tuples import _namedtuple  # type: ignore[attr-defined]

    with pytest.raises(ValueError, match="cannot start with an underscore"):
        _namedtuple("Rec", ["_x"], [], __name__)
    with pytest.raises(ValueError, match="duplicate field name"):
        _namedtuple("Rec", ["x", "x"], [], __name__)


def test_building_a_class_imports_neither_typing_nor_collections() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from ramparts._tuples import NamedTuple\n"
        "class P(NamedTuple):\n    x: int\n    y: 'str' = 'a'\n"
        "assert P(1) == (1, 'a') and P(y='b', x=2).y == 'b'\n"
        "print(' '.join(m for m in ('typing', 'collections', 're', 'functools') if m in sys.modules))"
    )
    src = str(__import__("pathlib").Path(__import__("ramparts").__file__).resolve().parent.parent)
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, src], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""

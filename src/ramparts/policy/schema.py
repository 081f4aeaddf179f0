"""The policy file's JSON Schema (draft 2020-12), derived from the declaration in :mod:`.types`.

``ramparts policy schema`` prints it for editors; :func:`ramparts.policy.load.validate` checks every
file against it. :func:`fields` is the declaration read as the file's layout, which the loader also
uses to merge layers and build the config.
"""

from __future__ import annotations

import copy
import types as _types
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

from .decl import Key, type_hints
from .types import FILE_OBJECTS, FILE_ONLY, FILE_REQUIRED, Policy

MISSING: Any = object()


class Field(NamedTuple):
    """One declared field: its typed path, its place in the file (``None``: not in the file), its
    type (``Annotated`` and ``Optional`` taken off), whether it may be null, its key, its default."""

    attrs: tuple[str, ...]
    path: tuple[str, ...] | None
    tp: Any
    nullable: bool
    key: Key
    default: Any
    group: bool
    """A nested section: its fields follow it in :func:`fields`."""


def is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def declared(cls: Any) -> list[tuple[str, Any, bool, Key, Any]]:
    """(name, type, nullable, key, default) of each field of a NamedTuple."""
    out = []
    keys: dict[str, Key] = cls.__dict__.get("__keys__", {})
    for name, ann in type_hints(cls).items():
        key = keys.get(name, Key())
        if get_origin(ann) is Annotated:
            ann, *metas = get_args(ann)
            key = next((m for m in metas if isinstance(m, Key)), key)
        nullable = False
        if get_origin(ann) in (Union, _types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            nullable = len(args) != len(get_args(ann))
            ann = args[0]
        out.append((name, ann, nullable, key, cls._field_defaults.get(name, MISSING)))
    return out


def fields(cls: Any = Policy, attrs: tuple[str, ...] = (), path: tuple[str, ...] = ()) -> list[Field]:
    """Every field of ``cls`` and of its nested sections, depth first, in declaration order."""
    out: list[Field] = []
    for name, tp, nullable, key, default in declared(cls):
        where = None if key.path is None else (*path, *(key.path or name).split("."))
        group = is_record(tp) and not key.special and not nullable
        out.append(Field((*attrs, name), where, tp, nullable, key, default, group))
        if group and where is not None:
            out.extend(fields(tp, (*attrs, name), where))
    return out


def value_schema(tp: Any, key: Key, nullable: bool = False) -> dict[str, Any]:
    """The schema of one value of type ``tp`` declared with ``key``."""
    if key.schema is not None:
        return copy.deepcopy(key.schema)
    schema: dict[str, Any]
    origin = get_origin(tp)
    if origin is Literal:
        schema = {"enum": list(get_args(tp))}
    elif origin is tuple and key.is_map:
        pair = get_args(get_args(tp)[0])
        schema = {"type": "object", "additionalProperties": value_schema(pair[1], Key())}
    elif origin is tuple:
        schema = {"type": "array", "items": value_schema(get_args(tp)[0], Key())}
    elif is_record(tp):
        schema = _object()
        required = []
        for name, sub, sub_null, sub_key, default in declared(tp):
            schema["properties"][name] = value_schema(sub, sub_key, sub_null)
            if default is MISSING:
                required.append(name)
        if required:
            schema["required"] = required
    else:
        schema = {"type": {bool: "boolean", int: "integer", float: "number", str: "string"}[tp]}
    if nullable and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    schema.update(copy.deepcopy(key.extra))
    return schema


def _object() -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": {}}


def _place(root: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The object schema at ``path`` (created, with :data:`FILE_OBJECTS` keywords, on first use)."""
    node = root
    for depth, part in enumerate(path):
        props = node["properties"]
        if part not in props:
            props[part] = _object()
            props[part].update(FILE_OBJECTS.get(".".join(path[: depth + 1]), {}))
        node = props[part]
    return node


def build_schema() -> dict[str, Any]:
    root: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Ramparts policy",
        **_object(),
        "required": list(FILE_REQUIRED),
    }
    for dotted, schema in FILE_ONLY.items():
        *parent, name = dotted.split(".")
        _place(root, tuple(parent))["properties"][name] = copy.deepcopy(schema)
    for field in fields():
        if field.path is None:
            continue
        node = _place(root, field.path)
        if field.group:
            node.update(copy.deepcopy(field.key.extra))
        else:
            *parent, name = field.path
            node = _place(root, tuple(parent))
            node["properties"][name] = value_schema(field.tp, field.key, field.nullable)
    return root


SCHEMA: dict[str, Any] = build_schema()

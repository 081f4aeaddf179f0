"""One declaration: every policy key is declared once in ramparts.policy.types, and the schema, the
merge of layers, the typed config and the hook's cache all follow from it."""

from __future__ import annotations

import contextlib
import json
import marshal
from typing import Any, Literal, get_args, get_origin

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.errors import PolicyError
from ramparts.policy.load import compile_policy
from ramparts.policy.schema import MISSING, SCHEMA, fields
from ramparts.policy.types import (
    FILE_ONLY,
    Policy,
    policy_from_cache,
    policy_from_json,
    policy_to_cache,
    policy_to_json,
)


def _schema_at(path: tuple[str, ...]) -> dict[str, Any]:
    node: dict[str, Any] = SCHEMA
    for part in path:
        node = node["properties"][part]
    return node


def _file_keys(node: dict[str, Any], path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key the schema allows, down to the first level that is not a fixed-key object."""
    out: set[tuple[str, ...]] = set()
    for name, sub in node.get("properties", {}).items():
        here = (*path, name)
        fixed = sub.get("additionalProperties") is False and "properties" in sub
        if fixed and sub.get("type") == "object" and here != ("gateway", "bedrock"):
            out |= _file_keys(sub, here)
            continue
        out.add(here)
    return out


def test_every_file_key_is_a_declared_field_and_every_field_a_file_key() -> None:
    declared = {f.path for f in fields() if f.path is not None and not f.group}
    file_only = {tuple(k.split(".")) for k in FILE_ONLY}
    surfaces = {p for p in _file_keys(SCHEMA) if p[:3] == ("detect", "injection", "surfaces")}
    assert _file_keys(SCHEMA) - surfaces == (declared | file_only) - {("detect", "injection", "surfaces")}


def test_an_empty_file_compiles_to_the_declared_defaults() -> None:
    policy = compile_policy(b"version: 1\n", "p.yaml")
    for field in fields():
        if field.group or field.path is None or field.default is MISSING:
            continue
        value: Any = policy
        for attr in field.attrs:
            value = getattr(value, attr)
        assert value == field.default, field.attrs


def _other_value(tp: Any, schema: dict[str, Any], default: Any) -> Any:
    """A valid file value different from the default, for a scalar field; MISSING when none is easy."""
    if get_origin(tp) is Literal:
        return next((v for v in get_args(tp) if v != default and v in schema.get("enum", [v])), MISSING)
    if tp is bool:
        return not default
    if tp is int:
        low = schema.get("minimum", 0)
        high = schema.get("maximum", low + 1000)
        return next(v for v in (low, low + 1, high) if v != default)
    if tp is float:
        low = schema.get("minimum", 0.0)
        return low if low != default else (low + schema.get("maximum", low + 1)) / 2
    return MISSING


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        out = {part: out}
    return out


SCALARS = [
    f
    for f in fields()
    if (
        f.path is not None
        and not f.group
        and not f.key.special
        and not f.key.item
        and not f.nullable
        and f.tp in (bool, int, float)
    )
    or (f.path is not None and get_origin(f.tp) is Literal and not f.key.special)
]


@pytest.mark.parametrize("field", SCALARS, ids=lambda f: ".".join(f.path or ()))
def test_every_declared_key_reaches_the_config_and_survives_the_cache(field: Any) -> None:
    assert field.path is not None
    value = _other_value(field.tp, _schema_at(field.path), field.default)
    if value is MISSING:
        pytest.skip("no second value")
    doc = {"version": 1, **_nest(field.path, value)}
    if field.path == ("hook", "timeout"):
        doc["hook"]["deadline_ms"] = 100  # must stay below the timeout
    if field.path == ("hook", "deadline_ms"):
        doc["hook"]["timeout"] = 600
    if field.path in (("detect", "injection", "block"), ("detect", "injection", "warn")):  # warn <= block
        doc["detect"]["injection"] = {"block": value, "warn": value}
    jsonschema.validate(doc, SCHEMA)
    policy = compile_policy(json.dumps(doc).encode(), "p.yaml")
    got: Any = policy
    for attr in field.attrs:
        got = getattr(got, attr)
    assert got == value
    assert policy_from_json(json.loads(json.dumps(policy_to_json(policy)))) == policy
    assert policy_from_cache(marshal.loads(marshal.dumps(policy_to_cache(policy)))) == policy


def test_a_later_layer_merges_as_declared(tmp_path: Any) -> None:
    # union lists keep the profile's entries, replaced lists do not, maps merge per key
    text = (
        "version: 1\nextends: baseline\n"
        "egress: {allow: [example.org]}\n"
        "git: {protected_branches: [prod]}\n"
        "gateway: {dlp: {pii-email: block}}\n"
        "dlp: {outbound: {exceptions: [{reason: second, fingerprint: 'b2mac:0123456789abcdef'}]}}\n"
    )
    base = compile_policy(b"version: 1\nextends: baseline\n", "b.yaml")
    policy = compile_policy(text.encode(), "p.yaml")
    assert set(base.egress.allow) < set(policy.egress.allow) and "example.org" in policy.egress.allow
    assert policy.git.protected_branches == ("prod",)
    assert dict(policy.gateway.dlp)["pii-email"] == "block"
    assert dict(policy.gateway.dlp)["secret"] == dict(base.gateway.dlp)["secret"]
    # an exception is known by its fingerprint, whatever order its keys are written in
    assert [e.fingerprint for e in policy.dlp.outbound.exceptions].count("b2mac:0123456789abcdef") == 1


def test_errors_still_name_the_line() -> None:
    with pytest.raises(PolicyError) as info:
        compile_policy(b"version: 1\negress:\n  allow_ranges: [10.0.0.1/8]\n", "p.yaml")
    assert info.value.line == 3 and "CIDR" in str(info.value)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_a_damaged_cache_is_refused_with_a_caught_error(data: Any) -> None:
    # load_policy recompiles on exactly these errors; anything else would crash the hook
    with contextlib.suppress(ValueError, TypeError, KeyError, IndexError, AttributeError):
        policy_from_json(data)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["baseline", "strict", "readonly", "none"]), st.integers(0, len(json.dumps(SCHEMA))))
def test_a_truncated_cache_is_refused(profile: str, cut: int) -> None:
    text = json.dumps(policy_to_json(compile_policy(f"version: 1\nextends: {profile}\n".encode(), "p.yaml")))
    try:
        data = json.loads(text[: cut % (len(text) + 1)])
    except ValueError:
        return
    with contextlib.suppress(ValueError, TypeError, KeyError, IndexError, AttributeError):
        assert isinstance(policy_from_json(data), Policy)

"""The hook's compiled-policy cache: marshal data that needs no type information to read back (issue 21).

Each record is tagged with its class, so reading it back imports nothing (no typing, no json) and
checks the form shallowly: a stale, damaged or foreign file is refused with an error ``load_policy``
catches, and the policy is compiled afresh.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.policy.decl import RECORDS, type_hints
from ramparts.policy.load import compile_policy, load_policy
from ramparts.policy.rules import Rule
from ramparts.policy.types import (
    DetectSettings,
    DlpSettings,
    Policy,
    policy_from_cache,
    policy_to_cache,
)

CAUGHT = (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError)
"""What load_policy catches on a cache hit (anything else would crash the hook)."""

PROFILES = ["baseline", "strict", "readonly", "none"]


def _compiled(profile: str) -> Policy:
    return compile_policy(f"version: 1\nextends: {profile}\n".encode(), "p.yaml")


def _same_types(a: Any, b: Any) -> None:
    assert type(a) is type(b), (a, b)
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_types(x, y)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_reads_back_equal_with_the_same_types(profile: str) -> None:
    policy = _compiled(profile)
    back = policy_from_cache(marshal.loads(marshal.dumps(policy_to_cache(policy))))
    assert back == policy
    _same_types(back, policy)  # records stay records, floats stay floats, tuples stay tuples


def test_a_policy_with_every_kind_of_value_reads_back() -> None:
    text = (
        "version: 1\nextends: baseline\n"
        "detect:\n  injection:\n    surfaces: {prompt: {block: 1, warn: 0.25}}\n"
        "  pii:\n    custom: [{name: emp, pattern: 'E[0-9]{6}', context: [staff]}]\n"
        "gateway:\n  max_tokens: 100\n  bedrock: {region: us-east-1, models: {'claude-*': anthropic.x}}\n"
        "mcp:\n  servers: {notes: {tools: [read], approval: true}}\n"
        "permissions:\n  ask: [{rule: 'Bash(make deploy *)', ask: remote}]\n"
    )
    policy = compile_policy(text.encode(), "p.yaml")
    assert policy.gateway.bedrock is not None and policy.detect.custom_entities
    back = policy_from_cache(marshal.loads(marshal.dumps(policy_to_cache(policy))))
    assert back == policy
    _same_types(back, policy)
    assert back.detect.injection_thresholds("prompt") == (1.0, 0.25)


def test_the_registry_holds_every_record_class_the_policy_declares() -> None:
    seen: set[type] = set()

    def walk(cls: Any) -> None:
        if cls in seen:
            return
        seen.add(cls)
        for tp in type_hints(cls).values():
            for inner in _types_in(tp):
                if isinstance(inner, type) and issubclass(inner, tuple) and hasattr(inner, "_fields"):
                    walk(inner)

    walk(Policy)
    assert Rule in seen and DetectSettings in seen
    assert {RECORDS[cls.__name__] for cls in seen} == seen


def _types_in(tp: Any) -> list[Any]:
    from typing import get_args

    return [tp, *(inner for arg in get_args(tp) for inner in _types_in(arg))]


def test_a_record_with_a_field_fewer_is_refused() -> None:
    data = policy_to_cache(_compiled("baseline"))
    dlp = data[1 + Policy._fields.index("dlp")]
    assert dlp[0] == "DlpSettings"
    del dlp[1 + DlpSettings._fields.index("outbound")]
    with pytest.raises(ValueError, match="DlpSettings"):
        policy_from_cache(data)


def test_a_record_of_an_undeclared_class_is_refused() -> None:
    data = policy_to_cache(_compiled("none"))
    data[1 + Policy._fields.index("hook")][0] = "Subject"  # a NamedTuple, but not a policy record
    with pytest.raises(ValueError, match="Subject"):
        policy_from_cache(data)
    with pytest.raises(TypeError):
        policy_from_cache(policy_to_cache(_compiled("none").hook))  # type: ignore[arg-type]  # not the policy


def test_values_outside_the_form_are_not_written() -> None:
    policy = _compiled("none")
    with pytest.raises(TypeError):
        policy_to_cache(policy._replace(extends=["a list"]))  # type: ignore[arg-type]


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.binary(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.lists(inner, max_size=6).map(tuple)
        | st.tuples(st.sampled_from(sorted(RECORDS)), st.lists(inner, max_size=12)).map(
            lambda t: [t[0], *t[1]]
        )
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(_VALUES)
def test_a_damaged_cache_is_refused_with_a_caught_error(data: Any) -> None:
    with contextlib.suppress(*CAUGHT):
        assert isinstance(policy_from_cache(data), Policy)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(PROFILES), st.integers(min_value=0), st.integers(0, 255))
def test_a_truncated_or_flipped_file_is_refused_with_a_caught_error(
    profile: str, cut: int, byte: int
) -> None:
    raw = marshal.dumps(policy_to_cache(_compiled(profile)))
    cut %= len(raw)
    for damaged in (raw[:cut], raw[:cut] + bytes([byte]) + raw[cut + 1 :]):
        with contextlib.suppress(*CAUGHT):
            assert isinstance(policy_from_cache(marshal.loads(damaged)), Policy)


def test_load_policy_reads_the_cache_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\n")
    cache = tmp_path / "cache"
    policy = load_policy(str(path), cache_dir=cache)
    (file,) = cache.glob("policy-*.marshal")
    # the next load answers from the file: a (valid) file saying otherwise is what it returns
    file.write_bytes(marshal.dumps(policy_to_cache(policy._replace(mode="report"))))
    assert load_policy(str(path), cache_dir=cache).mode == "report"
    file.write_bytes(b"\x00garbage")  # damaged: compiled again and rewritten
    assert load_policy(str(path), cache_dir=cache) == policy
    assert policy_from_cache(marshal.loads(file.read_bytes())) == policy


def test_a_json_cache_of_the_old_format_is_never_read(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\n")
    cache = tmp_path / "cache"
    load_policy(str(path), cache_dir=cache)
    assert not list(cache.glob("*.json")) and len(list(cache.glob("policy-*.marshal"))) == 1


def test_a_cache_hit_imports_neither_typing_nor_json(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nextends: baseline\n")
    cache = tmp_path / "cache"
    expected = load_policy(str(path), cache_dir=cache)
    src = str(Path(__file__).resolve().parents[3] / "src")
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import ramparts, ramparts._tuples, ramparts._hashing, ramparts._recache  # not this test's modules\n"
        "before = set(sys.modules)\n"
        "from ramparts.policy.load import load_policy\n"
        "import ramparts.engine, ramparts.controls, ramparts.sinks, ramparts.model, ramparts.cli\n"
        "policy = load_policy(sys.argv[2], cache_dir=sys.argv[3])\n"
        "print(policy.revision, ' '.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe, src, str(path), str(cache)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == expected.revision
    loaded = set(out[1:])
    heavy = {"typing", "json", "re", "functools", "collections", "enum", "contextlib", "ast", "types"}
    assert not loaded & heavy, loaded & heavy


def test_a_cache_hit_reads_no_compiler_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiler's files key the cache by their size and time, as the import system checks the
    bytecode compiled from them: a hit reads the policy, its profiles and the cache, not ~100 KB of source."""
    from ramparts.policy import load

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nextends: baseline\n")
    cache = tmp_path / "cache"
    expected = load_policy(str(path), cache_dir=cache)
    read: list[str] = []
    real = load._bytes
    monkeypatch.setattr(load, "_bytes", lambda p: read.append(p) or real(p))
    assert load_policy(str(path), cache_dir=cache) == expected
    assert not set(read) & set(load._COMPILER_FILES)
    assert len(read) == 1 + len(load.PROFILES) + 1  # the policy, the profiles, the cached form


def test_a_changed_compiler_file_is_a_cache_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ramparts.policy import load

    src = tmp_path / "compiler"
    src.mkdir()
    copies = []
    for module in load._COMPILER_FILES:
        copy = src / Path(module).name
        copy.write_bytes(Path(module).read_bytes())
        copies.append(str(copy))
    monkeypatch.setattr(load, "_COMPILER_FILES", tuple(copies))
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\n")
    cache = tmp_path / "cache"
    load_policy(str(path), cache_dir=cache)
    load_policy(str(path), cache_dir=cache)
    assert len(list(cache.glob("policy-*.marshal"))) == 1  # unchanged: one key
    edited = Path(copies[1])
    stat = edited.stat()
    edited.write_bytes(edited.read_bytes() + b"\n# edited\n")
    load_policy(str(path), cache_dir=cache)
    assert len(list(cache.glob("policy-*.marshal"))) == 2  # its size changed: another key
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    load_policy(str(path), cache_dir=cache)
    assert len(list(cache.glob("policy-*.marshal"))) == 3  # its time changed: another key


def test_the_self_rules_read_back_from_the_cache_are_the_parsed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook keeps its fifty built-in ``self:`` rules parsed in its cache folder: a hit parses none,
    and gives the very rules (same order, same fields, Rule records) that parsing gives."""
    from ramparts.policy import load

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nextends: baseline\n")
    cache = str(tmp_path / "cache")
    policy = load_policy(str(path), cache_dir=cache)
    state = str(tmp_path / "state")
    parsed = load.protect_own_files(policy, policy_file=str(path), state_dir=state)
    first = load.protect_own_files(policy, policy_file=str(path), state_dir=state, cache_dir=cache)
    (file,) = Path(cache).glob("self-*.marshal")

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("parsed on a cache hit")

    monkeypatch.setattr(load, "parse_rule", refuse)
    hit = load.protect_own_files(policy, policy_file=str(path), state_dir=state, cache_dir=cache)
    assert parsed == first == hit and len(hit.deny) > len(policy.deny) + 40
    assert all(type(rule) is Rule for rule in hit.deny)
    monkeypatch.undo()
    # another state folder names other rules: another file; a damaged file is parsed again and rewritten
    other = load.protect_own_files(
        policy, policy_file=str(path), state_dir=str(tmp_path / "s2"), cache_dir=cache
    )
    assert other != hit and len(list(Path(cache).glob("self-*.marshal"))) == 2
    for damaged in (
        b"\x00garbage",
        marshal.dumps([("self:x",)]),
        marshal.dumps([(*tuple(hit.deny[-1])[:-1], 1)]),
    ):
        file.write_bytes(damaged)
        again = load.protect_own_files(policy, policy_file=str(path), state_dir=state, cache_dir=cache)
        assert again == parsed
        assert marshal.loads(file.read_bytes()) == [tuple(r) for r in parsed.deny[len(policy.deny) :]]

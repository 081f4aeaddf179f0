"""The one audit record: built from a Decision by one function, validated on the way back, its JSON
Schema derived from the type (Draft 2020-12), version 1 records read back translated, never a value."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.audit import record as record_module
from ramparts.audit.record import (
    SURFACES,
    VERDICTS,
    AdminDetail,
    AuditRecord,
    ContentRecord,
    EgressDetail,
    FindingRecord,
    GatewayDetail,
    HookDetail,
    RecordError,
    build_record,
    from_json,
    schema,
    to_json,
)
from ramparts.model import Decision

DETAILS = [
    HookDetail(cwd="/p", input={"command": "ls"}, result_chars=3, result_fingerprint="b2mac:1"),
    GatewayDetail(route="/v1/messages", status=200, usage={"input_tokens": 3}, masked=2),
    EgressDetail(protocol="connect", target="example.com:443", address="93.184.216.34", anomalies=("size",)),
    AdminDetail(action="Kill", target={"session": "s1"}, details={"scope": "session"}),
]


def _record(detail: object, decision: Decision | None = None) -> AuditRecord:
    return build_record(
        decision or Decision("deny", ("because",), ("r.1",), policy_revision="abc", decision_id="d1"),
        surface={HookDetail: "hook", GatewayDetail: "gateway", EgressDetail: "egress", AdminDetail: "admin"}[
            type(detail)
        ],
        event="E",
        time="2026-12-06T00:00:00.000Z",
        user="u",
        session="s",
        content=(
            ContentRecord(
                "file", "/p/.env", findings=(FindingRecord("aws", "secret", fingerprint="b2mac:x"),)
            ),
        ),
        detail=detail,  # type: ignore[arg-type]
    )


def test_the_schema_is_draft_2020_12_and_closed() -> None:
    doc = schema()
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["additionalProperties"] is False and set(doc["required"]) == {"time", "surface", "event"}
    assert all(d.get("additionalProperties") is False for d in doc["$defs"].values())
    # derived from the type: every field of every NamedTuple is in it
    assert set(doc["properties"]) == set(AuditRecord._fields)
    assert set(doc["$defs"]["GatewayDetail"]["properties"]) == set(GatewayDetail._fields)


@pytest.mark.parametrize("detail", DETAILS, ids=lambda d: type(d).__name__)
def test_every_surface_round_trips_and_validates(detail: object) -> None:
    record = _record(detail)
    data = to_json(record)
    jsonschema.validate(data, schema())
    assert from_json(json.loads(json.dumps(data))) == record
    assert data["decision"] == "deny" and data["rule_ids"] == ["r.1"] and data["policy"] == "abc"


def test_the_decision_is_copied_whole() -> None:
    decision = Decision(
        "allow", ("ok",), ("a",), policy_revision="p", enforced=False, would_verdict="deny", warnings=("w",)
    )
    record = _record(DETAILS[0], decision)
    assert (record.decision, record.enforced, record.would, record.warnings, record.policy) == (
        "allow",
        False,
        "deny",
        ("w",),
        "p",
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"decision": "maybe"}, "$.decision"),
        ({"surface": "printer"}, "$.surface"),
        ({"rule_ids": "r.1"}, "$.rule_ids"),
        ({"extra": 1}, "extra"),
        ({"hook": {"cwd": 7}}, "$.hook.cwd"),
    ],
)
def test_a_bad_record_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    data = {**to_json(_record(DETAILS[0])), **change}
    with pytest.raises(RecordError, match=field.replace("$", r"\$").replace(".", r"\.")):
        from_json(data)


def test_version_1_records_are_read_translated() -> None:
    hook = from_json(
        {
            "v": 1,
            "time": "t",
            "event": "PreToolUse",
            "agent": "claude_code",
            "decision": "deny",
            "cwd": "/p",
            "input": {"command": "cat .env"},
            "scanned": [{"source": "file", "name": "/p/.env", "findings": [{"detector": "aws", "line": 2}]}],
            "result": {"chars": 4, "fingerprint": "f", "injection_score": 0.9},
        }
    )
    assert hook.surface == "hook" and hook.agent == "claude-code" and hook.hook is not None
    assert hook.hook.input == {"command": "cat .env"} and hook.hook.result_chars == 4
    assert [c.source for c in hook.content] == ["file", "tool_result"]
    gateway = from_json(
        {
            "v": 1,
            "time": "t",
            "event": "GatewayRequest",
            "decision": "allow",
            "status": 200,
            "masked": {"count": 2},
        }
    )
    assert gateway.surface == "gateway" and gateway.gateway is not None and gateway.gateway.masked == 2
    admin = from_json(
        {
            "v": 1,
            "time": "t",
            "event": "Kill",
            "agent": "ramparts",
            "decision": "allow",
            "input": {"scope": "all"},
        }
    )
    assert admin.surface == "admin" and admin.admin is not None and admin.admin.details == {"scope": "all"}


@given(
    reasons=st.lists(st.text(max_size=20), max_size=3),
    rules=st.lists(st.text(min_size=1, max_size=10), max_size=3),
    verdict=st.sampled_from(["allow", "ask", "deny"]),
    user=st.text(max_size=10),
)
def test_any_built_record_round_trips(reasons: list[str], rules: list[str], verdict: str, user: str) -> None:
    record = build_record(
        Decision(verdict, tuple(reasons), tuple(rules)),  # type: ignore[arg-type]
        surface="hook",
        event="PreToolUse",
        time="t",
        user=user,
    )
    assert from_json(json.loads(json.dumps(to_json(record)))) == record


def test_audit_schema_command_prints_the_schema() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ramparts", "audit", "schema"], capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == json.loads(json.dumps(schema()))


def test_the_hook_does_not_import_msgspec() -> None:
    """The record type is cheap on the hook's path: validation and the schema are derived lazily."""
    code = (
        "import sys, ramparts.audit.record, ramparts.agents.claude_code.hook; print('msgspec' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_hook_builds_no_detail_class_of_another_surface() -> None:
    """A hook builds a record with a HookDetail on every event: the gateway's, the egress proxy's and
    people's detail classes are made only when a producer names one (and then they are the same classes)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import ramparts.audit.record as r, ramparts.agents.claude_code.hook\n"
        "before = sorted(n for n in vars(r) if n.endswith('Detail'))\n"
        "from ramparts.audit.record import GatewayDetail\n"
        "import ramparts.audit.details as d\n"
        "from ramparts.model import Decision\n"
        "rec = r.build_record(Decision('allow', ('ok',), ()), surface='gateway', event='GatewayRequest',"
        " time='t', detail=GatewayDetail(status=1))\n"
        "print(before, GatewayDetail is d.GatewayDetail is r.GatewayDetail, rec.gateway.status, rec.hook)\n"
    )
    src = str(Path(record_module.__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, src], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "['HookDetail'] True 1 None"


def _literal_values(path: str, alias: str) -> list[str]:
    """The values of ``alias = Literal[...]`` wherever ``path`` declares it (under TYPE_CHECKING too)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [alias]:
            value = node.value
            assert isinstance(value, ast.Subscript) and getattr(value.value, "id", None) == "Literal"
            items = value.slice.elts if isinstance(value.slice, ast.Tuple) else [value.slice]
            return [item.value for item in items if isinstance(item, ast.Constant)]
    raise AssertionError(f"{alias} is not declared in {path}")


def test_the_run_time_literals_are_the_declared_ones() -> None:
    """The type checker reads ``Surface`` and ``model.Verdict``; reading a record and the schema use the
    tuples (typing is not imported on the hook's path): the two must list the same values."""
    import ramparts.model

    assert list(SURFACES) == _literal_values(record_module.__file__, "Surface")
    assert list(VERDICTS) == _literal_values(ramparts.model.__file__, "Verdict")
    doc = schema()
    assert sorted(doc["properties"]["surface"]["enum"]) == sorted(SURFACES)
    decision = doc["properties"]["decision"]["anyOf"]
    assert sorted(next(d["enum"] for d in decision if "enum" in d)) == sorted(VERDICTS)


def test_a_record_read_back_holds_named_tuples_all_the_way_down() -> None:
    record = _record(DETAILS[0])
    back = from_json(json.loads(json.dumps(to_json(record))))
    assert type(back.hook) is HookDetail and type(back.content[0]) is ContentRecord
    assert type(back.content[0].findings[0]) is FindingRecord and back.hook.input == {"command": "ls"}
    assert back.reasons == ("because",) and type(back.reasons) is tuple

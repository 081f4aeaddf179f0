"""The MCP guard never raises on any JSON either side sends, and never forwards a call it refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.policy.load import load_policy
from ramparts.sandbox import Guard, Pins

POLICY = "version: 1\nextends: baseline\nmcp:\n  servers:\n    docs:\n      tools: [search]\n"
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)),
    max_leaves=10,
)
message = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {
            "jsonrpc": st.just("2.0"),
            "id": st.one_of(st.integers(0, 3), st.text(max_size=2), st.none()),
            "method": st.sampled_from(["tools/list", "tools/call", "ping", "initialize"]),
            "params": st.one_of(
                json_value, st.fixed_dictionaries({"name": st.sampled_from(["search", "drop", ""])})
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "jsonrpc": st.just("2.0"),
            "id": st.integers(0, 3),
            "result": st.one_of(
                json_value,
                st.fixed_dictionaries(
                    {"tools": st.lists(st.dictionaries(st.sampled_from(["name", "description"]), json_value))}
                ),
                st.fixed_dictionaries(
                    {"content": st.lists(st.dictionaries(st.sampled_from(["type", "text"]), json_value))}
                ),
            ),
        }
    ),
)


_policy: list[Any] = []


def policy(folder: Path) -> Any:
    if not _policy:
        policy_file = folder / "p.yaml"
        policy_file.write_text(POLICY, "utf-8")
        _policy.append(load_policy(str(policy_file)))
    return _policy[0]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.booleans(), message), max_size=8))
def test_guard_total_and_fail_closed(tmp_path: Path, exchange: list[tuple[bool, Any]]) -> None:
    guard = Guard("docs", policy(tmp_path), Pins(tmp_path / "pins.json"), log=io.StringIO())
    for from_client, msg in exchange:
        if from_client:
            forward, replies = guard.from_client(msg)
            for sent in forward:
                if isinstance(sent, dict) and sent.get("method") == "tools/call":
                    assert sent["params"]["name"] == "search" and "search" in guard.approved
            assert all(r.get("error") for r in replies)
        else:
            for out in guard.from_server(msg):
                assert isinstance(out, dict) and out.get("jsonrpc") == "2.0"

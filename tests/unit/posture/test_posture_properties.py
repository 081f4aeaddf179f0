"""Property tests: posture never crashes on what a settings file may hold, and merges like Claude Code."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.posture import Discovery, Source, compute, lint

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
json_value = st.recursive(
    json_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "permissions", "hooks", "env", "sandbox", "allowedMcpServers", "mcpServers", "enableAllProjectMcpServers",
    "allowManagedHooksOnly", "allowManagedPermissionRulesOnly", "disableAllHooks", "requiredMinimumVersion",
    "cleanupPeriodDays", "projects",
]  # fmt: skip
RULE = st.sampled_from(
    ["Bash(python *)", "Read(.env)", "Bash(git:*)", "Write(x)", "Bash(a:b:*)", "Read(//x)", "Bash("]
)
settings_object = st.dictionaries(
    st.sampled_from(KEYS),
    st.one_of(
        json_value,
        st.fixed_dictionaries({"deny": st.lists(RULE, max_size=3), "allow": st.lists(RULE, max_size=3)}),
        st.fixed_dictionaries(
            {"PreToolUse": st.lists(st.dictionaries(st.sampled_from(["matcher", "hooks"]), json_value))}
        ),
    ),
    max_size=6,
)
SCOPES = ["managed", "managed-dropin", "user", "user-state", "project", "project-mcp", "local", "managed-mcp"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SCOPES), settings_object), max_size=5))
def test_lint_never_raises(layers: list[tuple[str, dict[str, Any]]]) -> None:
    sources = tuple(Source(scope, f"/f/{i}.json", "ok", data=data) for i, (scope, data) in enumerate(layers))  # type: ignore[arg-type]
    discovery = Discovery(sources, home="/home/u", project="/home/u/p")
    for finding in lint(discovery):
        assert finding.check.startswith("RP") and finding.fix


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(max_size=5), max_size=5),
    st.lists(st.text(max_size=5), max_size=5),
    st.text(max_size=5),
    st.text(max_size=5),
)
def test_lists_union_and_managed_scalars_win(
    user: list[str], managed: list[str], mine: str, theirs: str
) -> None:
    discovery = Discovery(
        (
            Source("managed", "/m.json", "ok", data={"permissions": {"deny": managed}, "model": theirs}),
            Source("user", "/u.json", "ok", data={"permissions": {"deny": user}, "model": mine}),
        ),
        home="/h",
        project="/p",
    )
    effective = compute(discovery)
    deny = effective.get("permissions.deny")
    assert set(deny) == set(user) | set(managed) and len(deny) == len(set(deny))
    assert effective.get("model") == theirs and effective.where("model") == "/m.json"

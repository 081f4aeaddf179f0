"""Rule ids of the built-in controls live in one place, ramparts/rule_ids.py: a site names the constant.

The control plane, the monitor, the dashboard and people's SIEM queries match on these strings, so a
typo at one site (``git.push_forced``) would silently split a family. The test reads the source: any
string that looks like a rule id outside rule_ids.py (policy/ excepted: its keys are file paths such
as ``shell.opaque``) fails, naming the file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ramparts
from ramparts import rule_ids

SRC = Path(ramparts.__file__).parent
FAMILIES = (
    "anomaly", "dlp", "egress", "errors", "gateway", "git", "hook", "injection", "integrity", "mcp",
    "network", "rate", "sequence", "server", "session", "shell", "spread", "telemetry", "volume",
)  # fmt: skip
SHAPE = re.compile(r"^(" + "|".join(FAMILIES) + r")(\.[a-z0-9_-]+)+\.?$")
NOT_IDS = {
    # file names in state folders, not rule ids
    "hook.key", "hook.sock", "rate.db", "server.db", "server.log", "session.id", "egress.db",
    "egress.ready.json", "egress.sock", "gateway.db", "gateway.log", "gateway.out",
}  # fmt: skip


def _catalogue() -> dict[str, str]:
    return {
        name: value for name, value in vars(rule_ids).items() if name.isupper() and isinstance(value, str)
    }


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        parent = parents.get(node)
        if isinstance(parent, (ast.Expr, ast.JoinedStr, ast.FormattedValue)):
            continue  # docstrings; parts of f-strings (messages)
        out.append((node.lineno, node.value))
    return out


def test_every_constant_is_named_after_its_id_and_ids_are_unique() -> None:
    catalogue = _catalogue()
    assert len(catalogue) > 100
    assert len(set(catalogue.values())) == len(catalogue)
    for name, value in catalogue.items():
        expected = re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper()
        assert name == expected + ("_PREFIX" if value.endswith(".") else ""), (name, value)
        assert SHAPE.match(value), value


def test_no_rule_id_is_written_out_at_a_site() -> None:
    stray = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "rule_ids.py" or path.parent.name == "policy":
            continue
        for line, value in _literals(path):
            if SHAPE.match(value) and value not in NOT_IDS:
                stray.append(f"{path.relative_to(SRC)}:{line}: {value!r}")
    assert not stray, "write these as constants of ramparts/rule_ids.py:\n" + "\n".join(stray)


def test_the_check_sees_a_stray_id(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""doc git.push"""\nHit("deny", "git.push_forced", f"x {1} git.alias")\n')
    found = [value for _line, value in _literals(sample) if SHAPE.match(value)]
    assert found == ["git.push_forced"]

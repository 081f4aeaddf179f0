"""ramparts posture: one fixture tree per case, written under tmp_path as a mirror of /."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ramparts.agents.claude_code.install import write_settings
from ramparts.cli import main as cli_main
from ramparts.policy.artefacts import Context
from ramparts.policy.artefacts import Options as BuildOptions
from ramparts.policy.artefacts.claude import deployment_settings
from ramparts.policy.compile import hook_command
from ramparts.policy.load import load_policy
from ramparts.posture import Options, compute, discover, lint, report

# copies of ../shared/reference/cycle1-*.json: the first cycle's managed settings, with their known flaws
CYCLE1 = Path(__file__).with_name("fixtures") / "cycle1-managed-settings.json"
HOME, PROJECT = "/home/dev", "/home/dev/repo"


def tree(root: Path, files: dict[str, Any]) -> Path:
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), "utf-8")
    (root / PROJECT.lstrip("/") / ".git").mkdir(parents=True, exist_ok=True)
    return root


def findings(root: Path, **kw: Any) -> list[Any]:
    return lint(discover(root=root, home=HOME, project=PROJECT), Options(**kw))


def checks(found: list[Any]) -> set[str]:
    return {f.check for f in found}


def compiled() -> dict[str, Any]:
    policy = load_policy("profile:baseline")
    command = hook_command("profile:baseline", None, python="/usr/bin/python3", deadline_ms=4000)
    return deployment_settings(Context(policy, BuildOptions(hook_command=command)))


def test_cycle1_managed_settings_flag_every_known_flaw(tmp_path: Path) -> None:
    root = tree(tmp_path, {"/etc/claude-code/managed-settings.json": CYCLE1.read_text()})
    found = findings(root)
    by = {(f.check, f.message.split(":")[0]) for f in found}
    assert {
        "RP010",
        "RP012",
        "RP020",
        "RP030",
        "RP031",
        "RP040",
        "RP041",
        "RP052",
        "RP060",
        "RP071",
        "RP080",
        "RP081",
        "RP082",
    } <= checks(found)
    assert ("RP020", "Bash(chmod") in by or any("Bash(chmod:777:*)" in f.message for f in found)
    assert any("Bash(rm:-rf:/*)" in f.message for f in found if f.check == "RP020")
    flagged_allow = {f.message.split(":")[0] for f in found if f.check == "RP030"}
    assert {"Bash(python", "Bash(node", "Bash(npx", "Bash(npm", "Bash(pip", "Bash(make", "Bash(pytest"} <= {
        m.split(":")[0] if m.startswith("Bash(") else m for m in flagged_allow
    } | {m for m in flagged_allow}
    assert any("Bash(git:*)" in f.message for f in found if f.check == "RP031")
    # every finding names the file, a fix and a CRBRS control
    for f in found:
        assert f.file == "/etc/claude-code/managed-settings.json" and f.fix and f.crbrs
    # the bypass lock is set in cycle 1: not reported
    assert "RP003" not in checks(found)
    # the proxy's host is named, never credentials
    assert all("@" not in f.message for f in found if f.check == "RP071")


def test_ramparts_compiled_settings_pass_clean(tmp_path: Path) -> None:
    write_settings(tmp_path / "etc/claude-code/managed-settings.json", compiled())
    tree(tmp_path, {})
    assert findings(tmp_path) == []


def test_an_edited_install_is_reported(tmp_path: Path) -> None:
    target = tmp_path / "etc/claude-code/managed-settings.json"
    write_settings(target, compiled())
    tree(tmp_path, {})
    target.write_text(target.read_text().replace('"disable"', '"disable" '), "utf-8")
    assert checks(findings(tmp_path)) == {"RP013"}


def test_first_managed_source_wins_and_dropins_merge(tmp_path: Path) -> None:
    settings = compiled()
    settings["permissions"].pop("disableBypassPermissionsMode")
    root = tree(
        tmp_path,
        {
            "/etc/claude-code/managed-settings.json": settings,
            "/etc/claude-code/managed-settings.d/10-lock.json": {
                "permissions": {"disableBypassPermissionsMode": "disable"}
            },
            # user-level attempts to loosen: hooks and rules are dropped (managed-only locks), scalars lose
            f"{HOME}/.claude/settings.json": {
                "permissions": {"allow": ["Bash(python *)"]},
                "allowManagedHooksOnly": False,
                "sandbox": {"allowUnsandboxedCommands": True},
            },
        },
    )
    effective = compute(discover(root=root, home=HOME, project=PROJECT))
    assert effective.get("permissions.disableBypassPermissionsMode") == "disable"
    assert effective.get("sandbox.allowUnsandboxedCommands") is False
    assert effective.where("permissions.disableBypassPermissionsMode").endswith("10-lock.json")
    # allowManagedPermissionRulesOnly is off in the baseline: the user's allow rule merges in and is flagged
    found = [f for f in findings(root) if f.check != "RP013"]  # written by hand here, not by install
    assert checks(found) == {"RP030"}
    assert found[0].file == f"{HOME}/.claude/settings.json"


def test_managed_only_rules_drop_lower_scopes(tmp_path: Path) -> None:
    settings = compiled()
    settings["allowManagedPermissionRulesOnly"] = True
    write_settings(tmp_path / "etc/claude-code/managed-settings.json", settings)
    tree(tmp_path, {f"{PROJECT}/.claude/settings.json": {"permissions": {"allow": ["Bash(node *)"]}}})
    assert findings(tmp_path) == []


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"permissions": {"defaultMode": "bypassPermissions"}}, {"RP003"}),
        ({"allowManagedHooksOnly": False}, {"RP010"}),
        ({"disableAllHooks": True}, {"RP012", "RP014"}),
        ({"enableAllProjectMcpServers": True}, {"RP050"}),
        ({"sandbox": {"failIfUnavailable": False}}, {"RP061"}),
        ({"sandbox": {"allowUnsandboxedCommands": True}}, {"RP062"}),
        ({"sandbox": {"enableWeakerNestedSandbox": True}}, {"RP063"}),
        ({"sandbox": {"excludedCommands": ["bash:*", "docker ps"]}}, {"RP064"}),
        ({"env": {"HTTPS_PROXY": "http://user:pw@proxy.example:3128"}}, {"RP071"}),
        ({"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "0"}}, {"RP080"}),
        ({"requiredMinimumVersion": "2.1.200"}, {"RP081"}),
        ({"allowManagedMcpServersOnly": False}, {"RP052"}),
        ({"permissions": {"deny": ["Write(secrets/**)"]}}, {"RP020"}),
        ({"permissions": {"allow": ["Bash"]}}, {"RP030"}),
        ({"permissions": {"deny": ["Read(//proc/*/environ)"]}}, {"RP065"}),
    ],
)
def test_each_weakening_is_caught(tmp_path: Path, patch: dict[str, Any], expected: set[str]) -> None:
    settings = compiled()
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            for sub, v in value.items():
                if isinstance(v, list) and isinstance(settings[key].get(sub), list):
                    settings[key][sub] = [*settings[key][sub], *v]
                else:
                    settings[key][sub] = v
        else:
            settings[key] = value
    root = tree(tmp_path, {"/etc/claude-code/managed-settings.json": settings})
    found = [f for f in findings(root) if f.check != "RP013"]
    assert checks(found) == expected
    assert all("pw" not in f.message for f in found)


def test_mcp_servers_against_the_allowlist(tmp_path: Path) -> None:
    settings = compiled()
    settings["allowedMcpServers"] = [{"serverName": "docs"}]
    root = tree(
        tmp_path,
        {
            "/etc/claude-code/managed-settings.json": settings,
            f"{PROJECT}/.mcp.json": {
                "mcpServers": {"docs": {"command": "docs-mcp"}, "evil": {"command": "x"}}
            },
        },
    )
    found = [f for f in findings(root) if f.check == "RP051"]
    assert [(f.severity, f.file) for f in found] == [("low", f"{PROJECT}/.mcp.json")]
    assert "'evil'" in found[0].message


def test_no_managed_settings_and_unreadable_sources(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "/etc/claude-code/managed-settings.d/50.json": "{not json",
            f"{PROJECT}/.mcp.json": {"mcpServers": {"a": {}}},
        },
    )
    discovery = discover(root=root, home=HOME, project=PROJECT)
    status = {s.path: s.status for s in discovery.sources}
    assert status["/etc/claude-code/managed-settings.d/50.json"] == "invalid"
    assert any(s.scope == "mdm" and s.status == "unreadable" for s in discovery.sources)
    assert any("HKCU" in s.path and s.status == "unreadable" for s in discovery.sources)
    found = lint(discovery)
    assert {"RP001", "RP002", "RP051"} <= checks(found)
    assert found[0].severity == "critical"


# A structural subset of the SARIF 2.1.0 schema (no schema package ships the official file offline).
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs", "$schema"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {"type": "object", "required": ["id", "shortDescription"]},
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ruleId", "message", "level", "locations"],
                            "properties": {
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "region": {
                                                        "type": "object",
                                                        "properties": {
                                                            "startLine": {"type": "integer", "minimum": 1}
                                                        },
                                                    }
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_cli_formats_and_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tree(tmp_path / "t", {"/etc/claude-code/managed-settings.json": CYCLE1.read_text()})
    base = ["posture", "--root", str(root), "--home", HOME, "--project", PROJECT]
    assert cli_main([*base, "--format", "sarif"]) == 1
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SARIF_SUBSET)
    rules = [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]]
    for result in doc["runs"][0]["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
    chmod = next(r for r in doc["runs"][0]["results"] if "chmod:777" in r["message"]["text"])
    line = CYCLE1.read_text().splitlines()[
        chmod["locations"][0]["physicalLocation"]["region"]["startLine"] - 1
    ]
    assert '"deny"' in line
    assert cli_main([*base, "--format", "json", "--fail-on", "critical"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["high"] > 0
    assert cli_main([*base, "--format", "html", "-o", str(tmp_path / "r.html")]) == 1
    page = (tmp_path / "r.html").read_text()
    assert "PCI DSS" in page and "A.8.15" in page and "CC7" in page and "<script" not in page
    assert "src=" not in page and "href=" not in page  # self-contained
    assert cli_main([*base, "--fail-on", "never"]) == 0
    assert "RP020" in capsys.readouterr().out


def test_sarif_is_deterministic() -> None:
    discovery = discover(root=Path("/nonexistent-root"), home=HOME, project=PROJECT)
    found = lint(discovery)
    assert report.sarif(found, discovery) == report.sarif(found, discovery)


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs sh")
def test_posture_runs_as_a_command(tmp_path: Path) -> None:
    root = tree(tmp_path, {"/etc/claude-code/managed-settings.json": CYCLE1.read_text()})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ramparts",
            "posture",
            "--root",
            str(root),
            "--home",
            HOME,
            "--project",
            PROJECT,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 1 and "RP031" in result.stdout


def test_every_check_is_catalogued_with_a_mapped_control() -> None:
    from ramparts.posture.findings import CHECKS, COMPLIANCE

    assert len(CHECKS) == len({c.id for c in CHECKS.values()})
    for check in CHECKS.values():
        assert check.crbrs in COMPLIANCE and check.help
    source = (Path(__file__).parents[3] / "src/ramparts/posture/lint.py").read_text()
    used = set(__import__("re").findall(r'"(RP\d{3})"', source))
    assert used <= set(CHECKS)

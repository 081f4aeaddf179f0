"""`ramparts compile --all`: every artefact deterministic, checked, and matching its golden file."""

from __future__ import annotations

import fnmatch
import gc
import json
import os
import shutil
import stat
import subprocess
import warnings
from pathlib import Path
from typing import Any

import hcl2
import pytest

with warnings.catch_warnings():
    # both libraries open their data files at import without closing them
    warnings.simplefilter("ignore", ResourceWarning)
    from parliament import is_arn_match
    from policyuniverse.policy import Policy as IamPolicy

    gc.collect()

from ramparts.cli import main as cli_main
from ramparts.policy.artefacts import REGISTRY, ArtefactError, Context, Options, artefact, build_all, load
from ramparts.policy.load import load_policy

GOLDEN = Path(__file__).with_name("golden") / "compile_all"
CYCLE1_IAM = Path(__file__).parents[1] / "posture" / "fixtures" / "cycle1-bedrock-iam.json"
HOOK = "/usr/bin/python3 -I -m ramparts hook --policy profile:baseline --deadline-ms 4000"


def context(**kw: Any) -> Context:
    return Context(
        load_policy("profile:baseline"), Options(hook_command=HOOK, ramparts_bin="/usr/bin/ramparts", **kw)
    )


def test_deterministic_and_golden() -> None:
    first, second = build_all(context()), build_all(context())
    assert first == second
    assert set(first) == {
        "aws/bedrock-iam.json",
        "claude-code/managed-settings.json",
        "egress/squid-acl.conf",
        "egress/suricata.rules",
        "git/pre-push",
        "github/ruleset.json",
        "terraform/audit.tf",
        "terraform/dns-firewall.tf",
        "terraform/network-firewall.tf",
    }
    if os.environ.get("RAMPARTS_UPDATE_GOLDEN"):
        for name, data in first.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
    for name, data in first.items():
        assert (GOLDEN / name).read_bytes() == data, (
            f"{name} differs from its golden file (RAMPARTS_UPDATE_GOLDEN=1)"
        )


def test_cli_writes_every_artefact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["compile", "--policy", "profile:baseline", "--all", str(tmp_path)]) == 0
    hook = tmp_path / "git/pre-push"
    assert hook.stat().st_mode & stat.S_IXUSR
    settings = json.loads((tmp_path / "claude-code/managed-settings.json").read_text())
    assert settings["sandbox"]["failIfUnavailable"] is True
    assert settings["env"]["HTTPS_PROXY"] == "http://127.0.0.1:8789"
    assert "wrote" in capsys.readouterr().out


def test_a_failing_check_writes_nothing(tmp_path: Path) -> None:
    @artefact("zz/broken.txt", "a test artefact whose check fails", check=lambda data: _raise())
    def _build(ctx: Context) -> bytes:
        return b"x"

    try:
        with pytest.raises(ArtefactError, match=r"zz/broken\.txt: refused"):
            from ramparts.policy.artefacts import write_all

            write_all(context(), tmp_path)
        assert list(tmp_path.iterdir()) == []
    finally:
        REGISTRY.pop("zz/broken.txt")


def _raise() -> None:
    raise ValueError("refused")


def test_registry_is_open_to_other_modules() -> None:
    names = load()
    assert "terraform/audit.tf" in names and all(a.description for a in names.values())


# -- the Bedrock IAM policy, evaluated ------------------------------------------------------------------------------


def _matches_action(patterns: Any, action: str) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _matches_resource(patterns: Any, arn: str) -> bool:
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(p == "*" or is_arn_match("model", p, arn) for p in patterns)


def _condition(block: dict[str, Any], tags: dict[str, str]) -> bool:
    for operator, pairs in block.items():
        for key, expected in pairs.items():
            expected = [expected] if isinstance(expected, str) else expected
            actual = tags.get(key.split("/", 1)[1]) if key.startswith("aws:PrincipalTag/") else None
            if operator == "StringEquals" and actual not in expected:
                return False
            if operator == "StringNotEquals" and actual in expected:
                return False
            if operator not in ("StringEquals", "StringNotEquals"):
                raise AssertionError(f"operator {operator} not modelled")
    return True


def evaluate(documents: list[dict[str, Any]], action: str, arn: str, tags: dict[str, str]) -> str:
    """IAM's evaluation for one identity: an explicit Deny wins, then an Allow, else implicit deny.
    policyuniverse parses each statement (and expands action wildcards); parliament matches the ARNs."""
    allowed = False
    for document in documents:
        for statement in IamPolicy(document).statements:
            raw = statement.statement
            if "Action" in raw:
                action_ok = _matches_action(raw["Action"], action)
            else:
                action_ok = not _matches_action(raw["NotAction"], action)
            if "Resource" in raw:
                resource_ok = _matches_resource(raw["Resource"], arn)
            else:
                resource_ok = not _matches_resource(raw["NotResource"], arn)
            if not (action_ok and resource_ok and _condition(raw.get("Condition", {}), tags)):
                continue
            if statement.effect == "Deny":
                return "deny"
            allowed = True
    return "allow" if allowed else "deny"


CLAUDE_FM = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
CLAUDE_PROFILE = (
    "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
)
CLAUDE_GLOBAL = (
    "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/global.anthropic.claude-opus-4-1-20250805-v1:0"
)
LLAMA_FM = "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-70b-instruct-v1:0"
NOVA_PROFILE = "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-pro-v1:0"
APP_PROFILE = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123"
ENG = {"Department": "Engineering"}
# An over-broad policy attached beside ours (an admin role, a copy-pasted bedrock:*): the Deny must still hold.
BROAD = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]}


@pytest.mark.parametrize(
    ("action", "arn", "tags", "verdict"),
    [
        ("bedrock:InvokeModel", CLAUDE_FM, ENG, "allow"),
        ("bedrock:InvokeModelWithResponseStream", CLAUDE_PROFILE, ENG, "allow"),
        ("bedrock:Converse", CLAUDE_GLOBAL, ENG, "allow"),
        ("bedrock:ConverseStream", CLAUDE_PROFILE, ENG, "allow"),
        ("bedrock:InvokeModel", LLAMA_FM, ENG, "deny"),
        ("bedrock:Converse", NOVA_PROFILE, ENG, "deny"),
        ("bedrock:InvokeModel", APP_PROFILE, ENG, "deny"),
        ("bedrock:InvokeModel", CLAUDE_FM, {}, "deny"),
        ("bedrock:Converse", CLAUDE_PROFILE, {"Department": "Sales"}, "deny"),
    ],
)
def test_bedrock_policy_alone_and_beside_a_broad_grant(
    action: str, arn: str, tags: dict[str, str], verdict: str
) -> None:
    ours = json.loads(build_all(context())["aws/bedrock-iam.json"])
    assert evaluate([ours], action, arn, tags) == verdict
    assert evaluate([ours, BROAD], action, arn, tags) == verdict


def test_cycle1_policy_gaps_that_ours_closes() -> None:
    cycle1 = json.loads(CYCLE1_IAM.read_text())
    # Claude Code on Bedrock calls cross-region inference profiles: cycle 1 refuses them
    assert evaluate([cycle1], "bedrock:InvokeModel", CLAUDE_PROFILE, ENG) == "deny"
    # its Deny covers InvokeModel* only: beside a broad grant, Converse reaches any model
    assert evaluate([cycle1, BROAD], "bedrock:Converse", LLAMA_FM, ENG) == "allow"
    ours = json.loads(build_all(context())["aws/bedrock-iam.json"])
    assert evaluate([ours, BROAD], "bedrock:Converse", LLAMA_FM, ENG) == "deny"


# -- Terraform, the ruleset, the hook ----------------------------------------------------------------------------


def test_terraform_parses_and_locks_the_bucket_in_compliance_mode() -> None:
    policy = load_policy("profile:baseline")
    ship = {"sinks": [{"name": "worm", "type": "s3", "bucket": "acme-audit", "retention_days": 2555}]}
    ctx = Context(policy._replace(ship=json.dumps(ship)), Options(hook_command=HOOK))
    tree = hcl2.loads(build_all(ctx)["terraform/audit.tf"].decode())
    variables = {next(iter(v)): v[next(iter(v))] for v in tree["variable"]}
    variables = {k.strip('"'): v for k, v in variables.items()}
    assert variables["bucket_name"]["default"].strip('"') == "acme-audit"
    assert variables["retention_days"]["default"] == 2555
    kinds = {k.strip('"') for block in tree["resource"] for k in block}
    assert {"aws_s3_bucket_object_lock_configuration", "aws_kinesis_firehose_delivery_stream"} <= kinds


def _checkov() -> str | None:
    configured = os.environ.get("RAMPARTS_CHECKOV")
    if configured:
        return configured
    for parent in Path(__file__).resolve().parents:
        candidate = parent / ".tools" / "checkov" / "bin" / "checkov"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("checkov")


def test_checkov_finds_nothing_in_the_terraform(tmp_path: Path) -> None:
    checkov = _checkov()
    if checkov is None:
        if os.environ.get("CI"):
            pytest.fail("checkov is not installed (make installs it into .tools/checkov)")
        pytest.skip("checkov is not installed here (make installs it into .tools/checkov)")
    (tmp_path / "audit.tf").write_bytes(build_all(context())["terraform/audit.tf"])
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [
            checkov,
            "-d",
            str(tmp_path),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--skip-download",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        env=env,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert summary["passed"] > 30 and failed == [], failed


def test_ruleset_blocks_bypass_and_requires_the_secret_scan() -> None:
    ruleset = json.loads(build_all(context())["github/ruleset.json"])
    assert ruleset["bypass_actors"] == [] and ruleset["enforcement"] == "active"
    types = [r["type"] for r in ruleset["rules"]]
    assert {"deletion", "non_fast_forward", "pull_request", "required_status_checks"} <= set(types)
    checks = next(r for r in ruleset["rules"] if r["type"] == "required_status_checks")["parameters"]
    assert {"context": "secret-scan"} in checks["required_status_checks"]
    assert "refs/heads/main" in ruleset["conditions"]["ref_name"]["include"]


def test_wrapped_mcp_servers(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(
        "version: 1\nextends: baseline\nmcp:\n  servers:\n    docs:\n      tools: [search]\n"
        "      managed: {command: docs-mcp, args: [--stdio], env: {DOCS_TOKEN: x}}\n",
        "utf-8",
    )
    policy = load_policy(str(policy_file))
    plain = build_all(Context(policy, Options(hook_command=HOOK)))
    assert json.loads(plain["claude-code/managed-mcp.json"])["mcpServers"]["docs"]["command"] == "docs-mcp"
    wrapped = build_all(
        Context(
            policy,
            Options(
                hook_command=HOOK, wrap_mcp=True, ramparts_bin="/opt/r/bin/ramparts", policy_arg="/etc/r.yaml"
            ),
        )
    )
    server = json.loads(wrapped["claude-code/managed-mcp.json"])["mcpServers"]["docs"]
    assert server["command"] == "/opt/r/bin/ramparts"
    assert server["args"] == [
        "mcp",
        "wrap",
        "--server",
        "docs",
        "--policy",
        "/etc/r.yaml",
        "--keep-env",
        "DOCS_TOKEN",
        "--",
        "docs-mcp",
        "--stdio",
    ]

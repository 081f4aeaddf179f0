"""HIGH-03 outside the agent: the git pre-push hook and a GitHub repository ruleset for protected branches."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import jsonschema

from ..githooks import pre_push_script
from . import ArtefactError, Context, artefact


def _check_hook(data: bytes) -> None:
    """``sh -n``: the hook parses as POSIX shell."""
    result = subprocess.run(["sh", "-n"], input=data, capture_output=True, timeout=30, check=False)
    if result.returncode != 0:
        raise ArtefactError(f"git/pre-push: not valid sh: {result.stderr.decode(errors='replace').strip()}")


@artefact(
    "git/pre-push",
    "git pre-push hook refusing agent pushes to protected branches",
    check=_check_hook,
    mode=0o755,
)
def build_hook(context: Context) -> bytes:
    return pre_push_script(context.policy.git.protected_branches).encode("utf-8")


# The subset of GitHub's "create a repository ruleset" request body this artefact uses.
RULESET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "target", "enforcement", "bypass_actors", "conditions", "rules"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "target": {"enum": ["branch", "tag", "push"]},
        "enforcement": {"enum": ["disabled", "active", "evaluate"]},
        "bypass_actors": {"type": "array", "maxItems": 0},
        "conditions": {
            "type": "object",
            "required": ["ref_name"],
            "properties": {
                "ref_name": {
                    "type": "object",
                    "required": ["include", "exclude"],
                    "properties": {
                        "include": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                        "exclude": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
        },
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {
                        "enum": [
                            "creation",
                            "update",
                            "deletion",
                            "required_linear_history",
                            "required_signatures",
                            "pull_request",
                            "required_status_checks",
                            "non_fast_forward",
                        ]
                    },
                    "parameters": {"type": "object"},
                },
            },
        },
    },
}
_REQUIRED_RULES = {"deletion", "non_fast_forward", "pull_request", "required_status_checks"}


def _ref(pattern: str) -> str:
    return pattern if pattern.startswith("refs/") else f"refs/heads/{pattern}"


def _check_ruleset(data: bytes) -> None:
    value = json.loads(data)
    try:
        jsonschema.validate(value, RULESET_SCHEMA)
    except jsonschema.ValidationError as exc:
        raise ArtefactError(f"github/ruleset.json: {exc.message} at {list(exc.absolute_path)}") from exc
    types = {rule["type"] for rule in value["rules"]}
    if not types >= _REQUIRED_RULES:
        raise ArtefactError(f"github/ruleset.json: missing rules {sorted(_REQUIRED_RULES - types)}")


@artefact(
    "github/ruleset.json",
    "GitHub repository ruleset: reviews, status checks, no force push or deletion",
    check=_check_ruleset,
)
def build_ruleset(context: Context) -> bytes:
    checks = [{"context": name} for name in context.options.status_checks]
    ruleset = {
        "name": "ramparts-protected-branches",
        "target": "branch",
        "enforcement": "active",
        "bypass_actors": [],
        "conditions": {
            "ref_name": {
                "include": [_ref(p) for p in context.policy.git.protected_branches] or ["~DEFAULT_BRANCH"],
                "exclude": [],
            }
        },
        "rules": [
            {"type": "deletion"},
            {"type": "non_fast_forward"},
            {
                "type": "pull_request",
                "parameters": {
                    "required_approving_review_count": 1,
                    "dismiss_stale_reviews_on_push": True,
                    "require_code_owner_review": True,
                    "require_last_push_approval": True,
                    "required_review_thread_resolution": True,
                },
            },
            {
                "type": "required_status_checks",
                "parameters": {
                    "strict_required_status_checks_policy": True,
                    "required_status_checks": checks,
                },
            },
        ],
    }
    return (json.dumps(ruleset, indent=2) + "\n").encode("utf-8")

"""The commented policy file that ``ramparts policy init`` writes."""

from __future__ import annotations

_TEMPLATE = """\
# Ramparts policy (docs/policy.md). Checked with: ramparts policy check {path}
version: 1

# Start from a shipped profile: baseline (the organisation-wide floor), strict (baseline + a human
# approves every shell command, write and edit) or readonly (baseline + read-only commands run
# without a prompt). Your rules add to it.
extends: {profile}

# enforce: decisions apply. report: decisions are only logged (shadow mode).
mode: enforce

permissions:
  # What a tool call no rule speaks about gets: ask, deny or allow.
  default: ask
  # Claude Code's own rule syntax. deny beats ask beats allow.
  deny: []
    # - Bash(terraform destroy *)
    # - Read(./secrets/**)
    # - Read(//etc/**)              # '//' is absolute; a single '/' is relative to this file
    # - rule: WebFetch(domain:pastebin.com)
    #   id: no-paste-sites
    #   reason: paste sites are an exfiltration channel
  ask: []
    # - Bash(npm run deploy *)
    # - mcp__github
  allow: []
    # - Bash(npm run test *)
    # - Edit(./src/**)
    # - WebFetch(domain:docs.python.org)

# Files no tool and no shell command may read or edit (added to the profile's list).
sensitive_paths: []
  # - config/credentials.yml

shell:
  # Shell commands Ramparts cannot see through ($VAR, $(...) as a word, eval, xargs): ask or deny.
  opaque: ask
  # Code handed to an interpreter (python3 -c, perl -e, node -e, awk system()): ask or deny.
  inline_code: ask

# The LLM gateway (`ramparts gateway --policy THIS_FILE`); the profile sets upstream, models, limits
# and masks secrets, e-mail, phone, SSN and card numbers. Per entity: mask, redact or block.
# Replicas on several machines share their vault, tokens and budget through `store` (no password
# here: PGPASSWORD or ~/.pgpass); they also need the same vault key file (docs/gateway.md).
# gateway:
#   max_tokens: 32000
#   dlp: {{pii-iban: block, pii-phone: redact}}
#   bedrock:   # models sent to Amazon Bedrock (AWS credentials from the gateway's environment)
#     region: us-east-1
#     models: {{"claude-sonnet-4-5*": us.anthropic.claude-sonnet-4-5-20250929-v1:0}}
#   store: postgresql://gateway@db.internal/ramparts

hook:
  timeout: 10        # seconds, Claude Code's hook timeout
  deadline_ms: 4000  # Ramparts denies by itself before this

settings:
  # Locks compiled into managed-settings.json.
  disable_bypass_permissions: true
  allow_managed_hooks_only: true
  env: {{}}
"""


def render_template(profile: str, path: str = "ramparts.yaml") -> str:
    """The file for ``profile``; ``path`` is where it is written (its header says how to check it)."""
    return _TEMPLATE.format(profile=profile, path=path)

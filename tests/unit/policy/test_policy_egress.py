"""The policy's ``egress`` section: defaults, layering with a profile, FILE:LINE:COL errors, the cache round trip."""

from __future__ import annotations

import pytest

from ramparts.errors import PolicyError
from ramparts.policy.load import compile_policy
from ramparts.policy.types import EgressSettings, policy_from_json, policy_to_json


def error_of(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        compile_policy(text.encode(), "p.yaml")
    return str(info.value)


def test_defaults_without_a_section() -> None:
    assert compile_policy(b"version: 1\n", "p.yaml").egress == EgressSettings()


def test_a_full_section_compiles_and_round_trips() -> None:
    policy = compile_policy(
        b"""version: 1
extends: baseline
egress:
  mode: report
  allow: [pypi.org, "*.pythonhosted.org", 10.0.0.5]
  deny: [evil.example]
  allow_ranges: [10.1.0.0/16, "fd00:1::/64"]
  doh: allow
  ports: [443, 22, 5432]
  host_ports: ["git.corp.example:2222", "*.db.example:5432"]
  anomalies:
    max_upload_bytes: 2048
    max_requests_per_minute: 5
    first_seen: false
    tunnel_label_length: 30
    tunnel_entropy: 4.0
    tunnel_subdomains: 10
""",
        "p.yaml",
    )
    assert policy.egress == EgressSettings(
        mode="report",
        allow=("pypi.org", "*.pythonhosted.org", "10.0.0.5"),
        deny=("evil.example",),
        allow_ranges=("10.1.0.0/16", "fd00:1::/64"),
        doh="allow",
        ports=(443, 22, 5432),
        host_ports=("git.corp.example:2222", "*.db.example:5432"),
        max_upload_bytes=2048,
        max_requests_per_minute=5,
        first_seen=False,
        tunnel_label_length=30,
        tunnel_entropy=4.0,
        tunnel_subdomains=10,
    )
    assert policy_from_json(policy_to_json(policy)) == policy


def test_host_ports_default_to_git_over_ssh_and_a_file_replaces_them() -> None:
    assert compile_policy(b"version: 1\n", "p.yaml").egress.host_ports == (
        "github.com:22",
        "gitlab.com:22",
        "bitbucket.org:22",
        "ssh.dev.azure.com:22",
    )
    assert compile_policy(b"version: 1\negress:\n  host_ports: []\n", "p.yaml").egress.host_ports == ()


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("version: 1\negress:\n  allow_ranges:\n    - 10.0.0.1/8\n", "p.yaml:4:7:", "has host bits set"),
        ("version: 1\negress:\n  allow_ranges: [nonsense]\n", "p.yaml:3:18:", "not a CIDR range"),
        ("version: 1\negress:\n  allow: ['bad host']\n", "p.yaml:3:11:", "does not match"),
        ("version: 1\negress:\n  mode: loose\n", "p.yaml:3:9:", "is not one of"),
        (
            "version: 1\negress:\n  anomalies: {max_upload_bytes: 10}\n",
            "p.yaml:3:33:",
            "less than the minimum",
        ),
        ("version: 1\negress:\n  allowed: []\n", "p.yaml:3:3:", "unknown key 'egress.allowed'"),
        ("version: 1\negress:\n  ports: [443, 70000]\n", "p.yaml:3:16:", "greater than the maximum"),
        ("version: 1\negress:\n  ports: [443, 443]\n", "p.yaml:3:10:", "non-unique"),
        ("version: 1\negress:\n  host_ports: [github.com:70000]\n", "p.yaml:3:16:", "does not match"),
        ("version: 1\negress:\n  host_ports: [github.com]\n", "p.yaml:3:16:", "does not match"),
        ("version: 1\negress:\n  host_ports: ['a b:22']\n", "p.yaml:3:16:", "does not match"),
    ],
)
def test_errors_name_file_line_and_column(text: str, where: str, what: str) -> None:
    message = error_of(text)
    assert message.startswith(where), message
    assert what in message

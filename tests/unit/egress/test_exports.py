"""The egress lists exported: Claude Code's sandbox keys, squid ACL (parsed by squid itself: Debian's
squid-openssl, `squid -k parse`), Suricata rules (parsed with suricataparser), Route 53 DNS Firewall
Terraform (parsed with python-hcl2), and compile's output. Each mirrors ``egress.ports``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
import suricataparser

from ramparts.egress.exports import (
    proxy_env,
    route53_firewall_terraform,
    sandbox_settings,
    squid_acl,
    suricata_rules,
)
from ramparts.policy.compile import managed_settings
from ramparts.policy.load import compile_policy
from ramparts.policy.types import EgressSettings

SETTINGS = EgressSettings(allow=("pypi.org", "*.pythonhosted.org", "10.0.0.5"), deny=("evil.example",))


def test_sandbox_settings_and_env() -> None:
    sandbox = sandbox_settings(SETTINGS, port=8789)
    assert (
        sandbox["enabled"] and sandbox["failIfUnavailable"] and sandbox["allowUnsandboxedCommands"] is False
    )
    network = sandbox["network"]
    assert network["httpProxyPort"] == network["socksProxyPort"] == 8789
    assert network["allowedDomains"] == ["api.anthropic.com", "pypi.org", "*.pythonhosted.org"]
    assert "evil.example" in network["deniedDomains"] and "dns.google" in network["deniedDomains"]
    assert "10.0.0.5" not in network["allowedDomains"]
    assert proxy_env("127.0.0.1", 8789)["HTTPS_PROXY"] == "http://127.0.0.1:8789"
    opened = sandbox_settings(EgressSettings(allow=("*",), doh="allow"), port=1)
    assert "*" not in opened["network"]["allowedDomains"]
    assert "dns.google" not in opened["network"]["deniedDomains"]


def test_suricata_rules_parse_and_are_in_strict_order() -> None:
    text = suricata_rules(SETTINGS)
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    parsed = [suricataparser.parse_rule(line) for line in lines]
    assert all(rule is not None for rule in parsed), [
        line for line, rule in zip(lines, parsed, strict=True) if rule is None
    ]
    sids = [rule.sid for rule in parsed]
    assert len(set(sids)) == len(sids)
    actions = [rule.action for rule in parsed]
    first_pass = actions.index("pass")
    assert all(a == "drop" for a in actions[:first_pass])  # denies before allows
    assert actions[-2:] == ["drop", "drop"]  # the default drop comes last
    for rule in parsed:
        names = [o.name for o in rule.options]
        assert {"msg", "sid", "rev", "flow"} <= set(names)
        if "content" in names:
            assert names.index("content") > max(
                names.index(b) for b in ("tls.sni", "http.host") if b in names
            )
    assert 'tls.sni; content:"pypi.org"; nocase; startswith; endswith;' in text
    assert 'tls.sni; content:".pythonhosted.org"; nocase; endswith;' in text
    assert "-> $EXTERNAL_NET 853" in text
    assert "10.0.0.5" not in text
    everything = suricata_rules(EgressSettings(allow=("*",), doh="allow"))
    assert "every host allowed" in everything and "853" not in everything


def test_route53_terraform_parses() -> None:
    text = route53_firewall_terraform(SETTINGS)
    doc = hcl2.loads(text)
    found: list[tuple[str, dict[str, object]]] = []
    for resource in doc["resource"]:
        for kind, named in resource.items():
            for body in named.values():
                found.append((kind.strip('"'), body))
    assert [k for k, _ in found].count("aws_route53_resolver_firewall_rule") == 3
    rules = sorted(
        (b for k, b in found if k == "aws_route53_resolver_firewall_rule"), key=lambda b: int(b["priority"])
    )  # type: ignore[call-overload]
    assert [str(r["action"]).strip('"') for r in rules] == ["BLOCK", "ALLOW", "BLOCK"]
    assert "pypi.org" in text and "*.pythonhosted.org" in text and '["*"]' in text


def squid_parse(tmp_path: Path, fragment: str) -> None:
    """squid's own parser on a config holding ``fragment`` (fails with squid's words)."""
    squid = shutil.which("squid") or "/usr/sbin/squid"
    conf = tmp_path / "squid.conf"
    conf.write_text("http_port 127.0.0.1:3128\n" + fragment)
    done = subprocess.run([squid, "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    said = [line for line in done.stderr.splitlines() if "ERROR" in line or "FATAL" in line]
    assert done.returncode == 0 and not said, said or done.stderr[-2000:]


def test_squid_rejects_what_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="Bungled"):
        squid_parse(tmp_path, "acl ramparts_ports port eighty\n")


def test_squid_acl(tmp_path: Path) -> None:
    text = squid_acl(SETTINGS)
    squid_parse(tmp_path, text)
    assert (
        "acl ramparts_allowed_re dstdom_regex -i \\.pythonhosted\\.org$" in text
    )  # subdomains, not the apex
    assert "acl ramparts_denied dstdomain evil.example" in text
    assert text.index("http_access deny ramparts_denied") < text.index("http_access allow ramparts_allowed")
    assert text.rstrip().endswith("http_access deny all")
    assert "acl ramparts_dot port 853" in text
    opened = squid_acl(EgressSettings(allow=("*",), doh="allow"))
    assert "http_access allow all" in opened and "853" not in opened
    squid_parse(tmp_path, opened)
    # a name listed with its subdomains is one `.name` (squid refuses both in one list)
    both = squid_acl(EgressSettings(allow=("example.org", "*.example.org"), deny=("x.test", "*.x.test")))
    squid_parse(tmp_path, both)
    assert "dstdomain .example.org" in both and "dstdomain example.org" not in both


@pytest.mark.parametrize("ports", [(80, 443), (22, 443, 80), (8443,)])
def test_the_exports_mirror_the_policy_ports(tmp_path: Path, ports: tuple[int, ...]) -> None:
    settings = EgressSettings(allow=("pypi.org", "*.pythonhosted.org"), ports=ports)
    listed = sorted(set(ports))
    squid = squid_acl(settings)
    squid_parse(tmp_path, squid)
    lines = squid.splitlines()
    assert f"acl ramparts_ports port {' '.join(map(str, listed))}" in lines
    # the port refusal comes before anything is allowed
    assert lines.index("http_access deny !ramparts_ports") < lines.index("http_access allow ramparts_allowed")
    text = suricata_rules(settings)
    rules = [
        suricataparser.parse_rule(line) for line in text.splitlines() if line and not line.startswith("#")
    ]
    group = str(listed[0]) if len(listed) == 1 else "[" + ",".join(map(str, listed)) + "]"
    actions = [r.action for r in rules]
    port_drop = next(i for i, r in enumerate(rules) if r.msg == "ramparts egress: port not allowed")
    assert rules[port_drop].header == f"tcp $HOME_NET any -> $EXTERNAL_NET !{group}"
    assert port_drop < actions.index("pass")
    passes = [r for r in rules if r.action == "pass"]
    assert passes and all(r.header.endswith(f"-> $EXTERNAL_NET {group}") for r in passes)
    assert f"egress.ports ({', '.join(map(str, listed))})" in route53_firewall_terraform(settings)


def test_compile_writes_the_sandbox_when_the_policy_names_the_proxy() -> None:
    plain = compile_policy(b"version: 1\n", "p.yaml")
    assert "sandbox" not in managed_settings(plain, command="hook")
    policy = compile_policy(
        b"version: 1\nsettings:\n  env: {HTTPS_PROXY: http://corp:3128}\negress:\n  proxy: 127.0.0.1:8789\n",
        "p.yaml",
    )
    settings = managed_settings(policy, command="hook")
    assert settings["sandbox"]["network"]["httpProxyPort"] == 8789
    assert settings["env"]["HTTP_PROXY"] == "http://127.0.0.1:8789"
    assert settings["env"]["HTTPS_PROXY"] == "http://corp:3128"  # the policy's own env wins


def test_compile_adds_the_credential_hook_at_session_start() -> None:
    from ramparts.policy.compile import credential_command

    policy = compile_policy(b"version: 1\negress:\n  proxy: 127.0.0.1:8789\n", "p.yaml")
    command = credential_command("/var/lib/ramparts", python="/usr/bin/python3")
    assert command == "/usr/bin/python3 -I -m ramparts egress credential --hook --state-dir /var/lib/ramparts"
    settings = managed_settings(policy, command="hook", egress_command=command)
    starts = [h["command"] for entry in settings["hooks"]["SessionStart"] for h in entry["hooks"]]
    assert starts == ["hook", command]
    assert credential_command(None, python="py").endswith("--hook")


def test_host_ports_in_the_exports(tmp_path: Path) -> None:
    """egress.host_ports: squid allows that host on that port (only when the host is allowed too),
    after the deny lists and before the port refusal; Suricata cannot name SSH and says so."""
    settings = EgressSettings(
        allow=("github.com", "*.pythonhosted.org"), host_ports=("github.com:22", "*.db.example:5432")
    )
    text = squid_acl(settings)
    squid_parse(tmp_path, text)
    lines = text.splitlines()
    first = lines.index("http_access allow ramparts_host_port_1 ramparts_host_port_1_dst ramparts_allowed")
    assert (
        lines.index("http_access deny ramparts_denied")
        < first
        < lines.index("http_access deny !ramparts_ports")
    )
    assert (
        "acl ramparts_host_port_1 port 22" in lines
        and "acl ramparts_host_port_1_dst dstdomain github.com" in lines
    )
    assert "acl ramparts_host_port_2_dst dstdom_regex -i \\.db\\.example$" in lines
    opened = squid_acl(EgressSettings(allow=("*",), host_ports=("github.com:22",)))
    squid_parse(tmp_path, opened)
    assert "http_access allow ramparts_host_port_1 ramparts_host_port_1_dst" in opened.splitlines()
    rules = suricata_rules(settings)
    assert "# egress.host_ports (github.com:22, *.db.example:5432) are not passed here" in rules
    assert "egress.host_ports" not in suricata_rules(EgressSettings(host_ports=()))

"""The egress lists as other enforcement points read them: pure functions returning text (or settings),
so ``ramparts compile --all DIR`` can register each as an artefact.

- :func:`sandbox_settings` / :func:`proxy_env`: Claude Code's sandbox keys pointing at the proxy, and
  ``HTTPS_PROXY``/``HTTP_PROXY`` for the Claude Code process;
- :func:`squid_acl`: the allow and deny lists as a squid ACL (``dstdomain``, SNI via ``ssl::server_name``),
  every port outside ``egress.ports`` denied;
- :func:`suricata_rules`: AWS Network Firewall rules (Suricata, strict rule order): denied hosts, DoH
  endpoints, DoT and every port outside ``egress.ports`` dropped, allowed TLS SNI and HTTP hosts passed
  on those ports, every other TLS/HTTP flow dropped;
- :func:`route53_firewall_terraform`: Route 53 Resolver DNS Firewall (Terraform): block the deny list and
  DoH names, allow the allow list, block everything else.

Patterns keep the proxy's meaning: ``name`` is that name only, ``*.name`` its subdomains, ``*`` all.
Literal addresses in the lists are left to the proxy (DNS and SNI rules match names).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..policy.types import EgressSettings
from .acl import DEFAULT_ALLOW, DEFAULT_DENY, DOH_HOSTS, DOT_PORT
from .classify import parse_address

SID_BASE = 4_170_000
"""Suricata rule ids start here (a private range; one id per rule, stable for a given list)."""


def _names(patterns: tuple[str, ...]) -> list[str]:
    """The name patterns (lowercase, no trailing dot), addresses left out, order kept, no repeats."""
    out: list[str] = []
    for pattern in patterns:
        name = pattern.strip().lower().rstrip(".")
        if name and parse_address(name) is None and name not in out:
            out.append(name)
    return out


def allow_names(settings: EgressSettings) -> list[str]:
    return _names((*DEFAULT_ALLOW, *settings.allow))


def deny_names(settings: EgressSettings) -> list[str]:
    return _names((*DEFAULT_DENY, *settings.deny))


def doh_names(settings: EgressSettings) -> list[str]:
    return _names(DOH_HOSTS) if settings.doh == "deny" else []


# -- Claude Code ------------------------------------------------------------------------------------


def sandbox_settings(settings: EgressSettings, *, port: int) -> dict[str, Any]:
    """Claude Code's ``sandbox`` key: mandatory (fail if unavailable, no unsandboxed retries), its
    HTTP and SOCKS traffic handed to the Ramparts proxy on ``port``, the allowed domains mirrored."""
    allowed = [n for n in allow_names(settings) if n != "*"]
    return {
        "enabled": True,
        "failIfUnavailable": True,
        "allowUnsandboxedCommands": False,
        "network": {
            "httpProxyPort": port,
            "socksProxyPort": port,
            "allowedDomains": allowed,
            "deniedDomains": [*deny_names(settings), *doh_names(settings)],
            "allowManagedDomainsOnly": True,
        },
    }


def proxy_env(host: str, port: int) -> dict[str, str]:
    """``env`` for the Claude Code process itself (its own HTTPS calls go through the proxy too)."""
    url = f"http://{host}:{port}"
    return {"HTTPS_PROXY": url, "HTTP_PROXY": url, "https_proxy": url, "http_proxy": url}


# -- squid ------------------------------------------------------------------------------------------


def _squid_domains(names: list[str]) -> tuple[list[str], list[str]]:
    """(``dstdomain`` values, ``dstdom_regex`` values) for name patterns. squid's ``.name`` is the name
    *and* its subdomains and squid refuses a list holding both ``name`` and ``.name``: a pattern listed
    with its apex becomes ``.name`` alone; ``*.name`` without its apex (subdomains only, as the proxy
    reads it) becomes a regex ``\\.name$``, so the ACL allows no more than the proxy does."""
    listed = set(names)
    plain: list[str] = []
    regex: list[str] = []
    for name in names:
        if name.startswith("*."):
            apex = name[2:]
            if apex in listed:
                plain.append("." + apex)
            else:
                regex.append("\\." + apex.replace(".", "\\.") + "$")  # names: letters, digits, - and .
        elif "*." + name not in listed:
            plain.append(name)
    return plain, regex


def _ports(settings: EgressSettings) -> list[int]:
    """``egress.ports``, sorted, no repeats (the ports names and public addresses may be reached on)."""
    return sorted(set(settings.ports))


def squid_acl(settings: EgressSettings) -> str:
    """A squid.conf fragment: deny DoT, the deny list and DoH; allow each ``egress.host_ports`` pair
    (that host, that port, when the allow list lets the host through); deny every other port outside
    ``egress.ports``; allow the allow list (CONNECT by SNI too); deny the rest."""
    lines = ["# Ramparts egress lists (generated; edit the policy's egress: section instead)"]

    def acl(name: str, kind: str, values: list[str]) -> None:
        for value in values:
            lines.append(f"acl {name} {kind} {value}")

    denied, denied_re = _squid_domains([*deny_names(settings), *doh_names(settings)])
    acl("ramparts_denied", "dstdomain", denied)
    acl("ramparts_denied_re", "dstdom_regex -i", denied_re)
    acl("ramparts_denied_sni", "ssl::server_name", denied)
    acl("ramparts_denied_sni_re", "ssl::server_name_regex -i", denied_re)
    everything = "*" in allow_names(settings)
    allowed, allowed_re = _squid_domains([n for n in allow_names(settings) if n != "*"])
    if not everything:
        acl("ramparts_allowed", "dstdomain", allowed)
        acl("ramparts_allowed_re", "dstdom_regex -i", allowed_re)
    if settings.doh == "deny":
        lines.append(f"acl ramparts_dot port {DOT_PORT}")
        lines.append("http_access deny ramparts_dot")
    lines.append("http_access deny ramparts_denied")
    if denied_re:
        lines.append("http_access deny ramparts_denied_re")
    lines.append("http_access deny CONNECT ramparts_denied_sni")
    if denied_re:
        lines.append("http_access deny CONNECT ramparts_denied_sni_re")
    for index, (pattern, port) in enumerate(_host_ports(settings), 1):
        name = f"ramparts_host_port_{index}"
        plain, regex = _squid_domains([pattern])
        lines.append(f"acl {name} port {port}")
        acl(f"{name}_dst", "dstdomain" if plain else "dstdom_regex -i", plain or regex)
        if everything:
            lines.append(f"http_access allow {name} {name}_dst")
            continue
        for listed, used in (("ramparts_allowed", allowed), ("ramparts_allowed_re", allowed_re)):
            if used:  # the host must also be allowed: host_ports adds a port, never a host
                lines.append(f"http_access allow {name} {name}_dst {listed}")
    lines.append(f"acl ramparts_ports port {' '.join(str(p) for p in _ports(settings))}")
    lines.append("http_access deny !ramparts_ports")  # egress.ports: no other port, CONNECT or not
    if everything:
        lines.append("http_access allow all")
    else:
        lines.append("http_access allow ramparts_allowed")
        if allowed_re:
            lines.append("http_access allow ramparts_allowed_re")
    lines.append("http_access deny all")
    return "\n".join(lines) + "\n"


def _host_ports(settings: EgressSettings) -> list[tuple[str, int]]:
    """``egress.host_ports`` as (name pattern, port), addresses left to the proxy, no repeats."""
    out: list[tuple[str, int]] = []
    for item in settings.host_ports:
        name, _, port = item.rpartition(":")
        pair = (name.lower().rstrip("."), int(port))
        if pair not in out and parse_address(pair[0]) is None:
            out.append(pair)
    return out


# -- Suricata (AWS Network Firewall, strict order) ---------------------------------------------------


def _content(name: str) -> str:
    """Suricata content match for a name pattern on a sticky buffer (tls.sni / http.host)."""
    if name.startswith("*."):
        return f'content:"{name[1:]}"; nocase; endswith;'
    return f'content:"{name}"; nocase; startswith; endswith;'


def _safe(name: str) -> str:
    return re.sub(r"[^a-z0-9*.-]", "", name)


def _suricata_ports(settings: EgressSettings) -> str:
    ports = _ports(settings)
    return str(ports[0]) if len(ports) == 1 else "[" + ",".join(str(p) for p in ports) + "]"


def suricata_rules(settings: EgressSettings) -> str:
    """Rules for a stateful rule group in STRICT_ORDER: drops first (denied names, DoH, DoT, every port
    outside ``egress.ports``), then passes (allowed names, on those ports only), then the default drop."""
    rules: list[str] = []
    comments: list[str] = []
    sid = SID_BASE

    def add(text: str) -> None:
        nonlocal sid
        sid += 1
        rules.append(f"{text} sid:{sid}; rev:1;)")

    head = "$HOME_NET any -> $EXTERNAL_NET any"
    for why, names in (("denied host", deny_names(settings)), ("DNS over HTTPS", doh_names(settings))):
        for name in names:
            name = _safe(name)
            add(
                f'drop tls {head} (msg:"ramparts egress: {why} {name}"; flow:to_server,established; tls.sni; {_content(name)}'
            )
            add(
                f'drop http {head} (msg:"ramparts egress: {why} {name}"; flow:to_server,established; http.host; {_content(name)}'
            )
    if settings.doh == "deny":
        add(
            f'drop tcp $HOME_NET any -> $EXTERNAL_NET {DOT_PORT} (msg:"ramparts egress: DNS over TLS"; flow:to_server;'
        )
    ports = _suricata_ports(settings)
    if settings.host_ports:
        comments.append(
            "# egress.host_ports ("
            + ", ".join(settings.host_ports)
            + ") are not passed here: SSH and other protocols without a TLS server name or HTTP Host"
            " carry no name to match, so the port rule drops them; pass them by address if needed"
        )
    # egress.ports: a connection to any other port is dropped at its first packet, whatever it carries
    add(
        f'drop tcp $HOME_NET any -> $EXTERNAL_NET !{ports} (msg:"ramparts egress: port not allowed"; flow:to_server;'
    )
    head = f"$HOME_NET any -> $EXTERNAL_NET {ports}"  # passes only ever on the allowed ports
    allowed = allow_names(settings)
    if "*" in allowed:
        add(f'pass tls {head} (msg:"ramparts egress: every host allowed"; flow:to_server,established;')
        add(f'pass http {head} (msg:"ramparts egress: every host allowed"; flow:to_server,established;')
    else:
        for name in allowed:
            name = _safe(name)
            add(
                f'pass tls {head} (msg:"ramparts egress: allowed {name}"; flow:to_server,established; tls.sni; {_content(name)}'
            )
            add(
                f'pass http {head} (msg:"ramparts egress: allowed {name}"; flow:to_server,established; http.host; {_content(name)}'
            )
    head = "$HOME_NET any -> $EXTERNAL_NET any"
    add(f'drop tls {head} (msg:"ramparts egress: TLS server name not allowed"; flow:to_server,established;')
    add(f'drop http {head} (msg:"ramparts egress: HTTP host not allowed"; flow:to_server,established;')
    return (
        "# Ramparts egress rules: AWS Network Firewall stateful rule group, STRICT_ORDER\n"
        + "".join(c + "\n" for c in comments)
        + "\n".join(rules)
        + "\n"
    )


# -- Route 53 Resolver DNS Firewall (Terraform) -----------------------------------------------------


def route53_firewall_terraform(settings: EgressSettings, *, name: str = "ramparts-egress") -> str:
    """Terraform for a DNS Firewall rule group: BLOCK denied and DoH names, ALLOW the allow list, BLOCK
    every other name (``*``). Associate the rule group with the agents' VPCs."""
    ident = re.sub(r"[^a-z0-9_]", "_", name.lower())
    allowed = allow_names(settings)
    blocked = [*deny_names(settings), *doh_names(settings)]

    def domain_list(key: str, domains: list[str]) -> str:
        return (
            f'resource "aws_route53_resolver_firewall_domain_list" "{ident}_{key}" {{\n'
            f'  name    = "{name}-{key}"\n'
            f"  domains = {json.dumps(domains)}\n"
            f'  tags    = {{ managed-by = "ramparts" }}\n'
            "}\n"
        )

    def rule(key: str, priority: int, action: str, lst: str) -> str:
        block = '  block_response = "NXDOMAIN"\n' if action == "BLOCK" else ""
        return (
            f'resource "aws_route53_resolver_firewall_rule" "{ident}_{key}" {{\n'
            f'  name                    = "{name}-{key}"\n'
            f'  action                  = "{action}"\n'
            f"{block}"
            f"  firewall_domain_list_id = aws_route53_resolver_firewall_domain_list.{ident}_{lst}.id\n"
            f"  firewall_rule_group_id  = aws_route53_resolver_firewall_rule_group.{ident}.id\n"
            f"  priority                = {priority}\n"
            "}\n"
        )

    parts = [
        "# Ramparts egress lists as a Route 53 Resolver DNS Firewall (generated)\n"
        "# DNS answers names, not ports: egress.ports ("
        + ", ".join(str(p) for p in _ports(settings))
        + ") is enforced by the proxy, the squid ACL and the Network Firewall rules\n",
        f'resource "aws_route53_resolver_firewall_rule_group" "{ident}" {{\n  name = "{name}"\n'
        f'  tags = {{ managed-by = "ramparts" }}\n}}\n',
        domain_list("blocked", blocked or ["blocked.invalid"]),
        domain_list("allowed", allowed),
        domain_list("everything", ["*"]),
        rule("block", 100, "BLOCK", "blocked"),
        rule("allow", 200, "ALLOW", "allowed"),
        rule("default", 300, "BLOCK", "everything"),
    ]
    return "\n".join(parts)


def network_firewall_terraform(settings: EgressSettings, *, name: str = "ramparts-egress") -> str:
    """Terraform for an AWS Network Firewall stateful rule group holding :func:`suricata_rules` in strict
    order, encrypted with its own KMS key. Attach it to a firewall policy whose stateful engine also runs
    in STRICT_ORDER (the rules' order is the policy: allow the listed names, drop the rest)."""
    ident = re.sub(r"[^a-z0-9_]", "_", name.lower())
    rules = suricata_rules(settings)
    if "EOT" in rules.split():
        raise ValueError("the Suricata rules hold a heredoc marker")
    capacity = max(100, 2 * sum(1 for line in rules.splitlines() if line and not line.startswith("#")))
    return (
        "# Ramparts egress lists as an AWS Network Firewall rule group (generated)\n"
        f'resource "aws_kms_key" "{ident}_firewall" {{\n'
        f'  description         = "{name}: Network Firewall rule group"\n'
        "  enable_key_rotation = true\n"
        f'  tags                = {{ managed-by = "ramparts" }}\n'
        "}\n\n"
        f'resource "aws_networkfirewall_rule_group" "{ident}" {{\n'
        f'  name     = "{name}"\n'
        '  type     = "STATEFUL"\n'
        f"  capacity = {capacity}\n"
        "  encryption_configuration {\n"
        '    type   = "CUSTOMER_KMS"\n'
        f"    key_id = aws_kms_key.{ident}_firewall.arn\n"
        "  }\n"
        "  rule_group {\n"
        "    stateful_rule_options {\n"
        '      rule_order = "STRICT_ORDER"\n'
        "    }\n"
        "    rules_source {\n"
        f"      rules_string = <<EOT\n{rules.rstrip()}\nEOT\n"
        "    }\n"
        "  }\n"
        f'  tags = {{ managed-by = "ramparts" }}\n'
        "}\n"
    )

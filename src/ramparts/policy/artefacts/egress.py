"""The egress lists (HIGH-02) as network-layer artefacts: the same allow, deny and DoH lists the proxy
and the hook enforce, compiled for the firewalls and proxies an organisation already runs. The text
comes from :mod:`ramparts.egress.exports` (pure); each artefact is parsed back before it is written."""

from __future__ import annotations

from . import ArtefactError, Context, artefact


def _check_suricata(data: bytes) -> None:
    """Every line that is not a comment parses as a Suricata rule (suricataparser)."""
    import suricataparser

    rules = [line for line in data.decode("utf-8").splitlines() if line.strip() and not line.startswith("#")]
    if not rules:
        raise ArtefactError("egress/suricata.rules holds no rule")
    for line in rules:
        if suricataparser.parse_rule(line) is None:
            raise ArtefactError(f"egress/suricata.rules: not a Suricata rule: {line[:120]!r}")


def _check_terraform(data: bytes) -> None:
    import hcl2

    try:
        tree = hcl2.loads(data.decode("utf-8"))
    except Exception as exc:
        raise ArtefactError(f"terraform/dns-firewall.tf does not parse: {exc}") from exc
    kinds = {kind.strip('"') for block in tree.get("resource", []) for kind in block}
    if "aws_route53_resolver_firewall_rule_group" not in kinds:
        raise ArtefactError("terraform/dns-firewall.tf has no Route 53 Resolver firewall rule group")


def _check_squid(data: bytes) -> None:
    text = data.decode("utf-8")
    if "http_access deny all" not in text:
        raise ArtefactError("egress/squid-acl.conf does not end in a default deny")


@artefact(
    "egress/suricata.rules",
    "AWS Network Firewall (Suricata, strict order): TLS SNI and HTTP Host allowlist, DoH and deny-list drops",
    check=_check_suricata,
)
def build_suricata(context: Context) -> bytes:
    from ...egress.exports import suricata_rules

    return suricata_rules(context.policy.egress).encode("utf-8")


@artefact(
    "terraform/dns-firewall.tf",
    "Terraform: Route 53 Resolver DNS Firewall rule group from the egress lists",
    check=_check_terraform,
)
def build_dns_firewall(context: Context) -> bytes:
    from ...egress.exports import route53_firewall_terraform

    return route53_firewall_terraform(context.policy.egress).encode("utf-8")


@artefact(
    "egress/squid-acl.conf", "squid ACL: the same allow and deny lists for a squid proxy", check=_check_squid
)
def build_squid(context: Context) -> bytes:
    from ...egress.exports import squid_acl

    return squid_acl(context.policy.egress).encode("utf-8")


def _check_network_firewall(data: bytes) -> None:
    """Parses with python-hcl2, holds a Network Firewall rule group, and its rules parse as Suricata's."""
    import hcl2

    text = data.decode("utf-8")
    try:
        tree = hcl2.loads(text)
    except Exception as exc:
        raise ArtefactError(f"terraform/network-firewall.tf does not parse: {exc}") from exc
    kinds = {kind.strip('"') for block in tree.get("resource", []) for kind in block}
    if "aws_networkfirewall_rule_group" not in kinds or "<<EOT\n" not in text:
        raise ArtefactError("terraform/network-firewall.tf has no Network Firewall rule group")
    _check_suricata(text.split("<<EOT\n", 1)[1].split("\nEOT", 1)[0].encode("utf-8"))


@artefact(
    "terraform/network-firewall.tf",
    "Terraform: AWS Network Firewall stateful rule group (the Suricata rules, strict order, KMS-encrypted)",
    check=_check_network_firewall,
)
def build_network_firewall(context: Context) -> bytes:
    from ...egress.exports import network_firewall_terraform

    return network_firewall_terraform(context.policy.egress).encode("utf-8")

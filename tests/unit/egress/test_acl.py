"""The egress ACL: names before DNS, addresses after, modes, DoH/DoT, the hook's denials, tunnel shapes."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.egress.acl import (
    Anomalies,
    EgressAcl,
    acl_from_settings,
    check_address,
    check_host,
    check_port,
    check_target,
    entropy,
    hook_denial,
    host_matches,
    normal_host,
    tunnel_shaped,
    zone_of,
)
from ramparts.policy.types import EgressSettings

ACL = EgressAcl(
    allow=("api.anthropic.com", "*.pythonhosted.org", "93.184.216.34", "canary.test"),
    allow_ranges=(ipaddress.ip_network("10.9.0.0/16"), ipaddress.ip_network("169.254.169.254/32")),
    revision="r1",
)


def ids(acl: EgressAcl, host: str, port: int = 443) -> tuple[str, str]:
    d = check_host(acl, host, port)
    return d.verdict, d.rule_ids[0]


@pytest.mark.parametrize(
    ("host", "port", "verdict", "rule"),
    [
        ("api.anthropic.com", 443, "allow", "egress.allowed"),
        ("API.Anthropic.com.", 443, "allow", "egress.allowed"),
        ("files.pythonhosted.org", 443, "allow", "egress.allowed"),
        ("pythonhosted.org", 443, "deny", "egress.not_allowed"),
        ("evil.example", 443, "deny", "egress.not_allowed"),
        ("pastebin.com", 443, "deny", "egress.denied_host"),
        ("abc.ngrok.io", 443, "deny", "egress.denied_host"),
        ("dns.google", 443, "deny", "egress.doh"),
        ("mozilla.cloudflare-dns.com", 443, "deny", "egress.doh"),
        ("api.anthropic.com", 853, "deny", "egress.dot"),
        ("1.1.1.1", 443, "deny", "egress.doh"),
        ("8.8.8.8", 853, "deny", "egress.dot"),
        ("metadata.google.internal", 80, "deny", "egress.metadata"),
        ("metadata.foo.internal", 80, "deny", "egress.metadata"),
        ("169.254.169.254", 80, "allow", "egress.allowed_range"),
        ("100.100.100.200", 80, "deny", "egress.metadata"),
        ("0x7f.1", 80, "deny", "egress.address.loopback"),
        ("[::ffff:10.0.0.1]", 80, "deny", "egress.address.private"),
        ("10.9.3.4", 80, "allow", "egress.allowed_range"),
        ("[::ffff:10.9.3.4]", 80, "allow", "egress.allowed_range"),
        ("93.184.216.34", 443, "allow", "egress.allowed"),
        ("93.184.216.35", 443, "deny", "egress.not_allowed"),
        ("bad host", 443, "deny", "egress.malformed"),
        ("localhost", 80, "deny", "egress.address.loopback"),
        ("app.localhost.", 80, "deny", "egress.address.loopback"),
        ("api.anthropic.com", 0, "deny", "egress.malformed"),
        ("api.anthropic.com", 70000, "deny", "egress.malformed"),
        ("bücher.example", 443, "deny", "egress.not_allowed"),
        ("\udcff.example", 443, "deny", "egress.malformed"),
    ],
)
def test_check_host(host: str, port: int, verdict: str, rule: str) -> None:
    assert ids(ACL, host, port) == (verdict, rule)
    assert check_target(ACL, host, port) == check_host(ACL, host, port)


def test_after_dns_a_public_address_of_an_allowed_name_is_allowed() -> None:
    d = check_address(ACL, "api.anthropic.com", ipaddress.ip_address("160.79.104.10"), 443)
    assert (d.verdict, d.rule_ids) == ("allow", ("egress.address.public",))
    d = check_address(ACL, "api.anthropic.com", ipaddress.ip_address("127.0.0.1"), 443)
    assert (d.verdict, d.rule_ids) == ("deny", ("egress.address.loopback",))
    assert "api.anthropic.com (127.0.0.1)" in d.reason
    d = check_address(ACL, "api.anthropic.com", ipaddress.ip_address("1.1.1.1"), 443)
    assert d.rule_ids == ("egress.doh",)
    d = check_address(ACL._replace(doh="allow"), "x.test", ipaddress.ip_address("1.1.1.1"), 443)
    assert d.rule_ids == ("egress.address.public",)
    d = check_address(ACL, "x.test", ipaddress.ip_address("::ffff:169.254.169.254"), 80)
    assert d.verdict == "allow"  # the exact metadata range of ACL covers the embedded address


def test_doh_allowed() -> None:
    acl = ACL._replace(doh="allow", allow=("*",))
    assert ids(acl, "dns.google") == ("allow", "egress.allowed")
    assert ids(acl, "dns.google", 853) == ("allow", "egress.allowed")
    assert ids(acl, "8.8.8.8") == ("allow", "egress.allowed")


def test_modes() -> None:
    report = ACL._replace(mode="report")
    d = check_host(report, "pastebin.com", 443)
    assert (d.verdict, d.enforced, d.would_verdict) == ("allow", False, "deny")
    assert d.reason.startswith("report mode, would deny")
    opened = ACL._replace(mode="open")
    d = check_host(opened, "evil.example", 443)
    assert (d.verdict, d.enforced, d.rule_ids) == ("allow", True, ("egress.not_allowed",))
    assert ids(opened, "pastebin.com") == ("deny", "egress.denied_host")
    assert ids(opened, "127.0.0.1") == ("deny", "egress.address.loopback")
    assert check_host(ACL, "api.anthropic.com", 443).policy_revision == "r1"


def test_host_matches() -> None:
    assert host_matches("*", "anything.example")
    assert host_matches("*.example.com", "a.b.example.com")
    assert not host_matches("*.example.com", "example.com")
    assert not host_matches("*.example.com", "badexample.com")
    assert host_matches("Example.COM.", "example.com")
    assert not host_matches("example.com", "a.example.com")


def test_normal_host() -> None:
    assert normal_host(" Example.COM. ") == "example.com"
    assert normal_host("bücher.example") == "xn--bcher-kva.example"
    assert normal_host("a b") == ""
    assert normal_host("-bad.example") == ""


@given(st.text(max_size=40))
def test_check_host_never_raises(host: str) -> None:
    assert check_host(ACL, host, 443).verdict in ("allow", "deny")


def test_hook_denial() -> None:
    assert hook_denial(ACL, "evil.example", 443, fetch=True) is None  # the allow list is the proxy's
    assert hook_denial(ACL, "169.254.169.254", 80, fetch=False) is None  # covered by an allowed range
    plain = EgressAcl()
    d = hook_denial(plain, "169.254.169.254", 80, fetch=False)
    assert d is not None and d.rule_ids == ("egress.metadata",)
    d = hook_denial(plain, "0xa9fea9fe", 80, fetch=False)
    assert d is not None and d.rule_ids == ("egress.metadata",)
    d = hook_denial(plain, "pastebin.com", 443, fetch=False)
    assert d is not None and d.rule_ids == ("egress.denied_host",)
    d = hook_denial(plain, "127.0.0.1", 80, fetch=True)
    assert d is not None and d.rule_ids == ("egress.address.loopback",)
    assert hook_denial(plain, "127.0.0.1", 8000, fetch=False) is None
    assert hook_denial(plain, "::1", 8000, fetch=False) is None
    d = hook_denial(plain, "0x7f.1", 80, fetch=False)
    assert d is not None and d.rule_ids == ("egress.disguised_address",)
    assert "disguised" in d.reason
    d = hook_denial(plain, "::ffff:127.0.0.1", 80, fetch=False)
    assert d is not None and d.rule_ids == ("egress.disguised_address",)
    assert hook_denial(plain, "localhost.", 80, fetch=False) is None
    d = hook_denial(plain, "localhost", 80, fetch=True)
    assert d is not None and d.rule_ids == ("egress.address.loopback",)


def test_tunnel_shapes() -> None:
    assert tunnel_shaped("www.example.com") == ""
    assert "label" in tunnel_shaped("a" * 45 + ".evil.example")
    assert "entropy" in tunnel_shaped("q8x2k9vz3mwp7rj4.evil.example")
    assert tunnel_shaped("aaaaaaaaaaaaaaaaaa.example", Anomalies(tunnel_label_length=63)) == ""
    assert entropy("") == 0.0
    assert entropy("ab") == 1.0
    assert zone_of("a.b.example.com.") == "example.com"
    assert zone_of("x.y.example.co.uk") == "example.co.uk"


def test_acl_from_settings() -> None:
    settings = EgressSettings(
        mode="report", allow=("pypi.org",), deny=("evil.example",), allow_ranges=("10.0.0.0/8",)
    )
    acl = acl_from_settings(settings, allow=("canary.test",), allow_ranges=("127.0.0.2/32",), revision="x")
    assert acl.allow == ("api.anthropic.com", "pypi.org", "canary.test")
    assert "evil.example" in acl.deny and "pastebin.com" in acl.deny
    assert acl.allow_ranges == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.2/32"))
    assert acl.mode == "report" and acl.revision == "x"
    assert acl.anomalies == Anomalies()
    assert acl.ports == (80, 443)
    assert acl_from_settings(settings._replace(ports=(443,)), ports=(22, 443)).ports == (443, 22)
    with pytest.raises(ValueError):
        acl_from_settings(settings, allow_ranges=("10.0.0.1/8",))


def test_check_port() -> None:
    acl = EgressAcl(ports=(80, 443), allow_ranges=(ipaddress.ip_network("10.9.0.0/16"),), revision="p")
    public, internal = ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.9.1.1")
    assert check_port(acl, "x.test", public, 443) is None
    assert check_port(acl, "x.test", internal, 5432) is None  # an allowed range: any port
    assert check_port(acl._replace(ports=()), "x.test", public, 25) is None  # no list: any port
    denied = check_port(acl, "x.test", public, 25)
    assert denied is not None and denied.verdict == "deny" and denied.rule_ids == ("egress.port",)
    assert "port 25 is not allowed (80, 443)" in denied.reason
    report = check_port(acl._replace(mode="report"), "x.test", public, 25)
    assert report is not None and report.verdict == "allow" and report.would_verdict == "deny"
    opened = check_port(acl._replace(mode="open"), "x.test", public, 25)
    assert opened is not None and opened.verdict == "allow"


def test_host_ports_give_one_host_one_more_port() -> None:
    """egress.host_ports: git over SSH to github.com (the default), not to every host; the name check
    still decides whether the host is reachable at all."""
    acl = acl_from_settings(EgressSettings(allow=("github.com", "other.test", "*.db.example")))
    public = ipaddress.ip_address("140.82.112.3")
    assert ("github.com", 22) in acl.host_ports
    assert check_port(acl, "github.com", public, 22) is None
    assert check_port(acl, "GitHub.com.", public, 22) is None
    for host, port in (("github.com", 2222), ("other.test", 22), ("api.github.com", 22)):
        denied = check_port(acl, host, public, port)
        assert denied is not None and denied.rule_ids == ("egress.port",), (host, port)
    assert check_host(acl, "gitlab.com", 22).rule_ids == ("egress.not_allowed",)  # listed, not allowed
    own = acl_from_settings(EgressSettings(host_ports=("*.db.example:5432",)))
    assert check_port(own, "a.db.example", public, 5432) is None
    assert check_port(own, "db.example", public, 5432) is not None  # subdomains only
    assert check_port(own, "github.com", public, 22) is not None  # a file's list replaces the default


_LABEL = st.sampled_from(["a", "b", "example", "com", "x-y", "A"])


@given(
    st.lists(
        st.builds(
            lambda star, labels: ("*." if star else "") + ".".join(labels),
            st.booleans(),
            st.lists(_LABEL, min_size=1, max_size=3),
        )
        | st.just("*"),
        max_size=6,
    ),
    st.lists(_LABEL, min_size=1, max_size=4).map(".".join),
)
def test_first_match_agrees_with_host_matches(patterns: list[str], host: str) -> None:
    from ramparts.egress.acl import first_match

    found = first_match(tuple(patterns), host)
    assert bool(found) == any(host_matches(p, host) for p in patterns)
    assert not found or host_matches(found, host)

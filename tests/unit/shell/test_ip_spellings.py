"""Hosts written as IP addresses in any inet_aton or IPv6 spelling are named by the shell analysis as
the address they reach, so network rules and the egress classes match them (issue 13).

The spellings are the egress proxy's own SSRF table (one table, not a second one)."""

from __future__ import annotations

import pytest

from ramparts.egress.classify import classify, parse_address
from ramparts.shell import analyze
from ramparts.shell.analyze import ip_spelling
from tests.unit.egress.test_proxy_ssrf import SPELLINGS


def _kind(host: str) -> str:
    address = parse_address(host)
    return classify(address).kind if address is not None else "name"


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize(
    "form", ["curl -s http://{h}/x", "curl -s http://{h}:8080/", "wget -q -O- http://u@{h}/"]
)
def test_url_hosts_are_named_as_the_address_they_reach(spelling: str, form: str) -> None:
    hosts = analyze(form.format(h=spelling)).hosts
    assert hosts
    assert _kind(hosts[0]) == _kind(spelling)
    if _kind(spelling) != "name":  # the canonical address first, then the spelling if it differs
        assert str(parse_address(hosts[0])) == hosts[0] or hosts[0] == str(parse_address(spelling))


@pytest.mark.parametrize("spelling", [s for s in SPELLINGS if not s.startswith("[") and _kind(s) != "name"])
def test_bare_numeric_hosts_are_hosts(spelling: str) -> None:
    """`curl 2130706433` has no scheme and no dot: curl still takes it for a host."""
    hosts = analyze(f"curl {spelling}").hosts
    assert hosts
    assert _kind(hosts[0]) == _kind(spelling) != "public"


def test_mapped_ipv6_is_named_as_ipv4() -> None:
    assert analyze("curl http://[::ffff:127.0.0.1]/").hosts == ("127.0.0.1", "::ffff:127.0.0.1")
    assert analyze("curl http://[::ffff:7f00:1]/").hosts == ("127.0.0.1", "::ffff:7f00:1")
    assert analyze("curl 2130706433").hosts == ("127.0.0.1", "2130706433")
    assert analyze("curl 0251.0376.0251.0376").hosts == ("169.254.169.254", "0251.0376.0251.0376")
    assert analyze("curl http://127.0.0.1/").hosts == ("127.0.0.1",)


def test_numeric_option_values_are_not_hosts() -> None:
    assert analyze("curl -m 10 --retry 3 https://example.com").hosts == ("example.com",)
    assert analyze("wget -T 5 -t 2 example.com").hosts == ("example.com",)


@pytest.mark.parametrize("name", ["example.com", "deadbeef", "cafe.example", ""])
def test_names_are_not_addresses(name: str) -> None:
    assert ip_spelling(name) == ""


def test_engine_denies_loopback_spelling_even_where_curl_is_allowed(tmp_path: object) -> None:
    from ramparts.agents.claude_code.normalize import tool_call
    from ramparts.controls import egress_hits
    from ramparts.explain import explain_input
    from ramparts.policy.load import load_policy

    base = load_policy("profile:baseline")
    for command in (
        "curl 2130706433",
        "curl 0x7f000001",
        "curl 017700000001",
        "curl http://[::ffff:127.0.0.1]/",
    ):
        call = tool_call("Bash", {"command": command}, cwd=str(tmp_path), home=str(tmp_path))
        hits = egress_hits(base, call)
        assert hits and all(h.list == "deny" for h in hits), command
        assert explain_input(base, "Bash", {"command": command}, str(tmp_path)).verdict == "deny"

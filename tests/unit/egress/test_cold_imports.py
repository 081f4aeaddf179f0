"""The hook's egress check of a host name imports no ``ipaddress`` (issue 21); an address still does.

``ipaddress`` costs a cold hook some 20 M instructions; a WebFetch or a ``curl`` to a named host needs
none of it. The address classes moved to ``ramparts.egress._classes`` unchanged; these tests check that
the split keeps every name reachable where it was and that a literal address is still classified.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ramparts
from ramparts.egress import _classes, classify

SRC = str(Path(ramparts.__file__).resolve().parent.parent)

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ramparts.egress.acl import EgressAcl, hook_denial
acl = EgressAcl()
out = {}
for host in sys.argv[2:]:
    found = hook_denial(acl, host, 443, fetch=True)
    out[host] = [None if found is None else found.rule_ids[0], "ipaddress" in sys.modules]
print(json.dumps(out))
"""


def _hook_denials(*hosts: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, SRC, *hosts], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_host_name_is_checked_without_ipaddress() -> None:
    out = _hook_denials("docs.python.org", "metadata.google.internal", "evil.trycloudflare.com", "0x7f.1")
    assert out["docs.python.org"] == [None, False]
    assert out["metadata.google.internal"] == ["egress.metadata", False]
    assert out["evil.trycloudflare.com"][1] is False and out["evil.trycloudflare.com"][0] is not None
    # an address in a disguised spelling is still parsed and classified (then ipaddress is loaded)
    assert out["0x7f.1"] == ["egress.address.loopback", True]


def test_localhost_and_literals_are_classified_as_before() -> None:
    out = _hook_denials("localhost", "169.254.169.254", "[::ffff:127.0.0.1]", "2130706433")
    assert out["localhost"][0] == "egress.address.loopback"
    assert out["169.254.169.254"][0] == "egress.metadata"
    assert out["[::ffff:127.0.0.1]"][0] == "egress.address.loopback"
    assert out["2130706433"][0] == "egress.address.loopback"


def test_the_address_tables_are_still_classify_s_names() -> None:
    assert classify.METADATA is _classes.METADATA and classify.DNS_RESOLVERS is _classes.DNS_RESOLVERS
    assert classify.IPAddress == _classes.IPAddress and classify.IPNetwork == _classes.IPNetwork
    assert classify.embedded_ipv4 is not None and classify.classify is not _classes.classify
    with pytest.raises(AttributeError, match="NOT_A_NAME"):
        classify.NOT_A_NAME  # noqa: B018

"""The real claude CLI's sandbox (bubblewrap + socat) handing Bash's network to ``ramparts egress``.

Claude Code runs each Bash command in bwrap with ``--unshare-net``; with ``sandbox.network.httpProxyPort``
and ``socksProxyPort`` (written by ``egress.exports.sandbox_settings``, as ``ramparts compile`` does) the
only way out is our proxy. A SessionStart hook mints the session's proxy credential into ``$CLAUDE_ENV_FILE``, so every request
is tied to the session. The scripted model runs these commands: curl to an allowed origin (its body
comes back), curl to a denied host (the proxy's reason comes back), and a program that ignores the proxy
variables (no route out).
"""

from __future__ import annotations

import functools
import http.server
import ipaddress
import json
import shlex
import shutil
import sys
import threading
from pathlib import Path

import pytest

from ramparts.egress.acl import EgressAcl
from ramparts.egress.exports import sandbox_settings
from ramparts.egress.proxy import ProxyConfig
from ramparts.policy.types import EgressSettings
from ramparts.testing import ScriptedModelServer, ToolUse, run_claude
from tests.unit.egress.harness import running

SRC = str(Path(__file__).resolve().parents[2] / "src")

pytestmark = [
    pytest.mark.xdist_group("claude-sandbox"),  # see test_compiled_sandbox: one sandboxed CLI at a time
    pytest.mark.integration,
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        shutil.which("bwrap") is None or shutil.which("socat") is None,
        reason="the sandbox needs bubblewrap and socat (make deps installs them)",
    ),
]


# the sandbox's NO_PROXY lists 169.254.0.0/16 (and the private ranges): plain curl would go direct and
# find no route; --noproxy '' sends it through the proxy, which must refuse it
META = "curl -s -m 10 --noproxy '' http://169.254.169.254/latest/ || curl -s -m 5 http://169.254.169.254/"


def test_sandboxed_bash_reaches_only_what_the_proxy_allows(
    claude_bin: Path, tmp_path: Path, short_home: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ok.txt").write_text("ALLOWED-ORIGIN-MARKER-9051\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    origin = http.server.ThreadingHTTPServer(("127.0.0.2", 0), handler)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    port = origin.server_address[1]
    acl = EgressAcl(allow=("origin.test",), allow_ranges=(ipaddress.ip_network("127.0.0.2/32"),))
    resolve = {"origin.test": ["127.0.0.2"], "evil.test": ["127.0.0.2"]}
    project = tmp_path / "project"
    project.mkdir()
    home = short_home
    try:
        state = tmp_path / "state"
        # the SessionStart hook `ramparts compile` adds: this session's credential into $CLAUDE_ENV_FILE
        # (spelled out here so the hook runs this worktree's code: compile's command runs python -I)
        mint = f"PYTHONPATH={shlex.quote(SRC)} {shlex.quote(sys.executable)} -m ramparts egress credential --hook"
        mint += f" --state-dir {shlex.quote(str(state))}"
        with running(ProxyConfig(acl=acl, state_dir=str(state), auth=True), resolve=resolve) as proxy:
            settings = {
                "sandbox": {
                    **sandbox_settings(EgressSettings(allow=("origin.test",)), port=proxy.address[1]),
                    "autoAllowBashIfSandboxed": True,
                },
                "permissions": {"allow": ["Bash"]},
                "hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": mint}]}]},
            }
            path = tmp_path / "settings.json"
            path.write_text(json.dumps(settings))
            direct = (
                "python3 -c \"import socket; socket.create_connection(('93.184.216.34', 80), timeout=3); "
                "print('DIRECT-CONNECTED')\""
            )
            scenario = [
                ToolUse(
                    "Bash", {"command": f"curl -s -m 10 http://origin.test:{port}/ok.txt", "description": "d"}
                ),
                ToolUse(
                    "Bash", {"command": f"curl -s -m 10 http://evil.test:{port}/ok.txt", "description": "d"}
                ),
                ToolUse("Bash", {"command": META, "description": "d"}),
                ToolUse("Bash", {"command": direct, "description": "d"}),
                ToolUse("Bash", {"command": "env | grep -i _proxy | sort", "description": "d"}),
                "finished",
            ]
            with ScriptedModelServer(scenario) as server:
                run = run_claude(
                    "go", claude_bin=claude_bin, cwd=project, home=home, base_url=server.url, settings=path
                )
            assert run.returncode == 0, run.stderr
            allowed, denied, metadata, raw, env = (server.tool_result(i) for i in range(5))
            records = list(proxy.records)
    finally:
        origin.shutdown()
        origin.server_close()
    assert allowed is not None and "ALLOWED-ORIGIN-MARKER-9051" in allowed.content, allowed
    assert (
        denied is not None and "ramparts egress: evil.test is not in the egress allow list" in denied.content
    )
    assert "ALLOWED-ORIGIN-MARKER" not in denied.content
    assert metadata is not None and "169.254.169.254 is a metadata address" in metadata.content, metadata
    assert env is not None and f"CLAUDE_CODE_HOST_HTTP_PROXY_PORT={proxy.address[1]}" in env.content
    assert raw is not None and "DIRECT-CONNECTED" not in raw.content
    assert "unreachable" in raw.content.lower() or "error" in raw.content.lower(), raw.content
    decided = [(r["decision"], r["rule_ids"][0]) for r in records if r["event"] == "EgressRequest"]
    assert ("allow", "egress.allowed") in decided
    assert ("deny", "egress.not_allowed") in decided
    assert ("deny", "egress.metadata") in decided
    # every proxied request carried the session's credential: tied to the claude session and its user
    sessions = {r.get("session") for r in records if r["event"] == "EgressRequest"}
    assert len(sessions) == 1 and sessions != {None} and sessions != {""}
    assert all(
        r["egress"].get("client", "").startswith("rp") for r in records if r["event"] == "EgressRequest"
    )

"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against a real server:

* an admin signs in, sees the live session a hook call created, kills it with a confirmation, and the
  next tool call of that session (the real ``ramparts hook`` on its host) is denied;
* a viewer sees no kill button, and the kill endpoint refuses a viewer (403);
* a wrong password fails, and after five failures the rate limit engages.

Screenshots of each page go to ``$RAMPARTS_ARTIFACTS/dashboard`` (else the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.server.store import ServerStore
from tests.integration.test_control_plane import Host, _env, _free_port, _ramparts

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ADMIN_PASSWORD = "correct horse battery staple"
VIEWER_PASSWORD = "viewer password 2026"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing under CI (make test installs it)")
        pytest.skip("no chromium to drive")
    state = tmp_path / "server"
    db = str(state / "server.db")
    with ServerStore(db) as store:
        host_token = store.create_token("host", "host-a")[1]
    for name, role, password in (("alice", "admin", ADMIN_PASSWORD), ("victor", "viewer", VIEWER_PASSWORD)):
        subprocess.run(
            _ramparts(
                "server", "user", "add", name, "--role", role, "--password-stdin", "--state-dir", str(state)
            ),
            input=password.encode() + b"\n",
            env=_env(),
            check=True,
            capture_output=True,
            timeout=60,
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        _ramparts("server", "--listen", f"127.0.0.1:{port}", "--state-dir", str(state)),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    policy = tmp_path / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\nhook: {deadline_ms: 30000, timeout: 40}\n"
        "server:\n  cache_seconds: 1\n  approvals: remote\n  approval_timeout_seconds: 25\n"
    )
    host = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        host = Host(tmp_path, "a", url, host_token, policy)
        host.wait_ready()
        artifacts = Path(os.environ.get("RAMPARTS_ARTIFACTS") or tmp_path) / "dashboard"
        artifacts.mkdir(parents=True, exist_ok=True)
        yield {"url": url, "host": host, "state": state, "artifacts": artifacts}
    finally:
        if host is not None:
            host.stop()
        server.terminate()
        try:
            server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def _sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/ui/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_kills_a_live_session_viewer_cannot_and_sign_in_is_limited(stack: dict[str, Any]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, host, shots = stack["url"], stack["host"], stack["artifacts"]
    session = f"live-{os.urandom(3).hex()}"
    assert host.call(session)["decision"] == "allow"  # a live session, shipped by the host's agent

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            admin = browser.new_context()
            page = admin.new_page()
            page.goto(f"{url}/ui/")
            expect(
                page.get_by_role("heading", name="Sign in")
            ).to_be_visible()  # not signed in: sent to sign in
            page.screenshot(path=str(shots / "sign-in.png"))
            _sign_in(page, url, "alice", ADMIN_PASSWORD)
            row = page.get_by_role("row").filter(has_text=session)
            deadline = time.monotonic() + 20
            while row.count() == 0:  # the agent ships within a second or so
                assert time.monotonic() < deadline, "the session never appeared"
                time.sleep(0.5)
                page.reload()
            expect(row).to_contain_text("live")
            page.screenshot(path=str(shots / "sessions.png"))

            # a new session appears without a reload (server-sent events)
            fresh = f"fresh-{os.urandom(3).hex()}"
            assert host.call(fresh, user="dev-fresh")["decision"] == "allow"
            expect(page.get_by_role("row").filter(has_text=fresh)).to_be_visible(timeout=20_000)

            # its timeline
            page.get_by_role("link", name=session).click()
            expect(page.get_by_role("heading", name=f"Session {session}")).to_be_visible()
            expect(page.get_by_role("row").filter(has_text="PreToolUse")).to_contain_text("Glob")
            page.screenshot(path=str(shots / "timeline.png"))

            # an ask answered in the dashboard: the hook waits for it (server.approvals: remote)
            import threading

            asked: dict[str, Any] = {}
            make = {"command": "make build", "description": "d"}
            thread = threading.Thread(
                target=lambda: asked.update(host.call("ask-1", user="dev-ask", tool="Bash", tool_input=make))
            )
            thread.start()
            page.goto(f"{url}/ui/approvals")
            button = page.get_by_role("button", name="Allow Bash in session ask-1")
            deadline = time.monotonic() + 20
            while button.count() == 0:
                assert time.monotonic() < deadline, "the request never appeared"
                time.sleep(0.3)
                page.reload()
            page.screenshot(path=str(shots / "approvals.png"))
            button.click()
            thread.join(timeout=30)
            assert asked["decision"] == "allow" and "approved by alice (dashboard)" in asked["reason"], asked

            page.goto(f"{url}/ui/fleet")
            expect(page.get_by_role("row").filter(has_text="host-a")).to_contain_text("ok")
            page.screenshot(path=str(shots / "fleet.png"))

            # the policy, and a call tried against it on the server
            page.goto(f"{url}/ui/policy")
            page.get_by_label("Tool").fill("Bash")
            page.get_by_label("Argument").fill("git push --force origin main")
            page.get_by_role("button", name="Explain").click()
            expect(page.get_by_label("Explanation")).to_contain_text("decision: DENY")
            page.screenshot(path=str(shots / "policy.png"))

            page.goto(f"{url}/ui/")
            row = page.get_by_role("row").filter(has_text=session)
            page.get_by_role("button", name=f"Kill session {session}").click()
            expect(page.get_by_role("heading", name=f"Kill session {session}?")).to_be_visible()
            page.screenshot(path=str(shots / "confirm-kill.png"))
            page.get_by_role("button", name="Confirm").click()
            expect(page.get_by_role("status")).to_contain_text(f"Killed session {session}")
            expect(page.get_by_role("row").filter(has_text=session)).to_contain_text("killed")

            # the session's next tool call, on its host, is denied
            given = time.monotonic()
            while (answer := host.call(session))["decision"] != "deny":
                assert time.monotonic() - given < 10, answer
            assert "stopped from the dashboard" in answer["reason"]

            page.goto(f"{url}/ui/alerts")
            expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
            page.screenshot(path=str(shots / "alerts.png"))

            # a viewer sees the session and no kill button; the endpoint refuses the viewer
            viewer = browser.new_context()
            vpage = viewer.new_page()
            _sign_in(vpage, url, "victor", VIEWER_PASSWORD)
            expect(vpage.get_by_role("row").filter(has_text=session)).to_be_visible()
            expect(vpage.get_by_role("button", name="Kill session", exact=False)).to_have_count(0)
            refused = viewer.request.post(
                f"{url}/ui/sessions/{session}/kill", form={"csrf": "x", "reason": "r"}
            )
            assert refused.status == 403
            vpage.screenshot(path=str(shots / "sessions-viewer.png"))

            # wrong passwords fail; the sixth attempt is refused by the rate limit
            other = browser.new_context().new_page()
            for _ in range(5):
                _sign_in(other, url, "alice", "wrong password!!")
                expect(other.get_by_role("alert")).to_have_text("Wrong user name or password.")
            _sign_in(other, url, "alice", ADMIN_PASSWORD)
            expect(other.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
            other.screenshot(path=str(shots / "sign-in-limited.png"))
        finally:
            browser.close()

    # every sign-in and the kill are in the control plane's own audit log
    from ramparts.audit.store import AuditStore

    with AuditStore(stack["state"] / "server-audit.db") as log:
        records = [r.data() for r in log.records()]
        assert log.verify()[1] == []
    kills = [r for r in records if r["event"] == "DashboardAction"]
    assert [(r["user"], r["admin"]["action"], r["session"]) for r in kills] == [
        ("alice", "approval", "ask-1"),
        ("alice", "kill", session),
    ]
    logins = [(r["user"], r["decision"]) for r in records if r["event"] == "DashboardLogin"]
    assert (
        ("alice", "allow") in logins
        and ("victor", "allow") in logins
        and logins.count(("alice", "deny")) == 6
    )

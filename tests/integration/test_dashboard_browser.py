"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright's sync API,
against a real ``ramparts server`` whose host runs the real ``ramparts hook`` command and ``ramparts agent``.

* an admin signs in, sees a session appear live (no reload) when a hook call reports, opens its timeline,
  kills it behind a confirmation, and the session's next tool call is denied; the kill is an audit record;
* a viewer has no Kill button, sees inputs hidden, and the kill endpoint answers 403;
* a wrong password fails, and the sign-in rate limit engages (run last: it limits 127.0.0.1 for a minute).

A screenshot of each page goes to ``.artefacts/dashboard/`` (ignored by git).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ramparts.server.store import ServerStore
from tests.integration.test_control_plane import Host, _env, _free_port, _ramparts

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

# one worker runs the module in order: the rate-limit test comes last (it locks 127.0.0.1 out for a minute)
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300), pytest.mark.xdist_group("dashboard-browser")]

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[2] / ".artefacts" / "dashboard"
ADMIN_PASSWORD = "admin password " + uuid.uuid4().hex[:8]
VIEWER_PASSWORD = "viewer password " + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's chromium (never a downloaded browser), started by Playwright for this module and closed
    with it: Playwright's sync API keeps an event loop running in this thread while it is open, which
    would break every asyncio test after it in the same worker."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing under CI (make deps installs it)")
        pytest.skip("no /usr/bin/chromium")
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def _shot(page: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("dash")
    state = tmp / "server"
    db = str(state / "server.db")
    with ServerStore(db) as store:
        host_token = store.create_token("host", "host-a")[1]
        admin_token = store.create_token("admin", "security-team")[1]
    for name, role, password in (("ada", "admin", ADMIN_PASSWORD), ("vic", "viewer", VIEWER_PASSWORD)):
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
    policy = tmp / "ramparts.yaml"
    policy.write_text(
        "version: 1\nextends: baseline\nhook: {deadline_ms: 30000, timeout: 40}\nserver:\n  cache_seconds: 1\n"
        "  unreachable: fail_closed\n  approvals: remote\n  approval_timeout_seconds: 25\n"
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    errors = (tmp / "server.err").open("wb")
    server = subprocess.Popen(
        _ramparts(
            "server", "--listen", f"127.0.0.1:{port}", "--state-dir", str(state), "--policy", str(policy)
        ),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    host = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    break
            except OSError:
                assert server.poll() is None, (tmp / "server.err").read_text()
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.2)
        host = Host(tmp, "a", url, host_token, policy)
        host.wait_ready()
        yield {
            "url": url,
            "host": host,
            "state": state,
            "db": db,
            "admin_token": admin_token,
            "host_token": host_token,
        }
    finally:
        if host is not None:
            host.stop()
        server.terminate()
        try:
            server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
        errors.close()
        print((tmp / "server.err").read_text()[-3000:])


def _sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Live sessions")).to_be_visible()


def test_admin_sees_a_live_session_and_kills_it(plane: dict[str, Any], page: Any) -> None:
    url, host = plane["url"], plane["host"]
    session = f"browser-{uuid.uuid4().hex[:8]}"
    _shot_login(page, url)
    _sign_in(page, url, "ada", ADMIN_PASSWORD)
    # an admin's POST without the session's CSRF token is refused (and nothing is killed)
    forged = page.request.post(
        f"{url}/ui/sessions/{session}/kill", form={"csrf": "forged", "reason": "x"}, fail_on_status_code=False
    )
    assert forged.status == 403
    # the page is open before the session exists: the row arrives through the live stream
    assert host.call(session)["decision"] == "allow"
    link = page.get_by_role("link", name=session)
    expect(link).to_be_visible(timeout=20_000)
    row = page.locator("tr", has=link)
    expect(row).to_contain_text("dev-a")
    expect(row).to_contain_text("project")  # the repository (the hook's working directory)
    expect(row).to_contain_text("live")
    expect(row).to_contain_text("allow Glob")
    expect(row.get_by_role("button", name=f"Kill session {session}")).to_be_visible()
    _shot(page, "sessions")

    link.click()
    expect(page.get_by_role("heading", name=f"Session {session}")).to_be_visible()
    expect(page.get_by_role("cell", name="Glob", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="allow:Glob", exact=True)).to_be_visible()  # the rule
    expect(page.get_by_role("img", name=re.compile("Tool calls per"))).to_be_visible()
    _shot(page, "timeline")
    page.get_by_role("button", name="Kill").click()
    expect(page.get_by_role("heading", name="Confirm")).to_be_visible()
    page.get_by_label("Reason").fill("incident 5150 from the browser")
    _shot(page, "confirm")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name=f"Session {session}")).to_be_visible()
    expect(page.locator("#session-state")).to_have_text("killed")
    expect(page.get_by_text("incident 5150 from the browser")).to_be_visible()

    # the session's next tool call is denied by the central kill switch
    deadline = time.monotonic() + 15
    while (answer := host.call(session))["decision"] != "deny":
        assert time.monotonic() < deadline, answer
        time.sleep(0.3)
    assert "incident 5150 from the browser" in answer["reason"]

    # an ask answered in the dashboard while the hook waits for it (server.approvals: remote)
    asked: dict[str, Any] = {}
    make = {"command": "make build", "description": "build"}
    waiting = threading.Thread(
        target=lambda: asked.update(host.call("ask-1", user="dev-ask", tool="Bash", tool_input=make))
    )
    waiting.start()
    page.get_by_role("link", name="Approvals").click()
    allow = page.get_by_role("button", name="Allow Bash in session ask-1")
    deadline = time.monotonic() + 20
    while allow.count() == 0:
        assert time.monotonic() < deadline, "the request never appeared"
        time.sleep(0.3)
        page.reload()
    _shot(page, "approvals")
    allow.click()
    waiting.join(timeout=40)
    assert asked["decision"] == "allow" and "ada (dashboard)" in asked["reason"], asked
    expect(page.get_by_role("cell", name="ada (dashboard)")).to_be_visible()

    # the other pages
    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    _shot(page, "alerts")
    page.get_by_role("link", name="Fleet").click()
    expect(page.get_by_role("cell", name="host-a")).to_be_visible()
    _shot(page, "fleet")
    page.get_by_role("link", name="Policy").click()
    page.get_by_label("Tool").fill("Bash")
    page.get_by_label("Command or path").fill("rm -rf /")
    page.get_by_role("button", name="Explain").click()
    expect(page.get_by_role("heading", name=re.compile(r"Decision: (DENY|ASK)"))).to_be_visible()
    _shot(page, "policy")
    page.get_by_role("link", name="Plots").click()
    expect(page.get_by_role("img", name="Decisions per hour by outcome")).to_be_visible()
    _shot(page, "plots")
    page.get_by_role("button", name="Dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    _shot(page, "plots-dark")
    page.get_by_role("button", name="Dark theme").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{url}/ui/")  # the old cookie no longer opens anything
    expect(page).to_have_url(re.compile(r"/ui/login$"))

    # the kill is itself an audit record, in the dashboard's own log
    from ramparts.audit.record import from_json
    from ramparts.audit.store import AuditStore

    with AuditStore(plane["state"] / "server-audit.db") as log:
        actions = [from_json(r.data()) for r in log.records()]
        assert log.verify()[1] == []
    kills = [a for a in actions if a.admin is not None and a.admin.action == "kill"]
    assert [(a.user, a.session, a.event, a.surface) for a in kills] == [
        ("ada", session, "DashboardAction", "server")
    ]
    assert any(a.admin is not None and a.admin.action == "sign-in" and a.user == "ada" for a in actions)
    assert any(a.admin is not None and a.admin.action == "sign-out" and a.user == "ada" for a in actions)
    answers = [a for a in actions if a.admin is not None and a.admin.action == "approval"]
    assert [(a.user, a.admin.details["verdict"]) for a in answers if a.admin and a.admin.details] == [
        ("ada", "allow")
    ]


def _order_applied(page: Any, what: str) -> None:
    """Reload the timeline until the order's row reads applied (the host's agent polls every second)."""
    row = page.locator("#orders tr", has_text=what)
    deadline = time.monotonic() + 20
    while "applied" not in (row.first.inner_text() if row.count() else ""):
        assert time.monotonic() < deadline, page.locator("#orders").inner_text()
        time.sleep(0.5)
        page.reload()


def test_admin_grants_reauth_then_ends_the_session(plane: dict[str, Any], page: Any) -> None:
    """The timeline's "Grant re-auth" and "End session" buttons: each a confirmed order, pending until the
    host's agent applies it, then applied; the real hook then allows the sensitive call, and after the end
    denies every call with the reason. Both orders are dashboard audit records."""
    url, host = plane["url"], plane["host"]
    session = f"orders-{uuid.uuid4().hex[:8]}"
    user = "dev-orders"
    network = {"command": "git ls-remote http://example.com/repo.git", "description": "a step-up"}
    assert host.call(session, user=user)["decision"] == "allow"
    _sign_in(page, url, "ada", ADMIN_PASSWORD)
    page.goto(f"{url}/ui/sessions/{session}")
    expect(page.get_by_role("heading", name=f"Session {session}")).to_be_visible()

    page.get_by_role("button", name="Grant re-auth").click()
    expect(page.get_by_role("heading", name="Confirm")).to_be_visible()
    page.get_by_label("Minutes").fill("10")
    page.get_by_label("Reason").fill("on call confirmed by phone")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name=f"Session {session}")).to_be_visible()
    expect(page.locator("#orders")).to_contain_text("Grant re-auth (10 min)")
    _order_applied(page, "Grant re-auth")
    expect(page.locator("#orders")).to_contain_text("granted for 10 minute(s)")
    answer = host.call(session, user=user, tool="Bash", tool_input=network)
    assert answer["decision"] == "allow", answer  # without the grant: a step-up ask

    page.get_by_role("button", name="End session").click()
    page.get_by_label("Reason").fill("incident 77: contained")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#orders")).to_contain_text("pending")
    _shot(page, "timeline-orders-pending")
    _order_applied(page, "End")
    expect(page.locator("#session-state")).to_have_text("ended")
    expect(page.get_by_role("button", name="End session")).to_have_count(0)  # nothing left to end
    expect(page.locator(".facts")).to_contain_text(user)  # the host's records are the session user's
    _shot(page, "timeline-orders")
    answer = host.call(session, user=user)
    assert answer["decision"] == "deny" and "incident 77: contained" in answer["reason"], answer

    from ramparts.audit.record import from_json
    from ramparts.audit.store import AuditStore

    with AuditStore(plane["state"] / "server-audit.db") as log:
        actions = [from_json(r.data()) for r in log.records()]
    given = [
        (a.admin.action, a.session)
        for a in actions
        if a.admin is not None and a.admin.action in ("end", "reauth")
    ]
    assert given == [("reauth", session), ("end", session)]
    with ServerStore(plane["db"]) as store:
        assert [(o.kind, o.state) for o in store.session_orders(session=session)] == [
            ("reauth", "applied"),
            ("end", "applied"),
        ]
    # a viewer can neither see the buttons nor give an order
    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, url, "vic", VIEWER_PASSWORD)
    page.goto(f"{url}/ui/sessions/{session}")
    expect(page.get_by_role("button", name="End session")).to_have_count(0)
    expect(page.get_by_role("button", name="Grant re-auth")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    for action in ("end", "reauth"):
        refused = page.request.post(
            f"{url}/ui/sessions/{session}/{action}", form={"csrf": csrf}, fail_on_status_code=False
        )
        assert refused.status == 403
    page.get_by_role("button", name="Sign out").click()


def _shot_login(page: Any, url: str) -> None:
    page.goto(f"{url}/ui/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    _shot(page, "login")


def test_viewer_cannot_kill(plane: dict[str, Any], page: Any) -> None:
    url, host = plane["url"], plane["host"]
    session = f"viewed-{uuid.uuid4().hex[:8]}"
    assert host.call(session, user="dev-viewed")["decision"] == "allow"
    _sign_in(page, url, "vic", VIEWER_PASSWORD)
    link = page.get_by_role("link", name=session)
    expect(link).to_be_visible(timeout=20_000)
    expect(page.get_by_role("button", name="Kill session", exact=False)).to_have_count(0)
    link.click()
    expect(page.get_by_role("heading", name=f"Session {session}")).to_be_visible()
    expect(page.get_by_role("button", name="Kill")).to_have_count(0)
    expect(page.get_by_text("hidden for viewers").first).to_be_visible()
    assert "*.py" not in page.content()  # the tool input is hidden from viewers
    _shot(page, "timeline-viewer")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(
        f"{url}/ui/sessions/{session}/kill",
        form={"csrf": csrf, "reason": "viewer tries"},
        fail_on_status_code=False,
    )
    assert answer.status == 403
    assert page.request.get(f"{url}/ui/sessions/{session}/confirm?action=kill").status == 403
    with ServerStore(plane["db"]) as store:
        assert not [o for o in store.kills() if o.target == session]
    assert host.call(session, user="dev-viewed")["decision"] == "allow"


def test_ramparts_watch_shows_the_live_sessions(plane: dict[str, Any]) -> None:
    from ramparts.server.client import Client, ServerError

    session = f"watched-{uuid.uuid4().hex[:8]}"
    assert plane["host"].call(session, user="dev-watched")["decision"] == "allow"
    api = Client(plane["url"], plane["admin_token"])
    deadline = time.monotonic() + 20
    while not [r for r in api.request("GET", "/v1/sessions")["sessions"] if r["session"] == session]:
        assert time.monotonic() < deadline, "the session never reached the server"
        time.sleep(0.3)
    with pytest.raises(ServerError) as info:
        Client(plane["url"], plane["host_token"]).request("GET", "/v1/sessions")
    assert info.value.status == 403
    env = _env(RAMPARTS_SERVER=plane["url"], RAMPARTS_SERVER_TOKEN=plane["admin_token"], COLUMNS="220")
    for extra in ([], ["--db", plane["db"]]):
        out = subprocess.run(
            _ramparts("watch", "--once", "--state-dir", str(plane["state"]), *extra),
            env=env,
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout.decode()
        line = next(x for x in out.splitlines() if session in x)
        assert "dev-watched" in line and "live" in line and "allow Glob" in line, out


def test_single_sign_on_through_an_oidc_provider(tmp_path: Path, page: Any) -> None:
    """SSO in the browser: a real OpenID provider (its own process), a server started with --oidc. The
    admin-group person lands on the live sessions as an admin; a person with no dashboard group is
    refused; the callback cannot be replayed; each attempt is a DashboardAction record."""
    from ramparts.audit.record import from_json
    from ramparts.audit.store import AuditStore
    from ramparts.testing.oidc import oidc_provider

    people = [
        {"sub": "olga", "groups": ["ramparts-admins"], "preferred_username": "olga"},
        {"sub": "nora", "groups": ["finance"]},
    ]
    with oidc_provider(people) as issuer:
        config = tmp_path / "oidc.yaml"
        config.write_text(
            f"issuer: {issuer}\nclient_id: ramparts-dashboard\nclient_secret_env: TEST_OIDC_SECRET\n"
            "roles_claim: groups\nadmin_values: [ramparts-admins]\nviewer_values: [ramparts-viewers]\n"
        )
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        state = tmp_path / "server"
        server = subprocess.Popen(
            _ramparts(
                "server", "--listen", f"127.0.0.1:{port}", "--state-dir", str(state), "--oidc", str(config)
            ),
            env=_env(TEST_OIDC_SECRET="a client secret for the test"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                        break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline, "the server did not come up"
                    time.sleep(0.2)
            callbacks: list[str] = []
            page.on("request", lambda r: callbacks.append(r.url) if "/ui/oidc/callback" in r.url else None)
            page.goto(f"{url}/ui/login")
            page.get_by_role("link", name="Sign in with SSO").click()
            expect(page).to_have_url(
                re.compile(re.escape(issuer) + r"/oauth2/authorize\?.*code_challenge_method=S256")
            )
            page.get_by_role("button", name="olga").click()
            expect(page.get_by_role("heading", name="Live sessions")).to_be_visible()
            expect(page.get_by_text("sso:olga (admin)")).to_be_visible()
            _shot(page, "sso-signed-in")
            page.get_by_role("button", name="Sign out").click()

            page.goto(callbacks[0])  # the same state again: used up
            expect(page.get_by_role("alert")).to_contain_text("unknown or already used sign-in state")

            page.goto(f"{url}/ui/login")
            page.get_by_role("link", name="Sign in with SSO").click()
            page.get_by_role("button", name="nora").click()
            expect(page.get_by_role("alert")).to_contain_text("names no dashboard role")
            page.goto(f"{url}/ui/")
            expect(page).to_have_url(re.compile(r"/ui/login$"))  # no session came of it
        finally:
            server.terminate()
            _, err = server.communicate(timeout=15)
        assert b"Traceback" not in err, err.decode(errors="replace")[-3000:]
    with AuditStore(state / "server-audit.db") as log:
        signs = [from_json(r.data()) for r in log.records()]
    attempts = [
        (a.decision, a.user, (a.admin.details or {}).get("method"))
        for a in signs
        if a.admin is not None and a.admin.action == "sign-in"
    ]
    assert attempts == [("allow", "sso:olga", "oidc"), ("deny", "", "oidc"), ("deny", "", "oidc")]


def test_wrong_password_and_rate_limit(plane: dict[str, Any], page: Any) -> None:
    url = plane["url"]
    page.goto(f"{url}/ui/login")
    for _ in range(5):
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    _shot(page, "login-failed")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)  # even the right password waits now
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-ins")
    expect(page.get_by_role("heading", name="Live sessions")).to_have_count(0)

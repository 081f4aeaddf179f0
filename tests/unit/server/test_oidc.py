"""The dashboard's OpenID Connect sign-in against a real provider (oidc-provider-mock, on loopback): the
code flow with PKCE and nonce end to end, the role from the claim, and every refusal (no role, replayed
state, another browser, a forged or foreign token, a provider error, a bad configuration)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ramparts.server.dashboard.oidc import Oidc, OidcConfig, OidcError, load_oidc, parse_oidc
from ramparts.server.dashboard.users import Users
from ramparts.server.store import ServerStore
from ramparts.testing.oidc import oidc_provider

REDIRECT = "http://127.0.0.1:9/ui/oidc/callback"


SECRET_ENV = "RAMPARTS_TEST_OIDC_SECRET"


@pytest.fixture(autouse=True)
def client_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """A confidential client (the provider takes any secret from an unregistered client)."""
    monkeypatch.setenv(SECRET_ENV, "test-client-secret")


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    people = [
        {"sub": "olga", "groups": ["ramparts-admins"], "preferred_username": "olga"},
        {"sub": "vera", "groups": "ramparts-viewers", "email": "vera@example.com"},
        {"sub": "nora", "groups": ["finance"]},
    ]
    with oidc_provider(people) as url:
        yield url


def _config(issuer: str, **changes: Any) -> OidcConfig:
    return OidcConfig(
        issuer=issuer,
        client_id="ramparts-dashboard",
        client_secret_env=SECRET_ENV,
        admin_values=("ramparts-admins",),
        viewer_values=("ramparts-viewers",),
    )._replace(**changes)


def _authorize(url: str, sub: str) -> dict[str, str]:
    """What a person does at the provider: pick the user; the callback's query parameters."""
    answer = requests.post(url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_code_flow_with_pkce_gives_the_claimed_role(issuer: str, server: ServerStore) -> None:
    oidc = Oidc(_config(issuer), server)
    url, binding = oidc.start(REDIRECT)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["response_type"] == "code" and query["nonce"] and query["state"]
    assert "openid" in query["scope"].split()
    with server._tx(write=False) as tx:  # the verifier behind the challenge is kept server-side only
        row = tx.one("SELECT verifier FROM dashboard_oidc")
    assert row is not None
    challenge = base64.urlsafe_b64encode(hashlib.sha256(str(row[0]).encode()).digest()).rstrip(b"=").decode()
    assert challenge == query["code_challenge"] and str(row[0]) not in url

    flow = oidc.finish(_authorize(url, "olga"), binding)
    assert flow == ("sso:olga", "admin", "olga")
    url, binding = oidc.start(REDIRECT)
    assert oidc.finish(_authorize(url, "vera"), binding)[:2] == ("sso:vera@example.com", "viewer")

    users = Users(server)
    signed = users.sso_login(flow.name, flow.role)
    assert signed.user is not None and users.session(signed.session) == signed.user
    assert not users.login("sso:olga", "!sso", "127.0.0.1").ok  # no password opens an SSO person
    with pytest.raises(ValueError, match="sso:"):
        users.sso_login("olga", "admin")  # never a local name


def test_refusals(issuer: str, server: ServerStore) -> None:
    oidc = Oidc(_config(issuer), server)
    url, binding = oidc.start(REDIRECT)
    with pytest.raises(OidcError, match="names no dashboard role"):
        oidc.finish(_authorize(url, "nora"), binding)

    url, binding = oidc.start(REDIRECT)
    params = _authorize(url, "olga")
    with pytest.raises(OidcError, match="another browser"):
        oidc.finish(params, "not-the-binding")
    with pytest.raises(OidcError, match="unknown or already used"):
        oidc.finish(params, binding)  # the state was used up by the refused attempt

    url, binding = oidc.start(REDIRECT)
    params = _authorize(url, "olga")
    with pytest.raises(OidcError, match="took too long"):
        oidc.finish(params, binding, now=9e12)
    with pytest.raises(OidcError, match="no state or code"):
        oidc.finish({"state": "x"}, binding)
    with pytest.raises(OidcError, match="the provider refused: access_denied"):
        oidc.finish({"error": "access_denied"}, binding)

    url, binding = oidc.start(REDIRECT)
    params = _authorize(url, "olga")
    with pytest.raises(OidcError, match="code exchange failed"):
        oidc.finish({**params, "code": "forged"}, binding)


def test_a_forged_or_foreign_id_token_is_refused(issuer: str, server: ServerStore) -> None:
    oidc = Oidc(_config(issuer), server)
    meta = oidc.metadata()
    url, _ = oidc.start(REDIRECT)
    params = _authorize(url, "olga")
    nonce = parse_qs(urlsplit(url).query)["nonce"][0]
    token = oidc._client(REDIRECT).fetch_token(
        meta["token_endpoint"], code=params["code"], code_verifier="x" * 43, grant_type="authorization_code"
    )["id_token"]
    assert oidc._verify(token, nonce, meta, now=_now())["sub"] == "olga"
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(
        json.dumps({**claims, "groups": ["ramparts-admins"], "sub": "eve"}).encode()
    )
    with pytest.raises(OidcError, match="did not verify"):
        oidc._verify(f"{header}.{forged.rstrip(b'=').decode()}.{signature}", nonce, meta, now=_now())
    with pytest.raises(OidcError, match="did not verify"):
        oidc._verify(token, "another-nonce", meta, now=_now())
    other = Oidc(_config(issuer, client_id="someone-else"), server)
    with pytest.raises(OidcError, match="did not verify"):
        other._verify(token, nonce, meta, now=_now())  # minted for another client
    with pytest.raises(OidcError, match="did not verify"):
        oidc._verify(token, nonce, meta, now=_now() + 7 * 86400)  # expired


def _now() -> float:
    import time

    return time.time()


def test_an_unreachable_provider_refuses(server: ServerStore) -> None:
    gone = Oidc(_config("http://127.0.0.1:9"), server)
    with pytest.raises(OidcError, match="could not be read"):
        gone.start(REDIRECT)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a mapping"),
        (
            {"issuer": "https://x", "client_id": "c", "admin_values": ["a"], "extra": 1},
            "oidc.extra: unknown key",
        ),
        ({"client_id": "c", "admin_values": ["a"]}, "oidc.issuer: required"),
        ({"issuer": "ftp://x", "client_id": "c", "admin_values": ["a"]}, "http"),
        ({"issuer": "https://x", "client_id": "c"}, "admin_values or viewer_values"),
        ({"issuer": "https://x", "client_id": "c", "admin_values": [1]}, "oidc.admin_values"),
        ({"issuer": "https://x", "client_id": 5, "admin_values": ["a"]}, "oidc.client_id: must be a string"),
        ({"issuer": "https://x", "client_id": "c", "admin_values": ["a"], "scope": "email"}, "openid"),
    ],
)
def test_bad_configuration_names_the_key(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_oidc(data)


def test_load_oidc_reads_yaml(tmp_path: Path) -> None:
    path = tmp_path / "oidc.yaml"
    path.write_text("issuer: https://login.example.com\nclient_id: dash\nadmin_values: sec-team\n")
    assert load_oidc(str(path)).admin_values == ("sec-team",)
    with pytest.raises(ValueError, match=r"missing\.yaml"):
        load_oidc(str(tmp_path / "missing.yaml"))

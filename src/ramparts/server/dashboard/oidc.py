"""Dashboard sign-in through an OpenID Connect provider: the authorization code flow with PKCE (S256).

``ramparts server --oidc FILE`` (YAML or JSON)::

    issuer: https://login.example.com          # its /.well-known/openid-configuration is read
    client_id: ramparts-dashboard
    client_secret_env: RAMPARTS_OIDC_CLIENT_SECRET   # unset or empty: a public client (PKCE only)
    roles_claim: groups                        # a string or a list of strings in the ID token
    admin_values: [ramparts-admins]
    viewer_values: [ramparts-viewers]
    redirect_uri: https://cp.example.com/ui/oidc/callback   # default: this server's own URL

``/ui/oidc/start`` keeps ``state``, ``nonce``, the PKCE verifier and a browser binding (a cookie's hash)
in a short-lived row of the store (``dashboard_oidc``, ten minutes, one use), then sends the browser to
the provider. ``/ui/oidc/callback`` takes the row by ``state`` (deleted on first use), checks the
binding cookie, exchanges the code with the verifier (Authlib's OAuth 2 client), verifies the ID token's
signature against the provider's JWKS and its ``iss``, ``aud``, ``exp`` and ``nonce`` (joserfc), and
takes the role from ``roles_claim``: no matching value, no sign-in. The person signs in as
``sso:<preferred_username | email | sub>`` (local names cannot hold ``:``, so no provider can take over
a local account), with the same session, CSRF token and ``DashboardAction`` record as a password
sign-in. Every failure refuses (fail closed) with a reason that names no secret.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..store import ServerStore

PENDING_SECONDS = 600.0
HTTP_TIMEOUT = 10.0
_DDL = (
    "CREATE TABLE IF NOT EXISTS dashboard_oidc (state TEXT PRIMARY KEY, nonce TEXT NOT NULL, "
    "verifier TEXT NOT NULL, binding TEXT NOT NULL, redirect_uri TEXT NOT NULL, "
    "created DOUBLE PRECISION NOT NULL)",
)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9._@-]")


class OidcError(Exception):
    """The sign-in is refused; the message says why (no secret in it)."""


class OidcConfig(NamedTuple):
    issuer: str
    client_id: str
    client_secret_env: str = "RAMPARTS_OIDC_CLIENT_SECRET"  # noqa: S105 - a variable name
    roles_claim: str = "groups"
    admin_values: tuple[str, ...] = ()
    viewer_values: tuple[str, ...] = ()
    redirect_uri: str = ""
    scope: str = "openid profile email"


def parse_oidc(data: Any, where: str = "oidc") -> OidcConfig:
    """The configuration; errors name the key."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    known = set(OidcConfig._fields)
    extra = sorted(set(data) - known)
    if extra:
        raise ValueError(f"{where}.{extra[0]}: unknown key")
    out: dict[str, Any] = {}
    for key in ("issuer", "client_id", "client_secret_env", "roles_claim", "redirect_uri", "scope"):
        if key in data:
            if not isinstance(data[key], str):
                raise ValueError(f"{where}.{key}: must be a string")
            out[key] = data[key]
    for key in ("issuer", "client_id"):
        if not out.get(key):
            raise ValueError(f"{where}.{key}: required")
    if not out["issuer"].startswith(("https://", "http://")):
        raise ValueError(f"{where}.issuer: must be an http(s) URL")
    for key in ("admin_values", "viewer_values"):
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{where}.{key}: must be a list of strings")
        out[key] = tuple(value)
    if not out["admin_values"] and not out["viewer_values"]:
        raise ValueError(f"{where}: admin_values or viewer_values must name a value of the roles claim")
    if "openid" not in str(out.get("scope", "openid")).split():
        raise ValueError(f"{where}.scope: must include openid")
    return OidcConfig(**out)


def load_oidc(path: str) -> OidcConfig:
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return parse_oidc(data, where=os.path.basename(path))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Flow(NamedTuple):
    """What the callback hands back to the dashboard: the person and the role."""

    name: str
    role: str
    subject: str


class Oidc:
    """The relying party over a :class:`ServerStore` (the pending rows) and the provider's metadata."""

    def __init__(self, config: OidcConfig, store: ServerStore) -> None:
        self.config = config
        self.store = store
        self._metadata: tuple[float, dict[str, Any]] | None = None
        with store._tx() as tx:
            for statement in _DDL:
                tx.x(statement)

    # -- provider metadata ---------------------------------------------------------------------------------------

    def _client(self, redirect_uri: str, **kwargs: Any) -> Any:
        from authlib.integrations.requests_client import OAuth2Session

        secret = os.environ.get(self.config.client_secret_env, "")
        return OAuth2Session(
            self.config.client_id,
            secret or None,
            scope=self.config.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            **kwargs,
        )

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached ten minutes); its issuer must be the configured one."""
        now = time.monotonic()
        if self._metadata is not None and now - self._metadata[0] < 600:
            return self._metadata[1]
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        data = self._get_json(url)
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise OidcError(f"the provider's discovery document has no {key}")
        if str(data.get("issuer", "")).rstrip("/") != self.config.issuer.rstrip("/"):
            raise OidcError("the provider's discovery document names another issuer")
        self._metadata = (now, data)
        return data

    def _get_json(self, url: str) -> dict[str, Any]:
        import requests

        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcError(f"the provider could not be read ({type(exc).__name__})") from exc
        if not isinstance(data, dict):
            raise OidcError("the provider answered something other than a JSON object")
        return data

    # -- the flow ------------------------------------------------------------------------------------------------

    def start(self, redirect_uri: str, now: float | None = None) -> tuple[str, str]:
        """(the provider's authorization URL, the browser binding for a cookie)."""
        now = time.time() if now is None else now
        redirect_uri = self.config.redirect_uri or redirect_uri
        meta = self.metadata()
        state, nonce, binding = (
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
        )
        verifier = secrets.token_urlsafe(48)
        url, _ = self._client(redirect_uri).create_authorization_url(
            meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
        with self.store._tx() as tx:
            tx.x("DELETE FROM dashboard_oidc WHERE created < ?", (now - PENDING_SECONDS,))
            tx.x(
                "INSERT INTO dashboard_oidc (state, nonce, verifier, binding, redirect_uri, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (_digest(state), nonce, verifier, _digest(binding), redirect_uri, now),
            )
        return str(url), binding

    def finish(self, params: Mapping[str, str], binding: str, now: float | None = None) -> Flow:
        """The callback: check, exchange, verify; the person and role, or OidcError."""
        now = time.time() if now is None else now
        if params.get("error"):
            raise OidcError(f"the provider refused: {str(params['error'])[:100]}")
        state, code = params.get("state", ""), params.get("code", "")
        if not state or not code or len(state) > 200 or len(code) > 4096:
            raise OidcError("the callback has no state or code")
        with self.store._tx() as tx:
            row = tx.one(
                "SELECT nonce, verifier, binding, redirect_uri, created FROM dashboard_oidc WHERE state = ?",
                (_digest(state),),
            )
            tx.x("DELETE FROM dashboard_oidc WHERE state = ?", (_digest(state),))  # one use
        if row is None:
            raise OidcError("unknown or already used sign-in state")
        nonce, verifier, bound, redirect_uri, created = (
            str(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            float(row[4]),
        )
        if now - created > PENDING_SECONDS:
            raise OidcError("the sign-in took too long; start again")
        if not binding or not secrets.compare_digest(_digest(binding), bound):
            raise OidcError("the sign-in was started in another browser")
        meta = self.metadata()
        try:
            token = self._client(redirect_uri, timeout=HTTP_TIMEOUT).fetch_token(
                meta["token_endpoint"], code=code, code_verifier=verifier, grant_type="authorization_code"
            )
        except Exception as exc:
            raise OidcError(f"the code exchange failed ({type(exc).__name__})") from exc
        id_token = token.get("id_token") if isinstance(token, Mapping) else None
        if not isinstance(id_token, str):
            raise OidcError("the provider returned no ID token")
        claims = self._verify(id_token, nonce, meta, now)
        return self._person(claims)

    def _verify(self, id_token: str, nonce: str, meta: Mapping[str, Any], now: float) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        keys = self._get_json(str(meta["jwks_uri"]))
        try:
            keyset = KeySet.import_key_set(keys)  # type: ignore[arg-type]
            token = jwt.decode(
                id_token, keyset, algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"]
            )
            registry = jwt.JWTClaimsRegistry(
                now=int(now),
                leeway=60,
                iss={"essential": True, "value": self.config.issuer.rstrip("/")},
                aud={"essential": True, "value": self.config.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            claims = dict(token.claims)
            if isinstance(claims.get("iss"), str):
                claims["iss"] = claims["iss"].rstrip("/")
            registry.validate(claims)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OidcError(f"the ID token did not verify ({type(exc).__name__})") from exc
        return claims

    def _person(self, claims: Mapping[str, Any]) -> Flow:
        raw = claims.get(self.config.roles_claim)
        values = (
            [raw]
            if isinstance(raw, str)
            else [v for v in raw if isinstance(v, str)]
            if isinstance(raw, list)
            else []
        )
        if any(v in self.config.admin_values for v in values):
            role = "admin"
        elif any(v in self.config.viewer_values for v in values):
            role = "viewer"
        else:
            raise OidcError(f"the ID token's {self.config.roles_claim} claim names no dashboard role")
        subject = str(claims.get("sub", ""))
        label = next(
            (
                str(claims[k])
                for k in ("preferred_username", "email", "sub")
                if isinstance(claims.get(k), str) and claims[k]
            ),
            subject,
        )
        name = "sso:" + (_NAME_CHARS.sub("_", label)[:60] or "_")
        return Flow(name, role, subject)


def summary(config: OidcConfig) -> str:
    """For logs: the issuer and client, never the secret."""
    return json.dumps({"issuer": config.issuer, "client_id": config.client_id})

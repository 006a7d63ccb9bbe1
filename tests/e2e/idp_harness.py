"""A real OpenID Provider for the SSO tests: `oidc-provider` from npm (tests/e2e/node/idp.mjs) as a
child process on loopback, with keys this harness makes, so a test can both sign in for real and
sign tokens of its own with the IdP's private key.

- `Idp(workdir, name, audience=…, client_id=…, domain=…)`: one provider. `start()`, `stop()`,
  `restart(rotate=True)` (a new first key signs; the old ones still verify), `jwks_fetches()`
  (GETs of its `/jwks`, counted by the IdP itself since its last start).
- `Idp.sign_in(http, authorize_url, login)`: the devInteractions dance (login page, consent) in an
  httpx client from an authorization URL (the IdP's, e.g. where the gateway redirected a browser)
  to the redirect back; the URL of that redirect, not followed.
- `Idp.password_login_code_flow(login)`: the whole code flow with PKCE for the IdP's own client;
  the token response (`id_token`, `access_token` with `aud` = the IdP's audience).
- `Idp.mint(claims, kid=…, alg=…)`, `Idp.claims(login, **over)`: tokens of any content signed
  with the IdP's own key; `forge_none`, `forge_hs256`: what no IdP would sign.
- Accounts: any login; `sub` = login; `email` = login if it has an "@", else `<login>@<domain>`;
  `email_verified` false when the login starts with "unverified".
- `start_sso(sim, workdir)` → `Sso`: two IdPs with different audiences and domains, and a team
  gateway that knows the first through `OIDC_*` (id "env") and the second through
  `POST /admin/idps`; both are known to the gateway (user "warmup" signed in) before it returns.
  `Sso.add_idp(...)` adds more through the API. The session's shared one is conftest's `sso`
  fixture.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import START_TIMEOUT, Proc, free_port
from team_harness import TeamGateway, start_team_gateway, wait_until

NODE_DIR = Path(__file__).resolve().parent / "node"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The gateway's redirect URI; the IdP's client is "native", so any loopback port matches.
LOOPBACK_CALLBACK = "http://127.0.0.1/oauth/callback"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jose(header: dict, payload: dict) -> str:
    """The first two parts of a compact JWS ("header.payload")."""
    enc = lambda d: b64url(json.dumps(d, separators=(",", ":")).encode())  # noqa: E731
    return f"{enc(header)}.{enc(payload)}"


def forge_none(claims: dict, kid: str | None = None) -> str:
    """An unsigned token (`alg: none`), empty signature."""
    header = {"alg": "none", "typ": "JWT", **({"kid": kid} if kid else {})}
    return jose(header, claims) + "."


def forge_hs256(claims: dict, secret: bytes, kid: str | None = None) -> str:
    """HS256 with `secret` as the HMAC key (e.g. the IdP's public key PEM: the classic
    algorithm-confusion forgery, which PyJWT refuses to make)."""
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid} if kid else {})}
    head = jose(header, claims)
    return head + "." + b64url(hmac.new(secret, head.encode(), hashlib.sha256).digest())


@dataclass
class IdpKey:
    kid: str
    alg: str
    private: object

    @staticmethod
    def new(alg: str = "RS256") -> "IdpKey":
        if alg.startswith(("RS", "PS")):
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            raise ValueError(f"no key type for {alg}")
        return IdpKey(f"e2e-{alg.lower()}-{uuid.uuid4().hex[:12]}", alg, private)

    def jwk(self) -> dict:
        algo = jwt.get_algorithm_by_name(self.alg)
        return {**json.loads(algo.to_jwk(self.private)), "kid": self.kid, "alg": self.alg,
                "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass
class Idp:
    workdir: Path
    name: str
    audience: str
    client_id: str
    domain: str
    client_secret: str | None = field(default_factory=lambda: "idp-secret-" + secrets.token_hex(8))
    redirect_uris: tuple[str, ...] = (LOOPBACK_CALLBACK,)
    alg: str = "RS256"

    def __post_init__(self):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.keys: list[IdpKey] = [IdpKey.new(self.alg)]
        self.proc: Proc | None = None
        self.starts = 0

    # -- process

    def start(self) -> "Idp":
        self.starts += 1
        keys_file = self.workdir / f"idp-{self.name}-keys-{self.starts}.json"
        keys_file.write_text(json.dumps({"keys": [k.jwk() for k in self.keys]}))
        keys_file.chmod(0o600)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NODE_ENV": "test",
            "IDP_PORT": str(self.port),
            "IDP_ISSUER": self.issuer,
            "IDP_CLIENT_ID": self.client_id,
            "IDP_CLIENT_SECRET": self.client_secret or "",
            "IDP_REDIRECT_URIS": ",".join(self.redirect_uris),
            "IDP_AUDIENCE": self.audience,
            "IDP_DOMAIN": self.domain,
            "IDP_KEYS": str(keys_file),
        }
        self.proc = Proc(f"idp-{self.name}-{self.starts}", ["node", str(NODE_DIR / "idp.mjs")],
                         env, self.workdir)
        deadline = time.monotonic() + START_TIMEOUT
        while "ready " not in self.proc.output():
            if self.proc.popen.poll() is not None or time.monotonic() > deadline:
                out = self.proc.output()
                self.stop()
                raise RuntimeError(f"IdP {self.name} did not start:\n{out}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def restart(self, rotate: bool = True) -> IdpKey:
        """Restart on the same issuer; with `rotate`, a new key signs from now on (the previous
        ones stay in the key set). The signing key."""
        self.stop()
        if rotate:
            self.keys.insert(0, IdpKey.new(self.alg))
        self.start()
        return self.keys[0]

    def jwks_fetches(self) -> int:
        """How many times the IdP served its key set since it last started."""
        return httpx.get(self.issuer + "/__stats", timeout=5).json()["jwks"]

    def discovery(self) -> dict:
        return httpx.get(self.issuer + "/.well-known/openid-configuration", timeout=5).json()

    # -- configuration of the gateway

    def gateway_env(self, **over: str) -> dict[str, str]:
        """`OIDC_*` for a gateway that knows this IdP from its environment."""
        env = {"OIDC_ISSUER": self.issuer, "OIDC_AUDIENCE": self.audience,
               "OIDC_CLIENT_ID": self.client_id, "OIDC_NAME": self.name,
               "OIDC_AUTO_PROVISION": "true", "OIDC_DEFAULT_ROLE": "member",
               "OIDC_ALLOWED_DOMAINS": self.domain}
        if self.client_secret:
            env["OIDC_CLIENT_SECRET"] = self.client_secret
        return {**env, **over}

    def admin_body(self, **over) -> dict:
        """The `POST /admin/idps` body for this IdP."""
        body = {"name": self.name, "issuer_url": self.issuer, "audience": self.audience,
                "client_id": self.client_id, "auto_provision": True, "default_role": "member",
                "allowed_domains": [self.domain]}
        if self.client_secret:
            body["client_secret"] = self.client_secret
        return {**body, **over}

    # -- tokens

    def email_of(self, login: str) -> str:
        return login if "@" in login else f"{login}@{self.domain}"

    def claims(self, login: str, ttl: int = 600, **over) -> dict:
        """Valid claims for `login` as this IdP would issue them (aud = the audience)."""
        now = int(time.time())
        base = {"iss": self.issuer, "aud": self.audience, "sub": login,
                "email": self.email_of(login), "email_verified": not login.startswith("unverified"),
                "iat": now, "nbf": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
        out = {**base, **over}
        return {k: v for k, v in out.items() if v is not None}

    def mint(self, claims: dict, kid: str | None = None, alg: str | None = None,
             key: IdpKey | None = None, headers: dict | None = None) -> str:
        """`claims` signed with the IdP's signing key (or `key`), header `kid` = that key's
        unless `kid` says otherwise."""
        key = key or self.keys[0]
        head = {"kid": kid if kid is not None else key.kid, "typ": "JWT", **(headers or {})}
        return jwt.encode(claims, key.private, algorithm=alg or key.alg, headers=head)

    def sign_in(self, http: httpx.Client, authorize_url: str, login: str,
                password: str = "any", stop_at: str | None = None) -> str:
        """Walk the IdP's pages from `authorize_url` (login form, then consent) with `http`'s
        cookies; the first redirect away from the IdP (or to `stop_at`), not followed."""
        url = authorize_url
        for _ in range(20):
            r = http.get(url, follow_redirects=False)
            if r.is_redirect:
                nxt = urljoin(url, r.headers["location"])
                if not nxt.startswith(self.issuer + "/") or (stop_at and nxt.startswith(stop_at)):
                    return nxt
                url = nxt
                continue
            if r.status_code != 200 or "/interaction/" not in url:
                raise AssertionError(
                    f"IdP {self.name}: {url} answered {r.status_code}: {r.text[:500]}")
            form = {"prompt": "consent"} if 'name="login"' not in r.text else \
                {"prompt": "login", "login": login, "password": password}
            r = http.post(url, data=form, follow_redirects=False)
            if not r.is_redirect:
                raise AssertionError(
                    f"IdP {self.name}: POST {url} answered {r.status_code}: {r.text[:500]}")
            url = urljoin(url, r.headers["location"])
            if not url.startswith(self.issuer + "/"):
                return url
        raise AssertionError(
            f"IdP {self.name}: no redirect back after 20 steps from {authorize_url}")

    def password_login_code_flow(self, login: str, scope: str = "openid email profile",
                                 nonce: str | None = None,
                                 redirect_uri: str = LOOPBACK_CALLBACK) -> dict:
        """The code flow with PKCE for the IdP's own client, as `login`; the token response."""
        verifier = b64url(secrets.token_bytes(32))
        state = secrets.token_urlsafe(16)
        params = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": redirect_uri, "scope": scope, "state": state, "nonce": nonce or secrets.token_urlsafe(16),
                  "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
                  "code_challenge_method": "S256", "prompt": "consent"}
        with httpx.Client(timeout=10) as http:
            back = self.sign_in(http, f"{self.issuer}/auth?{urlencode(params)}", login,
                                stop_at=redirect_uri)
            query = parse_qs(urlsplit(back).query)
            assert query.get("state") == [state], back
            assert "code" in query, back
            form = {"grant_type": "authorization_code", "code": query["code"][0],
                    "redirect_uri": redirect_uri, "code_verifier": verifier}
            auth = None
            if self.client_secret:
                auth = (self.client_id, self.client_secret)
            else:
                form["client_id"] = self.client_id
            r = http.post(f"{self.issuer}/token", data=form, auth=auth)
            assert r.status_code == 200, f"IdP {self.name} /token: {r.status_code} {r.text}"
            return r.json()


def start_node(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a browser script of tests/e2e/node (Chromium through playwright-core) with the
    environment plus `env`; its stdout and stderr piped, as text."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run scripts/setup-e2e.sh (installs Debian's chromium)")
    return subprocess.Popen(["node", str(NODE_DIR / script), *args], cwd=NODE_DIR,
                            env={**os.environ, "CHROMIUM": CHROMIUM, **(env or {})},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_node(script: str, *args: str, timeout: float = 90) -> dict:
    """Run a browser script of tests/e2e/node to its end; the JSON of its last stdout line."""
    proc = start_node(script, *args)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"{script} failed ({proc.returncode}):\n{err}\n{out}"
    return json.loads(out.strip().splitlines()[-1])


def unverified_claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# ---------------------------------------------------------------------------------------------
# Two IdPs and a gateway that trusts both


@dataclass
class Sso:
    gw: TeamGateway
    env_idp: Idp      # known from OIDC_* (id "env")
    admin_idp: Idp    # added with POST /admin/idps
    admin_idp_id: str
    workdir: Path
    extra: list[Idp] = field(default_factory=list)

    def idps(self) -> list[Idp]:
        return [self.env_idp, self.admin_idp]

    def idp(self, which: str) -> Idp:
        """The IdP `which` names: "env" (known from OIDC_*) or "admin" (from POST /admin/idps)."""
        return {"env": self.env_idp, "admin": self.admin_idp}[which]

    def add_idp(self, label: str, domain: str, **body) -> tuple[Idp, str]:
        """One more IdP, started and added with `POST /admin/idps` (`body` overrides fields);
        (the IdP, its id at the gateway). Stopped with the fixture."""
        tag = uuid.uuid4().hex[:6]
        idp = Idp(self.workdir, f"{label}-{tag}", audience=f"api://{label}-{tag}",
                  client_id=f"{label}-{tag}", domain=domain).start()
        self.extra.append(idp)
        created = self.gw.call("POST", "/admin/idps", self.gw.admin, 201,
                               json=idp.admin_body(**body))
        return idp, created["id"]


def wait_known(gw: TeamGateway, idp: Idp, timeout: float = 15.0) -> None:
    """Wait until the gateway takes `idp`'s tokens (an IdP added through the API reaches the
    gateway's registry through the change feed): a valid token for the login "warmup" answers
    anything but 401 on `GET /auth/me`. Provisions that account when the IdP does."""
    def taken() -> bool:
        return gw.request("GET", "/auth/me", idp.mint(idp.claims("warmup"))).status_code != 401

    wait_until(taken, timeout=timeout, every=0.1, what=f"the gateway takes IdP {idp.name}'s tokens")


def start_sso(sim, workdir: Path, env: dict[str, str] | None = None,
              admin_body: dict | None = None) -> Sso:
    """Two IdPs and a gateway: `env` adds to the gateway's environment (after the first IdP's
    `OIDC_*`), `admin_body` overrides fields of the second IdP's `POST /admin/idps`."""
    tag = uuid.uuid4().hex[:6]
    a = Idp(workdir, f"corp-{tag}", audience=f"api://conduit-a-{tag}", client_id=f"conduit-a-{tag}",
            domain="corp-a.example").start()
    b = Idp(workdir, f"merged-{tag}", audience=f"api://conduit-b-{tag}",
            client_id=f"conduit-b-{tag}", domain="merged-b.example").start()
    gw = None
    try:
        gw = start_team_gateway(sim, workdir, "sqlite", None, {**a.gateway_env(), **(env or {})})
        created = gw.call("POST", "/admin/idps", gw.admin, 201,
                          json=b.admin_body(**(admin_body or {})))
        for idp in (a, b):
            wait_known(gw, idp)
        return Sso(gw, a, b, created["id"], workdir)
    except BaseException:
        if gw is not None:
            gw.stop()
        a.stop()
        b.stop()
        raise


def stop_sso(s: Sso) -> None:
    s.gw.stop()
    for idp in s.idps() + s.extra:
        idp.stop()


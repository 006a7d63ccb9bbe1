"""Helpers for Claude Code's gateway sign-in against a team gateway (test_team_device.py,
test_team_claude_login.py).

- The client's side of RFC 8628 as Claude Code 2.1.328 speaks it (observed; see
  docs for the wire): `discover`, `authorize_device` (form `surface=claude_code`, nothing
  else), `poll`, `refresh`, `revoke` — raw httpx answers, so tests read status and body.
- The browser leg over plain HTTP: `Browser` (an httpx client with cookies) signs in at the
  portal with a password or at an IdP (idp_harness.Idp), enters the user code at `/device`
  and approves or denies it.
- `checksum(settings)`: the managed-settings checksum computed independently of the gateway;
  `verify_access_token`: an access token checked against the gateway's own JWKS with PyJWT.
- `PrivateEtc` + `NsTmux`: Claude Code's machine-managed settings in
  /etc/claude-code/managed-settings.json inside a private mount namespace only (an overlay
  over /etc, then the test's directory bound over /etc/claude-code), with a tmux server
  started inside it so `claude` sees the file; the machine's /etc is never touched.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shlex
import subprocess
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import jwt

from conftest import Tmux

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")
# What Claude Code sends on every sign-in request.
CC_HEADERS = {"user-agent": "claude-code/2.1.328"}


# ---------------------------------------------------------------------------------------------
# The client's side (what Claude Code sends)


def discover(url: str) -> httpx.Response:
    return httpx.get(url + "/.well-known/oauth-authorization-server", headers=CC_HEADERS, timeout=10)


def authorize_device(url: str, form: dict | None = None) -> httpx.Response:
    """Claude Code's request (`surface=claude_code`), or `form` instead."""
    data = {"surface": "claude_code"} if form is None else form
    return httpx.post(url + "/oauth/device_authorization", data=data, headers=CC_HEADERS,
                      timeout=10)


def poll(url: str, device_code: str) -> httpx.Response:
    return httpx.post(url + "/oauth/token", data={"grant_type": DEVICE_GRANT,
                                                 "device_code": device_code},
                      headers=CC_HEADERS, timeout=10)


def refresh(url: str, refresh_token: str) -> httpx.Response:
    return httpx.post(url + "/oauth/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": refresh_token},
                      headers=CC_HEADERS, timeout=10)


def revoke(url: str, token: str, hint: str | None = None) -> httpx.Response:
    form = {"token": token, **({"token_type_hint": hint} if hint else {})}
    return httpx.post(url + "/oauth/revoke", data=form, headers=CC_HEADERS, timeout=10)


def oauth_error(r: httpx.Response) -> str:
    """The RFC 6749 §5.2 `error` of an answer ("" when it is not one)."""
    try:
        body = r.json()
    except ValueError:
        return ""
    return body.get("error", "") if isinstance(body, dict) else ""


# ---------------------------------------------------------------------------------------------
# The browser leg over HTTP


def hidden(page: str, name: str) -> str:
    """The value of the hidden input `name` on a gateway page."""
    m = re.search(r'<input type="hidden" name="%s" value="([^"]*)">' % re.escape(name), page)
    assert m, f"no hidden {name!r} on the page:\n{page[:2000]}"
    return html.unescape(m.group(1))


class Browser:
    """One browser (its own cookie jar) on the gateway's pages."""

    def __init__(self, url: str):
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=15)
        # The IdP's redirects back to the gateway (their `code` and `state` are secrets too).
        self.visited: list[str] = []

    def close(self) -> None:
        self.http.close()

    def cookie_values(self) -> list[str]:
        return [c.value for c in self.http.cookies.jar if c.value]

    def portal_sign_in(self, username: str, password: str) -> None:
        page = self.http.get("/portal")
        assert page.status_code == 200, page.text
        r = self.http.post("/portal/login", data={"csrf": hidden(page.text, "csrf"),
                                                  "username": username, "password": password})
        assert r.status_code == 303, f"portal sign-in: {r.status_code} {r.text[:500]}"
        assert "conduit_session" in self.http.cookies, "no session cookie after the portal sign-in"

    def enter_code(self, user_code: str) -> httpx.Response:
        """`/device?user_code=…` (the prefilled form), then its submission (not followed)."""
        page = self.http.get("/device", params={"user_code": user_code})
        assert page.status_code == 200, page.text
        return self.http.post("/device", data={"csrf": hidden(page.text, "csrf"),
                                               "user_code": user_code}, follow_redirects=False)

    def decide(self, confirm_page: str, decision: str = "approve") -> httpx.Response:
        assert "Approve this device?" in confirm_page, confirm_page[:2000]
        return self.http.post("/device/decide", data={
            "csrf": hidden(confirm_page, "csrf"), "device": hidden(confirm_page, "device"),
            "decision": decision})

    def approve_with_portal(self, user_code: str, username: str, password: str,
                            decision: str = "approve") -> httpx.Response:
        """Password sign-in at the portal, then the code, then Approve (or Deny)."""
        self.portal_sign_in(username, password)
        r = self.enter_code(user_code)
        assert r.status_code == 200, f"POST /device: {r.status_code} {r.text[:500]}"
        return self.decide(r.text, decision)

    def approve_with_idp(self, user_code: str, idp, login: str,
                         decision: str = "approve") -> httpx.Response:
        """The code, then sign-in at `idp` (code + PKCE through the gateway's callback), then
        Approve (or Deny) on the confirm page the callback shows."""
        r = self.enter_code(user_code)
        assert r.status_code == 303, f"POST /device should send the browser to the IdP: " \
                                     f"{r.status_code} {r.text[:500]}"
        authorize = urljoin(self.url, r.headers["location"])
        assert authorize.startswith(idp.issuer + "/"), authorize
        # Code + PKCE (S256) with state and nonce, answered in the query: never the implicit flow.
        q = parse_qs(urlsplit(authorize).query)
        assert q.get("response_type") == ["code"] and q.get("code_challenge_method") == ["S256"], q
        assert q.get("code_challenge") and q.get("state") and q.get("nonce"), q
        assert q.get("redirect_uri") == [self.url + "/oauth/callback"], q
        back = idp.sign_in(self.http, authorize, login)
        self.visited.append(back)
        assert back.startswith(self.url + "/oauth/callback?"), back
        page = self.http.get(back)
        assert page.status_code == 200, f"callback: {page.status_code} {page.text[:500]}"
        return self.decide(page.text, decision)


# ---------------------------------------------------------------------------------------------
# Checks


def checksum(settings: dict) -> str:
    """`sha256:` + hex SHA-256 of the settings with sorted keys, no whitespace, no escaping of
    non-ASCII (what Claude Code computes over the copy it holds)."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def verify_access_token(url: str, token: str) -> tuple[dict, dict]:
    """(header, claims) of a gateway access token whose EdDSA signature verifies against the
    gateway's published JWKS (its `kid`), with iss = aud = "conduit"."""
    header = jwt.get_unverified_header(token)
    keys = httpx.get(url + "/oauth/jwks.json", timeout=10).json()["keys"]
    jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
    assert jwk is not None, f"kid {header.get('kid')} not in the JWKS {keys}"
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["EdDSA"], audience="conduit",
                        issuer="conduit")
    return header, claims


# ---------------------------------------------------------------------------------------------
# Managed settings in a private mount namespace, and tmux inside it


class PrivateEtc:
    """A directory that appears as /etc/claude-code only inside namespaces `NsTmux` starts:
    /etc is overlaid (copy-on-write into `upper`, so the machine's /etc never changes) and
    `dir` is bound over /etc/claude-code."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = root / "claude-code"
        for d in (self.dir, root / "upper", root / "work"):
            d.mkdir(parents=True, exist_ok=True)

    def write(self, settings: dict) -> None:
        path = self.dir / "managed-settings.json"
        path.write_text(json.dumps(settings))
        # Claude Code refuses a managed file that is group/other-writable or not admin-owned.
        path.chmod(0o644)
        self.dir.chmod(0o755)

    def mounts(self) -> str:
        """Shell commands run first inside the new namespace."""
        r = shlex.quote(str(self.root))
        return (f"mount -t overlay overlay -o lowerdir=/etc,upperdir={r}/upper,workdir={r}/work /etc"
                f" && mkdir -p /etc/claude-code && mount --bind {shlex.quote(str(self.dir))}"
                " /etc/claude-code")


class NsTmux(Tmux):
    """conftest.Tmux whose server is started inside a private mount namespace (`unshare -m
    --propagation private`) after `etc.mounts()`; screens with wrapped lines joined."""

    def __init__(self, etc: PrivateEtc, cwd: Path, env: dict[str, str], argv: list[str]):
        self.socket = f"conduit-e2e-{uuid.uuid4().hex[:8]}"
        self.join = True
        tmux = shlex.join(["tmux", "-L", self.socket, *self._new_session(cwd, env, argv)])
        done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                               f"{etc.mounts()} && exec {tmux}"],
                              capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, f"unshare/tmux: {done.stderr}"

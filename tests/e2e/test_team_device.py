"""Claude Code's gateway sign-in as HTTP stories against a team gateway, with the requests
Claude Code 2.1.328 sends (observed: `surface=claude_code` and nothing else; no client_id on
the token endpoint) and a real IdP (oidc-provider, idp_harness) for the browser leg:

- discovery (RFC 8414, same origin, no authorization endpoint, never cached);
- device authorization (user code XXXX-XXXX of base-20), polling (`authorization_pending`,
  `slow_down`), approval in the browser (code at `/device`, sign-in at the IdP with code +
  PKCE, Approve), the token once, then a streamed `/v1/messages` with the access token (an
  inference credential only: 401 on /me/keys and the admin API); a portal password session
  approves too;
- deny, unknown codes, a per-address limit on device authorization;
- refresh with rotation; a second terminal's replay of a spent refresh token is refused alone;
- revocation (RFC 7009: always 200; the sign-in ends); deactivating the user ends it too;
- managed settings 404 / 200 (checksum recomputed here) / 304 with If-None-Match;
- the OTLP sinks answer 200;
- two instances on one Postgres store share device codes, sign-ins and signing keys;
- every gateway runs at DEBUG_MODE=all and no code, token or cookie it issued appears in its
  logs or its database.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from claude_gateway import (DEVICE_GRANT, USER_CODE, Browser, authorize_device, checksum,
                            discover, oauth_error, poll, refresh, revoke, verify_access_token)
from idp_harness import Idp
from team_harness import (  # noqa: F401  (fixtures)
    TeamGateway, pg_db, secrets_in, stored_files, team_gateway, unique, wait_until,
)
from test_team import ask_anthropic

INTERVAL = 5


@pytest.fixture(scope="module")
def idp(workdir):
    """One real IdP; every gateway here knows it through OIDC_* (auto-provisioned members)."""
    tag = uuid.uuid4().hex[:6]
    i = Idp(workdir, f"corp-{tag}", audience=f"api://conduit-{tag}", client_id=f"conduit-{tag}",
            domain="corp.example").start()
    yield i
    i.stop()


@dataclass
class Story:
    """A gateway at DEBUG_MODE=all and every secret it handed out during the test."""

    gw: TeamGateway
    idp: Idp
    secrets: dict[str, str] = field(default_factory=dict)
    # More instances on the same (Postgres) store.
    others: list[TeamGateway] = field(default_factory=list)

    def keep(self, label: str, value: str) -> str:
        self.secrets[f"{label} #{len(self.secrets)}"] = value
        return value

    def browser(self, gw: TeamGateway | None = None) -> Browser:
        return Browser((gw or self.gw).url)

    def forget_browser(self, b: Browser) -> None:
        for v in b.cookie_values():
            self.keep("browser cookie", v)
        for url in b.visited:
            q = parse_qs(urlsplit(url).query)
            for name in ("code", "state"):
                for v in q.get(name, []):
                    self.keep(f"IdP callback {name}", v)
        b.close()

    def start_device(self) -> dict:
        r = authorize_device(self.gw.url)
        assert r.status_code == 200, r.text
        body = r.json()
        self.keep("device code", body["device_code"])
        self.keep("user code", body["user_code"])
        self.keep("user code (bare)", body["user_code"].replace("-", ""))
        return body

    def approve(self, user_code: str, login: str, decision: str = "approve",
                gw: TeamGateway | None = None) -> httpx.Response:
        b = self.browser(gw)
        try:
            return b.approve_with_idp(user_code, self.idp, login, decision)
        finally:
            self.forget_browser(b)

    def took(self, r: httpx.Response) -> dict:
        """A 200 token answer; its tokens kept."""
        assert r.status_code == 200, f"{r.status_code} {r.text}"
        body = r.json()
        self.keep("access token", body["access_token"])
        self.keep("refresh token", body["refresh_token"])
        return body

    def sign_in(self, login: str) -> dict:
        """The whole device flow for `login`; the token answer."""
        device = self.start_device()
        assert "Device approved" in self.approve(device["user_code"], login).text
        return self.took(poll(self.gw.url, device["device_code"]))

    def files(self) -> list[Path]:
        return stored_files(self.gw, *self.others)

    def assert_no_secret_logged(self) -> None:
        assert self.secrets
        assert secrets_in(self.files(), self.secrets) == []
        for gw in [self.gw, *self.others]:
            gw.stop()
        assert secrets_in(self.files(), self.secrets) == []


@pytest.fixture
def story(team_gateway, idp, sim):
    sim.rule({"text": "Hello through the gateway sign-in."})
    return Story(team_gateway("sqlite", env={**idp.gateway_env(), "DEBUG_MODE": "all"}), idp)


def ask(gw: TeamGateway, access_token: str) -> str:
    """A streamed /v1/messages with the access token as bearer (as Claude Code sends it)."""
    return ask_anthropic(gw.anthropic(None, auth_token=access_token, timeout=30), "hello", True)


def assert_oauth_error(r: httpx.Response, error: str, status: int = 400) -> None:
    assert (r.status_code, oauth_error(r)) == (status, error), f"{r.status_code} {r.text}"


# ---------------------------------------------------------------------------------------------
# Discovery, device authorization, approval, token, inference


def test_discovery_names_the_device_flow_on_the_gateways_own_origin(story):
    r = discover(story.gw.url)
    assert r.status_code == 200, r.text
    assert r.headers.get("cache-control") == "no-store"
    meta = r.json()
    base = story.gw.url
    assert meta["issuer"] == base
    assert meta["device_authorization_endpoint"] == base + "/oauth/device_authorization"
    assert meta["token_endpoint"] == base + "/oauth/token"
    assert meta["revocation_endpoint"] == base + "/oauth/revoke"
    assert set(meta["grant_types_supported"]) >= {DEVICE_GRANT, "refresh_token"}
    # conduit token login's code + PKCE; Claude Code still takes the device flow with it.
    assert meta["authorization_endpoint"] == base + "/oauth/authorize"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    for name, value in meta.items():
        if name.endswith(("_endpoint", "_uri")):
            assert value.startswith(base + "/"), f"{name} is not on the gateway's origin: {value}"


def test_device_code_approved_at_the_idp_gives_one_token_that_streams_messages(story, sim):
    gw = story.gw
    login = unique("dev")
    device = story.start_device()
    assert USER_CODE.match(device["user_code"]), device["user_code"]
    assert device["verification_uri"] == gw.url + "/device"
    assert device["verification_uri_complete"] == f"{gw.url}/device?user_code={device['user_code']}"
    assert (device["expires_in"], device["interval"]) == (600, INTERVAL)
    assert len(device["device_code"]) >= 43  # 32 random bytes, base64url

    # Claude Code polls before the person has done anything, and once too fast.
    assert_oauth_error(poll(gw.url, device["device_code"]), "authorization_pending")
    assert_oauth_error(poll(gw.url, device["device_code"]), "slow_down")
    last_poll = time.monotonic()

    approved = story.approve(device["user_code"], login)
    assert approved.status_code == 200 and "Device approved" in approved.text, approved.text

    time.sleep(max(0.0, INTERVAL + 0.5 - (time.monotonic() - last_poll)))
    r = poll(gw.url, device["device_code"])
    assert r.headers.get("cache-control") == "no-store" and r.headers.get("pragma") == "no-cache"
    tokens = story.took(r)
    assert tokens["token_type"] == "Bearer"
    assert 3500 <= tokens["expires_in"] <= 3600
    # The device code is spent: the next poll (a second terminal, a retry) gets nothing.
    assert_oauth_error(poll(gw.url, device["device_code"]), "expired_token")

    header, claims = verify_access_token(gw.url, tokens["access_token"])
    assert header["alg"] == "EdDSA"
    assert claims["scope"] == "claude-code" and claims["exp"] - claims["iat"] == 3600
    user = next(u for u in gw.list_users() if u["id"] == claims["sub"])
    assert login in user["subject"] and user["role"] == "member"

    assert ask(gw, tokens["access_token"]) == "Hello through the gateway sign-in."
    upstream = [c for c in sim.log() if c.get("path", "").startswith("/anthropic/v1/messages")]
    assert upstream and all(tokens["access_token"] not in str(c) for c in upstream)
    line = gw.access_line(f"tok:{claims['fid']}")
    assert line and login in line, f"the access line should name the sign-in and the user: {line!r}"
    # It is an inference credential only: no keys minted with it, no admin API.
    for method, path, body in [("POST", "/me/keys", {"name": "from-token"}), ("GET", "/me/keys", None),
                               ("GET", "/admin/users", None)]:
        r = gw.request(method, path, tokens["access_token"], json=body)
        assert r.status_code == 401, (path, r.status_code, r.text)
    story.assert_no_secret_logged()


def test_denied_unknown_and_malformed_device_grants(story):
    gw = story.gw
    device = story.start_device()
    denied = story.approve(device["user_code"], unique("dev"), decision="deny")
    assert "Device denied" in denied.text, denied.text
    assert_oauth_error(poll(gw.url, device["device_code"]), "access_denied")
    # A denied code cannot be approved afterwards.
    b = story.browser()
    try:
        again = b.enter_code(device["user_code"])
        assert again.status_code == 400 and "Unknown code" in again.text, again.text
    finally:
        story.forget_browser(b)

    cases = [
        ({"grant_type": DEVICE_GRANT, "device_code": "not-a-code-" + uuid.uuid4().hex},
         "expired_token"),
        ({"grant_type": DEVICE_GRANT}, "invalid_request"),
        ({"grant_type": "password", "username": "admin", "password": "x"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "never-issued"}, "invalid_grant"),
    ]
    for form, error in cases:
        r = httpx.post(gw.url + "/oauth/token", data=form, timeout=10)
        assert oauth_error(r) == error and r.status_code in (400, 401), (form, r.status_code, r.text)
    story.assert_no_secret_logged()


def test_device_authorization_ignores_extra_parameters_and_is_limited_per_address(story):
    gw = story.gw
    forms = [{"surface": "claude_code"}, {},
             {"surface": "claude_code", "client_id": "whatever", "scope": "openid"}]
    for form in forms:
        r = authorize_device(gw.url, form)
        assert r.status_code == 200, (form, r.text)
        story.keep("device code", r.json()["device_code"])
    for _ in range(30 - len(forms)):
        story.keep("device code", authorize_device(gw.url).json()["device_code"])
    r = authorize_device(gw.url)
    assert r.status_code == 429, r.text
    assert oauth_error(r) == "slow_down" and int(r.headers["retry-after"]) > 0
    story.assert_no_secret_logged()


# ---------------------------------------------------------------------------------------------
# Refresh, second terminal, revoke, deactivation


def test_refresh_rotates_and_a_second_terminal_replay_is_refused_alone(story):
    gw = story.gw
    first = story.sign_in(unique("dev"))
    second = story.took(refresh(gw.url, first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    _, c1 = verify_access_token(gw.url, first["access_token"])
    _, c2 = verify_access_token(gw.url, second["access_token"])
    assert (c2["sub"], c2["fid"]) == (c1["sub"], c1["fid"]) and c2["jti"] != c1["jti"]
    assert ask(gw, second["access_token"])

    # The terminal that lost the race presents the spent token: refused, alone.
    assert_oauth_error(refresh(gw.url, first["refresh_token"]), "invalid_grant")
    third = story.took(refresh(gw.url, second["refresh_token"]))
    assert ask(gw, third["access_token"])
    assert_oauth_error(refresh(gw.url, second["refresh_token"]), "invalid_grant")
    assert story.took(refresh(gw.url, third["refresh_token"]))
    story.assert_no_secret_logged()


def test_revoke_always_answers_200_and_ends_the_sign_in(story):
    gw = story.gw
    tokens = story.sign_in(unique("dev"))
    # What Claude Code's /logout sends: the access token, then the refresh token with a hint.
    r = revoke(gw.url, tokens["access_token"])
    assert r.status_code == 200, r.text
    r = revoke(gw.url, tokens["refresh_token"], "refresh_token")
    assert r.status_code == 200, r.text
    assert oauth_error(refresh(gw.url, tokens["refresh_token"])) == "invalid_grant"
    # The revoked bearer is refused too, as soon as the instance's credential cache has caught up
    # (its sync tick), with x-should-retry: false so Claude Code asks for /login at once.
    def answer_unless_200():
        r = gw.post_messages(tokens["access_token"])
        return r if r.status_code != 200 else None

    refused = wait_until(answer_unless_200, timeout=5, what="the revoked access token refused")
    assert refused.status_code == 401 and refused.headers.get("x-should-retry") == "false", \
        refused.text

    # Only the refresh token, as a terminal that kept no access token would.
    other = story.sign_in(unique("dev"))
    assert revoke(gw.url, other["refresh_token"], "refresh_token").status_code == 200
    assert oauth_error(refresh(gw.url, other["refresh_token"])) == "invalid_grant"

    for token, hint in [("never-issued-" + uuid.uuid4().hex, None),
                        ("never-issued-" + uuid.uuid4().hex, "refresh_token"),
                        (tokens["refresh_token"], "refresh_token"),  # already revoked
                        ("a.b.c", "access_token")]:
        r = revoke(gw.url, token, hint)
        assert r.status_code == 200, (token, hint, r.status_code, r.text)
    story.assert_no_secret_logged()


def test_deactivating_the_user_ends_the_sign_in(story):
    gw = story.gw
    login = unique("dev")
    tokens = story.sign_in(login)
    _, claims = verify_access_token(gw.url, tokens["access_token"])
    gw.set_active(claims["sub"], False)

    refused = gw.post_messages(tokens["access_token"])
    assert refused.status_code == 401 and refused.headers.get("x-should-retry") == "false", \
        refused.text
    assert oauth_error(refresh(gw.url, tokens["refresh_token"])) == "invalid_grant"
    # Back on: the old sign-in stays over; a new one works.
    gw.set_active(claims["sub"], True)
    assert oauth_error(refresh(gw.url, tokens["refresh_token"])) == "invalid_grant"
    again = story.sign_in(login)
    assert ask(gw, again["access_token"])
    story.assert_no_secret_logged()


# ---------------------------------------------------------------------------------------------
# Managed settings and telemetry


def test_managed_settings_404_then_200_with_checksum_then_304(story):
    gw = story.gw
    access = story.sign_in(unique("dev"))["access_token"]

    def get(etag: str | None = None) -> httpx.Response:
        headers = {"if-none-match": etag} if etag else {}
        return gw.request("GET", "/managed/settings", access, headers=headers)

    assert get().status_code == 404
    assert gw.request("GET", "/managed/settings").status_code == 401

    settings = {"permissions": {"deny": ["Bash(curl:*)"]}, "env": {"MOTD": "café <&> ü"},
                "model": "claude-sonnet-4-6", "cleanupPeriodDays": 7}
    gw.call("PUT", "/admin/managed-settings", gw.admin, json=settings)
    r = get()
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"uuid", "checksum", "settings"}
    assert body["settings"] == settings
    assert body["checksum"] == checksum(settings)
    assert r.headers["etag"] == f'"{checksum(settings)}"'
    assert get(r.headers["etag"]).status_code == 304
    # Claude Desktop's probe (`If-None-Match: *`) is answered as if the header were absent.
    assert get("*").status_code == 200

    changed = {**settings, "cleanupPeriodDays": 8}
    gw.call("PUT", "/admin/managed-settings", gw.admin, json=changed)
    r = get(f'"{checksum(settings)}"')
    assert r.status_code == 200 and r.json()["checksum"] == checksum(changed), r.text
    assert r.json()["uuid"] != body["uuid"]

    gw.call("DELETE", "/admin/managed-settings", gw.admin, expect=204)
    assert get().status_code == 404 and get("*").status_code == 404
    story.assert_no_secret_logged()


@pytest.mark.parametrize("signal", ["metrics", "logs", "traces"])
def test_otlp_sinks_answer_200_with_the_access_token(story, signal):
    gw = story.gw
    access = story.sign_in(unique("dev"))["access_token"]
    for ctype, body in [("application/x-protobuf", b"\x0a\x00"),
                        ("application/json", b'{"resourceMetrics":[]}')]:
        r = gw.request("POST", f"/v1/{signal}", access, content=body,
                       headers={"content-type": ctype})
        assert r.status_code == 200, (ctype, r.status_code, r.text)
    assert gw.request("POST", f"/v1/{signal}", content=b"{}").status_code == 401
    story.assert_no_secret_logged()


def test_password_sign_in_at_the_portal_approves_a_code_too(story):
    """A gateway with an IdP still lets a portal session (password) approve a code."""
    gw = story.gw
    pw = story.keep("password", "pw-" + uuid.uuid4().hex)
    user = gw.create_user(unique("pw"), "member", password=pw)
    device = story.start_device()
    b = story.browser()
    try:
        r = b.approve_with_portal(device["user_code"], user["subject"], pw)
        assert "Device approved" in r.text, r.text
    finally:
        story.forget_browser(b)
    tokens = story.took(poll(gw.url, device["device_code"]))
    _, claims = verify_access_token(gw.url, tokens["access_token"])
    assert claims["sub"] == user["id"]
    story.assert_no_secret_logged()


def test_two_instances_share_codes_sign_ins_and_keys(team_gateway, idp, sim, pg_db):
    """Two instances on one Postgres store: a code made on A is approved through B, its token
    (signed by A) works on B, a refresh on B spends the token A would replay, a revoke on A
    ends the sign-in on B."""
    sim.rule({"text": "Hello through the gateway sign-in."})
    env = {**idp.gateway_env(), "DEBUG_MODE": "all"}
    a = team_gateway("postgres", db=pg_db, env=env)
    b = team_gateway("postgres", db=pg_db, env=env)
    story = Story(a, idp, others=[b])

    device = story.start_device()
    assert_oauth_error(poll(b.url, device["device_code"]), "authorization_pending")
    assert "Device approved" in story.approve(device["user_code"], unique("dev"), gw=b).text
    time.sleep(INTERVAL + 0.5)
    first = story.took(poll(a.url, device["device_code"]))
    assert_oauth_error(poll(b.url, device["device_code"]), "expired_token")
    assert ask(b, first["access_token"])

    second = story.took(refresh(b.url, first["refresh_token"]))
    assert_oauth_error(refresh(a.url, first["refresh_token"]), "invalid_grant")
    assert ask(a, second["access_token"])
    assert revoke(a.url, second["refresh_token"], "refresh_token").status_code == 200
    assert oauth_error(refresh(b.url, second["refresh_token"])) == "invalid_grant"
    story.assert_no_secret_logged()
